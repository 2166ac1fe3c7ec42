"""incident government response level, apart from the plan's

Revision ID: 7e3f9b2d4a11
Revises: 5d2e8a1c7b90
Create Date: 2026-12-05 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7e3f9b2d4a11"
down_revision = "5d2e8a1c7b90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("government_response", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("government_response")
