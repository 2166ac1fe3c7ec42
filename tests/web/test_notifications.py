"""The who-has-been-told checklist of an incident, from the activated plan's contacts."""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of


def test_plan_contacts_become_a_checklist_that_officers_tick(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    officer = sio("duty")
    enterprise = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[0]
    incident = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "fire", "enterprise_id": enterprise["id"], "severity": 2}).get_json()
    checks = incident["notifications"]
    assert len(checks) >= 2, "the enterprise's duty line and the plan's contacts"
    assert all(c["phone"] and not c["notified"] for c in checks)
    assert len({c["contact"] for c in checks}) == len(checks)
    officer.get_received("/hub")

    first = checks[0]
    url = f"/api/v1/incidents/{incident['id']}/notifications/{first['id']}"
    resp = client.post(url, headers=duty["headers"], json={"client_id": "n-1"})
    assert resp.status_code == 200 and resp.get_json()["notified"]
    assert resp.get_json()["notified_by"] == "duty"
    # the same command again is applied once
    assert client.post(url, headers=duty["headers"], json={"client_id": "n-1"}).status_code == 200
    got = events_of(officer.get_received("/hub"), "notification.checked")
    assert len(got) == 1 and got[0]["data"]["check"]["id"] == first["id"]

    view = client.get(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"]).get_json()
    ticked = {c["id"]: c["notified"] for c in view["notifications"]}
    assert ticked[first["id"]] and sum(ticked.values()) == 1

    # bad input: unknown check, wrong type, unit role
    bad = f"/api/v1/incidents/{incident['id']}/notifications/99999"
    assert client.post(bad, headers=duty["headers"], json={}).status_code == 404
    assert client.post(url, headers=duty["headers"], json={"notified": "yes"}).status_code == 422
    unit = login("E11")
    assert client.post(url, headers=unit["headers"], json={}).status_code == 403
    assert events_of(officer.get_received("/hub"), "notification.checked") == []
