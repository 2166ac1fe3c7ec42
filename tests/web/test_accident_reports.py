"""Accident reports per State Council order No. 493: first report, grade, follow-ups and the
upward chain with one countdown per step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from command.accident_reports import grade
from tests.clock import Clock
from tests.conftest import events_of
from web import create_app


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    """The demo hub on the test's clock, so countdowns and windows can be stepped through."""
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                      "DRILL_SCHEDULER": False, "TESTING": True, "CLOCK": clock})
    yield app
    app.extensions["redline"].engine.dispose()


LEAK = {"kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 2}


def _first(occurred: dt.datetime, **counts: Any) -> dict[str, Any]:
    return {"occurred_at": occurred.isoformat(), "place": "液氯罐区 T-101",
            "enterprise_summary": "氯碱企业，液氯储罐 4 台", "account": "储罐出口阀泄漏",
            "measures": "关阀堵漏，下风向疏散", "reporter_name": "何军",
            "reporter_phone": "0515-8621 0001", "dead": 0, "injured": 0,
            "seriously_injured": 0, "missing": 0, "direct_loss_yuan": 0, **counts}


@pytest.mark.parametrize(("dead", "serious", "loss", "expected"), [
    (2, 9, 9_999_999, "general"),
    (3, 0, 0, "larger"),
    (0, 10, 0, "larger"),
    (0, 0, 10_000_000, "larger"),
    (9, 49, 49_999_999, "larger"),
    (10, 0, 0, "major"),
    (0, 50, 0, "major"),
    (0, 0, 100_000_000, "especially_major"),
    (30, 0, 0, "especially_major"),
    (0, 100, 0, "especially_major"),
])
def test_the_grade_is_the_worst_any_measure_reaches(dead: int, serious: int, loss: float,
                                                    expected: str) -> None:
    assert grade(dead, serious, loss) == expected


def test_first_report_keeps_the_accident_time_and_counts_apart_and_sets_the_chain(
        client: Any, login: Any, sio: Any, clock: Clock) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    occurred = clock.now - dt.timedelta(minutes=40)
    officer = sio("duty")
    officer.get_received("/hub")
    resp = client.post(f"/api/v1/incidents/{inc['id']}/accident-report", headers=duty,
                       json=_first(occurred, dead=3, injured=5, seriously_injured=2,
                                   missing=1))
    assert resp.status_code == 201, resp.get_json()
    report = resp.get_json()["accident_report"]
    assert dt.datetime.fromisoformat(report["occurred_at"]) == occurred
    assert (report["dead"], report["injured"], report["missing"]) == (3, 5, 1)
    assert report["grade"] == "larger" and report["grade_zh"] == "较大事故"
    assert [s["to"] for s in report["steps"]] == ["city", "province"]
    assert set(report["steps"][0]["recipients"]) >= {"public_security", "trade_union",
                                                     "procuratorate"}
    assert events_of(officer.get_received("/hub"), "accident_report.first")

    # the province's countdown starts when the city's report goes; overdue is flagged
    url = f"/api/v1/incidents/{inc['id']}/accident-report"
    clock.advance(3 * 3600)
    now = client.get(url, headers=duty).get_json()["accident_report"]
    assert now["steps"][0]["overdue"] is True
    sent = client.post(url + "/steps/city/sent", headers=duty,
                       json={"recipients": ["emergency_management", "public_security"]})
    assert sent.status_code == 200, sent.get_json()
    steps = sent.get_json()["accident_report"]["steps"]
    assert steps[0]["late"] is True and steps[1]["overdue"] is False


def test_a_follow_up_raises_the_grade_and_extends_the_chain_within_its_window(
        client: Any, login: Any, clock: Clock) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    url = f"/api/v1/incidents/{inc['id']}/accident-report"
    client.post(url, headers=duty, json=_first(clock.now, category="fire"))
    resp = client.post(url + "/follow-ups", headers=duty, json={
        "dead": 11, "injured": 4, "seriously_injured": 1, "missing": 0, "direct_loss_yuan": 0})
    assert resp.status_code == 201, resp.get_json()
    report = resp.get_json()["accident_report"]
    assert report["grade"] == "major"
    assert [s["to"] for s in report["steps"]] == ["city", "province", "state_council"]
    assert report["follow_ups"][0]["before"]["dead"] == 0
    clock.advance(8 * 86400)  # a fire's follow-ups end after 7 days
    duty = login("duty")["headers"]
    late = client.post(url + "/follow-ups", headers=duty, json={"dead": 12})
    assert late.status_code == 409


def test_bad_reports_name_the_field_and_change_nothing(client: Any, login: Any,
                                                       clock: Clock) -> None:
    duty = login("duty")["headers"]
    inc = client.post("/api/v1/incidents", headers=duty, json=LEAK).get_json()
    url = f"/api/v1/incidents/{inc['id']}/accident-report"
    for body, field in [({**_first(clock.now), "dead": -1}, "dead"),
                        ({**_first(clock.now), "occurred_at": "yesterday"}, "occurred_at"),
                        ({**_first(clock.now), "reporter_phone": ""}, "reporter_phone")]:
        resp = client.post(url, headers=duty, json=body)
        assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field
    assert client.get(url, headers=duty).get_json() == {"accident_report": None}
