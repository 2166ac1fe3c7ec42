"""Shared fixtures: a demo database built once per session and copied for every test."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clock import Clock
from web import create_app
from web.extensions import socketio

# Set to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test) to run the app
# fixtures on PostgreSQL: the demo is loaded once into a template database on that server and
# every test gets its own `CREATE DATABASE ... TEMPLATE` copy (`make test` does a second pass).
TEST_PG_URL = os.environ.get("REDLINE_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | str]:
    """The demo database, loaded once (password hashing and plan import take a while):
    a SQLite file, or on PostgreSQL the name of a template database."""
    if TEST_PG_URL:
        from tests.scale import pgdb

        pgdb.use_server(TEST_PG_URL)
        pgdb.drop_orphans()
        name = pgdb.new_name("tpl")
        url = pgdb.create_database(name)
        try:
            app = create_app({"DATABASE_URL": url, "ASYNC_MODE": "threading",
                              "LOAD_DEMO": True, "DRILL_SCHEDULER": False})
            app.extensions["redline"].engine.dispose()
            yield name
        finally:
            pgdb.drop_database(name)
        return
    path = tmp_path_factory.mktemp("template") / "demo.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "ASYNC_MODE": "threading",
                      "LOAD_DEMO": True, "DRILL_SCHEDULER": False})
    app.extensions["redline"].engine.dispose()
    yield path


@pytest.fixture
def db_url(tmp_path: Path, demo_db_template: Path | str) -> Iterator[str]:
    if isinstance(demo_db_template, str):
        from tests.scale import pgdb

        name = pgdb.new_name()
        yield pgdb.create_database(name, template=demo_db_template)
        # FORCE in drop_database ends connections an app under test left open
        pgdb.drop_database(name)
        return
    path = tmp_path / "redline.db"
    # the template is in WAL mode and a background thread of its app may still hold a
    # connection, so recent writes can sit in demo.db-wal: the backup API copies them too
    src, dst = sqlite3.connect(demo_db_template), sqlite3.connect(path)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    yield f"sqlite:///{path}"


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand; give it to create_app as CLOCK."""
    return Clock()


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                      "DRILL_SCHEDULER": False, "TESTING": True})
    yield app
    app.extensions["redline"].engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def login(client: Any) -> Callable[[str, str | None], dict[str, Any]]:
    """Log in and return {token, role, unit_id, headers}."""

    def _login(username: str, password: str | None = None) -> dict[str, Any]:
        resp = client.post("/api/v1/auth/login",
                           json={"username": username, "password": password or username})
        assert resp.status_code == 200, resp.get_json()
        data = resp.get_json()
        data["headers"] = {"Authorization": f"Bearer {data['token']}"}
        return data

    return _login


@pytest.fixture
def sio(app: Any, login: Callable[..., dict[str, Any]]) -> Callable[[str], Any]:
    """A Socket.IO test client on /hub logged in as the given user."""
    clients: list[Any] = []

    def _connect(username: str) -> Any:
        token = login(username)["token"]
        c = socketio.test_client(app, namespace="/hub", auth={"token": token})
        assert c.is_connected("/hub")
        clients.append(c)
        return c

    yield _connect  # type: ignore[misc]
    for c in clients:
        if c.is_connected("/hub"):
            c.disconnect("/hub")


def events_of(received: list[dict[str, Any]], type_: str | None = None) -> list[dict[str, Any]]:
    """The `event` payloads from a test client's get_received(), optionally of one type."""
    out = [r["args"][0] for r in received if r["name"] == "event"]
    return [e for e in out if type_ is None or e["type"] == type_]
