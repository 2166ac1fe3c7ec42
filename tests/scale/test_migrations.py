"""The Alembic revisions build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from command.db import make_engine
from command.migrate import head_revision, metadata, upgrade
from tests.scale import pgdb


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not pgdb.available():
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required for the services tests")
    pgdb.drop_orphans()
    name = pgdb.new_name("mig")
    url = pgdb.create_database(name)
    try:
        yield url
    finally:
        pgdb.drop_database(name)


def _assert_head_matches_models(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
            diffs = compare_metadata(ctx, metadata())
            assert diffs == [], diffs
            assert ctx.get_current_revision() == head_revision()
            tables = set(inspect(conn).get_table_names())
        # every model's table is there (plans, drills and sensors too), not just an empty diff
        assert set(metadata().tables) <= tables
        for name in ("events", "incidents", "regions", "plan_versions"):
            assert name in tables
        # running again is a no-op: a second hub process starting finds the schema at head
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


def test_initial_revision_matches_models_on_sqlite(tmp_path: Path) -> None:
    _assert_head_matches_models(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.services
def test_initial_revision_matches_models_on_postgresql(pg_url: str) -> None:
    _assert_head_matches_models(pg_url)


def test_a_model_change_without_a_migration_is_detected(tmp_path: Path) -> None:
    """The comparison can fail: a column the migrations lack shows up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        upgrade(engine)
        md = MetaData()
        for table in metadata().tables.values():
            table.to_metadata(md)
        Table("events", md, Column("extra_column", Integer), extend_existing=True)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, md)
        assert any(d[0] == "add_column" and d[3].name == "extra_column" for d in diffs), diffs
    finally:
        engine.dispose()


@pytest.mark.services
def test_writers_in_opposite_order_do_not_deadlock_on_postgresql(pg_url: str) -> None:
    """One writer changes a row then records an event, another records then changes that row,
    both through CommandService.transaction() as production does: the writers' lock taken when
    the transaction opens serialises them, where otherwise PostgreSQL aborts one as a
    deadlock."""
    import threading
    import time

    from command.db import make_sessionmaker, session_scope
    from command.events import MemoryPublisher, ensure_counter
    from command.models import Event, Region, RegionLevel
    from command.service import CommandService
    from dispatch.graph import RoadGraph

    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with session_scope(sessions) as s:
            ensure_counter(s)
            s.add(Region(id=1, name="p", level=RegionLevel.PROVINCE))
        service = CommandService(sessions, RoadGraph.load(), MemoryPublisher())
        errors: list[BaseException] = []

        def row_then_event() -> None:
            try:
                with service.transaction() as tx:
                    tx.session.get(Region, 1).name = "a"  # type: ignore[union-attr]
                    tx.session.flush()
                    time.sleep(0.5)
                    tx.record("x", {})
            except BaseException as exc:
                errors.append(exc)

        def event_then_row() -> None:
            try:
                time.sleep(0.1)
                with service.transaction() as tx:
                    tx.record("y", {})
                    time.sleep(0.5)
                    tx.session.get(Region, 1).name = "b"  # type: ignore[union-attr]
                    tx.session.flush()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=f) for f in (row_then_event, event_then_row)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        with sessions() as s:
            assert sorted(s.scalars(select(Event.seq))) == [1, 2]
            assert s.get(Region, 1).name in ("a", "b")  # type: ignore[union-attr]
    finally:
        engine.dispose()
