"""The co-host's voice: a TTS model in its own worker thread, followed by the effect chain.

``stream(text)`` yields processed audio chunk by chunk; synthesis and effects both run in
the TTS worker, so the loop only receives finished buffers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import numpy as np

from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.operations.filter_audio.effects import EffectChain
from voxelle_app.core.operations.tts.base import TextToSpeech
from voxelle_app.core.operations.tts.piper import PiperTTS
from voxelle_app.core.settings import Settings
from voxelle_app.core.stage import ModelStage

SAMPLE_LINE = "Hi chat! I'm your co-host. How does my voice sound today?"


def piper_from_settings(settings: Settings) -> TextToSpeech:
    t = settings.tts
    return PiperTTS(Path(t.voice).expanduser() if t.voice else None, t.speed, t.speaker_id)


class Voice(ModelStage):
    component = "tts"

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        make_tts: Callable[[Settings], TextToSpeech] = piper_from_settings,
    ) -> None:
        super().__init__(bus)
        self.settings = settings
        self.make_tts = make_tts
        self.effects = EffectChain()
        self.tts: TextToSpeech | None = None
        self.apply_preset(settings.effects.preset)

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.tts is not None

    @property
    def sample_rate(self) -> int:
        return self.tts.sample_rate if self.tts is not None else 22050

    async def load(self) -> bool:
        """(Re)load the voice from settings, off the loop; False (and a status) on failure."""
        self.tts = await self._load(
            self.make_tts(self.settings), self.settings.tts.voice or "en_US-joe-medium (bundled)"
        )
        return self.tts is not None

    def apply_preset(self, name: str) -> None:
        presets = self.settings.effects.presets
        if name not in presets:
            raise ConfigurationError(
                f"There is no effect preset called {name!r}.",
                hint=f"Pick one of: {', '.join(sorted(presets))}.",
                component="effects",
            )
        self.effects.set_specs(presets[name])
        self.settings.effects.preset = name

    async def stream(self, text: str) -> AsyncIterator[np.ndarray]:
        """Speech for ``text`` after effects, chunk by chunk, at ``sample_rate``."""
        tts = self.tts
        if tts is None:
            raise ConfigurationError(
                "The voice is not loaded.", hint=self.detail or "Pick a voice in the Models panel.",
                component="tts",
            )
        rate = tts.sample_rate
        effects = self.effects

        def produce() -> Iterator[np.ndarray]:
            for chunk in tts.synthesize(text):
                yield effects.process(chunk, rate)

        async for chunk in self.worker.stream(produce):
            yield chunk

    async def render(self, text: str) -> np.ndarray:
        parts = [c async for c in self.stream(text)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def shutdown(self) -> None:
        self.worker.shutdown()
