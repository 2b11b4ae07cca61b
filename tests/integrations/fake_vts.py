"""A fake VTube Studio API server on 127.0.0.1, following the public API spec.

It is a fake of an external service, not of our code: it answers as the spec
(DenchiSoft/VTubeStudio README, Events/README and Files/ErrorID.cs) says VTube Studio does.

- Envelope checks: apiName, apiVersion, requestID (ASCII, 1..64 chars; generated when
  missing), messageType, with the spec's errorIDs (2..8); replies echo the requestID.
- Tokens: ``AuthenticationTokenRequest`` is allowed or denied (50) by ``allow_token``, after
  ``token_delay`` seconds (the streamer reading the popup); ``AuthenticationRequest`` answers
  ``authenticated`` true or false; ``revoke()`` withdraws a token, and a session using a
  revoked token gets error 50 on every request, as the spec says.
- Everything except APIStateRequest and the two authentication requests needs an
  authenticated session (error 8).
- ``InjectParameterDataRequest`` is validated (450..455) and every value is recorded with a
  timestamp in ``injections``; ``live_value()`` applies VTube Studio's rule that an injected
  parameter is lost after one second without data.
- Hotkeys, expressions, current model, event subscriptions (``ModelLoadedEvent``,
  ``HotkeyTriggeredEvent``, ``TestEvent`` ...). With ``event_before_reply`` the server sends a
  ``TestEvent`` frame before each reply to a subscribed session; ``event_request_id="echo"``
  makes that event carry the requestID of the request being answered (pyvts issue 51).
- ``delays`` holds replies of a message type back, so later replies overtake them.
- ``drop()`` cuts every connection; ``stop()`` and ``start()`` again restart on the same port.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

API_NAME = "VTubeStudioPublicAPI"
API_VERSION = "1.0"
PARAMETER_LOST_AFTER = 1.0  # seconds without data before VTS takes a parameter back

OPEN_REQUESTS = frozenset({"APIStateRequest", "AuthenticationTokenRequest", "AuthenticationRequest"})
KNOWN_EVENTS = frozenset({
    "TestEvent", "ModelLoadedEvent", "TrackingStatusChangedEvent", "BackgroundChangedEvent",
    "ModelConfigChangedEvent", "ModelMovedEvent", "ModelOutlineEvent", "HotkeyTriggeredEvent",
    "ModelAnimationEvent", "ItemEvent", "ModelClickedEvent", "PostProcessingEvent",
    "Live2DCubismEditorConnectedEvent",
})
DEFAULT_PARAMETERS = (
    "MouthOpen", "MouthSmile", "MouthX", "FaceAngleX", "FaceAngleY", "FaceAngleZ",
    "EyeOpenLeft", "EyeOpenRight", "Brows", "VoiceVolume", "VoiceFrequency",
)


class Refusal(Exception):
    """An APIError reply: errorID and message as VTube Studio words them."""

    def __init__(self, error_id: int, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message


@dataclass
class Injection:
    t: float  # time.monotonic() when the server received it
    session: int
    parameter: str
    value: float
    weight: float
    mode: str


@dataclass
class Received:
    t: float
    session: int
    request_id: str
    message_type: str
    data: dict[str, Any]


@dataclass
class FakeHotkey:
    hotkey_id: str
    name: str
    type: str
    file: str = ""


@dataclass
class FakeModel:
    name: str = "Hiyori"
    model_id: str = "0123456789abcdef0123456789abcdef"
    hotkeys: list[FakeHotkey] = field(default_factory=lambda: [
        FakeHotkey("hk-smile", "Smile", "ToggleExpression", "smile.exp3.json"),
        FakeHotkey("hk-sad", "Sad face", "ToggleExpression", "sad.exp3.json"),
        FakeHotkey("hk-wave", "Wave", "TriggerAnimation", "wave.motion3.json"),
    ])
    expressions: dict[str, bool] = field(default_factory=lambda: {
        "smile.exp3.json": False, "sad.exp3.json": False, "angry.exp3.json": False,
    })


@dataclass(eq=False)
class Session:
    id: int
    ws: ServerConnection
    authenticated: bool = False
    token: str = ""
    subscriptions: set[str] = field(default_factory=set)


class FakeVTS:
    def __init__(
        self,
        *,
        allow_token: bool = True,
        token_delay: float = 0.0,
        model: FakeModel | None = None,
        parameters: tuple[str, ...] = DEFAULT_PARAMETERS,
        event_before_reply: bool = False,
        event_request_id: str = "random",
        delays: dict[str, float] | None = None,
    ) -> None:
        self.allow_token = allow_token
        self.token_delay = token_delay
        self.model: FakeModel | None = model if model is not None else FakeModel()
        self.parameters = set(parameters)
        self.event_before_reply = event_before_reply
        self.event_request_id = event_request_id
        self.delays = dict(delays or {})
        self.port = 0
        self.tokens: dict[str, tuple[str, str]] = {}  # token → (pluginName, pluginDeveloper)
        self.revoked: set[str] = set()
        self.injections: list[Injection] = []
        self.received: list[Received] = []
        self.sent: list[dict[str, Any]] = []
        self.triggered: list[str] = []
        self.token_requests = 0
        self.connections = 0
        self.sessions: set[Session] = set()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._controller: dict[str, tuple[int, float]] = {}  # parameter → (session, last t)
        self._popup_open = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "APIStateRequest": self._api_state,
            "AuthenticationTokenRequest": self._token_request,
            "AuthenticationRequest": self._authentication,
            "CurrentModelRequest": self._current_model,
            "HotkeysInCurrentModelRequest": self._hotkeys,
            "HotkeyTriggerRequest": self._hotkey_trigger,
            "ExpressionStateRequest": self._expression_state,
            "ExpressionActivationRequest": self._expression_activation,
            "InjectParameterDataRequest": self._inject,
            "EventSubscriptionRequest": self._event_subscription,
        }

    # --- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> str:
        self._server = await serve(
            self._serve, "127.0.0.1", self.port, compression=None, ping_interval=None,
            logger=logging.getLogger("fake_vts"),  # its frames hold tokens: keep them apart
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        """Stop listening and close every connection (VTube Studio quits)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drop(self) -> None:
        """Cut every connection without a closing handshake (VTube Studio crashed)."""
        for session in list(self.sessions):
            session.ws.transport.abort()
        for _ in range(200):
            if not self.sessions:
                return
            await asyncio.sleep(0.01)

    async def __aenter__(self) -> FakeVTS:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what tests look at ----------------------------------------------------------

    def values(self, parameter: str = "MouthOpen") -> list[tuple[float, float]]:
        return [(i.t, i.value) for i in self.injections if i.parameter == parameter]

    def live_value(self, parameter: str = "MouthOpen", now: float | None = None) -> float | None:
        """What VTS would use now: the last injected value, or None once it was lost."""
        now = time.monotonic() if now is None else now
        for i in reversed(self.injections):
            if i.parameter == parameter:
                return i.value if now - i.t <= PARAMETER_LOST_AFTER else None
        return None

    def of_type(self, message_type: str) -> list[Received]:
        return [r for r in self.received if r.message_type == message_type]

    def revoke(self, token: str | None = None) -> None:
        """The streamer withdraws access in VTube Studio's plugin list."""
        self.revoked.update([token] if token else list(self.tokens))

    async def load_model(self, model: FakeModel | None) -> None:
        self.model = model
        await self.emit("ModelLoadedEvent", {
            "modelLoaded": model is not None,
            "modelName": model.name if model else "",
            "modelID": model.model_id if model else "",
        })

    async def emit(self, event: str, data: dict[str, Any], request_id: str = "") -> None:
        for session in list(self.sessions):
            if event in session.subscriptions:
                await self._send_event(session, event, data, request_id)

    # --- the protocol ----------------------------------------------------------------

    async def _serve(self, ws: ServerConnection) -> None:
        session = Session(id=next(self._ids), ws=ws)
        self.sessions.add(session)
        self.connections += 1
        try:
            async for raw in ws:
                await self._on_frame(session, raw)
        except ConnectionClosed:
            pass
        finally:
            self.sessions.discard(session)
            for name, (owner, _) in list(self._controller.items()):
                if owner == session.id:
                    del self._controller[name]

    async def _on_frame(self, session: Session, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            await self._error(session, str(uuid.uuid4()), 2, "JSON is invalid.")
            return
        if not isinstance(message, dict):
            await self._error(session, str(uuid.uuid4()), 2, "JSON is not an object.")
            return
        request_id = message.get("requestID")
        if request_id is None:
            request_id = str(uuid.uuid4())  # the spec: VTS makes one up
        elif not (isinstance(request_id, str) and 1 <= len(request_id) <= 64
                  and request_id.isascii()):
            await self._error(session, str(uuid.uuid4()), 5, "requestID must be 1-64 ASCII characters.")
            return
        if message.get("apiName") != API_NAME:
            await self._error(session, request_id, 3, "apiName is invalid.")
            return
        if message.get("apiVersion") != API_VERSION:
            await self._error(session, request_id, 4, "apiVersion is invalid.")
            return
        message_type = message.get("messageType")
        if not isinstance(message_type, str) or not message_type:
            await self._error(session, request_id, 6, "messageType is missing or empty.")
            return
        handler = self._handlers.get(message_type)
        if handler is None:
            await self._error(session, request_id, 7, f"Unknown messageType {message_type}.")
            return
        if message_type not in OPEN_REQUESTS:
            if not session.authenticated:
                await self._error(session, request_id, 8, "This request requires authentication.")
                return
            if session.token in self.revoked:
                await self._error(session, request_id, 50, "User has revoked API access for your plugin.")
                return
        data = message.get("data")
        data = data if isinstance(data, dict) else {}
        self.received.append(Received(time.monotonic(), session.id, request_id, message_type, data))
        delay = self.delays.get(message_type, 0.0)
        if message_type == "AuthenticationTokenRequest":
            delay = max(delay, self.token_delay)
        if delay > 0:  # answered later: the session keeps serving other requests meanwhile
            task = asyncio.create_task(self._answer(session, request_id, message_type, data, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await self._answer(session, request_id, message_type, data, 0.0)

    async def _answer(
        self, session: Session, request_id: str, message_type: str, data: dict[str, Any],
        delay: float,
    ) -> None:
        popup = False
        try:
            if message_type == "AuthenticationTokenRequest":
                self._check_token_request(data)
                popup = True
            if delay > 0:
                await asyncio.sleep(delay)
            reply = await self._handlers[message_type](session, data)
        except Refusal as refusal:
            await self._error(session, request_id, refusal.error_id, refusal.message)
            return
        finally:
            if popup:
                self._popup_open = False
        if self.event_before_reply and "TestEvent" in session.subscriptions:
            echo = request_id if self.event_request_id == "echo" else ""
            await self._send_event(
                session, "TestEvent", {"yourTestMessage": "between", "counter": 1}, echo
            )
        await self._send(session, {
            "requestID": request_id,
            "messageType": message_type.removesuffix("Request") + "Response",
            "data": reply,
        })

    async def _send(self, session: Session, frame: dict[str, Any]) -> None:
        full = {"apiName": API_NAME, "apiVersion": API_VERSION,
                "timestamp": int(time.time() * 1000), **frame}
        self.sent.append(full)
        with contextlib.suppress(ConnectionClosed):
            await session.ws.send(json.dumps(full))

    async def _error(self, session: Session, request_id: str, error_id: int, message: str) -> None:
        await self._send(session, {"requestID": request_id, "messageType": "APIError",
                                   "data": {"errorID": error_id, "message": message}})

    async def _send_event(
        self, session: Session, event: str, data: dict[str, Any], request_id: str = ""
    ) -> None:
        await self._send(session, {"requestID": request_id or str(uuid.uuid4()),
                                   "messageType": event, "data": data})

    # --- requests --------------------------------------------------------------------

    async def _api_state(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        return {"active": True, "vTubeStudioVersion": "1.28.15",
                "currentSessionAuthenticated": session.authenticated}

    def _check_token_request(self, data: dict[str, Any]) -> None:
        name, developer = data.get("pluginName"), data.get("pluginDeveloper")
        if not isinstance(name, str) or not 3 <= len(name) <= 32:
            raise Refusal(52, "pluginName must be 3-32 characters.")
        if not isinstance(developer, str) or not 3 <= len(developer) <= 32:
            raise Refusal(53, "pluginDeveloper must be 3-32 characters.")
        if self._popup_open:
            raise Refusal(51, "A token request is already being shown to the user.")
        self._popup_open = True
        self.token_requests += 1

    async def _token_request(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        if not self.allow_token:
            raise Refusal(50, "User has denied API access for your plugin.")
        token = uuid.uuid4().hex + uuid.uuid4().hex  # 64 ASCII characters, as the spec allows
        self.tokens[token] = (data["pluginName"], data["pluginDeveloper"])
        return {"authenticationToken": token}

    async def _authentication(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        token = data.get("authenticationToken")
        if not token:
            raise Refusal(100, "authenticationToken is missing.")
        if not data.get("pluginName"):
            raise Refusal(101, "pluginName is missing.")
        if not data.get("pluginDeveloper"):
            raise Refusal(102, "pluginDeveloper is missing.")
        owner = self.tokens.get(token)
        ok = (owner == (data["pluginName"], data["pluginDeveloper"])
              and token not in self.revoked)
        session.authenticated = ok
        session.token = token if ok else ""
        return {"authenticated": ok,
                "reason": "Token valid. The plugin is authenticated for the duration of this "
                          "session." if ok else "Token invalid or revoked."}

    def _model_fields(self) -> dict[str, Any]:
        m = self.model
        return {"modelLoaded": m is not None, "modelName": m.name if m else "",
                "modelID": m.model_id if m else ""}

    async def _current_model(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        return {**self._model_fields(), "vtsModelName": "model.vtube.json",
                "numberOfLive2DParameters": len(self.parameters)}

    async def _hotkeys(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        hotkeys = self.model.hotkeys if self.model else []
        return {**self._model_fields(), "availableHotkeys": [
            {"name": h.name, "type": h.type, "description": h.type, "file": h.file,
             "hotkeyID": h.hotkey_id, "keyCombination": [], "onScreenButtonID": -1}
            for h in hotkeys
        ]}

    async def _hotkey_trigger(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        if self.model is None:
            raise Refusal(201, "No model loaded.")
        wanted = str(data.get("hotkeyID") or "")
        # By unique ID, or by name (case-insensitive, first match), as the spec says.
        hotkey = next((h for h in self.model.hotkeys if h.hotkey_id == wanted), None) or next(
            (h for h in self.model.hotkeys if h.name and h.name.lower() == wanted.lower()), None)
        if hotkey is None:
            raise Refusal(202, f"Hotkey {wanted!r} not found in model.")
        self.triggered.append(hotkey.hotkey_id)
        if hotkey.type == "ToggleExpression" and hotkey.file in self.model.expressions:
            self.model.expressions[hotkey.file] = not self.model.expressions[hotkey.file]
        await self.emit("HotkeyTriggeredEvent", {"hotkeyID": hotkey.hotkey_id,
                                                 "hotkeyName": hotkey.name,
                                                 "hotkeyAction": hotkey.type,
                                                 "hotkeyFile": hotkey.file,
                                                 "hotkeyTriggeredByAPI": True,
                                                 **self._model_fields()})
        return {"hotkeyID": hotkey.hotkey_id}

    async def _expression_state(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        expressions = self.model.expressions if self.model else {}
        wanted = data.get("expressionFile") or ""
        if wanted:
            if not str(wanted).endswith(".exp3.json"):
                raise Refusal(600, "expressionFile must end in .exp3.json.")
            if wanted not in expressions:
                raise Refusal(601, f"Expression {wanted} not found.")
        return {**self._model_fields(), "expressions": [
            {"name": f.removesuffix(".exp3.json"), "file": f, "active": active,
             "deactivateWhenKeyIsLetGo": False, "autoDeactivateAfterSeconds": False,
             "secondsRemaining": 0, "usedInHotkeys": [], "parameters": []}
            for f, active in expressions.items() if not wanted or f == wanted
        ]}

    async def _expression_activation(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        file = data.get("expressionFile")
        if not isinstance(file, str) or not file.endswith(".exp3.json"):
            raise Refusal(650, "expressionFile must end in .exp3.json.")
        if self.model is None:
            raise Refusal(652, "No model loaded.")
        if file not in self.model.expressions:
            raise Refusal(651, f"Expression {file} not found.")
        self.model.expressions[file] = bool(data.get("active"))
        return {}

    async def _inject(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        values = data.get("parameterValues")
        if not isinstance(values, list) or not values:
            raise Refusal(450, "No data provided.")
        mode = data.get("mode", "set") or "set"
        if mode not in ("set", "add"):
            raise Refusal(455, f"Unknown mode {mode!r}.")
        now = time.monotonic()
        checked: list[tuple[str, float, float]] = []
        for item in values:
            if not isinstance(item, dict):
                raise Refusal(450, "Parameter entries must be objects.")
            name = item.get("id")
            if not isinstance(name, str) or name not in self.parameters:
                raise Refusal(453, f"Parameter {name!r} not found.")
            value = item.get("value")
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or abs(value) > 1_000_000):
                raise Refusal(451, f"Value for {name} is invalid.")
            weight = item.get("weight", 1.0)
            if (isinstance(weight, bool) or not isinstance(weight, int | float)
                    or not 0.0 <= weight <= 1.0):
                raise Refusal(452, f"Weight for {name} is invalid.")
            if mode == "set":
                owner = self._controller.get(name)
                if owner and owner[0] != session.id and now - owner[1] <= PARAMETER_LOST_AFTER:
                    raise Refusal(454, f"Parameter {name} is controlled by another plugin.")
            checked.append((name, float(value), float(weight)))
        for name, value, weight in checked:
            if mode == "set":
                self._controller[name] = (session.id, now)
            self.injections.append(Injection(now, session.id, name, value, weight, mode))
        return {}

    async def _event_subscription(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        name = data.get("eventName") or ""
        subscribe = bool(data.get("subscribe"))
        if name and name not in KNOWN_EVENTS:
            raise Refusal(950, f"Unknown event {name}.")
        if subscribe:
            if not name:
                raise Refusal(950, "eventName is required to subscribe.")
            session.subscriptions.add(name)
        elif name:
            session.subscriptions.discard(name)
        else:
            session.subscriptions.clear()
        return {"subscribedEventCount": len(session.subscriptions),
                "subscribedEvents": sorted(session.subscriptions)}
