"""A client offline for ten minutes by the hub's clock (CLOCK) resyncs everything it missed.

The real-process twin (abrupt disconnect, other process committing) is in test_faults.py;
here the hub's clock moves ten minutes while the officer and a tablet are away, so token
age and event times are those of a real ten-minute gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clock import Clock
from tests.conftest import events_of
from web import create_app
from web.extensions import socketio


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                      "DRILL_SCHEDULER": False, "TESTING": True, "CLOCK": clock,
                      "TOKEN_TTL_S": 3600})
    yield app
    app.extensions["redline"].engine.dispose()


def _resync(c: Any, since: int) -> list[dict[str, Any]]:
    """Resync page by page until the hub has nothing more, as a tablet does."""
    got: list[dict[str, Any]] = []
    while True:
        ack = c.emit("resync", {"since_seq": since}, namespace="/hub", callback=True)
        assert ack["ok"], ack
        page = events_of(c.get_received("/hub"))
        got += page
        if ack["result"]["count"] == 0:
            return got
        since = ack["result"]["last_seq"]


def test_ten_minutes_offline_then_resync(app: Any, client: Any, login: Any,
                                         clock: Clock) -> None:
    duty = login("duty")
    enterprises = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()
    # warm up: one incident, so the tablet has history before it goes away
    r = client.post("/api/v1/incidents", headers=duty["headers"],
                    json={"kind": "fire", "enterprise_id": enterprises[0]["id"]})
    assert r.status_code == 201
    officer_token = login("duty")["token"]
    officer = socketio.test_client(app, namespace="/hub", auth={"token": officer_token})
    last = officer.get_received("/hub")[0]["args"][0]["last_seq"]
    officer.disconnect("/hub")
    gone_at = clock.now

    # ten minutes of work while the officer is away: a report every two minutes
    created = []
    for i in range(5):
        clock.advance(120)
        r = client.post("/api/v1/incidents", headers=duty["headers"],
                        json={"kind": ("leak", "fire")[i % 2],
                              "enterprise_id": enterprises[(i + 1) % len(enterprises)]["id"]})
        assert r.status_code == 201, r.get_json()
        created.append(r.get_json()["id"])
    assert clock.now - gone_at == dt.timedelta(minutes=10)
    missed = client.get(f"/api/v1/events?since={last}", headers=duty["headers"]).get_json()

    # back online with the same token (issued before the gap, still valid)
    back = socketio.test_client(app, namespace="/hub", auth={"token": officer_token})
    assert back.is_connected("/hub")
    hello = back.get_received("/hub")[0]["args"][0]
    assert hello["last_seq"] == missed[-1]["seq"]
    got = _resync(back, last)
    assert [e["seq"] for e in got] == [e["seq"] for e in missed]  # in order, each once
    assert got == missed
    assert {e["incident_id"] for e in got if e["type"] == "incident.created"} == set(created)
    assert got[-1]["at"] >= (gone_at + dt.timedelta(minutes=10)).isoformat()[:19]
    back.disconnect("/hub")

    # the clock is real to the hub: past the token's lifetime the same client is refused
    clock.advance(3600)
    late = socketio.test_client(app, namespace="/hub", auth={"token": officer_token})
    assert not late.is_connected("/hub")


def test_tablet_offline_gets_only_its_own_missed_boards(app: Any, client: Any, login: Any,
                                                         clock: Clock) -> None:
    duty = login("duty")
    units = client.get("/api/v1/units", headers=duty["headers"]).get_json()
    tablets = {u["id"]: login(u["callsign"])["token"] for u in units}
    lasts = {}
    for uid, token in tablets.items():
        c = socketio.test_client(app, namespace="/hub", auth={"token": token})
        lasts[uid] = c.get_received("/hub")[0]["args"][0]["last_seq"]
        c.disconnect("/hub")
    enterprise = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[2]
    clock.advance(600)
    incident = client.post("/api/v1/incidents", headers=duty["headers"],
                           json={"kind": "fire", "enterprise_id": enterprise["id"]}).get_json()
    assigned = {a["unit_id"] for a in incident["assignments"]}
    assert assigned
    for uid, token in tablets.items():
        c = socketio.test_client(app, namespace="/hub", auth={"token": token})
        c.get_received("/hub")
        got = _resync(c, lasts[uid])
        boards = [e for e in got if e["type"] == "task_board"]
        assert len(boards) == (1 if uid in assigned else 0), uid
        seqs = [e["seq"] for e in got]
        assert seqs == sorted(set(seqs))
        c.disconnect("/hub")
