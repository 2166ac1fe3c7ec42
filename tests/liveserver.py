"""Start real hub processes for server, browser and fault tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveHub:
    """A `python wsgi.py` process on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "PYTHONUNBUFFERED": "1", **env}
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "wsgi.py")], cwd=ROOT,
                                     env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> LiveHub:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"hub not ready: {self.log_path.read_text()[-3000:]}")

    def login(self, username: str, password: str | None = None) -> dict[str, Any]:
        r = requests.post(self.url + "/api/v1/auth/login",
                          json={"username": username, "password": password or username},
                          timeout=10)
        r.raise_for_status()
        data = r.json()
        data["headers"] = {"Authorization": f"Bearer {data['token']}"}
        return data

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


@contextmanager
def live_hub(tmp_path: Path, env: dict[str, str] | None = None, name: str = "hub"
             ) -> Iterator[LiveHub]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "ASYNC_MODE": "eventlet",
           "LOAD_DEMO": "1", **(env or {})}
    hub = LiveHub(env, tmp_path / f"{name}.log")
    try:
        yield hub.wait_ready()
    finally:
        hub.stop()
