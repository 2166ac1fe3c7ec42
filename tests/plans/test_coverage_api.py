"""GET /api/v1/coverage and /coverage/isochrones over the demo county and a plan of our own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from command.models import Station, Unit
from tests.plans.conftest import put_in_force, read, upload
from tests.security.helpers import add_county_officer

RANK = {"green": 0, "amber": 1, "red": 2}


def _approved_plan(client: Any, headers: Any, enterprise_id: int) -> int:
    plan_id = upload(client, headers("duty"), enterprise_id, read("valid.yaml")).get_json()[
        "plan_id"]
    resp = put_in_force(client, headers("duty"), plan_id, 1)
    assert resp.status_code == 200
    return int(plan_id)


def _mine(report: dict[str, Any], enterprise_id: int) -> dict[str, Any]:
    return next(e for e in report["enterprises"] if e["enterprise_id"] == enterprise_id)


def test_coverage_of_an_approved_plan(app: Any, client: Any, enterprise_id: int,
                                      headers: Any) -> None:
    h = headers("duty")
    before = client.get("/api/v1/coverage", headers=h).get_json()
    assert _mine(before, enterprise_id)["status"] is None  # no approved plan yet
    assert client.get("/api/v1/coverage", headers=h).get_json()["cached"] is True

    plan_id = _approved_plan(client, headers, enterprise_id)
    report = client.get("/api/v1/coverage", headers=h).get_json()
    assert report["cached"] is False, "a newly approved plan is a new state"
    mine = _mine(report, enterprise_id)
    assert mine["plan_id"] == plan_id and mine["version"] == 1
    assert [s["scenario_id"] for s in mine["scenarios"]] == ["chlorine-leak", "general"]
    chlorine = mine["scenarios"][0]
    assert chlorine["status"] in ("green", "amber")
    reqs = {r["capability"]: r for r in chlorine["requirements"]}
    assert reqs["hazmat"]["on_time"] and reqs["fire"]["covered"] == 2
    assert reqs["fire"]["worst_eta_s"] <= 900 and len(reqs["fire"]["callsigns"]) == 2
    assert mine["status"] == max((s["status"] for s in mine["scenarios"]), key=RANK.get)
    assert sum(report["counts"].values()) == len(report["enterprises"])

    # every hazmat unit lives at the park hazmat station: without it the leak is uncovered
    with app.extensions["redline"].service.reading() as s:
        hazmat_station = s.scalar(select(Station.id).where(Station.kind == "hazmat"))
    out = next(x for x in report["station_out"] if x["station_id"] == hazmat_station)
    hit = [a for a in out["affects"] if a["enterprise_id"] == enterprise_id
           and a["scenario_id"] == "chlorine-leak"]
    assert hit and hit[0]["to"] == "red" and hit[0]["bottleneck"] == "hazmat"
    for station in report["station_out"]:
        for a in station["affects"]:
            assert RANK[a["to"]] > RANK[a["from"]]


def test_unit_out_of_service_changes_the_answer(app: Any, client: Any, enterprise_id: int,
                                                headers: Any) -> None:
    _approved_plan(client, headers, enterprise_id)
    h = headers("duty")
    client.get("/api/v1/coverage", headers=h)
    assert client.get("/api/v1/coverage", headers=h).get_json()["cached"] is True
    with app.extensions["redline"].service.reading() as s:
        hazmat_units = list(s.scalars(select(Unit.id).where(Unit.kind == "hazmat")))
    for unit_id in hazmat_units:
        resp = client.post(f"/api/v1/units/{unit_id}/status", headers=h,
                           json={"status": "out_of_service"})
        assert resp.status_code == 200, resp.get_json()
    report = client.get("/api/v1/coverage", headers=h).get_json()
    assert report["cached"] is False
    chlorine = _mine(report, enterprise_id)["scenarios"][0]
    hazmat = next(r for r in chlorine["requirements"] if r["capability"] == "hazmat")
    # C41 (command + hazmat) still answers; with H41 and H42 gone it is the only one left
    assert hazmat["callsigns"] in (["C41"], [])


def test_coverage_roles_and_region(app: Any, client: Any, enterprise_id: int, headers: Any,
                                   login: Any) -> None:
    assert client.get("/api/v1/coverage").status_code == 401
    assert client.get("/api/v1/coverage", headers=headers("E11")).status_code == 403
    assert client.get("/api/v1/coverage", headers=headers("trainer")).status_code == 200
    add_county_officer(app)
    other = client.get("/api/v1/coverage", headers=login("duty_other")["headers"]).get_json()
    assert other["enterprises"] == []
    assert all(s["affects"] == [] for s in other["station_out"])


def test_isochrones(client: Any, headers: Any) -> None:
    h = headers("duty")
    fc = client.get("/api/v1/coverage/isochrones?minutes=4,8", headers=h).get_json()
    assert fc["type"] == "FeatureCollection" and fc["minutes"] == [4.0, 8.0]
    stations = client.get("/api/v1/stations", headers=h).get_json()
    by_station: dict[int, set[float]] = {}
    for f in fc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        by_station.setdefault(f["properties"]["station_id"], set()).add(
            f["properties"]["minutes"])
    assert set(by_station) == {s["id"] for s in stations}
    assert all(m == {4.0, 8.0} for m in by_station.values())
    default = client.get("/api/v1/coverage/isochrones", headers=h).get_json()
    assert default["minutes"] == [4.0, 8.0, 12.0]
    for bad in ("abc", "0", "4,,8", "61", "1,2,3,4,5,6,7"):
        resp = client.get(f"/api/v1/coverage/isochrones?minutes={bad}", headers=h)
        assert resp.status_code == 422, bad
        assert resp.get_json()["error"]["field"] == "minutes"


def test_pages_are_shells(client: Any) -> None:
    for url in ("/plans", "/plans/1", "/plans/default", "/plans/1/upload", "/plans/1/cards",
                "/coverage"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert b"rl-core.js" in resp.data
