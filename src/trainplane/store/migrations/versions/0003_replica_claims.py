"""Replica claims: which control-plane replica drives each job, and each replica's lease; on
PostgreSQL, a notification when a job becomes Stopping (store/stop_listener.py).

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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION trainplane_notify_stop() RETURNS trigger AS $$ BEGIN "
            "PERFORM pg_notify('trainplane_stops', NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER trainplane_jobs_stopping AFTER UPDATE OF status ON jobs FOR EACH ROW "
            "WHEN (NEW.status = 'Stopping' AND OLD.status IS DISTINCT FROM NEW.status) "
            "EXECUTE FUNCTION trainplane_notify_stop()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trainplane_jobs_stopping ON jobs")
        op.execute("DROP FUNCTION IF EXISTS trainplane_notify_stop()")
    op.drop_table("replicas")
    op.drop_index("ix_jobs_claimed_by", "jobs")
    op.drop_column("jobs", "claimed_by")  # SQLite 3.35+ drops a column in place
