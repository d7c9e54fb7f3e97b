"""The supervisor's decisions as a pure function: `step(state, now, observations)`.

Supervisor's STOPPING → SIGTERM → wait → SIGKILL tick with no I/O: the shell in supervisor.py
observes files, signals and exits, feeds them here, and carries out the returned actions.
Times are monotonic seconds; the shell converts the persisted wall-clock deadline once, on receipt.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class StopOrder:
    """A stop as the supervisor holds it."""

    reason: str  # "user" | "max_runtime" | "preempted"
    deadline: float  # monotonic seconds: SIGKILL whatever is left at this instant


@dataclass(frozen=True)
class Observations:
    """What the shell saw since the last step."""

    stop: StopOrder | None = None  # the current stop order, if any (repeats are normal)
    is_staged: bool = False  # inputs are staged and config files written
    has_staging_failed: bool = False
    has_main_exited: bool = False  # the entrypoint process was reaped
    has_checkpoint_completed: bool = False  # a new checkpoint-complete handshake arrived
    has_job_processes: bool = False  # some process of the job still runs (checked once main exited)
    spawned_at: float | None = None  # monotonic instant the training process started


@dataclass(frozen=True)
class State:
    is_group_policy: bool = True  # SIGTERM went to every process of the job, not the entrypoint alone
    max_runtime_seconds: float | None = None  # the job's own limit, counted from the spawn
    grace_seconds: float = 0.0  # the job's window when the supervisor itself starts a stop
    max_runtime_at: float | None = None  # monotonic instant the limit elapses (once spawned_at is seen)
    stop: StopOrder | None = None
    is_staged: bool = False
    is_spawned: bool = False
    is_term_sent: bool = False
    is_kill_sent: bool = False
    has_main_exited: bool = False
    has_complete_checkpoint: bool = False
    is_done: bool = False  # nothing of the job runs; package and report


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Write status.json (the stop was received or the checkpoint state changed)."""


@dataclass(frozen=True)
class Stage:
    """Stage inputs and write the config files."""


@dataclass(frozen=True)
class Spawn:
    """Start the training process."""


@dataclass(frozen=True)
class BeginStop:
    """The supervisor starts a stop itself (max runtime): record the order, then SIGTERM."""

    order: StopOrder


@dataclass(frozen=True)
class SendTerm:
    """SIGTERM the job per its signal policy."""


@dataclass(frozen=True)
class SendKill:
    """SIGKILL every process of the job, then verify none survive."""

    cause: str  # "deadline" | "checkpoint_complete" | "main_exited"


@dataclass(frozen=True)
class Finish:
    """Nothing of the job runs any more: collect the outcome, package, report."""


Action = Report | Stage | Spawn | BeginStop | SendTerm | SendKill | Finish


def step(state: State, now: float, observations: Observations) -> tuple[State, list[Action]]:
    """The next state and what to do now; the state is returned because the function is pure."""
    if state.is_done:
        return state, []
    actions: list[Action] = []
    stop = _merge_stop(state.stop, observations.stop)
    is_new_checkpoint = observations.has_checkpoint_completed
    new = dataclasses.replace(
        state,
        stop=stop,
        is_staged=state.is_staged or observations.is_staged,
        has_main_exited=state.has_main_exited or observations.has_main_exited,
        has_complete_checkpoint=state.has_complete_checkpoint or is_new_checkpoint,
        max_runtime_at=_max_runtime_at(state, observations.spawned_at),
    )
    if stop != state.stop or new.has_complete_checkpoint != state.has_complete_checkpoint:
        actions.append(Report())
    if not new.is_spawned:
        return _before_spawn(new, observations, actions)
    if new.has_main_exited and not (_is_draining(new) and observations.has_job_processes):
        # A container's processes die with it: whatever the entrypoint left behind is killed too.
        actions += [SendKill("main_exited"), Finish()]
        return dataclasses.replace(new, is_done=True), actions
    new = _check_max_runtime(new, now, actions)
    return _while_running(new, now, state.is_term_sent and is_new_checkpoint, actions)


def next_wakeup(state: State) -> float | None:
    """The monotonic instant the shell must step again even if nothing happens (a deadline)."""
    if state.is_done or not state.is_spawned or state.is_kill_sent:
        return None
    if state.stop is None:
        return state.max_runtime_at
    return state.stop.deadline


def _max_runtime_at(state: State, spawned_at: float | None) -> float | None:
    if state.max_runtime_at is not None or spawned_at is None or state.max_runtime_seconds is None:
        return state.max_runtime_at
    return spawned_at + state.max_runtime_seconds


def _check_max_runtime(state: State, now: float, actions: list[Action]) -> State:
    # The supervisor owns this deadline too, so it holds while the control plane is down.
    if state.stop is not None or state.max_runtime_at is None or now < state.max_runtime_at:
        return state
    order = StopOrder("max_runtime", now + state.grace_seconds)
    actions.append(BeginStop(order))
    return dataclasses.replace(state, stop=order)


def _is_draining(state: State) -> bool:
    # Every process got SIGTERM and may still be saving (a python child of `bash -c` outlives bash):
    # the window is the job's, so the rest may finish until the deadline instead of dying with main.
    return state.is_group_policy and state.stop is not None and state.is_term_sent and not state.is_kill_sent


def _merge_stop(held: StopOrder | None, seen: StopOrder | None) -> StopOrder | None:
    # The first stop's reason stands and its deadline is never extended; a later one may shorten it.
    if held is None:
        return seen
    if seen is None or seen.deadline >= held.deadline:
        return held
    return dataclasses.replace(held, deadline=seen.deadline)


def _before_spawn(
    state: State, observations: Observations, actions: list[Action]
) -> tuple[State, list[Action]]:
    # Checked before every spawn: a stop that arrives while the job starts never spawns it.
    if state.stop is not None or observations.has_staging_failed:
        return dataclasses.replace(state, is_done=True), [*actions, Finish()]
    if not state.is_staged:
        return state, [*actions, Stage()]
    return dataclasses.replace(state, is_spawned=True), [*actions, Spawn()]


def _while_running(
    state: State, now: float, has_window_checkpoint: bool, actions: list[Action]
) -> tuple[State, list[Action]]:
    stop = state.stop
    if stop is None or state.is_kill_sent:
        return state, actions
    if not state.is_term_sent:
        actions.append(SendTerm())
        state = dataclasses.replace(state, is_term_sent=True)
    if now >= stop.deadline:
        actions.append(SendKill("deadline"))
        state = dataclasses.replace(state, is_kill_sent=True)
    elif has_window_checkpoint:
        # The job says its checkpoint is safe: waiting out the rest of the window gains nothing.
        actions.append(SendKill("checkpoint_complete"))
        state = dataclasses.replace(state, is_kill_sent=True)
    return state, actions
