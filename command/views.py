"""Plain-dict views of domain objects: what the API answers and what events carry."""

from __future__ import annotations

from typing import Any

from command.levels import level_label, severity_label
from command.models import (
    Assignment,
    Closure,
    Incident,
    NotificationCheck,
    Station,
    Task,
    Unit,
)
from plans.models import Enterprise


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def unit_view(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "callsign": unit.callsign,
        "kind": unit.kind,
        "capabilities": list(unit.capabilities),
        "status": unit.status.value,
        "status_since": iso(unit.status_since),
        "position": {"lat": unit.lat, "lon": unit.lon},
        "station": station_view(unit.station) if unit.station else None,
        "incident_id": unit.incident_id,
        "county_id": unit.county_id,
    }


def station_view(station: Station) -> dict[str, Any]:
    return {
        "id": station.id,
        "name": station.name,
        "alt_name": station.alt_name,
        "kind": station.kind,
        "lat": station.lat,
        "lon": station.lon,
        "in_service": station.in_service,
    }


def assignment_view(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "incident_id": a.incident_id,
        "unit_id": a.unit_id,
        "callsign": a.unit.callsign if a.unit else None,
        "capability": a.capability,
        "status": a.status.value,
        "eta_s": round(a.eta_s, 1),
        "travel_s": round(a.travel_s, 1),
        "turnout_s": a.turnout_s,
        "distance_m": round(a.distance_m, 1),
        "deadline_s": a.deadline_s,
        "late": a.deadline_s is not None and a.eta_s > a.deadline_s,
        "route": a.route,
        "staging": a.staging,
        "created_at": iso(a.created_at),
        "delivered_at": iso(a.delivered_at),
        "acked_at": iso(a.acked_at),
        "released_at": iso(a.released_at),
    }


def task_view(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "incident_id": t.incident_id,
        "unit_id": t.unit_id,
        "title": t.title,
        "details": t.details,
        "capability": t.capability,
        "order": t.order,
        "deadline_s": t.deadline_s,
        "status": t.status.value,
        "created_at": iso(t.created_at),
        "done_at": iso(t.done_at),
    }


def enterprise_brief(e: Enterprise | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"id": e.id, "name": e.name, "alt_name": e.alt_name, "address": e.address,
            "lat": e.lat, "lon": e.lon}


def incident_view(incident: Incident, enterprise: Enterprise | None) -> dict[str, Any]:
    return {
        "id": incident.id,
        "kind": incident.kind.value,
        "status": incident.status.value,
        "exercise": incident.exercise,
        "source": incident.source,
        "enterprise_id": incident.enterprise_id,
        "enterprise": enterprise_brief(enterprise),
        "location": {"lat": incident.lat, "lon": incident.lon},
        "address": incident.address,
        "chemical": incident.chemical,
        "severity": incident.severity,
        "casualties": incident.casualties,
        "description": incident.description,
        "plan": incident.plan_ref,
        "match_reason": incident.match_reason,
        # the same reason as [{"code", "params"}] for the pages (kept in plan_ref at activation)
        "match_reason_parts": (incident.plan_ref or {}).get("reason_parts", []),
        "drill_id": incident.drill_id,
        "response_level": incident.response_level,
        "wind": incident.wind,
        "spill": incident.spill,
        "isolation": incident.isolation,
        "assignments": [assignment_view(a) for a in incident.assignments],
        "unmet": incident.unmet,
        "coverage_gaps": incident.coverage_gaps,
        "move_ups": incident.move_ups,
        "tasks": [task_view(t) for t in incident.tasks],
        "notifications": [notification_view(n) for n in incident.notifications],
        "county_id": incident.county_id,
        "reported_by": incident.reported_by,
        "created_at": iso(incident.created_at),
        "closed_at": iso(incident.closed_at),
        "first_report": incident.first_report,
        "attached_reports": incident.attached_reports or [],
        "severity_label": severity_label(incident.severity),
        # the enterprise plan's level, kept apart from the government's
        "response_level_label": level_label(incident.response_level),
        "government_response": _government(incident.government_response),
        "accident_report": incident.accident_report,
    }


def _government(g: dict[str, Any] | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {**g, "label": level_label(g.get("level"))}


def closure_view(c: Closure) -> dict[str, Any]:
    return {"id": c.id, "geometry": c.geometry, "reason": c.reason,
            "created_at": iso(c.created_at), "removed_at": iso(c.removed_at),
            "incident_id": c.incident_id}


def notification_view(n: NotificationCheck) -> dict[str, Any]:
    return {"id": n.id, "contact": n.contact, "role": n.role, "phone": n.phone,
            "notified": n.notified_at is not None, "notified_at": iso(n.notified_at),
            "notified_by": n.notified_by}
