"""Stop and start this machine's Redis and PostgreSQL for fault tests, and always leave them
running: CI runs every other test against the same services."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
               "--port", "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]


def redis_up() -> bool:
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
                       capture_output=True, text=True, timeout=10)
    return r.stdout.strip() == "PONG"


def redis_stop() -> None:
    # nosave: the queue holds nothing worth keeping, and a save would only slow the restart
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
                   capture_output=True, timeout=10)
    _wait(lambda: not redis_up(), 10, "redis did not stop")


def redis_start() -> None:
    if redis_up():
        return
    subprocess.run(REDIS_START, check=True, capture_output=True, timeout=20)
    _wait(redis_up, 20, "redis did not start")


def _pg_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]


def pg_up() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-t", "2"],
                          capture_output=True, timeout=10).returncode == 0


def pg_ctl(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", _pg_version(), "main", action],
                   check=True, capture_output=True, timeout=120)


def pg_restart() -> None:
    pg_ctl("restart")
    _wait(pg_up, 60, "postgresql did not come back")


def pg_ensure_running() -> None:
    if not pg_up():
        pg_ctl("start")
        _wait(pg_up, 60, "postgresql did not start")


def _wait(pred: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise RuntimeError(message)
