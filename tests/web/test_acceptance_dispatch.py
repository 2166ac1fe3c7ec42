"""Acceptance checks of issues 2 and 4 on the running hub (REST + Socket.IO test clients):
off-road reports, configurable turnout, wind changes reaching tablets, no route around the
hazard zone said plainly, and units added by escalation taking up the plan's open tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatch.graph import bearing_deg
from tests.conftest import events_of
from web import create_app
from web.config import parse_turnout
from web.extensions import socketio

# inside the demo map's bounding box, ~1.4 km from the nearest road (its north-east corner)
FAR_FROM_ROADS = {"lat": -23.51343, "lon": -46.59949}
# a chlorine leak in the street east of the park, away from every enterprise's own plan
STREET = {"lat": -23.5450, "lon": -46.6200}
ENVELOPE = {"seq", "type", "incident_id", "at", "data"}


def _counts(client: Any, headers: dict[str, str]) -> tuple[int, int]:
    return (len(client.get("/api/v1/incidents", headers=headers).get_json()),
            len(client.get("/api/v1/events?since=0", headers=headers).get_json()))


@pytest.fixture
def app_with(db_url: str) -> Iterator[Any]:
    """An app on the demo copy with extra configuration (built on first call)."""
    apps: list[Any] = []

    def _make(**config: Any) -> Any:
        app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                          "DRILL_SCHEDULER": False, "TESTING": True, **config})
        apps.append(app)
        return app

    yield _make
    for a in apps:
        a.extensions["redline"].engine.dispose()


def _headers(client: Any, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": username,
                                                    "password": username}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_location_farther_than_1km_from_any_road_is_refused(client: Any, login: Any) -> None:
    duty = login("duty")
    graph = client.application.extensions["redline"].graph
    assert graph.contains(FAR_FROM_ROADS["lat"], FAR_FROM_ROADS["lon"]), "inside the map"
    before = _counts(client, duty["headers"])
    resp = client.post("/api/v1/incidents", headers=duty["headers"],
                       json={"kind": "fire", "location": FAR_FROM_ROADS})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "invalid" and err["field"] == "location"
    assert "nearest road" in err["message"] and "1000 m" in err["message"]
    assert _counts(client, duty["headers"]) == before


def test_turnout_per_unit_kind_and_snap_distance_are_configurable(app_with: Any) -> None:
    app = app_with(TURNOUT_S={"ems": 30.0, "fire": 100.0}, MAX_SNAP_M=2000.0)
    client = app.test_client()
    duty = _headers(client, "duty")
    units = {u["id"]: u for u in client.get("/api/v1/units", headers=duty).get_json()}
    # 1.4 km from a road is within the configured 2 km
    resp = client.post("/api/v1/incidents", headers=duty,
                       json={"kind": "fire", "location": FAR_FROM_ROADS})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/incidents", headers=duty, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1})
    seen = set()
    for a in resp.get_json()["assignments"]:
        kind = units[a["unit_id"]]["kind"]
        # configured kinds take the new value, the others keep NFPA 1710's
        expected = {"ems": 30.0, "fire": 100.0}.get(kind, 80.0)
        assert a["turnout_s"] == expected, (kind, a)
        assert a["eta_s"] == pytest.approx(a["travel_s"] + expected, abs=0.2)
        seen.add(kind)
    assert {"ems", "fire"} <= seen and seen - {"ems", "fire"}, seen


def test_turnout_setting_is_read_from_the_environment_format() -> None:
    assert parse_turnout(None) is None and parse_turnout(" ") is None
    assert parse_turnout("ems=45, fire=90") == {"ems": 45.0, "fire": 90.0}
    for bad in ("ems", "ems=fast", "=60", "fire=-1"):
        with pytest.raises(ValueError, match="TURNOUT_S"):
            parse_turnout(bad)


def test_wind_change_reroutes_and_tablets_get_the_new_route_and_eta(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    # a small leak, said so: an unknown size at this 80 t installation would be taken as large
    inc = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1,
        "spill": "small"}).get_json()
    # without wind the protective distance applies all round
    assert inc["isolation"]["downwind_deg"] is None
    # the four fields, plus the source's translatable parts
    assert {"radius_m", "protective_m", "downwind_deg", "source"} <= set(inc["isolation"])
    first = inc["assignments"][0]
    assert set(first["staging"]) == {"lat", "lon"}
    tablet = sio(first["callsign"])
    other = sio(next(u["callsign"] for u in client.get("/api/v1/units", headers=duty["headers"])
                     .get_json() if u["status"] == "available"))
    tablet.get_received("/hub")
    other.get_received("/hub")

    resp = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty["headers"],
                        json={"wind": {"from_deg": 0, "speed_ms": 4}})
    assert resp.status_code == 200
    assert resp.get_json()["isolation"]["downwind_deg"] == 180.0
    got = events_of(tablet.get_received("/hub"))
    assert all(set(e) >= ENVELOPE for e in got)
    boards = [e["data"] for e in got if e["type"] == "task_board"]
    assert len(boards) == 1
    a = boards[0]["assignment"]
    assert a["unit_id"] == first["unit_id"]
    assert a["route"]["type"] == "LineString" and a["route"] != first["route"]
    assert a["eta_s"] != first["eta_s"] and a["staging"] != first["staging"]
    assert "staging" in boards[0]["notes"]
    # the new staging point lies upwind (north) of the source, and the board says so
    b = bearing_deg(inc["location"]["lat"], inc["location"]["lon"],
                    a["staging"]["lat"], a["staging"]["lon"])
    assert min(b, 360 - b) < 90
    assert events_of(other.get_received("/hub"), "task_board") == []


def test_no_route_around_the_zone_is_said_plainly_and_the_old_route_dropped(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    inc = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "leak", "location": STREET, "chemical": "UN1017", "spill": "small",
        "wind": {"from_deg": 90, "speed_ms": 2}}).get_json()
    a0 = inc["assignments"][0]
    assert a0["route"] is not None and inc["unmet"] == []
    tablet = sio(a0["callsign"])
    tablet.get_received("/hub")

    # a large spill: the protective zone covers every road downwind. Crews never stage
    # downwind in it: they cross it (never the isolation circle) to its upwind side, and the
    # board says so plainly
    view = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty["headers"],
                        json={"spill": "large"}).get_json()
    active = [a for a in view["assignments"] if a["status"] == "active"]
    assert active and all(a["staging"]["may_cross_protective_zone"] for a in active)
    # the wind comes from the east: the staging point lies east of the scene
    assert all(a["staging"]["lon"] > STREET["lon"] for a in active)
    boards = events_of(tablet.get_received("/hub"), "task_board")
    assert len(boards) == 1
    assert "route_crosses_protective_zone" in boards[0]["data"]["notes"]
    tablet_headers = _headers(client, a0["callsign"])
    again = client.get("/api/v1/board", headers=tablet_headers).get_json()["board"]
    assert "route_crosses_protective_zone" in again["notes"]

    # every road closed around the scene: no route at all, said plainly, old route dropped
    ring = {"type": "Polygon", "coordinates": [[
        [STREET["lon"] - 0.03, STREET["lat"] - 0.03], [STREET["lon"] + 0.03, STREET["lat"] - 0.03],
        [STREET["lon"] + 0.03, STREET["lat"] + 0.03], [STREET["lon"] - 0.03, STREET["lat"] + 0.03],
        [STREET["lon"] - 0.03, STREET["lat"] - 0.03]]]}
    closure = client.post("/api/v1/closures", headers=duty["headers"],
                          json={"geometry": ring, "reason": "all roads"}).get_json()
    view = client.get(f"/api/v1/incidents/{inc['id']}", headers=duty["headers"]).get_json()
    assert all(a["route"] is None for a in view["assignments"] if a["status"] == "active")
    boards = events_of(tablet.get_received("/hub"), "task_board")
    assert boards and boards[-1]["data"]["assignment"]["route"] is None
    assert "no_route" in boards[-1]["data"]["notes"]
    again = client.get("/api/v1/board", headers=tablet_headers).get_json()["board"]
    assert "no_route" in again["notes"] and again["assignment"]["route"] is None
    client.delete(f"/api/v1/closures/{closure['id']}", headers=duty["headers"])
    tablet.get_received("/hub")

    # with wind the zone is a square downwind: a staging point upwind exists again
    view = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty["headers"],
                        json={"wind": {"from_deg": 0}}).get_json()
    assert [u for u in view["unmet"] if u["capability"] == "route"] == []
    boards = events_of(tablet.get_received("/hub"), "task_board")
    assert boards and boards[-1]["data"]["assignment"]["route"]["type"] == "LineString"
    assert boards[-1]["data"]["notes"] == ["staging"]


def test_added_and_escalated_units_take_up_the_plans_open_tasks(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    inc = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1}).get_json()
    command_tasks = [t for t in inc["tasks"] if t["capability"] == "command"]
    assert command_tasks and command_tasks[0]["unit_id"] is not None
    owner = command_tasks[0]["unit_id"]
    view = client.delete(f"/api/v1/incidents/{inc['id']}/assignments/{owner}",
                         headers=duty["headers"]).get_json()
    assert {t["unit_id"] for t in view["tasks"] if t["capability"] == "command"} == {None}

    spare = next(u for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()
                 if u["status"] == "available" and "command" in u["capabilities"]
                 and u["id"] != owner)
    tablet = sio(spare["callsign"])
    officer = sio("duty")
    for c in (tablet, officer):
        c.get_received("/hub")
    resp = client.post(f"/api/v1/incidents/{inc['id']}/assignments", headers=duty["headers"],
                       json={"unit_id": spare["id"], "capability": "command"})
    assert resp.status_code == 201
    assert {t["unit_id"] for t in resp.get_json()["tasks"]
            if t["capability"] == "command"} == {spare["id"]}
    board = events_of(tablet.get_received("/hub"), "task_board")[-1]["data"]
    assert {t["id"] for t in board["tasks"]} == {t["id"] for t in command_tasks}
    updated = events_of(officer.get_received("/hub"), "task.updated")
    assert {e["data"]["task"]["id"] for e in updated} == {t["id"] for t in command_tasks}

    # escalation adds assignments, each with its board on its own tablet
    tablets = {u["id"]: socketio.test_client(
        client.application, namespace="/hub",
        auth={"token": login(u["callsign"])["token"]})
        for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()
        if u["status"] == "available"}
    before = {a["unit_id"] for a in resp.get_json()["assignments"] if a["status"] == "active"}
    view = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty["headers"],
                        json={"severity": 3, "casualties": 12}).get_json()
    assert view["response_level"] == "II"
    added = {a["unit_id"] for a in view["assignments"] if a["status"] == "active"} - before
    assert added
    for unit_id, c in tablets.items():
        boards = events_of(c.get_received("/hub"), "task_board")
        assert len(boards) == (1 if unit_id in added else 0)
        c.disconnect("/hub")
