"""Configuration from environment variables, with safe defaults for the embedded hub."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_env(instance_dir: Path) -> dict[str, Any]:
    """Read the hub's settings; everything has a default that runs on one machine."""
    env = os.environ
    instance_dir.mkdir(parents=True, exist_ok=True)
    return {
        "DATABASE_URL": env.get("DATABASE_URL", f"sqlite:///{instance_dir / 'redline.db'}"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "MQTT_URL": env.get("MQTT_URL") or None,
        "ASYNC_MODE": env.get("ASYNC_MODE", "eventlet"),
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance_dir),
        "MAP_PATH": env.get("MAP_PATH") or None,
        "TILE_URL": env.get("TILE_URL") or None,
        "TOKEN_TTL_S": int(env.get("TOKEN_TTL_S", str(12 * 3600))),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10/60"),
        # proxies (addresses or networks) whose X-Forwarded-For is believed; none by default,
        # so a client cannot pick its own address by sending the header
        "TRUSTED_PROXIES": [p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",")
                            if p.strip()],
        "CORS_ORIGINS": [o for o in env.get("CORS_ORIGINS", "").split(",") if o],
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), False),
        # off for production entry points (wsgi.py, gunicorn): an empty production database
        # must never get the demo's well-known passwords; `redline serve` / `make run` turn it on
        "LOAD_DEMO": _bool(env.get("LOAD_DEMO"), False),
        "DRILL_SCHEDULER": _bool(env.get("DRILL_SCHEDULER"), True),
        # turnout seconds per unit kind (or capability) added to travel time for the ETA,
        # e.g. "ems=60,fire=80"; unset keeps the NFPA 1710 defaults
        "TURNOUT_S": parse_turnout(env.get("TURNOUT_S")),
        # a reported or unit position farther than this from any road is refused
        "MAX_SNAP_M": float(env.get("MAX_SNAP_M", "1000")),
        # Redis channel of the Socket.IO queue; platforms sharing one Redis need different ones
        "SOCKETIO_CHANNEL": env.get("SOCKETIO_CHANNEL") or "redline",
        # repeatable drill moments and scenarios (tests, demos): a known seed makes them
        # predictable, so production leaves it unset
        "DRILL_SEED": env.get("DRILL_SEED") or None,
        "DRILL_TICK_S": float(env.get("DRILL_TICK_S", "1")),
        "SENSOR_CORRELATION_S": float(env.get("SENSOR_CORRELATION_S", "120")),
        "MQTT_TOPIC_PREFIX": env.get("MQTT_TOPIC_PREFIX") or "redline/sensors",
    }


def parse_turnout(value: str | None) -> dict[str, float] | None:
    """`kind=seconds,kind=seconds` → {kind: seconds}; None when unset. A typo must stop the
    hub at start, not silently fall back to the defaults."""
    if not value or not value.strip():
        return None
    out: dict[str, float] = {}
    for part in value.split(","):
        kind, sep, secs = part.partition("=")
        kind = kind.strip()
        try:
            seconds = float(secs)
        except ValueError:
            seconds = -1.0
        if not sep or not kind or not 0.0 <= seconds <= 3600.0:
            raise ValueError(f"TURNOUT_S: expected kind=seconds (0-3600), got {part!r}")
        out[kind] = seconds
    return out


def _instance_secret(instance_dir: Path) -> str:
    """A per-installation secret kept in the instance folder, so restarts keep sessions."""
    path = instance_dir / "secret_key"
    try:
        # created readable by the owner only from the first byte; two processes starting
        # together: the second finds the file and reads the first one's secret
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    for _ in range(100):  # another process may be between creating and writing it
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty; delete it and start again")
