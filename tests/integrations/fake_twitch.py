"""A fake Twitch on 127.0.0.1 that behaves as Twitch documents it.

- OAuth (``/oauth2``): the device code flow (``/device``, then ``/token`` with the
  device_code grant answering ``authorization_pending`` until approved, ``invalid device
  code`` once expired or used), the ``refresh_token`` grant (refresh tokens work once, as
  for public clients), ``/validate`` (``Authorization: OAuth <token>``) and ``/revoke``.
- Helix (``/helix``): ``users``, ``eventsub/subscriptions`` (websocket transport tied to a
  live session id; 400 for a bad session, 403 without the scope or the broadcaster's own
  token, 409 for a duplicate) and ``chat/messages`` (422 past 500 characters, 429 with
  ``Ratelimit-*`` headers past the sender's rolling-window limit; sent messages come back as
  ``channel.chat.message`` notifications, as on Twitch).
- EventSub WebSocket (``/ws``): ``session_welcome`` with ``keepalive_timeout_seconds``
  (clamped into ``keepalive_range``), ``session_keepalive`` when idle, notifications shaped
  as in Twitch's reference, ``session_reconnect`` with a ``reconnect_url`` (subscriptions
  move to the new socket, whose welcome is sent before anything else on it), close codes
  4001 (client sent data), 4003 (no subscription within the keepalive window), 4004
  (reconnect grace expired) and 4007 (invalid reconnect URL); tests can close with any code.

Test-only knobs (documented deviations): ``keepalive_range`` and ``default_keepalive`` may
go below Twitch's 10 s floor, and chat limits/windows may be small, so tests stay short.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import secrets
import string
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

ALL_SCOPES = (
    "user:read:chat",
    "user:write:chat",
    "moderator:read:followers",
    "channel:read:subscriptions",
    "bits:read",
    "channel:read:redemptions",
)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests"}
    return web.json_response({"error": reason.get(status, "Error"), "status": status,
                              "message": message}, status=status, headers=headers)


@dataclass
class FakeUser:
    id: str
    login: str
    display_name: str
    moderators: set[str] = field(default_factory=set)  # user ids moderating this channel


@dataclass
class Token:
    access: str
    refresh: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    valid: bool = True


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    approved_by: str | None = None
    used: bool = False
    polls: int = 0


@dataclass
class Subscription:
    id: str
    type: str
    version: str
    condition: dict[str, str]
    session_id: str
    user_id: str
    created_at: str = field(default_factory=_now_iso)

    def as_json(self, connected_at: str) -> dict[str, Any]:
        return {
            "id": self.id, "status": "enabled", "type": self.type, "version": self.version,
            "cost": 0, "condition": self.condition, "created_at": self.created_at,
            "transport": {"method": "websocket", "session_id": self.session_id,
                          "connected_at": connected_at},
        }


@dataclass(eq=False)
class Session:
    id: str
    ws: web.WebSocketResponse
    keepalive: int
    connected_at: str = field(default_factory=_now_iso)
    welcomed_at: float = field(default_factory=time.monotonic)
    last_sent: float = field(default_factory=time.monotonic)
    subs: list[Subscription] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    keepalives_paused: bool = False
    notifications: int = 0  # notifications sent on this socket
    moved_to: Session | None = None  # its subscriptions went to this reconnect session
    reconnected_from: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    keeper: asyncio.Task[None] | None = None


# (type, version) -> (required scopes (any of), condition keys, owner key or None)
SUB_TYPES: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    ("channel.chat.message", "1"): (("user:read:chat",), ("broadcaster_user_id", "user_id"),
                                    "user_id"),
    ("channel.follow", "2"): (("moderator:read:followers",),
                              ("broadcaster_user_id", "moderator_user_id"), "moderator_user_id"),
    ("channel.subscribe", "1"): (("channel:read:subscriptions",), ("broadcaster_user_id",),
                                 "broadcaster_user_id"),
    ("channel.subscription.gift", "1"): (("channel:read:subscriptions",),
                                         ("broadcaster_user_id",), "broadcaster_user_id"),
    ("channel.cheer", "1"): (("bits:read",), ("broadcaster_user_id",), "broadcaster_user_id"),
    ("channel.raid", "1"): ((), (), None),
    ("channel.channel_points_custom_reward_redemption.add", "1"): (
        ("channel:read:redemptions", "channel:manage:redemptions"), ("broadcaster_user_id",),
        "broadcaster_user_id"),
}


class FakeTwitch:
    def __init__(
        self,
        *,
        client_id: str = "voxelle-test-client",
        device_interval: int = 1,
        device_expires_in: int = 1800,
        access_lifetime: int = 14400,
        default_keepalive: int = 10,
        keepalive_range: tuple[int, int] = (10, 600),
        chat_limit: int = 20,
        chat_limit_moderator: int = 100,
        chat_window: float = 30.0,
        reconnect_grace: float = 30.0,
    ) -> None:
        self.client_id = client_id
        self.device_interval = device_interval
        self.device_expires_in = device_expires_in
        self.access_lifetime = access_lifetime
        self.default_keepalive = default_keepalive
        self.keepalive_range = keepalive_range
        self.chat_limit = chat_limit
        self.chat_limit_moderator = chat_limit_moderator
        self.chat_window = chat_window
        self.reconnect_grace = reconnect_grace

        self.users: dict[str, FakeUser] = {}
        self.tokens: dict[str, Token] = {}  # by access token
        self.refresh_index: dict[str, Token] = {}  # by refresh token
        self.devices: dict[str, DeviceGrant] = {}  # by device code
        self.sessions: dict[str, Session] = {}  # every session ever opened, by id
        self.pending_reconnects: dict[str, Session] = {}  # reconnect id -> old session
        self.chat_log: list[dict[str, Any]] = []
        self.chat_sends: dict[str, deque[float]] = {}
        self.rate_limited = 0
        self.refused_too_long = 0
        self.refreshes = 0
        self.revoked: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.issued_secrets: set[str] = set()  # every token and device code handed out
        #: notifications sent on the old socket at the instant the client reaches the
        #: reconnect URL: events Twitch was already delivering while the client connected
        self.in_flight_on_move: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(10_000)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeTwitch:
        app = web.Application()
        app.router.add_post("/oauth2/device", self._device)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_post("/oauth2/revoke", self._revoke)
        app.router.add_get("/helix/users", self._users)
        app.router.add_post("/helix/eventsub/subscriptions", self._create_subscription)
        app.router.add_get("/helix/eventsub/subscriptions", self._list_subscriptions)
        app.router.add_post("/helix/chat/messages", self._chat_message)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/activate", self._activate_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            if not session.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.ws.close(code=1001), 2)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base}/helix"

    @property
    def auth_base(self) -> str:
        return f"{self.base}/oauth2"

    @property
    def eventsub_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- users and tokens (test controls) ----------------------------------------------------

    def add_user(self, login: str, display_name: str | None = None) -> FakeUser:
        user = FakeUser(str(next(self._ids)), login.lower(), display_name or login)
        self.users[user.login] = user
        return user

    def user(self, login: str) -> FakeUser:
        return self.users[login.lower()]

    def issue_tokens(self, login: str, scopes: Iterable[str] = ALL_SCOPES,
                     lifetime: float | None = None) -> Token:
        user = self.user(login)
        token = Token(
            access=secrets.token_hex(15), refresh=secrets.token_hex(25), user_id=user.id,
            client_id=self.client_id, scopes=tuple(scopes),
            expires_at=time.time() + (self.access_lifetime if lifetime is None else lifetime),
        )
        self.tokens[token.access] = token
        self.refresh_index[token.refresh] = token
        self.issued_secrets.update((token.access, token.refresh))
        return token

    def expire(self, access: str) -> None:
        """The access token's time is up (its refresh token still works)."""
        self.tokens[access].expires_at = time.time() - 1

    def approve(self, user_code: str, login: str) -> None:
        """The user typed the code on the activation page and accepted."""
        for grant in self.devices.values():
            if grant.user_code == user_code:
                grant.approved_by = self.user(login).id
                return
        raise KeyError(user_code)

    def _token_from(self, request: web.Request, scheme: str) -> Token | None:
        header = request.headers.get("Authorization", "")
        prefix = f"{scheme} "
        if not header.startswith(prefix):
            return None
        token = self.tokens.get(header[len(prefix):])
        if token is None or not token.valid or token.expires_at <= time.time():
            return None
        return token

    # --- OAuth -------------------------------------------------------------------------------

    async def _form(self, request: web.Request) -> dict[str, str]:
        # Twitch accepts the parameters in the query string or a form body.
        data = {k: v for k, v in request.query.items()}
        if request.can_read_body:
            data.update({k: str(v) for k, v in (await request.post()).items()})
        return data

    async def _device(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", "/oauth2/device"))
        form = await self._form(request)
        if form.get("client_id") != self.client_id:
            return _error(400, "invalid client")
        grant = DeviceGrant(
            device_code=secrets.token_urlsafe(30),
            user_code="".join(secrets.choice(string.ascii_uppercase) for _ in range(8)),
            client_id=self.client_id, scopes=tuple(form.get("scopes", "").split()),
            expires_at=time.time() + self.device_expires_in,
        )
        self.devices[grant.device_code] = grant
        self.issued_secrets.add(grant.device_code)
        return web.json_response({
            "device_code": grant.device_code,
            "expires_in": self.device_expires_in,
            "interval": self.device_interval,
            "user_code": grant.user_code,
            "verification_uri": f"{self.base}/activate?public=true&device-code={grant.user_code}",
        })

    async def _activate_page(self, request: web.Request) -> web.Response:
        return web.Response(text="Enter the code shown in the app.", content_type="text/plain")

    async def _token(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", "/oauth2/token"))
        form = await self._form(request)
        grant_type = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return _error(400, "invalid client")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            grant = self.devices.get(form.get("device_code", ""))
            if grant is None or grant.used or grant.expires_at <= time.time():
                return _error(400, "invalid device code")
            grant.polls += 1
            if grant.approved_by is None:
                return _error(400, "authorization_pending")
            grant.used = True
            login = next(u.login for u in self.users.values() if u.id == grant.approved_by)
            token = self.issue_tokens(login, grant.scopes)
            return web.json_response(self._token_body(token))
        if grant_type == "refresh_token":
            old = self.refresh_index.pop(form.get("refresh_token", ""), None)
            if old is None:
                return _error(400, "Invalid refresh token")
            old.valid = False
            self.refreshes += 1
            login = next(u.login for u in self.users.values() if u.id == old.user_id)
            token = self.issue_tokens(login, old.scopes)
            return web.json_response(self._token_body(token))
        return _error(400, "unsupported grant type")

    def _token_body(self, token: Token) -> dict[str, Any]:
        return {"access_token": token.access, "refresh_token": token.refresh,
                "expires_in": max(0, int(token.expires_at - time.time())),
                "scope": list(token.scopes), "token_type": "bearer"}

    async def _validate(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", "/oauth2/validate"))
        token = self._token_from(request, "OAuth")
        if token is None:
            return web.json_response({"status": 401, "message": "invalid access token"},
                                     status=401)
        login = next(u.login for u in self.users.values() if u.id == token.user_id)
        return web.json_response({
            "client_id": token.client_id, "login": login, "scopes": list(token.scopes),
            "user_id": token.user_id, "expires_in": max(0, int(token.expires_at - time.time())),
        })

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        token = self.tokens.get(form.get("token", ""))
        if token is not None:
            token.valid = False
            self.refresh_index.pop(token.refresh, None)
            self.revoked.append(token.access)
        return web.Response(status=200)

    # --- Helix ---------------------------------------------------------------------------------

    def _helix_auth(self, request: web.Request) -> Token | web.Response:
        token = self._token_from(request, "Bearer")
        if token is None:
            return _error(401, "Invalid OAuth token")
        if request.headers.get("Client-Id") != token.client_id:
            return _error(401, "Client ID and OAuth token do not match")
        return token

    async def _users(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", "/helix/users"))
        auth = self._helix_auth(request)
        if isinstance(auth, web.Response):
            return auth
        logins = request.query.getall("login", [])
        ids = request.query.getall("id", [])
        if not logins and not ids:
            found = [u for u in self.users.values() if u.id == auth.user_id]
        else:
            found = [u for u in self.users.values()
                     if u.login in {x.lower() for x in logins} or u.id in ids]
        return web.json_response({"data": [
            {"id": u.id, "login": u.login, "display_name": u.display_name, "type": "",
             "broadcaster_type": "", "description": "", "profile_image_url": "",
             "offline_image_url": "", "view_count": 0, "created_at": "2020-01-01T00:00:00Z"}
            for u in found
        ]})

    async def _create_subscription(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", "/helix/eventsub/subscriptions"))
        auth = self._helix_auth(request)
        if isinstance(auth, web.Response):
            return auth
        body = await request.json()
        key = (str(body.get("type")), str(body.get("version")))
        if key not in SUB_TYPES:
            return _error(400, "unknown subscription type or version")
        scopes, keys, owner_key = SUB_TYPES[key]
        condition = {k: str(v) for k, v in (body.get("condition") or {}).items()}
        if key[0] == "channel.raid":
            if not (condition.get("to_broadcaster_user_id")
                    or condition.get("from_broadcaster_user_id")):
                return _error(400, "missing condition")
        elif any(not condition.get(k) for k in keys):
            return _error(400, "missing condition")
        transport = body.get("transport") or {}
        session = self.sessions.get(str(transport.get("session_id")))
        if (transport.get("method") != "websocket" or session is None or session.ws.closed
                or session.moved_to is not None):
            return _error(400, "websocket transport session does not exist or has already "
                               "disconnected")
        if scopes and not set(scopes) & set(auth.scopes):
            return _error(403, "subscription missing proper authorization")
        if owner_key is not None and condition[owner_key] != auth.user_id:
            return _error(403, "subscription missing proper authorization")
        if key[0] == "channel.follow":
            channel = self._user_by_id(condition["broadcaster_user_id"])
            if channel is None or (auth.user_id != channel.id
                                   and auth.user_id not in channel.moderators):
                return _error(403, "subscription missing proper authorization")
        if any(s.type == key[0] and s.condition == condition for s in session.subs):
            return _error(409, "subscription already exists")
        sub = Subscription(str(uuid.uuid4()), key[0], key[1], condition, session.id,
                           auth.user_id)
        session.subs.append(sub)
        return web.json_response({"data": [sub.as_json(session.connected_at)], "total": 1,
                                  "total_cost": 0, "max_total_cost": 10000}, status=202)

    async def _list_subscriptions(self, request: web.Request) -> web.Response:
        auth = self._helix_auth(request)
        if isinstance(auth, web.Response):
            return auth
        subs = [s.as_json(sess.connected_at) for sess in self.sessions.values()
                if sess.moved_to is None and not sess.ws.closed for s in sess.subs
                if s.user_id == auth.user_id]
        return web.json_response({"data": subs, "total": len(subs), "total_cost": 0,
                                  "max_total_cost": 10000, "pagination": {}})

    async def _chat_message(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", "/helix/chat/messages"))
        auth = self._helix_auth(request)
        if isinstance(auth, web.Response):
            return auth
        body = await request.json()
        sender_id = str(body.get("sender_id") or "")
        channel = self._user_by_id(str(body.get("broadcaster_id") or ""))
        text = body.get("message")
        if channel is None or not sender_id or not isinstance(text, str) or not text:
            return _error(400, "missing or invalid parameter")
        if sender_id != auth.user_id or "user:write:chat" not in auth.scopes:
            return _error(403, "The sender must match the user access token and have "
                               "user:write:chat")
        if len(text) > 500:
            self.refused_too_long += 1
            return _error(422, "The message is too large")
        privileged = sender_id == channel.id or sender_id in channel.moderators
        limit = self.chat_limit_moderator if privileged else self.chat_limit
        sent = self.chat_sends.setdefault(sender_id, deque())
        now = time.time()
        while sent and now - sent[0] >= self.chat_window:
            sent.popleft()
        if len(sent) >= limit:
            self.rate_limited += 1
            reset = sent[len(sent) - limit] + self.chat_window
            return _error(429, "Too Many Requests", headers={
                "Ratelimit-Limit": str(limit), "Ratelimit-Remaining": "0",
                "Ratelimit-Reset": str(math.ceil(reset)),
            })
        sent.append(now)
        message_id = str(uuid.uuid4())
        entry = {"message_id": message_id, "broadcaster_id": channel.id,
                 "sender_id": sender_id, "message": text,
                 "reply_parent_message_id": body.get("reply_parent_message_id")}
        self.chat_log.append(entry)
        sender = self._user_by_id(sender_id)
        assert sender is not None
        # Twitch shows the message in chat, so chat subscribers get it too.
        self._spawn(self.notify("channel.chat.message", self.chat_event(
            channel.login, sender.login, text, message_id=message_id)))
        return web.json_response({"data": [{"message_id": message_id, "is_sent": True,
                                            "drop_reason": None}]})

    def _user_by_id(self, user_id: str) -> FakeUser | None:
        return next((u for u in self.users.values() if u.id == user_id), None)

    # --- EventSub WebSocket ----------------------------------------------------------------------

    def _clamp(self, value: str | None) -> int:
        low, high = self.keepalive_range
        if value is None:
            return max(low, min(high, self.default_keepalive))
        try:
            requested = int(value)
        except ValueError:
            requested = self.default_keepalive
        return max(low, min(high, requested))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        reconnect_id = request.query.get("reconnect")
        if reconnect_id is not None:
            old = self.pending_reconnects.pop(reconnect_id, None)
            if old is None:
                await ws.close(code=4007, message=b"invalid reconnect")
                return ws
            session = Session(str(uuid.uuid4()), ws, old.keepalive, reconnected_from=old.id)
            self.sessions[session.id] = session
            # Subscriptions move at once; the welcome goes out before any notification can,
            # and from here on the old socket gets nothing new.
            async with session.lock:
                async with old.lock:
                    in_flight, self.in_flight_on_move = self.in_flight_on_move, []
                    for sub_type, event in in_flight:
                        sub = next(x for x in old.subs if x.type == sub_type)
                        await self._send_unlocked(old, self._notification(old, sub, event))
                    old.moved_to = session
                    session.subs = old.subs
                    old.subs = []
                    for sub in session.subs:
                        sub.session_id = session.id
                await self._send_unlocked(session, self._welcome(session))
        else:
            keepalive = self._clamp(request.query.get("keepalive_timeout_seconds"))
            session = Session(str(uuid.uuid4()), ws, keepalive)
            self.sessions[session.id] = session
            async with session.lock:
                await self._send_unlocked(session, self._welcome(session))
        session.keeper = asyncio.ensure_future(self._keep_alive(session))
        self._tasks.add(session.keeper)
        session.keeper.add_done_callback(self._tasks.discard)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await ws.close(code=4001, message=b"client sent inbound traffic")
                    break
        finally:
            session.closed.set()
            if session.keeper is not None:
                session.keeper.cancel()
        return ws

    def _welcome(self, session: Session) -> dict[str, Any]:
        return self._message("session_welcome", {"session": {
            "id": session.id, "status": "connected",
            "keepalive_timeout_seconds": session.keepalive, "reconnect_url": None,
            "connected_at": session.connected_at,
        }})

    @staticmethod
    def _message(kind: str, payload: dict[str, Any], **metadata: str) -> dict[str, Any]:
        return {"metadata": {"message_id": str(uuid.uuid4()), "message_type": kind,
                             "message_timestamp": _now_iso(), **metadata},
                "payload": payload}

    async def _send_unlocked(self, session: Session, message: dict[str, Any]) -> None:
        await session.ws.send_str(json.dumps(message))
        session.last_sent = time.monotonic()
        if message["metadata"]["message_type"] == "notification":
            session.notifications += 1

    async def _send(self, session: Session, message: dict[str, Any]) -> bool:
        """Send on the session's socket, or on its successor's once it has moved."""
        while True:
            async with session.lock:
                successor = session.moved_to
                if successor is None:
                    if session.ws.closed:
                        return False
                    await self._send_unlocked(session, message)
                    return True
            session = successor

    async def _keep_alive(self, session: Session) -> None:
        step = min(0.1, session.keepalive / 20)
        while not session.ws.closed:
            await asyncio.sleep(step)
            now = time.monotonic()
            if (not session.subs and session.moved_to is None and session.reconnected_from is None
                    and now - session.welcomed_at > session.keepalive):
                await session.ws.close(code=4003, message=b"connection unused")
                return
            if session.keepalives_paused or session.moved_to is not None:
                continue
            if now - session.last_sent >= session.keepalive * 0.8:
                await self._send(session, self._message("session_keepalive", {}))

    def live_sessions(self) -> list[Session]:
        """Sessions that receive notifications now (open and not moved away)."""
        return [s for s in self.sessions.values() if not s.ws.closed and s.moved_to is None]

    async def wait_for_session(self, subscriptions: int = 7, *, exclude: Iterable[str] = (),
                               timeout: float = 20.0) -> Session:
        """The next live session holding ``subscriptions`` subscriptions."""
        excluded = set(exclude)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in self.live_sessions():
                if session.id not in excluded and len(session.subs) >= subscriptions:
                    return session
            await asyncio.sleep(0.02)
        raise AssertionError(f"no session with {subscriptions} subscriptions in {timeout} s")

    async def notify(self, sub_type: str, event: dict[str, Any]) -> int:
        """Deliver a notification to every live session subscribed to it; returns how many."""
        delivered = 0
        for session in list(self.sessions.values()):
            for sub in list(session.subs):
                if sub.type != sub_type or not self._matches(sub, event):
                    continue
                message = self._notification(session, sub, event)
                if await self._send(session, message):  # follows a move to the new socket
                    delivered += 1
        return delivered

    def _notification(self, session: Session, sub: Subscription,
                      event: dict[str, Any]) -> dict[str, Any]:
        return self._message(
            "notification", {"subscription": sub.as_json(session.connected_at), "event": event},
            subscription_type=sub.type, subscription_version=sub.version,
        )

    @staticmethod
    def _matches(sub: Subscription, event: dict[str, Any]) -> bool:
        for key, value in sub.condition.items():
            if key in ("user_id", "moderator_user_id"):
                continue
            if str(event.get(key)) != value:
                return False
        return True

    async def send_reconnect(self, session: Session | None = None) -> str:
        """Ask the client to move (``session_reconnect``); returns the reconnect URL."""
        session = session or self.live_sessions()[0]
        reconnect_id = secrets.token_hex(8)
        url = f"{self.eventsub_url}?reconnect={reconnect_id}"
        self.pending_reconnects[reconnect_id] = session
        await self._send(session, self._message("session_reconnect", {"session": {
            "id": session.id, "status": "reconnecting", "keepalive_timeout_seconds": None,
            "reconnect_url": url, "connected_at": session.connected_at,
        }}))
        self._spawn(self._reconnect_grace(reconnect_id, session))
        return url

    async def _reconnect_grace(self, reconnect_id: str, session: Session) -> None:
        await asyncio.sleep(self.reconnect_grace)
        if self.pending_reconnects.pop(reconnect_id, None) is not None and not session.ws.closed:
            await session.ws.close(code=4004, message=b"reconnect grace time expired")

    async def close_session(self, code: int, reason: str = "",
                            session: Session | None = None) -> Session:
        session = session or self.live_sessions()[0]
        async with session.lock:
            await session.ws.close(code=code, message=reason.encode())
        return session

    # --- notification payloads, shaped as in Twitch's EventSub reference ------------------------

    def _who(self, login: str, prefix: str) -> dict[str, str]:
        user = self.user(login)
        return {f"{prefix}_id": user.id, f"{prefix}_login": user.login,
                f"{prefix}_name": user.display_name}

    def chat_event(
        self, channel: str, chatter: str, text: str, *, badges: Iterable[str] = (),
        bits: int = 0, mention: str | None = None, message_id: str | None = None,
    ) -> dict[str, Any]:
        fragments: list[dict[str, Any]] = []
        if mention is not None:
            mentioned = self.user(mention)
            fragments.append({"type": "mention", "text": f"@{mentioned.display_name}",
                              "cheermote": None, "emote": None, "mention": {
                                  "user_id": mentioned.id, "user_login": mentioned.login,
                                  "user_name": mentioned.display_name}})
            rest = text.removeprefix(f"@{mentioned.display_name}")
            if rest:
                fragments.append({"type": "text", "text": rest, "cheermote": None,
                                  "emote": None, "mention": None})
        else:
            fragments.append({"type": "text", "text": text, "cheermote": None, "emote": None,
                              "mention": None})
        return {
            **self._who(channel, "broadcaster_user"),
            **self._who(chatter, "chatter_user"),
            "message_id": message_id or str(uuid.uuid4()),
            "message": {"text": text, "fragments": fragments},
            "message_type": "text",
            "badges": [{"set_id": b, "id": "1", "info": ""} for b in badges],
            "cheer": {"bits": bits} if bits else None,
            "color": "#FF0000",
            "reply": None,
            "channel_points_custom_reward_id": None,
            "channel_points_animation_id": None,
            "source_broadcaster_user_id": None,
            "source_broadcaster_user_login": None,
            "source_broadcaster_user_name": None,
            "source_message_id": None,
            "source_badges": None,
            "is_source_only": None,
        }

    def follow_event(self, channel: str, user: str) -> dict[str, Any]:
        return {**self._who(user, "user"), **self._who(channel, "broadcaster_user"),
                "followed_at": _now_iso()}

    def subscribe_event(self, channel: str, user: str, tier: str = "1000",
                        is_gift: bool = False) -> dict[str, Any]:
        return {**self._who(user, "user"), **self._who(channel, "broadcaster_user"),
                "tier": tier, "is_gift": is_gift}

    def gift_event(self, channel: str, user: str | None, total: int,
                   tier: str = "1000") -> dict[str, Any]:
        who = self._who(user, "user") if user else {"user_id": None, "user_login": None,
                                                     "user_name": None}
        return {**who, **self._who(channel, "broadcaster_user"), "total": total,
                "tier": tier, "cumulative_total": None if user is None else total,
                "is_anonymous": user is None}

    def cheer_event(self, channel: str, user: str | None, bits: int,
                    message: str) -> dict[str, Any]:
        who = self._who(user, "user") if user else {"user_id": None, "user_login": None,
                                                     "user_name": None}
        return {"is_anonymous": user is None, **who, **self._who(channel, "broadcaster_user"),
                "message": message, "bits": bits}

    def raid_event(self, channel: str, raider: str, viewers: int) -> dict[str, Any]:
        return {**self._who(raider, "from_broadcaster_user"),
                **self._who(channel, "to_broadcaster_user"), "viewers": viewers}

    def redemption_event(self, channel: str, user: str, title: str, cost: int,
                         user_input: str = "") -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()), **self._who(channel, "broadcaster_user"),
            **self._who(user, "user"), "user_input": user_input, "status": "unfulfilled",
            "reward": {"id": str(uuid.uuid4()), "title": title, "cost": cost,
                       "prompt": "Ask the co-host something"},
            "redeemed_at": _now_iso(),
        }
