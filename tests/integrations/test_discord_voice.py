"""Discord voice, without a real Discord: the co-host's speech becomes 20 ms Opus frames.

The speech is a synthesized voiced sound (a 180 Hz glottal-like harmonic series with
vibrato and a fade in/out) at Piper's 22,050 Hz. Frames are decoded back with libopus
(discord.opus.Decoder) and compared with the input resampled to 48 kHz: waveform
correlation at the codec's delay, loudness, and the spectral peak.

The playback test runs discord.py's own ``AudioPlayer`` thread (the one ``VoiceClient.play``
starts) against a stand-in for the voice connection that records the packets it is asked
to send, so pacing, speaking state and the player's end-of-source handling are the library's.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import discord
import numpy as np
import pytest
from discord.player import AudioPlayer

from voxelle_app.core.audio.resample import resample
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import Interrupt
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import DiscordSettings
from voxelle_app.integrations.discord_bot import (
    FRAME_SAMPLES,
    OPUS_SILENCE,
    DiscordBot,
    DiscordVoiceSink,
    OpusFrameQueue,
    voice_support_problem,
)

pytestmark = pytest.mark.skipif(voice_support_problem() is not None,
                                reason=voice_support_problem() or "")

TTS_RATE = 22_050


def voiced(seconds: float, f0: float = 180.0, rate: int = TTS_RATE) -> np.ndarray:
    """A vowel-like sound: harmonics falling off at 1/k, 5 Hz vibrato, 50 ms fades."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / rate
    wave = sum((1.0 / k) * np.sin(k * phase) for k in range(1, 12))
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)
    wave = wave * fade
    return (0.4 * wave / np.abs(wave).max()).astype(np.float32)


def frame_samples(packet: bytes) -> int:
    return int(discord.opus.Decoder.packet_get_samples_per_frame(packet)
               * discord.opus.Decoder.packet_get_nb_frames(packet))


def decode(packets: list[bytes]) -> np.ndarray:
    decoder = discord.opus.Decoder()
    pcm = b"".join(decoder.decode(p, fec=False) for p in packets)
    return np.frombuffer(pcm, dtype=np.int16).reshape(-1, 2).astype(np.float32) / 32768.0


def similarity(decoded: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Best correlation of ``decoded`` with ``reference`` over the codec's small delay."""
    best, best_lag = -1.0, 0
    for lag in range(0, 1200):
        a = decoded[lag : lag + reference.size]
        if a.size < reference.size * 0.9:
            break
        r = reference[: a.size]
        c = float(np.corrcoef(a, r)[0, 1])
        if c > best:
            best, best_lag = c, lag
    return best, best_lag


def peak_hz(audio: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[spectrum.argmax()])


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def push_in_uneven_blocks(queue: OpusFrameQueue, speech: np.ndarray, rate: int) -> None:
    rng = np.random.default_rng(7)
    i = 0
    while i < speech.size:
        n = int(rng.integers(200, 5000))  # TTS and effects hand over blocks of any length
        queue.push(speech[i : i + n], rate)
        i += n


def test_speech_becomes_20ms_opus_frames_that_decode_back_to_it() -> None:
    speech = voiced(1.0)
    queue = OpusFrameQueue()
    push_in_uneven_blocks(queue, speech, TTS_RATE)
    queue.drain()  # end of speech
    packets = []
    while (packet := queue.next_packet()) is not None:
        packets.append(packet)

    reference = resample(speech, TTS_RATE, 48_000)
    assert len(packets) == -(-reference.size // FRAME_SAMPLES)  # every sample, in 20 ms frames
    assert {frame_samples(p) for p in packets} == {FRAME_SAMPLES}  # 960 samples at 48 kHz
    assert {discord.opus.Decoder.packet_get_nb_channels(p) for p in packets} == {2}

    decoded = decode(packets)
    left, right = decoded[:, 0], decoded[:, 1]
    assert np.abs(left - right).max() < 0.01  # the same voice on both channels
    corr, lag = similarity(left, reference)
    assert corr > 0.95, corr
    assert lag < 960  # Opus's look-ahead, not a lost or repeated frame
    aligned = left[lag : lag + reference.size]
    assert 0.8 < rms(aligned) / rms(reference) < 1.25
    assert abs(peak_hz(aligned) - peak_hz(reference)) < 2.0


def test_other_rates_and_int16_input_are_accepted() -> None:
    for rate in (16_000, 24_000, 48_000):
        speech = voiced(0.5, f0=220.0, rate=rate)
        pcm16 = (speech * 32767).astype(np.int16)
        queue = OpusFrameQueue()
        queue.push(pcm16, rate)
        queue.drain()
        packets = []
        while (packet := queue.next_packet()) is not None:
            packets.append(packet)
        decoded = decode(packets)[:, 0]
        reference = resample(speech, rate, 48_000)
        corr, _lag = similarity(decoded, reference)
        assert corr > 0.95, (rate, corr)


def test_flush_drops_queued_speech() -> None:
    queue = OpusFrameQueue()
    queue.push(voiced(1.0, f0=180.0), TTS_RATE)
    for _ in range(5):
        assert queue.next_packet() is not None
    queue.clear()
    assert queue.next_packet() is None and not queue.pending

    new_reply = voiced(0.5, f0=300.0)
    queue.push(new_reply, TTS_RATE)  # the next reply starts clean
    queue.drain()
    packets = []
    while (packet := queue.next_packet()) is not None:
        packets.append(packet)
    reference = resample(new_reply, TTS_RATE, 48_000)
    assert len(packets) == -(-reference.size // FRAME_SAMPLES)
    corr, _lag = similarity(decode(packets)[:, 0], reference)
    assert corr > 0.95


def test_a_partial_frame_waits_for_more_speech_until_drained() -> None:
    queue = OpusFrameQueue()
    queue.push(voiced(0.05), TTS_RATE)  # 50 ms, part of it still inside the resampler
    whole = []
    while (packet := queue.next_packet()) is not None:
        whole.append(packet)
    assert queue.pending  # the remainder is not padded with silence mid-speech
    queue.drain()
    rest = []
    while (packet := queue.next_packet()) is not None:
        rest.append(packet)
    assert len(whole) + len(rest) == -(-int(0.05 * 48_000) // FRAME_SAMPLES)


class RecordingVoiceConnection:
    """Stands in for ``discord.VoiceClient``: runs discord.py's AudioPlayer and records the
    packets the player hands to ``send_audio_packet`` (instead of encrypting them to UDP)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.client = SimpleNamespace(loop=loop)
        self.ws = self
        self.timeout = 5.0
        self.packets: list[bytes] = []
        self.encode_flags: set[bool] = set()
        self.speaking: list[int] = []
        self._player: AudioPlayer | None = None
        self._lock = threading.Lock()

    async def speak(self, state: discord.SpeakingState) -> None:
        self.speaking.append(int(state))

    def is_connected(self) -> bool:
        return True

    def wait_until_connected(self, timeout: float | None = None) -> bool:
        return True

    def send_audio_packet(self, data: bytes, *, encode: bool = True) -> None:
        with self._lock:
            self.packets.append(data)
            self.encode_flags.add(encode)

    def play(self, source: discord.AudioSource, *, after: Any = None) -> None:
        if self.is_playing():
            raise discord.ClientException("Already playing audio.")
        self._player = AudioPlayer(source, self, after=after)  # type: ignore[arg-type]
        self._player.start()

    def is_playing(self) -> bool:
        return self._player is not None and self._player.is_playing()

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player.join(timeout=5)

    def voiced_packets(self) -> list[bytes]:
        with self._lock:
            return [p for p in self.packets if p != OPUS_SILENCE]


async def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_sink_speaks_through_discord_py_player_and_goes_quiet_between_replies() -> None:
    connection = RecordingVoiceConnection(asyncio.get_running_loop())
    sink = DiscordVoiceSink(hangover_frames=10)
    sink.attach(connection)
    try:
        first, second = voiced(0.6, f0=180.0), voiced(0.4, f0=260.0)
        for i in range(0, first.size, 2205):  # 100 ms blocks, as TTS streams them
            sink.write(first[i : i + 2205], TTS_RATE)
        want_first = -(-resample(first, TTS_RATE, 48_000).size // FRAME_SAMPLES)
        await wait_until(lambda: len(connection.voiced_packets()) >= want_first)
        await wait_until(lambda: not connection.is_playing())  # quiet after the hangover
        assert sink.plays == 1

        sink.write(second, TTS_RATE)  # the next reply restarts the player
        want_second = -(-resample(second, TTS_RATE, 48_000).size // FRAME_SAMPLES)
        await wait_until(lambda: len(connection.voiced_packets()) >= want_first + want_second)
        await wait_until(lambda: not connection.is_playing())
    finally:
        sink.detach()
        connection.stop()

    assert sink.plays == 2
    assert connection.encode_flags == {False}  # our Opus, not re-encoded by the player
    packets = connection.voiced_packets()
    assert {frame_samples(p) for p in packets} == {FRAME_SAMPLES}
    assert len(packets) == want_first + want_second
    decoded = decode(packets)[:, 0]
    split = want_first * FRAME_SAMPLES
    corr1, _ = similarity(decoded[:split], resample(first, TTS_RATE, 48_000))
    corr2, _ = similarity(decoded[split:], resample(second, TTS_RATE, 48_000))
    assert corr1 > 0.9 and corr2 > 0.9, (corr1, corr2)
    speaking = connection.speaking
    assert speaking.count(int(discord.SpeakingState.voice)) == 2
    assert speaking.count(int(discord.SpeakingState.none)) >= 2


async def test_sink_speaks_speech_written_block_by_block_in_real_time() -> None:
    connection = RecordingVoiceConnection(asyncio.get_running_loop())
    sink = DiscordVoiceSink()
    sink.attach(connection)
    speech = voiced(0.8)
    block = TTS_RATE // 50  # 20 ms, as a playback callback hands them out
    try:
        for i in range(0, speech.size, block):
            sink.write(speech[i : i + block], TTS_RATE)
            await asyncio.sleep(0.02)
        want = -(-resample(speech, TTS_RATE, 48_000).size // FRAME_SAMPLES)
        await wait_until(lambda: len(connection.voiced_packets()) >= want)
        await wait_until(lambda: not connection.is_playing())
    finally:
        sink.detach()
        connection.stop()
    packets = connection.voiced_packets()
    assert len(packets) == want  # no padded partial frames in the middle
    corr, _lag = similarity(decode(packets)[:, 0], resample(speech, TTS_RATE, 48_000))
    assert corr > 0.9, corr


async def test_flush_stops_discord_speech_within_a_frame() -> None:
    connection = RecordingVoiceConnection(asyncio.get_running_loop())
    sink = DiscordVoiceSink(hangover_frames=5)
    sink.attach(connection)
    try:
        sink.write(voiced(3.0), TTS_RATE)
        await wait_until(lambda: len(connection.voiced_packets()) >= 10)
        sent_before = len(connection.voiced_packets())
        sink.flush()
        await wait_until(lambda: not connection.is_playing())
    finally:
        sink.detach()
        connection.stop()
    assert len(connection.voiced_packets()) <= sent_before + 1  # at most the frame in flight


async def test_speech_is_dropped_while_no_voice_channel_is_joined() -> None:
    sink = DiscordVoiceSink()
    sink.write(voiced(0.5), TTS_RATE)
    assert not sink.queue.pending


async def test_interrupt_on_the_bus_flushes_discord_voice(bus: EventBus, tmp_path: Any) -> None:
    sink = DiscordVoiceSink()
    secrets = SecretStore(tmp_path / "s.json", Redactor(), use_keyring=False)
    cohost = SimpleNamespace(persona_name="Vox", submit=lambda *a, **k: None,
                             stop_speaking=lambda: None, set_ears_muted=lambda m: None,
                             set_panic=lambda a: None)
    bot = DiscordBot(DiscordSettings(voice_output="both"), bus, secrets, cohost, voice=sink)
    assert bot.voice_sink is sink
    sink.queue.push(voiced(1.0), TTS_RATE)
    assert sink.queue.pending
    bus.publish(Interrupt(reason="stop"))
    assert not sink.queue.pending
