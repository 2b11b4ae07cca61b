"""VTube Studio: the avatar's mouth follows the co-host's voice, and its mood triggers hotkeys.

A small client of the VTube Studio public API (JSON over a WebSocket) written on
``websockets`` instead of pyvts, whose ``request()`` reuses one requestID and takes the next
frame as the reply (see the README's design notes). Here one task owns the socket; every
request carries its own requestID and awaits the reply with that ID; event frames
(messageType ``...Event``) go to a handler, so replies, events and concurrent requests never
get crossed. The token lives in the secrets store and is never logged.

Lip sync follows ``MouthLevel``: the loudness of the audio as playback plays it, not as TTS
makes it (synthesis runs ahead). ``MouthEnvelope`` smooths it; ``VTubeStudio`` sends it as
``InjectParameterDataRequest`` at ``rate_hz`` while the co-host speaks, and re-sends it at
least every ``keepalive_s`` otherwise, because VTube Studio takes an injected parameter back
after one second without data.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from voxelle_app.core.bus import EventBus
from voxelle_app.core.control import Expression, Hotkey
from voxelle_app.core.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    IntegrationError,
    describe,
)
from voxelle_app.core.events import (
    Interrupt,
    MoodChanged,
    MouthLevel,
    ReplyFinished,
    StageError,
)
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import VTubeStudioSettings
from voxelle_app.integrations.base import Backoff, Integration

API_NAME = "VTubeStudioPublicAPI"
API_VERSION = "1.0"
PLUGIN_NAME = "Voxelle"
PLUGIN_DEVELOPER = "Voxelle"
TOKEN_KEY = "vtube_studio.token"
EXPRESSION_SUFFIX = ".exp3.json"

# websockets logs every frame at DEBUG, and the token travels in frames: pin its logger above
# DEBUG so no log level chosen elsewhere can ever write a frame out.
_socket_log = logging.getLogger("voxelle.vtube_studio.socket")
_socket_log.setLevel(logging.INFO)


class ErrorID(IntEnum):
    """The errorIDs this client reacts to (VTubeStudio Files/ErrorID.cs)."""

    INTERNAL_SERVER_ERROR = 0
    API_ACCESS_DEACTIVATED = 1
    JSON_INVALID = 2
    API_NAME_INVALID = 3
    API_VERSION_INVALID = 4
    REQUEST_ID_INVALID = 5
    REQUEST_TYPE_MISSING_OR_EMPTY = 6
    REQUEST_TYPE_UNKNOWN = 7
    REQUEST_REQUIRES_AUTHENTICATION = 8
    REQUEST_REQUIRES_PERMISSION = 9
    TOKEN_REQUEST_DENIED = 50
    TOKEN_REQUEST_CURRENTLY_ONGOING = 51
    TOKEN_REQUEST_PLUGIN_NAME_INVALID = 52
    TOKEN_REQUEST_DEVELOPER_NAME_INVALID = 53
    AUTHENTICATION_TOKEN_MISSING = 100
    AUTHENTICATION_PLUGIN_NAME_MISSING = 101
    AUTHENTICATION_PLUGIN_DEVELOPER_MISSING = 102
    HOTKEY_QUEUE_FULL = 200
    HOTKEY_NO_MODEL_LOADED = 201
    HOTKEY_ID_NOT_FOUND = 202
    HOTKEY_COOLDOWN_NOT_OVER = 203
    INJECT_DATA_NO_DATA = 450
    INJECT_DATA_VALUE_INVALID = 451
    INJECT_DATA_WEIGHT_INVALID = 452
    INJECT_DATA_PARAM_NOT_FOUND = 453
    INJECT_DATA_PARAM_CONTROLLED_BY_OTHER_PLUGIN = 454
    INJECT_DATA_MODE_UNKNOWN = 455
    EXPRESSION_STATE_INVALID_FILENAME = 600
    EXPRESSION_STATE_FILE_NOT_FOUND = 601
    EXPRESSION_ACTIVATION_INVALID_FILENAME = 650
    EXPRESSION_ACTIVATION_FILE_NOT_FOUND = 651
    EXPRESSION_ACTIVATION_NO_MODEL_LOADED = 652
    EVENT_SUBSCRIPTION_EVENT_TYPE_UNKNOWN = 950


#: errors that mean "this session has no (more) right to ask": the token was refused or revoked
AUTH_ERROR_IDS = frozenset({8, 50, 100, 101, 102})

_HINTS: dict[int, str] = {
    1: "Turn on 'Start API (allow plugins)' in VTube Studio's settings.",
    8: "Voxelle will sign in again.",
    9: "Allow the permission in VTube Studio's plugin settings.",
    50: "Allow Voxelle in VTube Studio (a window asks when Voxelle connects).",
    201: "Load a model in VTube Studio.",
    202: "The hotkey is not in the current model; refresh the list in the Avatar panel.",
    203: "VTube Studio lets one hotkey run only every few frames; try again.",
    453: "Check the mouth parameter name in the VTube Studio settings (default MouthOpen).",
    454: "Another plugin drives this parameter; close it or choose another parameter.",
    651: "The expression is not in the current model; refresh the list in the Avatar panel.",
    652: "Load a model in VTube Studio.",
}


class VTSRequestError(APIError):
    """VTube Studio answered a request with an APIError frame."""

    component = "vtube_studio"

    def __init__(self, message: str, *, error_id: int, request: str, hint: str = "") -> None:
        super().__init__(
            message, hint=hint, context={"error_id": error_id, "request": request}
        )
        self.error_id = error_id
        self.request = request


class VTSAuthError(VTSRequestError, AuthenticationError):
    """A token was refused or revoked, or a request came before authentication."""


class ConnectionLost(IntegrationError):
    """The socket to VTube Studio closed; the supervisor reconnects."""

    component = "vtube_studio"


def api_error(request: str, data: dict[str, Any]) -> VTSRequestError:
    """The typed error for an APIError reply, carrying its errorID."""
    try:
        error_id = int(data.get("errorID", -1))
    except (TypeError, ValueError):
        error_id = -1
    text = str(data.get("message") or "no reason given").strip()
    cls = VTSAuthError if error_id in AUTH_ERROR_IDS else VTSRequestError
    return cls(
        f"VTube Studio refused {request} (error {error_id}: {text}).",
        error_id=error_id,
        request=request,
        hint=_HINTS.get(error_id, ""),
    )


EventHandler = Callable[[str, dict[str, Any]], None]


class VTSConnection:
    """The API over one open socket.

    ``run()`` is the one task that reads and writes the socket: callers queue a frame and
    await a future keyed by its requestID; replies resolve their own future whatever order
    they come in; event frames go to ``on_event``. When the socket closes, every waiting
    request fails with ``ConnectionLost`` instead of hanging.
    """

    def __init__(
        self,
        ws: ClientConnection,
        on_event: EventHandler,
        on_close: Callable[[], None] = lambda: None,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger | None = None,
    ) -> None:
        self._ws = ws
        self._on_event = on_event
        self._on_close = on_close
        self._log = log or logging.getLogger("voxelle.vtube_studio")
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self.closed = asyncio.Event()
        self.close_reason = ""

    @property
    def is_closed(self) -> bool:
        return self.closed.is_set()

    async def run(self) -> None:
        """Own the socket until it closes: the only ``send`` and the only ``recv``."""
        recv: asyncio.Future[Any] = asyncio.ensure_future(self._ws.recv())
        send: asyncio.Future[str] = asyncio.ensure_future(self._outbox.get())
        reason = "the connection closed"
        try:
            while True:
                done, _ = await asyncio.wait({recv, send}, return_when=asyncio.FIRST_COMPLETED)
                if send in done:
                    await self._ws.send(send.result())
                    send = asyncio.ensure_future(self._outbox.get())
                if recv in done:
                    self._dispatch(recv.result())
                    recv = asyncio.ensure_future(self._ws.recv())
        except ConnectionClosed as exc:
            reason = _closed_reason(exc)
        except Exception as exc:  # a broken socket must fail the waiters, not hang them
            reason = describe(exc)
            self._log.warning("VTube Studio socket failed: %s", reason)
        finally:
            for future in (recv, send):
                future.cancel()
            self._finish(reason)

    async def request(
        self, message_type: str, data: dict[str, Any] | None = None, reply_within: float | None = 10.0
    ) -> dict[str, Any]:
        """Send one request and return the ``data`` of its reply; APIError raises."""
        if self.is_closed:
            raise ConnectionLost(f"VTube Studio is disconnected ({self.close_reason}).")
        request_id = f"voxelle-{self._prefix}-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        frame = {
            "apiName": API_NAME,
            "apiVersion": API_VERSION,
            "requestID": request_id,
            "messageType": message_type,
            "data": data or {},
        }
        self._outbox.put_nowait(json.dumps(frame))
        try:
            async with asyncio.timeout(reply_within):
                reply = await future
        except TimeoutError:
            raise IntegrationError(
                f"VTube Studio did not answer {message_type} within {reply_within:.0f} s.",
                component="vtube_studio",
            ) from None
        finally:
            self._pending.pop(request_id, None)
        reply_data = reply.get("data")
        if not isinstance(reply_data, dict):
            reply_data = {}
        reply_type = reply.get("messageType")
        if reply_type == "APIError":
            raise api_error(message_type, reply_data)
        expected = message_type.removesuffix("Request") + "Response"
        if reply_type != expected:
            raise IntegrationError(
                f"VTube Studio answered {message_type} with {reply_type!r}.",
                component="vtube_studio",
            )
        return reply_data

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self._log.warning("VTube Studio sent a frame that is not JSON; ignored")
            return
        if not isinstance(frame, dict):
            self._log.warning("VTube Studio sent a frame that is not a JSON object; ignored")
            return
        message_type = frame.get("messageType")
        data = frame.get("data")
        if not isinstance(data, dict):
            data = {}
        if isinstance(message_type, str) and message_type.endswith("Event"):
            # Events may carry any requestID (even one we are waiting on): route by type.
            try:
                self._on_event(message_type, data)
            except Exception:
                self._log.exception("handling %s failed", message_type)
            return
        request_id = frame.get("requestID")
        future = self._pending.get(request_id) if isinstance(request_id, str) else None
        if future is None or future.done():
            self._log.debug("reply %s matches no waiting request; ignored", message_type)
            return
        future.set_result(frame)

    def _finish(self, reason: str) -> None:
        if self.is_closed:
            return
        self.close_reason = reason
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"VTube Studio disconnected ({reason})."))
        self._pending.clear()
        self._on_close()


def _closed_reason(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "the connection was cut"
    return f"closed with code {frame.code}" + (f": {frame.reason}" if frame.reason else "")


# --- lip sync -----------------------------------------------------------------------------


@dataclass
class MouthEnvelope:
    """Played loudness → mouth opening: gain, attack/release smoothing, a silence gate.

    Pure arithmetic on the timestamps it is given (no clock of its own), so tests drive it
    exactly. ``smoothing`` (0..1) scales the time constants: at the default 0.5 the mouth
    opens in about 30 ms and closes in about 120 ms, slow enough not to flicker on every
    20 ms block and fast enough to follow syllables. Silence closes the mouth fully after
    ``silence_hold``; an interruption closes it at once.
    """

    gain: float = 4.0
    smoothing: float = 0.5
    gate: float = 0.02  # an opening below this (after gain) counts as silence
    silence_hold: float = 0.12  # this long under the gate closes the mouth fully
    stale_after: float = 0.2  # no loudness reading this long means playback stopped
    # Playback reports a block when it becomes audible, so blocks already handed to the device
    # keep arriving for up to its output latency after an interruption: they must not reopen
    # the mouth.
    mute_after_interrupt: float = 0.35
    value: float = field(default=0.0, init=False)
    _target: float = field(default=0.0, init=False)
    _last_feed: float = field(default=-math.inf, init=False)
    _last_voice: float = field(default=-math.inf, init=False)
    _last_step: float | None = field(default=None, init=False)
    _muted_until: float = field(default=-math.inf, init=False)

    @property
    def attack_tau(self) -> float:
        return 0.06 * self.smoothing

    @property
    def release_tau(self) -> float:
        return 0.24 * self.smoothing

    @property
    def active(self) -> bool:
        """True while the mouth is moving or about to: tick fast, not at keep-alive pace."""
        return self.value > 0.0 or self._target >= self.gate

    def feed(self, loudness: float, now: float) -> None:
        if now < self._muted_until or not math.isfinite(loudness):
            return
        self._target = min(1.0, max(0.0, loudness * self.gain))
        self._last_feed = now
        if self._target >= self.gate:
            self._last_voice = now

    def interrupt(self, now: float) -> None:
        self.value = 0.0
        self._target = 0.0
        self._last_voice = -math.inf
        self._muted_until = now + self.mute_after_interrupt

    def step(self, now: float) -> float:
        dt = 0.0 if self._last_step is None else min(0.5, max(0.0, now - self._last_step))
        self._last_step = now
        if now - self._last_feed > self.stale_after:
            self._target = 0.0
        target = self._target
        if target < self.gate:
            if now - self._last_voice >= self.silence_hold:
                self.value = 0.0
                return 0.0
            target = 0.0
        tau = self.attack_tau if target > self.value else self.release_tau
        if tau <= 0.0:
            self.value = target
        else:
            self.value += (target - self.value) * (1.0 - math.exp(-dt / tau))
        if self.value < 1e-3:
            self.value = 0.0
        return self.value


# --- the integration ------------------------------------------------------------------------


class VTubeStudio(Integration):
    """Connects, authenticates, drives lip sync and moods; reconnects with backoff.

    Implements ``core.control.AvatarControl`` and ``Switchable`` for the avatar panel.
    """

    name = "vtube_studio"
    title = "VTube Studio"
    #: re-send the mouth parameter at least this often (VTube Studio drops it after 1 s)
    keepalive_s: float = 0.5
    #: after a refused injection (unknown parameter, ...), try again this often
    inject_retry_s: float = 1.0
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 10.0

    def __init__(
        self,
        settings: VTubeStudioSettings,
        bus: EventBus,
        secrets: SecretStore,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(bus, backoff or Backoff(initial=1.0, maximum=30.0))
        self.settings = settings
        self.secrets = secrets
        self._conn: VTSConnection | None = None
        self._model_name = ""
        self._mouth = MouthEnvelope(gain=settings.mouth_gain, smoothing=settings.smoothing)
        self._mouth_sent = 0.0
        self._ticking = False
        self._wake = asyncio.Event()
        self._last_mood = ""
        self._applied_mood = ""
        self._active_expression = ""
        self._mood_lock = asyncio.Lock()
        self._mood_tasks: set[asyncio.Task[None]] = set()
        self._lipsync_problem = ""
        self._unsubscribe: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- AvatarControl ---------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def mouth_value(self) -> float:
        return self._mouth_sent if self._conn is not None else 0.0

    @property
    def last_mood(self) -> str:
        return self._last_mood

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed

    async def list_hotkeys(self) -> list[Hotkey]:
        data = await self._request("HotkeysInCurrentModelRequest")
        hotkeys = []
        for item in data.get("availableHotkeys") or []:
            if isinstance(item, dict) and item.get("hotkeyID"):
                hotkey_id = str(item["hotkeyID"])
                hotkeys.append(
                    Hotkey(
                        id=hotkey_id,
                        name=str(item.get("name") or hotkey_id),
                        kind=str(item.get("type") or ""),
                    )
                )
        return hotkeys

    async def list_expressions(self) -> list[Expression]:
        data = await self._request("ExpressionStateRequest", {"details": False})
        expressions = []
        for item in data.get("expressions") or []:
            if isinstance(item, dict) and item.get("file"):
                file = str(item["file"])
                expressions.append(
                    Expression(
                        file=file,
                        name=str(item.get("name") or file.removesuffix(EXPRESSION_SUFFIX)),
                        active=bool(item.get("active")),
                    )
                )
        return expressions

    async def trigger_hotkey(self, hotkey_id: str) -> None:
        await self._request("HotkeyTriggerRequest", {"hotkeyID": hotkey_id})

    async def set_expression(self, file: str, active: bool) -> None:
        await self._request(
            "ExpressionActivationRequest",
            {"expressionFile": file, "active": active, "fadeTime": 0.25},
        )

    # --- Switchable ------------------------------------------------------------------

    async def start(self) -> None:
        # Bus handlers may run outside a coroutine (a Qt slot, a sync caller): keep the loop.
        self._loop = asyncio.get_running_loop()
        if not self._unsubscribe:
            self._unsubscribe = [
                self.bus.subscribe(MouthLevel, self._on_mouth_level),
                self.bus.subscribe(Interrupt, self._on_interrupt),
                self.bus.subscribe(MoodChanged, lambda e: self._on_mood(e.mood)),
                self.bus.subscribe(ReplyFinished, lambda e: self._on_mood(e.mood)),
            ]
        await super().start()

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        tasks = list(self._mood_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await super().stop()

    # --- one session: connect, authenticate, serve ---------------------------------

    async def session(self) -> None:
        url = self.settings.url.strip()
        ws = await self._open(url)
        conn = VTSConnection(ws, self._on_vts_event, on_close=self._wake.set, log=self.log)
        io = asyncio.create_task(conn.run(), name="voxelle-vtube_studio-socket")
        try:
            await self._authenticate(conn)
            await self._after_authentication(conn)
            self._conn = conn
            self._lipsync_problem = ""
            self.set_state("connected", self._connected_detail())
            await self._drive(conn)
        finally:
            self._conn = None
            self._mouth_sent = 0.0
            self._ticking = False
            io.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await io
            await conn.close()

    async def _open(self, url: str) -> ClientConnection:
        try:
            return await connect(
                url,
                proxy=None,  # VTube Studio runs on this PC: never go through a proxy
                open_timeout=self.connect_timeout_s,
                compression=None,
                close_timeout=2.0,
                max_size=16 * 1024 * 1024,
                logger=_socket_log,
            )
        except InvalidURI:
            raise ConfigurationError(
                f"'{url}' is not a WebSocket address.",
                hint="Use ws://localhost:8001, or the port VTube Studio shows in its API settings.",
                component="vtube_studio",
            ) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise IntegrationError(
                f"VTube Studio is not reachable at {url}.",
                hint="Start VTube Studio, turn on 'Start API (allow plugins)' in its settings, "
                "and check the port.",
                context={"cause": describe(exc)},
                component="vtube_studio",
            ) from None

    async def _authenticate(self, conn: VTSConnection) -> None:
        """Stored token first; ask for a new one only when VTube Studio refuses it."""
        self.set_state("authenticating", "Signing in to VTube Studio…")
        token = await asyncio.to_thread(self.secrets.get, TOKEN_KEY)
        if token:
            if await self._try_token(conn, token):
                return
            self.log.info("VTube Studio refused the stored token; asking for a new one")
            await asyncio.to_thread(self.secrets.delete, TOKEN_KEY)
        self.set_state(
            "authenticating",
            "VTube Studio is asking whether to allow Voxelle: click Allow in the VTube Studio "
            "window.",
        )
        try:
            # No timeout: the popup waits for the streamer as long as it takes.
            data = await conn.request(
                "AuthenticationTokenRequest",
                {"pluginName": PLUGIN_NAME, "pluginDeveloper": PLUGIN_DEVELOPER},
                reply_within=None,
            )
        except VTSAuthError as exc:
            if exc.error_id != ErrorID.TOKEN_REQUEST_DENIED:
                raise
            raise AuthenticationError(
                "VTube Studio denied Voxelle access to the avatar.",
                hint="To try again, press Reconnect in the Avatar panel (or turn the "
                "integration off and on) and click Allow in VTube Studio.",
                context={"error_id": exc.error_id},
                component="vtube_studio",
            ) from None
        token = data.get("authenticationToken")
        if not isinstance(token, str) or not token:
            raise IntegrationError(
                "VTube Studio sent no token.", component="vtube_studio"
            )
        await asyncio.to_thread(self.secrets.set, TOKEN_KEY, token)
        if not await self._try_token(conn, token):
            raise AuthenticationError(
                "VTube Studio refused the token it just issued.",
                hint="Check Voxelle's entry in VTube Studio's plugin list, then press Reconnect.",
                component="vtube_studio",
            )

    async def _try_token(self, conn: VTSConnection, token: str) -> bool:
        try:
            data = await conn.request(
                "AuthenticationRequest",
                {
                    "pluginName": PLUGIN_NAME,
                    "pluginDeveloper": PLUGIN_DEVELOPER,
                    "authenticationToken": token,
                },
                reply_within=self.request_timeout_s,
            )
        except VTSAuthError as exc:
            if exc.error_id in (ErrorID.TOKEN_REQUEST_DENIED, ErrorID.REQUEST_REQUIRES_AUTHENTICATION):
                return False  # revoked: ask for a new token
            raise
        return bool(data.get("authenticated"))

    async def _after_authentication(self, conn: VTSConnection) -> None:
        try:
            await conn.request(
                "EventSubscriptionRequest",
                {"eventName": "ModelLoadedEvent", "subscribe": True, "config": {}},
                reply_within=self.request_timeout_s,
            )
        except VTSAuthError:
            raise
        except VTSRequestError as exc:  # an old VTS without events: the name just goes stale
            self.log.warning("could not subscribe to model changes: %s", describe(exc))
        data = await conn.request("CurrentModelRequest", reply_within=self.request_timeout_s)
        self._model_name = str(data.get("modelName") or "") if data.get("modelLoaded") else ""
        # A restarted VTube Studio has no expression on: show the next mood afresh.
        self._active_expression = ""
        self._applied_mood = ""

    async def _drive(self, conn: VTSConnection) -> None:
        """The lip-sync loop: rate_hz while speaking, keep-alive otherwise, until disconnected."""
        next_tick = time.monotonic()
        last_send = -math.inf
        retry_at = -math.inf
        while True:
            if conn.is_closed:
                raise ConnectionLost(f"VTube Studio disconnected ({conn.close_reason}).")
            self._wake.clear()
            now = time.monotonic()
            self._mouth.gain = self.settings.mouth_gain
            self._mouth.smoothing = self.settings.smoothing
            value = round(self._mouth.step(now), 4)
            speaking = self._mouth.active
            due = speaking or value != self._mouth_sent or now - last_send >= self.keepalive_s
            if due and now >= retry_at:
                last_send = now
                if not await self._inject(conn, value):
                    retry_at = now + self.inject_retry_s
            if speaking:
                period = 1.0 / self.settings.rate_hz
                # On schedule while speaking; from now when speech just began or we fell behind.
                next_tick = next_tick + period if self._ticking else now + period
                if next_tick < now:
                    next_tick = now + period
            else:
                next_tick = max(last_send + self.keepalive_s, retry_at)
            self._ticking = speaking
            delay = next_tick - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()

    async def _inject(self, conn: VTSConnection, value: float) -> bool:
        params = [
            {"id": name, "value": value}
            for name in (self.settings.mouth_parameter, self.settings.smile_parameter)
            if name
        ]
        if not params:
            return True
        try:
            await conn.request(
                "InjectParameterDataRequest",
                {"faceFound": False, "mode": "set", "parameterValues": params},
                reply_within=self.request_timeout_s,
            )
        except VTSAuthError as exc:
            raise ConnectionLost(
                f"VTube Studio withdrew Voxelle's access ({describe(exc)}); signing in again."
            ) from None
        except VTSRequestError as exc:
            self._report_lipsync_problem(exc.user_message())
            return False
        self._mouth_sent = value
        if self._lipsync_problem:
            self._lipsync_problem = ""
            self.set_state("connected", self._connected_detail())
        return True

    def _report_lipsync_problem(self, message: str) -> None:
        if message == self._lipsync_problem:
            return
        self._lipsync_problem = message
        self.log.warning("lip sync paused: %s", message)
        self.bus.publish(StageError(component=self.name, message=f"Lip sync paused: {message}"))
        self.set_state("connected", self._connected_detail())

    def _connected_detail(self) -> str:
        detail = f"Model: {self._model_name}" if self._model_name else "No model loaded"
        if self._lipsync_problem:
            detail += f". Lip sync paused: {self._lipsync_problem}"
        return detail

    async def _request(self, message_type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        conn = self._conn
        if conn is None or conn.is_closed:
            raise IntegrationError(
                "VTube Studio is not connected.",
                hint="Turn the integration on in the Avatar panel and start VTube Studio.",
                component="vtube_studio",
            )
        try:
            return await conn.request(message_type, data, reply_within=self.request_timeout_s)
        except VTSAuthError:
            await conn.close()  # access was withdrawn: reconnect and sign in again
            raise

    # --- bus and VTS events --------------------------------------------------------------

    def _on_mouth_level(self, event: MouthLevel) -> None:
        self._mouth.feed(event.value, time.monotonic())
        if not self._ticking and self._mouth.active:
            self._wake.set()

    def _on_interrupt(self, event: Interrupt) -> None:
        self._mouth.interrupt(time.monotonic())
        self._wake.set()  # send the closed mouth now, not at the next tick

    def _on_vts_event(self, message_type: str, data: dict[str, Any]) -> None:
        if message_type == "ModelLoadedEvent":
            loaded = bool(data.get("modelLoaded"))
            self._model_name = str(data.get("modelName") or "") if loaded else ""
            self._active_expression = ""
            self._applied_mood = ""
            self.log.info("VTube Studio model: %s", self._model_name or "none")
            if self._conn is not None:
                self.set_state("connected", self._connected_detail())

    def _on_mood(self, mood: str) -> None:
        mood = mood.strip().lower()
        if not mood:
            return
        self._last_mood = mood
        # A hotkey often toggles an expression: triggering it again would switch it off.
        if mood == self._applied_mood or self._conn is None or self._loop is None:
            return
        self._applied_mood = mood
        task = self._loop.create_task(self._apply_mood(mood))
        self._mood_tasks.add(task)
        task.add_done_callback(self._mood_tasks.discard)

    async def _apply_mood(self, mood: str) -> None:
        mapping = {k.strip().lower(): v for k, v in self.settings.mood_hotkeys.items()}
        target = mapping.get(mood, "")
        async with self._mood_lock:
            try:
                if self._active_expression and self._active_expression != target:
                    previous, self._active_expression = self._active_expression, ""
                    await self.set_expression(previous, False)
                if not target:
                    return
                if target.endswith(EXPRESSION_SUFFIX):
                    await self.set_expression(target, True)
                    self._active_expression = target
                else:
                    await self.trigger_hotkey(target)
                self.log.info("mood %s → %s", mood, target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                message = f"Mood '{mood}' could not be shown: {describe(exc)}"
                self.log.warning("%s", message)
                self.bus.publish(StageError(component=self.name, message=message))
