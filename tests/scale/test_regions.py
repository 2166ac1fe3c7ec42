"""One platform for a province: a county's duty officer sees and acts only in that county.

A second county (same city) gets an enterprise, a station with a unit, and an officer; the
demo county gets its own officer. REST and Socket.IO must keep them apart, while the
province's duty officer sees both.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from command.auth import hash_password
from command.db import session_scope
from command.models import Region, RegionLevel, Role, Station, Unit, User
from plans.models import Enterprise
from tests.conftest import events_of


@pytest.fixture
def two_counties(app: Any) -> dict[str, Any]:
    hub = app.extensions["redline"]
    with session_scope(hub.sessions) as s:
        first = s.scalars(select(Region).where(Region.level == RegionLevel.COUNTY)
                          .order_by(Region.id)).first()
        assert first is not None
        second = Region(name="临江县", level=RegionLevel.COUNTY, parent_id=first.parent_id)
        s.add(second)
        s.flush()
        enterprises = s.scalars(select(Enterprise).order_by(Enterprise.id)).all()
        # the last demo enterprise moves to the new county; its neighbours stay
        moved = enterprises[-1]
        s.execute(update(Enterprise).where(Enterprise.id == moved.id)
                  .values(county_id=second.id))
        station = Station(name="临江消防站", kind="fire", lat=moved.lat + 0.002,
                          lon=moved.lon + 0.002, county_id=second.id)
        s.add(station)
        s.flush()
        unit = Unit(callsign="X91", kind="fire", capabilities=["fire", "rescue", "foam"],
                    station_id=station.id, lat=station.lat, lon=station.lon,
                    county_id=second.id)
        s.add(unit)
        s.flush()
        for name, region, role, unit_id in (("duty1", first.id, Role.DUTY_OFFICER, None),
                                            ("duty2", second.id, Role.DUTY_OFFICER, None),
                                            ("X91", second.id, Role.UNIT, unit.id)):
            s.add(User(username=name, password_hash=hash_password(name), role=role,
                       region_id=region, unit_id=unit_id))
        ids = {"county1": first.id, "county2": second.id, "unit2": unit.id,
               "enterprise2": moved.id, "enterprise1": enterprises[0].id}
    # the service caches the region tree for a short while; a new county must be seen now
    hub.service._region_parents = None
    return ids


def test_county_officers_see_and_act_only_in_their_county(
        app: Any, client: Any, login: Any, sio: Any, two_counties: dict[str, Any]) -> None:
    ids = two_counties
    duty1, duty2, province = login("duty1"), login("duty2"), login("duty")
    s1, s2, sp, tablet2 = sio("duty1"), sio("duty2"), sio("duty"), sio("X91")
    for c in (s1, s2, sp, tablet2):
        c.get_received("/hub")

    # an officer cannot report in the other county
    r = client.post("/api/v1/incidents", headers=duty1["headers"],
                    json={"kind": "fire", "enterprise_id": ids["enterprise2"]})
    assert r.status_code in (403, 404, 422), r.get_json()
    assert r.get_json()["error"]["field"] == "enterprise_id"
    r = client.post("/api/v1/incidents", headers=duty2["headers"],
                    json={"kind": "fire", "enterprise_id": ids["enterprise1"]})
    assert r.status_code in (403, 404, 422), r.get_json()

    # each reports in their own county; dispatch stays within the county
    r2 = client.post("/api/v1/incidents", headers=duty2["headers"],
                     json={"kind": "fire", "enterprise_id": ids["enterprise2"]})
    assert r2.status_code == 201, r2.get_json()
    inc2 = r2.get_json()
    assert {a["unit_id"] for a in inc2["assignments"]} == {ids["unit2"]}
    r1 = client.post("/api/v1/incidents", headers=duty1["headers"],
                     json={"kind": "fire", "enterprise_id": ids["enterprise1"]})
    assert r1.status_code == 201, r1.get_json()
    inc1 = r1.get_json()
    assert ids["unit2"] not in {a["unit_id"] for a in inc1["assignments"]}

    # REST: lists, reads and writes of the other county's incident and unit
    def listed(who: dict[str, Any]) -> set[int]:
        return {i["id"] for i in client.get("/api/v1/incidents",
                                            headers=who["headers"]).get_json()}

    assert listed(duty1) == {inc1["id"]}
    assert listed(duty2) == {inc2["id"]}
    assert {inc1["id"], inc2["id"]} <= listed(province)
    for who, other in ((duty1, inc2["id"]), (duty2, inc1["id"])):
        h = who["headers"]
        assert client.get(f"/api/v1/incidents/{other}", headers=h).status_code == 404
        assert client.get(f"/api/v1/incidents/{other}/events", headers=h).status_code == 404
        assert client.patch(f"/api/v1/incidents/{other}", headers=h,
                            json={"severity": 4}).status_code == 404
        assert client.post(f"/api/v1/incidents/{other}/close", headers=h,
                           json={}).status_code == 404
    units1 = {u["id"] for u in client.get("/api/v1/units", headers=duty1["headers"]).get_json()}
    units2 = {u["id"] for u in client.get("/api/v1/units", headers=duty2["headers"]).get_json()}
    assert units2 == {ids["unit2"]} and ids["unit2"] not in units1
    assert client.post(f"/api/v1/units/{ids['unit2']}/status", headers=duty1["headers"],
                       json={"status": "out_of_service"}).status_code == 404
    some_unit1 = next(iter(units1))
    assert client.post(f"/api/v1/units/{some_unit1}/status", headers=duty2["headers"],
                       json={"status": "out_of_service"}).status_code == 404
    assert client.post(f"/api/v1/incidents/{inc1['id']}/assignments", headers=duty2["headers"],
                       json={"unit_id": ids["unit2"]}).status_code == 404
    assert client.post(f"/api/v1/units/{ids['unit2']}/position", headers=duty1["headers"],
                       json={"lat": -23.55, "lon": -46.63}).status_code in (403, 404)
    st1 = {st["id"] for st in client.get("/api/v1/stations", headers=duty1["headers"]).get_json()}
    st2 = {st["id"] for st in client.get("/api/v1/stations", headers=duty2["headers"]).get_json()}
    assert st1 and st2 and not st1 & st2, "each county sees its own stations"
    # nothing was changed by the refused writes
    assert client.get(f"/api/v1/incidents/{inc2['id']}",
                      headers=duty2["headers"]).get_json()["severity"] == inc2["severity"]
    assert client.get(f"/api/v1/incidents/{inc1['id']}",
                      headers=duty1["headers"]).get_json()["status"] == "active"

    # REST twin of resync
    ev1 = client.get("/api/v1/events?since=0", headers=duty1["headers"]).get_json()
    ev2 = client.get("/api/v1/events?since=0", headers=duty2["headers"]).get_json()
    assert {e["incident_id"] for e in ev1 if e["incident_id"]} == {inc1["id"]}
    assert {e["incident_id"] for e in ev2 if e["incident_id"]} == {inc2["id"]}

    # Socket.IO: live events, and resync, only from one's own county
    live1, live2 = events_of(s1.get_received("/hub")), events_of(s2.get_received("/hub"))
    livep = events_of(sp.get_received("/hub"))
    assert live1 and {e["incident_id"] for e in live1 if e["incident_id"]} == {inc1["id"]}
    assert live2 and {e["incident_id"] for e in live2 if e["incident_id"]} == {inc2["id"]}
    assert {inc1["id"], inc2["id"]} <= {e["incident_id"] for e in livep}
    boards = events_of(tablet2.get_received("/hub"), "task_board")
    assert [b["incident_id"] for b in boards] == [inc2["id"]]
    s1.emit("resync", {"since_seq": 0}, namespace="/hub")
    again = events_of(s1.get_received("/hub"))
    assert again and {e["incident_id"] for e in again if e["incident_id"]} == {inc1["id"]}
    # a county officer's socket command on the other county's task is refused, nothing changes
    task2 = next(t for t in client.get(f"/api/v1/incidents/{inc2['id']}",
                                       headers=duty2["headers"]).get_json()["tasks"])
    ack = s1.emit("task.update", {"task_id": task2["id"], "status": "done"}, namespace="/hub",
                  callback=True)
    assert ack["ok"] is False
    assert any(r["name"] == "error" for r in s1.get_received("/hub"))
    assert next(t for t in client.get(f"/api/v1/incidents/{inc2['id']}",
                                      headers=duty2["headers"]).get_json()["tasks"]
                if t["id"] == task2["id"])["status"] == "pending"
