"""incident accident report (order No. 493 first report, follow-ups, upward chain)

Revision ID: b2d7f0a3c5e6
Revises: 9a4c6e8f1d23
Create Date: 2026-12-05 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b2d7f0a3c5e6"
down_revision = "9a4c6e8f1d23"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("accident_report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("accident_report")
