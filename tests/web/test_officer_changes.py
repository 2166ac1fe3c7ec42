"""An officer's changes to a live incident keep the shortfall, the tasks and the log true."""

from __future__ import annotations

from typing import Any


def _chlorine_leak(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    resp = client.post("/api/v1/incidents", headers=headers, json={
        "kind": "leak", "enterprise_id": 1, "severity": 3, "chemical": "UN1017",
        "spill": "large"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _last_seq(client: Any, headers: dict[str, str]) -> int:
    return int(client.get("/api/v1/events?since=0", headers=headers).get_json()[-1]["seq"])


def _events_since(client: Any, headers: dict[str, str], seq: int) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/events?since={seq}", headers=headers).get_json()  # type: ignore[no-any-return]


def _box(lon: float, lat: float, d: float = 0.002) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                [lon + d, lat + d], [lon - d, lat + d],
                                                [lon - d, lat - d]]]}


def _a_fire_unit(incident: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in incident["assignments"] if a["capability"] == "fire")


def test_adding_a_unit_keeps_the_shortfall_of_other_capabilities(
        client: Any, login: Any) -> None:
    h = login("duty")["headers"]
    incident = _chlorine_leak(client, h)
    # the demo county cannot fill this plan: the shortfall is the officer's to-do list
    assert incident["unmet"]
    fire = _a_fire_unit(incident)
    released = client.delete(f"/api/v1/incidents/{incident['id']}/assignments/{fire['unit_id']}",
                             headers=h)
    assert released.status_code == 200
    added = client.post(f"/api/v1/incidents/{incident['id']}/assignments", headers=h,
                        json={"unit_id": fire["unit_id"], "capability": "fire"})
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert any(a["unit_id"] == fire["unit_id"] and a["status"] == "active"
               for a in body["assignments"])
    assert body["unmet"] == incident["unmet"]


def test_adding_a_unit_no_road_leads_from_is_refused_and_changes_nothing(
        client: Any, login: Any) -> None:
    h = login("duty")["headers"]
    incident = _chlorine_leak(client, h)
    fire = _a_fire_unit(incident)
    client.delete(f"/api/v1/incidents/{incident['id']}/assignments/{fire['unit_id']}",
                  headers=h)
    unit = next(u for u in client.get("/api/v1/units", headers=h).get_json()
                if u["id"] == fire["unit_id"])
    closed = client.post("/api/v1/closures", headers=h, json={
        "geometry": _box(unit["position"]["lon"], unit["position"]["lat"])})
    assert closed.status_code == 201, closed.get_json()
    before = client.get(f"/api/v1/incidents/{incident['id']}", headers=h).get_json()
    seq = _last_seq(client, h)

    added = client.post(f"/api/v1/incidents/{incident['id']}/assignments", headers=h,
                        json={"unit_id": fire["unit_id"]})
    assert added.status_code == 409, added.get_json()
    assert added.get_json()["error"]["field"] == "unit_id"
    assert client.get(f"/api/v1/incidents/{incident['id']}", headers=h).get_json() == before
    assert _events_since(client, h, seq) == []


def test_releasing_a_unit_logs_the_tasks_it_leaves_and_it_cannot_reopen_its_own(
        client: Any, login: Any) -> None:
    h = login("duty")["headers"]
    incident = _chlorine_leak(client, h)
    owner = next(a for a in incident["assignments"]
                 if sum(t["unit_id"] == a["unit_id"] for t in incident["tasks"]) >= 2)
    tasks = [t for t in incident["tasks"] if t["unit_id"] == owner["unit_id"]]
    crew = login(owner["callsign"])["headers"]
    done = client.post(f"/api/v1/tasks/{tasks[0]['id']}", headers=crew, json={"status": "done"})
    assert done.status_code == 200
    seq = _last_seq(client, h)

    client.delete(f"/api/v1/incidents/{incident['id']}/assignments/{owner['unit_id']}",
                  headers=h)
    logged = {e["data"]["task"]["id"]: e["data"]["task"]
              for e in _events_since(client, h, seq) if e["type"] == "task.updated"}
    # the open ones lost their owner, and the log says so; the done one stays the crew's
    assert set(logged) == {t["id"] for t in tasks[1:]}
    assert all(t["unit_id"] is None and t["status"] == "pending" for t in logged.values())

    reopen = client.post(f"/api/v1/tasks/{tasks[0]['id']}", headers=crew,
                         json={"status": "pending"})
    assert reopen.status_code == 403, reopen.get_json()
    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=h).get_json()
    assert next(t for t in after["tasks"] if t["id"] == tasks[0]["id"])["status"] == "done"


def test_a_unit_set_out_of_service_never_shows_as_available(
        client: Any, login: Any, sio: Any) -> None:
    h = login("duty")["headers"]
    incident = _chlorine_leak(client, h)
    fire = _a_fire_unit(incident)
    tablet = sio(fire["callsign"])
    seq = _last_seq(client, h)
    out = tablet.emit("unit.status", {"status": "out_of_service", "client_id": "oos-1",
                                      "incident_id": incident["id"]},
                      namespace="/hub", callback=True)
    assert out["ok"], out
    statuses = [e["data"]["status"] for e in _events_since(client, h, seq)
                if e["type"] == "unit.status" and e["data"]["unit_id"] == fire["unit_id"]]
    assert statuses == ["out_of_service"]


def test_a_plan_task_nobody_can_take_is_logged_at_once(client: Any, login: Any) -> None:
    h = login("duty")["headers"]
    # every ambulance is out of service: the plan's medical work has nobody to hold it
    for u in client.get("/api/v1/units", headers=h).get_json():
        if "medical" in u["capabilities"]:
            client.post(f"/api/v1/units/{u['id']}/status", headers=h,
                        json={"status": "out_of_service"})
    seq = _last_seq(client, h)
    incident = _chlorine_leak(client, h)
    unowned = {t["id"] for t in incident["tasks"] if t["unit_id"] is None}
    assert unowned
    logged = {e["data"]["task"]["id"]: e["data"]["task"]
              for e in _events_since(client, h, seq) if e["type"] == "task.updated"}
    assert unowned <= set(logged)
    assert all(logged[i]["created_at"] and logged[i]["unit_id"] is None for i in unowned)


def test_a_unit_filling_a_shortfall_inherits_its_deadline(client: Any, login: Any) -> None:
    h = login("duty")["headers"]
    units = client.get("/api/v1/units", headers=h).get_json()
    ambulance = next(u for u in units if "medical" in u["capabilities"])
    down = client.post(f"/api/v1/units/{ambulance['id']}/status", headers=h,
                       json={"status": "out_of_service"})
    assert down.status_code == 200, down.get_json()
    incident = _chlorine_leak(client, h)
    gap = next(u for u in incident["unmet"] if u["capability"] == "medical")
    client.post(f"/api/v1/units/{ambulance['id']}/status", headers=h,
                json={"status": "available"})

    added = client.post(f"/api/v1/incidents/{incident['id']}/assignments", headers=h,
                        json={"unit_id": ambulance["id"], "capability": "medical"})
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    a = next(x for x in body["assignments"] if x["unit_id"] == ambulance["id"])
    # due when the requirement was: the plan deadline counted from the report
    assert a["deadline_s"] is not None and 0 <= a["deadline_s"] <= gap["deadline_s"]
    left = next((u for u in body["unmet"] if u["capability"] == "medical"), None)
    assert (left["missing"] if left else 0) == gap["missing"] - 1
