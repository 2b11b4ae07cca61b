from __future__ import annotations

import asyncio
import threading

from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import Event, InputLevel, LogLine, StageError


async def test_typed_subscription_and_base_class_subscription() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    levels: list[InputLevel] = []
    everything: list[Event] = []
    bus.subscribe(InputLevel, levels.append)
    unsubscribe = bus.subscribe(Event, everything.append)
    bus.publish(InputLevel(rms=0.1, peak=0.2))
    bus.publish(LogLine(category="OPERATION", level="INFO", message="hi"))
    assert [type(e) for e in everything] == [InputLevel, LogLine]
    assert len(levels) == 1 and levels[0].rms == 0.1
    unsubscribe()
    bus.publish(InputLevel(rms=0.3, peak=0.3))
    assert len(everything) == 2 and len(levels) == 2


async def test_publish_from_a_thread_runs_handlers_on_the_loop_thread() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    seen: list[tuple[float, int]] = []
    done = asyncio.Event()

    def handler(e: InputLevel) -> None:
        seen.append((e.rms, threading.get_ident()))
        if len(seen) == 100:
            done.set()

    bus.subscribe(InputLevel, handler)
    workers = [
        threading.Thread(
            target=lambda k=k: [bus.publish(InputLevel(rms=k * 50 + i, peak=0)) for i in range(50)]
        )
        for k in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    await asyncio.wait_for(done.wait(), 5)
    assert {tid for _, tid in seen} == {threading.get_ident()}
    assert sorted(r for r, _ in seen) == list(range(100))


async def test_a_failing_handler_does_not_stop_others() -> None:
    bus = EventBus()
    got: list[StageError] = []

    def bad(e: StageError) -> None:
        raise RuntimeError("observer bug")

    bus.subscribe(StageError, bad)
    bus.subscribe(StageError, got.append)
    bus.publish(StageError(component="x", message="y"))
    assert len(got) == 1


async def test_stream_yields_events_in_order() -> None:
    bus = EventBus()
    bus.attach(asyncio.get_running_loop())

    async def first_three() -> list[float]:
        out = []
        async for e in bus.stream(InputLevel):
            out.append(e.rms)
            if len(out) == 3:
                break
        return out

    task = asyncio.create_task(first_three())
    await asyncio.sleep(0)
    for i in range(3):
        bus.publish(InputLevel(rms=float(i), peak=0))
    assert await asyncio.wait_for(task, 2) == [0.0, 1.0, 2.0]


def test_event_to_dict_is_json_friendly() -> None:
    d = StageError(component="stt", message="failed").to_dict()
    assert d["type"] == "StageError" and d["component"] == "stt" and "t" in d


def test_events_published_by_handlers_keep_publish_order_for_everyone() -> None:
    bus = EventBus()
    seen: list[str] = []

    def first(e: StageError) -> None:
        if e.message == "a":
            bus.publish(StageError(component="x", message="b"))  # published while "a" dispatches

    bus.subscribe(StageError, first)
    bus.subscribe(StageError, lambda e: seen.append(e.message))
    bus.publish(StageError(component="x", message="a"))
    assert seen == ["a", "b"]
