"""the event log refuses an insert over an existing seq (SQLite INSERT OR REPLACE)

Revision ID: b7d1e0c4f2a9
Revises: b2d7f0a3c5e6
Create Date: 2026-12-05 06:25:00
"""

from __future__ import annotations

from alembic import op

revision = "b7d1e0c4f2a9"
down_revision = "b2d7f0a3c5e6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite's INSERT OR REPLACE deletes the row in its way without firing DELETE triggers:
    # refuse any insert whose seq is taken before the conflict is resolved. PostgreSQL has no
    # REPLACE; its ON CONFLICT DO UPDATE is an UPDATE, which the existing trigger refuses.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE TRIGGER events_no_replace BEFORE INSERT ON events "
                   "WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq) "
                   "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_no_replace")
