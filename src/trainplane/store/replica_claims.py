"""Replica leases and job claims (the Store port's claim methods), one SQL form for both databases.

A replica's lease is one row it renews; a claim is the job's `claimed_by`. A claim holds while its
owner's lease does, so a replica renews one row however many jobs it drives. Every claim is a single
guarded UPDATE of the job's row: on PostgreSQL a racing claimant blocks on the row lock and re-checks
the guard against the winner's write (READ COMMITTED), on SQLite writes are serialised; either way at
most one of them matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from trainplane.service.ports import Claim
from trainplane.store.driver_query import DriverQuery
from trainplane.store.tables import jobs, replicas

_ACTIVE_CLAIMS = (
    sa.select(jobs.c.id, jobs.c.version, jobs.c.claimed_by, replicas.c.lease_expires_at)
    .select_from(jobs.outerjoin(replicas, replicas.c.id == jobs.c.claimed_by))
    .where(jobs.c.is_active.is_(True))
)


def lease_upsert(dialect: str, replica_id: str, host: str, until: datetime) -> sa.Insert:
    """INSERT the replica's lease, or move its expiry (and host) on conflict, in the dialect's form."""
    values = {"id": replica_id, "host": host, "lease_expires_at": until.timestamp()}
    insert: Any = postgresql.insert(replicas) if dialect == "postgresql" else sqlite.insert(replicas)
    statement = insert.values(values)
    changed = {"host": statement.excluded.host, "lease_expires_at": statement.excluded.lease_expires_at}
    upsert: sa.Insert = statement.on_conflict_do_update(index_elements=[replicas.c.id], set_=changed)
    return upsert


def claim_statement(job_id: str, replica_id: str, now: datetime, *, may_take_over: bool) -> sa.Update:
    """The guarded UPDATE that makes `replica_id` the job's owner; it matches one row when it wins."""
    free = [jobs.c.claimed_by.is_(None), jobs.c.claimed_by == replica_id]
    if may_take_over:
        alive = sa.select(replicas.c.id).where(replicas.c.lease_expires_at >= now.timestamp())
        free.append(jobs.c.claimed_by.not_in(alive))  # ids are never NULL: NOT IN is safe here
    return (
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.is_active.is_(True), sa.or_(*free))
        .values(claimed_by=replica_id)
    )


class ActiveClaims:
    """Every active job's claim, read on the driver's cursor (DriverQuery): each replica polls this
    every second, and SQLAlchemy's result rows cost five times the query with 1,000 active jobs."""

    def __init__(self, engine: sa.Engine) -> None:
        self._query = DriverQuery(_ACTIVE_CLAIMS, engine)

    def read(self) -> Sequence[Claim]:
        """Raises: errors.Unavailable."""
        instants: dict[float, datetime] = {}  # one per replica: few distinct leases among many jobs
        claims = []
        for job_id, version, owner, expires_at in self._query.all({}):
            if expires_at is not None and expires_at not in instants:
                instants[expires_at] = datetime.fromtimestamp(expires_at, UTC)
            lease = None if expires_at is None else instants[expires_at]
            claims.append(Claim(job_id, version, owner, lease))
        return claims
