"""What an executor reports about a launched job: plain values, re-exported by ports.py.

Apart from the ports' protocols because the per-job supervisor imports these on every job's start path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from trainplane.domain.job import Outcome

if TYPE_CHECKING:
    from trainplane.domain.job import StopIntent


class Phase(enum.StrEnum):
    """How far a launched job has got, as its executor last reported."""

    PENDING = "pending"  # launched, nothing reported yet
    STAGING = "staging"  # staging inputs and checkpoints
    RUNNING = "running"  # the training process runs
    PACKAGING = "packaging"  # the process is gone; packaging the model
    FINISHED = "finished"  # packaged; nothing of the job runs
    LOST = "lost"  # the executor's supervisor vanished without a final report


@dataclass(frozen=True)
class LogMarks:
    """When a job's log grew: its size now, (size, epoch seconds) marks in order, its last write time.

    Marks come from the supervisor (executors/supervisor/log_index.py); a line's time is the first
    mark at or past its end, so it is late by at most the marking interval, never early.
    """

    size: int
    marks: tuple[tuple[int, float], ...]
    last_write_at: float | None

    def written_at(self, end_offset: int) -> float | None:
        """When the byte before `end_offset` had been written (epoch seconds), as marks tell it."""
        low, high = 0, len(self.marks)
        while low < high:  # the first mark whose size covers end_offset
            middle = (low + high) // 2
            if self.marks[middle][0] >= end_offset:
                high = middle
            else:
                low = middle + 1
        if low < len(self.marks):
            return self.marks[low][1]
        return self.last_write_at


@dataclass(frozen=True)
class Observation:
    """A launched job as its executor last reported it (for the local executor: the supervisor's
    report, decoded once). The outcome is the job record's own type: nothing is copied field by field.
    """

    phase: Phase
    staged_at: datetime | None = None
    started_at: datetime | None = None
    exited_at: datetime | None = None
    finished_at: datetime | None = None
    was_stopped: bool = False  # the executor ran the stop protocol
    stop: StopIntent | None = None  # the stop the executor is carrying out (it may have started it)
    outcome: Outcome = field(default_factory=Outcome)  # as far as known: complete once the phase is FINISHED
    lost_reason: str | None = None  # LOST: what the engine says became of the job (e.g. Ray's status)
    warned_at: datetime | None = (
        None  # SIGUSR1 sent before max runtime (trainplane:max-runtime-warning-seconds)
    )


@dataclass(frozen=True)
class UsageSample:
    """What a job's processes used, as its supervisor sampled them (from the job's cgroup)."""

    at: datetime
    cpu_seconds: float  # CPU time used since the job started, all its processes together
    memory_bytes: int  # memory charged to the job now
    memory_peak_bytes: int | None = None  # the most it has been charged so far, where the kernel says
