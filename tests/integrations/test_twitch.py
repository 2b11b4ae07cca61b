"""The Twitch integration against a fake Twitch on 127.0.0.1 (tests/integrations/fake_twitch.py).

Every test drives the real integration over real HTTP and WebSocket connections; only the
server is fake. Nothing asserts wall-clock speed: waits are generous deadlines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Recorder
from tests.integrations.fake_twitch import FakeTwitch, Session
from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import AuthenticationError
from voxelle_app.core.events import ChatMessage, IntegrationStatus, ReplyFinished, StreamEvent
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import TwitchSettings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.twitch_chat import (
    ACCESS_KEY,
    REFRESH_KEY,
    SlidingWindowLimiter,
    TwitchChat,
    split_for_chat,
)

STREAMER = "streamer"
VIEWER = "viewer"


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def start_fake(**options: Any) -> FakeTwitch:
    # A 2 s keepalive (below Twitch's 10 s floor) keeps the keepalive tests short.
    options.setdefault("default_keepalive", 2)
    options.setdefault("keepalive_range", (1, 600))
    fake = await FakeTwitch(**options).start()
    fake.add_user(STREAMER, "Streamer")
    fake.add_user(VIEWER, "Viewer")
    fake.add_user("raider", "Raider")
    fake.add_user("voxbot", "VoxBot")
    return fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwitch]:
    server = await start_fake()
    yield server
    await server.stop()


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)


def settings_for(fake: FakeTwitch, **overrides: Any) -> TwitchSettings:
    values: dict[str, Any] = {
        "enabled": True, "client_id": fake.client_id, "channel": STREAMER,
        "api_base": fake.api_base, "auth_base": fake.auth_base,
        "eventsub_url": fake.eventsub_url,
    }
    values.update(overrides)
    return TwitchSettings(**values)


@pytest.fixture
async def make_twitch(
    bus: EventBus, store: SecretStore
) -> AsyncIterator[Callable[..., TwitchChat]]:
    made: list[TwitchChat] = []

    def make(fake: FakeTwitch, store_: SecretStore | None = None, **overrides: Any) -> TwitchChat:
        twitch = TwitchChat(bus, settings_for(fake, **overrides), store_ or store,
                            persona_name=lambda: "Vox", backoff=Backoff(0.05, 0.3))
        made.append(twitch)
        return twitch

    yield make
    for twitch in made:
        await twitch.stop()


def seed(store: SecretStore, fake: FakeTwitch, login: str = STREAMER, **kwargs: Any) -> Any:
    token = fake.issue_tokens(login, **kwargs)
    store.set(ACCESS_KEY, token.access)
    store.set(REFRESH_KEY, token.refresh)
    return token


async def connect(twitch: TwitchChat, fake: FakeTwitch, exclude: tuple[str, ...] = ()) -> Session:
    await twitch.start()
    session = await fake.wait_for_session(exclude=exclude)
    await wait_until(lambda: twitch.state == "connected", what="state connected")
    return session


async def sentinel(fake: FakeTwitch, recorder: Recorder, text: str = "sentinel") -> None:
    """Everything the fake sent before this has been handled once the sentinel arrives."""
    await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, text))
    await recorder.wait_for(ChatMessage, lambda e: e.text == text, timeout=20)


# --- sign-in ---------------------------------------------------------------------------------


async def test_device_code_sign_in_end_to_end(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    twitch = make_twitch(fake)
    assert twitch.signed_in_as == ""
    code = await twitch.begin_sign_in()
    assert len(code.user_code) == 8
    assert code.verification_uri.startswith(f"{fake.base}/activate")
    assert code.expires_in == 1800

    finishing = asyncio.create_task(twitch.finish_sign_in())
    grant = next(iter(fake.devices.values()))
    await wait_until(lambda: grant.polls >= 1, what="a pending poll")
    assert not finishing.done()  # still "authorization_pending"
    fake.approve(code.user_code, STREAMER)
    assert await asyncio.wait_for(finishing, 20) == STREAMER
    assert twitch.signed_in_as == STREAMER

    access = store.get(ACCESS_KEY)
    assert access in fake.tokens and fake.tokens[access].user_id == fake.user(STREAMER).id
    assert store.get(REFRESH_KEY) == fake.tokens[access].refresh
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob(".tio.tokens.json")))

    await connect(twitch, fake)  # the new sign-in is what the session uses


async def test_sign_in_code_that_expires_is_reported(
    make_twitch: Callable[..., TwitchChat], store: SecretStore
) -> None:
    fake = await start_fake(device_expires_in=1)
    try:
        twitch = make_twitch(fake)
        await twitch.begin_sign_in()
        with pytest.raises(AuthenticationError, match="expired|refused"):
            await asyncio.wait_for(twitch.finish_sign_in(), 20)
        assert twitch.signed_in_as == ""
        assert store.get(ACCESS_KEY) is None
    finally:
        await fake.stop()


async def test_restore_and_sign_out(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore
) -> None:
    token = seed(store, fake)
    twitch = make_twitch(fake)
    assert await twitch.restore_sign_in() == STREAMER
    await connect(twitch, fake)
    await twitch.sign_out()
    assert twitch.signed_in_as == ""
    assert twitch.state == "stopped"
    assert store.get(ACCESS_KEY) is None and store.get(REFRESH_KEY) is None
    assert fake.revoked == [token.access]


async def test_starting_without_a_sign_in_fails_clearly(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], recorder: Recorder
) -> None:
    twitch = make_twitch(fake)
    await twitch.start()
    status = await recorder.wait_for(IntegrationStatus, lambda e: e.state == "failed")
    assert "not signed in" in status.detail and "Sign in again" in status.detail
    assert not twitch.running


# --- events ----------------------------------------------------------------------------------


async def test_each_event_type_reaches_the_bus_typed(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    await connect(twitch, fake)
    states = [e.state for e in recorder.of(IntegrationStatus)]
    assert states[:3] == ["connecting", "authenticating", "connecting"]
    assert states[-1] == "connected"

    chat = fake.chat_event(STREAMER, VIEWER, "hey Vox, how are you?",
                           badges=("subscriber", "moderator"), bits=100)
    await fake.notify("channel.chat.message", chat)
    await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, "plain"))
    await fake.notify("channel.follow", fake.follow_event(STREAMER, VIEWER))
    await fake.notify("channel.subscribe", fake.subscribe_event(STREAMER, VIEWER, "2000"))
    await fake.notify("channel.subscribe",  # one of a gift's recipients: the gift covers it
                      fake.subscribe_event(STREAMER, "raider", is_gift=True))
    await fake.notify("channel.subscription.gift", fake.gift_event(STREAMER, None, 5))
    await fake.notify("channel.cheer", fake.cheer_event(STREAMER, VIEWER, 500, "Cheer500 hi"))
    await fake.notify("channel.raid", fake.raid_event(STREAMER, "raider", 42))
    await fake.notify("channel.channel_points_custom_reward_redemption.add",
                      fake.redemption_event(STREAMER, VIEWER, "Ask Vox", 300, "tell a joke"))
    await sentinel(fake, recorder)

    first, plain = recorder.of(ChatMessage)[:2]
    assert first == ChatMessage(
        platform="twitch", user="Viewer", text="hey Vox, how are you?",
        user_id=fake.user(VIEWER).id, message_id=chat["message_id"], channel=STREAMER,
        is_subscriber=True, is_moderator=True, bits=100, mentions_bot=True,
        t=first.t, wall=first.wall,
    )
    assert (plain.is_subscriber, plain.is_moderator, plain.bits, plain.mentions_bot) == (
        False, False, 0, False)
    events = [(e.kind, e.user, e.amount, e.text, e.reward) for e in recorder.of(StreamEvent)]
    assert events == [
        ("follow", "Viewer", 0, "", ""),
        ("subscribe", "Viewer", 2, "", ""),
        ("gift_sub", "Anonymous", 5, "", ""),
        ("cheer", "Viewer", 500, "Cheer500 hi", ""),
        ("raid", "Raider", 42, "", ""),
        ("redemption", "Viewer", 300, "tell a joke", "Ask Vox"),
    ]


async def test_a_separate_bot_account_gets_mentions_and_names_what_it_cannot_see(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    bot = fake.user("voxbot")
    fake.user(STREAMER).moderators.add(bot.id)  # a moderator may read follows
    seed(store, fake, "voxbot")
    twitch = make_twitch(fake, bot_login="voxbot")
    await twitch.start()
    await fake.wait_for_session(subscriptions=3)  # chat, follow, raid
    await wait_until(lambda: twitch.state == "connected")
    assert twitch.detail.startswith("#streamer as voxbot")
    assert "not receiving subs, gift subs, cheers, redemptions" in twitch.detail

    await fake.notify("channel.chat.message", fake.chat_event(
        STREAMER, VIEWER, "@VoxBot what's up", mention="voxbot"))
    await fake.notify("channel.chat.message", fake.chat_event(
        STREAMER, VIEWER, "@Streamer nice play", mention=STREAMER))
    await fake.notify("channel.chat.message", fake.chat_event(STREAMER, "voxbot", "my echo"))
    await fake.notify("channel.follow", fake.follow_event(STREAMER, VIEWER))
    await recorder.wait_for(StreamEvent, lambda e: e.kind == "follow")
    await sentinel(fake, recorder)
    mentions = {e.text: e.mentions_bot for e in recorder.of(ChatMessage)}
    assert mentions == {"@VoxBot what's up": True, "@Streamer nice play": False,
                        "sentinel": False}


async def test_a_flood_of_1000_messages_arrives_complete_and_in_order(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    await connect(twitch, fake)
    for i in range(1000):
        await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, f"m{i}"))
    await wait_until(lambda: len(recorder.of(ChatMessage)) >= 1000, timeout=60)
    texts = [e.text for e in recorder.of(ChatMessage)]
    assert texts == [f"m{i}" for i in range(1000)]
    assert len({e.message_id for e in recorder.of(ChatMessage)}) == 1000


# --- staying connected -------------------------------------------------------------------------


async def test_session_reconnect_mid_stream_loses_no_message(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    old = await connect(twitch, fake)
    for i in range(100):
        await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, f"m{i}"))
    # Chat still on its way down the old socket when the client reaches the new one: enough
    # to fill the socket buffers, so the new socket's welcome and chat overtake it.
    fake.in_flight_on_move = [("channel.chat.message", fake.chat_event(STREAMER, VIEWER, f"m{i}"))
                              for i in range(100, 1250)]
    await fake.send_reconnect(old)
    await wait_until(lambda: old.moved_to is not None, what="the client reaching the new URL")
    new = old.moved_to
    assert new is not None
    for i in range(1250, 1300):
        await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, f"m{i}"))
    await wait_until(lambda: len(recorder.of(ChatMessage)) >= 1300, timeout=60)

    # Nothing lost, nothing repeated, and still in the order it was said.
    assert [e.text for e in recorder.of(ChatMessage)] == [f"m{i}" for i in range(1300)]
    assert (old.notifications, new.notifications) == (1250, 50)
    await wait_until(lambda: old.ws.closed, what="the client closing the old socket")
    assert not new.ws.closed and twitch.state == "connected"
    states = [e.state for e in recorder.of(IntegrationStatus)]
    assert states[-2:] == ["reconnecting", "connected"]
    assert len([s for s in fake.sessions.values() if s.reconnected_from is None]) == 1


async def test_keepalive_timeout_reconnects(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    first = await connect(twitch, fake)
    assert first.keepalive == 2
    first.keepalives_paused = True  # the socket stays open but goes silent
    second = await fake.wait_for_session(exclude=(first.id,))
    status = await recorder.wait_for(IntegrationStatus, lambda e: e.state == "reconnecting")
    assert "keepalive timeout" in status.detail
    await wait_until(lambda: twitch.state == "connected")
    await wait_until(lambda: first.ws.closed)
    await sentinel(fake, recorder, "after the timeout")
    assert second.notifications == 1


@pytest.mark.parametrize("code", range(4000, 4008))
async def test_close_codes_reconnect_with_backoff(
    code: int, fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    first = await connect(twitch, fake)
    await fake.close_session(code, "closing", first)
    status = await recorder.wait_for(IntegrationStatus, lambda e: e.state == "reconnecting")
    assert f"({code}:" in status.detail and "retrying in" in status.detail
    await fake.wait_for_session(exclude=(first.id,))
    await wait_until(lambda: twitch.state == "connected")
    await sentinel(fake, recorder, f"back after {code}")


async def test_stop_and_start_again(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    first = await connect(twitch, fake)
    await twitch.stop()
    assert twitch.state == "stopped"
    await wait_until(lambda: first.ws.closed)
    await connect(twitch, fake, exclude=(first.id,))
    await sentinel(fake, recorder)


# --- tokens ------------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_on_start(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
) -> None:
    token = seed(store, fake)
    fake.expire(token.access)
    twitch = make_twitch(fake)
    await connect(twitch, fake)
    assert fake.refreshes == 1
    assert store.get(ACCESS_KEY) not in (None, token.access)
    assert store.get(REFRESH_KEY) not in (None, token.refresh)  # single-use: rotated
    assert token.refresh not in fake.refresh_index


async def test_token_refused_mid_session_is_refreshed_and_the_call_retried(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder, bus: EventBus,
) -> None:
    token = seed(store, fake)
    twitch = make_twitch(fake, reply_in_chat=True)
    await connect(twitch, fake)
    fake.expire(token.access)  # Twitch stops accepting it before we expected
    origin = await chat_from_viewer(fake, recorder, "hello?")
    bus.publish(reply_to(origin, "Hello there."))
    await wait_until(lambda: len(fake.chat_log) == 1)
    assert fake.refreshes == 1 and store.get(ACCESS_KEY) != token.access


async def test_a_refused_refresh_asks_to_sign_in_again(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder,
) -> None:
    token = seed(store, fake)
    fake.expire(token.access)
    fake.refresh_index.clear()  # the refresh token was revoked too
    twitch = make_twitch(fake)
    await twitch.start()
    status = await recorder.wait_for(IntegrationStatus, lambda e: e.state == "failed")
    assert "Sign in again" in status.detail
    assert store.get(ACCESS_KEY) is None and store.get(REFRESH_KEY) is None


async def test_tokens_never_reach_the_log(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder, bus: EventBus, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    twitch = make_twitch(fake, reply_in_chat=True)
    code = await twitch.begin_sign_in()
    finishing = asyncio.create_task(twitch.finish_sign_in())
    fake.approve(code.user_code, STREAMER)
    await asyncio.wait_for(finishing, 20)
    first = await connect(twitch, fake)
    fake.expire(store.get(ACCESS_KEY) or "")
    origin = await chat_from_viewer(fake, recorder, "hi")
    bus.publish(reply_to(origin, "Hi!"))
    await wait_until(lambda: len(fake.chat_log) == 1)
    await fake.close_session(4000, "", first)  # a reconnect logs its reason
    await fake.wait_for_session(exclude=(first.id,))
    await twitch.sign_out()

    assert fake.refreshes == 1 and len(fake.issued_secrets) >= 5
    texts = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    texts += [repr(e) for e in recorder.events]
    assert texts
    for secret in fake.issued_secrets:
        assert not any(secret in text for text in texts)


# --- replies in chat ---------------------------------------------------------------------------


async def chat_from_viewer(fake: FakeTwitch, recorder: Recorder, text: str) -> ChatMessage:
    await fake.notify("channel.chat.message", fake.chat_event(STREAMER, VIEWER, text))
    event: ChatMessage = await recorder.wait_for(ChatMessage, lambda e: e.text == text)
    return event


def reply_to(origin: ChatMessage | StreamEvent, text: str) -> ReplyFinished:
    return ReplyFinished(turn_id=1, spoken_text=text, full_text=text, interrupted=False,
                         source="twitch", origin=origin)


async def test_long_replies_are_split_at_sentences_under_500_characters(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder, bus: EventBus,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake, reply_in_chat=True)
    await connect(twitch, fake)
    origin = await chat_from_viewer(fake, recorder, "tell me a long story")
    sentences = [f"Sentence number {i} of the story goes on for a little while." for i in range(20)]
    text = " ".join(sentences)
    assert 1000 < len(text) <= 1500
    bus.publish(reply_to(origin, text))
    await wait_until(lambda: len(fake.chat_log) == 3)
    sent = [m["message"] for m in fake.chat_log]
    assert all(len(m) <= 500 for m in sent)
    assert " ".join(sent) == text
    assert all(m.endswith(".") for m in sent)  # cut between sentences
    assert fake.chat_log[0]["reply_parent_message_id"] == origin.message_id
    assert fake.refused_too_long == 0
    # Twitch echoes our messages into chat; the co-host must not read its own words.
    await sentinel(fake, recorder)
    assert not [e for e in recorder.of(ChatMessage) if e.text in sent]


async def test_replies_stay_out_of_chat_unless_enabled(
    fake: FakeTwitch, make_twitch: Callable[..., TwitchChat], store: SecretStore,
    recorder: Recorder, bus: EventBus,
) -> None:
    seed(store, fake)
    twitch = make_twitch(fake)
    await connect(twitch, fake)
    origin = await chat_from_viewer(fake, recorder, "anyone there?")
    bus.publish(reply_to(origin, "Yes."))
    voice = ReplyFinished(turn_id=2, spoken_text="Hi streamer.", full_text="Hi streamer.",
                          interrupted=False, source="voice", origin=None)
    twitch.settings.reply_in_chat = True
    bus.publish(voice)  # not an answer to Twitch: stays off chat even when enabled
    await asyncio.sleep(0.3)
    assert fake.chat_log == []


async def test_rate_limit_429_is_waited_out_and_nothing_is_lost(
    make_twitch: Callable[..., TwitchChat], store: SecretStore, recorder: Recorder,
    bus: EventBus,
) -> None:
    fake = await start_fake(chat_limit=2, chat_limit_moderator=2, chat_window=1.0)
    try:
        seed(store, fake)
        twitch = make_twitch(fake, reply_in_chat=True)
        await connect(twitch, fake)
        origin = await chat_from_viewer(fake, recorder, "spam me")
        for i in range(5):
            bus.publish(reply_to(origin, f"Answer {i}."))
        await wait_until(lambda: len(fake.chat_log) == 5, timeout=30)
        assert [m["message"] for m in fake.chat_log] == [f"Answer {i}." for i in range(5)]
        assert fake.rate_limited >= 1
    finally:
        await fake.stop()


async def test_the_limiter_keeps_replies_under_twitchs_limit(
    make_twitch: Callable[..., TwitchChat], store: SecretStore, recorder: Recorder,
    bus: EventBus,
) -> None:
    fake = await start_fake(chat_limit=3, chat_limit_moderator=3, chat_window=1.0)
    try:
        seed(store, fake)
        twitch = make_twitch(fake, reply_in_chat=True)
        # The same sliding window the integration uses, scaled down to the fake's limit.
        twitch.limiter = SlidingWindowLimiter(lambda: 3, 1.0)
        await connect(twitch, fake)
        origin = await chat_from_viewer(fake, recorder, "count to seven")
        for i in range(7):
            bus.publish(reply_to(origin, f"Number {i}."))
        await wait_until(lambda: len(fake.chat_log) == 7, timeout=30)
        assert [m["message"] for m in fake.chat_log] == [f"Number {i}." for i in range(7)]
        assert fake.rate_limited == 0  # never had to be told
    finally:
        await fake.stop()


def test_split_for_chat() -> None:
    assert split_for_chat("  short   reply ") == ["short reply"]
    assert split_for_chat("") == []
    words = " ".join(["word"] * 300)  # 1499 characters, no sentence end
    parts = split_for_chat(words, max_parts=5)
    assert [len(p) <= 500 for p in parts] == [True] * 3
    assert " ".join(parts) == words and all(not p.startswith(" ") for p in parts)
    huge = "x" * 1200
    assert split_for_chat(huge, max_parts=5) == ["x" * 500, "x" * 500, "x" * 200]
    many = " ".join(f"Sentence {i} is here." for i in range(200))
    shortened = split_for_chat(many, max_parts=2)
    assert len(shortened) == 2 and all(len(p) <= 500 for p in shortened)
    assert shortened[-1].endswith(".")  # dropped whole sentences, no half sentence
    run_on = " ".join(["and then"] * 400)
    cut = split_for_chat(run_on, max_parts=1)
    assert len(cut) == 1 and len(cut[0]) <= 500 and cut[0].endswith("…")


async def test_sliding_window_limiter_allows_20_per_30_seconds() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    moderator = [False]
    limiter = SlidingWindowLimiter(lambda: 100 if moderator[0] else 20, 30.0,
                                   clock=lambda: now[0], sleep=sleep)
    for _ in range(20):
        await limiter.acquire()
        now[0] += 0.5
    assert slept == []  # 20 within 10 s: allowed
    await limiter.acquire()  # the 21st waits until the first is 30 s old
    assert slept == [pytest.approx(20.0)]
    assert now[0] == pytest.approx(30.0)
    moderator[0] = True
    for _ in range(50):
        await limiter.acquire()
    assert len(slept) == 1  # a moderator may send 100


async def test_a_send_counts_from_when_its_request_ended() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = SlidingWindowLimiter(lambda: 1, 30.0, clock=lambda: now[0], sleep=sleep)
    async with limiter.slot():
        now[0] += 2.0  # a slow request: Twitch may have counted it at any point until now
    assert limiter.delay() == pytest.approx(30.0)


# --- the fake follows Twitch's documented behaviour -------------------------------------------


async def test_fake_payloads_parse_with_twitchio_models(fake: FakeTwitch) -> None:
    """twitchio's models index every documented field, so they check the fake's shapes."""
    eventsub = pytest.importorskip("twitchio.models.eventsub_")
    samples = {
        "channel.chat.message": fake.chat_event(STREAMER, VIEWER, "@VoxBot hi", bits=5,
                                                badges=("subscriber",), mention="voxbot"),
        "channel.follow": fake.follow_event(STREAMER, VIEWER),
        "channel.subscribe": fake.subscribe_event(STREAMER, VIEWER),
        "channel.subscription.gift": fake.gift_event(STREAMER, VIEWER, 3),
        "channel.cheer": fake.cheer_event(STREAMER, None, 100, "Cheer100"),
        "channel.raid": fake.raid_event(STREAMER, "raider", 7),
        "channel.channel_points_custom_reward_redemption.add":
            fake.redemption_event(STREAMER, VIEWER, "Hydrate", 100),
    }
    for sub_type, event in samples.items():
        message = {"metadata": {"message_id": "m", "message_type": "notification",
                                "message_timestamp": "2024-01-01T00:00:00Z",
                                "subscription_type": sub_type, "subscription_version": "1"},
                   "payload": {"subscription": {"type": sub_type}, "event": event}}
        parsed = eventsub.create_event_instance(sub_type, message, http=None)
        assert parsed is not None, sub_type
    chat = eventsub.create_event_instance(
        "channel.chat.message", {"payload": {"subscription": {}, "event":
                                             samples["channel.chat.message"]}}, http=None)
    assert chat.cheer.bits == 5 and chat.fragments[0].mention.name == "voxbot"


async def test_fake_answers_twitchios_own_oauth_and_helix_client(
    fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """twitchio (written against the real Twitch) can be pointed at the fake and works.

    Its base URLs are class variables, so this patches them for the test only; the
    integration itself takes its URLs from the settings instead."""
    twitchio = pytest.importorskip("twitchio")
    monkeypatch.setattr(twitchio.Route, "BASE", f"{fake.api_base}/")
    monkeypatch.setattr(twitchio.Route, "ID_BASE", f"{fake.base}/")
    oauth = twitchio.authentication.OAuth(client_id=fake.client_id,
                                          scopes=twitchio.Scopes(["user:read:chat"]))
    try:
        flow = await oauth.device_code_flow()
        fake.approve(flow["user_code"], STREAMER)
        tokens = await oauth.device_code_authorization(device_code=flow["device_code"])
        valid = await oauth.validate_token(tokens["access_token"])
        assert (valid.login, valid.user_id) == (STREAMER, fake.user(STREAMER).id)
        renewed = await oauth.refresh_token(tokens["refresh_token"])
        assert renewed.access_token != tokens["access_token"]
        users = await oauth.request_json(twitchio.Route(
            "GET", "users", params={"login": STREAMER},
            headers={"Authorization": f"Bearer {renewed.access_token}"}))
        assert users["data"][0]["display_name"] == "Streamer"
    finally:
        await oauth.close()


async def test_fake_enforces_the_websocket_rules(fake: FakeTwitch) -> None:
    async def close_code(url: str, act: Callable[[Any], Any] | None = None) -> int | None:
        async with ws_connect(url, ping_interval=None) as ws:
            try:
                await ws.recv()  # the welcome
                if act is not None:
                    await act(ws)
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            except ConnectionClosed:
                return ws.close_code

    # No subscription within the keepalive window: 4003.
    assert await close_code(f"{fake.eventsub_url}?keepalive_timeout_seconds=1") == 4003

    # Sending anything: 4001.
    async def talk(ws: Any) -> None:
        await ws.send("hello")
    assert await close_code(fake.eventsub_url, talk) == 4001

    # An unknown reconnect URL: 4007.
    assert await close_code(f"{fake.eventsub_url}?reconnect=nope") == 4007

    # Asked to reconnect and not doing so within the grace time: 4004.
    fake.reconnect_grace = 0.5
    token = fake.issue_tokens(STREAMER)
    async with ws_connect(fake.eventsub_url, ping_interval=None) as ws:
        session_id = json.loads(await ws.recv())["payload"]["session"]["id"]
        body = {"type": "channel.raid", "version": "1",
                "condition": {"to_broadcaster_user_id": fake.user(STREAMER).id},
                "transport": {"method": "websocket", "session_id": session_id}}
        async with aiohttp.ClientSession() as http, http.post(
            f"{fake.api_base}/eventsub/subscriptions", json=body,
            headers={"Authorization": f"Bearer {token.access}", "Client-Id": fake.client_id},
        ) as resp:
            assert resp.status == 202
            assert (await resp.json())["data"][0]["transport"]["session_id"] == session_id
        await fake.send_reconnect(fake.sessions[session_id])
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 20)
        assert ws.close_code == 4004


async def test_fake_helix_rejects_bad_sessions_and_long_messages(fake: FakeTwitch) -> None:
    token = fake.issue_tokens(STREAMER)
    headers = {"Authorization": f"Bearer {token.access}", "Client-Id": fake.client_id}
    streamer = fake.user(STREAMER)
    async with aiohttp.ClientSession(headers=headers) as http:
        body = {"type": "channel.chat.message", "version": "1",
                "condition": {"broadcaster_user_id": streamer.id, "user_id": streamer.id},
                "transport": {"method": "websocket", "session_id": "no-such-session"}}
        async with http.post(f"{fake.api_base}/eventsub/subscriptions", json=body) as resp:
            assert resp.status == 400
        message = {"broadcaster_id": streamer.id, "sender_id": streamer.id, "message": "x" * 501}
        async with http.post(f"{fake.api_base}/chat/messages", json=message) as resp:
            assert resp.status == 422
    async with aiohttp.ClientSession() as http, http.get(
        f"{fake.auth_base}/validate", headers={"Authorization": "OAuth wrong"}
    ) as resp:
        assert resp.status == 401
