"""Escalation brings the tasks of the steps it reaches, once each, onto the right boards."""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of
from tests.plans.conftest import put_in_force, read, upload

STEP_II = ["扩大警戒区至 1000 m", "设立检伤分类点"]
STEP_I = ["倒罐输转"]


def _tasks(incident: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["title"]: t for t in incident["tasks"]}


def _patch(client: Any, headers: dict[str, str], incident_id: int, **change: Any
           ) -> dict[str, Any]:
    resp = client.patch(f"/api/v1/incidents/{incident_id}", headers=headers, json=change)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_escalation_creates_the_new_steps_tasks_once(client: Any, enterprise_id: int,
                                                     headers: Any, login: Any,
                                                     sio: Any) -> None:
    duty = headers("duty")
    plan_id = upload(client, duty, enterprise_id,
                     read("escalation_tasks.yaml")).get_json()["plan_id"]
    resp = put_in_force(client, duty, plan_id, 1)
    assert resp.status_code == 200, resp.get_json()
    resp = client.post("/api/v1/incidents", headers=duty, json={
        "kind": "leak", "enterprise_id": enterprise_id, "chemical": "UN1017", "severity": 2})
    assert resp.status_code == 201, resp.get_json()
    incident = resp.get_json()
    iid = incident["id"]
    assert incident["response_level"] == "III"
    assert sorted(_tasks(incident)) == ["关闭进料阀 V-101", "设置水幕"]
    fire = sorted((a for a in incident["assignments"] if a["capability"] == "fire"),
                  key=lambda a: a["eta_s"])
    hazmat = next(a for a in incident["assignments"] if a["capability"] == "hazmat")
    assert len(fire) == 2

    officer, crew = sio("duty"), sio(fire[1]["callsign"])
    officer.get_received("/hub")
    crew.get_received("/hub")

    # III -> II: the step's two tasks; fire to the fire unit already there that holds none
    # yet (the water curtain is the first's), the triage to the medical unit the step sends
    after = _patch(client, duty, iid, severity=3)
    assert after["response_level"] == "II"
    tasks = _tasks(after)
    assert sorted(tasks) == sorted(["关闭进料阀 V-101", "设置水幕", *STEP_II])
    medical = [a for a in after["assignments"] if a["capability"] == "medical"]
    assert len(medical) == 1
    assert tasks["扩大警戒区至 1000 m"]["unit_id"] == fire[1]["unit_id"]
    assert tasks["设立检伤分类点"]["unit_id"] == medical[0]["unit_id"]
    assert "1000 m" in tasks["扩大警戒区至 1000 m"]["details"]

    seen = officer.get_received("/hub")
    updated = [e["data"]["task"] for e in events_of(seen, "task.updated")]
    assert sorted(t["title"] for t in updated) == sorted(STEP_II), "each new task once"
    boards = {e["data"]["assignment"]["unit_id"]: [t["title"] for t in e["data"]["tasks"]]
              for e in events_of(seen, "task_board")}
    assert "扩大警戒区至 1000 m" in boards[fire[1]["unit_id"]]
    assert boards[medical[0]["unit_id"]] == ["设立检伤分类点"]
    # the fire crew's tablet hears its own new board (its unit room), with the new task
    crew_boards = events_of(crew.get_received("/hub"), "task_board")
    assert crew_boards and [t["title"] for t in crew_boards[-1]["data"]["tasks"]] == [
        "扩大警戒区至 1000 m"]
    assert [t["title"] for t in crew_boards[-1]["data"]["support_tasks"]] == ["设置水幕"]
    medic = login(medical[0]["callsign"])["headers"]
    board = client.get("/api/v1/board", headers=medic).get_json()["board"]
    assert [t["title"] for t in board["tasks"]] == ["设立检伤分类点"]

    # the same severity again: nothing new
    again = _patch(client, duty, iid, severity=3)
    assert len(again["tasks"]) == len(after["tasks"])
    assert events_of(officer.get_received("/hub"), "task.updated") == []

    # II -> I: only level I's task, to the hazmat unit; a milder severity with more
    # casualties, then level I again, neither steps the response down nor repeats a task
    top = _patch(client, duty, iid, severity=4)
    assert top["response_level"] == "I"
    new = [t for t in top["tasks"] if t["title"] in STEP_I]
    assert len(new) == 1 and new[0]["unit_id"] == hazmat["unit_id"]
    assert len(top["tasks"]) == len(after["tasks"]) + 1
    _patch(client, duty, iid, severity=2, casualties=1)
    final = _patch(client, duty, iid, severity=4)
    assert final["response_level"] == "I"
    assert sorted(t["title"] for t in final["tasks"]) == sorted(t["title"] for t in top["tasks"])
