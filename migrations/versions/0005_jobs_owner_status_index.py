"""an index on the jobs' owner and status, for the active-jobs count of every submit

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_owner_status", "jobs", ["owner_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_status", table_name="jobs")
