"""The worker pools a request's blocking work runs in (api.off_loop)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from trainplane.api import off_loop
from trainplane.api.off_loop import Workers


def test_a_write_runs_while_every_read_thread_is_busy() -> None:
    workers = Workers()
    release = threading.Event()

    async def scenario() -> str:
        reads = [
            asyncio.ensure_future(workers.run(True, lambda: release.wait(30)))
            for _ in range(off_loop.READ_THREADS + 2)  # every read thread taken, two more queued
        ]
        try:
            return (await asyncio.wait_for(workers.run(False, threading.current_thread), 10)).name
        finally:
            release.set()
            assert all(await asyncio.gather(*reads))

    try:
        assert asyncio.run(scenario()).startswith("api-write")
    finally:
        workers.close()


def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    workers = Workers()

    def fail() -> None:
        raise LookupError("from the worker")

    try:
        with pytest.raises(LookupError, match="from the worker"):
            asyncio.run(workers.run(True, fail))
    finally:
        workers.close()


def test_sequential_calls_reuse_one_thread() -> None:
    workers = Workers()

    async def names() -> set[str]:
        return {(await workers.run(True, threading.current_thread)).name for _ in range(50)}

    try:
        assert len(asyncio.run(names())) == 1
    finally:
        workers.close()
