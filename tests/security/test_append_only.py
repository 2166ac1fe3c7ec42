"""The event log is append-only: the ORM, bulk statements and raw SQL all fail to change it,
and no code in the hub even tries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from command.models import Event, EventLogIsAppendOnly
from tests.security.helpers import app_for, login, report_fire

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("command", "dispatch", "plans", "web", "bench")
# SQLAlchemy statements aimed at the Event model or the events table
ORM_WRITE = re.compile(r"\b(update|delete)\(\s*Event\b|\b(update|delete)\(\s*Event\.__table__")
SQL_WRITE = re.compile(r"\b(UPDATE\s+\"?events\"?\s+SET|DELETE\s+FROM\s+\"?events\"?\b|"
                       r"TRUNCATE\s+(TABLE\s+)?\"?events\"?\b)", re.IGNORECASE)


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    with app_for(db_url) as app:
        client = app.test_client()
        report_fire(client, login(client, "duty")["headers"])
        yield app


def _log(app: Any) -> list[tuple[Any, ...]]:
    hub = app.extensions["redline"]
    with hub.service.reading() as s:
        return [(e.seq, e.type, e.data, e.actor) for e in s.scalars(select(Event)
                                                                       .order_by(Event.seq))]


def test_orm_updates_and_deletes_of_events_raise(app: Any) -> None:
    hub = app.extensions["redline"]
    before = _log(app)
    assert len(before) >= 3
    attempts = [
        lambda s: setattr(s.get(Event, 1), "data", {"forged": True}),
        lambda s: s.delete(s.get(Event, 1)),
        lambda s: s.execute(update(Event).where(Event.seq == 1).values(type="forged")),
        lambda s: s.execute(delete(Event).where(Event.seq >= 1)),
        lambda s: s.execute(update(Event).values(actor="nobody")),
    ]
    for attempt in attempts:
        with pytest.raises(EventLogIsAppendOnly), hub.service.transaction() as tx:
            attempt(tx.session)
            tx.session.flush()
    assert _log(app) == before


def test_the_database_refuses_raw_sql_on_the_log(app: Any) -> None:
    """Even SQL that goes around the ORM (a console, a script) cannot change the log."""
    hub = app.extensions["redline"]
    before = _log(app)
    forged = ("INSERT OR REPLACE INTO events (seq, type, exercise, at, actor, data) VALUES "
              "(1, 'forged', 0, '2026-01-01 00:00:00', 'x', '{}')")
    dialect = hub.engine.dialect.name
    statements = ["UPDATE events SET type = 'forged' WHERE seq = 1", "DELETE FROM events"]
    if dialect == "sqlite":
        statements.append(forged)  # REPLACE deletes without firing DELETE triggers
    else:
        statements.append("INSERT INTO events (seq, type, exercise, at, actor, data) VALUES "
                          "(1, 'forged', false, now(), 'x', '{}') ON CONFLICT (seq) DO UPDATE "
                          "SET type = 'forged'")
    for sql in statements:
        with pytest.raises(DatabaseError, match="append-only"), hub.engine.begin() as conn:
            conn.execute(text(sql))
    assert _log(app) == before
    # appending still works: the next report adds events after the last one
    client = app.test_client()
    report_fire(client, login(client, "duty")["headers"])
    after = _log(app)
    assert after[:len(before)] == before and len(after) > len(before)
    assert [e[0] for e in after] == list(range(1, len(after) + 1))


def _sources() -> Iterator[Path]:
    for d in SOURCE_DIRS:
        yield from sorted((ROOT / d).rglob("*.py"))
    yield ROOT / "wsgi.py"


def test_no_code_path_updates_or_deletes_events() -> None:
    """Scan the source: no update(Event)/delete(Event) statement and no UPDATE, DELETE or
    TRUNCATE on `events` (attribute changes on a loaded row are refused at flush, above)."""
    offenders: list[str] = []
    for path in _sources():
        if not path.exists() or "migrations" in path.parts:
            continue
        src = path.read_text(encoding="utf-8")
        for m in list(ORM_WRITE.finditer(src)) + list(SQL_WRITE.finditer(src)):
            line = src.count("\n", 0, m.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert not offenders, "the event log is append-only:\n" + "\n".join(offenders)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The patterns above catch the statements they are meant to (so the scan can fail)."""
    for bad in ("s.execute(update(Event).values(x=1))", "session.execute(delete(Event))",
                "conn.execute(text('DELETE FROM events WHERE seq=1'))",
                'cur.execute("update events set type=1")', "TRUNCATE TABLE events"):
        assert ORM_WRITE.search(bad) or SQL_WRITE.search(bad), bad
    for fine in ("update(EventCounter)", "select(Event)", "DELETE FROM eventsx",
                 "delete(Events2)"):
        assert not (ORM_WRITE.search(fine) or SQL_WRITE.search(fine)), fine
