"""Browser tests: Debian's chromium driven by Playwright against a real `python wsgi.py`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.liveserver import ROOT, LiveHub, live_hub

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    # no surprise drills in the middle of a test
    with live_hub(tmp_path_factory.mktemp("browser"), {"DRILL_SCHEDULER": "0"}) as h:
        yield h


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # a browser test that silently skips proves nothing: `make test` installs it
        pytest.fail("Debian chromium is not installed: run .ci/system-deps "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Requests:
    """Every URL the pages of a browser context asked for, to prove none left the machine."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def watch(self, context: Any) -> Any:
        context.on("request", lambda r: self.urls.append(r.url))
        context.on("page", lambda page: page.on("websocket", lambda ws: self.urls.append(ws.url)))
        return context

    def foreign(self) -> list[str]:
        out = []
        for u in self.urls:
            parts = urlsplit(u)
            if parts.scheme in ("data", "blob", "about"):
                continue  # made inside the page, never sent anywhere
            if parts.hostname != "127.0.0.1":
                out.append(u)
        return out


@pytest.fixture()
def requests_seen() -> Requests:
    return Requests()


def login(page: Any, hub: LiveHub, username: str, password: str | None = None) -> None:
    """Log in through the real login form and wait for the role's page to go live."""
    page.goto(hub.url + "/login")
    page.fill("#username", username)
    page.fill("#password", password or username)
    page.press("#password", "Enter")
    page.wait_for_function("() => location.pathname !== '/login'")
    page.wait_for_selector("#conn.online", timeout=20_000)


def screenshot(page: Any, name: str) -> Path:
    """Save to artifacts/ (CI keeps it) and copy to docs/screenshots/ (the README shows it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    shutil.copyfile(path, SCREENSHOTS / name)
    return path
