"""REST API under /api/v1: parse and validate, call one service, answer JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, text

from command.auth import AuthError, login, revoke
from command.models import IncidentKind, Role
from command.service import IncidentChange, IncidentReport, Wind
from command.views import station_view
from web.auth import current_actor, hub, require
from web.errors import ApiError
from web.security import (
    MAX_ID,
    clear_session_cookie,
    client_address,
    csrf_token,
    set_session_cookie,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

OFFICERS = (Role.DUTY_OFFICER, Role.ADMIN)
ANY = ()
# a row id: larger numbers would overflow the database driver instead of being "not found"
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginBody(Strict):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=200)]
    # page sessions: also set an HttpOnly SameSite=Strict cookie and return a CSRF token
    cookie: bool = False


class Point(Strict):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class WindBody(Strict):
    from_deg: Annotated[float, Field(ge=0, le=360)]
    speed_ms: Annotated[float | None, Field(ge=0, le=100)] = None


class ReportBody(Strict):
    kind: IncidentKind
    enterprise_id: Id | None = None
    location: Point | None = None
    chemical: Annotated[str | None, Field(pattern=r"^(UN|NA)[0-9]{4}$")] = None
    severity: Annotated[int, Field(ge=1, le=4)] = 2
    casualties: Annotated[int, Field(ge=0, le=100000)] = 0
    description: Annotated[str, Field(max_length=2000)] = ""
    wind: WindBody | None = None
    spill: Literal["small", "large"] | None = None
    client_id: Annotated[str | None, Field(max_length=100)] = None
    # answers to a possible-duplicate refusal: open a new incident anyway, or attach to one
    confirm_new: bool = False
    attach_to: Id | None = None


class ChangeBody(Strict):
    wind: WindBody | None = None
    spill: Literal["small", "large"] | None = None
    severity: Annotated[int | None, Field(ge=1, le=4)] = None
    casualties: Annotated[int | None, Field(ge=0, le=100000)] = None
    description: Annotated[str | None, Field(max_length=2000)] = None
    # which zone rules when the plan's is smaller than ERG's: the officer decides
    zone: Literal["plan", "erg"] | None = None


class GovernmentLevelBody(Strict):
    action: Literal["set", "raise", "lower", "end"]
    level: Literal["I", "II", "III", "IV"] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class CloseBody(Strict):
    client_id: Annotated[str | None, Field(max_length=100)] = None


class AddUnitBody(Strict):
    unit_id: Id
    capability: Annotated[str | None, Field(max_length=50)] = None


class TaskBody(Strict):
    status: Literal["pending", "done"]
    client_id: Annotated[str | None, Field(max_length=100)] = None


class StatusBody(Strict):
    status: Annotated[str, Field(max_length=30)]
    client_id: Annotated[str | None, Field(max_length=100)] = None


class GeometryBody(Strict):
    """GeoJSON geometry (lon, lat order) of a road closure."""

    type: Literal["Point", "LineString", "Polygon", "MultiLineString", "MultiPolygon"]
    coordinates: Annotated[list[Any], Field(min_length=1, max_length=2000)]


class ClosureBody(Strict):
    geometry: GeometryBody
    reason: Annotated[str, Field(max_length=300)] = ""
    incident_id: Id | None = None


class PositionBody(Strict):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


def body(model: type[BaseModel]) -> Any:
    """Parse the JSON body into a model; malformed JSON and wrong fields are 4xx."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "request body must be a JSON object", "body")
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "request body must be a JSON object", "body")
    # strict: "5" is not a number and 1.0 is not an id; JSON mode still reads dates and enum
    # values from their JSON strings. A ValidationError becomes a 422 in web/errors.py.
    return model.model_validate_json(request.get_data(), strict=True)


def wind(w: WindBody | None) -> Wind | None:
    return Wind(w.from_deg % 360.0, w.speed_ms) if w else None


@bp.get("/health")
def health() -> Any:
    """Liveness and readiness: database reachable, road graph loaded."""
    h = hub()
    try:
        with h.service.reading() as s:
            s.execute(text("SELECT 1"))
        db = "ok"
    except Exception:
        db = "unavailable"
    status = "ok" if db == "ok" else "degraded"
    return jsonify({
        "status": status,
        "database": db,
        "database_engine": h.engine.dialect.name,
        "graph": {"nodes": h.graph.node_count, "edges": h.graph.edge_count},
    }), (200 if db == "ok" else 503)


@bp.post("/auth/login")
def auth_login() -> Any:
    """Exchange a username and password for a bearer token."""
    h = hub()
    data = body(LoginBody)
    addr = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                          h.config.get("TRUSTED_PROXIES") or [])
    wait = h.login_limiter.hit(f"{addr}|{data.username}")
    if wait is None:
        wait = h.account_limiter.hit(f"account|{data.username}")
    if wait is not None:
        resp = jsonify({"error": {"code": "rate_limited", "message":
                                  "too many login attempts; try again later", "field": None}})
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp, 429
    with h.service.transaction() as tx:
        try:
            token, actor = login(tx.session, data.username, data.password, tx.now,
                                 dt.timedelta(seconds=h.config["TOKEN_TTL_S"]))
        except AuthError as exc:
            raise ApiError(401, "unauthorized", str(exc), "password") from None
    answer = {"token": token, "role": actor.role.value, "unit_id": actor.unit_id,
              "username": actor.username, "region_id": actor.region_id,
              "expires_in": h.config["TOKEN_TTL_S"]}
    if not data.cookie:
        return jsonify(answer)
    # cookie mode: script never sees the token, only the CSRF token bound to it
    resp = jsonify({**answer, "token": None, "csrf_token": csrf_token(token)})
    set_session_cookie(resp, token, int(h.config["TOKEN_TTL_S"]))
    return resp


@bp.post("/auth/logout")
@require()
def auth_logout() -> Any:
    """Revoke the token used for this request."""
    actor = current_actor()
    with hub().service.transaction() as tx:
        if actor.token_id is not None:
            revoke(tx.session, actor.token_id, tx.now)
    from web.hub import sweep_sessions

    sweep_sessions(hub())  # this token's open sockets stop hearing events now
    resp = jsonify({"status": "revoked"})
    clear_session_cookie(resp)
    return resp


@bp.get("/me")
@require()
def me() -> Any:
    a = current_actor()
    return jsonify({"username": a.username, "role": a.role.value, "unit_id": a.unit_id,
                    "region_id": a.region_id, "language": a.language})


@bp.get("/enterprises")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def enterprises() -> Any:
    return jsonify(hub().plans.list_enterprises(current_actor()))


@bp.get("/enterprises/<int:enterprise_id>")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def enterprise(enterprise_id: int) -> Any:
    return jsonify(hub().plans.enterprise_detail(current_actor(), enterprise_id))


@bp.get("/units")
@require(*ANY)
def units() -> Any:
    return jsonify(hub().service.units(current_actor()))


@bp.get("/stations")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def stations() -> Any:
    from command.models import Station

    service = hub().service
    counties = service.region_counties(current_actor().region_id)
    with service.reading() as s:
        rows = s.scalars(select(Station).order_by(Station.id))
        return jsonify([station_view(st) for st in rows
                        if counties is None or st.county_id in counties])


@bp.post("/incidents")
@require(*OFFICERS)
def report_incident() -> Any:
    """Report an incident: activate the plan, dispatch units, push task boards."""
    data = body(ReportBody)
    if data.enterprise_id is None and data.location is None:
        raise ApiError(422, "invalid", "give enterprise_id or location", "location")
    report = IncidentReport(
        kind=data.kind,
        enterprise_id=data.enterprise_id,
        lat=data.location.lat if data.location else None,
        lon=data.location.lon if data.location else None,
        chemical=data.chemical,
        severity=data.severity,
        casualties=data.casualties,
        description=data.description,
        wind=wind(data.wind),
        spill=data.spill,
        client_id=data.client_id,
        confirm_new=data.confirm_new,
        attach_to=data.attach_to,
    )
    h = hub()
    actor = current_actor()
    incident = h.service.report_incident(actor, report)
    return jsonify(h.service.incident_view(actor, incident.id)), (
        200 if data.attach_to is not None else 201)


@bp.get("/incidents")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def list_incidents() -> Any:
    status = request.args.get("status")
    if status not in (None, "active", "closed"):
        raise ApiError(422, "invalid", "status must be active or closed", "status")
    return jsonify(hub().service.list_incidents(current_actor(), status))


@bp.get("/incidents/<int:incident_id>")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def get_incident(incident_id: int) -> Any:
    return jsonify(hub().service.incident_view(current_actor(), incident_id))


@bp.patch("/incidents/<int:incident_id>")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def change_incident(incident_id: int) -> Any:
    """New wind, spill, severity or casualties: re-route and escalate."""
    data = body(ChangeBody)
    change = IncidentChange(wind=wind(data.wind), spill=data.spill, severity=data.severity,
                            casualties=data.casualties, description=data.description,
                            zone=data.zone)
    return jsonify(hub().service.change_incident(current_actor(), incident_id, change))


@bp.get("/incidents/<int:incident_id>/events")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def incident_events(incident_id: int) -> Any:
    return jsonify(hub().service.timeline(current_actor(), incident_id))


@bp.post("/incidents/<int:incident_id>/close")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def close_incident(incident_id: int) -> Any:
    data = body(CloseBody) if request.content_length else CloseBody()
    return jsonify(hub().service.close_incident(current_actor(), incident_id, data.client_id))


@bp.post("/incidents/<int:incident_id>/assignments")
@require(*OFFICERS)
def add_unit(incident_id: int) -> Any:
    data = body(AddUnitBody)
    return jsonify(hub().service.add_unit(current_actor(), incident_id, data.unit_id,
                                          data.capability)), 201


@bp.delete("/incidents/<int:incident_id>/assignments/<int:unit_id>")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def release_unit(incident_id: int, unit_id: int) -> Any:
    return jsonify(hub().service.release_unit(current_actor(), incident_id, unit_id))


class NotificationBody(Strict):
    notified: bool = True
    client_id: Annotated[str | None, Field(max_length=100)] = None


@bp.post("/incidents/<int:incident_id>/notifications/<int:check_id>")
@require(*OFFICERS)
def check_notification(incident_id: int, check_id: int) -> Any:
    """Tick a contact on the incident's who-has-been-told checklist."""
    data = body(NotificationBody)
    return jsonify(hub().service.check_notification(current_actor(), incident_id, check_id,
                                                    data.notified, data.client_id))


class FirstReportBody(Strict):
    text: Annotated[str, Field(min_length=1, max_length=5000)]
    sent_to: Annotated[str, Field(min_length=1, max_length=200)]
    client_id: Annotated[str | None, Field(max_length=100)] = None


@bp.post("/incidents/<int:incident_id>/first-report")
@require(*OFFICERS)
def first_report(incident_id: int) -> Any:
    """The first report upward went out (due within an hour of the incident)."""
    data = body(FirstReportBody)
    return jsonify(hub().service.send_first_report(current_actor(), incident_id, data.text,
                                                   data.sent_to, data.client_id))


@bp.post("/incidents/<int:incident_id>/government-level")
@require(*OFFICERS)
def government_level(incident_id: int) -> Any:
    """The commander sets, raises, lowers or ends the government's response level."""
    data = body(GovernmentLevelBody)
    return jsonify(hub().service.decide_government_level(
        current_actor(), incident_id, data.action, data.level, data.reason))


@bp.post("/incidents/<int:incident_id>/accident-report")
@require(*OFFICERS)
def accident_first_report(incident_id: int) -> Any:
    """The order No. 493 Art. 12 first report: counts, loss, time of the accident, reporter."""
    return jsonify(hub().service.accident_report(current_actor(), incident_id, "first",
                                                 json_object())), 201


@bp.post("/incidents/<int:incident_id>/accident-report/follow-ups")
@require(*OFFICERS)
def accident_follow_up(incident_id: int) -> Any:
    """A follow-up (续报): new counts; the grade and the upward chain follow them."""
    return jsonify(hub().service.accident_report(current_actor(), incident_id, "follow_up",
                                                 json_object())), 201


@bp.post("/incidents/<int:incident_id>/accident-report/steps/<level>/sent")
@require(*OFFICERS)
def accident_step_sent(incident_id: int, level: str) -> Any:
    """The officer sent the report to that level, with the recipients informed."""
    return jsonify(hub().service.accident_report(current_actor(), incident_id, "sent",
                                                 json_object(), level=level))


@bp.get("/incidents/<int:incident_id>/accident-report")
@require(*OFFICERS)
def accident_report(incident_id: int) -> Any:
    """The accident report with each step's countdown and overdue flag."""
    return jsonify({"accident_report": hub().service.accident_report_now(current_actor(),
                                                                         incident_id)})


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 422 naming the body."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object", "body")
    return data


@bp.get("/coverage/now")
@require(Role.DUTY_OFFICER, Role.ADMIN)
def coverage_now() -> Any:
    """Can every enterprise's first force still arrive in time, from where units are now?"""
    return jsonify(hub().service.coverage_now(current_actor()))


@bp.get("/closures")
@require(Role.DUTY_OFFICER, Role.ADMIN)
def list_closures() -> Any:
    return jsonify(hub().service.closures(current_actor()))


@bp.post("/closures")
@require(*OFFICERS)
def add_closure() -> Any:
    """Close a road segment (a line along it, or a point on it) or an area (a polygon)."""
    data = body(ClosureBody)
    return jsonify(hub().service.add_closure(
        current_actor(), data.geometry.model_dump(), data.reason, data.incident_id)), 201


@bp.delete("/closures/<int:closure_id>")
@require(*OFFICERS)
def remove_closure(closure_id: int) -> Any:
    return jsonify(hub().service.remove_closure(current_actor(), closure_id))


@bp.post("/tasks/<int:task_id>")
@require(Role.UNIT, *OFFICERS)
def update_task(task_id: int) -> Any:
    data = body(TaskBody)
    return jsonify(hub().service.update_task(current_actor(), task_id, data.status,
                                             data.client_id))


@bp.post("/units/<int:unit_id>/status")
@require(Role.UNIT, *OFFICERS)
def unit_status(unit_id: int) -> Any:
    data = body(StatusBody)
    actor = current_actor()
    if actor.role is Role.UNIT and actor.unit_id != unit_id:
        raise ApiError(403, "forbidden", "a unit sets only its own status", "unit_id")
    return jsonify(hub().service.set_unit_status(actor, data.status, data.client_id, unit_id))


@bp.post("/units/<int:unit_id>/position")
@require(Role.UNIT, Role.ADMIN)
def unit_position(unit_id: int) -> Any:
    data = body(PositionBody)
    actor = current_actor()
    if actor.role is Role.UNIT and actor.unit_id != unit_id:
        raise ApiError(403, "forbidden", "a unit reports only its own position", "unit_id")
    hub().service.report_position(actor, data.lat, data.lon, unit_id)
    return jsonify({"status": "ok"})


@bp.get("/board")
@require(Role.UNIT)
def board() -> Any:
    """The unit's current task board (null when it has no assignment)."""
    board, seq = hub().service.board_for_unit(current_actor())
    return jsonify({"board": board, "seq": seq})


@bp.get("/events")
@require(*ANY)
def events() -> Any:
    """Every event after `since` the caller may see (the REST twin of Socket.IO resync)."""
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        raise ApiError(422, "invalid", "since must be an integer", "since") from None
    if not 0 <= since <= MAX_ID:
        raise ApiError(422, "invalid", f"since must be between 0 and {MAX_ID}", "since")
    evs = hub().service.resync(current_actor(), since)
    return jsonify([e.payload() for e in evs])


@bp.get("/map/roads")
@require(*ANY)
def map_roads() -> Any:
    """The road network for drawing the map without a tile server."""
    return hub().roads_response()


@bp.get("/map/info")
def map_info() -> Any:
    h = hub()
    min_lon, min_lat, max_lon, max_lat = h.graph.bbox
    return jsonify({"bbox": [min_lon, min_lat, max_lon, max_lat],
                    "attribution": h.map_attribution, "tile_url": h.config.get("TILE_URL")})
