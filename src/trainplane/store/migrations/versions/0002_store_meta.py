"""Store identity and a jobs-created counter, so a replaced or truncated database is noticed at start.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trainplane_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    # Seeded with the jobs already there; the trigger counts every insert after (deletes never lower it).
    op.execute(
        "INSERT INTO trainplane_meta (key, value) "
        "SELECT 'jobs_created', CAST(COUNT(*) AS VARCHAR(32)) FROM jobs"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION trainplane_count_job() RETURNS trigger AS $$ BEGIN "
            "UPDATE trainplane_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR(32)) "
            "WHERE key = 'jobs_created'; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER trainplane_jobs_created AFTER INSERT ON jobs "
            "FOR EACH ROW EXECUTE FUNCTION trainplane_count_job()"
        )
        return
    op.execute(
        "CREATE TRIGGER trainplane_jobs_created AFTER INSERT ON jobs BEGIN "
        "UPDATE trainplane_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
        "WHERE key = 'jobs_created'; END"
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS trainplane_jobs_created"
        + (" ON jobs" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS trainplane_count_job()")
    op.drop_table("trainplane_meta")
