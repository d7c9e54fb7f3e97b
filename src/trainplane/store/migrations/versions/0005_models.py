"""Models (CreateModel): one row per tenant and case-insensitive name, with the artifact's source.

Revision ID: 0005_models
Revises: 0004_job_groups
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_models"
down_revision = "0004_job_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("name_key", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("arn", sa.String(256), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_index("ix_models_created", "models", ["tenant", "created_at", "name_key"])


def downgrade() -> None:
    op.drop_index("ix_models_created", "models")
    op.drop_table("models")
