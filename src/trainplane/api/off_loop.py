"""Where a request's blocking work runs: never on the event loop.

Every store, filesystem or credential lookup of a request runs in one of two small pools of worker
threads, so a slow call (a NameContains scan of many jobs) delays only its own answer. Reads and writes
get separate pools: however many slow reads are in flight, a StopTrainingJob finds a free thread.

A pool is a queue and a few threads that wait on it. The hop is on every request's path, so it is
kept to one queue put, one `call_soon_threadsafe` and one asyncio future: concurrent.futures'
executor adds a second future, a lock and the chaining between the two.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from trainplane.api.asgi import Receive, Scope, Send, read_body, request_headers, respond
from trainplane.api.auth.port import RequestFacts

T = TypeVar("T")

READ_THREADS = 8  # SQLite releases the GIL while it steps: slow scans overlap, fast reads pass them
WRITE_THREADS = 4  # SQLite takes one writer at a time; more threads would only queue on its lock

Answer = tuple[int, Mapping[str, str], bytes]  # an endpoint's status, headers and body
_Task = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"] | None


class Pool:
    """Threads start on demand, up to `threads`: sequential requests keep reusing one (cache-warm)."""

    def __init__(self, threads: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        # One token per idle thread; deque's append and pop are atomic (no lock on the request path).
        self._idle: collections.deque[None] = collections.deque()
        self._max_threads = threads
        self._name = name
        self._threads: list[threading.Thread] = []

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` on one of the pool's threads; the loop serves other requests meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        try:
            self._idle.pop()
        except IndexError:
            if len(self._threads) < self._max_threads:
                self._start_thread()
        self._tasks.put((call, loop, future))
        return await future

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Let every thread finish its task in hand and exit."""
        for _ in self._threads:
            self._tasks.put(None)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            call, loop, future = task
            result, error = None, None
            try:
                result = call()
            except BaseException as exc:  # handed to the awaiting coroutine, which re-raises it
                error = exc
            self._idle.append(None)  # before the answer: the caller's next task must find this thread idle
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                pass  # the loop closed meanwhile (server shutdown): nobody awaits the answer


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return  # the client went away; the work was done regardless
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Workers:
    """The read pool and the write pool of one app."""

    def __init__(self) -> None:
        self.reads = Pool(READ_THREADS, "api-read")
        self.writes = Pool(WRITE_THREADS, "api-write")

    async def run(self, is_read_only: bool, call: Callable[[], T]) -> T:
        return await (self.reads if is_read_only else self.writes).run(call)

    def close(self) -> None:
        self.reads.close()
        self.writes.close()


class ReadingEndpoint:
    """An ASGI app whose whole answer is one blocking read (a key store, the job store, log files):
    the body is read on the loop, `answer` runs on the read pool."""

    def __init__(self, workers: Workers) -> None:
        self._workers = workers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        request = RequestFacts.from_scope(scope, request_headers(scope), body)
        status, headers, content = await self._workers.run(True, lambda: self.answer(request))
        await respond(send, status, headers, content)

    def answer(self, request: RequestFacts) -> Answer:
        """Status, headers and body for `request`; blocking: the pool runs it."""
        raise NotImplementedError
