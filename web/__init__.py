"""The Flask + Flask-SocketIO hub: application factory."""

from __future__ import annotations

import gzip
import importlib
import json
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import IntegrityError

from command.db import make_engine, make_sessionmaker, session_scope
from command.directory import EnterpriseDirectory
from command.events import ensure_counter, last_seq
from command.service import CommandService, DispatchSettings
from dispatch.graph import RoadGraph
from web.config import from_env
from web.extensions import socketio
from web.publisher import SocketIOPublisher
from web.security import make_login_limiter, socketio_origins

MAP_ATTRIBUTION = (
    '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap contributors</a> (ODbL)'
)

FEATURE_MODULES: list[str] = [
    name for name in ("plans_api", "plan_filing_api", "coverage_api", "drills_api",
                      "drill_programme_api", "resources_api", "sensors_api", "admin_api")
    if (Path(__file__).parent / f"{name}.py").exists()
]

_graphs: dict[str, RoadGraph] = {}
_graphs_lock = threading.Lock()


def load_graph(path: str | None) -> RoadGraph:
    """Load a road graph once per process; tests build many apps on the same map."""
    key = path or "<default>"
    with _graphs_lock:
        if key not in _graphs:
            _graphs[key] = RoadGraph.load(Path(path)) if path else RoadGraph.load()
        return _graphs[key]


class Hub:
    """Everything bound to one app: database, graph, services, live connections."""

    def __init__(self, app: Flask, config: dict[str, Any]) -> None:
        self.config = config
        self.engine = make_engine(config["DATABASE_URL"])
        self.sessions = make_sessionmaker(self.engine)
        self.graph = load_graph(config.get("MAP_PATH"))
        self.map_attribution = MAP_ATTRIBUTION
        self.publisher = config.get("PUBLISHER") or SocketIOPublisher(socketio, self._ancestors)
        self.service = CommandService(self.sessions, self.graph, self.publisher,
                                      spawn=self._spawn,
                                      settings=DispatchSettings.from_config(config),
                                      **({"clock": config["CLOCK"]} if config.get("CLOCK")
                                         else {}))
        self.plans = EnterpriseDirectory(self.sessions, self.service.region_counties)
        # in Redis when REDIS_URL is set, so every hub process counts the same attempts
        self.login_limiter = make_login_limiter(config)
        # per account, whatever the address: many addresses must not add up to many guesses
        self.account_limiter = make_login_limiter(config, scale=5)
        self.connections: dict[str, dict[str, Any]] = {}
        self._roads_gz: bytes | None = None

    def _spawn(self, fn: Any) -> Any:
        # follow-up work runs after the response in the async mode's own kind of thread;
        # tests (TESTING) run it inline so what they assert is already there
        if self.config.get("TESTING") or self.config.get("INLINE_FOLLOW_UPS"):
            return fn()
        return socketio.start_background_task(fn)

    def _ancestors(self, county_id: int | None) -> list[int]:
        return self.service.county_ancestors(county_id)

    def last_seq(self) -> int:
        with self.service.reading() as s:
            return last_seq(s)

    def init_db(self) -> None:
        """Migrate the schema to the newest revision and create the seq counter.

        Safe when several hub processes start together on an empty database: migrations run
        under a cross-process lock, and a counter row inserted by another process meanwhile
        is fine.
        """
        from command.migrate import upgrade

        upgrade(self.engine)
        try:
            with session_scope(self.sessions) as s:
                ensure_counter(s)
        except IntegrityError:
            pass  # another process created the row between our check and insert

    def roads_response(self) -> Response:
        if self._roads_gz is None:
            raw = json.dumps(self.graph.roads_geojson(), separators=(",", ":")).encode()
            self._roads_gz = gzip.compress(raw, 6)
        resp = Response(self._roads_gz, mimetype="application/json")
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the hub. `config` overrides environment settings (tests pass a dict)."""
    app = Flask(__name__, instance_relative_config=True)
    settings = from_env(Path(app.instance_path))
    settings.update(config or {})
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"]
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_SECURE"] = settings["SESSION_COOKIE_SECURE"]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    hub = Hub(app, settings)
    app.extensions["redline"] = hub
    hub.init_db()
    if settings.get("LOAD_DEMO"):
        from command.demo import load_demo_if_empty

        load_demo_if_empty(hub)

    # handlers must be registered before the first init_app: Flask-SocketIO copies only the
    # handlers it knew before a server existed onto every later server (each create_app)
    from web import hub as _register_handlers  # noqa: F401

    redis_url = settings.get("REDIS_URL")
    # with Redis every hub process publishes each emit on one channel and delivers what the
    # others publish to its own clients; tests and side-by-side deployments sharing a Redis
    # use their own channel. Without Redis, client_manager=None drops a queue that an earlier
    # create_app in this process configured on the shared SocketIO object.
    queue: dict[str, Any] = (
        {"message_queue": redis_url, "channel": settings.get("SOCKETIO_CHANNEL") or "redline"}
        if redis_url else {"message_queue": None, "client_manager": None})
    socketio.init_app(
        app,
        async_mode=settings["ASYNC_MODE"],
        **queue,
        # the hub's own origin plus CORS_ORIGINS; any other browser origin is refused
        cors_allowed_origins=socketio_origins(settings["CORS_ORIGINS"]),
        # tablets on flaky Wi-Fi: notice a dead link within ~25 s
        ping_interval=10,
        ping_timeout=15,
        max_http_buffer_size=1_000_000,
    )

    from web import api, errors, openapi, pages, security

    errors.register(app)
    security.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(pages.bp)
    for name in FEATURE_MODULES:
        # each feature (plans, drills, sensors, admin) is a module with a blueprint and an
        # optional init_app(app, hub) that starts its background work
        module = importlib.import_module(f"web.{name}")
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app, hub)

    @app.after_request
    def _security_headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self' ws: wss:; media-src 'self' data:; "
            "frame-ancestors 'none'",
        )
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    return app
