"""A headless run with VTube Studio enabled in settings drives the avatar's mouth."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import speak
from tests.integrations.fake_vts import FakeVTS
from voxelle_app.core.audio.wavio import write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow]


async def test_headless_run_moves_the_avatar_mouth(voxelle_home: Path, tmp_path: Path, piper) -> None:
    question = speak(piper, "Hello Vox, can you say hi to the chat?")
    silence = np.zeros(16000, np.float32)
    wav_in = tmp_path / "in.wav"
    write_wav(wav_in, np.concatenate([silence, question, silence]), 16000)
    async with FakeVTS() as fake:
        env = dict(os.environ, VOXELLE_VTUBE_STUDIO__ENABLED="true",
                   VOXELLE_VTUBE_STUDIO__URL=fake.url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxelle_app", "run", "--headless", "--input-wav", str(wav_in),
            "--output-wav", str(tmp_path / "out.wav"), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 300)
        assert proc.returncode == 0, err.decode()
        mouth = [v for _, v in fake.values("MouthOpen")]
    assert fake.token_requests == 1  # first run: the plugin asked for a token once
    assert len(mouth) >= 20
    assert max(mouth) > 0.2  # the mouth opened while the reply played
    assert mouth[-1] == 0.0  # and closed when it ended
