"""The queue of local jobs waiting for capacity, and the policy that picks the next one (issue 10).

Policy (docs/resources.md):
1. Higher `trainplane:priority` first (default 0).
2. Within a priority, fair between tenants: the tenant holding the fewest running jobs goes first,
   and of those the one whose last start is longest ago (so one slot alternates between tenants).
3. Within a tenant, first come first served (creation time).
A job that does not fit lets smaller ones behind it start (no idle capacity), but once the oldest job
of a priority has waited `reserve_after_seconds`, nothing of its priority or below overtakes it: it
starts next, as soon as it fits. So a big job is delayed at most that long by smaller ones.

The queue is not a second source of truth: it is every active local job in `Starting` with no
handle and no stop, as the store holds them, so it survives a restart; this module only orders it.
Jobs with the same priority, tenant and demand share one list, so a decision costs O(priorities x
tenants x demands), not O(jobs) (bench/scheduling.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from trainplane.domain.instance_types import Allocation
from trainplane.service.capacity import Demand, Free, Ledger, ResourceSettings

MESSAGE_HEAD = 20  # waiting jobs whose "N jobs ahead" is kept exact; the rest say "N or more"


@dataclass(frozen=True, order=True)
class Entry:
    created_at: datetime
    job_id: str
    tenant: str
    priority: int
    demand: Demand


_Lists = dict[tuple[str, Demand], list[Entry]]  # (tenant, demand) -> entries by creation time


class Queue:
    """Waiting jobs by priority; grants capacity from the ledger by the policy above."""

    def __init__(self, settings: ResourceSettings, ledger: Ledger) -> None:
        self._settings = settings
        self._ledger = ledger
        self._levels: dict[int, _Lists] = {}
        self._entries: dict[str, Entry] = {}
        self._granted: dict[str, Allocation] = {}
        self._served = 0
        self._last_served: dict[str, int] = {}  # tenant -> when it last got a start (a counter)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def add(self, entry: Entry) -> None:
        if entry.job_id in self._entries or entry.job_id in self._granted:
            return
        self._entries[entry.job_id] = entry
        lists = self._levels.setdefault(entry.priority, {})
        bisect.insort(lists.setdefault((entry.tenant, entry.demand), []), entry)

    def remove(self, job_id: str) -> None:
        """Forget a job (stopped while waiting, started, or gone); a grant it had is returned."""
        self._granted.pop(job_id, None)
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return
        lists = self._levels[entry.priority]
        key = (entry.tenant, entry.demand)
        items = lists[key]
        del items[bisect.bisect_left(items, entry)]
        if not items:
            del lists[key]
            if not lists:
                del self._levels[entry.priority]

    def ids(self) -> list[str]:
        return list(self._entries)

    def granted(self, job_id: str) -> Allocation | None:
        return self._granted.get(job_id)

    def take_grant(self, job_id: str) -> Allocation | None:
        """The job's grant, now held by it in the ledger (it is being launched)."""
        return self._granted.pop(job_id, None)

    def grant(self, now: datetime) -> list[str]:
        """Reserve capacity for every job the policy starts now; their ids, in order."""
        started: list[str] = []
        while True:
            entry = self.pick(now)
            if entry is None:
                return started
            self.remove(entry.job_id)
            self._granted[entry.job_id] = self._ledger.take(entry.job_id, entry.tenant, entry.demand)
            self._served += 1
            self._last_served[entry.tenant] = self._served
            started.append(entry.job_id)

    def pick(self, now: datetime) -> Entry | None:
        """The job that starts next, or None when none may start now."""
        free = self._ledger.free()
        reserve_after = timedelta(seconds=self._settings.reserve_after_seconds)
        for priority in sorted(self._levels, reverse=True):
            lists = self._levels[priority]
            oldest = min(items[0] for items in lists.values())
            if now - oldest.created_at >= reserve_after:
                return oldest if free.fits(oldest.demand) else None  # no one overtakes it
            candidate = self._fairest(lists, free)
            if candidate is not None:
                return candidate
        return None

    def _fairest(self, lists: _Lists, free: Free) -> Entry | None:
        held = self._ledger.held_by_tenant
        best: tuple[int, int, Entry] | None = None
        for (tenant, demand), items in lists.items():
            if not free.fits(demand):
                continue
            key = (held.get(tenant, 0), self._last_served.get(tenant, 0), items[0])
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    def ordered(self, limit: int) -> list[Entry]:
        """The first `limit` waiting jobs by priority, then creation (what "jobs ahead" counts)."""
        heads: list[Entry] = []
        for priority in sorted(self._levels, reverse=True):
            level = sorted(entry for items in self._levels[priority].values() for entry in items[:limit])
            heads.extend(level[: limit - len(heads)])
            if len(heads) >= limit:
                break
        return heads

    def message(self, entry: Entry, ahead: int | None) -> str:
        """What a waiting job waits for: "waiting for 1 GPU: 0 of 2 free; 3 jobs ahead"."""
        lack = entry.demand.describe_lack(self._ledger.free(), self._ledger.host)
        if ahead is None:
            count = f"{MESSAGE_HEAD} or more jobs ahead"
        else:
            count = f"{ahead} job{'' if ahead == 1 else 's'} ahead"
        return f"waiting for {lack}; {count}"

    def message_of(self, job_id: str) -> str | None:
        """One waiting job's message (without formatting every other one's)."""
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        head = self.ordered(MESSAGE_HEAD)
        ahead = next((index for index, seen in enumerate(head) if seen.job_id == job_id), None)
        return self.message(entry, ahead)

    def messages(self) -> Iterable[tuple[str, str]]:
        """(job id, status message) for every waiting job."""
        head = self.ordered(MESSAGE_HEAD)
        exact = {entry.job_id: index for index, entry in enumerate(head)}
        for job_id, entry in self._entries.items():
            yield job_id, self.message(entry, exact.get(job_id))
