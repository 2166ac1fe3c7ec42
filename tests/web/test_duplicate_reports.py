"""A second report at an open incident's enterprise or within 300 m is held for the officer."""

from __future__ import annotations

from typing import Any

from dispatch.graph import haversine_m
from tests.conftest import events_of

LEAK = {"kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1}


def _busy_units(client: Any, headers: dict[str, str]) -> int:
    return sum(u["status"] != "available"
               for u in client.get("/api/v1/units", headers=headers).get_json())


def test_second_report_at_the_same_enterprise_is_held_with_the_open_incident(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")["headers"]
    first = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    officer = sio("duty")
    officer.get_received("/hub")
    busy = _busy_units(client, duty)
    resp = client.post("/api/v1/incidents", headers=duty, json={**LEAK, "casualties": 2})
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "possible_duplicate"
    assert [c["id"] for c in error["candidates"]] == [first["id"]]
    assert error["candidates"][0]["same_enterprise"] is True
    assert len(client.get("/api/v1/incidents", headers=duty).get_json()) == 1
    assert _busy_units(client, duty) == busy, "nothing dispatched before the officer decides"
    flagged = events_of(officer.get_received("/hub"), "report.possible_duplicate")
    assert [e["incident_id"] for e in flagged] == [first["id"]]


def test_a_report_within_300_m_is_flagged_and_one_farther_away_is_not(
        client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    first = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    here = first["location"]
    near = {"lat": here["lat"] + 0.0018, "lon": here["lon"]}  # ~200 m north
    assert 150 < haversine_m(here["lat"], here["lon"], near["lat"], near["lon"]) < 300
    resp = client.post("/api/v1/incidents", headers=duty,
                       json={"kind": "fire", "location": near})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["candidates"][0]["id"] == first["id"]
    far = {"lat": here["lat"] + 0.0045, "lon": here["lon"]}  # ~500 m
    resp = client.post("/api/v1/incidents", headers=duty, json={"kind": "fire", "location": far})
    assert resp.status_code == 201, resp.get_json()


def test_the_officer_confirms_a_new_incident_or_attaches_the_report_in_one_call(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")["headers"]
    first = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    officer = sio("duty")
    officer.get_received("/hub")
    resp = client.post("/api/v1/incidents", headers=duty, json={
        **LEAK, "casualties": 3, "description": "second caller", "attach_to": first["id"]})
    assert resp.status_code == 200
    view = resp.get_json()
    assert view["id"] == first["id"]
    assert [r["description"] for r in view["attached_reports"]] == ["second caller"]
    assert len(client.get("/api/v1/incidents", headers=duty).get_json()) == 1
    attached = events_of(officer.get_received("/hub"), "incident.report_attached")
    assert attached and attached[0]["data"]["report"]["casualties"] == 3

    resp = client.post("/api/v1/incidents", headers=duty, json={**LEAK, "confirm_new": True})
    assert resp.status_code == 201
    assert resp.get_json()["id"] != first["id"]


def test_attaching_to_an_unknown_incident_names_the_field(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    resp = client.post("/api/v1/incidents", headers=duty, json={**LEAK, "attach_to": 999})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["field"] == "attach_to"
