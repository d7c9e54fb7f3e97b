"""GroupService: a tenant's job groups (ModelArts jobs with versions, Baseten projects with jobs).

A group only names and numbers runs; every run is an ordinary job that JobService creates, stops and
deletes. Deleting a group deletes its runs, stopping the active ones first when asked to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from trainplane.domain import errors, groups
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService
from trainplane.service.ports import Clock, GroupPage, GroupQuery, GroupStore, GroupSummary, ListQuery

log = logging.getLogger("trainplane.service")
RUNS_PAGE = 1000


class GroupService:
    def __init__(self, groups: GroupStore, jobs: JobService, clock: Clock) -> None:
        self._groups = groups
        self._jobs = jobs
        self._clock = clock

    def create(self, tenant: str, name: str, description: str = "") -> JobGroup:
        """Raises: errors.NameInUse; errors.Invalid (a name or description the store cannot hold)."""
        name, description = groups.check_name(name), groups.check_description(description)
        return self._groups.create(tenant, name, description, self._clock.now())

    def upsert(self, tenant: str, name: str) -> JobGroup:
        """The tenant's group of that name, created if missing."""
        return self._groups.upsert(tenant, groups.check_name(name), self._clock.now())

    def get(self, tenant: str, group_id: int) -> JobGroup:
        """Raises: errors.NotFound."""
        return self._groups.get(tenant, group_id)

    def find(self, tenant: str, name: str) -> JobGroup | None:
        return self._groups.find(tenant, name)

    def list(self, tenant: str, query: GroupQuery) -> GroupPage:
        found, total = self._groups.list(tenant, query, self._clock.now())
        return GroupPage([GroupSummary(group, self._latest(tenant, group)) for group in found], total)

    def _latest(self, tenant: str, group: JobGroup) -> Job | None:
        if group.latest_job_id is None:
            return None
        try:
            return self._jobs.get_job(tenant, group.latest_job_id)
        except errors.NotFound:  # deleted since the group was read, or awaiting its delete
            return None

    def set_description(self, tenant: str, group_id: int, description: str) -> JobGroup:
        """Raises: errors.NotFound."""
        description = groups.check_description(description)
        return self._groups.set_description(tenant, group_id, description, self._clock.now())

    def runs(self, tenant: str, group_id: int) -> Sequence[Job]:
        """The group's runs, first run first. Raises: errors.NotFound."""
        self._groups.get(tenant, group_id)
        found: list[Job] = []
        token = None
        while True:
            query = ListQuery(group_id=group_id, limit=RUNS_PAGE, page_token=token)
            page = self._jobs.list(tenant, JobKind.TRAINING, query)
            found.extend(page.jobs)
            if page.next_token is None:
                return sorted(found, key=lambda job: job.run_number or 0)
            token = page.next_token

    def delete(self, tenant: str, group_id: int, *, stop_first: bool = False) -> None:
        """Delete the group and its runs; with `stop_first` active runs are stopped and deleted once
        ended, and the group is gone at once. Raises: errors.NotFound; errors.InvalidState (a run is
        active and not `stop_first`)."""
        runs = self.runs(tenant, group_id)
        active = [run for run in runs if not run.is_terminal]
        if active and not stop_first:
            raise errors.InvalidState("delete the job group", active[0].primary.value)
        self._groups.mark_deleting(tenant, group_id)
        log.info("event=group_deleting group=%s runs=%d active=%d", group_id, len(runs), len(active))
        for run in runs:
            try:
                self._jobs.delete_job(tenant, run.id, stop_first=True)
            except errors.NotFound:
                continue  # deleted meanwhile
