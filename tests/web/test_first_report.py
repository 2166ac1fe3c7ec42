"""The first report upward (首报): a recorded state change, not a browser's private flag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from command.scoring import score_incident
from tests.clock import Clock
from tests.conftest import events_of
from web import create_app


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "CLOCK": clock,
                      "LOAD_DEMO": False, "DRILL_SCHEDULER": False, "TESTING": True})
    yield app
    app.extensions["redline"].engine.dispose()


def report(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    enterprise = client.get("/api/v1/enterprises", headers=headers).get_json()[0]
    resp = client.post("/api/v1/incidents", headers=headers, json={
        "kind": "fire", "enterprise_id": enterprise["id"], "severity": 2,
        "confirm_new": True})  # a second fire there is a new incident in these tests
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def url(incident: dict[str, Any]) -> str:
    return f"/api/v1/incidents/{incident['id']}/first-report"


def test_first_report_is_recorded_once_and_seen_by_every_officer(
        app: Any, client: Any, login: Any, sio: Any, clock: Clock) -> None:
    duty = login("duty")
    other = sio("duty")  # another officer's screen
    incident = report(client, duty["headers"])
    assert incident["first_report"] is None
    other.get_received("/hub")

    clock.advance(1500)
    body = {"text": "【突发事件首报】 储罐区起火", "sent_to": "市应急管理局", "client_id": "fr-1"}
    resp = client.post(url(incident), headers=duty["headers"], json=body)
    assert resp.status_code == 200, resp.get_json()
    fr = resp.get_json()["first_report"]
    assert fr == {"text": body["text"], "sent_to": "市应急管理局", "sent_at": clock.now.isoformat(),
                  "by": "duty", "late": False, "elapsed_s": 1500.0}

    # a retry of the same command (lost answer) changes nothing and answers the same
    again = client.post(url(incident), headers=duty["headers"], json=body)
    assert again.status_code == 200 and again.get_json()["first_report"] == fr
    got = events_of(other.get_received("/hub"), "incident.first_report")
    assert len(got) == 1 and got[0]["incident_id"] == incident["id"]
    assert got[0]["data"] == fr

    view = client.get(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"]).get_json()
    assert view["first_report"] == fr
    timeline = client.get(f"/api/v1/incidents/{incident['id']}/events",
                          headers=duty["headers"]).get_json()
    assert [e["type"] for e in timeline].count("incident.first_report") == 1

    # a second, different first report is refused: the one that went out stands
    other_body = {**body, "client_id": "fr-2", "text": "rewritten"}
    assert client.post(url(incident), headers=duty["headers"], json=other_body).status_code == 409
    # and the drill score counts it as an item met within the hour
    score = score_incident(timeline)
    assert score["first_report"]["status"] == "met"
    assert score["first_report"]["sent_s"] == 1500.0


def test_a_report_after_the_hour_is_late_by_the_service_clock(
        client: Any, login: Any, clock: Clock) -> None:
    duty = login("duty")
    incident = report(client, duty["headers"])
    clock.advance(3600)  # exactly on the hour is still in time
    second = report(client, duty["headers"])
    assert client.post(url(incident), headers=duty["headers"], json={
        "text": "x", "sent_to": "city"}).get_json()["first_report"]["late"] is False
    clock.advance(3601)
    fr = client.post(url(second), headers=duty["headers"], json={
        "text": "x", "sent_to": "city"}).get_json()["first_report"]
    assert fr["late"] is True and fr["elapsed_s"] == 3601.0
    timeline = client.get(f"/api/v1/incidents/{second['id']}/events",
                          headers=duty["headers"]).get_json()
    score = score_incident(timeline)
    assert score["first_report"]["status"] == "late"
    assert score["first_report"]["late_by_s"] == 1.0
    assert any(x["what"] == "first report" for x in score["late"])


def test_bad_bodies_wrong_roles_and_closed_incidents_change_nothing(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    other = sio("duty")
    incident = report(client, duty["headers"])
    other.get_received("/hub")
    good = {"text": "report", "sent_to": "city"}
    for bad, field in [({"sent_to": "city"}, "text"),
                       ({"text": "", "sent_to": "city"}, "text"),
                       ({"text": "x" * 5001, "sent_to": "city"}, "text"),
                       ({"text": "x", "sent_to": "c" * 201}, "sent_to"),
                       ({"text": "x", "sent_to": "   "}, "sent_to"),
                       ({**good, "text": 5}, "text"),
                       ({**good, "extra": 1}, "extra"),
                       ({**good, "client_id": "c" * 101}, "client_id")]:
        resp = client.post(url(incident), headers=duty["headers"], json=bad)
        assert resp.status_code == 422, (bad, resp.get_json())
        assert field in (resp.get_json()["error"]["field"] or ""), (bad, resp.get_json())
    assert client.post(url(incident), headers=duty["headers"], data="{",
                       content_type="application/json").status_code == 400
    for who in ("E11", "trainer"):
        assert client.post(url(incident), headers=login(who)["headers"],
                           json=good).status_code == 403
    assert client.post("/api/v1/incidents/99999/first-report", headers=duty["headers"],
                       json=good).status_code == 404
    closed = client.post(f"/api/v1/incidents/{incident['id']}/close", headers=duty["headers"])
    assert closed.status_code == 200
    other.get_received("/hub")
    resp = client.post(url(incident), headers=duty["headers"], json=good)
    assert resp.status_code == 409 and resp.get_json()["error"]["field"] == "incident_id"
    view = client.get(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"]).get_json()
    assert view["first_report"] is None
    assert events_of(other.get_received("/hub"), "incident.first_report") == []
    timeline = client.get(f"/api/v1/incidents/{incident['id']}/events",
                          headers=duty["headers"]).get_json()
    assert "incident.first_report" not in [e["type"] for e in timeline]


def test_scoring_counts_a_report_never_sent_past_the_hour_as_missed() -> None:
    t0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    events = [{"seq": 1, "type": "incident.created", "at": t0.isoformat(),
               "data": {"incident": {"id": 7, "notifications": []}}, "incident_id": 7}]
    open_ = score_incident(events, as_of=t0 + dt.timedelta(seconds=3000))
    assert open_["first_report"]["status"] == "open"
    assert open_["score"]["components"]["notifications"]["counted"] == 0
    missed = score_incident(events, as_of=t0 + dt.timedelta(seconds=3700))
    assert missed["first_report"]["status"] == "missed"
    assert missed["score"]["components"]["notifications"] == {
        "met": 0, "counted": 1, "share": 0.0, "weight": 0.1}
