"""Emergency resources over REST: search the county's supplies, teams and experts; the
nearest ones to an incident; a request that becomes a task on the incident."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from command.errors import InvalidInput
from command.models import Role
from command.resource_desk import MAX_RESULTS, ResourceDesk, ResourceRequest
from plans.resources import SUPPLY_CATEGORIES
from web.api import body
from web.auth import current_actor, require
from web.openapi import documented
from web.security import MAX_ID

bp = Blueprint("resources", __name__, url_prefix="/api/v1")
READERS = (Role.DUTY_OFFICER, Role.TRAINER, Role.ADMIN)


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["supply", "team", "expert"]
    id: Annotated[int, Field(ge=1, le=MAX_ID)]
    quantity: Annotated[float, Field(gt=0, le=1e9)] | None = None
    note: Annotated[str, Field(max_length=1000)] = ""


class Contact(BaseModel):
    name: str
    phone: str


class ResourceView(BaseModel):
    """A supply line (with its depot), a rescue team or an expert."""

    type: Literal["supply", "team", "expert"]
    id: int
    name: str
    county_id: int | None
    lat: float | None
    lon: float | None
    contact: Contact
    distance_m: int | None = None
    category: str | None = None
    quantity: float | None = None
    unit: str | None = None
    depot: str | None = None
    kind: str | None = None
    specialties: list[str] | None = None


class IncidentResources(BaseModel):
    incident_id: int
    lat: float
    lon: float
    supplies: list[ResourceView]
    teams: list[ResourceView]
    experts: list[ResourceView]


class RequestAnswer(BaseModel):
    task: dict[str, Any]
    resource: ResourceView
    distance_m: int | None


def desk() -> ResourceDesk:
    return current_app.extensions["resources"]  # type: ignore[no-any-return]


def _float(name: str, lo: float, hi: float) -> float | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number", name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be within [{lo}, {hi}]", name)
    return value


@bp.get("/resources")
@documented(response=list[ResourceView], query={
    "q": {"type": "string", "maxLength": 100},
    "type": {"type": "string", "enum": ["supply", "team", "expert"]},
    "category": {"type": "string", "enum": list(SUPPLY_CATEGORIES)},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "lon": {"type": "number", "minimum": -180, "maximum": 180},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS}})
@require(*READERS)
def search_resources() -> Any:
    """Search supplies, teams and experts by name or specialty; nearest first given lat/lon."""
    q = request.args.get("q", "")
    if len(q) > 100:
        raise InvalidInput("q may be at most 100 characters", "q")
    lat, lon = _float("lat", -90, 90), _float("lon", -180, 180)
    if (lat is None) != (lon is None):
        raise InvalidInput("give lat and lon together", "lat" if lat is None else "lon")
    raw_limit = request.args.get("limit", "50")
    if not raw_limit.isdigit():
        raise InvalidInput("limit must be a whole number", "limit")
    near = (lat, lon) if lat is not None and lon is not None else None
    return jsonify(desk().search(current_actor(), q=q, type_=request.args.get("type"),
                                 category=request.args.get("category"), near=near,
                                 limit=int(raw_limit)))


@bp.get("/incidents/<int:incident_id>/resources")
@documented(response=IncidentResources)
@require(*READERS)
def incident_resources(incident_id: int) -> Any:
    """The supplies, teams and experts nearest to the incident."""
    return jsonify(desk().for_incident(current_actor(), incident_id))


@bp.post("/incidents/<int:incident_id>/resource-requests")
@documented(response=RequestAnswer, status=201)
@require(*READERS)
def request_resource(incident_id: int) -> Any:
    """Request a supply, a team or an expert: a task on the incident, logged."""
    b = body(RequestBody)
    return jsonify(desk().request(current_actor(), incident_id,
                                  ResourceRequest(b.type, b.id, b.quantity, b.note))), 201


def init_app(app: Flask, h: Any) -> None:
    app.extensions["resources"] = ResourceDesk(h.service)
