"""Jobs and tags.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
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
        sa.UniqueConstraint("tenant", "kind", "name_key", name="uq_jobs_tenant_kind_name"),
    )
    op.create_index("ix_jobs_list_created", "jobs", ["tenant", "kind", "created_at", "id"])
    op.create_index("ix_jobs_list_status", "jobs", ["tenant", "kind", "primary_status", "created_at", "id"])
    op.create_index("ix_jobs_list_name", "jobs", ["tenant", "kind", "name_key", "id"])
    op.create_index("ix_jobs_list_modified", "jobs", ["tenant", "kind", "last_modified_at", "id"])
    op.create_index("ix_jobs_active", "jobs", ["is_active"])
    op.create_table(
        "tags",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_table("jobs")
