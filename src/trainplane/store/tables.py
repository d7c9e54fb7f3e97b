"""The schema, as SQLAlchemy Core tables. Alembic migrations in migrations/ create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Instants are epoch seconds (float): cheap to index and compare on SQLite and PostgreSQL alike.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    # SageMaker names are unique regardless of case (ARNs are lower-cased).
    sa.Column("name_key", sa.String(128), nullable=False),
    sa.Column("arn", sa.String(256), nullable=False),
    sa.Column("dialect", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("primary_status", sa.String(32), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_modified_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    # The replica that drives the job's executor work (launch, stop delivery, observing); migration 0003.
    sa.Column("claimed_by", sa.String(256)),
    # The job's group and its number there (migration 0004); NULL for kinds that are not grouped.
    sa.Column("group_id", sa.Integer),
    sa.Column("run_number", sa.Integer),
    # Deleted as soon as it has ended (a delete that had to stop it first); hidden from then on.
    sa.Column("delete_when_ended", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("tenant", "kind", "name_key", name="uq_jobs_tenant_kind_name"),
    sa.Index("ix_jobs_list_created", "tenant", "kind", "created_at", "id"),
    sa.Index("ix_jobs_list_status", "tenant", "kind", "primary_status", "created_at", "id"),
    sa.Index("ix_jobs_list_name", "tenant", "kind", "name_key", "id"),
    sa.Index("ix_jobs_list_modified", "tenant", "kind", "last_modified_at", "id"),
    sa.Index("ix_jobs_active", "is_active"),
    sa.Index("ix_jobs_claimed_by", "claimed_by"),
    sa.Index("ix_jobs_group_run", "group_id", "run_number", unique=True),
    sa.Index("ix_jobs_delete_when_ended", "delete_when_ended"),
)

# Job groups (migration 0004): see domain/groups.py. Counters live on the row so that numbering a
# new run is one UPDATE ... RETURNING, which also serialises two runs created in one group at once.
job_groups = sa.Table(
    "job_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_key", sa.String(128), nullable=False),
    sa.Column("description", sa.String(1024), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("runs_created", sa.Integer, nullable=False),
    sa.Column("run_count", sa.Integer, nullable=False),
    sa.Column("latest_job_id", sa.String(36)),
    # Being deleted: hidden at once, removed when its last (stopping) run is gone.
    sa.Column("is_deleting", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("tenant", "name_key", name="uq_job_groups_tenant_name"),
    sqlite_autoincrement=True,  # ids are never reused, not even the highest one deleted
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# One lease per control-plane replica: its claims on jobs hold while `lease_expires_at` is ahead.
replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("lease_expires_at", sa.Float, nullable=False),
)

# Store identity and the jobs-created counter (a trigger keeps it; migration 0002; see data_dir.py).
meta = sa.Table(
    "trainplane_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# Models (CreateModel): a name for a job's artifact and where it came from; migration 0005.
models = sa.Table(
    "models",
    metadata,
    sa.Column("tenant", sa.String(128), primary_key=True),
    sa.Column("name_key", sa.String(128), primary_key=True),  # names are unique regardless of case
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("arn", sa.String(256), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Index("ix_models_created", "tenant", "created_at", "name_key"),
)
