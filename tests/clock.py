"""A hand-moved clock for tests, so expiry, hold times and secret drill moments are checked
without waiting. Pass it as the app's CLOCK or a service's clock; the `clock` fixture in
tests/conftest.py gives a fresh one per test."""

from __future__ import annotations

import datetime as dt


class Clock:
    """Returns `now` until the test moves it."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        # whole seconds, so ISO strings built from it round-trip exactly
        self.now = start or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def to(self, when: dt.datetime) -> None:
        self.now = when
