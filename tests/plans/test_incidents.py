"""Incidents and plan versions: an incident keeps the version it activated; escalation."""

from __future__ import annotations

from typing import Any

from tests.plans.conftest import JSON, put_in_force, read, upload


def _approve(client: Any, headers: dict[str, str], plan_id: int, version: int) -> None:
    # the enterprise reviews and issues its plan (the county's staff record it)
    resp = put_in_force(client, headers, plan_id, version)
    assert resp.status_code == 200, resp.get_json()


def _report(client: Any, headers: dict[str, str], enterprise_id: int, **extra: Any) -> Any:
    resp = client.post("/api/v1/incidents", headers=headers, json={
        "kind": "leak", "enterprise_id": enterprise_id, "chemical": "UN1017", "severity": 2,
        "confirm_new": True, **extra})  # later reports here are new incidents in these tests
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_incident_keeps_its_plan_version(client: Any, enterprise_id: int,
                                         headers: Any) -> None:
    duty, admin = headers("duty"), headers("admin")
    plan_id = upload(client, duty, enterprise_id, read("valid.yaml")).get_json()["plan_id"]
    _approve(client, admin, plan_id, 1)
    first = _report(client, duty, enterprise_id)
    assert first["plan"]["plan_id"] == plan_id and first["plan"]["version"] == 1
    assert first["plan"]["scenario_id"] == "chlorine-leak"
    assert "chemical UN1017" in first["match_reason"]

    # version 2 (authored as JSON) is approved while the incident is live
    assert upload(client, duty, enterprise_id, read("valid.json"), JSON).status_code == 201
    _approve(client, admin, plan_id, 2)

    again = client.get(f"/api/v1/incidents/{first['id']}", headers=duty).get_json()
    assert again["plan"]["version"] == 1
    assert again["plan"]["plan_version_id"] == first["plan"]["plan_version_id"]
    # a new report activates version 2
    second = _report(client, duty, enterprise_id)
    assert second["plan"]["version"] == 2
    assert second["plan"]["plan_version_id"] != first["plan"]["plan_version_id"]


def test_raising_severity_escalates_and_adds_forces(client: Any, enterprise_id: int,
                                                    headers: Any) -> None:
    duty, admin = headers("duty"), headers("admin")
    plan_id = upload(client, duty, enterprise_id, read("valid.yaml")).get_json()["plan_id"]
    _approve(client, admin, plan_id, 1)
    incident = _report(client, duty, enterprise_id)
    assert incident["response_level"] == "III"
    caps = sorted(a["capability"] for a in incident["assignments"])
    assert caps == ["fire", "fire", "hazmat"]

    resp = client.patch(f"/api/v1/incidents/{incident['id']}", headers=duty,
                        json={"severity": 3})
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()
    assert after["response_level"] == "II"
    # level II of the scenario adds one medical unit
    assert sorted(a["capability"] for a in after["assignments"]
                  if a["status"] == "active") == ["fire", "fire", "hazmat", "medical"]
    types = [e["type"] for e in client.get(f"/api/v1/incidents/{incident['id']}/events",
                                           headers=duty).get_json()]
    assert "incident.escalated" in types


def test_no_match_falls_back_to_general_scenario(client: Any, enterprise_id: int,
                                                 headers: Any) -> None:
    duty = headers("duty")
    plan_id = upload(client, duty, enterprise_id, read("valid.yaml")).get_json()["plan_id"]
    _approve(client, headers("admin"), plan_id, 1)
    incident = _report(client, duty, enterprise_id, kind="fire", chemical=None)
    assert incident["plan"]["scenario_id"] == "general"
    assert incident["plan"]["source"] == "enterprise"
    assert "using its general scenario general" in incident["match_reason"]
