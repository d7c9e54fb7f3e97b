"""Issue 10: the queue's policy (priority, then fair between tenants, then FIFO; no starvation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trainplane.service.capacity import Demand, HostCapacity, Ledger, ResourceSettings
from trainplane.service.queue import Entry, Queue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SMALL = Demand(1.0, 1024, 0)
BIG = Demand(4.0, 1024, 0)
GPU = Demand(1.0, 1024, 1)


def _queue(cpus: float = 4.0, gpus: tuple[str, ...] = (), reserve_after_seconds: float = 60) -> Queue:
    host = HostCapacity(cpus, 64 * 1024, gpus, "declared" if gpus else "none")
    settings = ResourceSettings(host, is_queue_enabled=True, reserve_after_seconds=reserve_after_seconds)
    return Queue(settings, Ledger(host))


def _entry(job_id: str, second: int, tenant: str = "a", priority: int = 0, demand: Demand = SMALL) -> Entry:
    return Entry(T0 + timedelta(seconds=second), job_id, tenant, priority, demand)


def test_first_come_first_served_within_a_tenant() -> None:
    queue = _queue(cpus=2)
    for index in (3, 1, 2):
        queue.add(_entry(f"j{index}", index))
    assert queue.grant(T0) == ["j1", "j2"]
    assert queue.ids() == ["j3"]


def test_higher_priority_starts_first_whenever_it_came() -> None:
    queue = _queue(cpus=1)
    queue.add(_entry("early-low", 1))
    queue.add(_entry("late-high", 2, priority=5))
    assert queue.grant(T0) == ["late-high"]


def test_fair_between_tenants_the_one_holding_less_goes_first() -> None:
    queue = _queue(cpus=2)
    for index in range(3):
        queue.add(_entry(f"a{index}", index, tenant="a"))
    queue.add(_entry("b0", 10, tenant="b"))
    assert queue.grant(T0) == ["a0", "b0"]  # b's later job before a's second: a already holds one


def test_one_slot_alternates_between_tenants() -> None:
    queue = _queue(cpus=1)
    for index in range(3):
        queue.add(_entry(f"a{index}", index, tenant="a"))
    queue.add(_entry("b0", 10, tenant="b"))
    order = []
    for _ in range(4):
        (started,) = queue.grant(T0)
        order.append(started)
        queue._ledger.release(started)
    assert order == ["a0", "b0", "a1", "a2"]


def test_small_jobs_use_what_a_big_waiting_job_cannot() -> None:
    queue = _queue(cpus=3)
    queue.add(_entry("big", 1, demand=BIG))  # needs 4: never while the small ones run
    queue.add(_entry("s1", 2))
    queue.add(_entry("s2", 3))
    assert queue.grant(T0 + timedelta(seconds=5)) == ["s1", "s2"]


def test_a_big_job_waiting_past_the_reserve_time_is_overtaken_no_more() -> None:
    queue = _queue(cpus=4, reserve_after_seconds=60)
    ledger = queue._ledger
    queue.add(_entry("s0", 0))
    assert queue.grant(T0) == ["s0"]
    queue.add(_entry("big", 1, demand=BIG))
    queue.add(_entry("s1", 2))
    assert queue.grant(T0 + timedelta(seconds=10)) == ["s1"]  # not reserved yet: s1 backfills
    queue.add(_entry("s2", 70))
    late = T0 + timedelta(seconds=71)
    assert queue.grant(late) == []  # big has waited 70 s: s2 waits behind it though 2 CPUs are free
    ledger.release("s0")
    assert queue.grant(late) == []
    ledger.release("s1")
    assert queue.grant(late) == ["big"]
    assert "big" in ledger.held_ids() and queue.ids() == ["s2"]


def test_gpus_are_assigned_exclusively() -> None:
    queue = _queue(cpus=8, gpus=("0", "1"))
    for index in range(3):
        queue.add(_entry(f"g{index}", index, demand=GPU))
    assert queue.grant(T0) == ["g0", "g1"]
    first, second = queue.take_grant("g0"), queue.take_grant("g1")
    assert first is not None and second is not None
    assert {first.gpu_ids, second.gpu_ids} == {("0",), ("1",)}
    assert dict(queue.messages()) == {"g2": "waiting for 1 GPU: 0 of 2 free; 0 jobs ahead"}
    queue._ledger.release("g0")
    assert queue.grant(T0) == ["g2"]
    third = queue.take_grant("g2")
    assert third is not None and third.gpu_ids == first.gpu_ids


def test_message_counts_the_jobs_ahead() -> None:
    queue = _queue(cpus=1)
    queue.add(_entry("running", 0))
    queue.grant(T0)
    for index in range(1, 5):
        queue.add(_entry(f"w{index}", index))
    messages = dict(queue.messages())
    assert messages["w1"] == "waiting for 1 CPU: 0 of 1 free; 0 jobs ahead"
    assert messages["w4"].endswith("; 3 jobs ahead")


def test_removing_a_waiting_job_forgets_it() -> None:
    queue = _queue(cpus=0.5)
    queue.add(_entry("w", 1))
    queue.remove("w")
    assert len(queue) == 0 and queue.grant(T0) == []
