"""WAV files in and out (PCM 8/16/24/32-bit), as mono float32 arrays. Stdlib only."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voxelle_app.core.audio.resample import float_to_int16
from voxelle_app.core.errors import ValidationError


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise ValidationError(f"{path} does not exist.", component="audio") from None
    except (wave.Error, EOFError) as exc:
        raise ValidationError(
            f"{path} is not a PCM WAV file ({exc}).",
            hint="Convert it first, e.g. ffmpeg -i in.mp3 -ac 1 -ar 16000 out.wav",
            component="audio",
        ) from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                | (b[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / (1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, "<i4").astype(np.float32) / (1 << 31)
    else:
        raise ValidationError(f"{path}: {width * 8}-bit samples are not supported.", component="audio")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32), rate


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(float_to_int16(audio).tobytes())
