"""Road closures over REST: live assignments re-route at once and tablets get the new route."""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of


def _consecutive_pairs(coords: list[list[float]]) -> set[tuple[tuple[float, ...], ...]]:
    return {(tuple(a), tuple(b)) for a, b in zip(coords, coords[1:], strict=False)}


def _report(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    enterprise = client.get("/api/v1/enterprises", headers=headers).get_json()[0]
    resp = client.post("/api/v1/incidents", headers=headers,
                       json={"kind": "fire", "enterprise_id": enterprise["id"], "severity": 2})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_closing_a_road_on_a_route_reroutes_the_unit_and_pushes_its_board(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    incident = _report(client, duty["headers"])
    # the assignment with the longest route has a middle segment worth closing
    a = max(incident["assignments"], key=lambda x: len(x["route"]["coordinates"]))
    coords = a["route"]["coordinates"]
    assert len(coords) >= 6, "the demo map gives multi-edge routes"
    mid = len(coords) // 2
    closed = [coords[mid], coords[mid + 1]]
    tablet = sio(a["callsign"])
    tablet.get_received("/hub")

    resp = client.post("/api/v1/closures", headers=duty["headers"], json={
        "geometry": {"type": "LineString", "coordinates": closed}, "reason": "塌方 collapse"})
    assert resp.status_code == 201, resp.get_json()
    closure = resp.get_json()
    assert closure["edges"] >= 1 and closure["rerouted"] >= 1

    after = client.get(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"]).get_json()
    b = next(x for x in after["assignments"] if x["unit_id"] == a["unit_id"])
    pair = (tuple(closed[0]), tuple(closed[1]))
    assert pair not in _consecutive_pairs(b["route"]["coordinates"])
    assert b["eta_s"] >= a["eta_s"] - 1e-6, "a detour is never faster than the best route"
    boards = events_of(tablet.get_received("/hub"), "task_board")
    assert boards, "the tablet gets its new route at once"
    assert boards[-1]["data"]["assignment"]["eta_s"] == b["eta_s"]

    listed = client.get("/api/v1/closures", headers=duty["headers"]).get_json()
    assert [c["id"] for c in listed] == [closure["id"]]
    timeline = client.get("/api/v1/events?since=0", headers=duty["headers"]).get_json()
    assert "closure.added" in [e["type"] for e in timeline]
    # the log says why the unit was routed again, as text and as parts the pages translate
    why = [e["data"] for e in timeline if e["type"] == "assignment.rerouted"
           and e["data"]["assignment"]["unit_id"] == a["unit_id"]]
    assert why and why[-1]["reason"] == f"road closure {closure['id']} added"
    assert why[-1]["reason_parts"] == [{"code": "reroute.closure_added",
                                        "params": {"closure": closure["id"]}}]

    resp = client.delete(f"/api/v1/closures/{closure['id']}", headers=duty["headers"])
    assert resp.status_code == 200 and resp.get_json()["removed_at"]
    assert client.get("/api/v1/closures", headers=duty["headers"]).get_json() == []
    again = client.get(f"/api/v1/incidents/{incident['id']}", headers=duty["headers"]).get_json()
    c = next(x for x in again["assignments"] if x["unit_id"] == a["unit_id"])
    assert c["eta_s"] <= b["eta_s"] + 1e-6


def test_bad_closures_are_refused_and_change_nothing(client: Any, login: Any) -> None:
    duty = login("duty")
    before = client.get("/api/v1/events?since=0", headers=duty["headers"]).get_json()
    bad = [
        ({"geometry": {"type": "LineString", "coordinates": [["a", "b"], [1, 2]]}}, "geometry"),
        ({"geometry": {"type": "Circle", "coordinates": [[0, 0]]}}, "geometry"),
        ({"geometry": {"type": "LineString", "coordinates": [[0.0, 0.0], [0.001, 0.001]]}},
         "geometry"),  # far from every road of the map
        ({"reason": "no geometry"}, "geometry"),
    ]
    for payload, field in bad:
        resp = client.post("/api/v1/closures", headers=duty["headers"], json=payload)
        assert resp.status_code == 422, (payload, resp.get_json())
        assert field in resp.get_json()["error"]["field"]
    assert client.delete("/api/v1/closures/999", headers=duty["headers"]).status_code == 404
    unit = login("E11")
    resp = client.post("/api/v1/closures", headers=unit["headers"], json={
        "geometry": {"type": "Point", "coordinates": [-46.63, -23.55]}})
    assert resp.status_code == 403
    after = client.get("/api/v1/events?since=0", headers=duty["headers"]).get_json()
    assert len(after) == len(before)
