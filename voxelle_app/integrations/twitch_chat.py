"""Twitch: chat and channel events in (EventSub WebSocket), replies out (Helix), device-code sign-in.

Each EventSub notification becomes a typed core event on the bus (``ChatMessage`` or
``StreamEvent``); the director subscribes and decides what to answer. Replies the director
finishes for a Twitch input may be sent back to chat (``reply_in_chat``, off by default).

Why this speaks Twitch's documented protocol on aiohttp/websockets instead of running
twitchio 3.3's ``Client``:

- its base URLs are process-wide globals (``Route.BASE``/``ID_BASE`` class variables and the
  ``eventsub.websockets.WSS`` module constant), so pointing one client at a local server
  means patching every client in the process;
- its EventSub socket ignores the keepalive the server announces (it clamps its own to at
  least 10 s and adds 5 s), treats close code 4003 as "never reconnect", hides its own
  retries from our state, and on ``session_reconnect`` cancels the old socket's reader, so
  notifications already in flight on the old socket are dropped;
- its token errors put the raw token in the exception text, its device-code poll raises
  ``ValueError`` on an answer it does not know, and its ``HTTPException`` carries no response
  headers, so a 429's ``Ratelimit-Reset`` cannot be honoured;
- ``login_dcf`` works once per ``Client`` (sign-out then sign-in needs a new client) and its
  token hooks exist to write ``.tio.tokens.json``.

Tokens live only in the ``SecretStore`` (which registers them with the log redactor) and
are never put in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from voxelle_app.core.bus import EventBus
from voxelle_app.core.control import DeviceCode
from voxelle_app.core.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    IntegrationError,
    ValidationError,
)
from voxelle_app.core.events import ChatMessage, ReplyFinished, StreamEvent
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import TwitchSettings
from voxelle_app.integrations.base import Backoff, Integration

try:
    import aiohttp
except ImportError:  # pragma: no cover - the "twitch" extra brings it
    aiohttp = None  # type: ignore[assignment]

ACCESS_KEY: Final = "twitch.access_token"
REFRESH_KEY: Final = "twitch.refresh_token"

#: What the co-host needs: read chat, write chat, and see follows, subs, bits, redemptions.
SCOPES: Final = (
    "user:read:chat",
    "user:write:chat",
    "moderator:read:followers",
    "channel:read:subscriptions",
    "bits:read",
    "channel:read:redemptions",
)

CHAT_LIMIT: Final = 500  # characters per chat message (Helix refuses longer)
CHAT_WINDOW_S: Final = 30.0
CHAT_RATE: Final = 20  # messages per 30 s for a normal account
CHAT_RATE_MODERATOR: Final = 100  # for a moderator or the broadcaster
REPLY_MAX_AGE_S: Final = 120.0  # a reply older than this is no longer worth sending
WELCOME_TIMEOUT_S: Final = 10.0
REVALIDATE_EVERY_S: Final = 3600.0  # Twitch asks apps to validate tokens hourly

CLOSE_REASONS: Final[dict[int, str]] = {
    4000: "Twitch's EventSub server had an internal error",
    4001: "Voxelle sent data on the EventSub socket, which Twitch does not allow",
    4002: "a ping from Twitch was not answered in time",
    4003: "the connection was unused (no subscription was made in time)",
    4004: "the reconnect grace time expired before Voxelle moved to the new server",
    4005: "a network timeout",
    4006: "a network error",
    4007: "the reconnect address Twitch gave was invalid",
}


def describe_close(code: int | None, reason: str = "") -> str:
    """A sentence for an EventSub close code (4000-4007 are Twitch's own)."""
    if code in CLOSE_REASONS:
        return f"Twitch closed the connection ({code}: {CLOSE_REASONS[code]})"
    detail = f": {reason}" if reason else ""
    return f"The Twitch connection closed (code {code}{detail})"


@dataclass(frozen=True)
class TwitchUser:
    id: str
    login: str
    name: str = ""


@dataclass(frozen=True)
class _SubSpec:
    type: str
    version: str
    label: str
    condition: Callable[[str, str], dict[str, str]]  # (broadcaster id, our user id)
    essential: bool = False


SUBSCRIPTIONS: Final[tuple[_SubSpec, ...]] = (
    _SubSpec("channel.chat.message", "1", "chat",
             lambda b, me: {"broadcaster_user_id": b, "user_id": me}, essential=True),
    _SubSpec("channel.follow", "2", "follows",
             lambda b, me: {"broadcaster_user_id": b, "moderator_user_id": me}),
    _SubSpec("channel.subscribe", "1", "subs", lambda b, me: {"broadcaster_user_id": b}),
    _SubSpec("channel.subscription.gift", "1", "gift subs",
             lambda b, me: {"broadcaster_user_id": b}),
    _SubSpec("channel.cheer", "1", "cheers", lambda b, me: {"broadcaster_user_id": b}),
    _SubSpec("channel.raid", "1", "raids", lambda b, me: {"to_broadcaster_user_id": b}),
    _SubSpec("channel.channel_points_custom_reward_redemption.add", "1", "redemptions",
             lambda b, me: {"broadcaster_user_id": b}),
)


# --- chat text ---------------------------------------------------------------------------

_SENTENCE_GAP = re.compile(r"(?<=[.!?…])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"')\]]*$")


def _split_words(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for whole in text.split(" "):
        word = whole
        while len(word) > limit:  # one "word" longer than a message: cut it
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= limit:
            current = f"{current} {word}"
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out


def _mark_cut(part: str, limit: int) -> str:
    if _ENDS_SENTENCE.search(part):
        return part
    if len(part) + 1 > limit:
        head, _, _ = part[: limit - 1].rpartition(" ")
        part = head or part[: limit - 1]
    return part.rstrip(" ,;:-") + "…"


def split_for_chat(text: str, limit: int = CHAT_LIMIT, max_parts: int = 3) -> list[str]:
    """Cut a reply into chat messages Twitch accepts (``limit`` characters each).

    Splits at sentence ends, else between words, and only cuts inside a word that is
    longer than a whole message. A reply longer than ``max_parts`` messages is shortened
    (at a sentence end when possible, else marked with "…") rather than flooding chat.
    """
    text = " ".join(text.split())
    if not text:
        return []
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_GAP.split(text):
        pieces.extend([sentence] if len(sentence) <= limit else _split_words(sentence, limit))
    parts: list[str] = []
    for piece in pieces:
        if parts and len(parts[-1]) + 1 + len(piece) <= limit:
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    if len(parts) > max_parts:
        parts = parts[:max_parts]
        parts[-1] = _mark_cut(parts[-1], limit)
    return parts


class SlidingWindowLimiter:
    """At most ``limit()`` sends in any ``window`` seconds.

    Twitch counts chat messages per sender over a rolling 30 s window (20, or 100 for a
    moderator), so a fixed bucket that refills all at once would still trip it.
    ``limit`` is read on every call so a change of the moderator setting applies at once.
    """

    def __init__(
        self,
        limit: Callable[[], int],
        window: float = CHAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def delay(self) -> float:
        """Seconds to wait before the next send is allowed (0 when it may go now)."""
        now = self._clock()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        limit = max(1, self._limit())
        if len(self._sent) < limit:
            return 0.0
        return self._sent[len(self._sent) - limit] + self.window - now

    async def acquire(self) -> None:
        while (wait := self.delay()) > 0:
            await self._sleep(wait)
        self._sent.append(self._clock())

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for room, then hold it for one request. The send is stamped when the
        request ends: Twitch received it no later than that, so our window never runs
        ahead of Twitch's."""
        await self.acquire()
        reserved = self._sent[-1]
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                self._sent.remove(reserved)
            bisect.insort(self._sent, self._clock())


# --- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body.get("error") or f"HTTP {self.status}")


async def _request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
) -> _Reply:
    async with http.request(
        method, url, headers=headers, params=params, json=json_body, data=form
    ) as resp:
        text = await resp.text()
        headers_copy = resp.headers.copy()
        status = resp.status
    try:
        body: Any = json.loads(text) if text else {}
    except ValueError:
        body = {"message": text[:200]}
    return _Reply(status, body if isinstance(body, dict) else {"data": body}, headers_copy)


def _new_http() -> aiohttp.ClientSession:
    if aiohttp is None:
        raise ConfigurationError(
            "Twitch support is not installed.",
            hint="Install it with: pip install 'voxelle[twitch]'",
            component="twitch",
        )
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), trust_env=True)


# --- tokens --------------------------------------------------------------------------------


def _signed_out_error() -> AuthenticationError:
    return AuthenticationError(
        "Voxelle is not signed in to Twitch, or the sign-in has expired.",
        hint="Sign in again from the Twitch panel.",
        component="twitch",
    )


class _Tokens:
    """The user's tokens: read from and written to the SecretStore, validated, refreshed.

    Refreshes are serialised by a lock: a device-flow (public client) refresh token works
    once, so two concurrent refreshes would sign the user out.
    """

    def __init__(self, secrets: SecretStore, settings: TwitchSettings) -> None:
        self._secrets = secrets
        self._settings = settings
        self._access: str | None = None
        self._refresh: str | None = None
        self._loaded = False
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.user: TwitchUser | None = None

    @property
    def _auth(self) -> str:
        return self._settings.auth_base.rstrip("/")

    async def load(self) -> bool:
        if not self._loaded:
            self._access = await asyncio.to_thread(self._secrets.get, ACCESS_KEY)
            self._refresh = await asyncio.to_thread(self._secrets.get, REFRESH_KEY)
            self._loaded = True
        return bool(self._access and self._refresh)

    async def save(self, access: str, refresh: str, expires_in: float) -> None:
        # Register before anything else can see them, then store.
        self._secrets.redactor.register(access)
        self._secrets.redactor.register(refresh)
        await asyncio.to_thread(self._secrets.set, ACCESS_KEY, access)
        await asyncio.to_thread(self._secrets.set, REFRESH_KEY, refresh)
        self._access, self._refresh, self._loaded = access, refresh, True
        self._expires_at = time.monotonic() + max(0.0, expires_in)

    async def clear(self) -> None:
        await asyncio.to_thread(self._secrets.delete, ACCESS_KEY)
        await asyncio.to_thread(self._secrets.delete, REFRESH_KEY)
        self._access = self._refresh = None
        self._loaded = True
        self._expires_at = 0.0
        self.user = None

    @property
    def access(self) -> str | None:
        return self._access

    async def validate(self, http: aiohttp.ClientSession, access: str) -> dict[str, Any] | None:
        """Twitch's /validate answer, or None when the token is refused."""
        reply = await _request(
            http, "GET", f"{self._auth}/validate", headers={"Authorization": f"OAuth {access}"}
        )
        if reply.status == 401:
            return None
        if reply.status != 200:
            raise APIError(f"Twitch could not check the sign-in ({reply.message}).",
                           component="twitch")
        return reply.body

    async def ensure(self, http: aiohttp.ClientSession) -> TwitchUser:
        """Validate the saved token (refreshing it when refused or about to expire)."""
        if not await self.load():
            raise _signed_out_error()
        access = self._access
        assert access is not None
        info = await self.validate(http, access)
        if info is None or float(info.get("expires_in") or 0) < 300:
            access = await self.refresh(http, failed=access)
            info = await self.validate(http, access)
            if info is None:
                await self.clear()
                raise _signed_out_error()
        client_id = str(info.get("client_id") or "")
        if client_id and client_id != self._settings.client_id:
            raise AuthenticationError(
                "The saved Twitch sign-in belongs to another client ID.",
                hint="Sign in again from the Twitch panel.",
                component="twitch",
            )
        expires_in = float(info.get("expires_in") or 0)
        self._expires_at = time.monotonic() + expires_in if expires_in > 0 else math.inf
        self.user = TwitchUser(str(info.get("user_id") or ""), str(info.get("login") or ""))
        return self.user

    async def bearer(self, http: aiohttp.ClientSession) -> str:
        """A token for the next request; refreshed first when it has (nearly) expired."""
        if not await self.load() or self._access is None:
            raise _signed_out_error()
        if time.monotonic() > self._expires_at - 60:
            return await self.refresh(http, failed=self._access)
        return self._access

    async def refresh(self, http: aiohttp.ClientSession, failed: str | None) -> str:
        async with self._lock:
            if failed is not None and self._access and self._access != failed:
                return self._access  # another request refreshed it meanwhile
            if not self._refresh:
                raise _signed_out_error()
            reply = await _request(
                http, "POST", f"{self._auth}/token",
                form={"grant_type": "refresh_token", "refresh_token": self._refresh,
                      "client_id": self._settings.client_id},
            )
            if reply.status in (400, 401, 403):
                await self.clear()
                raise _signed_out_error()
            access, refresh = reply.body.get("access_token"), reply.body.get("refresh_token")
            if reply.status != 200 or not access or not refresh:
                raise APIError(f"Twitch could not renew the sign-in ({reply.message}).",
                               component="twitch")
            await self.save(str(access), str(refresh), float(reply.body.get("expires_in") or 0))
            return str(access)


# --- EventSub ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Conn:
    ws: ClientConnection
    reader: asyncio.Task[None] | None = None
    session_id: str = ""
    keepalive: float = 10.0


@dataclass(frozen=True)
class _Closed:
    code: int | None
    reason: str


_Item = tuple[_Conn | None, str | _Closed | BaseException]


@dataclass(eq=False)
class _Stream:
    """One EventSub session: the socket in use, the one Twitch asked us to move to, and the
    old one being drained after a move."""

    inbox: asyncio.Queue[_Item]
    current: _Conn
    pending: _Conn | None = None
    draining: _Conn | None = None
    held: list[tuple[_Conn, str]] = field(default_factory=list)
    broadcaster: TwitchUser = TwitchUser("", "")
    me: TwitchUser = TwitchUser("", "")
    detail: str = ""


def _keepalive_grace(keepalive: float) -> float:
    """Slack past the announced keepalive: Twitch sends keepalives about that often, so a
    merely late one should not cost a reconnect (and the events lost during it)."""
    return min(5.0, max(1.0, keepalive * 0.5))


def _tier(value: Any) -> int:
    try:
        return max(1, int(str(value)) // 1000)
    except ValueError:
        return 1


@dataclass(frozen=True)
class _Outgoing:
    text: str
    reply_to: str
    queued_at: float


class TwitchChat(Integration):
    """Twitch chat and channel events in, optional chat replies out, device-code sign-in."""

    name = "twitch"
    title = "Twitch"

    def __init__(
        self,
        bus: EventBus,
        settings: TwitchSettings,
        secrets: SecretStore,
        *,
        persona_name: Callable[[], str] | None = None,
        backoff: Backoff | None = None,
        keepalive_seconds: int | None = None,
    ) -> None:
        """``settings`` is read live (the UI edits it in place). ``persona_name`` lets a
        message that names the co-host count as a mention. ``keepalive_seconds`` asks
        Twitch for a keepalive other than its default (10-600 s)."""
        super().__init__(bus, backoff)
        self.settings = settings
        self.secrets = secrets
        self._persona_name = persona_name
        self._keepalive_seconds = keepalive_seconds
        self._tokens = _Tokens(secrets, settings)
        self._device: tuple[str, float, float] | None = None  # device code, interval, deadline
        self._wanted = False
        self._unsubscribe: Callable[[], None] | None = None
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue(maxsize=50)
        self._privileged = False  # we sign in as the broadcaster: moderator limits apply
        self.limiter = SlidingWindowLimiter(
            lambda: CHAT_RATE_MODERATOR if self.settings.is_moderator or self._privileged
            else CHAT_RATE
        )
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._sent_ids: deque[str] = deque(maxlen=200)
        self._sent_texts: deque[str] = deque(maxlen=50)

    # --- Switchable ----------------------------------------------------------------------

    async def start(self) -> None:
        self._wanted = True
        if self._unsubscribe is None:
            self._unsubscribe = self.bus.subscribe(ReplyFinished, self._on_reply)
        await super().start()

    async def stop(self) -> None:
        self._wanted = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await super().stop()

    async def close(self) -> None:
        await self._cancel_tasks()
        conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 2.0)
            if conn.reader is not None:
                conn.reader.cancel()
        await asyncio.gather(*(c.reader for c in conns if c.reader), return_exceptions=True)

    # --- TwitchAccount -------------------------------------------------------------------

    @property
    def signed_in_as(self) -> str:
        user = self._tokens.user
        return user.login if user else ""

    async def restore_sign_in(self) -> str:
        """Check the saved sign-in at start-up, so the panel can name the account before
        the integration connects. Returns the login, or "" when there is none."""
        if not self.settings.client_id:
            return ""
        try:
            async with _new_http() as http:
                user = await self._tokens.ensure(http)
        except AuthenticationError:
            return ""
        except Exception as exc:  # offline: say nothing now, the session will retry
            self.log.info("could not check the Twitch sign-in yet: %s", type(exc).__name__)
            return ""
        return user.login

    async def begin_sign_in(self) -> DeviceCode:
        self._require_client_id()
        async with _new_http() as http:
            reply = await _request(
                http, "POST", f"{self._auth}/device",
                form={"client_id": self.settings.client_id, "scopes": " ".join(SCOPES)},
            )
        device_code = str(reply.body.get("device_code") or "")
        if reply.status != 200 or not device_code:
            raise APIError(f"Twitch did not start the sign-in ({reply.message}).",
                           hint="Check the client ID in the Twitch settings.",
                           component="twitch")
        self.secrets.redactor.register(device_code)  # whoever holds it could claim the token
        expires_in = int(reply.body.get("expires_in") or 1800)
        interval = float(reply.body.get("interval") or 5)
        self._device = (device_code, interval, time.monotonic() + expires_in)
        return DeviceCode(
            user_code=str(reply.body.get("user_code") or ""),
            verification_uri=str(reply.body.get("verification_uri") or ""),
            expires_in=expires_in,
        )

    async def finish_sign_in(self) -> str:
        if self._device is None:
            raise ValidationError("Start the Twitch sign-in first.", component="twitch")
        device_code, interval, deadline = self._device
        async with _new_http() as http:
            while True:
                if time.monotonic() > deadline:
                    self._device = None
                    raise AuthenticationError("The Twitch sign-in code expired.",
                                              hint="Press Sign in to get a new code.",
                                              component="twitch")
                reply = await _request(
                    http, "POST", f"{self._auth}/token",
                    form={"client_id": self.settings.client_id, "scopes": " ".join(SCOPES),
                          "device_code": device_code,
                          "grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
                )
                if reply.status == 200:
                    break
                answer = reply.message.lower()
                if answer == "authorization_pending":
                    await asyncio.sleep(interval)
                    continue
                if answer == "slow_down":
                    interval += 5
                    await asyncio.sleep(interval)
                    continue
                self._device = None
                raise AuthenticationError(f"Twitch refused the sign-in ({reply.message}).",
                                          hint="Press Sign in to try again.", component="twitch")
            access = str(reply.body.get("access_token") or "")
            refresh = str(reply.body.get("refresh_token") or "")
            if not access or not refresh:
                raise APIError("Twitch's sign-in answer had no token.", component="twitch")
            await self._tokens.save(access, refresh, float(reply.body.get("expires_in") or 0))
            user = await self._tokens.ensure(http)
        self._device = None
        self.log.info("signed in to Twitch as %s", user.login)
        if self._wanted:  # it was switched on: connect with the new account now
            await Integration.stop(self)
            await Integration.start(self)
        return user.login

    async def sign_out(self) -> None:
        self._device = None
        if self.running:
            await self.stop()
        if await self._tokens.load() and self._tokens.access:
            try:
                async with _new_http() as http:
                    await _request(http, "POST", f"{self._auth}/revoke",
                                   form={"client_id": self.settings.client_id,
                                         "token": self._tokens.access})
            except Exception as exc:  # the local sign-out matters; revoking is a courtesy
                self.log.info("could not revoke the Twitch token: %s", type(exc).__name__)
        await self._tokens.clear()
        self.log.info("signed out of Twitch")

    # --- the session -----------------------------------------------------------------------

    @property
    def _auth(self) -> str:
        return self.settings.auth_base.rstrip("/")

    def _require_client_id(self) -> None:
        if not self.settings.client_id:
            raise ConfigurationError(
                "Twitch needs a client ID.",
                hint="Register an application at dev.twitch.tv/console (type Public) and paste "
                "its client ID into the Twitch settings.",
                component="twitch",
            )

    async def session(self) -> None:
        self._require_client_id()
        self.set_state("authenticating")
        inbox: asyncio.Queue[_Item] = asyncio.Queue()
        async with _new_http() as http:
            me = await self._tokens.ensure(http)
            broadcaster = await self._broadcaster(http, me)
            url = self.settings.eventsub_url
            if self._keepalive_seconds is not None:
                sep = "&" if "?" in url else "?"
                url = f"{url}{sep}keepalive_timeout_seconds={self._keepalive_seconds}"
            self.set_state("connecting", f"joining #{broadcaster.login}")
            conn = await self._connect(url, inbox)
            await self._await_welcome(conn, inbox)
            missing = await self._subscribe_all(http, conn.session_id, broadcaster, me)
            detail = f"#{broadcaster.login} as {me.login}"
            if self.settings.bot_login and self.settings.bot_login.lower() != me.login.lower():
                detail += f" (signed in as {me.login}, not {self.settings.bot_login})"
            if missing:
                detail += f"; not receiving {', '.join(missing)}"
            stream = _Stream(inbox, conn, broadcaster=broadcaster, me=me, detail=detail)
            self._privileged = me.id == broadcaster.id
            self.set_state("connected", detail)
            self._spawn(self._guard(self._send_replies(http, stream), inbox))
            self._spawn(self._guard(self._revalidate(http), inbox))
            try:
                await self._serve(stream)
            finally:  # the helpers use ``http``: stop them before it closes
                await self._cancel_tasks()

    async def _broadcaster(self, http: aiohttp.ClientSession, me: TwitchUser) -> TwitchUser:
        channel = self.settings.channel.strip().lstrip("#").lower()
        reply = await self._helix(http, "GET", "users",
                                  params={"login": channel} if channel else None)
        if reply.status != 200:
            raise APIError(f"Twitch did not answer who the channel is ({reply.message}).",
                           component="twitch")
        data = reply.body.get("data") or []
        if not data:
            raise ConfigurationError(f"There is no Twitch channel called {channel!r}.",
                                     hint="Check the channel name in the Twitch settings.",
                                     component="twitch")
        user = data[0]
        return TwitchUser(str(user["id"]), str(user["login"]),
                          str(user.get("display_name") or user["login"]))

    async def _helix(
        self,
        http: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> _Reply:
        """A Helix call with the user's token; a 401 refreshes the token once and retries."""
        url = f"{self.settings.api_base.rstrip('/')}/{path}"
        token = await self._tokens.bearer(http)
        reply = None
        for attempt in (1, 2):
            reply = await _request(
                http, method, url, params=params, json_body=json_body,
                headers={"Authorization": f"Bearer {token}",
                         "Client-Id": self.settings.client_id},
            )
            if reply.status != 401 or attempt == 2:
                break
            self.log.info("Twitch refused the token on %s; renewing it", path)
            token = await self._tokens.refresh(http, failed=token)
        assert reply is not None
        if reply.status == 401:
            raise _signed_out_error()
        return reply

    async def _connect(self, url: str, inbox: asyncio.Queue[_Item]) -> _Conn:
        # Twitch closes the socket if the client sends anything but pongs: no client pings.
        ws = await ws_connect(url, ping_interval=None, open_timeout=WELCOME_TIMEOUT_S,
                              close_timeout=5, max_size=1 << 20)
        conn = _Conn(ws)
        self._conns.add(conn)
        conn.reader = asyncio.create_task(self._read(conn, inbox), name="voxelle-twitch-reader")
        return conn

    async def _read(self, conn: _Conn, inbox: asyncio.Queue[_Item]) -> None:
        """Hand every frame to the session in order. After we close a socket, websockets
        still delivers frames that arrived before Twitch's close frame, so none is lost."""
        try:
            async for raw in conn.ws:
                inbox.put_nowait((conn, raw if isinstance(raw, str) else raw.decode("utf-8")))
        except ConnectionClosed:
            pass
        except Exception as exc:
            self.log.info("the Twitch socket failed: %s", type(exc).__name__)
        finally:
            inbox.put_nowait((conn, _Closed(conn.ws.close_code, conn.ws.close_reason or "")))

    async def _await_welcome(self, conn: _Conn, inbox: asyncio.Queue[_Item]) -> None:
        # Only this socket is open yet, so the next item in the inbox is its first frame.
        try:
            _, item = await asyncio.wait_for(inbox.get(), WELCOME_TIMEOUT_S)
        except TimeoutError:
            raise IntegrationError("Twitch did not greet the connection within 10 s.",
                                   component="twitch") from None
        if isinstance(item, _Closed):
            raise IntegrationError(describe_close(item.code, item.reason), component="twitch")
        message = json.loads(str(item))
        if message.get("metadata", {}).get("message_type") != "session_welcome":
            raise IntegrationError("Twitch's first EventSub message was not a welcome.",
                                   component="twitch")
        self._apply_welcome(conn, message.get("payload") or {})

    @staticmethod
    def _apply_welcome(conn: _Conn, payload: Mapping[str, Any]) -> None:
        session = payload.get("session") or {}
        conn.session_id = str(session.get("id") or "")
        keepalive = session.get("keepalive_timeout_seconds")
        if isinstance(keepalive, int | float) and keepalive > 0:
            conn.keepalive = float(keepalive)

    async def _subscribe_all(
        self, http: aiohttp.ClientSession, session_id: str, broadcaster: TwitchUser,
        me: TwitchUser,
    ) -> list[str]:
        """Subscribe to every event type; the ones Twitch refuses are named, not fatal
        (subs, cheers and redemptions need the broadcaster's own sign-in)."""
        missing: list[str] = []
        for spec in SUBSCRIPTIONS:
            body = {
                "type": spec.type,
                "version": spec.version,
                "condition": spec.condition(broadcaster.id, me.id),
                "transport": {"method": "websocket", "session_id": session_id},
            }
            reply = await self._helix(http, "POST", "eventsub/subscriptions", json_body=body)
            if reply.status in (200, 202, 409):
                continue
            if spec.essential:
                if reply.status == 403:
                    raise AuthenticationError(
                        f"Twitch does not let {me.login} read chat in #{broadcaster.login} "
                        f"({reply.message}).",
                        hint="Sign in again and accept every permission Twitch asks for.",
                        component="twitch",
                    )
                raise IntegrationError(f"Twitch refused the chat subscription ({reply.message}).",
                                       component="twitch")
            missing.append(spec.label)
            self.log.warning("Twitch refused %s for #%s: %s", spec.label, broadcaster.login,
                             reply.message)
        return missing

    async def _serve(self, stream: _Stream) -> None:
        """Read until the session ends: a close, a keepalive timeout, or a fatal error."""
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        while True:
            keepalive = stream.current.keepalive
            budget = keepalive + _keepalive_grace(keepalive) - (loop.time() - last_heard)
            try:
                source, item = await asyncio.wait_for(stream.inbox.get(), max(budget, 0.0))
            except TimeoutError:
                raise IntegrationError(
                    f"Twitch sent nothing for {keepalive:.0f} s (keepalive timeout).",
                    component="twitch",
                ) from None
            if source is None:
                assert isinstance(item, BaseException)
                raise item
            if isinstance(item, _Closed):
                self._conns.discard(source)
                if source is stream.draining:  # the old socket is done: release what waited
                    stream.draining = None
                    held, stream.held = stream.held, []
                    for held_source, raw in held:
                        await self._process(stream, held_source, raw)
                    continue
                if source is stream.pending:
                    raise IntegrationError(
                        f"Moving to Twitch's new server failed: {describe_close(item.code)}.",
                        component="twitch",
                    )
                if source is stream.current:
                    held, stream.held = stream.held, []
                    for held_source, raw in held:  # it sent these before closing
                        await self._process(stream, held_source, raw)
                    raise IntegrationError(describe_close(item.code, item.reason),
                                           component="twitch")
                continue
            assert isinstance(item, str)
            last_heard = loop.time()
            if source is stream.current and stream.draining is not None:
                # Keep chat in order: the old socket's last frames come first.
                stream.held.append((source, item))
                continue
            await self._process(stream, source, item)

    async def _process(self, stream: _Stream, source: _Conn, raw: str) -> None:
        try:
            message = json.loads(raw)
            metadata = message["metadata"]
            kind = metadata["message_type"]
        except (ValueError, KeyError, TypeError):
            self.log.warning("ignored a malformed EventSub message")
            return
        payload = message.get("payload") or {}
        if kind == "notification":
            message_id = str(metadata.get("message_id") or "")
            if message_id:  # Twitch delivers at least once: drop the repeats
                if message_id in self._seen:
                    return
                self._seen[message_id] = None
                if len(self._seen) > 4096:
                    self._seen.popitem(last=False)
            sub_type = str(metadata.get("subscription_type")
                           or (payload.get("subscription") or {}).get("type") or "")
            event = self._to_event(stream, sub_type, payload.get("event") or {})
            if event is not None:
                self.bus.publish(event)
        elif kind == "session_keepalive":
            return
        elif kind == "session_reconnect":
            url = ((payload.get("session") or {}).get("reconnect_url")) or ""
            if not url or stream.pending is not None:
                return
            self.set_state("reconnecting", "Twitch asked Voxelle to move to another server")
            # The old socket keeps being read while the new one connects.
            stream.pending = await self._connect(str(url), stream.inbox)
        elif kind == "session_welcome":
            if source is stream.pending:
                old, stream.current, stream.pending = stream.current, source, None
                self._apply_welcome(source, payload)
                stream.draining = old
                self._spawn(old.ws.close())  # its reader still delivers what is in flight
                self.set_state("connected", stream.detail)
        elif kind == "revocation":
            sub = payload.get("subscription") or {}
            status = str(sub.get("status") or "")
            self.log.warning("Twitch stopped sending %s (%s)", sub.get("type"), status)
            if sub.get("type") == "channel.chat.message":
                if status == "authorization_revoked":
                    await self._tokens.clear()
                    raise _signed_out_error()
                raise IntegrationError(f"Twitch stopped sending chat ({status}).",
                                       component="twitch")

    # --- events --------------------------------------------------------------------------

    def _to_event(
        self, stream: _Stream, sub_type: str, ev: Mapping[str, Any]
    ) -> ChatMessage | StreamEvent | None:
        if sub_type == "channel.chat.message":
            return self._chat_event(stream, ev)
        if sub_type == "channel.follow":
            return StreamEvent(kind="follow", user=_name(ev, "user"))
        if sub_type == "channel.subscribe":
            if ev.get("is_gift"):
                return None  # the gifter's channel.subscription.gift covers these
            return StreamEvent(kind="subscribe", user=_name(ev, "user"), amount=_tier(ev.get("tier")))
        if sub_type == "channel.subscription.gift":
            user = "Anonymous" if ev.get("is_anonymous") else _name(ev, "user")
            return StreamEvent(kind="gift_sub", user=user, amount=int(ev.get("total") or 1))
        if sub_type == "channel.cheer":
            user = "Anonymous" if ev.get("is_anonymous") else _name(ev, "user")
            return StreamEvent(kind="cheer", user=user, amount=int(ev.get("bits") or 0),
                               text=str(ev.get("message") or ""))
        if sub_type == "channel.raid":
            return StreamEvent(kind="raid", user=_name(ev, "from_broadcaster_user"),
                               amount=int(ev.get("viewers") or 0))
        if sub_type == "channel.channel_points_custom_reward_redemption.add":
            reward = ev.get("reward") or {}
            return StreamEvent(kind="redemption", user=_name(ev, "user"),
                               amount=int(reward.get("cost") or 0),
                               reward=str(reward.get("title") or ""),
                               text=str(ev.get("user_input") or ""))
        self.log.debug("ignored EventSub %s", sub_type)
        return None

    def _chat_event(self, stream: _Stream, ev: Mapping[str, Any]) -> ChatMessage | None:
        message = ev.get("message") or {}
        text = str(message.get("text") or "")
        message_id = str(ev.get("message_id") or "")
        chatter_id = str(ev.get("chatter_user_id") or "")
        me, broadcaster = stream.me, stream.broadcaster
        if chatter_id and chatter_id == me.id:
            # Our own replies come back as chat. A separate bot account only ever says what
            # we sent; on the streamer's own account only the echoes of our sends are ours.
            if me.id != broadcaster.id:
                return None
            if message_id in self._sent_ids or " ".join(text.split()) in self._sent_texts:
                return None
        badges = {str(b.get("set_id") or "") for b in ev.get("badges") or []}
        cheer = ev.get("cheer") or {}
        return ChatMessage(
            platform="twitch",
            user=_name(ev, "chatter_user"),
            text=text,
            user_id=chatter_id,
            message_id=message_id,
            channel=str(ev.get("broadcaster_user_login") or broadcaster.login),
            is_subscriber=bool(badges & {"subscriber", "founder"}),
            is_moderator=bool(badges & {"moderator", "broadcaster"}),
            bits=int(cheer.get("bits") or 0),
            mentions_bot=self._mentions_bot(stream, message, text),
        )

    def _mentions_bot(self, stream: _Stream, message: Mapping[str, Any], text: str) -> bool:
        me = stream.me
        separate_bot = bool(me.id) and me.id != stream.broadcaster.id
        if separate_bot:  # "@streamer" is not a mention of the co-host
            for fragment in message.get("fragments") or []:
                mention = fragment.get("mention") if isinstance(fragment, dict) else None
                if mention and (str(mention.get("user_id")) == me.id
                                or str(mention.get("user_login", "")).lower() == me.login):
                    return True
        names = [self._persona_name()] if self._persona_name else []
        if separate_bot:
            names.append(me.login)
        for name in filter(None, (n.strip() for n in names)):
            if re.search(rf"(?<!\w)@?{re.escape(name)}(?!\w)", text, re.IGNORECASE):
                return True
        return False

    # --- replies in chat -----------------------------------------------------------------

    def _on_reply(self, event: ReplyFinished) -> None:
        if not self.settings.reply_in_chat:
            return
        origin = event.origin
        if origin is None or (isinstance(origin, ChatMessage) and origin.platform != "twitch"):
            return
        text = event.spoken_text.strip()  # what passed the safety filter and was said
        if not text:
            return
        reply_to = origin.message_id if isinstance(origin, ChatMessage) else ""
        if self._outbox.full():
            dropped = self._outbox.get_nowait()
            self.log.info("dropped an unsent chat reply (%d characters)", len(dropped.text))
        self._outbox.put_nowait(_Outgoing(text, reply_to, time.monotonic()))

    async def _send_replies(self, http: aiohttp.ClientSession, stream: _Stream) -> None:
        while True:
            item = await self._outbox.get()
            if time.monotonic() - item.queued_at > REPLY_MAX_AGE_S:
                self.log.info("dropped a chat reply that waited too long")
                continue
            reply_to = item.reply_to
            for part in split_for_chat(item.text):
                if not await self._send_chat(http, stream, part, reply_to):
                    break
                reply_to = ""  # the first part answers; the rest follow it

    async def _send_chat(
        self, http: aiohttp.ClientSession, stream: _Stream, text: str, reply_to: str
    ) -> bool:
        body: dict[str, str] = {"broadcaster_id": stream.broadcaster.id,
                                "sender_id": stream.me.id, "message": text}
        if reply_to:
            body["reply_parent_message_id"] = reply_to
        for _ in range(6):
            self._sent_texts.append(text)  # before the echo can arrive
            try:
                async with self.limiter.slot():
                    reply = await self._helix(http, "POST", "chat/messages", json_body=body)
            except (AuthenticationError, asyncio.CancelledError):
                raise
            except Exception as exc:
                self.log.warning("could not send a chat reply: %s", type(exc).__name__)
                return False
            if reply.status == 429:
                wait = _until_reset(reply.headers)
                self.log.info("Twitch chat rate limit reached; waiting %.1f s", wait)
                await asyncio.sleep(wait)
                continue
            if reply.status != 200:
                self.log.warning("Twitch refused a chat reply (%s)", reply.message)
                return False
            data = (reply.body.get("data") or [{}])[0]
            if data.get("message_id"):
                self._sent_ids.append(str(data["message_id"]))
            if not data.get("is_sent", True):
                reason = (data.get("drop_reason") or {}).get("message") or "no reason given"
                self.log.warning("Twitch dropped a chat reply (%s)", reason)
                return False
            return True
        self.log.warning("gave up sending a chat reply after repeated rate limits")
        return False

    async def _revalidate(self, http: aiohttp.ClientSession) -> None:
        while True:
            await asyncio.sleep(REVALIDATE_EVERY_S)
            await self._tokens.ensure(http)

    # --- tasks ---------------------------------------------------------------------------

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Coroutine[Any, Any, Any], inbox: asyncio.Queue[_Item]) -> None:
        """A helper task's failure ends the session through the inbox, not silently."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            inbox.put_nowait((None, exc))


def _name(ev: Mapping[str, Any], prefix: str) -> str:
    return str(ev.get(f"{prefix}_name") or ev.get(f"{prefix}_login") or "someone")


def _until_reset(headers: Mapping[str, str]) -> float:
    """Seconds until Twitch's ``Ratelimit-Reset`` (an epoch time), kept between 0.2 and 60."""
    try:
        reset = float(headers.get("Ratelimit-Reset", "0"))
    except ValueError:
        reset = 0.0
    wait = reset - time.time() if reset > 0 else 1.0
    return min(60.0, max(0.2, wait + 0.1))
