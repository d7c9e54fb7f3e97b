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
    sa.UniqueConstraint("tenant", "kind", "name_key", name="uq_jobs_tenant_kind_name"),
    sa.Index("ix_jobs_list_created", "tenant", "kind", "created_at", "id"),
    sa.Index("ix_jobs_list_status", "tenant", "kind", "primary_status", "created_at", "id"),
    sa.Index("ix_jobs_list_name", "tenant", "kind", "name_key", "id"),
    sa.Index("ix_jobs_list_modified", "tenant", "kind", "last_modified_at", "id"),
    sa.Index("ix_jobs_active", "is_active"),
    sa.Index("ix_jobs_claimed_by", "claimed_by"),
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
