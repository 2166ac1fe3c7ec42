"""incident attached reports (possible duplicates attached by the officer)

Revision ID: 5d2e8a1c7b90
Revises: a49210d933be
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5d2e8a1c7b90"
down_revision = "a49210d933be"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("attached_reports", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("attached_reports")
