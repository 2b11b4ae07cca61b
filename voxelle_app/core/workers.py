"""One dedicated worker thread per model, with results handed back to the loop.

Blocking work (inference, loading, lazy generators such as faster-whisper's ``segments``,
llama-cpp's token stream, piper's chunk stream) runs in the worker; the loop only awaits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


class ModelWorker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"voxelle-{name}")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def stream(self, make_iter: Callable[[], Iterable[T]]) -> AsyncIterator[T]:
        """Iterate ``make_iter()`` in the worker, yielding items on the loop as they come.

        Closing or cancelling the consumer sets a flag the worker checks between items, so
        a cancelled generation stops after the item in progress.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # loop closed
                cancelled.set()

        def produce() -> None:
            try:
                iterator = iter(make_iter())
                try:
                    for item in iterator:
                        if cancelled.is_set():
                            break
                        put(item)
                finally:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
            except BaseException as exc:
                put(_Failure(exc))
            finally:
                put(_DONE)

        future = loop.run_in_executor(self._executor, produce)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            cancelled.set()
            if not future.done():
                # Do not wait for the worker here: a cancelled consumer returns at once and
                # the worker stops at its next item.
                future.add_done_callback(lambda f: f.exception())

    def shutdown(self, wait: bool = False) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
