"""Database plumbing shared by the domain packages: the declarative base, engines, sessions."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UTCDateTime}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


READ_ONLY = "redline_read_only"


def begin_read_only(session: Session) -> None:
    """Start the session's transaction as a reader (SQLite: no write lock). It must not write."""
    session.connection(execution_options={READ_ONLY: True})


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so several threads can write."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # isolation_level=None hands transaction control to the BEGIN listener below,
            # so "BEGIN IMMEDIATE" takes the write lock up front instead of failing mid-way.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # readers take no lock: WAL gives them a consistent snapshot while a writer works
            read = conn.get_execution_options().get(READ_ONLY)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        return create_engine(
            url,
            # after a PostgreSQL restart every pooled connection is dead: test each one on
            # checkout (one round trip) so a request gets a fresh connection, not an error
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            # a request waits at most this long for a pooled connection, then fails (503/500)
            # instead of hanging while the database is away
            pool_timeout=10,
            connect_args={
                # fail fast while the server is down or unreachable instead of the OS's minutes
                "connect_timeout": 5,
                "application_name": "redline",
                # a frozen process holding the seq counter row lock would stall every writer in
                # every process; the server ends such a transaction after a minute
                "options": "-c idle_in_transaction_session_timeout=60000",
            },
        )
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


# Every write transaction appends events, and taking a seq locks the one counter row until
# commit. A transaction that first updates, say, a unit row and only then takes a seq could
# deadlock with one that took a seq first and then wants that unit (PostgreSQL aborts one).
# So on PostgreSQL a session locks the counter row before its first write reaches the
# database: writers queue on one lock in one order and can never deadlock on each other.
# (SQLite needs nothing: BEGIN IMMEDIATE already lets one writer in at a time.)
_WRITE_LOCK_SQL = text("SELECT value FROM event_counter WHERE id = 1 FOR UPDATE")
_WRITE_LOCKED = "redline_write_locked"


def _lock_before_first_write(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get(_WRITE_LOCKED):
        return
    session.info[_WRITE_LOCKED] = True
    session.execute(_WRITE_LOCK_SQL)


def _forget_write_lock(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its locks are gone
        session.info.pop(_WRITE_LOCKED, None)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":
        event.listen(factory, "before_flush", _lock_before_first_write)
        event.listen(factory, "after_transaction_end", _forget_write_lock)
    return factory


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


@contextmanager
def cross_process_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold a lock named `name` that every process using this database respects.

    Used for one-off start-up work that two hub processes starting together on an empty
    database must not both do (schema migration, demo loading). PostgreSQL: a session-level
    advisory lock on a dedicated connection (released by the server if the process dies).
    SQLite: flock on a file next to the database (released by the kernel if the process dies).
    """
    if engine.dialect.name == "postgresql":
        key = _lock_key(f"redline:{name}")
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            # end the implicit transaction: the session lock outlives it, and an idle open
            # transaction would hold back vacuum while the locked work runs
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        path = Path(database).with_name(Path(database).name + f".{name}.lock")
        with open(path, "a+b") as fh:
            # blocks the whole process (also under eventlet); only used at start-up
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    # an in-memory database lives in one process: a thread lock is enough
    with _local_locks_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    with lock:
        yield
