"""After a dispatch the officer learns which enterprises lost the cover of their first force."""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of


def test_coverage_now_lists_every_enterprise_with_a_plan(client: Any, login: Any) -> None:
    duty = login("duty")
    cover = client.get("/api/v1/coverage/now", headers=duty["headers"]).get_json()
    enterprises = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()
    assert {t["target_id"] for t in cover["targets"]} == {e["id"] for e in enterprises}
    assert sum(cover["counts"].values()) == len(enterprises)
    for t in cover["targets"]:
        assert t["status"] in ("green", "amber", "red")
        assert t["requirements"][0]["capability"] == "fire"
    assert client.get("/api/v1/coverage/now", headers=login("E11")["headers"]).status_code == 403


def test_a_big_dispatch_reports_the_gaps_it_leaves_and_move_ups(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    before = client.get("/api/v1/coverage/now", headers=duty["headers"]).get_json()
    officer = sio("duty")
    officer.get_received("/hub")

    enterprise = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[0]
    incident = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "fire", "enterprise_id": enterprise["id"], "severity": 3}).get_json()
    taken = {a["unit_id"] for a in incident["assignments"] if a["capability"] == "fire"}
    assert len(taken) >= 5, "a severity 3 fire calls most of the county's fire units"

    now = client.get("/api/v1/coverage/now", headers=duty["headers"]).get_json()
    assert now["counts"]["red"] > before["counts"]["red"]
    for g in now["gaps"]:
        assert g["bottleneck"] == "fire"
        # the pages translate the reason from its parts
        assert g["reason_parts"] and {p["code"] for p in g["reason_parts"]} <= {
            "cover.short", "cover.off_road", "cover.unreachable"}
    assert incident["match_reason_parts"][-1]["code"].startswith("match.level")
    # the gaps and the advice are on the incident and went to the command room
    assert incident["coverage_gaps"] == now["gaps"]
    assert incident["move_ups"] == now["move_ups"]
    got = events_of(officer.get_received("/hub"), "incident.coverage")
    assert len(got) == 1 and got[0]["data"]["gaps"] == now["gaps"]
    assert got[0]["incident_id"] == incident["id"]
    units = {u["id"]: u for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()}
    red = {g["enterprise_id"] for g in now["gaps"]}
    for m in now["move_ups"]:
        assert units[m["unit_id"]]["status"] == "available" and m["unit_id"] not in taken
        assert set(m["restores"]) <= red and m["restores"]


def test_no_gaps_no_coverage_event(client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    officer = sio("duty")
    officer.get_received("/hub")
    enterprise = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[0]
    # a minor leak calls few units; the county stays covered as before
    before = client.get("/api/v1/coverage/now", headers=duty["headers"]).get_json()
    incident = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "other", "location": {"lat": -23.5450, "lon": -46.6050},
        "severity": 1}).get_json()
    now = client.get("/api/v1/coverage/now", headers=duty["headers"]).get_json()
    got = events_of(officer.get_received("/hub"), "incident.coverage")
    assert incident["coverage_gaps"] == now["gaps"]
    assert (len(got) == 1) == bool(now["gaps"])
    assert enterprise["id"] in {t["target_id"] for t in before["targets"]}
