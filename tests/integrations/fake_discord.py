"""A fake Discord on 127.0.0.1: the gateway WebSocket and the REST routes the bot uses.

It speaks the public protocol (discord.com/developers/docs: Gateway, Gateway Events,
Interactions, Rate Limits) closely enough for the real discord.py client to run against it:

- Gateway: HELLO → (heartbeat ↔ HEARTBEAT_ACK) → IDENTIFY → READY (session_id,
  resume_gateway_url) → GUILD_CREATE; RESUME → missed events replayed in order, then
  RESUMED; unknown session → INVALID_SESSION. zlib-stream transport compression when the
  client asks for it. IDENTIFY with the privileged MESSAGE_CONTENT intent while the portal
  switch is off closes with 4014; a wrong token closes with 4004.
- REST (``/api/v10``): GET gateway/bot, users/@me, oauth2/applications/@me; POST
  channels/{id}/messages and channels/{id}/typing; POST interactions/{id}/{token}/callback;
  PUT application commands (global and guild). Any route can be told to answer 429 with
  ``retry_after`` and the X-RateLimit-* headers, as Discord does.

Test controls: ``post_message``, ``send_interaction``, ``drop_gateway(code)``,
``close_on_identify`` (close with a chosen code), ``gateway_paused()`` (an outage: new sockets
wait), ``rate_limit(...)``, ``message_content_enabled`` (the Developer Portal switch) and the
recorded ``sent_messages``, ``typing``, ``interaction_responses``, ``commands``, ``requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_VERSION = 10
# A made-up token with the real shape (base64 id . timestamp . hmac); never a real one.
FAKE_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GfAkeT.fake-bot-token-for-tests-only_0123456"

INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_MESSAGE_CONTENT = 1 << 15

PERM_MANAGE_GUILD = 1 << 5
PERM_ALL_TEXT = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)  # view, send, history, app cmds
PERM_VOICE = (1 << 20) | (1 << 21)  # connect, speak


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with the bare ``application/json`` content type Discord sends (no charset)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=all_headers)


_ids = itertools.count(1_200_000_000_000_000_000)


def snowflake() -> int:
    return next(_ids)


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time(), UTC).isoformat()


def _user(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class SentMessage:
    channel_id: int
    content: str
    reference_id: int | None
    allowed_mentions: dict[str, Any] | None
    id: int
    t: float


@dataclass
class RateLimitRule:
    method: str
    pattern: re.Pattern[str]
    retry_after: float
    remaining: int  # how many more requests get the 429


@dataclass
class Request:
    method: str
    path: str
    status: int
    t: float
    authorized: bool


@dataclass
class Session:
    session_id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, for replay


class GatewayConnection:
    """One WebSocket, with zlib-stream compression when the client asked for it."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool, path: str) -> None:
        self.ws = ws
        self.path = path
        self._zlib = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.session: Session | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload)
        async with self._lock:
            if self.ws.closed:
                return
            if self._zlib is None:
                await self.ws.send_str(data)
            else:
                blob = self._zlib.compress(data.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(blob)


class FakeDiscord:
    def __init__(
        self,
        token: str = FAKE_TOKEN,
        *,
        message_content_enabled: bool = True,
        heartbeat_interval_ms: int = 2000,
    ) -> None:
        self.token = token
        self.message_content_enabled = message_content_enabled
        self.heartbeat_interval_ms = heartbeat_interval_ms

        self.app_id = snowflake()
        self.bot_id = self.app_id
        self.bot_name = "Vox"
        self.owner_id = snowflake()
        self.guild_id = snowflake()
        self.everyone_role_id = self.guild_id
        self.mod_role_id = snowflake()
        self.text_channel_id = snowflake()  # the streamer allows this one
        self.other_channel_id = snowflake()  # and not this one
        self.voice_channel_id = snowflake()

        self.sessions: dict[str, Session] = {}
        self.connections: list[GatewayConnection] = []
        self.identifies = 0
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.gateway_closes: list[int] = []
        #: close the socket with this code instead of answering IDENTIFY (e.g. 4004, 4014)
        self.close_on_identify: int | None = None
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()

        self.requests: list[Request] = []
        self.sent_messages: list[SentMessage] = []
        self.typing: list[tuple[int, float]] = []
        self.interaction_responses: list[tuple[int, dict[str, Any]]] = []
        self.commands: list[dict[str, Any]] = []
        self.rate_limits: list[RateLimitRule] = []
        self.rate_limited: list[Request] = []

        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self._changed = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        # A different path, so a test can tell a RESUME used the session's own URL.
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway-resume", self._gateway)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        server = self._site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _notify(self) -> None:
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], object], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError("fake Discord: condition not met in time")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    # --- test controls -----------------------------------------------------------------

    @property
    def live(self) -> GatewayConnection | None:
        """The identified or resumed connection that receives dispatches now."""
        for conn in reversed(self.connections):
            if conn.session is not None and not conn.ws.closed:
                return conn
        return None

    @property
    def session(self) -> Session | None:
        return next(reversed(self.sessions.values()), None) if self.sessions else None

    async def drop_gateway(self, code: int = 4000, reason: str = "") -> None:
        """Close the live gateway socket with ``code`` (4000 'unknown error' is resumable)."""
        conn = self.live
        if conn is not None:
            await self._close(conn, code, reason)

    async def _close(self, conn: GatewayConnection, code: int, reason: str) -> None:
        self.gateway_closes.append(code)
        await conn.ws.close(code=code, message=reason.encode())
        self._notify()

    @contextlib.asynccontextmanager
    async def gateway_paused(self) -> AsyncIterator[None]:
        """New gateway sockets wait before HELLO until the block ends (a network outage)."""
        self._gateway_open.clear()
        try:
            yield
        finally:
            self._gateway_open.set()

    def rate_limit(self, method: str, path: str, retry_after: float, count: int = 1) -> None:
        """The next ``count`` requests to ``path`` (a regex on the path after /api/v10) get 429."""
        self.rate_limits.append(RateLimitRule(method, re.compile(path), retry_after, count))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Record a dispatch in the session (for replay) and send it if a socket is live."""
        session = self.session
        if session is None:
            raise AssertionError("no gateway session yet")
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        conn = self.live
        if conn is not None and conn.session is session:
            await conn.send(payload)

    async def post_message(
        self,
        channel_id: int,
        content: str,
        *,
        author_id: int | None = None,
        author_name: str = "viewer",
        mention_bot: bool = False,
        roles: tuple[int, ...] = (),
        guild: bool = True,
        bot_author: bool = False,
    ) -> int:
        """A user posts a message; the bot receives MESSAGE_CREATE. Returns the message id."""
        message_id = snowflake()
        author = _user(author_id or snowflake(), author_name, bot=bot_author)
        mentions: list[dict[str, Any]] = []
        if mention_bot:
            content = f"<@{self.bot_id}> {content}"
            mentions.append(_user(self.bot_id, self.bot_name, bot=True))
        session = self.session
        if session is not None and not session.intents & INTENT_MESSAGE_CONTENT and not mention_bot:
            content = ""  # without the intent Discord sends messages with empty content
        data: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild:
            data["guild_id"] = str(self.guild_id)
            data["member"] = {
                "roles": [str(r) for r in roles],
                "joined_at": _iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        await self.dispatch("MESSAGE_CREATE", data)
        return message_id

    async def send_interaction(
        self,
        name: str,
        options: dict[str, str] | None = None,
        *,
        user_name: str = "moderator",
        roles: tuple[int, ...] = (),
        permissions: int = PERM_ALL_TEXT,
        channel_id: int | None = None,
    ) -> int:
        """A member runs a slash command; the bot receives INTERACTION_CREATE."""
        command = next((c for c in self.commands if c["name"] == name), None)
        interaction_id = snowflake()
        channel_id = channel_id or self.text_channel_id
        data: dict[str, Any] = {
            "id": str(command["id"]) if command else str(snowflake()),
            "name": name,
            "type": 1,
        }
        if options:
            data["options"] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        user = _user(snowflake(), user_name)
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": 2,
            "data": data,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(self.guild_id),
                "name": "chat",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user,
                "roles": [str(r) for r in roles],
                "permissions": str(permissions),
                "joined_at": _iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
            },
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "app_permissions": str(PERM_ALL_TEXT),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction_id

    # --- gateway -----------------------------------------------------------------------

    def _ready(self, session: Session) -> dict[str, Any]:
        return {
            "v": API_VERSION,
            "user": _user(self.bot_id, self.bot_name, bot=True) | {"verified": True, "mfa_enabled": False,
                                                                  "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "resume_gateway_url": self.resume_gateway_url,
            "private_channels": [],
            "application": {"id": str(self.app_id), "flags": 0},
        }

    def _guild(self) -> dict[str, Any]:
        def text(cid: int, name: str, pos: int) -> dict[str, Any]:
            return {
                "id": str(cid), "type": 0, "name": name, "position": pos, "guild_id": str(self.guild_id),
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "rate_limit_per_user": 0, "last_message_id": None,
            }

        return {
            "id": str(self.guild_id),
            "name": "Streamer's server",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": _iso(),
            "large": False,
            "unavailable": False,
            "member_count": 3,
            "roles": [
                {"id": str(self.everyone_role_id), "name": "@everyone", "permissions": str(PERM_ALL_TEXT),
                 "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False,
                 "flags": 0},
                {"id": str(self.mod_role_id), "name": "Mods", "permissions": str(PERM_ALL_TEXT),
                 "position": 1, "color": 0, "hoist": True, "managed": False, "mentionable": True,
                 "flags": 0},
            ],
            "emojis": [],
            "stickers": [],
            "channels": [
                text(self.text_channel_id, "ask-vox", 0),
                text(self.other_channel_id, "general", 1),
                {"id": str(self.voice_channel_id), "type": 2, "name": "Stream", "position": 2,
                 "guild_id": str(self.guild_id), "permission_overwrites": [], "nsfw": False,
                 "parent_id": None, "bitrate": 64000, "user_limit": 0, "rtc_region": None},
            ],
            "threads": [],
            "members": [
                {"user": _user(self.bot_id, self.bot_name, bot=True), "roles": [], "joined_at": _iso(),
                 "deaf": False, "mute": False, "flags": 0, "nick": None},
            ],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        await self._gateway_open.wait()
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.query.get("compress") == "zlib-stream", request.path)
        self.connections.append(conn)
        await conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None,
                         "t": None})
        self._notify()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                await self._on_gateway_payload(conn, payload)
                self._notify()
        finally:
            self._notify()
        return ws

    async def _on_gateway_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            self.heartbeats += 1
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # IDENTIFY
            self.identifies += 1
            if self.close_on_identify is not None:
                await self._close(conn, self.close_on_identify, "Closed by the test.")
                return
            if d.get("token") != self.token:
                await self._close(conn, 4004, "Authentication failed.")
                return
            intents = int(d.get("intents", 0))
            privileged = intents & (INTENT_MESSAGE_CONTENT | INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES)
            if privileged & INTENT_MESSAGE_CONTENT and not self.message_content_enabled:
                await self._close(conn, 4014, "Disallowed intent(s).")
                return
            session = Session(session_id=f"session-{snowflake()}", intents=intents)
            self.sessions[session.session_id] = session
            conn.session = session
            await self.dispatch("READY", self._ready(session))
            await self.dispatch("GUILD_CREATE", self._guild())
        elif op == 6:  # RESUME
            self.resumes.append(dict(d))
            if d.get("token") != self.token:
                await self._close(conn, 4004, "Authentication failed.")
                return
            session = self.sessions.get(d.get("session_id", ""))
            if session is None:
                await conn.send({"op": 9, "d": False, "s": None, "t": None})
                return
            conn.session = session
            last = int(d.get("seq") or 0)
            for event in session.events:
                if event["s"] > last:
                    await conn.send(event)
            session.seq += 1
            resumed = {"op": 0, "t": "RESUMED", "s": session.seq, "d": {}}
            session.events.append(resumed)
            await conn.send(resumed)
        elif op in (3, 4, 8):  # presence, voice state, request members: accepted, ignored
            return

    # --- REST --------------------------------------------------------------------------

    def _limit(self, method: str, path: str) -> RateLimitRule | None:
        for rule in self.rate_limits:
            if rule.remaining > 0 and rule.method == method and rule.pattern.fullmatch(path):
                rule.remaining -= 1
                return rule
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        interaction_route = path.startswith("/interactions/")  # authorised by the URL's token
        record = Request(method, path, 0, time.monotonic(), authorized)
        self.requests.append(record)
        self._notify()
        if not authorized and not interaction_route:
            record.status = 401
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        rule = self._limit(method, path)
        if rule is not None:
            record.status = 429
            self.rate_limited.append(record)
            return _json(
                {"message": "You are being rate limited.", "retry_after": rule.retry_after,
                 "global": False},
                status=429,
                headers={
                    "Retry-After": str(max(1, round(rule.retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
                    "X-RateLimit-Bucket": "fake-bucket-" + path.split("/")[1],
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                },
            )
        record.status = 200
        ok_headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 5:.3f}",
            "X-RateLimit-Reset-After": "5.000",
            "X-RateLimit-Bucket": "fake-bucket-" + path.split("/")[1],
            "Via": "1.1 google",
        }

        def ok(body: Any, status: int = 200) -> web.Response:
            record.status = status
            if status == 204:
                return web.Response(status=204, headers=ok_headers)
            return _json(body, status=status, headers=ok_headers)

        if method == "GET" and path == "/gateway/bot":
            return ok({"url": self.gateway_url, "shards": 1,
                       "session_start_limit": {"total": 1000, "remaining": 999,
                                               "reset_after": 86_400_000, "max_concurrency": 1}})
        if method == "GET" and path == "/users/@me":
            return ok(_user(self.bot_id, self.bot_name, bot=True) | {"verified": True, "flags": 0,
                                                                    "mfa_enabled": False})
        if method == "GET" and path in ("/oauth2/applications/@me", "/applications/@me"):
            return ok({
                "id": str(self.app_id), "name": self.bot_name, "description": "", "icon": None,
                "bot_public": False, "bot_require_code_grant": False,
                "owner": _user(self.owner_id, "streamer"), "verify_key": "00" * 32, "flags": 0,
                "team": None, "summary": "", "rpc_origins": [],
            })
        m = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method == "POST" and m:
            body = await request.json()
            message_id = snowflake()
            reference = body.get("message_reference") or {}
            sent = SentMessage(
                channel_id=int(m.group(1)),
                content=body.get("content") or "",
                reference_id=int(reference["message_id"]) if reference.get("message_id") else None,
                allowed_mentions=body.get("allowed_mentions"),
                id=message_id,
                t=time.monotonic(),
            )
            self.sent_messages.append(sent)
            self._notify()
            return ok({
                "id": str(message_id), "channel_id": m.group(1), "guild_id": str(self.guild_id),
                "author": _user(self.bot_id, self.bot_name, bot=True), "content": sent.content,
                "timestamp": _iso(), "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": [], "pinned": False, "type": 19 if sent.reference_id else 0, "flags": 0,
            })
        m = re.fullmatch(r"/channels/(\d+)/typing", path)
        if method == "POST" and m:
            self.typing.append((int(m.group(1)), time.monotonic()))
            self._notify()
            return ok(None, 204)
        m = re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)
        if method == "POST" and m:
            interaction_id = int(m.group(1))
            if m.group(2) != f"interaction-token-{interaction_id}":
                record.status = 401
                return _json({"message": "Invalid interaction token", "code": 50027},
                                         status=401)
            body = await request.json()
            self.interaction_responses.append((interaction_id, body))
            self._notify()
            message_id = snowflake()
            data = body.get("data") or {}
            result: dict[str, Any] = {
                "interaction": {
                    "id": str(interaction_id), "type": 2,
                    "response_message_id": str(message_id),
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": bool(int(data.get("flags", 0)) & 64),
                },
            }
            if body.get("type") == 4:
                result["resource"] = {"type": 4, "message": {
                    "id": str(message_id), "channel_id": str(self.text_channel_id),
                    "author": _user(self.bot_id, self.bot_name, bot=True),
                    "content": data.get("content", ""), "timestamp": _iso(), "edited_timestamp": None,
                    "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                    "attachments": [], "embeds": [], "pinned": False, "type": 20,
                    "flags": int(data.get("flags", 0)),
                }}
            return ok(result)
        if method == "PUT" and re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path):
            body = await request.json()
            commands = []
            for cmd in body:
                commands.append({
                    "id": str(snowflake()), "application_id": str(self.app_id), "version": "1",
                    "type": cmd.get("type", 1), "name": cmd["name"],
                    "description": cmd.get("description", ""), "options": cmd.get("options", []),
                    "default_member_permissions": cmd.get("default_member_permissions"),
                    "dm_permission": cmd.get("dm_permission", True), "nsfw": cmd.get("nsfw", False),
                    "contexts": cmd.get("contexts"), "integration_types": cmd.get("integration_types"),
                })
            self.commands = commands
            self._notify()
            return ok(commands)
        record.status = 404
        return _json({"message": "404: Not Found", "code": 0}, status=404)
