"""Sensor readings in (HTTP with per-enterprise ingest tokens, MQTT), warnings and stats out."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from command.models import Role
from command.sensors import MqttBridge, SensorEngine
from web.api import body
from web.auth import bearer_token, current_actor, require
from web.errors import ApiError
from web.extensions import socketio

bp = Blueprint("sensors", __name__, url_prefix="/api/v1")

OFFICERS = (Role.DUTY_OFFICER, Role.ADMIN)
VIEWERS = (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
MAX_BATCH = 5000
DEFAULT_TOPIC_PREFIX = "redline/sensors"
DEFAULT_CORRELATION_S = 120.0


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SilenceBody(Strict):
    minutes: Annotated[int, Field(ge=1, le=24 * 60)]


class DismissBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


def sensors() -> SensorEngine:
    """The app's sensor engine."""
    return current_app.extensions["redline.sensors"]  # type: ignore[no-any-return]


_pump_lock = threading.Lock()


def ensure_pump(engine: SensorEngine) -> None:
    """Start the background task that drains MQTT and runs heartbeats (once per engine)."""
    with _pump_lock:
        if engine.pumping or engine.stopped.is_set():
            return
        engine.pumping = True
    socketio.start_background_task(engine.run, socketio.sleep)


def init_app(app: Flask, h: Any) -> None:
    """Load the sensors (their tables come from the migrations), connect to MQTT if configured.

    Settings come from the app config (web/config.py reads the environment).
    """
    engine = SensorEngine(h.service, correlation_window_s=float(
        h.config.get("SENSOR_CORRELATION_S") or DEFAULT_CORRELATION_S))
    engine.topic_prefix = str(h.config.get("MQTT_TOPIC_PREFIX") or DEFAULT_TOPIC_PREFIX)
    engine.start()
    app.extensions["redline.sensors"] = engine
    h.sensors = engine
    url = h.config.get("MQTT_URL")
    if url:
        engine.bridge = MqttBridge(url, engine.topic_prefix, engine.offer)
        engine.bridge.start()
        ensure_pump(engine)
    if not h.config.get("TESTING"):
        # a serving hub runs heartbeats from its first request on, so a sensor seen before a
        # restart is flagged silent even if no reading ever comes again; apps that never serve
        # (the test suite's demo template) and test apps (many per run, never stopped) start
        # the pump with their first reading instead
        app.before_request(lambda: _start_pump_once(engine))


def _start_pump_once(engine: SensorEngine) -> None:
    if not engine.pumping:
        ensure_pump(engine)


@bp.post("/sensors/readings")
def post_readings() -> Any:
    """A batch of readings from one enterprise, authenticated by its ingest token."""
    engine = sensors()
    token = bearer_token()
    enterprise_id = engine.enterprise_for_token(token) if token else None
    if enterprise_id is None:
        raise ApiError(401, "unauthorized", "missing or invalid ingest token")
    data = request.get_json(silent=True)
    items = data.get("readings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        engine.stats.count("malformed", enterprise_id, error="body is not {readings: [...]}")
        raise ApiError(422, "invalid", 'body must be {"readings": [...]}', "readings")
    if len(items) > MAX_BATCH:
        raise ApiError(413, "too_large", f"at most {MAX_BATCH} readings per request",
                       "readings")
    foreign = {i.get("enterprise_id") for i in items if isinstance(i, dict)
               and isinstance(i.get("enterprise_id"), int)
               and not isinstance(i.get("enterprise_id"), bool)} - {enterprise_id}
    if foreign:
        raise ApiError(403, "forbidden", "this token sends readings for its own enterprise only",
                       "readings")
    ensure_pump(engine)
    result = engine.ingest_items(enterprise_id, items).as_dict()
    return jsonify({**result, "faults": engine.faults_of(enterprise_id)})


@bp.post("/enterprises/<int:enterprise_id>/ingest-token")
@require(Role.ADMIN)
def issue_ingest_token(enterprise_id: int) -> Any:
    """A new ingest token for an enterprise, shown only in this answer."""
    token = sensors().issue_token(current_actor(), enterprise_id)
    return jsonify({"enterprise_id": enterprise_id, "token": token}), 201


@bp.get("/sensors")
@require(*VIEWERS)
def list_sensors() -> Any:
    """Every registered sensor with its last value, alarm level and faults."""
    return jsonify(sensors().sensors_view(current_actor()))


@bp.get("/sensors/stats")
@require(*OFFICERS)
def stats() -> Any:
    """Readings accepted, unknown, malformed (in total and per enterprise), MQTT link state."""
    engine = sensors()
    bridge = engine.bridge
    return jsonify({
        **engine.stats.view(),
        "sensors": len(engine.trackers),
        "config_problems": engine.registry.problems,
        "queue": engine.inbox.qsize(),
        "mqtt": None if bridge is None else {
            "url": bridge.public_url, "topic": f"{bridge.prefix}/+/+",
            "connected": bridge.connected.is_set(), "connects": bridge.connects},
    })


@bp.get("/sensors/warnings")
@require(*VIEWERS)
def list_warnings() -> Any:
    """Warnings, newest first; ?status=open|acked|silenced|dismissed|cleared|active."""
    return jsonify(sensors().list_warnings(current_actor(), request.args.get("status")))


@bp.get("/sensors/faults")
@require(*VIEWERS)
def list_faults() -> Any:
    """Open sensor faults (?all=1 for cleared ones too)."""
    return jsonify(sensors().list_faults(current_actor(),
                                         open_only=request.args.get("all") not in ("1", "true")))


@bp.post("/sensors/warnings/<int:warning_id>/ack")
@require(*OFFICERS)
def ack_warning(warning_id: int) -> Any:
    return jsonify(sensors().ack(current_actor(), warning_id))


@bp.post("/sensors/warnings/<int:warning_id>/silence")
@require(*OFFICERS)
def silence_warning(warning_id: int) -> Any:
    data = body(SilenceBody)
    return jsonify(sensors().silence(current_actor(), warning_id, data.minutes))


@bp.post("/sensors/warnings/<int:warning_id>/dismiss")
@require(*OFFICERS)
def dismiss_warning(warning_id: int) -> Any:
    data = body(DismissBody)
    return jsonify(sensors().dismiss(current_actor(), warning_id, data.reason))
