"""THE transition table: every legal status move, and the sets derived from it.

`python -m trainplane.domain.transitions` prints the table as a mermaid diagram for the README.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from trainplane.domain import errors
from trainplane.domain.status import Primary, Secondary


class Event(enum.StrEnum):
    """Facts that move a job, named for what happened."""

    SUPERVISOR_STARTED = "supervisor_started"  # the executor accepted the job; staging inputs
    PROCESS_STARTED = "process_started"  # the training process is running
    PROCESS_SUCCEEDED = "process_succeeded"  # the training process exited 0
    MODEL_PACKAGED = "model_packaged"  # model.tar.gz written after a successful run
    STOP_REQUESTED = "stop_requested"  # a stop intent was persisted (user or preemption)
    MAX_RUNTIME_REACHED = "max_runtime_reached"  # the runtime limit elapsed; same protocol as a stop
    STOP_FINISHED = "stop_finished"  # every process is gone and what was saved is packaged
    MAX_RUNTIME_STOP_FINISHED = "max_runtime_stop_finished"  # as STOP_FINISHED, after max runtime
    FAILED = "failed"  # the process exited non-zero, or the platform could not run it


S = Secondary
E = Event

_RUNNING = (S.STARTING, S.DOWNLOADING, S.TRAINING, S.UPLOADING)

TRANSITIONS: Mapping[tuple[Secondary, Event], Secondary] = {
    (S.STARTING, E.SUPERVISOR_STARTED): S.DOWNLOADING,
    (S.STARTING, E.PROCESS_STARTED): S.TRAINING,
    (S.DOWNLOADING, E.PROCESS_STARTED): S.TRAINING,
    (S.TRAINING, E.PROCESS_SUCCEEDED): S.UPLOADING,
    (S.UPLOADING, E.MODEL_PACKAGED): S.COMPLETED,
    **{(status, E.STOP_REQUESTED): S.STOPPING for status in _RUNNING},
    **{(status, E.MAX_RUNTIME_REACHED): S.STOPPING for status in _RUNNING},
    **{(status, E.FAILED): S.FAILED for status in _RUNNING},
    (S.STOPPING, E.STOP_FINISHED): S.STOPPED,
    (S.STOPPING, E.MAX_RUNTIME_STOP_FINISHED): S.MAX_RUNTIME_EXCEEDED,
    # Packaging what a stopped job saved can itself fail (disk full): say so rather than hang.
    (S.STOPPING, E.FAILED): S.FAILED,
}

PRIMARY: Mapping[Secondary, Primary] = {
    S.STARTING: Primary.IN_PROGRESS,
    S.DOWNLOADING: Primary.IN_PROGRESS,
    S.TRAINING: Primary.IN_PROGRESS,
    S.UPLOADING: Primary.IN_PROGRESS,
    S.STOPPING: Primary.STOPPING,
    S.STOPPED: Primary.STOPPED,
    S.MAX_RUNTIME_EXCEEDED: Primary.STOPPED,
    S.COMPLETED: Primary.COMPLETED,
    S.FAILED: Primary.FAILED,
}

# Derived from the table, never kept by hand.
TERMINAL: frozenset[Secondary] = frozenset(
    status for status in Secondary if not any(src == status for src, _ in TRANSITIONS)
)
STOPPABLE: frozenset[Secondary] = frozenset(src for src, event in TRANSITIONS if event is E.STOP_REQUESTED)
ACTIVE: frozenset[Secondary] = frozenset(Secondary) - TERMINAL
# Where the runtime limit can still end a job (a job already stopping has its own deadline).
MAX_RUNTIME_APPLIES: frozenset[Secondary] = frozenset(
    src for src, event in TRANSITIONS if event is E.MAX_RUNTIME_REACHED
)
TERMINAL_PRIMARY: frozenset[Primary] = frozenset(PRIMARY[s] for s in TERMINAL)


def next_status(current: Secondary, event: Event) -> Secondary:
    """The status `event` moves a job in `current` to.

    Raises:
        errors.IllegalTransition: the table has no such move.
    """
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise errors.IllegalTransition(current.value, event.value) from None


def mermaid() -> str:
    """The table as a mermaid state diagram."""
    lines = ["stateDiagram-v2"]
    for (src, event), dst in TRANSITIONS.items():
        lines.append(f"    {src.value} --> {dst.value}: {event.value}")
    for status in sorted(TERMINAL):
        lines.append(f"    {status.value} --> [*]")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation generator
    print(mermaid())
