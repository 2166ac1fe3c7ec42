"""Hardening shared by every route: cookie sessions with CSRF, login throttling across
processes, security headers, closed CORS, Socket.IO origin checks and a strict JSON parser.

Two ways to authenticate a request:

* ``Authorization: Bearer <token>`` (tablets, scripts, the simulator): no CSRF token needed,
  a browser never attaches that header on its own.
* the HttpOnly ``redline_session`` cookie set by ``POST /api/v1/auth/login`` with
  ``{"cookie": true}`` (page sessions): every unsafe method must also carry ``X-CSRF-Token``,
  the HMAC of the session token under ``SECRET_KEY`` that the login answer returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound

from web.errors import ApiError

if TYPE_CHECKING:
    from web.auth import RateLimiter

COOKIE_NAME = "redline_session"
# with Secure cookies the __Host- prefix also pins the cookie to this host and path /
SECURE_COOKIE_NAME = "__Host-redline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# ids are INTEGER columns; PostgreSQL's is 32-bit, so nothing larger can name a row
MAX_ID = 2**31 - 1
MAX_CONTENT_LENGTH = 8 * 1024 * 1024
HSTS = "max-age=31536000; includeSubDomains"


# ---- cookie sessions and CSRF ------------------------------------------------------------


def cookie_name(app: Flask | None = None) -> str:
    app = app or current_app
    return SECURE_COOKIE_NAME if app.config.get("SESSION_COOKIE_SECURE") else COOKIE_NAME


def csrf_token(token: str, secret: str | bytes | None = None) -> str:
    """The CSRF token bound to one session token: HMAC-SHA256 under SECRET_KEY."""
    key = secret if secret is not None else current_app.config["SECRET_KEY"]
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, b"redline-csrf:" + token.encode(), hashlib.sha256).hexdigest()


def set_session_cookie(resp: Response, token: str, max_age: int) -> None:
    resp.set_cookie(cookie_name(), token, max_age=max_age, path="/", httponly=True,
                    samesite="Strict", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))


def clear_session_cookie(resp: Response) -> None:
    resp.delete_cookie(cookie_name(), path="/", httponly=True, samesite="Strict",
                       secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))


def cookie_token() -> str | None:
    value = request.cookies.get(cookie_name())
    return value or None


def check_csrf(token: str) -> None:
    """Refuse an unsafe request authenticated by the cookie without the matching CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token(token).encode()):
        raise ApiError(403, "csrf_failed",
                       f"cookie-authenticated requests must send the {CSRF_HEADER} header "
                       "returned by login", CSRF_HEADER)


# ---- login throttling across processes ---------------------------------------------------


class RedisRateLimiter:
    """Fixed-window limiter in Redis (SET NX EX + INCR), shared by every hub process.

    If Redis cannot be reached the hub keeps throttling in-process rather than locking
    everyone out of an emergency system or letting guesses through unthrottled.
    """

    def __init__(self, client: Any, limit: int, window_s: float, *,
                 prefix: str = "redline:ratelimit:login:",
                 fallback: RateLimiter | None = None) -> None:
        self.client, self.limit, self.window_s = client, limit, window_s
        self.prefix = prefix
        if fallback is None:
            from web.auth import RateLimiter

            fallback = RateLimiter(limit, window_s)
        self.fallback = fallback
        self._warned = False
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, spec: str) -> RedisRateLimiter:
        import redis

        from web.auth import RateLimiter

        parsed = RateLimiter.parse(spec)
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, parsed.limit, parsed.window_s, fallback=parsed)

    def hit(self, key: str) -> float | None:
        """Count an attempt; the seconds to wait if over the limit, else None."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        rkey = self.prefix + digest
        window_ms = max(1, int(self.window_s * 1000))
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.set(rkey, 0, px=window_ms, nx=True)
            pipe.incr(rkey)
            pipe.pttl(rkey)
            _, count, ttl_ms = pipe.execute()
        except Exception:
            with self._lock:
                if not self._warned:
                    self._warned = True
                    with contextlib.suppress(RuntimeError):
                        current_app.logger.warning("login rate limiter: Redis unreachable; "
                                                   "throttling in this process only")
            return self.fallback.hit(key)
        if int(count) > self.limit:
            ttl = int(ttl_ms) if ttl_ms is not None and int(ttl_ms) > 0 else window_ms
            return ttl / 1000.0
        return None


def make_login_limiter(config: dict[str, Any], scale: int = 1
                       ) -> RateLimiter | RedisRateLimiter:
    """The login limiter: in Redis when REDIS_URL is set (several hub processes), else local.

    scale multiplies the attempts allowed per window (the per-account limiter, which every
    client address counts into, allows more than one address may try).
    """
    from web.auth import RateLimiter

    spec = config["LOGIN_RATE_LIMIT"]
    if scale != 1:
        count, _, window = str(spec).partition("/")
        spec = f"{int(count) * scale}/{window}"
    url = config.get("REDIS_URL")
    if url:
        return RedisRateLimiter.from_url(url, spec)
    return RateLimiter.parse(spec)


# ---- origins -----------------------------------------------------------------------------


def _own_origins(environ: dict[str, Any]) -> set[str]:
    """The hub's own origin as the browser sees it (also behind a proxy that says so)."""
    out: set[str] = set()
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if host:
        out.add(f"{scheme}://{host}")
    fwd_proto = environ.get("HTTP_X_FORWARDED_PROTO")
    fwd_host = environ.get("HTTP_X_FORWARDED_HOST")
    if (fwd_proto or fwd_host) and (host or fwd_host):
        p = (fwd_proto or scheme).split(",")[0].strip()
        h = (fwd_host or host or "").split(",")[0].strip()
        out.add(f"{p}://{h}")
    return out


def _normalise(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def socketio_origins(listed: list[str] | None) -> Callable[[str | None, dict[str, Any]], bool]:
    """Socket.IO accepts its own origin and those CORS_ORIGINS lists; no other browser page."""
    allowed = {_normalise(o) for o in (listed or []) if o.strip()}
    wildcard = "*" in allowed

    def check(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if not origin:
            return True  # not a browser (tablet app, simulator): nothing to protect
        o = _normalise(origin)
        if wildcard or o in allowed:
            return True
        return o in {_normalise(x) for x in _own_origins(environ or {})}

    return check


def _cors_allowed(origin: str) -> bool:
    listed = {_normalise(o) for o in current_app.config.get("CORS_ORIGINS") or []}
    parts = urlsplit(origin)
    return bool(parts.scheme and parts.netloc) and _normalise(origin) in listed


# ---- strict JSON -------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _reject_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("strings may not contain NUL characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            _reject_nul(k)
            _reject_nul(v)
    elif isinstance(value, list):
        for v in value:
            _reject_nul(v)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but NaN/Infinity, NUL characters and absurd nesting are malformed
    input (400) instead of values that crash a database driver or the parser (500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _reject_constant)
        try:
            value = json.loads(s, **kwargs)
            _reject_nul(value)
        except RecursionError:
            raise ValueError("JSON is nested too deeply") from None
        return value


# ---- installing it all -------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Install the request guards and response headers on the app."""
    old = app.json
    provider = StrictJSONProvider(app)
    for attr in ("ensure_ascii", "sort_keys", "compact", "mimetype"):
        if hasattr(old, attr):
            setattr(provider, attr, getattr(old, attr))
    app.json = provider
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH

    @app.url_value_preprocessor
    def _bounded_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # an id no row can have would overflow the database driver: it is simply not there
        for name, v in (values or {}).items():
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= MAX_ID:
                if request.path.startswith("/api/"):
                    raise ApiError(404, "not_found", f"no {name.removesuffix('_id')} {v}",
                                   name)
                raise NotFound()

    @app.after_request
    def _hardening_headers(resp: Response) -> Response:
        if app.config.get("SESSION_COOKIE_SECURE"):
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        resp.headers.setdefault("X-Permitted-Cross-Domain-Policies", "none")
        # CORS is closed unless CORS_ORIGINS lists the origin; never with credentials
        origin = request.headers.get("Origin")
        if request.path.startswith("/api/"):
            resp.headers.pop("Access-Control-Allow-Origin", None)
            resp.headers.pop("Access-Control-Allow-Credentials", None)
            if origin and _cors_allowed(origin):
                resp.headers["Access-Control-Allow-Origin"] = origin
                resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                resp.headers["Access-Control-Allow-Methods"] = (
                    "GET, POST, PUT, PATCH, DELETE, OPTIONS")
                resp.headers["Access-Control-Max-Age"] = "600"
            resp.vary.add("Origin")
        return resp



def client_address(remote_addr: str | None, forwarded_for: str | None,
                   trusted: list[str]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = remote_addr or ""
    if not trusted or not _in_networks(peer, trusted) or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):  # the right end was added by the proxy nearest to us
        if not _in_networks(hop, trusted):
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _in_networks(addr: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False
