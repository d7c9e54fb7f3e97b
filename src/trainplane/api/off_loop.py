"""Where a request's blocking work runs: never on the event loop.

Every store, filesystem or credential lookup of a request runs in one of two small thread pools, so a
slow call (a NameContains scan of many jobs) delays only its own answer. Reads and writes get separate
pools: however many slow reads are in flight, a StopTrainingJob finds a free thread at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

READ_THREADS = 8  # SQLite releases the GIL while it steps: slow scans overlap, fast reads pass them
WRITE_THREADS = 4  # SQLite takes one writer at a time; more threads would only queue on its lock


@dataclass
class Workers:
    reads: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(READ_THREADS, thread_name_prefix="api-read")
    )
    writes: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="api-write")
    )

    async def run(self, is_read_only: bool, call: Callable[[], T]) -> T:
        """`call()` in the read or write pool; the loop serves other requests meanwhile."""
        pool = self.reads if is_read_only else self.writes
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    def close(self) -> None:
        self.reads.shutdown(wait=False, cancel_futures=True)
        self.writes.shutdown(wait=False, cancel_futures=True)
