"""The government's response level, apart from the plan's, decided by the commander."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import events_of

LEAK = {"kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1}


def _decide(client: Any, headers: dict[str, str], incident_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/incidents/{incident_id}/government-level", headers=headers,
                       json=body)


def test_commander_sets_raises_lowers_and_ends_the_government_level_all_logged(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    plan_level = inc["response_level"]
    officer = sio("duty")
    officer.get_received("/hub")
    steps = [("set", "IV"), ("raise", "II"), ("lower", "III"), ("end", None)]
    for action, level in steps:
        resp = _decide(client, duty, inc["id"], action=action, level=level,
                       reason=f"{action} by decision")
        assert resp.status_code == 200, resp.get_json()
        view = resp.get_json()
        assert view["response_level"] == plan_level, "the plan's level stays its own"
    assert view["government_response"]["active"] is False
    logged = events_of(officer.get_received("/hub"), "incident.government_level")
    assert [(e["data"]["action"], e["data"]["to"]) for e in logged] == steps
    assert [e["data"]["reason"] for e in logged][-1] == "end by decision"
    assert logged[1]["data"]["from"] == "IV"


@pytest.mark.parametrize(("first", "action", "level", "field"), [
    ("IV", "raise", "IV", "level"),    # raising needs a more severe level
    ("II", "lower", "I", "level"),     # I is the most severe, not the mildest
    ("III", "set", "II", "action"),    # one level active: raise, lower or end it
])
def test_wrong_decisions_are_refused_and_change_nothing(
        client: Any, login: Any, first: str, action: str, level: str, field: str) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    assert _decide(client, duty, inc["id"], action="set", level=first,
                   reason="r").status_code == 200
    resp = _decide(client, duty, inc["id"], action=action, level=level, reason="r")
    assert 400 <= resp.status_code < 500
    assert resp.get_json()["error"]["field"] == field
    view = client.get(f"/api/v1/incidents/{inc['id']}", headers=duty).get_json()
    assert view["government_response"]["level"] == first


def test_a_decision_needs_a_reason_and_a_unit_cannot_decide(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    resp = _decide(client, duty, inc["id"], action="set", level="IV", reason="")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "reason"
    unit = login(inc["assignments"][0]["callsign"])["headers"]
    assert _decide(client, unit, inc["id"], action="set", level="IV",
                   reason="r").status_code == 403


def test_severity_and_levels_say_which_end_is_the_worst(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    assert inc["severity_label"]["en"] == "severity 1 of 4 (mildest)"
    assert "最轻" in inc["severity_label"]["zh"]
    view = _decide(client, duty, inc["id"], action="set", level="IV", reason="r").get_json()
    assert view["government_response"]["label"]["zh"] == "IV级（一般）"
    assert "mildest" in view["government_response"]["label"]["en"]
