"""Several real hub processes on one PostgreSQL database and one Redis, and the clients that
watch them: shared by the scale and fault tests and by bench/load.py."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis
import requests
import socketio

from tests.liveserver import LiveHub
from tests.scale import pgdb

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def hub_env(database_url: str, channel: str, **extra: str) -> dict[str, str]:
    """Settings for one hub process of a cluster sharing `database_url` and a Redis channel."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        # every test's cluster has its own channel: other runs on this machine's Redis never
        # see (or deliver) its events
        "SOCKETIO_CHANNEL": channel,
        "ASYNC_MODE": "eventlet",
        "LOAD_DEMO": "1",
        "DRILL_SCHEDULER": "0",
        # the limiter counts in the shared Redis; tests log in many tablets from one address
        "LOGIN_RATE_LIMIT": "100000/60",
        **extra,
    }


@contextmanager
def pg_database(tag: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not pgdb.available():
        raise RuntimeError("PostgreSQL on 127.0.0.1:5432 is required")
    pgdb.drop_orphans()
    name = pgdb.new_name(tag)
    url = pgdb.create_database(name)
    try:
        yield url
    finally:
        pgdb.drop_database(name)


@contextmanager
def cluster(tmp_path: Path, n: int = 2, tag: str = "cl", **extra: str
            ) -> Iterator[list[LiveHub]]:
    """`n` hub processes on a fresh PostgreSQL database, sharing one Redis channel. They start
    together on the empty database: migration and demo loading take turns under the
    cross-process lock, as in a real deployment."""
    if not redis_available():
        raise RuntimeError("Redis on 127.0.0.1:6379 is required")
    channel = f"redline-test-{secrets.token_hex(4)}"
    with pg_database(tag) as url, ExitStack() as stack:
        hubs = [LiveHub(hub_env(url, channel, **extra), tmp_path / f"hub{i}.log")
                for i in range(n)]
        for h in hubs:
            stack.callback(h.stop)
        for h in hubs:
            h.wait_ready(timeout=120)
        yield hubs


def wait_until(pred: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Watcher:
    """A python-socketio client on /hub that keeps every event it hears by seq.

    `live` counts deliveries per seq (a duplicate live delivery is a bug); `resync` asks the
    hub for everything after a seq, page by page, and merges it in.
    """

    def __init__(self, url: str, token: str, name: str = "") -> None:
        self.url, self.token, self.name = url, token, name
        self.events: dict[int, dict[str, Any]] = {}
        self.live: dict[int, int] = {}
        self.received_at: dict[int, float] = {}
        self.hello: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("event", self._on_event, namespace="/hub")
        self.client.on("hello", self._on_hello, namespace="/hub")
        self.client.on("error", self.errors.append, namespace="/hub")
        self._resyncing = False
        # seqs in the order resync delivered them (the last resync only)
        self.resynced: list[int] = []

    def _on_hello(self, data: dict[str, Any]) -> None:
        self.hello = data

    def _on_event(self, data: dict[str, Any]) -> None:
        with self._lock:
            seq = int(data["seq"])
            if self._resyncing:
                self.resynced.append(seq)
            else:
                self.live[seq] = self.live.get(seq, 0) + 1
                self.received_at.setdefault(seq, time.monotonic())
            self.events.setdefault(seq, data)

    def connect(self, url: str | None = None) -> Watcher:
        if url is not None:
            self.url = url
        self.hello = {}
        self.client.connect(self.url, namespaces=["/hub"], auth={"token": self.token},
                            transports=["websocket"], wait_timeout=15)
        if not wait_until(lambda: bool(self.hello), 10):
            raise TimeoutError(f"{self.name}: no hello from {self.url}")
        return self

    def drop(self) -> None:
        """Lose the connection without a goodbye, as when a tablet's network vanishes: the
        hub learns of it only by the missing pings."""
        ws = getattr(self.client.eio, "ws", None)
        if ws is not None:
            ws.sock.close()
        wait_until(lambda: not self.client.connected, 30)
        # a fresh client object for the next connect, as an app restarting its socket would
        old = self.client
        self.client = socketio.Client(reconnection=False)
        self.client.handlers = old.handlers

    def disconnect(self) -> None:
        if self.client.connected:
            self.client.disconnect()

    def resync(self, since: int) -> list[int]:
        """Fetch every visible event after `since`, page by page until an empty page; returns
        the seqs in the order the hub sent them."""
        self.resynced = []
        while True:
            self._resyncing = True
            try:
                answer = self.client.call("resync", {"since_seq": since}, namespace="/hub",
                                          timeout=30)
            finally:
                self._resyncing = False
            if not answer or not answer.get("ok"):
                raise RuntimeError(f"resync failed: {answer}")
            result = answer["result"]
            if result["count"] == 0:
                return list(self.resynced)
            since = result["last_seq"]

    def duplicates(self) -> dict[int, int]:
        return {s: n for s, n in self.live.items() if n > 1}


def login(url: str, username: str) -> dict[str, Any]:
    r = requests.post(url + "/api/v1/auth/login",
                      json={"username": username, "password": username}, timeout=30)
    r.raise_for_status()
    data = r.json()
    data["headers"] = {"Authorization": f"Bearer {data['token']}"}
    return data


def all_events(url: str, headers: dict[str, str], since: int = 0) -> list[dict[str, Any]]:
    """The event log as this user may see it, over REST (pages of at most 5000)."""
    out: list[dict[str, Any]] = []
    while True:
        page = requests.get(url + f"/api/v1/events?since={since}", headers=headers,
                            timeout=60).json()
        if not page:
            return out
        out.extend(page)
        since = page[-1]["seq"]
