"""The spine end to end: report over HTTP, units and officers on Socket.IO, task boards."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from tests.conftest import events_of


def _enterprise_with_leak_plan(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    enterprises = client.get("/api/v1/enterprises", headers=headers).get_json()
    assert len(enterprises) >= 6
    return enterprises[0]


def _counts(client: Any, headers: dict[str, str]) -> tuple[int, int]:
    incidents = client.get("/api/v1/incidents", headers=headers).get_json()
    events = client.get("/api/v1/events?since=0", headers=headers).get_json()
    return len(incidents), len(events)


def _independent_travel_s(graph: Any, origin: tuple[float, float],
                          target: tuple[float, float]) -> float:
    """Travel time by plain networkx Dijkstra between the snapped edge points."""
    g = graph.G
    o = graph.snap(*origin)
    t = graph.snap(*target)

    def tt(u: Any, v: Any, k: Any) -> float:
        return float(g.edges[u, v, k]["travel_time"])

    # leaving the origin: forward along its edge to v, or backward to u on the twin edge
    exits = [(o.v, (1 - o.fraction) * tt(o.u, o.v, o.key))]
    twin = [k for k in (g[o.v].get(o.u) or {})]
    if twin:
        exits.append((o.u, o.fraction * min(tt(o.v, o.u, k) for k in twin)))
    entries = [(t.u, t.fraction * tt(t.u, t.v, t.key))]
    twin_t = [k for k in (g[t.v].get(t.u) or {})]
    if twin_t:
        entries.append((t.v, (1 - t.fraction) * min(tt(t.v, t.u, k) for k in twin_t)))
    best = float("inf")
    if (o.u, o.v, o.key) == (t.u, t.v, t.key) and t.fraction >= o.fraction:
        best = (t.fraction - o.fraction) * tt(o.u, o.v, o.key)
    for node, cost in exits:
        lengths = nx.single_source_dijkstra_path_length(g, node, weight="travel_time")
        for enode, ecost in entries:
            if enode in lengths:
                best = min(best, cost + lengths[enode] + ecost)
    return best


def test_report_dispatches_units_and_pushes_only_their_own_boards(
        app: Any, client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    officer = sio("duty")
    units = client.get("/api/v1/units", headers=duty["headers"]).get_json()
    tablets = {u["id"]: sio(u["callsign"]) for u in units}
    for c in [officer, *tablets.values()]:
        c.get_received("/hub")
    enterprise = _enterprise_with_leak_plan(client, duty["headers"])

    resp = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "fire", "enterprise_id": enterprise["id"], "severity": 2})
    assert resp.status_code == 201, resp.get_json()
    incident = resp.get_json()
    assert incident["status"] == "active"
    assert incident["plan"] is not None and incident["plan"]["scenario_id"]
    assert incident["plan"]["enterprise_id"] in (enterprise["id"], None)
    assert incident["response_level"] in ("I", "II", "III", "IV")
    assigned = {a["unit_id"]: a for a in incident["assignments"]}
    assert assigned, "a plan scenario always requires some force"
    assert len(assigned) == len(incident["assignments"]), "a unit fills one requirement"

    # officers get the incident and every board
    got = events_of(officer.get_received("/hub"))
    types = [e["type"] for e in got]
    assert "incident.created" in types
    created = next(e for e in got if e["type"] == "incident.created")
    assert created["data"]["incident"]["id"] == incident["id"]
    assert {e["data"]["assignment"]["unit_id"] for e in got if e["type"] == "task_board"} == set(
        assigned)

    # each assigned unit gets exactly its own board; the others get nothing
    for unit_id, client_ in tablets.items():
        boards = events_of(client_.get_received("/hub"), "task_board")
        if unit_id in assigned:
            assert len(boards) == 1
            board = boards[0]["data"]
            assert board["assignment"]["unit_id"] == unit_id
            assert board["incident"]["id"] == incident["id"]
            assert all(t["unit_id"] == unit_id for t in board["tasks"])
            assert board["assignment"]["route"]["type"] == "LineString"
        else:
            assert boards == []

    # ETAs are turnout + the shortest-path travel time on the road graph
    graph = app.extensions["redline"].graph
    target = (incident["location"]["lat"], incident["location"]["lon"])
    for a in incident["assignments"]:
        unit = next(u for u in units if u["id"] == a["unit_id"])
        expected = _independent_travel_s(graph, (unit["position"]["lat"],
                                                 unit["position"]["lon"]), target)
        assert a["travel_s"] == pytest.approx(expected, abs=0.2)
        assert a["eta_s"] == pytest.approx(a["turnout_s"] + expected, abs=0.2)
        assert a["turnout_s"] in (60.0, 80.0)

    # seq is global, gapless and increasing
    seqs = [e["seq"] for e in client.get("/api/v1/events?since=0",
                                         headers=duty["headers"]).get_json()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))

    timeline = client.get(f"/api/v1/incidents/{incident['id']}/events",
                          headers=duty["headers"]).get_json()
    assert timeline[0]["type"] == "incident.created"
    assert [e["seq"] for e in timeline] == sorted(e["seq"] for e in timeline)


def test_unit_acks_checks_tasks_and_sets_status_over_socketio(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    officer = sio("duty")
    enterprise = _enterprise_with_leak_plan(client, duty["headers"])
    incident = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "fire", "enterprise_id": enterprise["id"]}).get_json()
    task = next(t for t in incident["tasks"] if t["unit_id"] is not None)
    unit = next(a for a in incident["assignments"] if a["unit_id"] == task["unit_id"])
    tablet = sio(unit["callsign"])
    officer.get_received("/hub")

    ack = tablet.emit("ack", {"incident_id": incident["id"], "client_id": "c-1"},
                      namespace="/hub", callback=True)
    assert ack["ok"], ack
    again = tablet.emit("ack", {"incident_id": incident["id"], "client_id": "c-1"},
                        namespace="/hub", callback=True)
    assert again["ok"]
    done = tablet.emit("task.update", {"task_id": task["id"], "status": "done",
                                       "client_id": "c-2"}, namespace="/hub", callback=True)
    assert done["ok"] and done["result"]["status"] == "done"
    tablet.emit("task.update", {"task_id": task["id"], "status": "done", "client_id": "c-2"},
                namespace="/hub", callback=True)
    st = tablet.emit("unit.status", {"status": "en_route", "client_id": "c-3"},
                     namespace="/hub", callback=True)
    assert st["ok"] and st["result"]["status"] == "en_route"

    seen = events_of(officer.get_received("/hub"))
    assert [e["type"] for e in seen].count("assignment.acked") == 1
    assert [e["type"] for e in seen].count("task.updated") == 1
    assert any(e["type"] == "unit.status" and e["data"]["status"] == "en_route" for e in seen)

    # the tablet can only touch its own tasks
    other = next((t for t in incident["tasks"] if t["unit_id"] not in (None, task["unit_id"])),
                 None)
    if other is not None:
        denied = tablet.emit("task.update", {"task_id": other["id"], "status": "done"},
                             namespace="/hub", callback=True)
        assert not denied["ok"] and denied["error"]["code"] == "forbidden"

    # resync returns what the tablet may see after a seq, in order
    tablet.get_received("/hub")
    res = tablet.emit("resync", {"since_seq": 0}, namespace="/hub", callback=True)
    assert res["ok"]
    replay = events_of(tablet.get_received("/hub"))
    assert replay and all(
        e["type"] in ("task_board", "assignment.created", "assignment.acked", "task.updated",
                      "unit.status") for e in replay)
    assert [e["seq"] for e in replay] == sorted({e["seq"] for e in replay})

    closed = client.post(f"/api/v1/incidents/{incident['id']}/close", headers=duty["headers"])
    assert closed.status_code == 200
    units = {u["id"]: u for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()}
    for a in incident["assignments"]:
        assert units[a["unit_id"]]["status"] == "available"
        assert units[a["unit_id"]]["incident_id"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "fire", "enterprise_id": 9999}, 422, "enterprise_id"),
        ({"kind": "fire"}, 422, "location"),
        ({"kind": "fire", "enterprise_id": 1, "severity": 9}, 422, "severity"),
        ({"kind": "meteor", "enterprise_id": 1}, 422, "kind"),
        ({"kind": "fire", "location": {"lat": 39.9, "lon": 116.4}}, 422, "location"),
        ({"kind": "leak", "enterprise_id": 1, "chemical": "chlorine"}, 422, "chemical"),
        ({"kind": "fire", "enterprise_id": 1, "unexpected": True}, 422, "unexpected"),
        ([1, 2], 422, "body"),
    ],
)
def test_bad_reports_are_refused_and_change_nothing(
        client: Any, login: Any, body: Any, status: int, field: str) -> None:
    duty = login("duty")
    before = _counts(client, duty["headers"])
    resp = client.post("/api/v1/incidents", headers=duty["headers"], json=body)
    assert resp.status_code == status
    err = resp.get_json()["error"]
    assert err["field"] == field and err["message"]
    assert _counts(client, duty["headers"]) == before


def test_malformed_json_wrong_role_and_missing_token_change_nothing(
        client: Any, login: Any) -> None:
    duty = login("duty")
    before = _counts(client, duty["headers"])
    bad = client.post("/api/v1/incidents", headers={**duty["headers"],
                                                    "Content-Type": "application/json"},
                      data="{not json")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "malformed_json"
    unit = login("E11")
    forbidden = client.post("/api/v1/incidents", headers=unit["headers"],
                            json={"kind": "fire", "enterprise_id": 1})
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    anonymous = client.post("/api/v1/incidents", json={"kind": "fire", "enterprise_id": 1})
    assert anonymous.status_code == 401
    bad_token = client.get("/api/v1/units", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    assert _counts(client, duty["headers"]) == before


def test_location_alone_matches_the_nearest_enterprise(client: Any, login: Any) -> None:
    duty = login("duty")
    e = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[1]
    resp = client.post("/api/v1/incidents", headers=duty["headers"], json={
        "kind": "fire", "location": {"lat": e["location"]["lat"] + 0.0005,
                                     "lon": e["location"]["lon"]}})
    assert resp.status_code == 201
    assert resp.get_json()["enterprise_id"] == e["id"]


def test_bad_socket_payloads_get_an_error_event_and_change_nothing(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    tablet = sio("E11")
    before = _counts(client, duty["headers"])
    for event, payload in [
        ("ack", {"incident_id": "x"}),
        ("ack", None),
        ("task.update", {"task_id": 1, "status": "exploded"}),
        ("unit.status", {"status": "dispatched"}),
        ("unit.status", "on_scene"),
        ("resync", {"since_seq": -1}),
        ("position", {"lat": 91, "lon": 0}),
    ]:
        tablet.get_received("/hub")
        reply = tablet.emit(event, payload, namespace="/hub", callback=True)
        assert reply["ok"] is False
        errors = [r for r in tablet.get_received("/hub") if r["name"] == "error"]
        assert errors and errors[0]["args"][0]["event"] == event
    assert _counts(client, duty["headers"]) == before


def test_socket_connection_needs_a_valid_token(app: Any) -> None:
    from web.extensions import socketio

    c = socketio.test_client(app, namespace="/hub", auth={"token": "forged"})
    assert not c.is_connected("/hub")
    c2 = socketio.test_client(app, namespace="/hub")
    assert not c2.is_connected("/hub")


def test_health_reports_database_and_graph(client: Any) -> None:
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["graph"]["nodes"] > 4000 and body["graph"]["edges"] > 8000


def test_resync_comes_in_batches_and_says_when_there_is_more(
        app: Any, client: Any, login: Any, sio: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.hub

    duty = login("duty")
    officer = sio("duty")
    enterprise = client.get("/api/v1/enterprises", headers=duty["headers"]).get_json()[0]
    client.post("/api/v1/incidents", headers=duty["headers"],
                json={"kind": "fire", "enterprise_id": enterprise["id"], "severity": 2})
    officer.get_received("/hub")
    total = len(client.get("/api/v1/events?since=0", headers=duty["headers"]).get_json())
    assert total > 7
    monkeypatch.setattr(web.hub, "RESYNC_BATCH", 5)
    got: list[int] = []
    since = 0
    for _ in range(total):
        ack = officer.emit("resync", {"since_seq": since}, namespace="/hub", callback=True)
        got.extend(e["seq"] for e in events_of(officer.get_received("/hub")))
        result = ack["result"]
        assert result["count"] <= 5
        if not result["more"]:
            break
        since = result["last_seq"]
    assert got == list(range(1, total + 1)), "every event once, in order, batch by batch"
