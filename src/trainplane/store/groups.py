"""Job groups on SQLAlchemy Core: the GroupStore port, and the run bookkeeping the job store's insert
and delete do inside their own transactions (placing a run, forgetting one)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from trainplane.domain import errors
from trainplane.domain.groups import JobGroup, Placement
from trainplane.domain.job import Job
from trainplane.service.ports import GroupQuery, GroupSortBy
from trainplane.store.tables import job_groups, jobs

GROUP = "job group"
# Group ids are an INTEGER column (32 bits on PostgreSQL, which refuses to compare a larger number
# with it); the dialects accept longer ids (ModelArts' are Longs). Such an id names no group.
MAX_ID = 2**31 - 1


def is_storable_id(group_id: int) -> bool:
    return 0 < group_id <= MAX_ID


T = TypeVar("T")
Reading = Callable[[Callable[[sa.Connection], Any]], Any]

_VISIBLE = job_groups.c.is_deleting.is_(False)
_LATEST = jobs.alias("latest")
# Built once: ModelArts and Baseten read a group on almost every request, and building the
# statement cost more than running it (SqlStore's job reads do the same).
_BY_NAME = job_groups.select().where(
    job_groups.c.tenant == sa.bindparam("tenant"), job_groups.c.name_key == sa.bindparam("name_key")
)
_VISIBLE_BY_ID = job_groups.select().where(
    job_groups.c.id == sa.bindparam("group_id"), job_groups.c.tenant == sa.bindparam("tenant"), _VISIBLE
)
_VISIBLE_BY_NAME = _BY_NAME.where(_VISIBLE)


def _to_group(row: sa.Row[Any]) -> JobGroup:
    return JobGroup(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        description=row.description,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        updated_at=datetime.fromtimestamp(row.updated_at, UTC),
        run_count=row.run_count,
        latest_job_id=row.latest_job_id,
    )


def _new_group_values(tenant: str, name: str, description: str, now: datetime) -> dict[str, Any]:
    at = now.timestamp()
    return {
        "tenant": tenant,
        "name": name,
        "name_key": name.lower(),
        "description": description,
        "created_at": at,
        "updated_at": at,
        "runs_created": 0,
        "run_count": 0,
        "latest_job_id": None,
        "is_deleting": False,
    }


def _insert_if_absent(conn: sa.Connection, values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT (tenant, name_key) DO NOTHING: two creators of one name both succeed."""
    keys = ["tenant", "name_key"]
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(job_groups).values(values).on_conflict_do_nothing(index_elements=keys))
    else:
        conn.execute(sqlite.insert(job_groups).values(values).on_conflict_do_nothing(index_elements=keys))


def _name_params(tenant: str, name: str) -> dict[str, str]:
    return {"tenant": tenant, "name_key": name.lower()}


def place_run(conn: sa.Connection, job: Job, placement: Placement) -> tuple[int, int]:
    """Number `job` as the next run of its group (created if named and missing): (group id, run number).

    Raises:
        errors.NotFound: `placement.group_id` is no visible group of the job's tenant.
        errors.Unavailable: the named group is being deleted.
    """
    if placement.group_id is not None:
        if not is_storable_id(placement.group_id):
            raise errors.NotFound(GROUP, str(placement.group_id))
        group_id = placement.group_id
    else:
        name = placement.name or job.name
        _insert_if_absent(conn, _new_group_values(job.tenant, name, "", job.created_at))
        group_id = conn.execute(_BY_NAME, _name_params(job.tenant, name)).one().id
    numbered = conn.execute(
        job_groups.update()
        .where(job_groups.c.id == group_id, job_groups.c.tenant == job.tenant, _VISIBLE)
        .values(
            runs_created=job_groups.c.runs_created + 1,
            run_count=job_groups.c.run_count + 1,
            latest_job_id=job.id,
            updated_at=job.created_at.timestamp(),
        )
        .returning(job_groups.c.runs_created)
    ).first()
    if numbered is not None:
        return group_id, int(numbered.runs_created)
    if placement.group_id is not None:
        raise errors.NotFound(GROUP, str(group_id))
    raise errors.Unavailable(
        f"the job group {placement.name or job.name!r} is being deleted: try again shortly"
    )


def forget_run(conn: sa.Connection, job: Job, now: datetime) -> None:
    """Count a deleted run out of its group; remove the group if it was being deleted and is empty."""
    if job.group_id is None:
        return
    latest = (
        sa.select(jobs.c.id)
        .where(jobs.c.group_id == job.group_id)
        .order_by(jobs.c.run_number.desc())
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(
        job_groups.update()
        .where(job_groups.c.id == job.group_id)
        .values(run_count=job_groups.c.run_count - 1, latest_job_id=latest, updated_at=now.timestamp())
    )
    conn.execute(
        job_groups.delete().where(
            job_groups.c.id == job.group_id, job_groups.c.is_deleting.is_(True), job_groups.c.run_count <= 0
        )
    )


def _order_column(sort_by: GroupSortBy, now: datetime) -> sa.ColumnElement[Any]:
    if sort_by is GroupSortBy.DESCRIPTION:
        return job_groups.c.description
    if sort_by is GroupSortBy.CREATION_TIME:
        return job_groups.c.created_at
    if sort_by is GroupSortBy.RUN_COUNT:
        return job_groups.c.run_count
    if sort_by is GroupSortBy.STATUS:
        return sa.func.coalesce(_LATEST.c.status, "")
    if sort_by is GroupSortBy.DURATION:
        at = now.timestamp()
        end = sa.func.coalesce(_LATEST.c.ended_at, at)
        return end - sa.func.coalesce(_LATEST.c.started_at, end)
    return job_groups.c.name_key


def _filters(tenant: str, query: GroupQuery) -> list[sa.ColumnElement[bool]]:
    clauses = [job_groups.c.tenant == tenant, _VISIBLE]
    if query.name_contains and "\x00" in query.name_contains:
        clauses.append(sa.false())  # no name holds a NUL, and PostgreSQL cannot even compare one
    elif query.name_contains:
        clauses.append(job_groups.c.name_key.contains(query.name_contains.lower(), autoescape=True))
    if query.latest_statuses is not None:
        clauses.append(_LATEST.c.status.in_(sorted(s.value for s in query.latest_statuses)))
    return clauses


class SqlGroups:
    """The GroupStore port over the job store's engine."""

    def __init__(self, engine: sa.Engine, reading: Reading) -> None:
        self._engine = engine
        self._reading = reading

    def create(self, tenant: str, name: str, description: str, now: datetime) -> JobGroup:
        try:
            with self._engine.begin() as conn:
                conn.execute(job_groups.insert().values(_new_group_values(tenant, name, description, now)))
                return _to_group(conn.execute(_BY_NAME, _name_params(tenant, name)).one())
        except sa_exc.IntegrityError as exc:
            raise errors.NameInUse(GROUP, name) from exc

    def upsert(self, tenant: str, name: str, now: datetime) -> JobGroup:
        with self._engine.begin() as conn:
            _insert_if_absent(conn, _new_group_values(tenant, name, "", now))
            row = conn.execute(_BY_NAME, _name_params(tenant, name)).one()
        if row.is_deleting:
            raise errors.Unavailable(f"the job group {name!r} is being deleted: try again shortly")
        return _to_group(row)

    def get(self, tenant: str, group_id: int) -> JobGroup:
        if not is_storable_id(group_id):
            raise errors.NotFound(GROUP, str(group_id))
        params = {"group_id": group_id, "tenant": tenant}
        row = self._reading(lambda conn: conn.execute(_VISIBLE_BY_ID, params).first())
        if row is None:
            raise errors.NotFound(GROUP, str(group_id))
        return _to_group(row)

    def find(self, tenant: str, name: str) -> JobGroup | None:
        params = _name_params(tenant, name)
        row = self._reading(lambda conn: conn.execute(_VISIBLE_BY_NAME, params).first())
        return None if row is None else _to_group(row)

    def list(self, tenant: str, query: GroupQuery, now: datetime) -> tuple[Sequence[JobGroup], int]:
        joined = job_groups.outerjoin(_LATEST, _LATEST.c.id == job_groups.c.latest_job_id)
        clauses = _filters(tenant, query)
        column = _order_column(query.sort_by, now)
        order = [column.asc() if query.ascending else column.desc(), job_groups.c.id.asc()]
        page = sa.select(job_groups).select_from(joined).where(*clauses).order_by(*order)
        page = page.offset(query.offset).limit(query.limit)
        total = sa.select(sa.func.count()).select_from(joined).where(*clauses)

        def read(conn: sa.Connection) -> tuple[list[JobGroup], int]:
            return [_to_group(row) for row in conn.execute(page)], int(conn.execute(total).scalar_one())

        found: tuple[list[JobGroup], int] = self._reading(read)
        return found

    def set_description(self, tenant: str, group_id: int, description: str, now: datetime) -> JobGroup:
        if not is_storable_id(group_id):
            raise errors.NotFound(GROUP, str(group_id))
        statement = (
            job_groups.update()
            .where(job_groups.c.id == group_id, job_groups.c.tenant == tenant, _VISIBLE)
            .values(description=description, updated_at=now.timestamp())
        )
        with self._engine.begin() as conn:
            if conn.execute(statement).rowcount != 1:
                raise errors.NotFound(GROUP, str(group_id))
        return self.get(tenant, group_id)

    def mark_deleting(self, tenant: str, group_id: int) -> None:
        if not is_storable_id(group_id):
            raise errors.NotFound(GROUP, str(group_id))
        where = (job_groups.c.id == group_id, job_groups.c.tenant == tenant, _VISIBLE)
        with self._engine.begin() as conn:
            if conn.execute(job_groups.update().where(*where).values(is_deleting=True)).rowcount != 1:
                raise errors.NotFound(GROUP, str(group_id))
            conn.execute(job_groups.delete().where(job_groups.c.id == group_id, job_groups.c.run_count <= 0))
