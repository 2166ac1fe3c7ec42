"""Enterprise directory for the command room: enterprises, hazards and their current plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from command.auth import Actor
from command.errors import NotFound
from command.views import iso
from plans.models import Enterprise, HazardInstallation, Plan, PlanVersion


def installation_view(h: HazardInstallation) -> dict[str, Any]:
    return {
        "id": h.id,
        "code": h.code,
        "name": h.name,
        "lat": h.lat,
        "lon": h.lon,
        "chemicals": h.chemicals,
        "r_value": round(h.r_value, 2),
        "grade": h.grade,
        "sensors": h.sensors,
    }


def plan_summary(s: Session, plan: Plan | None, today: dt.date) -> dict[str, Any] | None:
    if plan is None:
        return None
    current = None
    if plan.current_version is not None:
        v = s.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                               PlanVersion.version == plan.current_version))
        if v is not None:
            current = {
                "version": v.version,
                "status": v.status.value,
                "approved_by": v.approved_by,
                "approved_on": iso(v.approved_on),
                "next_review": iso(v.next_review),
                "review_overdue": v.next_review is not None and v.next_review < today,
                "title": v.document.get("title", ""),
                "scenarios": [
                    {"id": sc["id"], "name": sc["name"], "response_level": sc.get(
                        "response_level")} for sc in v.document.get("scenarios", [])
                ],
            }
    return {"plan_id": plan.id, "current": current, "current_version": plan.current_version}


def enterprise_view(s: Session, e: Enterprise, today: dt.date, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": e.id,
        "name": e.name,
        "alt_name": e.alt_name,
        "credit_code": e.credit_code,
        "address": e.address,
        "location": {"lat": e.lat, "lon": e.lon},
        "industry": e.industry,
        "park": e.park,
        "county_id": e.county_id,
        "max_grade": min((h.grade for h in e.installations), default=None),
        "chemicals": sorted({c.get("un", "") for h in e.installations for c in h.chemicals}),
        "plan": plan_summary(s, e.plan, today),
    }
    if full:
        out["contacts"] = e.contacts
        out["people_within_500m"] = e.people_within_500m
        out["installations"] = [installation_view(h) for h in e.installations]
    return out


class EnterpriseDirectory:
    """Read-only enterprise queries, limited to the actor's region."""

    def __init__(self, sessions: sessionmaker[Session], region_counties: Any) -> None:
        self.sessions = sessions
        self.region_counties = region_counties

    def list_enterprises(self, actor: Actor) -> list[dict[str, Any]]:
        today = dt.date.today()
        with self.sessions() as s:
            q = select(Enterprise).order_by(Enterprise.id)
            counties = self.region_counties(actor.region_id)
            if counties is not None:
                q = q.where(Enterprise.county_id.in_(counties))
            return [enterprise_view(s, e, today, full=True) for e in s.scalars(q)]

    def enterprise_detail(self, actor: Actor, enterprise_id: int) -> dict[str, Any]:
        with self.sessions() as s:
            e = s.get(Enterprise, enterprise_id)
            counties = self.region_counties(actor.region_id)
            if e is None or (counties is not None and e.county_id not in counties):
                raise NotFound(f"enterprise {enterprise_id} not found", "enterprise_id")
            return enterprise_view(s, e, dt.date.today(), full=True)
