"""VTube Studio client and integration against a fake VTS server that follows the public spec."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.conftest import Recorder
from tests.integrations.fake_vts import FakeModel, FakeVTS
from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import APIError, AuthenticationError, IntegrationError
from voxelle_app.core.events import IntegrationStatus, MoodChanged, ReplyFinished, StageError
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import VTubeStudioSettings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.vtube_studio import (
    PLUGIN_DEVELOPER,
    PLUGIN_NAME,
    TOKEN_KEY,
    VTSAuthError,
    VTSConnection,
    VTSRequestError,
    VTubeStudio,
)

MakeFake = Callable[..., Awaitable[FakeVTS]]
MakeVTS = Callable[..., VTubeStudio]


async def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Wait for a condition; generous, because the machine may be busy. Not a speed test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)


@pytest.fixture
async def make_fake() -> AsyncIterator[MakeFake]:
    fakes: list[FakeVTS] = []

    async def make(**kwargs: Any) -> FakeVTS:
        fake = FakeVTS(**kwargs)
        await fake.start()
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        await fake.stop()


@pytest.fixture
async def make_vts(bus: EventBus, secrets: SecretStore) -> AsyncIterator[MakeVTS]:
    made: list[VTubeStudio] = []

    def make(url: str, **settings: Any) -> VTubeStudio:
        vts = VTubeStudio(
            VTubeStudioSettings(enabled=True, url=url, **settings), bus, secrets,
            backoff=Backoff(initial=0.05, maximum=0.3),
        )
        made.append(vts)
        return vts

    yield make
    for vts in made:
        await vts.stop()


async def connected(vts: VTubeStudio) -> None:
    await until(lambda: vts.state == "connected", what=f"connected (now {vts.state}: {vts.detail})")


class RawClient:
    """A bare WebSocket client for checking what the fake server answers to raw frames."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> RawClient:
        self.ws = await connect(self.url, proxy=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def ask(self, frame: dict[str, Any] | str) -> dict[str, Any]:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        return reply


def envelope(message_type: str, request_id: str = "r1", **data: Any) -> dict[str, Any]:
    return {"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0", "requestID": request_id,
            "messageType": message_type, "data": data}


async def open_connection(
    url: str, events: list[tuple[str, dict[str, Any]]] | None = None
) -> tuple[VTSConnection, asyncio.Task[None]]:
    ws = await connect(url, proxy=None)
    sink = events if events is not None else []
    conn = VTSConnection(ws, lambda kind, data: sink.append((kind, data)))
    return conn, asyncio.create_task(conn.run())


async def authenticate(conn: VTSConnection) -> str:
    token = (await conn.request("AuthenticationTokenRequest",
                                {"pluginName": PLUGIN_NAME, "pluginDeveloper": PLUGIN_DEVELOPER}))
    reply = await conn.request("AuthenticationRequest", {
        "pluginName": PLUGIN_NAME, "pluginDeveloper": PLUGIN_DEVELOPER,
        "authenticationToken": token["authenticationToken"]})
    assert reply["authenticated"] is True
    return str(token["authenticationToken"])


async def close_connection(conn: VTSConnection, task: asyncio.Task[None]) -> None:
    await conn.close()
    await asyncio.wait_for(task, 10)


# --- the envelope and error IDs (spec: README "API Details", Files/ErrorID.cs) --------------


@pytest.mark.parametrize(
    ("frame", "error_id"),
    [
        ("{not json", 2),
        ({**envelope("APIStateRequest"), "apiName": "SomethingElse"}, 3),
        ({**envelope("APIStateRequest"), "apiVersion": "2.0"}, 4),
        (envelope("APIStateRequest", request_id="x" * 65), 5),
        (envelope("APIStateRequest", request_id="ünïcode"), 5),
        ({**envelope("APIStateRequest"), "messageType": ""}, 6),
        (envelope("NoSuchRequest"), 7),
        (envelope("CurrentModelRequest"), 8),
        (envelope("InjectParameterDataRequest"), 8),
    ],
)
async def test_fake_validates_the_envelope_with_the_specs_error_ids(
    make_fake: MakeFake, frame: dict[str, Any] | str, error_id: int
) -> None:
    fake = await make_fake()
    async with RawClient(fake.url) as client:
        reply = await client.ask(frame)
    assert reply["messageType"] == "APIError"
    assert reply["data"]["errorID"] == error_id
    assert reply["apiName"] == "VTubeStudioPublicAPI" and isinstance(reply["timestamp"], int)
    if isinstance(frame, dict) and error_id not in (5,):
        assert reply["requestID"] == frame["requestID"]  # replies echo the requestID


async def test_fake_answers_the_state_request_and_invents_a_missing_request_id(
    make_fake: MakeFake,
) -> None:
    fake = await make_fake()
    frame = envelope("APIStateRequest")
    del frame["requestID"]
    async with RawClient(fake.url) as client:
        reply = await client.ask(frame)
    assert reply["messageType"] == "APIStateResponse"
    assert reply["data"]["currentSessionAuthenticated"] is False
    assert len(reply["requestID"]) >= 1


async def test_client_sends_valid_unique_request_ids_and_raises_typed_errors(
    make_fake: MakeFake,
) -> None:
    fake = await make_fake()
    conn, task = await open_connection(fake.url)
    try:
        state = await conn.request("APIStateRequest")
        assert state["active"] is True
        with pytest.raises(VTSAuthError) as before_auth:
            await conn.request("CurrentModelRequest")
        assert before_auth.value.error_id == 8
        assert isinstance(before_auth.value, AuthenticationError)  # the app's hierarchy
        await authenticate(conn)
        model = await conn.request("CurrentModelRequest")
        assert model["modelName"] == "Hiyori"
        with pytest.raises(VTSRequestError) as unknown:
            await conn.request("HotkeyTriggerRequest", {"hotkeyID": "nope"})
        assert unknown.value.error_id == 202
        assert not isinstance(unknown.value, AuthenticationError)
        assert isinstance(unknown.value, APIError)
        assert "202" in unknown.value.user_message()
    finally:
        await close_connection(conn, task)
    ids = [r.request_id for r in fake.received]
    assert len(ids) == len(set(ids)) == 5
    assert all(1 <= len(i) <= 64 and i.isascii() for i in ids)


async def test_pending_requests_fail_instead_of_hanging_when_the_socket_closes(
    make_fake: MakeFake,
) -> None:
    fake = await make_fake(delays={"APIStateRequest": 30.0})
    conn, task = await open_connection(fake.url)
    waiting = asyncio.create_task(conn.request("APIStateRequest"))
    await until(lambda: bool(fake.received))
    await fake.drop()
    with pytest.raises(IntegrationError, match="disconnected"):
        await asyncio.wait_for(waiting, 10)
    await asyncio.wait_for(task, 10)
    assert conn.is_closed


# --- events between replies, concurrent requests ----------------------------------------


async def test_event_frames_between_replies_and_concurrent_requests_are_not_crossed(
    make_fake: MakeFake,
) -> None:
    # Every reply is preceded by a TestEvent carrying the *same* requestID (what pyvts would
    # take for the reply), and the hotkey list is held back so later replies overtake it.
    fake = await make_fake(event_before_reply=True, event_request_id="echo",
                           delays={"HotkeysInCurrentModelRequest": 0.3})
    events: list[tuple[str, dict[str, Any]]] = []
    conn, task = await open_connection(fake.url, events)
    try:
        await authenticate(conn)
        subscribed = await conn.request(
            "EventSubscriptionRequest", {"eventName": "TestEvent", "subscribe": True, "config": {}})
        assert subscribed["subscribedEvents"] == ["TestEvent"]
        hotkeys, model, expressions, state = await asyncio.gather(
            conn.request("HotkeysInCurrentModelRequest"),
            conn.request("CurrentModelRequest"),
            conn.request("ExpressionStateRequest", {"details": False}),
            conn.request("APIStateRequest"),
        )
    finally:
        await close_connection(conn, task)
    assert [h["hotkeyID"] for h in hotkeys["availableHotkeys"]] == ["hk-smile", "hk-sad", "hk-wave"]
    assert model["modelName"] == "Hiyori" and "availableHotkeys" not in model
    assert {e["file"] for e in expressions["expressions"]} >= {"smile.exp3.json"}
    assert state["currentSessionAuthenticated"] is True
    assert len(events) >= 4 and all(kind == "TestEvent" for kind, _ in events)
    replies = [f["messageType"] for f in fake.sent if f["messageType"].endswith("Response")]
    assert replies[-1] == "HotkeysInCurrentModelResponse"  # it really came last


async def test_unsubscribing_and_unknown_events(make_fake: MakeFake) -> None:
    fake = await make_fake()
    conn, task = await open_connection(fake.url)
    try:
        await authenticate(conn)
        with pytest.raises(VTSRequestError) as unknown:
            await conn.request("EventSubscriptionRequest", {"eventName": "NoSuchEvent", "subscribe": True})
        assert unknown.value.error_id == 950
        await conn.request("EventSubscriptionRequest", {"eventName": "ModelLoadedEvent", "subscribe": True})
        reply = await conn.request("EventSubscriptionRequest", {"subscribe": False})
        assert reply["subscribedEventCount"] == 0
    finally:
        await close_connection(conn, task)


# --- parameter injection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error_id"),
    [
        ({"parameterValues": []}, 450),
        ({}, 450),
        ({"parameterValues": [{"id": "MouthOpen", "value": "wide"}]}, 451),
        ({"parameterValues": [{"id": "MouthOpen", "value": 2_000_000}]}, 451),
        ({"parameterValues": [{"id": "MouthOpen", "value": True}]}, 451),
        ({"parameterValues": [{"id": "MouthOpen", "value": 0.5, "weight": 1.5}]}, 452),
        ({"parameterValues": [{"id": "NoSuchParameter", "value": 0.5}]}, 453),
        ({"mode": "mix", "parameterValues": [{"id": "MouthOpen", "value": 0.5}]}, 455),
    ],
)
async def test_parameter_injection_errors(
    make_fake: MakeFake, data: dict[str, Any], error_id: int
) -> None:
    fake = await make_fake()
    conn, task = await open_connection(fake.url)
    try:
        await authenticate(conn)
        with pytest.raises(VTSRequestError) as refused:
            await conn.request("InjectParameterDataRequest", data)
        assert refused.value.error_id == error_id
        assert refused.value.request == "InjectParameterDataRequest"
    finally:
        await close_connection(conn, task)
    assert fake.injections == []  # nothing half-applied


async def test_parameter_injection_is_recorded_and_one_plugin_owns_a_parameter(
    make_fake: MakeFake,
) -> None:
    fake = await make_fake()
    first, first_task = await open_connection(fake.url)
    second, second_task = await open_connection(fake.url)
    try:
        await authenticate(first)
        await authenticate(second)
        await first.request("InjectParameterDataRequest", {
            "mode": "set", "parameterValues": [{"id": "MouthOpen", "value": 0.7},
                                               {"id": "MouthSmile", "value": 0.2, "weight": 0.5}]})
        with pytest.raises(VTSRequestError) as taken:
            await second.request("InjectParameterDataRequest",
                                 {"parameterValues": [{"id": "MouthOpen", "value": 0.1}]})
        assert taken.value.error_id == 454
        await second.request("InjectParameterDataRequest", {
            "mode": "add", "parameterValues": [{"id": "MouthOpen", "value": 0.1}]})
    finally:
        await close_connection(first, first_task)
        await close_connection(second, second_task)
    assert [(i.parameter, i.value, i.mode) for i in fake.injections] == [
        ("MouthOpen", 0.7, "set"), ("MouthSmile", 0.2, "set"), ("MouthOpen", 0.1, "add")]
    assert fake.injections[1].weight == 0.5


async def test_an_unknown_mouth_parameter_pauses_lip_sync_with_a_clear_message(
    make_fake: MakeFake, make_vts: MakeVTS, recorder: Recorder
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url, mouth_parameter="MouthOpenTypo")
    await vts.start()
    error = await recorder.wait_for(StageError, lambda e: e.component == "vtube_studio", timeout=15)
    assert "MouthOpenTypo" in error.message and "453" in error.message
    assert vts.state == "connected" and "Lip sync paused" in vts.detail
    assert fake.injections == []
    # The streamer fixes the name: lip sync resumes on the next retry, no reconnect needed.
    vts.settings.mouth_parameter = "MouthOpen"
    await until(lambda: bool(fake.values("MouthOpen")), what="injection after the fix")
    await until(lambda: "Lip sync paused" not in vts.detail)
    assert fake.connections == 1


# --- authentication -----------------------------------------------------------------------


async def test_first_connection_asks_for_a_token_keeps_it_and_reuses_it(
    make_fake: MakeFake, make_vts: MakeVTS, secrets: SecretStore, recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = await make_fake(token_delay=0.2)  # the streamer reads the popup, then clicks Allow
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    token = secrets.get(TOKEN_KEY)
    assert token and token in fake.tokens
    assert fake.token_requests == 1
    states = [(e.state, e.detail) for e in recorder.of(IntegrationStatus)]
    assert any(s == "authenticating" and "click Allow" in d for s, d in states)
    assert [s for s, _ in states][-1] == "connected"
    assert vts.model_name == "Hiyori" and "Hiyori" in vts.detail

    await vts.stop()
    await vts.start()
    await connected(vts)
    assert fake.token_requests == 1  # the stored token was enough
    auths = fake.of_type("AuthenticationRequest")
    assert len(auths) == 2 and auths[-1].data["authenticationToken"] == token
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("fake_vts"))
    assert token not in ours  # never logged


async def test_denied_token_request_stops_with_a_clear_message_until_the_user_retries(
    make_fake: MakeFake, make_vts: MakeVTS, secrets: SecretStore
) -> None:
    fake = await make_fake(allow_token=False)
    vts = make_vts(fake.url)
    await vts.start()
    await until(lambda: vts.state == "failed", what="failed")
    assert "denied" in vts.detail and "Allow" in vts.detail
    await asyncio.sleep(0.5)  # several backoff periods: it must not ask again by itself
    assert fake.token_requests == 1 and not vts.running
    assert secrets.get(TOKEN_KEY) is None

    fake.allow_token = True  # the streamer retries and clicks Allow this time
    await vts.stop()
    await vts.start()
    await connected(vts)
    assert fake.token_requests == 2 and secrets.get(TOKEN_KEY) in fake.tokens


async def test_revoked_token_is_replaced_by_a_new_one(
    make_fake: MakeFake, make_vts: MakeVTS, secrets: SecretStore
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    old = secrets.get(TOKEN_KEY)
    await vts.stop()
    fake.revoke(old)
    await vts.start()
    await connected(vts)
    new = secrets.get(TOKEN_KEY)
    assert new and new != old and fake.token_requests == 2
    refused = fake.of_type("AuthenticationRequest")[1]
    assert refused.data["authenticationToken"] == old


async def test_access_revoked_during_a_session_signs_in_again(
    make_fake: MakeFake, make_vts: MakeVTS, secrets: SecretStore
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    old = secrets.get(TOKEN_KEY)
    fake.revoke(old)  # the next keep-alive injection gets error 50
    await until(lambda: fake.token_requests == 2 and vts.state == "connected", what="re-sign-in")
    assert secrets.get(TOKEN_KEY) not in (None, old)


# --- connection problems -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_vts_not_running_gives_a_clear_status_and_keeps_retrying(
    make_vts: MakeVTS, recorder: Recorder
) -> None:
    vts = make_vts(f"ws://127.0.0.1:{free_port()}")
    await vts.start()
    status = await recorder.wait_for(IntegrationStatus, lambda e: e.state == "reconnecting")
    assert "not reachable" in status.detail and "Start VTube Studio" in status.detail
    await until(lambda: len(recorder.of(IntegrationStatus)) >= 5, what="several retries")
    assert vts.running
    await vts.stop()
    assert vts.state == "stopped"
    with pytest.raises(IntegrationError, match="not connected"):
        await vts.list_hotkeys()


async def test_an_address_that_is_not_a_websocket_url_fails_without_retrying(
    make_vts: MakeVTS,
) -> None:
    vts = make_vts("localhost:8001")
    await vts.start()
    await until(lambda: vts.state == "failed")
    assert "not a WebSocket address" in vts.detail


async def test_vts_restarting_on_the_same_port_reconnects(
    make_fake: MakeFake, make_vts: MakeVTS
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    await fake.stop()
    await until(lambda: vts.state == "reconnecting")
    await fake.start()
    await connected(vts)
    assert fake.token_requests == 1 and fake.connections == 2


# --- avatar control: hotkeys, expressions, model, moods -------------------------------


async def test_hotkeys_and_expressions(make_fake: MakeFake, make_vts: MakeVTS) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    hotkeys = await vts.list_hotkeys()
    assert [(h.id, h.name, h.kind) for h in hotkeys] == [
        ("hk-smile", "Smile", "ToggleExpression"), ("hk-sad", "Sad face", "ToggleExpression"),
        ("hk-wave", "Wave", "TriggerAnimation")]
    await vts.trigger_hotkey("hk-wave")
    assert fake.triggered == ["hk-wave"]
    with pytest.raises(VTSRequestError) as missing:
        await vts.trigger_hotkey("hk-gone")
    assert missing.value.error_id == 202 and "refresh" in missing.value.user_message()

    expressions = await vts.list_expressions()
    assert {e.file: e.active for e in expressions} == {
        "smile.exp3.json": False, "sad.exp3.json": False, "angry.exp3.json": False}
    assert {e.name for e in expressions} == {"smile", "sad", "angry"}
    await vts.set_expression("sad.exp3.json", True)
    assert {e.file: e.active for e in await vts.list_expressions()}["sad.exp3.json"] is True
    with pytest.raises(VTSRequestError) as bad_name:
        await vts.set_expression("sad.png", True)
    assert bad_name.value.error_id == 650
    with pytest.raises(VTSRequestError) as not_found:
        await vts.set_expression("happy.exp3.json", True)
    assert not_found.value.error_id == 651
    assert vts.state == "connected"  # refused requests do not end the session


async def test_model_loaded_event_updates_the_model_name(
    make_fake: MakeFake, make_vts: MakeVTS, recorder: Recorder
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url)
    await vts.start()
    await connected(vts)
    await fake.load_model(FakeModel(name="Mao"))
    await until(lambda: vts.model_name == "Mao")
    await recorder.wait_for(IntegrationStatus, lambda e: e.detail == "Model: Mao")
    await fake.load_model(None)
    await until(lambda: vts.model_name == "")
    assert vts.detail == "No model loaded"


async def test_moods_trigger_their_hotkey_or_expression_once(
    make_fake: MakeFake, make_vts: MakeVTS, bus: EventBus
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url, mood_hotkeys={"happy": "hk-smile", "sad": "sad.exp3.json"})
    bus.publish(MoodChanged(mood="happy"))  # not started: nothing to do, nothing breaks
    await vts.start()
    await connected(vts)
    assert fake.model is not None
    expressions = fake.model.expressions

    bus.publish(MoodChanged(mood="Happy"))
    await until(lambda: fake.triggered == ["hk-smile"])
    assert vts.last_mood == "happy"
    # The reply ends with the same mood: triggering a toggle hotkey again would undo it.
    bus.publish(ReplyFinished(turn_id=1, spoken_text="hi", full_text="hi", interrupted=False,
                              mood="happy"))
    bus.publish(MoodChanged(mood="sad"))
    await until(lambda: expressions["sad.exp3.json"])
    bus.publish(MoodChanged(mood="neutral"))  # unmapped: the sad expression goes away
    await until(lambda: not expressions["sad.exp3.json"])
    assert vts.last_mood == "neutral"
    bus.publish(ReplyFinished(turn_id=2, spoken_text="yay", full_text="yay", interrupted=False,
                              mood="happy"))
    await until(lambda: fake.triggered == ["hk-smile", "hk-smile"])


async def test_a_mood_mapped_to_a_missing_hotkey_is_reported_not_fatal(
    make_fake: MakeFake, make_vts: MakeVTS, bus: EventBus, recorder: Recorder
) -> None:
    fake = await make_fake()
    vts = make_vts(fake.url, mood_hotkeys={"angry": "hk-deleted"})
    await vts.start()
    await connected(vts)
    bus.publish(MoodChanged(mood="angry"))
    error = await recorder.wait_for(StageError, lambda e: "angry" in e.message)
    assert "202" in error.message
    assert vts.state == "connected"
