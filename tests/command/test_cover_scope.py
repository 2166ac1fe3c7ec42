"""Cover counts what dispatch would really send: the target's own county's units, with the
configured turnout, around real closures only; a unit on a drill answers but is not moved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from command.db import session_scope
from command.models import Station, Unit, UnitStatus
from tests.clock import Clock
from tests.command.test_drills import actor, box, drills_of, spec, spring
from tests.security.helpers import add_county_officer, app_for, login


@pytest.fixture
def drill_app(db_url: str, clock: Clock) -> Iterator[Any]:
    with app_for(db_url, CLOCK=clock) as app:
        yield app


def test_another_countys_units_never_cover_an_enterprise(db_url: str) -> None:
    with app_for(db_url) as app:
        other = add_county_officer(app, "duty_b")
        client = app.test_client()
        h = login(client, "duty")["headers"]
        e = client.get("/api/v1/enterprises", headers=h).get_json()[0]
        with session_scope(app.extensions["redline"].sessions) as s:
            for u in s.scalars(select(Unit)):
                u.status = UnitStatus.OUT_OF_SERVICE
            st = Station(name="邻县站", lat=e["location"]["lat"], lon=e["location"]["lon"],
                         kind="fire", county_id=other, in_service=True)
            s.add(st)
            s.flush()
            for i in range(4):
                s.add(Unit(callsign=f"B{i}", kind="fire", capabilities=["fire"],
                           station_id=st.id, lat=st.lat, lon=st.lon, county_id=other))
        now = client.get("/api/v1/coverage/now", headers=h).get_json()
        target = next(t for t in now["targets"] if t["target_id"] == e["id"])
        assert target["status"] == "red"
        # as dispatch: nothing comes from the other county
        inc = client.post("/api/v1/incidents", headers=h, json={
            "kind": "fire", "enterprise_id": e["id"]}).get_json()
        assert inc["assignments"] == []
        standing = client.get("/api/v1/coverage", headers=h).get_json()
        mine = next(x for x in standing["enterprises"] if x["enterprise_id"] == e["id"])
        assert mine["status"] == "red"
        # and the other county's officer sees none of the first county's stations
        theirs = client.get("/api/v1/coverage", headers=login(client, "duty_b")["headers"]
                            ).get_json()
        assert {s["county_id"] for s in theirs["stations"]} <= {other}
        assert all(s["county_id"] == other for s in theirs["station_out"])


def test_live_cover_uses_the_configured_turnout(db_url: str) -> None:
    def first_force(config: dict[str, Any]) -> dict[str, Any]:
        with app_for(db_url, **config) as app:
            client = app.test_client()
            now = client.get("/api/v1/coverage/now",
                             headers=login(client, "duty")["headers"]).get_json()
            return next(t for t in now["targets"] if t["target_id"] == 1)  # type: ignore[no-any-return]

    default = first_force({})
    assert default["status"] == "green"
    assert default["requirements"][0]["worst_eta_s"] < 600 - 200
    # crews needing 400 s to turn out cannot be there within 600 s from ~390 s of driving
    slow = first_force({"TURNOUT_S": {"fire": 400.0, "hazmat": 400.0, "rescue": 400.0,
                                      "command": 400.0}})
    assert slow["status"] == "red"


def test_a_drill_closure_leaves_the_real_cover_alone(drill_app: Any, clock: Clock) -> None:
    app = drill_app
    client = app.test_client()
    h = login(client, "duty")["headers"]
    e = client.get("/api/v1/enterprises", headers=h).get_json()[0]
    before = client.get("/api/v1/coverage", headers=h).get_json()
    trainer = actor(app, "trainer")
    d = spring(app, clock, drills_of(app).create(trainer, spec(clock))["id"])
    svc = app.extensions["redline"].service
    lat, lon = e["location"]["lat"], e["location"]["lon"]
    svc.add_closure(trainer, box(lon, lat, 0.004), "drill inject", incident_id=d.incident_id)
    after = client.get("/api/v1/coverage", headers=h).get_json()
    assert after["enterprises"] == before["enterprises"]


def test_a_unit_on_a_drill_is_never_moved_up(drill_app: Any, clock: Clock) -> None:
    app = drill_app
    svc = app.extensions["redline"].service
    d = spring(app, clock, drills_of(app).create(actor(app, "trainer"), spec(clock))["id"])
    with svc.reading() as s:
        on_drill = set(s.scalars(select(Unit.id).where(Unit.incident_id == d.incident_id)))
    assert on_drill
    client = app.test_client()
    h = login(client, "duty")["headers"]
    for e in client.get("/api/v1/enterprises", headers=h).get_json():
        client.post("/api/v1/incidents", headers=h,
                    json={"kind": "fire", "enterprise_id": e["id"], "severity": 3})
        now = client.get("/api/v1/coverage/now", headers=h).get_json()
        with svc.reading() as s:
            still = set(s.scalars(select(Unit.id).where(Unit.incident_id == d.incident_id)))
        assert not {m["unit_id"] for m in now["move_ups"]} & still
