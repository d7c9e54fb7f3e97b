"""The Store port on SQLAlchemy Core: compare-and-swap saves, keyset-paginated listing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from trainplane.domain import documents, errors, transitions
from trainplane.domain.groups import Placement
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.ports import Claim, ListQuery, Page
from trainplane.store import engines, groups, paging, replica_claims
from trainplane.store.decoded_jobs import DecodedJobs
from trainplane.store.driver_query import DriverQuery
from trainplane.store.stop_listener import StopListener
from trainplane.store.tables import jobs, tags

# Built once: building the WHERE clause per call was a third of Describe's time (see bench/).
_GET_BY_NAME = jobs.select().where(
    jobs.c.tenant == sa.bindparam("tenant"),
    jobs.c.kind == sa.bindparam("kind"),
    jobs.c.name_key == sa.bindparam("name_key"),
)
_GET_BY_ID = jobs.select().where(jobs.c.id == sa.bindparam("job_id"))
# A read asks for the current version first and decodes the full row only on a cache miss.
_VERSION_BY_NAME = sa.select(jobs.c.id, jobs.c.version).where(
    jobs.c.tenant == sa.bindparam("tenant"),
    jobs.c.kind == sa.bindparam("kind"),
    jobs.c.name_key == sa.bindparam("name_key"),
)
_VERSION_BY_ID = sa.select(jobs.c.id, jobs.c.version).where(jobs.c.id == sa.bindparam("job_id"))


def _tag_upsert(dialect: str) -> sa.Insert:
    """INSERT ... ON CONFLICT (job_id, key) DO UPDATE SET value, in the dialect's form."""
    keys = [tags.c.job_id, tags.c.key]
    if dialect == "postgresql":
        on_pg = postgresql.insert(tags)
        return on_pg.on_conflict_do_update(index_elements=keys, set_={"value": on_pg.excluded.value})
    on_sqlite = sqlite.insert(tags)
    return on_sqlite.on_conflict_do_update(index_elements=keys, set_={"value": on_sqlite.excluded.value})


T = TypeVar("T")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Database errors become domain errors, once, here."""
    try:
        yield
    except sa_exc.OperationalError as exc:
        raise errors.Unavailable(f"the job store is unavailable: {exc.orig}") from exc


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _row_values(job: Job) -> dict[str, Any]:
    return {
        "status": job.status.value,
        "primary_status": job.primary.value,
        "is_active": job.status not in transitions.TERMINAL,
        "version": job.version,
        "last_modified_at": job.last_modified_at.timestamp(),
        "started_at": documents.instant_to_wire(job.started_at),
        "ended_at": documents.instant_to_wire(job.ended_at),
        "state": _json(documents.job_state_to_dict(job)),
        "delete_when_ended": job.delete_when_ended,
    }


def _row_to_job(row: sa.Row[Any]) -> Job:
    doc = {
        "id": row.id,
        "tenant": row.tenant,
        "kind": row.kind,
        "name": row.name,
        "arn": row.arn,
        "dialect": row.dialect,
        "status": row.status,
        "version": row.version,
        "created_at": row.created_at,
        "last_modified_at": row.last_modified_at,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "group_id": row.group_id,
        "run_number": row.run_number,
        "delete_when_ended": row.delete_when_ended,
        "spec": json.loads(row.spec),
        "request": json.loads(row.request),
        **json.loads(row.state),
    }
    return documents.job_from_dict(doc)


def _insert_values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant": job.tenant,
        "kind": job.kind.value,
        "name": job.name,
        "name_key": job.name.lower(),
        "arn": job.arn,
        "dialect": job.dialect,
        "created_at": job.created_at.timestamp(),
        "spec": _json(documents.spec_to_dict(job.spec)),
        "request": _json(dict(job.request)),
        "group_id": job.group_id,
        "run_number": job.run_number,
        **_row_values(job),
    }


class SqlStore:
    """Durable jobs in SQLite (WAL) or PostgreSQL."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._decoded = DecodedJobs()
        self._version_by_name = DriverQuery(_VERSION_BY_NAME, engine)
        self._version_by_id = DriverQuery(_VERSION_BY_ID, engine)
        self._active_claims = replica_claims.ActiveClaims(engine)
        self._stop_listener: StopListener | None = None
        self._groups = groups.SqlGroups(engine, self._reading)

    @classmethod
    def open(cls, url: str, *, is_pre_ping: bool = False) -> SqlStore:
        """Connect and bring the schema up to date (`is_pre_ping`: see engines.create)."""
        engine = engines.create(url, is_pre_ping=is_pre_ping)
        engines.migrate(engine)
        return cls(engine)

    def _reading(self, read: Callable[[sa.Connection], T]) -> T:
        """`read(conn)`, again once on a fresh connection if the pooled one was dead (a restarted
        database): reads are safe to repeat, and without a pre-ping that is how a dead one shows."""
        with translate_errors():
            try:
                with self._engine.connect() as conn:
                    return read(conn)
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            with self._engine.connect() as conn:  # SQLAlchemy invalidated the pool's older connections
                return read(conn)

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    @property
    def groups(self) -> groups.SqlGroups:
        return self._groups

    def close(self) -> None:
        if self._stop_listener is not None:
            self._stop_listener.close()
            self._stop_listener = None
        self._engine.dispose()

    def insert(
        self, job: Job, new_tags: Mapping[str, str] | None = None, placement: Placement | None = None
    ) -> Job:
        with translate_errors():
            try:
                with self._engine.begin() as conn:
                    if placement is not None:
                        group_id, run_number = groups.place_run(conn, job, placement)
                        job = dataclasses.replace(job, group_id=group_id, run_number=run_number)
                    conn.execute(jobs.insert().values(_insert_values(job)))
                    if new_tags:
                        rows = [{"job_id": job.id, "key": k, "value": v} for k, v in new_tags.items()]
                        conn.execute(tags.insert(), rows)
            except sa_exc.IntegrityError as exc:
                raise errors.NameInUse(job.kind.value, job.name, job.arn) from exc
        return job

    def get(self, tenant: str, kind: JobKind, name: str) -> Job:
        params = {"tenant": tenant, "kind": kind.value, "name_key": name.lower()}
        job = self._read(self._version_by_name, params)
        if job is None:
            raise errors.NotFound(f"{kind.value} job", name)
        return job

    def get_by_id(self, job_id: str) -> Job:
        job = self._read(self._version_by_id, {"job_id": job_id})
        if job is None:
            raise errors.NotFound("job", job_id)
        return job

    def _read(self, version_query: DriverQuery, params: Mapping[str, Any]) -> Job | None:
        """The job `version_query` finds, decoded at most once per version; None if there is none."""
        key = version_query.first(params)
        if key is None:
            return None
        job_id, version = key
        job = self._decoded.get(job_id, version)
        if job is not None:
            return job
        row = self._reading(lambda conn: conn.execute(_GET_BY_ID, {"job_id": job_id}).first())
        if row is None:
            return None  # deleted since the probe
        job = _row_to_job(row)  # maybe newer than the probe: cached under its own version
        self._decoded.put(job)
        return job

    def save(self, job: Job, expected_version: int) -> Job:
        # The version written is expected + 1 whatever the caller's copy says, so two writers that
        # read the same version can never both win, even if one forgot to bump it.
        stored = dataclasses.replace(job, version=expected_version + 1)
        statement = (
            jobs.update()
            .where(jobs.c.id == job.id, jobs.c.version == expected_version)
            .values(_row_values(stored))
        )
        with translate_errors(), self._engine.begin() as conn:
            if conn.execute(statement).rowcount != 1:
                raise errors.StaleWrite(job.id, expected_version)
        return stored

    def delete(self, job: Job) -> None:
        with translate_errors(), self._engine.begin() as conn:
            conn.execute(tags.delete().where(tags.c.job_id == job.id))
            statement = jobs.delete().where(jobs.c.id == job.id, jobs.c.version == job.version)
            if conn.execute(statement).rowcount != 1:
                raise errors.StaleWrite(job.id, job.version)
            groups.forget_run(conn, job, job.last_modified_at)

    def ended_deletes(self) -> Sequence[Job]:
        query = jobs.select().where(jobs.c.delete_when_ended.is_(True), jobs.c.is_active.is_(False))
        return [_row_to_job(row) for row in self._reading(lambda conn: conn.execute(query).all())]

    def list_jobs(self, tenant: str, kind: JobKind, query: ListQuery) -> Page:
        statement, decode = paging.list_statement(tenant, kind, query)
        rows = self._reading(lambda conn: conn.execute(statement).all())
        found = [_row_to_job(row) for row in rows[: query.limit]]
        has_more = len(rows) > query.limit
        return Page(found, decode(found[-1]) if has_more and found else None)

    def count_active(self, tenant: str) -> int:
        query = sa.select(sa.func.count()).where(jobs.c.is_active.is_(True), jobs.c.tenant == tenant)
        return int(self._reading(lambda conn: conn.execute(query).scalar_one()))

    def active_jobs(self) -> Sequence[Job]:
        rows = self._reading(lambda conn: conn.execute(jobs.select().where(jobs.c.is_active.is_(True))).all())
        return [_row_to_job(row) for row in rows]

    def get_tags(self, job_id: str) -> Mapping[str, str]:
        query = tags.select().where(tags.c.job_id == job_id).order_by(tags.c.key)
        return self._reading(lambda conn: {row.key: row.value for row in conn.execute(query)})

    def put_tags(self, job_id: str, new_tags: Mapping[str, str]) -> None:
        if not new_tags:
            return
        # An upsert: on PostgreSQL two writers of one key both see it absent, and a delete-then-insert
        # would end in a duplicate-key error. Keys in one order, so two writers never deadlock.
        rows = [{"job_id": job_id, "key": key, "value": new_tags[key]} for key in sorted(new_tags)]
        with translate_errors(), self._engine.begin() as conn:
            conn.execute(_tag_upsert(self._engine.dialect.name), rows)

    def remove_tags(self, job_id: str, keys: Sequence[str]) -> None:
        with translate_errors(), self._engine.begin() as conn:
            conn.execute(tags.delete().where(tags.c.job_id == job_id, tags.c.key.in_(list(keys))))

    def renew_lease(self, replica_id: str, host: str, until: datetime) -> None:
        statement = replica_claims.lease_upsert(self._engine.dialect.name, replica_id, host, until)
        with translate_errors(), self._engine.begin() as conn:
            conn.execute(statement)

    def claim(self, job_id: str, replica_id: str, now: datetime, *, may_take_over: bool = False) -> bool:
        statement = replica_claims.claim_statement(job_id, replica_id, now, may_take_over=may_take_over)
        with translate_errors(), self._engine.begin() as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def active_claims(self) -> Sequence[Claim]:
        return self._active_claims.read()

    def watch_stops(self, on_stop: Callable[[str], None]) -> None:
        if self._engine.dialect.name != "postgresql" or self._stop_listener is not None:
            return  # SQLite cannot notify: the claims poll alone hears of another writer's stops
        url = self._engine.url.set(drivername="postgresql")  # libpq's own spelling for psycopg
        self._stop_listener = StopListener(url.render_as_string(hide_password=False), on_stop)
