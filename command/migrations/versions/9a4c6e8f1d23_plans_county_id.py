"""county default plan per county (plans.county_id)

Revision ID: 9a4c6e8f1d23
Revises: 7e3f9b2d4a11
Create Date: 2026-12-05 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9a4c6e8f1d23"
down_revision = "7e3f9b2d4a11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("county_id", sa.Integer(), nullable=True))
        batch.create_index("ix_plans_county_id", ["county_id"])
        batch.create_foreign_key("fk_plans_county_id_regions", "regions", ["county_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint("fk_plans_county_id_regions", type_="foreignkey")
        batch.drop_index("ix_plans_county_id")
        batch.drop_column("county_id")
