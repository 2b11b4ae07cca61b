"""Discord: the co-host reads and answers in text, obeys moderators' slash commands, and
speaks its replies in a voice channel.

Text goes through the same door as Twitch chat: an eligible message (allowed channel, or a
mention / DM when enabled) is published on the bus as a ``ChatMessage``. The director hands
every ``ChatMessage`` to the safety layer (input selection and the blocklist, which audits
what it drops); ``cohost.submit`` is deliberately not used for chat, because it queues an
input directly, past selection. The bot answers only when a ``ReplyFinished`` carrying that
message as its origin comes back: as a reply to the message, split at Discord's
2,000-character limit on sentence boundaries, with the typing indicator on while the co-host
thinks (from ``ReplyStarted``).

Voice is speak-only: ``DiscordVoiceSink`` is an ``AudioSink`` that turns the co-host's speech
(mono float32, any rate) into 20 ms, 48 kHz stereo Opus packets for discord.py's player.
Hearing people in a voice channel is not offered: discord.py has no voice receive, and the
known receive extension breaks under Discord's DAVE end-to-end voice encryption.

discord.py resumes dropped gateway sessions itself; this class reports the state, and turns
the closes that retrying cannot fix (4004 bad token, 4014 missing MESSAGE CONTENT intent)
into sentences that say what to do in the Developer Portal.

Endpoints: discord.py reads the REST base (``Route.BASE``) and the gateway
(``DiscordWebSocket.DEFAULT_GATEWAY``) from class attributes, so ``session()`` sets both from
the settings (``api_base``; ``gateway_url``, or else the URL that GET /gateway/bot reports).
One bot runs per process, so process-wide attributes are acceptable here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import discord
import numpy as np
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from voxelle_app.core.audio.resample import StreamResampler, float_to_int16, to_mono_float32
from voxelle_app.core.bus import EventBus
from voxelle_app.core.control import AudioSink, CoHost, DiscordAccount, Switchable
from voxelle_app.core.errors import (
    AuthenticationError,
    ConfigurationError,
    IntegrationError,
    ValidationError,
    describe,
)
from voxelle_app.core.events import (
    ChatMessage,
    Interrupt,
    ReplyFinished,
    ReplyStarted,
    SentenceBlocked,
    StageError,
)
from voxelle_app.core.logs import Category, get_logger
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import DiscordSettings
from voxelle_app.integrations.base import Backoff, Integration

TOKEN_KEY = "discord.bot_token"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"
MESSAGE_LIMIT = 2000

INTENT_HELP = (
    "Open the Discord Developer Portal (discord.com/developers/applications), pick your bot's "
    "application, go to Bot → Privileged Gateway Intents, switch on MESSAGE CONTENT INTENT, "
    "save, then connect again."
)
TOKEN_HELP = (
    "In the Discord Developer Portal open your application → Bot → Reset Token, copy the new "
    "token and paste it in Integrations → Discord."
)

# Three dot-separated base64url parts: user id, timestamp, HMAC.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
_FATAL_CLOSES = {4004, 4010, 4011, 4012, 4013, 4014}
_voice_log = get_logger("voxelle.discord.voice", Category.INTEGRATION)


# --- text -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n+")
_WORD_END = re.compile(r"\s+")


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Cut after every boundary match, keeping the separators with the piece before."""
    out, start = [], 0
    for m in boundary.finditer(text):
        out.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def _pack(pieces: list[str], limit: int, finer: Callable[[str], list[str]]) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if len((current + piece).strip()) <= limit:
            current += piece
            continue
        if current.strip():
            chunks.append(current.strip())
        current = ""
        if len(piece.strip()) > limit:
            parts = finer(piece.strip())
            chunks.extend(parts[:-1])
            current = parts[-1] + " " if parts else ""
        else:
            current = piece
    if current.strip():
        chunks.append(current.strip())
    return chunks


def split_for_discord(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut a reply into messages of at most ``limit`` characters, at sentence ends where
    possible, else between words, and only as a last resort inside a word."""
    text = text.strip()
    if not text:
        return []
    if len(text) <= limit:
        return [text]

    def by_chars(s: str) -> list[str]:
        return [s[i : i + limit] for i in range(0, len(s), limit)]

    def by_words(s: str) -> list[str]:
        return _pack(_pieces(s, _WORD_END), limit, by_chars)

    return _pack(_pieces(text, _SENTENCE_END), limit, by_words)


def _readable(message: discord.Message, bot_id: int | None) -> str:
    """The message as a person reads it: no ping of the bot, names instead of user ids."""
    text = message.content
    if bot_id is not None:
        text = re.sub(rf"<@!?{bot_id}>", " ", text)
    for user in message.mentions:
        text = re.sub(rf"<@!?{user.id}>", "@" + user.display_name, text)
    text = re.sub(r"<a?:(\w+):\d+>", r":\1:", text)  # custom emoji → :name:
    return " ".join(text.split())


@dataclass
class _Target:
    """Where an answer goes: the channel, and the message it replies to (if any)."""

    channel: discord.abc.Messageable
    reference: discord.MessageReference | None


# --- voice ------------------------------------------------------------------------------

OPUS_SILENCE = b"\xf8\xff\xfe"  # one 20 ms Opus frame of silence, as Discord's clients send
SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz


class OpusFrameQueue:
    """The co-host's speech as 20 ms Opus packets (48 kHz stereo), produced on demand.

    ``push`` and ``drain`` run on the loop and only resample and slice (cheap);
    ``next_packet`` runs on discord.py's player thread and does the Opus encoding there, so
    the loop never encodes. The streaming resampler holds back its last few milliseconds
    (about 30 ms from 22.05 kHz) until ``drain`` says the speech has ended; only then is a
    last partial frame padded with silence, so no gap is ever inserted mid-speech.
    """

    def __init__(self, *, bitrate_kbps: int = 64, max_seconds: float = 120.0) -> None:
        self.bitrate_kbps = bitrate_kbps
        self._max_frames = int(max_seconds * 1000 / 20)
        self._lock = threading.Lock()
        self._frames: deque[bytes] = deque()  # 20 ms of s16 stereo PCM each
        self._tail = np.zeros(0, dtype=np.float32)  # < 20 ms waiting for more audio
        self._drained = False
        self._resampler: StreamResampler | None = None
        self._rate = 0
        self._encoder: discord.opus.Encoder | None = None
        self.dropped_frames = 0

    @property
    def pending(self) -> bool:
        with self._lock:
            return bool(self._frames) or self._tail.size > 0

    @property
    def pending_frames(self) -> int:
        with self._lock:
            return len(self._frames) + (1 if self._tail.size else 0)

    @property
    def drained(self) -> bool:
        return self._drained

    def push(self, audio: np.ndarray, rate: int) -> None:
        mono = to_mono_float32(audio)
        if rate != self._rate or self._resampler is None:
            self._resampler = StreamResampler(rate, SAMPLE_RATE)
            self._rate = rate
        self._append(self._resampler.process(mono), drained=False)

    def drain(self) -> None:
        """End of speech: queue what the resampler still holds and let the last partial
        frame go out; the next speech starts with a fresh filter."""
        held = np.zeros(0, dtype=np.float32)
        if self._resampler is not None:
            held = self._resampler.process(np.zeros(0, dtype=np.float32), last=True)
            self._resampler = None
        self._append(held, drained=True)

    def _append(self, at48k: np.ndarray, drained: bool) -> None:
        with self._lock:
            buf = np.concatenate([self._tail, at48k]) if self._tail.size else at48k
            whole = buf.size // FRAME_SAMPLES
            if whole:
                # Same samples on both channels, interleaved L R L R.
                stereo = np.repeat(float_to_int16(buf[: whole * FRAME_SAMPLES]), 2)
                step = FRAME_SAMPLES * 2
                self._frames.extend(stereo[i * step : (i + 1) * step].tobytes() for i in range(whole))
            self._tail = np.array(buf[whole * FRAME_SAMPLES :], dtype=np.float32)
            self._drained = drained
            while len(self._frames) > self._max_frames:
                self._frames.popleft()
                self.dropped_frames += 1

    def next_packet(self) -> bytes | None:
        """The next 20 ms Opus packet, or None when no whole frame is ready."""
        with self._lock:
            if self._frames:
                pcm = self._frames.popleft()
            elif self._tail.size and self._drained:
                padded = np.zeros(FRAME_SAMPLES, dtype=np.float32)
                padded[: self._tail.size] = self._tail
                pcm = np.repeat(float_to_int16(padded), 2).tobytes()
                self._tail = np.zeros(0, dtype=np.float32)
            else:
                return None
        if self._encoder is None:
            self._encoder = discord.opus.Encoder(
                application="audio", bitrate=self.bitrate_kbps, signal_type="voice"
            )
        return self._encoder.encode(pcm, FRAME_SAMPLES)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._tail = np.zeros(0, dtype=np.float32)
            self._drained = False
        self._resampler = None  # its filter still holds the old speech


class _QueueSource(discord.AudioSource):
    """Feeds queued packets to one discord.py player run (on the player's thread).

    When the queue runs dry it sends silence for ``hangover`` frames (bridging an underrun or
    the gap between sentences) and then ends the run, so Discord shows the bot as quiet.
    """

    def __init__(self, queue: OpusFrameQueue, hangover: int) -> None:
        self.queue = queue
        self.hangover = hangover
        self._idle = 0

    def read(self) -> bytes:
        packet = self.queue.next_packet()
        if packet is not None:
            self._idle = 0
            return packet
        self._idle += 1
        return OPUS_SILENCE if self._idle <= self.hangover else b""

    def is_opus(self) -> bool:
        return True


class VoicePlayer(Protocol):
    """The part of ``discord.VoiceClient`` the sink uses."""

    def is_connected(self) -> bool: ...

    def is_playing(self) -> bool: ...

    def play(
        self, source: discord.AudioSource, *, after: Callable[[Exception | None], Any] | None = ...
    ) -> None: ...


def voice_support_problem() -> str | None:
    """Why Discord voice cannot work on this machine, as advice, or None when it can."""
    try:
        discord.opus.Encoder.get_opus_version()
    except discord.opus.OpusNotLoaded:
        return ("The Opus audio library is missing, so Voxelle cannot speak in Discord voice. "
                "Install it (Debian/Ubuntu: sudo apt install libopus0; macOS: brew install "
                "opus) and restart Voxelle.")
    from discord import voice_client, voice_state

    if not voice_client.has_nacl or not voice_state.has_dave:
        return ("Discord voice needs discord.py's voice extra (PyNaCl and davey): "
                "pip install 'discord.py[voice]'.")
    return None


class DiscordVoiceSink:
    """``AudioSink`` that speaks into the joined Discord voice channel.

    Works whether speech arrives in bursts (a whole TTS sentence at once) or block by block
    in real time (teed from local playback): a player run starts once ``prebuffer_frames``
    are queued, which absorbs the jitter between the writer's clock and the player's, and
    the resampler is drained when nothing has been written for ``drain_after`` seconds
    (shorter than the prebuffer, so the drained tail arrives before the player runs dry).

    Audio written while no voice channel is joined is dropped rather than queued: speech
    played minutes late, out of context, is worse than none.
    """

    def __init__(
        self,
        queue: OpusFrameQueue | None = None,
        *,
        hangover_frames: int = 15,
        prebuffer_frames: int = 3,
        drain_after: float = 0.04,
    ) -> None:
        self.queue = queue or OpusFrameQueue()
        self.hangover_frames = hangover_frames
        self.prebuffer_frames = prebuffer_frames
        self.drain_after = drain_after
        self._voice: VoicePlayer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._last_write = 0.0
        self.plays = 0  # player runs started (one per stretch of speech)

    @property
    def attached(self) -> bool:
        return self._voice is not None

    def attach(self, voice: VoicePlayer, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._voice = voice
        self._loop = loop or asyncio.get_running_loop()

    def detach(self) -> None:
        self._voice = None
        self._cancel_timer()
        self.queue.clear()

    def write(self, audio: np.ndarray, rate: int) -> None:
        voice, loop = self._voice, self._loop
        if voice is None or loop is None or not voice.is_connected():
            return
        self.queue.push(audio, rate)
        self._last_write = loop.time()
        if self._drain_timer is None:
            self._drain_timer = loop.call_later(self.drain_after, self._drain_when_quiet)
        self._ensure_playing()

    def flush(self) -> None:
        self._cancel_timer()
        self.queue.clear()

    def _cancel_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _drain_when_quiet(self) -> None:
        self._drain_timer = None
        loop = self._loop
        if loop is None:
            return
        quiet = loop.time() - self._last_write
        if quiet < self.drain_after:
            self._drain_timer = loop.call_later(self.drain_after - quiet, self._drain_when_quiet)
            return
        self.queue.drain()
        self._ensure_playing()

    def _ensure_playing(self) -> None:
        voice = self._voice
        if voice is None or not voice.is_connected() or voice.is_playing():
            return
        queued = self.queue.pending_frames
        if queued == 0 or (queued < self.prebuffer_frames and not self.queue.drained):
            return
        try:
            voice.play(_QueueSource(self.queue, self.hangover_frames), after=self._player_ended)
            self.plays += 1
        except discord.ClientException:
            pass  # raced with a player that is still finishing; _player_ended retries

    def _player_ended(self, error: Exception | None) -> None:
        # Player thread: audio may have arrived while the last run wound down.
        if error is not None:
            _voice_log.warning("Discord voice playback stopped: %s", describe(error))
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._ensure_playing)


# --- the discord.py client ------------------------------------------------------------


def _point_endpoints(api_base: str, gateway: str) -> None:
    """Aim discord.py at ``api_base`` and ``gateway`` (class attributes; see module doc)."""
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


class _ModeratorTree(app_commands.CommandTree["_BotClient"]):
    """Slash commands; every one is for moderators only (checked here, per interaction)."""

    def __init__(self, client: _BotClient, bot: DiscordBot) -> None:
        super().__init__(client)
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction[_BotClient], /) -> bool:
        if self.bot.is_moderator(interaction):
            return True
        who = f"the {self.bot.settings.moderator_role!r} role or " if self.bot.settings.moderator_role else ""
        await interaction.response.send_message(
            f"Only moderators ({who}Manage Server permission) can use {self.bot.cohost.persona_name}'s "
            "commands.",
            ephemeral=True,
        )
        return False


class _BotClient(discord.Client):
    def __init__(self, bot: DiscordBot) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.voice_states = True
        intents.message_content = True  # privileged: must be switched on in the Developer Portal
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),  # a reply never pings anyone
            max_ratelimit_timeout=30.0,  # longer waits raise RateLimited instead of stalling
            chunk_guilds_at_startup=False,
        )
        self.bot = bot
        self.tree = _ModeratorTree(self, bot)
        bot.add_commands(self.tree)

    async def setup_hook(self) -> None:
        await self.bot.after_login(self)

    async def on_ready(self) -> None:
        self.bot.on_ready(self)

    async def on_resumed(self) -> None:
        self.bot.on_resumed(self)

    async def on_disconnect(self) -> None:
        self.bot.on_disconnect(self)

    async def on_message(self, message: discord.Message) -> None:
        self.bot.on_message(self, message)


# --- the integration -------------------------------------------------------------------


class DiscordBot(Integration):
    """The Discord integration (``Switchable`` and ``DiscordAccount``)."""

    name = "discord"
    title = "Discord"
    max_remembered = 256  # messages awaiting a reply; most are never answered

    def __init__(
        self,
        settings: DiscordSettings,
        bus: EventBus,
        secrets: SecretStore,
        cohost: CoHost,
        *,
        backoff: Backoff | None = None,
        voice: DiscordVoiceSink | None = None,
    ) -> None:
        super().__init__(bus, backoff)
        self.settings = settings
        self.secrets = secrets
        self.cohost = cohost
        self.voice = voice or DiscordVoiceSink()
        self._client: _BotClient | None = None
        self._closing = False
        self._commands_synced = False
        self._targets: OrderedDict[str, _Target] = OrderedDict()
        self._typing: dict[str, asyncio.Task[None]] = {}
        self._our_turns: OrderedDict[int, list[str]] = OrderedDict()  # turn → blocked sentences
        self._tasks: set[asyncio.Task[Any]] = set()
        bus.subscribe(ReplyStarted, self._on_reply_started)
        bus.subscribe(ReplyFinished, self._on_reply_finished)
        bus.subscribe(SentenceBlocked, self._on_sentence_blocked)
        bus.subscribe(Interrupt, lambda _e: self.voice.flush())

    @property
    def voice_sink(self) -> DiscordVoiceSink:
        """The ``AudioSink`` to hand to playback when voice_output is "discord" or "both"."""
        return self.voice

    @property
    def client(self) -> discord.Client | None:
        return self._client

    # --- DiscordAccount ----------------------------------------------------------------

    @property
    def has_token(self) -> bool:
        try:
            return bool(self.secrets.get(TOKEN_KEY))
        except ConfigurationError:
            return False

    def set_token(self, token: str) -> None:
        token = token.strip()
        if token.lower().startswith("bot "):
            token = token[4:].strip()
        if not _TOKEN_SHAPE.fullmatch(token):
            raise ValidationError(
                "That does not look like a Discord bot token.",
                hint="Copy it from the Developer Portal: your application → Bot → Reset Token. "
                "A token has three parts separated by dots.",
                component="discord",
            )
        self.secrets.set(TOKEN_KEY, token)

    def clear_token(self) -> None:
        self.secrets.delete(TOKEN_KEY)

    # --- the session -------------------------------------------------------------------

    async def session(self) -> None:
        token = await asyncio.to_thread(self.secrets.get, TOKEN_KEY)
        if not token:
            raise ConfigurationError(
                "No Discord bot token is saved.",
                hint="Paste your bot's token in Integrations → Discord (Developer Portal → your "
                "application → Bot → Reset Token).",
                component="discord",
            )
        _point_endpoints(self.settings.api_base or DEFAULT_API_BASE,
                         self.settings.gateway_url or DEFAULT_GATEWAY)
        self._closing = False
        client = _BotClient(self)
        self._client = client
        self.set_state("authenticating")
        try:
            try:
                await client.login(token)
            except discord.LoginFailure:
                raise AuthenticationError(
                    "Discord did not accept the bot token.", hint=TOKEN_HELP, component="discord"
                ) from None
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise ConfigurationError(
                "Discord refused the connection: the bot needs the Message Content intent to "
                "read messages, and it is not enabled (gateway close code 4014).",
                hint=INTENT_HELP,
                component="discord",
            ) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise AuthenticationError(
                    "Discord closed the connection because the bot token is not valid "
                    "(gateway close code 4004).",
                    hint=TOKEN_HELP,
                    component="discord",
                ) from None
            if exc.code in _FATAL_CLOSES:
                raise ConfigurationError(
                    f"Discord closed the connection with code {exc.code} ({exc.reason or 'no reason'}).",
                    hint="Check the bot's settings in the Developer Portal and update Voxelle.",
                    component="discord",
                ) from None
            raise IntegrationError(
                f"Discord closed the connection (code {exc.code}).", component="discord"
            ) from None
        except discord.HTTPException as exc:
            raise IntegrationError(
                f"Discord answered {exc.status} ({exc.text or 'no detail'}).", component="discord"
            ) from None
        except discord.GatewayNotFound:
            raise IntegrationError(
                "Discord's gateway could not be reached (a Discord outage is likely).",
                component="discord",
            ) from None
        except (OSError, aiohttp.ClientError) as exc:
            raise IntegrationError(
                f"Discord could not be reached ({type(exc).__name__}).",
                hint="Check the internet connection; Voxelle keeps trying.",
                component="discord",
            ) from None

    async def close(self) -> None:
        # The channels and messages we would answer belong to this client; a new session
        # starts clean (a late ReplyFinished then finds no target and is ignored).
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        self._typing.clear()
        self._targets.clear()
        self._our_turns.clear()
        self.voice.detach()
        client, self._client = self._client, None
        if client is not None and not client.is_closed():
            with contextlib.suppress(Exception):
                await client.close()

    # --- client callbacks ----------------------------------------------------------------

    async def after_login(self, client: _BotClient) -> None:
        """Find the gateway and register slash commands, before the gateway connects."""
        if not self.settings.gateway_url:
            try:
                _shards, url, limits = await client.http.get_bot_gateway()
            except (discord.HTTPException, discord.GatewayNotFound):
                url, limits = DEFAULT_GATEWAY, None
            if limits is not None and limits.get("remaining", 1) == 0:
                minutes = int(limits.get("reset_after", 0) / 60000) + 1
                raise IntegrationError(
                    "Discord's limit of bot logins for today is used up "
                    f"(it resets in about {minutes} min).",
                    component="discord",
                )
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        if not self._commands_synced:
            try:
                await client.tree.sync()
                self._commands_synced = True
            except discord.HTTPException as exc:
                self.log.warning("slash commands were not registered: %s", exc.text or exc.status)
                self.bus.publish(StageError(
                    component="discord",
                    message="Discord refused the slash commands. Invite the bot with the "
                    "'applications.commands' scope (Developer Portal → OAuth2 → URL Generator).",
                ))

    def on_ready(self, client: _BotClient) -> None:
        user = client.user
        guilds = len(client.guilds)
        self.set_state("connected", f"as {user.name if user else '?'} in {guilds} server(s)")
        if self.settings.voice_channel_id and self.settings.voice_output != "local":
            self._spawn(self._join_voice(client))

    def on_resumed(self, client: _BotClient) -> None:
        user = client.user
        self.set_state("connected", f"as {user.name if user else '?'} (resumed)")

    def on_disconnect(self, client: _BotClient) -> None:
        if self._closing or client.is_closed():
            return
        ws = client.ws
        code = None
        if ws is not None:
            code = getattr(ws, "_close_code", None) or ws.socket.close_code
        if code in _FATAL_CLOSES:
            return  # session() turns it into the clear error
        self.set_state("reconnecting", "the Discord gateway dropped; resuming the session")

    def on_message(self, client: _BotClient, message: discord.Message) -> None:
        me = client.user
        if message.author.bot or (me is not None and message.author.id == me.id):
            return
        mentioned = me is not None and any(u.id == me.id for u in message.mentions)
        channel = message.channel
        if message.guild is None:
            eligible = self.settings.answer_dms
        else:
            allowed = set(self.settings.allowed_channels)
            in_allowed = channel.id in allowed or getattr(channel, "parent_id", None) in allowed
            eligible = in_allowed or (mentioned and self.settings.answer_mentions)
        if not eligible:
            return
        text = _readable(message, me.id if me else None)
        if not text:
            return
        author = message.author
        chat = ChatMessage(
            platform="discord",
            user=author.display_name,
            text=text,
            user_id=str(author.id),
            message_id=str(message.id),
            channel=str(channel.id),
            is_moderator=self._member_is_moderator(author),
            mentions_bot=mentioned,
        )
        self._remember(chat.message_id, _Target(channel, message.to_reference(fail_if_not_exists=False)))
        self.bus.publish(chat)  # the director's safety layer decides whether it is answered

    # --- slash commands ----------------------------------------------------------------

    def add_commands(self, tree: app_commands.CommandTree[Any]) -> None:
        name = "the co-host"

        @tree.command(name="ask", description=f"Ask {name} something; it answers here.")
        @app_commands.describe(question="What to ask")
        @app_commands.guild_only()
        async def ask(interaction: discord.Interaction, question: str) -> None:
            await self._ask(interaction, question)

        @tree.command(name="stop", description=f"Stop {name} talking now.")
        @app_commands.guild_only()
        async def stop(interaction: discord.Interaction) -> None:
            self.cohost.stop_speaking()
            await interaction.response.send_message("Stopped.", ephemeral=True)

        @tree.command(name="mute", description=f"Mute {name}'s ears (it stops listening to the mic).")
        @app_commands.guild_only()
        async def mute(interaction: discord.Interaction) -> None:
            self.cohost.set_ears_muted(True)
            await interaction.response.send_message("Ears muted.", ephemeral=True)

        @tree.command(name="unmute", description=f"Let {name} listen to the mic again.")
        @app_commands.guild_only()
        async def unmute(interaction: discord.Interaction) -> None:
            self.cohost.set_ears_muted(False)
            await interaction.response.send_message("Ears on.", ephemeral=True)

        @tree.command(name="persona", description=f"Show {name}'s current persona.")
        @app_commands.guild_only()
        async def persona(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"Current persona: {self.cohost.persona_name}", ephemeral=True
            )

    async def _ask(self, interaction: discord.Interaction, question: str) -> None:
        user = interaction.user
        text = " ".join(question.split())[:1000]
        name = discord.utils.escape_markdown(user.display_name)
        response = await interaction.response.send_message(f"**{name} asks:** {text}")
        channel = interaction.channel
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            return
        reference = None
        if response is not None and response.message_id is not None:
            reference = discord.MessageReference(
                message_id=response.message_id, channel_id=channel.id,
                guild_id=interaction.guild_id, fail_if_not_exists=False,
            )
        # Addressed to the co-host by a moderator; selection and the blocklist still apply.
        chat = ChatMessage(
            platform="discord", user=user.display_name, text=text, user_id=str(user.id),
            message_id=f"interaction:{interaction.id}", channel=str(channel.id),
            is_moderator=True, mentions_bot=True,
        )
        self._remember(chat.message_id, _Target(channel, reference))
        self.bus.publish(chat)

    def is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator:
            return True
        return self._has_moderator_role(interaction.user)

    def _member_is_moderator(self, author: discord.User | discord.Member) -> bool:
        if isinstance(author, discord.Member):
            perms = author.guild_permissions
            if perms.manage_guild or perms.administrator:
                return True
        return self._has_moderator_role(author)

    def _has_moderator_role(self, user: discord.User | discord.Member) -> bool:
        wanted = self.settings.moderator_role.strip().casefold()
        if not wanted or not isinstance(user, discord.Member):
            return False
        return any(r.name.casefold() == wanted or str(r.id) == wanted for r in user.roles)

    # --- answering -------------------------------------------------------------------

    def _remember(self, key: str, target: _Target) -> None:
        self._targets[key] = target
        while len(self._targets) > self.max_remembered:
            self._targets.popitem(last=False)

    @staticmethod
    def _key(origin: object) -> str | None:
        if isinstance(origin, ChatMessage) and origin.platform == "discord":
            return origin.message_id
        return None

    def _on_reply_started(self, event: ReplyStarted) -> None:
        key = self._key(event.origin)
        target = self._targets.get(key) if key else None
        if key is None or target is None or self._client is None:
            return
        self._our_turns[event.turn_id] = []
        while len(self._our_turns) > 64:
            self._our_turns.popitem(last=False)
        old = self._typing.pop(key, None)
        if old is not None:
            old.cancel()
        self._typing[key] = self._spawn(self._keep_typing(target.channel))

    def _on_sentence_blocked(self, event: SentenceBlocked) -> None:
        if event.turn_id in self._our_turns:
            self._our_turns[event.turn_id].append(event.text)

    def _on_reply_finished(self, event: ReplyFinished) -> None:
        key = self._key(event.origin)
        if key is None:
            return
        typing = self._typing.pop(key, None)
        if typing is not None:
            typing.cancel()
        blocked = self._our_turns.pop(event.turn_id, [])
        target = self._targets.pop(key, None)
        if target is None or self._client is None:
            return
        text = answer_text(event, blocked)
        if text:
            self._spawn(self._send_answer(target, text))

    async def _keep_typing(self, channel: discord.abc.Messageable) -> None:
        """Keep "typing…" on while the co-host thinks; Discord shows it ~10 s per request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120.0  # a reply that never finishes must not type forever
        while loop.time() < deadline:
            try:
                await channel.typing()
            except (discord.HTTPException, discord.RateLimited) as exc:
                self.log.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(8.0)

    async def _send_answer(self, target: _Target, text: str) -> None:
        where = getattr(target.channel, "name", None) or "the channel"
        for index, chunk in enumerate(split_for_discord(text)):
            try:
                if index == 0 and target.reference is not None:
                    await target.channel.send(chunk, reference=target.reference)
                else:
                    await target.channel.send(chunk)
            except discord.RateLimited as exc:
                self._report(f"Discord asked the bot to wait {exc.retry_after:.0f} s before "
                             f"posting in #{where}; the rest of the answer was not posted.")
                return
            except discord.Forbidden:
                self._report(f"The bot may not post in #{where}. Give it the Send Messages and "
                             "Read Message History permissions there.")
                return
            except discord.HTTPException as exc:
                self._report(f"Discord refused the answer in #{where} ({exc.status}).")
                return

    def _report(self, message: str) -> None:
        self.log.warning("%s", message)
        self.bus.publish(StageError(component="discord", message=message))

    # --- voice -----------------------------------------------------------------------

    async def _join_voice(self, client: _BotClient) -> None:
        channel_id = self.settings.voice_channel_id
        channel = client.get_channel(channel_id)
        if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            self._report(f"The Discord voice channel {channel_id} was not found. Copy the voice "
                         "channel's ID again (Developer Mode → right-click → Copy Channel ID) and "
                         "check the bot can see it.")
            return
        if channel.guild.voice_client is not None:
            return  # already joined (a re-identify fires on_ready again)
        problem = voice_support_problem()
        if problem:
            self._report(problem)
            return
        try:
            voice: discord.VoiceClient = await channel.connect(timeout=30.0, reconnect=True,
                                                               self_deaf=True)
        except (TimeoutError, discord.ClientException, discord.HTTPException, OSError) as exc:
            self._report(f"Could not join the voice channel {channel.name}: {describe(exc)}. "
                         "Check the bot has the Connect and Speak permissions there.")
            return
        self.voice.attach(voice)
        self.log.info("speaking in voice channel %s", channel.name)

    # --- helpers ---------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("discord task failed: %s", describe(task.exception()))  # type: ignore[arg-type]


def answer_text(event: ReplyFinished, blocked: list[str]) -> str:
    """What to post: what was said aloud; when nothing was (no voice), the written reply
    without the sentences the output filter blocked. An interrupted reply posts only what
    was already said."""
    text = event.spoken_text.strip()
    if text or event.interrupted:
        return text
    text = event.full_text
    for sentence in blocked:
        if sentence:
            text = text.replace(sentence, "")
    return " ".join(text.split()) if blocked else text.strip()


if TYPE_CHECKING:  # mypy proves the integration fits the interfaces the app hands around

    def _fits(bot: DiscordBot) -> tuple[Switchable, DiscordAccount, AudioSink]:
        return bot, bot, bot.voice_sink
