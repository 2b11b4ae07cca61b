"""Sound devices through sounddevice/PortAudio, described as plain dataclasses.

Listing never raises for a missing device or a missing PortAudio: it returns what it can
and the reason, so ``voxelle doctor`` and the Audio panel can tell the streamer what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from voxelle_app.core.errors import ConfigurationError

PORTAUDIO_HINT = (
    "Install PortAudio (Debian/Ubuntu: sudo apt-get install libportaudio2) and restart Voxelle."
)


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.host_api})"


def sounddevice_module() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into a readable error."""
    try:
        import sounddevice
    except OSError as exc:
        raise ConfigurationError(
            f"The audio library PortAudio is not installed ({exc}).",
            hint=PORTAUDIO_HINT,
            component="audio",
        ) from None
    return sounddevice


def list_devices(refresh: bool = False) -> list[DeviceInfo]:
    sd = sounddevice_module()
    if refresh:
        # PortAudio only notices new or vanished devices when it is re-initialised.
        sd._terminate()
        sd._initialize()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise ConfigurationError(
            f"Could not list sound devices ({exc}).", hint=PORTAUDIO_HINT, component="audio"
        ) from None
    devices = []
    for i, d in enumerate(raw):
        devices.append(
            DeviceInfo(
                index=i,
                name=str(d["name"]),
                host_api=str(apis[d["hostapi"]]["name"]),
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate=float(d["default_samplerate"]),
                is_default_input=(i == default_in),
                is_default_output=(i == default_out),
            )
        )
    return devices


def resolve_device(name: str, kind: Literal["input", "output"]) -> DeviceInfo:
    """The device called ``name`` (empty: the system default) that can do ``kind``.

    A device that is gone falls back to the default, so a streamer who unplugged a headset
    still hears their co-host; a missing default is a ``ConfigurationError``.
    """
    devices = list_devices()
    channels = (lambda d: d.max_input_channels) if kind == "input" else (
        lambda d: d.max_output_channels
    )
    usable = [d for d in devices if channels(d) > 0]
    if name:
        for d in usable:
            if d.name == name:
                return d
    for d in usable:
        if d.is_default_input if kind == "input" else d.is_default_output:
            return d
    if usable:
        return usable[0]
    raise ConfigurationError(
        f"No sound {kind} device was found.",
        hint="Plug in a device (or start PulseAudio/PipeWire) and press Refresh in the Audio panel.",
        component="audio",
    )
