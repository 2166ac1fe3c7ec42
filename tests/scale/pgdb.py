"""Throw-away PostgreSQL databases for tests and benchmarks on the local server.

Names carry the creating process id, so databases left behind by a killed run are found
and dropped by the next run (`drop_orphans`).
"""

from __future__ import annotations

import os
import re
import secrets

import psycopg
from psycopg import sql

# where `CREATE DATABASE` is sent; the server of every test database
ADMIN_URL = os.environ.get("REDLINE_TEST_PG_ADMIN",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "redline_t"
_NAME = re.compile(rf"^{PREFIX}_(\d+)_[0-9a-f]+(_.*)?$")


def use_server(sqlalchemy_url: str) -> None:
    """Create databases on the server of this SQLAlchemy URL (its `postgres` database
    receives the CREATE/DROP DATABASE statements)."""
    global ADMIN_URL
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql", database="postgres")
    ADMIN_URL = url.render_as_string(hide_password=False)


def _admin() -> psycopg.Connection:
    # CREATE/DROP DATABASE cannot run inside a transaction
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def available() -> bool:
    try:
        with _admin() as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def url_for(name: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) of a database on the admin server."""
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    user = info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    host = info.get("host", "127.0.0.1")
    port = info.get("port", "5432")
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"


def new_name(tag: str = "") -> str:
    suffix = f"_{tag}" if tag else ""
    return f"{PREFIX}_{os.getpid()}_{secrets.token_hex(4)}{suffix}"


def create_database(name: str, template: str | None = None) -> str:
    """Create a database (a copy of `template` if given) and return its SQLAlchemy URL."""
    with _admin() as conn:
        if template is not None:
            # a template must have no other sessions while it is copied
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (template,))
            # ~60 ms for a test database with PG 15's default WAL_LOG strategy (FILE_COPY,
            # which forces a checkpoint, measured slower here)
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url_for(name)


def drop_database(name: str) -> None:
    with _admin() as conn:
        # FORCE: a hub process or pool that is still connected must not keep it alive
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def drop_orphans() -> int:
    """Drop test databases whose creating process is gone (a killed or crashed run)."""
    dropped = 0
    with _admin() as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{PREFIX}_%",))]
    for name in names:
        m = _NAME.match(name)
        if m is None:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue  # still running (or the pid was reused: leave it for next time)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        drop_database(name)
        dropped += 1
    return dropped
