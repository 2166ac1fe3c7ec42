"""Socket.IO namespace /hub: clients subscribe, the server broadcasts.

The server picks a connection's rooms from its token; a client can never join a room or
manufacture a broadcast. Every client command is validated, applied through the command
service (which emits the resulting events) and answered on the callback; a bad payload gets
an `error` event and changes nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, emit, join_room
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from command.auth import Actor, AuthError, live_token_ids
from command.errors import CommandError, Conflict
from command.events import officer_room, trainer_room, unit_room
from command.models import Role
from web.auth import authenticate_token
from web.extensions import socketio
from web.publisher import NAMESPACE
from web.security import MAX_ID, cookie_token

log = logging.getLogger(__name__)
# how often each process re-checks the tokens of its open sockets
SESSION_SWEEP_S = 10.0

UNIT_ONLY = (Role.UNIT,)
CREW_AND_OFFICERS = (Role.UNIT, Role.DUTY_OFFICER, Role.ADMIN)
ANY_ROLE = tuple(Role)
# every client event by name, for the role matrix and the OpenAPI x-socketio listing
EVENTS: dict[str, Callable[..., Any]] = {}


class Payload(BaseModel):
    # strict: "5" is no id and true is no number; a malformed command changes nothing
    model_config = ConfigDict(extra="forbid", strict=True)


ClientId = Annotated[str | None, Field(default=None, max_length=100)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class AckPayload(Payload):
    incident_id: Id
    client_id: ClientId = None
    assignment_id: Id | None = None  # the assignment the crew saw


class DeliveredPayload(Payload):
    incident_id: Id
    seq: Annotated[int | None, Field(ge=0, le=2**62)] = None


class TaskPayload(Payload):
    task_id: Id
    status: Literal["done", "pending"]
    client_id: ClientId = None


class StatusPayload(Payload):
    status: Literal["en_route", "on_scene", "transporting", "returning", "available",
                    "out_of_service"]
    client_id: ClientId = None
    # the incident on the crew's board when they pressed it (0: none); refused if the unit
    # is on another by the time it arrives
    incident_id: Annotated[int | None, Field(ge=0, le=MAX_ID)] = None


class ResyncPayload(Payload):
    since_seq: Annotated[int, Field(ge=0, le=2**62)]


class PositionPayload(Payload):
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def _hub() -> Any:
    return current_app.extensions["redline"]


def _error(event: str, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body = {"event": event, "code": code, "message": message, "field": field}
    emit("error", body)
    return {"ok": False, "error": body}


def handler(event: str, model: type[Payload] | None,
            roles: tuple[Role, ...] = ANY_ROLE) -> Callable[..., Any]:
    """Wrap a client event: authenticate, check the role, validate, map domain errors to an
    `error` event."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(data: Any = None, *extra: Any) -> Any:
            h = _hub()
            conn = h.connections.get(request.sid)
            if conn is None:
                return _error(event, "unauthorized", "not connected")
            try:
                actor = authenticate_token(conn["token"])
            except AuthError as exc:
                return _error(event, "unauthorized", str(exc))
            if actor.role not in roles:
                return _error(event, "forbidden", f"role {actor.role.value} may not send {event}")
            payload = None
            if model is not None:
                if not isinstance(data, dict):
                    return _error(event, "invalid", "payload must be an object", "payload")
                try:
                    payload = model.model_validate(data)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    field = ".".join(str(p) for p in first["loc"]) or None
                    return _error(event, "invalid", first["msg"], field)
            try:
                result = fn(actor, payload)
            except CommandError as exc:
                return _error(event, exc.code, exc.message, exc.field)
            except Exception:
                current_app.logger.exception("socket handler %s failed", event)
                return _error(event, "internal", "internal error; nothing was changed")
            return {"ok": True, "result": result}

        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        wrapper.payload_model = model  # type: ignore[attr-defined]
        EVENTS[event] = wrapper
        socketio.on_event(event, wrapper, namespace=NAMESPACE)
        return wrapper

    return decorator


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth: Any = None) -> None:
    """Authenticate the token and join the rooms this actor may hear."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if token is None:
        # a page session: its HttpOnly cookie (Socket.IO refuses foreign origins, and the
        # cookie is SameSite=Strict, so another site cannot open this connection)
        token = cookie_token()
    if not isinstance(token, str) or not token:
        raise ConnectionRefusedError({"code": "unauthorized", "message": "token required"})
    try:
        actor: Actor = authenticate_token(token)
    except AuthError as exc:
        raise ConnectionRefusedError({"code": "unauthorized", "message": str(exc)}) from None
    h = _hub()
    h.connections[request.sid] = {"token": token, "actor": actor}
    if not getattr(h, "session_sweeper", False) and not h.config.get("TESTING"):
        # started by the first connection, so only serving processes run it
        h.session_sweeper = True
        start_session_sweeper(h, SESSION_SWEEP_S)
    if actor.role is Role.UNIT and actor.unit_id is not None:
        join_room(unit_room(actor.unit_id))
    elif actor.role is Role.TRAINER:
        join_room(trainer_room(actor.region_id))
    else:
        join_room(officer_room(actor.region_id))
    emit("hello", {"role": actor.role.value, "unit_id": actor.unit_id,
                   "username": actor.username, "last_seq": h.last_seq()})


def sweep_sessions(h: Any) -> int:
    """Disconnect every socket of this process whose token was revoked or has expired since
    it connected: live events must stop when a session ends, not only its commands."""
    conns = list(h.connections.items())
    ids = {c["actor"].token_id for _, c in conns if c["actor"].token_id is not None}
    with h.service.reading() as s:
        live = live_token_ids(s, ids, h.service.clock())
    dropped = 0
    for sid, c in conns:
        if c["actor"].token_id not in live:
            h.connections.pop(sid, None)
            socketio.server.disconnect(sid, namespace=NAMESPACE)
            dropped += 1
    return dropped


def start_session_sweeper(h: Any, every_s: float) -> None:
    """Sweep this process's sockets every few seconds (another process may revoke)."""

    def loop() -> None:
        while True:
            socketio.sleep(every_s)
            try:
                sweep_sessions(h)
            except Exception:  # a database hiccup must not end the sweeper
                log.exception("session sweep failed")

    socketio.start_background_task(loop)


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(*_args: Any) -> None:
    # python-socketio also routes a client's ordinary event named "disconnect" here; during a
    # real disconnect the socket is already marked as leaving. A still-connected socket keeps
    # its place in the table, so revocation and expiry still find and cut it.
    if socketio.server.manager.is_connected(request.sid, NAMESPACE):
        emit("error", _error("disconnect", "reserved",
                             "disconnect is a reserved event name; nothing was done"))
        return
    _hub().connections.pop(request.sid, None)


@handler("ack", AckPayload, UNIT_ONLY)
def on_ack(actor: Actor, p: AckPayload) -> Any:
    """The crew acknowledges its assignment."""
    return _hub().service.acknowledge(actor, p.incident_id, p.client_id, p.assignment_id)


@handler("delivered", DeliveredPayload, UNIT_ONLY)
def on_delivered(actor: Actor, p: DeliveredPayload) -> Any:
    """The tablet rendered the board; sent automatically."""
    return _hub().service.mark_delivered(actor, p.incident_id, p.seq)


@handler("task.update", TaskPayload, CREW_AND_OFFICERS)
def on_task_update(actor: Actor, p: TaskPayload) -> Any:
    return _hub().service.update_task(actor, p.task_id, p.status, p.client_id)


@handler("unit.status", StatusPayload, UNIT_ONLY)
def on_unit_status(actor: Actor, p: StatusPayload) -> Any:
    if actor.role is not Role.UNIT:
        raise_forbidden()
    return _hub().service.set_unit_status(actor, p.status, p.client_id,
                                          only_on_incident=p.incident_id)


@handler("position", PositionPayload, UNIT_ONLY)
def on_position(actor: Actor, p: PositionPayload) -> Any:
    if actor.role is not Role.UNIT:
        raise_forbidden()
    _hub().service.report_position(actor, p.lat, p.lon)
    return None


RESYNC_BATCH = 2000
# a client that fell behind needs a few pages; more than this is a fault or an attack
RESYNC_PER_WINDOW = 10
RESYNC_WINDOW_S = 10.0


class RateLimited(CommandError):
    status = 429
    code = "rate_limited"


@handler("resync", ResyncPayload, ANY_ROLE)
def on_resync(actor: Actor, p: ResyncPayload) -> Any:
    """Re-send every event after since_seq that this client may see, in order."""
    h = _hub()
    conn = h.connections.get(request.sid) or {}
    now = time.monotonic()
    # a socket that asks again and again (or never reads) must not hold the process or the
    # database pool: one resync at a time, RESYNC_PER_WINDOW per window, then wait
    recent = [t for t in conn.get("resyncs", []) if now - t < RESYNC_WINDOW_S]
    if conn.get("resync_busy"):
        raise Conflict("a resync of this connection is still being sent", "since_seq")
    if len(recent) >= RESYNC_PER_WINDOW:
        wait = RESYNC_WINDOW_S - (now - recent[0])
        raise RateLimited(f"too many resyncs; try again in {wait:.0f} s", "since_seq")
    conn["resyncs"] = [*recent, now]
    conn["resync_busy"] = True
    try:
        events = h.service.resync(actor, p.since_seq, limit=RESYNC_BATCH)
        for ev in events:
            emit("event", ev.payload())
    finally:
        conn["resync_busy"] = False
    # a long gap comes in batches: the client asks again from last_seq while more is true
    return {"count": len(events), "last_seq": events[-1].seq if events else p.since_seq,
            "more": len(events) >= RESYNC_BATCH}


def raise_forbidden() -> None:
    from command.errors import Forbidden

    raise Forbidden("only a unit's tablet sends this")
