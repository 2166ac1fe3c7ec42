"""The event log through the path production uses (CommandService.transaction → Tx.record →
Tx.seal → append_events): gapless seq in commit order under concurrent writers, nothing left
behind by a rollback, append-only rows, visibility rules. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from command.db import make_engine, make_sessionmaker, session_scope
from command.events import MemoryPublisher, PublishedEvent, Viewer, ensure_counter, events_since
from command.migrate import upgrade
from command.models import Event, EventLogIsAppendOnly, Role
from command.service import CommandService
from dispatch.graph import RoadGraph
from tests.scale import pgdb


@pytest.fixture(scope="module")
def graph() -> RoadGraph:
    return RoadGraph.load()


@dataclass
class Log:
    service: CommandService
    published: MemoryPublisher


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def log(request: pytest.FixtureRequest, tmp_path: Path, graph: RoadGraph) -> Iterator[Log]:
    """A command service with the migrated schema on a real database file / server."""
    name = None
    if request.param == "postgresql":
        if not pgdb.available():
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required for the services tests")
        pgdb.drop_orphans()
        name = pgdb.new_name("log")
        url = pgdb.create_database(name)
    else:
        url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with session_scope(sessions) as s:
            ensure_counter(s)
        published = MemoryPublisher()
        yield Log(CommandService(sessions, graph, published), published)
    finally:
        engine.dispose()
        if name is not None:
            pgdb.drop_database(name)


def _rows(log: Log) -> list[PublishedEvent]:
    """The stored log, read back from the database."""
    with log.service.reading() as s:
        return [PublishedEvent.from_row(r) for r in s.scalars(select(Event).order_by(Event.seq))]


def test_seq_is_gapless_and_in_commit_order_under_concurrent_writers(log: Log) -> None:
    writers, per_writer = 4, 8
    # the order transactions held the write lock in (SQLite's BEGIN IMMEDIATE, PostgreSQL's
    # counter row lock): appended while holding it, so it is the commit order
    lock_order: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(per_writer):
                with log.service.transaction() as tx:
                    tx.session.execute(select(Event.seq).limit(1))  # take the write lock
                    lock_order.append((w, i))
                    for j in range(1 + (w + i) % 3):  # 1 to 3 events per transaction
                        tx.record("test", {"w": w, "i": i, "j": j})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = _rows(log)
    total = sum(1 + (w + i) % 3 for w in range(writers) for i in range(per_writer))
    assert [r.seq for r in rows] == list(range(1, total + 1)), "gapless and unique"
    # each transaction's events are one consecutive block, in the order they were recorded,
    # and the blocks follow the order the transactions committed
    blocks: list[tuple[int, int]] = []
    for r in rows:
        key = (r.data["w"], r.data["i"])
        if not blocks or blocks[-1] != key:
            blocks.append(key)
    assert blocks == lock_order
    for key in lock_order:
        assert [r.data["j"] for r in rows if (r.data["w"], r.data["i"]) == key] == \
            list(range(1 + sum(key) % 3))
    # every committed event was published exactly once, with the seq it was stored under
    assert sorted(e.seq for e in log.published.events) == list(range(1, total + 1))
    assert {e.seq: e.data for e in log.published.events} == {r.seq: r.data for r in rows}


def test_a_rolled_back_transaction_leaves_no_gap(log: Log) -> None:
    with log.service.transaction() as tx:
        tx.record("a", {})
    with pytest.raises(RuntimeError), log.service.transaction() as tx:
        tx.record("b", {})
        tx.record("b", {})
        raise RuntimeError("boom")
    with log.service.transaction() as tx:
        tx.record("c", {})
    assert [(r.seq, r.type) for r in _rows(log)] == [(1, "a"), (2, "c")]
    assert [(e.seq, e.type) for e in log.published.events] == [(1, "a"), (2, "c")]
    assert [e.seq for e in tx.events] == [2]


def test_events_cannot_be_updated_or_deleted(log: Log) -> None:
    with log.service.transaction() as tx:
        tx.record("a", {"x": 1})
    sessions = log.service.sessions
    with pytest.raises(EventLogIsAppendOnly), session_scope(sessions) as s:
        row = s.get(Event, 1)
        assert row is not None
        row.data = {"x": 2}
    with pytest.raises(EventLogIsAppendOnly), session_scope(sessions) as s:
        s.delete(s.get(Event, 1))
    assert [r.data for r in _rows(log)] == [{"x": 1}]


def test_units_see_only_their_events_and_trainers_only_exercises(log: Log) -> None:
    with log.service.transaction() as tx:
        tx.record("task_board", {}, unit_id=1, county_id=3)
        tx.record("task_board", {}, unit_id=2, county_id=3)
        tx.record("incident.created", {}, county_id=3, exercise=True)
        tx.record("incident.created", {}, county_id=4)
    with log.service.reading() as s:
        unit1 = events_since(s, Viewer(Role.UNIT, unit_id=1), 0)
        trainer = events_since(s, Viewer(Role.TRAINER), 0)
        county3 = events_since(s, Viewer(Role.DUTY_OFFICER, counties=frozenset({3})), 0)
        everyone = events_since(s, Viewer(Role.DUTY_OFFICER), 0)
    assert [e.seq for e in unit1] == [1]
    assert [e.seq for e in trainer] == [3]
    assert [e.seq for e in county3] == [1, 2, 3]
    assert [e.seq for e in everyone] == [1, 2, 3, 4]
    viewer = Viewer(Role.UNIT, unit_id=2)
    assert all(viewer.may_see(e) == (e.unit_id == 2) for e in everyone)
    assert isinstance(everyone[0], PublishedEvent)
    assert everyone == log.published.events
