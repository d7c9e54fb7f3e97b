"""Replica claims: which control-plane replica drives each job, and each replica's lease.

Revision ID: 0003_replica_claims
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_replica_claims"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Jobs from before replicas are unclaimed: the first replica that reconciles them claims them.
    # Plain ALTERs, not a batch: SQLite's table copy would drop migration 0002's trigger on jobs.
    op.add_column("jobs", sa.Column("claimed_by", sa.String(256)))
    op.create_index("ix_jobs_claimed_by", "jobs", ["claimed_by"])
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("lease_expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_index("ix_jobs_claimed_by", "jobs")
    op.drop_column("jobs", "claimed_by")  # SQLite 3.35+ drops a column in place
