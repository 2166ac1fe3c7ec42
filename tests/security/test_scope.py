"""Beyond the role gate: a unit sees and changes only its own board, tasks and status; a
trainer touches drills only; only admins approve plans and manage accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clock import Clock
from tests.conftest import events_of
from tests.security.helpers import app_for, login, report_fire, snapshot
from web.extensions import socketio


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    with app_for(db_url, CLOCK=clock, LOGIN_RATE_LIMIT="1000/60") as app:
        yield app


def _units_by_callsign(client: Any, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {u["callsign"]: u for u in client.get("/api/v1/units", headers=headers).get_json()}


def test_a_unit_sees_and_changes_only_its_own(app: Any) -> None:
    client = app.test_client()
    duty = login(client, "duty")["headers"]
    units = _units_by_callsign(client, duty)
    incident = report_fire(client, duty)
    assigned = {a["unit_id"] for a in incident["assignments"] if a["status"] == "active"}
    with_tasks = {t["unit_id"] for t in incident["tasks"]} & assigned
    assert with_tasks, "the plan gives dispatched units tasks"
    mine = next(u for u in units.values() if u["id"] in with_tasks)
    other = next(u for u in units.values() if u["id"] not in assigned)
    me = login(client, mine["callsign"])
    them = login(client, other["callsign"])
    my_tasks = [t for t in incident["tasks"] if t["unit_id"] == mine["id"]]

    # reading: only its own unit, board and events; no incidents, no enterprises
    assert [u["id"] for u in client.get("/api/v1/units", headers=them["headers"]).get_json()
            ] == [other["id"]]
    assert client.get("/api/v1/board", headers=them["headers"]).get_json()["board"] is None
    board = client.get("/api/v1/board", headers=me["headers"]).get_json()["board"]
    assert board["assignment"]["unit_id"] == mine["id"]
    assert {t["unit_id"] for t in board["tasks"]} <= {mine["id"], None}
    their_events = client.get("/api/v1/events", headers=them["headers"]).get_json()
    assert all(e["incident_id"] != incident["id"] for e in their_events)
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{incident['id']}",
                 f"/api/v1/incidents/{incident['id']}/events", "/api/v1/enterprises"):
        assert client.get(path, headers=them["headers"]).status_code == 403, path

    # writing someone else's task, status, position or acknowledgement: refused, no change
    before = snapshot(app)
    task = my_tasks[0]
    resp = client.post(f"/api/v1/tasks/{task['id']}", headers=them["headers"],
                       json={"status": "done"})
    assert resp.status_code == 403 and resp.get_json()["error"]["field"] == "task_id"
    resp = client.post(f"/api/v1/units/{mine['id']}/status", headers=them["headers"],
                       json={"status": "out_of_service"})
    assert resp.status_code == 403
    resp = client.post(f"/api/v1/units/{mine['id']}/position", headers=them["headers"],
                       json={"lat": mine["position"]["lat"], "lon": mine["position"]["lon"]})
    assert resp.status_code == 403
    sock = socketio.test_client(app, namespace="/hub", auth={"token": them["token"]})
    assert sock.is_connected("/hub")
    sock.get_received("/hub")
    for event, payload in (("task.update", {"task_id": task["id"], "status": "done"}),
                           ("ack", {"incident_id": incident["id"]}),
                           ("delivered", {"incident_id": incident["id"]})):
        reply = sock.emit(event, payload, namespace="/hub", callback=True)
        assert reply["ok"] is False and reply["error"]["code"] in ("forbidden", "not_found")
    errors = [r for r in sock.get_received("/hub") if r["name"] == "error"]
    assert len(errors) == 3
    assert snapshot(app) == before

    # the owner can, and the other tablet does not hear about it
    resp = client.post(f"/api/v1/tasks/{task['id']}", headers=me["headers"],
                       json={"status": "done"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "done"
    assert events_of(sock.get_received("/hub")) == []
    sock.disconnect("/hub")


def test_a_trainer_cannot_touch_real_incidents(app: Any) -> None:
    client = app.test_client()
    duty = login(client, "duty")["headers"]
    trainer = login(client, "trainer")["headers"]
    incident = report_fire(client, duty)
    iid = incident["id"]
    unit_id = incident["assignments"][0]["unit_id"]
    enterprise_id = incident["enterprise_id"]
    before = snapshot(app)
    attempts = [
        ("GET", f"/api/v1/incidents/{iid}", None),
        ("GET", f"/api/v1/incidents/{iid}/events", None),
        ("PATCH", f"/api/v1/incidents/{iid}", {"severity": 4}),
        ("POST", f"/api/v1/incidents/{iid}/close", {}),
        ("DELETE", f"/api/v1/incidents/{iid}/assignments/{unit_id}", None),
        ("POST", f"/api/v1/incidents/{iid}/assignments", {"unit_id": unit_id}),
        ("POST", "/api/v1/incidents", {"kind": "fire", "enterprise_id": enterprise_id}),
        ("POST", f"/api/v1/units/{unit_id}/status", {"status": "available"}),
    ]
    for method, path, payload in attempts:
        resp = client.open(path, method=method, headers=trainer, json=payload)
        # real incidents do not exist for a trainer (404); the rest is outside the role (403)
        assert resp.status_code in (403, 404), (method, path, resp.status_code)
    assert iid not in [i["id"] for i in client.get("/api/v1/incidents",
                                                   headers=trainer).get_json()]
    assert all(e["exercise"] for e in client.get("/api/v1/events",
                                                 headers=trainer).get_json())
    assert snapshot(app) == before


def test_a_trainer_runs_the_exercise_incident_of_a_drill(app: Any, clock: Clock) -> None:
    client = app.test_client()
    trainer = login(client, "trainer")["headers"]
    window = {"start": (clock.now + dt.timedelta(seconds=60)).isoformat(),
              "end": (clock.now + dt.timedelta(seconds=120)).isoformat()}
    resp = client.post("/api/v1/drills", headers=trainer,
                       json={"window": window, "enterprise_ids": "any", "unit_ids": "any"})
    assert resp.status_code == 201, resp.get_json()
    drill = client.get(f"/api/v1/drills/{resp.get_json()['id']}", headers=trainer).get_json()
    clock.now = dt.datetime.fromisoformat(drill["due_at"])
    app.extensions["drills"].tick()
    drill = client.get(f"/api/v1/drills/{drill['id']}", headers=trainer).get_json()
    iid = drill["incident_id"]
    assert iid
    got = client.get(f"/api/v1/incidents/{iid}", headers=trainer).get_json()
    assert got["exercise"] is True
    resp = client.patch(f"/api/v1/incidents/{iid}", headers=trainer, json={"casualties": 3})
    assert resp.status_code == 200 and resp.get_json()["casualties"] == 3


def test_only_admins_approve_plans_and_manage_accounts(app: Any) -> None:
    client = app.test_client()
    admin = login(client, "admin")["headers"]
    plans = client.get("/api/v1/plans", headers=admin).get_json()
    listed = plans["enterprises"] if isinstance(plans, dict) else plans
    assert listed
    url = "/api/v1/users"
    for who in ("duty", "trainer", "E11"):
        headers = login(client, who)["headers"]
        before = snapshot(app)
        assert client.get(url, headers=headers).status_code == 403
        assert client.post(url, headers=headers, json={
            "username": "mallory", "password": "long enough pw", "role": "admin"}
        ).status_code == 403
        assert client.post("/api/v1/plans/1/versions/1/approve", headers=headers,
                           json={}).status_code == 403
        assert snapshot(app) == before
    assert client.get(url, headers=admin).status_code == 200
