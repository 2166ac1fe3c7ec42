"""Bearer-token authentication and role checks for REST routes."""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from command.auth import Actor, AuthError, authenticate
from command.models import Role
from web.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])


def hub() -> Any:
    """The app's Hub (services bound to this app)."""
    return current_app.extensions["redline"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return None


def current_actor() -> Actor:
    actor: Actor | None = g.get("actor")
    if actor is None:
        raise ApiError(401, "unauthorized", "missing bearer token")
    return actor


def require(*roles: Role) -> Callable[[F], F]:
    """Authenticate the bearer token and allow only the given roles (none given: any role)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from web import security

            token = bearer_token()
            if not token:
                # a page session: the HttpOnly cookie, and a CSRF token on unsafe methods
                token = security.cookie_token()
                if not token:
                    raise ApiError(401, "unauthorized", "missing bearer token")
                security.check_csrf(token)
            h = hub()
            with h.service.reading() as s:
                try:
                    actor = authenticate(s, token, h.service.clock())
                except AuthError as exc:
                    raise ApiError(401, "unauthorized", str(exc)) from None
            if roles and actor.role not in roles:
                raise ApiError(403, "forbidden", f"role {actor.role.value} may not do this")
            g.actor = actor
            return view(*args, **kwargs)

        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


class RateLimiter:
    """Sliding-window limiter per key (login attempts per client address and username).

    At most max_keys keys are kept. Past that, keys with nothing left in the window go
    first, then the ones tried least recently; the table is never wiped, so spraying new
    usernames cannot reset the count of a key that is still being tried.
    """

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._clock = clock
        # insertion order is last-attempt order: every hit moves its key to the end
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, spec: str) -> RateLimiter:
        count, _, window = spec.partition("/")
        return cls(int(count), float(window or 60))

    def tracked_keys(self) -> int:
        """How many keys the limiter holds (bounded by max_keys)."""
        return len(self._hits)

    def hit(self, key: str) -> float | None:
        """Count an attempt; the seconds to wait if over the limit, else None."""
        now = self._clock()
        with self._lock:
            # a refused attempt refreshes the key too: a key under attack is never the oldest
            q = self._hits.pop(key, None) or deque()
            self._hits[key] = q
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return self.window_s - (now - q[0])
            q.append(now)
            if len(self._hits) > self.max_keys:
                self._evict(now)
            return None

    def _evict(self, now: float) -> None:
        """Drop expired keys, then the least recently tried, down to max_keys."""
        cutoff = now - self.window_s
        # keys are in last-attempt order, so the expired ones sit at the front
        expired = []
        for key, q in self._hits.items():
            if q and q[-1] > cutoff:
                break
            expired.append(key)
        for key in expired:
            del self._hits[key]
        while len(self._hits) > self.max_keys:
            del self._hits[next(iter(self._hits))]


def authenticate_token(token: str) -> Actor:
    h = hub()
    with h.service.reading() as s:
        return authenticate(s, token, h.service.clock())
