"""The Discord integration against a fake Discord on 127.0.0.1 (real discord.py client).

The co-host is a small scripted stand-in for the director (a fake of our own stage, allowed
for orchestration tests). Chat reaches it the way it reaches the real director: as
``ChatMessage`` events on the bus, offered to the real safety layer (``InputSelector`` with a
``Blocklist``), which drops and audits what it will not answer. What the selector hands out
is "thought about" briefly and answered with ``ReplyStarted`` / ``ReplyFinished`` carrying the
message as origin.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Recorder
from tests.integrations.fake_discord import (
    FAKE_TOKEN,
    PERM_ALL_TEXT,
    PERM_MANAGE_GUILD,
    FakeDiscord,
)
from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import ValidationError
from voxelle_app.core.events import (
    ChatMessage,
    InputDropped,
    IntegrationStatus,
    ReplyFinished,
    ReplyStarted,
    StageError,
    StreamEvent,
    UserInput,
)
from voxelle_app.core.logs import Redactor
from voxelle_app.core.safety import Blocklist, InputSelector
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import DiscordSettings, SafetySettings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.discord_bot import (
    TOKEN_KEY,
    DiscordBot,
    answer_text,
    split_for_discord,
)


class ScriptedCoHost:
    """Stands in for the conversation director (core.control.CoHost)."""

    persona_name = "Vox"

    def __init__(self, bus: EventBus, answer: Callable[[str], str] | None = None,
                 blocked: tuple[str, ...] = ("forbiddenword",)) -> None:
        self.bus = bus
        self.answer = answer or (lambda text: f"You said: {text}. Nice!")
        safety = SafetySettings(answer_mode="all", user_cooldown_s=0, chat_min_interval_s=0,
                                streamer_holdoff_s=0, use_default_blocklist=False)
        self.selector = InputSelector(safety, Blocklist(blocked), cohost_name=self.persona_name,
                                      now=time.monotonic, on_drop=bus.publish)
        self.offered: list[ChatMessage | StreamEvent] = []
        self.answered: list[UserInput] = []
        self.stop_calls = 0
        self.ears: list[bool] = []
        self._turn = 0
        self._tasks: set[asyncio.Task[None]] = set()
        bus.subscribe(ChatMessage, self._on_chat)

    def _on_chat(self, message: ChatMessage) -> None:
        self.offered.append(message)
        self.selector.offer(message)
        while (item := self.selector.next_input()) is not None:
            self.answered.append(item)
            self._turn += 1
            task = asyncio.get_running_loop().create_task(self._reply(self._turn, item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reply(self, turn: int, item: UserInput) -> None:
        self.bus.publish(ReplyStarted(turn_id=turn, source=item.source, user=item.user,
                                      prompt_text=item.text, origin=item.origin))
        await asyncio.sleep(0.3)  # thinking
        reply = self.answer(item.text)
        self.bus.publish(ReplyFinished(turn_id=turn, spoken_text=reply, full_text=reply,
                                       interrupted=False, source=item.source, origin=item.origin))

    def submit(self, text: str, source: str, user: str = "",
               origin: ChatMessage | StreamEvent | None = None) -> None:
        raise AssertionError("chat must reach the co-host through the bus, not submit()")

    def stop_speaking(self) -> None:
        self.stop_calls += 1

    def set_ears_muted(self, muted: bool) -> None:
        self.ears.append(muted)

    def set_panic(self, active: bool) -> None:
        pass


@dataclass
class Rig:
    fake: FakeDiscord
    bot: DiscordBot
    cohost: ScriptedCoHost
    recorder: Recorder
    settings: DiscordSettings
    secrets: SecretStore

    async def connected(self) -> None:
        await self.recorder.wait_for(IntegrationStatus, lambda e: e.state == "connected", timeout=30)

    async def failed(self) -> IntegrationStatus:
        return await self.recorder.wait_for(  # type: ignore[no-any-return]
            IntegrationStatus, lambda e: e.state == "failed", timeout=30
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def rig(bus: EventBus, recorder: Recorder, fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Rig]:
    settings = DiscordSettings(
        enabled=True,
        allowed_channels=[fake.text_channel_id],
        answer_mentions=True,
        answer_dms=False,
        api_base=fake.api_base,  # the gateway is discovered through GET /gateway/bot
    )
    secrets = SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)
    secrets.set(TOKEN_KEY, FAKE_TOKEN)
    cohost = ScriptedCoHost(bus)
    bot = DiscordBot(settings, bus, secrets, cohost, backoff=Backoff(initial=0.1, maximum=0.5))
    yield Rig(fake, bot, cohost, recorder, settings, secrets)
    await bot.stop()


async def test_message_in_allowed_channel_gets_a_reply_with_typing(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()

    message_id = await fake.post_message(fake.text_channel_id, "what game is this?", author_name="ana")

    await fake.wait_until(lambda: fake.sent_messages)
    sent = fake.sent_messages[0]
    assert sent.channel_id == fake.text_channel_id
    assert sent.content == "You said: what game is this?. Nice!"
    assert sent.reference_id == message_id  # a reply to the message
    assert sent.allowed_mentions is not None and sent.allowed_mentions.get("parse") == []
    # typing was shown in that channel before the answer arrived
    assert [c for c, t in fake.typing if t <= sent.t] == [fake.text_channel_id]

    [chat] = rig.recorder.of(ChatMessage)
    assert (chat.platform, chat.user, chat.text) == ("discord", "ana", "what game is this?")
    assert chat.message_id == str(message_id) and chat.channel == str(fake.text_channel_id)
    [item] = rig.cohost.answered
    assert (item.source, item.text, item.origin) == ("discord", "what game is this?", chat)


async def test_message_elsewhere_gets_no_answer_but_a_mention_does(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()

    await fake.post_message(fake.other_channel_id, "just chatting in general")
    await fake.post_message(fake.other_channel_id, "a bot posting", bot_author=True)
    await fake.post_message(fake.text_channel_id, "a bot in the right channel", bot_author=True)
    await fake.post_message(fake.other_channel_id, "a DM", guild=False)  # answer_dms is off
    mention_id = await fake.post_message(fake.other_channel_id, "are you there?", mention_bot=True)

    await fake.wait_until(lambda: fake.sent_messages)
    await asyncio.sleep(1.0)  # let anything wrongly answered arrive too
    assert [m.reference_id for m in fake.sent_messages] == [mention_id]
    [chat] = rig.cohost.offered  # the others never reached the co-host
    assert isinstance(chat, ChatMessage) and chat.text == "are you there?" and chat.mentions_bot


async def test_long_answer_is_split_at_sentence_boundaries(rig: Rig) -> None:
    fake = rig.fake
    sentences = [f"Sentence number {i} says something moderately long about the game." for i in range(70)]
    long_answer = " ".join(sentences)
    assert len(long_answer) > 4000
    rig.cohost.answer = lambda _text: long_answer
    await rig.bot.start()
    await rig.connected()

    message_id = await fake.post_message(fake.text_channel_id, "tell me everything")

    await fake.wait_until(lambda: " ".join(m.content for m in fake.sent_messages) == long_answer)
    parts = fake.sent_messages
    assert len(parts) == 3
    assert all(len(p.content) <= 2000 for p in parts)
    assert all(p.content.endswith("game.") for p in parts)  # cut only between sentences
    assert parts[0].reference_id == message_id
    assert [p.reference_id for p in parts[1:]] == [None, None]


async def test_blocked_message_is_ignored_and_audited(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()

    await fake.post_message(fake.text_channel_id, "say forbiddenword please", author_name="troll")
    await fake.post_message(fake.text_channel_id, "hello", author_name="ana")

    await fake.wait_until(lambda: fake.sent_messages)
    await asyncio.sleep(0.5)
    assert [m.content for m in fake.sent_messages] == ["You said: hello. Nice!"]
    [dropped] = rig.recorder.of(InputDropped)  # the safety layer's audit trail
    assert (dropped.source, dropped.user, dropped.reason) == ("discord", "troll", "blocked")
    assert "forbiddenword" not in dropped.text


async def test_stop_and_ears_commands_are_for_moderators_only(rig: Rig) -> None:
    fake = rig.fake
    rig.settings.moderator_role = "Mods"
    await rig.bot.start()
    await rig.connected()
    await fake.wait_until(lambda: {c["name"] for c in fake.commands} >= {"ask", "stop", "mute",
                                                                          "unmute", "persona"})

    # a viewer without Manage Server or the role: refused, nothing stops
    viewer = await fake.send_interaction("stop", user_name="viewer", permissions=PERM_ALL_TEXT)
    await fake.wait_until(lambda: any(i == viewer for i, _ in fake.interaction_responses))
    body = dict(fake.interaction_responses)[viewer]
    assert body["type"] == 4 and body["data"]["flags"] & 64  # ephemeral
    assert "Only moderators" in body["data"]["content"]
    assert rig.cohost.stop_calls == 0

    # Manage Server permission: /stop interrupts speech
    mod = await fake.send_interaction("stop", permissions=PERM_ALL_TEXT | PERM_MANAGE_GUILD)
    await fake.wait_until(lambda: any(i == mod for i, _ in fake.interaction_responses))
    assert rig.cohost.stop_calls == 1
    assert dict(fake.interaction_responses)[mod]["data"]["content"] == "Stopped."

    # the moderator role: /mute and /unmute reach the ears
    for name in ("mute", "unmute"):
        await fake.send_interaction(name, roles=(fake.mod_role_id,), permissions=PERM_ALL_TEXT)
    await fake.wait_until(lambda: len(rig.cohost.ears) == 2)
    assert rig.cohost.ears == [True, False]


async def test_persona_and_ask_commands(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()
    await fake.wait_until(lambda: fake.commands)
    perms = PERM_ALL_TEXT | PERM_MANAGE_GUILD

    persona = await fake.send_interaction("persona", permissions=perms)
    await fake.wait_until(lambda: any(i == persona for i, _ in fake.interaction_responses))
    assert "Vox" in dict(fake.interaction_responses)[persona]["data"]["content"]

    ask = await fake.send_interaction("ask", {"question": "who wins tonight?"}, user_name="mod",
                                      permissions=perms)
    await fake.wait_until(lambda: fake.sent_messages)
    public = dict(fake.interaction_responses)[ask]
    assert public["data"]["content"] == "**mod asks:** who wins tonight?"
    assert not public["data"].get("flags", 0) & 64  # everyone sees the question
    [answer] = fake.sent_messages
    assert answer.content == "You said: who wins tonight?. Nice!"
    assert answer.channel_id == fake.text_channel_id
    assert answer.reference_id is not None  # replies to the question message
    [item] = rig.cohost.answered  # the question went through selection like chat
    assert item.source == "discord" and item.text == "who wins tonight?"
    assert isinstance(item.origin, ChatMessage) and item.origin.is_moderator


async def test_dropped_gateway_resumes_without_losing_the_next_message(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()
    session = fake.session
    assert session is not None and fake.identifies == 1

    async with fake.gateway_paused():
        await fake.drop_gateway(4000)  # "unknown error": resumable
        await rig.recorder.wait_for(IntegrationStatus, lambda e: e.state == "reconnecting")
        message_id = await fake.post_message(fake.text_channel_id, "did you miss me?")

    await fake.wait_until(lambda: fake.sent_messages)
    assert fake.sent_messages[0].reference_id == message_id
    assert fake.identifies == 1  # resumed, not a new session
    [resume] = fake.resumes
    assert resume["session_id"] == session.session_id
    assert fake.connections[-1].path == "/gateway-resume"  # used READY's resume_gateway_url
    states = [e.state for e in rig.recorder.of(IntegrationStatus)]
    assert states[-2:] == ["reconnecting", "connected"]


async def test_a_session_that_cannot_resume_identifies_again(rig: Rig) -> None:
    fake = rig.fake
    await rig.bot.start()
    await rig.connected()
    fake.sessions.clear()  # Discord forgot the session: RESUME gets INVALID_SESSION

    await fake.drop_gateway(4000)
    def states() -> list[str]:
        return [e.state for e in rig.recorder.of(IntegrationStatus)]

    await fake.wait_until(lambda: fake.identifies == 2, timeout=40)  # discord.py waits ~5 s
    await fake.wait_until(lambda: states().count("connected") == 2, timeout=30)
    assert states()[-2:] == ["reconnecting", "connected"]
    assert len(fake.resumes) == 1
    message_id = await fake.post_message(fake.text_channel_id, "still there?")
    await fake.wait_until(lambda: fake.sent_messages)
    assert fake.sent_messages[0].reference_id == message_id


async def test_a_wrong_voice_channel_is_reported_and_text_keeps_working(rig: Rig) -> None:
    fake = rig.fake
    rig.settings.voice_channel_id = fake.other_channel_id  # a text channel, not a voice one
    rig.settings.voice_output = "both"
    await rig.bot.start()
    await rig.connected()

    error = await rig.recorder.wait_for(StageError, lambda e: e.component == "discord")
    assert "voice channel" in error.message and "was not found" in error.message
    assert not rig.bot.voice_sink.attached
    await fake.post_message(fake.text_channel_id, "hello")
    await fake.wait_until(lambda: fake.sent_messages)
    assert rig.bot.state == "connected"


async def test_missing_message_content_intent_gives_the_clear_error(rig: Rig) -> None:
    rig.fake.message_content_enabled = False  # the Developer Portal switch is off
    await rig.bot.start()

    status = await rig.failed()
    assert "Message Content intent" in status.detail
    assert "Developer Portal" in status.detail
    assert "MESSAGE CONTENT INTENT" in status.detail
    assert rig.fake.gateway_closes == [4014]
    await asyncio.sleep(0.3)
    assert not rig.bot.running  # retrying cannot help until the streamer flips the switch
    assert rig.fake.identifies == 1


async def test_invalid_token_gives_the_clear_error(rig: Rig) -> None:
    rig.secrets.set(TOKEN_KEY, "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GxYzAb.not-the-right-token-at-all_12345")
    await rig.bot.start()

    status = await rig.failed()
    assert "did not accept the bot token" in status.detail
    assert "Reset Token" in status.detail
    assert "not-the-right-token" not in status.detail


async def test_gateway_close_4004_is_reported_as_a_bad_token(rig: Rig) -> None:
    rig.fake.close_on_identify = 4004
    await rig.bot.start()

    status = await rig.failed()
    assert "token is not valid" in status.detail and "4004" in status.detail
    assert FAKE_TOKEN not in status.detail


async def test_missing_token_says_where_to_paste_it(rig: Rig) -> None:
    rig.bot.clear_token()
    assert not rig.bot.has_token
    await rig.bot.start()
    status = await rig.failed()
    assert "No Discord bot token" in status.detail


async def test_unreachable_discord_is_retried_with_a_readable_reason(rig: Rig) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    rig.settings.api_base = f"http://127.0.0.1:{closed_port}/api/v10"
    await rig.bot.start()

    status = await rig.recorder.wait_for(IntegrationStatus, lambda e: e.state == "reconnecting")
    assert "Discord could not be reached" in status.detail and "retrying in" in status.detail
    rig.settings.api_base = rig.fake.api_base  # the network is back
    await rig.connected()


async def test_rest_429_is_honoured(rig: Rig) -> None:
    fake = rig.fake
    retry_after = 0.6
    fake.rate_limit("POST", r"/channels/\d+/messages", retry_after=retry_after)
    await rig.bot.start()
    await rig.connected()

    await fake.post_message(fake.text_channel_id, "hi")

    await fake.wait_until(lambda: fake.sent_messages)
    [limited] = fake.rate_limited
    assert limited.path == f"/channels/{fake.text_channel_id}/messages"
    retried = [r for r in fake.requests if r.path == limited.path and r.status == 200]
    assert len(retried) == 1 and len(fake.sent_messages) == 1  # retried once, not duplicated
    assert retried[0].t - limited.t >= retry_after * 0.9  # it waited as told


async def test_token_stays_out_of_logs_and_status(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="voxelle")
    caplog.set_level(logging.INFO, logger="discord")
    rig.fake.message_content_enabled = False
    await rig.bot.start()
    await rig.failed()
    texts = [caplog.text] + [e.detail for e in rig.recorder.of(IntegrationStatus)]
    texts += [e.message for e in rig.recorder.of(StageError)]
    assert all(FAKE_TOKEN not in t for t in texts)


# --- pure parts ---------------------------------------------------------------------------


def test_split_keeps_short_text_whole_and_cuts_long_text_between_sentences() -> None:
    assert split_for_discord("  Hello there.  ") == ["Hello there."]
    assert split_for_discord("") == []
    text = "First part. " * 300
    parts = split_for_discord(text, limit=100)
    assert all(len(p) <= 100 and p.endswith(".") for p in parts)
    assert " ".join(parts) == text.strip()


def test_split_falls_back_to_words_then_characters() -> None:
    words = "word " * 100  # one sentence of 500 characters
    parts = split_for_discord(words + "End.", limit=60)
    assert all(len(p) <= 60 for p in parts)
    assert all(not p.startswith("ord") for p in parts)  # never inside a word
    assert " ".join(parts).split() == (words + "End.").split()
    blob = "x" * 250
    assert split_for_discord(blob, limit=100) == ["x" * 100, "x" * 100, "x" * 50]


def test_split_treats_line_breaks_as_boundaries() -> None:
    text = "\n".join(f"- item {i}" for i in range(40))
    parts = split_for_discord(text, limit=50)
    assert all(len(p) <= 50 for p in parts)
    assert all(p.startswith("- item") for p in parts)


def test_answer_text_posts_what_was_said_and_never_blocked_sentences() -> None:
    said = ReplyFinished(turn_id=1, spoken_text="Hi there.", full_text="Hi there. More.", interrupted=True)
    assert answer_text(said, []) == "Hi there."
    cut = ReplyFinished(turn_id=2, spoken_text="", full_text="Nope.", interrupted=True)
    assert answer_text(cut, []) == ""
    silent = ReplyFinished(turn_id=3, spoken_text="", full_text="Good. Bad words here. Fine.",
                           interrupted=False)
    assert answer_text(silent, ["Bad words here."]) == "Good. Fine."


def test_set_token_checks_the_shape_and_never_echoes_it(tmp_path: Path) -> None:
    bus = EventBus()
    secrets = SecretStore(tmp_path / "s.json", Redactor(), use_keyring=False)
    bot = DiscordBot(DiscordSettings(), bus, secrets, ScriptedCoHost(bus))
    assert not bot.has_token
    with pytest.raises(ValidationError) as err:
        bot.set_token("hunter2-not-a-token")
    assert "hunter2" not in str(err.value)
    bot.set_token(f"Bot {FAKE_TOKEN}\n")
    assert bot.has_token and secrets.get(TOKEN_KEY) == FAKE_TOKEN
    bot.clear_token()
    assert not bot.has_token
