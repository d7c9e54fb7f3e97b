"""A bounded cache of decoded Jobs keyed by (id, version).

Decoding a row's JSON into a Job is most of a read's cost. Every write bumps the version (the store's
compare-and-swap), so an entry for (id, version) can never be stale: a reader asks the database for
the current (id, version) - a cheap indexed query - and decodes only on a miss. Jobs are frozen, so
one instance is shared by every reader.
"""

from __future__ import annotations

import threading

from trainplane.domain.job import Job

CAPACITY = (
    256  # ~4.5 KB a job: about 1 MB; a poller watching more jobs decodes the rest (bench/supervise_500.py)
)


class DecodedJobs:
    """Thread-safe; evicts the oldest entry (insertion order) when full."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._jobs: dict[tuple[str, int], Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str, version: int) -> Job | None:
        return self._jobs.get((job_id, version))

    def put(self, job: Job) -> None:
        with self._lock:
            if len(self._jobs) >= self._capacity:
                del self._jobs[next(iter(self._jobs))]
            self._jobs[(job.id, job.version)] = job
