"""What keeps a tablet on flaky Wi-Fi from showing or doing the wrong thing.

A tablet queues its crew's actions while offline and sends them later; by then the unit may
have been released and sent elsewhere. Its board snapshot carries the seq it reflects, and a
change to the incident reaches crews already on it.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of


def _report(client: Any, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    enterprise = client.get("/api/v1/enterprises", headers=headers).get_json()[0]
    resp = client.post("/api/v1/incidents", headers=headers,
                       json={"kind": "fire", "enterprise_id": enterprise["id"],
                             "confirm_new": True, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _release_a_unit(client: Any, headers: dict[str, str], sio: Any
                    ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """A report, its first unit's tablet connected, and that unit released by the officer."""
    incident = _report(client, headers)
    a = incident["assignments"][0]
    tablet = sio(a["callsign"])
    released = client.delete(f"/api/v1/incidents/{incident['id']}/assignments/{a['unit_id']}",
                             headers=headers)
    assert released.status_code == 200, released.get_json()
    return incident, a, tablet


def _units(client: Any, headers: dict[str, str]) -> dict[int, dict[str, Any]]:
    return {u["id"]: u for u in client.get("/api/v1/units", headers=headers).get_json()}


def _event_count(client: Any, headers: dict[str, str]) -> int:
    return len(client.get("/api/v1/events?since=0", headers=headers).get_json())


def test_board_snapshot_carries_the_seq_it_reflects(client: Any, login: Any) -> None:
    duty = login("duty")
    incident = _report(client, duty["headers"])
    a = incident["assignments"][0]
    unit = login(a["callsign"])
    got = client.get("/api/v1/board", headers=unit["headers"]).get_json()
    events = client.get("/api/v1/events?since=0", headers=duty["headers"]).get_json()
    assert got["seq"] == max(e["seq"] for e in events)
    assert got["board"]["assignment"]["unit_id"] == a["unit_id"]

    idle = next(u for u in _units(client, duty["headers"]).values()
                if u["status"] == "available")
    none = client.get("/api/v1/board", headers=login(idle["callsign"])["headers"]).get_json()
    assert none == {"board": None, "seq": got["seq"]}


def test_a_status_queued_for_one_incident_never_lands_on_another(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    # the officer releases the unit and sends it to a second incident while its tablet is off
    first, a, tablet = _release_a_unit(client, duty["headers"], sio)
    second = _report(client, duty["headers"], kind="explosion")
    if a["unit_id"] not in {x["unit_id"] for x in second["assignments"]}:
        added = client.post(f"/api/v1/incidents/{second['id']}/assignments",
                            headers=duty["headers"], json={"unit_id": a["unit_id"]})
        assert added.status_code == 201, added.get_json()
    before = _event_count(client, duty["headers"])

    # the crew's "available", pressed offline for the first incident, now arrives
    late = tablet.emit("unit.status", {"status": "available", "client_id": "s-1",
                                       "incident_id": first["id"]},
                       namespace="/hub", callback=True)
    assert not late["ok"] and late["error"]["code"] == "conflict"
    assert late["error"]["field"] == "incident_id"
    # a status pressed with no job on the board is refused the same way
    idle = tablet.emit("unit.status", {"status": "out_of_service", "client_id": "s-2",
                                       "incident_id": 0}, namespace="/hub", callback=True)
    assert not idle["ok"] and idle["error"]["code"] == "conflict"
    unit = _units(client, duty["headers"])[a["unit_id"]]
    assert unit["incident_id"] == second["id"] and unit["status"] == "dispatched"
    assert _event_count(client, duty["headers"]) == before

    # for the incident it is on, it applies; sent again (a lost answer), it applies once
    ok = tablet.emit("unit.status", {"status": "en_route", "client_id": "s-3",
                                     "incident_id": second["id"]},
                     namespace="/hub", callback=True)
    assert ok["ok"] and ok["result"]["status"] == "en_route"
    tablet.get_received("/hub")
    again = tablet.emit("unit.status", {"status": "en_route", "client_id": "s-3",
                                        "incident_id": second["id"]},
                        namespace="/hub", callback=True)
    assert again["ok"]
    assert not events_of(tablet.get_received("/hub"), "unit.status")


def test_an_ack_for_a_released_assignment_never_acknowledges_a_new_one(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    incident, a, tablet = _release_a_unit(client, duty["headers"], sio)
    old_id = a["id"]
    readded = client.post(f"/api/v1/incidents/{incident['id']}/assignments",
                          headers=duty["headers"], json={"unit_id": a["unit_id"]})
    assert readded.status_code == 201, readded.get_json()

    stale = tablet.emit("ack", {"incident_id": incident["id"], "assignment_id": old_id,
                                "client_id": "a-1"}, namespace="/hub", callback=True)
    assert not stale["ok"] and stale["error"]["field"] == "assignment_id"
    board = client.get("/api/v1/board", headers=login(a["callsign"])["headers"]).get_json()
    assert board["board"]["assignment"]["acked_at"] is None
    new_id = board["board"]["assignment"]["id"]
    assert new_id != old_id
    fresh = tablet.emit("ack", {"incident_id": incident["id"], "assignment_id": new_id,
                                "client_id": "a-2"}, namespace="/hub", callback=True)
    assert fresh["ok"] and fresh["result"]["acked_at"]


def test_an_escalation_reaches_every_crew_already_on_the_incident(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    incident = _report(client, duty["headers"], severity=1)
    tablets = {a["unit_id"]: sio(a["callsign"]) for a in incident["assignments"]}
    for t in tablets.values():
        t.get_received("/hub")

    changed = client.patch(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"],
                           json={"severity": 4, "casualties": 12})
    assert changed.status_code == 200, changed.get_json()
    level = changed.get_json()["response_level"]
    assert level != incident["response_level"]
    for unit_id, t in tablets.items():
        boards = events_of(t.get_received("/hub"), "task_board")
        assert len(boards) == 1, (unit_id, boards)
        shown = boards[0]["data"]["incident"]
        assert shown["severity"] == 4 and shown["response_level"] == level

    # a change that does not escalate (the wind) refreshes the boards too
    client.patch(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"],
                 json={"wind": {"from_deg": 45, "speed_ms": 3}})
    for t in tablets.values():
        boards = events_of(t.get_received("/hub"), "task_board")
        assert len(boards) == 1
        assert boards[0]["data"]["incident"]["wind"]["from_deg"] == 45
