"""Job groups (a ModelArts job's versions, a Baseten project's jobs), each run's place in its group,
and deletes that wait for a job to end.

Every existing training job gets a group of its own name, as a new one does, with run number 1.

Revision ID: 0004_job_groups
Revises: 0003_replica_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_job_groups"
down_revision = "0003_replica_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_groups",
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
        sa.Column("is_deleting", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("tenant", "name_key", name="uq_job_groups_tenant_name"),
        sqlite_autoincrement=True,  # ids are never reused, not even the highest one deleted
    )
    # Plain ALTERs, not a batch: SQLite's table copy would drop migration 0002's trigger on jobs.
    op.add_column("jobs", sa.Column("group_id", sa.Integer))
    op.add_column("jobs", sa.Column("run_number", sa.Integer))
    op.add_column(
        "jobs", sa.Column("delete_when_ended", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.execute(
        "INSERT INTO job_groups (tenant, name, name_key, description, created_at, updated_at, "
        "runs_created, run_count, latest_job_id, is_deleting) "
        "SELECT tenant, name, name_key, '', created_at, last_modified_at, 1, 1, id, false "
        "FROM jobs WHERE kind = 'training'"
    )
    op.execute(
        "UPDATE jobs SET run_number = 1, group_id = (SELECT g.id FROM job_groups g "
        "WHERE g.tenant = jobs.tenant AND g.name_key = jobs.name_key) WHERE kind = 'training'"
    )
    op.create_index("ix_jobs_group_run", "jobs", ["group_id", "run_number"], unique=True)
    op.create_index("ix_jobs_delete_when_ended", "jobs", ["delete_when_ended"])


def downgrade() -> None:
    op.drop_index("ix_jobs_delete_when_ended", "jobs")
    op.drop_index("ix_jobs_group_run", "jobs")
    for column in ("delete_when_ended", "run_number", "group_id"):
        op.drop_column("jobs", column)  # SQLite 3.35+ drops a column in place
    op.drop_table("job_groups")
