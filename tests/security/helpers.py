"""Shared set-up for the security tests: apps, logins, a live incident, a second county."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from command.auth import hash_password
from command.db import session_scope
from command.models import Event, Region, RegionLevel, Role, User
from web import create_app

ROLES = ("anonymous", "duty_officer", "unit", "trainer", "admin")
# one demo login per role ("E11" is a unit's tablet)
LOGIN_OF = {"duty_officer": "duty", "unit": "E11", "trainer": "trainer", "admin": "admin"}
ALL_ROLES = frozenset(LOGIN_OF)
NO_SUCH_ID = 999_999


@contextmanager
def app_for(db_url: str, **config: Any) -> Iterator[Any]:
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                      "DRILL_SCHEDULER": False, "TESTING": True, **config})
    try:
        yield app
    finally:
        app.extensions["redline"].engine.dispose()


def login(client: Any, username: str, password: str | None = None) -> dict[str, Any]:
    resp = client.post("/api/v1/auth/login",
                       json={"username": username, "password": password or username})
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    data["headers"] = {"Authorization": f"Bearer {data['token']}"}
    return data


def report_fire(client: Any, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A real incident at the first demo enterprise, with units dispatched."""
    enterprises = client.get("/api/v1/enterprises", headers=headers).get_json()
    resp = client.post("/api/v1/incidents", headers=headers, json={
        "kind": "fire", "enterprise_id": enterprises[0]["id"], "severity": 2,
        "confirm_new": True, **extra})
    assert resp.status_code == 201, resp.get_json()
    incident = resp.get_json()
    assert incident["assignments"], "the demo plan dispatches units to a fire"
    return incident


def add_county_officer(app: Any, username: str = "duty_other") -> int:
    """A second county beside the demo one, with a duty officer who works only there."""
    hub = app.extensions["redline"]
    with session_scope(hub.sessions) as s:
        demo_county = s.scalar(select(Region).where(Region.level == RegionLevel.COUNTY)
                               .order_by(Region.id))
        assert demo_county is not None
        other = Region(name="远山县", level=RegionLevel.COUNTY, parent_id=demo_county.parent_id)
        s.add(other)
        s.flush()
        s.add(User(username=username, password_hash=hash_password(username),
                   role=Role.DUTY_OFFICER, region_id=other.id))
        other_id = other.id
    hub.service._region_parents = None  # the region tree changed under the cache
    return other_id


def event_count(app: Any) -> int:
    hub = app.extensions["redline"]
    with hub.service.reading() as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def table_counts(app: Any) -> dict[str, int]:
    """Row counts of every table: a refused request must leave all of them unchanged."""
    from command.db import Base

    hub = app.extensions["redline"]
    out: dict[str, int] = {}
    with hub.service.reading() as s:
        for name, table in sorted(Base.metadata.tables.items()):
            if name in ("auth_tokens",):
                continue
            out[name] = int(s.scalar(select(func.count()).select_from(table)) or 0)
    return out


def snapshot(app: Any) -> dict[str, Any]:
    """Row counts plus the mutable state of units, incidents, assignments and tasks."""
    from command.models import Assignment, Incident, Task, Unit

    hub = app.extensions["redline"]
    state: dict[str, Any] = {"counts": table_counts(app)}
    with hub.service.reading() as s:
        state["units"] = [(u.id, u.status.value, u.lat, u.lon, u.incident_id)
                          for u in s.scalars(select(Unit).order_by(Unit.id))]
        state["incidents"] = [(i.id, i.status.value, i.severity, i.casualties, i.wind)
                              for i in s.scalars(select(Incident).order_by(Incident.id))]
        state["assignments"] = [(a.id, a.status.value, a.acked_at, a.delivered_at)
                                for a in s.scalars(select(Assignment).order_by(Assignment.id))]
        state["tasks"] = [(t.id, t.status.value, t.unit_id)
                          for t in s.scalars(select(Task).order_by(Task.id))]
    return state
