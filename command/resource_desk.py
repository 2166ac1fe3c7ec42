"""Emergency resources during an incident: search the county's supplies, teams and experts,
list the nearest ones to an incident, and request one as a task on the incident's board."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from command.auth import Actor
from command.errors import Conflict, Forbidden, InvalidInput, NotFound
from command.models import Role, Task
from command.service import CommandService, Tx
from command.views import task_view
from dispatch.graph import haversine_m
from plans.resource_models import Expert, RescueTeam, SupplyDepot, SupplyItem
from plans.resources import SUPPLY_CATEGORIES

ResourceType = Literal["supply", "team", "expert"]
RESOURCE_TYPES: tuple[str, ...] = ("supply", "team", "expert")
MAX_RESULTS = 200


@dataclass(frozen=True)
class ResourceRequest:
    """Call a resource to the incident: some of a depot's stock, a team or an expert."""

    type: str
    id: int
    quantity: float | None = None
    note: str = ""


def _contact(c: dict[str, Any] | None) -> dict[str, str]:
    c = c or {}
    return {"name": str(c.get("name") or ""), "phone": str(c.get("phone") or "")}


def supply_view(item: SupplyItem) -> dict[str, Any]:
    d = item.depot
    return {"type": "supply", "id": item.id, "name": item.name, "category": item.category,
            "spec": item.spec, "quantity": item.quantity, "unit": item.unit,
            "depot_id": d.id, "depot": d.name, "owner": d.owner,
            "enterprise_id": d.enterprise_id, "county_id": d.county_id, "lat": d.lat,
            "lon": d.lon, "address": d.address, "contact": _contact(d.contact)}


def team_view(t: RescueTeam) -> dict[str, Any]:
    return {"type": "team", "id": t.id, "name": t.name, "kind": t.kind,
            "members": t.members, "specialties": list(t.specialties),
            "enterprise_id": t.enterprise_id, "county_id": t.county_id, "lat": t.lat,
            "lon": t.lon, "contact": _contact(t.contact), "notes": t.notes}


def expert_view(x: Expert) -> dict[str, Any]:
    return {"type": "expert", "id": x.id, "name": x.name, "specialties": list(x.specialties),
            "organisation": x.organisation, "title": x.title, "county_id": x.county_id,
            "lat": x.lat, "lon": x.lon, "contact": {"name": x.name, "phone": x.phone}}


def _matches(view: dict[str, Any], q: str) -> bool:
    hay = " ".join(str(view.get(k) or "") for k in (
        "name", "spec", "category", "depot", "organisation", "title", "kind", "notes"))
    hay += " " + " ".join(view.get("specialties") or [])
    return q in hay.lower()


class ResourceDesk:
    """Region-scoped reads of the resource survey, and requests through the command service."""

    def __init__(self, service: CommandService) -> None:
        self.service = service

    def _check(self, actor: Actor) -> None:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers, trainers and administrators read resources")

    def _rows(self, s: Session, actor: Actor, types: tuple[str, ...],
              category: str | None) -> list[dict[str, Any]]:
        counties = self.service.region_counties(actor.region_id)
        out: list[dict[str, Any]] = []
        if "supply" in types:
            q = select(SupplyItem).join(SupplyDepot).options(selectinload(SupplyItem.depot))
            if counties is not None:
                q = q.where(SupplyDepot.county_id.in_(counties))
            if category is not None:
                q = q.where(SupplyItem.category == category)
            out += [supply_view(i) for i in s.scalars(q)]
        if "team" in types and category is None:
            q2 = select(RescueTeam)
            if counties is not None:
                q2 = q2.where(RescueTeam.county_id.in_(counties))
            out += [team_view(t) for t in s.scalars(q2)]
        if "expert" in types and category is None:
            q3 = select(Expert)
            if counties is not None:
                q3 = q3.where(Expert.county_id.in_(counties))
            out += [expert_view(x) for x in s.scalars(q3)]
        return out

    def search(self, actor: Actor, *, q: str = "", type_: str | None = None,
               category: str | None = None, near: tuple[float, float] | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
        """Supplies, teams and experts whose name, kind or specialty holds q; nearest first
        when a point is given (entries without a position last)."""
        self._check(actor)
        if type_ is not None and type_ not in RESOURCE_TYPES:
            raise InvalidInput("type must be supply, team or expert", "type")
        if category is not None and category not in SUPPLY_CATEGORIES:
            raise InvalidInput(f"category must be one of {', '.join(SUPPLY_CATEGORIES)}",
                               "category")
        if not 1 <= limit <= MAX_RESULTS:
            raise InvalidInput(f"limit must be 1-{MAX_RESULTS}", "limit")
        types = (type_,) if type_ else RESOURCE_TYPES
        with self.service.reading() as s:
            rows = self._rows(s, actor, types, category)
        needle = q.strip().lower()
        if needle:
            rows = [r for r in rows if _matches(r, needle)]
        return _by_distance(rows, near)[:limit]

    def for_incident(self, actor: Actor, incident_id: int, per_type: int = 5
                     ) -> dict[str, Any]:
        """The nearest supplies (each category's nearest stocks), teams and experts."""
        self._check(actor)
        with self.service.reading() as s:
            incident = self.service._incident_for(Tx(s, self.service.clock()), actor,
                                                  incident_id, write=False)
            at = (incident.lat, incident.lon)
            rows = self._rows(s, actor, RESOURCE_TYPES, None)
        ranked = _by_distance(rows, at)
        supplies: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for r in ranked:
            if r["type"] == "supply" and seen.get(r["category"], 0) < 2:
                seen[r["category"]] = seen.get(r["category"], 0) + 1
                supplies.append(r)
        return {"incident_id": incident_id, "lat": at[0], "lon": at[1], "supplies": supplies,
                "teams": [r for r in ranked if r["type"] == "team"][:per_type],
                "experts": [r for r in ranked if r["type"] == "expert"][:per_type]}

    def request(self, actor: Actor, incident_id: int, req: ResourceRequest) -> dict[str, Any]:
        """Put the request on the incident's task board (unowned: the command room follows it
        up by phone) and log it with where it comes from and how far."""
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers request resources")
        if req.type not in RESOURCE_TYPES:
            raise InvalidInput("type must be supply, team or expert", "type")
        if len(req.note) > 1000:
            raise InvalidInput("note may be at most 1000 characters", "note")
        with self.service.transaction() as tx:
            s = tx.session
            incident = self.service._incident_for(tx, actor, incident_id, write=True)
            if actor.role is Role.TRAINER and not incident.exercise:
                raise NotFound(f"incident {incident_id} not found", "incident_id")
            counties = self.service.region_counties(actor.region_id)
            view = self._one(s, req)
            if view is None or (counties is not None and view["county_id"] not in counties):
                raise NotFound(f"{req.type} {req.id} not found", "id")
            title = view["name"]
            if req.type == "supply":
                if req.quantity is None or req.quantity <= 0:
                    raise InvalidInput("say how much is needed", "quantity")
                if req.quantity > view["quantity"]:
                    raise Conflict(f"{view['depot']} holds {view['quantity']:g} "
                                   f"{view['unit']}", "quantity")
                title = f"{view['name']} ×{req.quantity:g} {view['unit']} ← {view['depot']}"
            elif req.quantity is not None:
                raise InvalidInput("quantity is for supplies only", "quantity")
            distance = (haversine_m(incident.lat, incident.lon, view["lat"], view["lon"])
                        if view.get("lat") is not None else None)
            contact = view["contact"]
            details = " ".join(x for x in (contact["name"], contact["phone"], req.note) if x)
            order = max((t.order for t in incident.tasks), default=0) + 1
            task = Task(incident_id=incident.id, unit_id=None, title=title[:300],
                        details=details, capability="", order=order, created_at=tx.now)
            s.add(task)
            s.flush()
            tx.record("task.updated", {"task": task_view(task)}, incident=incident, actor=actor)
            tx.record("resource.requested", {
                "task_id": task.id, "resource": {k: view.get(k) for k in (
                    "type", "id", "name", "category", "unit", "depot", "kind", "organisation")},
                "quantity": req.quantity, "contact": contact,
                "distance_m": round(distance) if distance is not None else None,
                "note": req.note}, incident=incident, actor=actor)
            return {"task": task_view(task), "resource": view,
                    "distance_m": round(distance) if distance is not None else None}

    @staticmethod
    def _one(s: Session, req: ResourceRequest) -> dict[str, Any] | None:
        if req.type == "supply":
            item = s.get(SupplyItem, req.id)
            return supply_view(item) if item is not None else None
        if req.type == "team":
            team = s.get(RescueTeam, req.id)
            return team_view(team) if team is not None else None
        expert = s.get(Expert, req.id)
        return expert_view(expert) if expert is not None else None


def _by_distance(rows: list[dict[str, Any]], near: tuple[float, float] | None
                 ) -> list[dict[str, Any]]:
    if near is None:
        return sorted(rows, key=lambda r: (r["type"], r["name"], r["id"]))
    for r in rows:
        r["distance_m"] = (round(haversine_m(near[0], near[1], r["lat"], r["lon"]))
                           if r.get("lat") is not None else None)
    return sorted(rows, key=lambda r: (r["distance_m"] is None, r["distance_m"] or 0, r["id"]))
