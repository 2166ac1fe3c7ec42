"""The drill programme API: bad bodies name their field, an offline resend answers 200 with
the stored observation, the evaluation CSV, the obligation list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.clock import Clock
from tests.web.test_drills_api import app, sprung  # noqa: F401 - the fixture

PROGRAMME = {"drill_type": "functional", "scope": "single",
             "objectives": ["first report within 10 minutes"], "evaluators": ["trainer"],
             "safety_plan": "real calls preempt", "msel": [
                 {"at_s": 0, "inject": "leak reported", "player": "duty officer",
                  "expected_action": "dispatch per plan"}]}


def test_observation_api_validates_and_is_idempotent(client: Any, login: Any, app: Any,  # noqa: F811
                                                     clock: Clock) -> None:
    trainer = login("trainer")["headers"]
    drill = sprung(app, client, trainer, clock)
    base = f"/api/v1/drills/{drill['id']}"
    r = client.put(base + "/programme", headers=trainer, json={**PROGRAMME, "safety_plan": ""})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "safety_plan"
    r = client.put(base + "/programme", headers=trainer, json=PROGRAMME)
    assert r.status_code == 200 and r.get_json()["phase"] == "run"
    form = {"client_id": "tab-7:1", "area": "resources", "rating": "not_met",
            "observed_at": clock.now.isoformat(), "note": "foam stock not on site"}
    bad = client.post(base + "/observations", headers=trainer, json={**form, "rating": "great"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "rating"
    first = client.post(base + "/observations", headers=trainer, json=form)
    assert first.status_code == 201
    again = client.post(base + "/observations", headers=trainer, json=form)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    listed = client.get(base + "/observations", headers=trainer).get_json()
    assert [o["client_id"] for o in listed] == ["tab-7:1"]
    csv_resp = client.get(base + "/evaluation.csv", headers=trainer)
    assert csv_resp.status_code == 200 and "resources,not_met" in csv_resp.get_data(as_text=True)
    rep = client.get(base + "/evaluation", headers=trainer).get_json()
    assert rep["conclusion"]["result"] == "not_met"
    # officers play the drill; they do not evaluate it
    duty = login("duty")["headers"]
    assert client.post(base + "/observations", headers=duty,
                       json={**form, "client_id": "d"}).status_code == 403


def test_enterprise_drills_and_obligations_api(client: Any, login: Any, clock: Clock) -> None:
    duty = login("duty")["headers"]
    before = client.get("/api/v1/drill-obligations", headers=duty).get_json()
    eid = before["enterprises"][0]["enterprise_id"]
    assert before["interval_days"] == 183 and before["overdue"] >= 1
    held = (clock.now.date() - dt.timedelta(days=30)).isoformat()
    r = client.post("/api/v1/enterprise-drills", headers=duty, json={
        "enterprise_id": eid, "held_on": held, "drill_type": "tabletop", "scope": "single",
        "title": "spring tabletop", "participants": 12})
    assert r.status_code == 201, r.get_json()
    bad = client.post("/api/v1/enterprise-drills", headers=duty, json={
        "enterprise_id": eid, "held_on": held, "drill_type": "parade", "scope": "single",
        "title": "x"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "drill_type"
    after = client.get("/api/v1/drill-obligations", headers=duty).get_json()
    row = next(e for e in after["enterprises"] if e["enterprise_id"] == eid)
    assert row["last_drill_on"] == held and not row["overdue"]
    assert after["overdue"] == before["overdue"] - 1
    listed = client.get(f"/api/v1/enterprise-drills?enterprise_id={eid}", headers=duty)
    assert [d["title"] for d in listed.get_json()] == ["spring tabletop"]
    r = client.get("/api/v1/drill-obligations?as_of=someday", headers=duty)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "as_of"
