"""Task boards: the plan's tasks of a capability are split across every unit that fills it."""

from __future__ import annotations

from typing import Any

from tests.conftest import events_of


def _chlorine_leak(client: Any, headers: dict[str, str], severity: int = 1) -> dict[str, Any]:
    return client.post("/api/v1/incidents", headers=headers, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017",
        "severity": severity}).get_json()


def test_every_hazmat_unit_of_the_chlorine_leak_holds_hazmat_tasks(
        client: Any, login: Any) -> None:
    duty = login("duty")
    inc = _chlorine_leak(client, duty["headers"])
    hazmat_units = {a["unit_id"] for a in inc["assignments"] if a["capability"] == "hazmat"}
    assert len(hazmat_units) >= 2
    holders = {t["unit_id"] for t in inc["tasks"] if t["capability"] == "hazmat"}
    assert holders == hazmat_units


def test_the_hazmat_engines_lead_and_a_command_car_on_hazmat_comes_after(
        client: Any, login: Any) -> None:
    duty = login("duty")
    inc = _chlorine_leak(client, duty["headers"], severity=3)
    units = {u["id"]: u for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()}
    hazmat = [t for t in inc["tasks"] if t["capability"] == "hazmat"]
    first = min(hazmat, key=lambda t: t["order"])
    assert units[first["unit_id"]]["kind"] == "hazmat"
    per_unit = {a["unit_id"]: 0 for a in inc["assignments"] if a["capability"] == "hazmat"}
    for t in hazmat:
        per_unit[t["unit_id"]] = per_unit.get(t["unit_id"], 0) + 1
    assert max(per_unit.values()) - min(per_unit.values()) <= 1


def test_a_unit_without_a_task_of_its_own_sees_its_teams_tasks_on_its_board(
        client: Any, login: Any, sio: Any) -> None:
    duty = login("duty")
    tablets = {u["id"]: sio(u["callsign"])
               for u in client.get("/api/v1/units", headers=duty["headers"]).get_json()}
    inc = _chlorine_leak(client, duty["headers"])
    fire = [a["unit_id"] for a in inc["assignments"] if a["capability"] == "fire"]
    fire_tasks = {t["id"] for t in inc["tasks"] if t["capability"] == "fire"}
    assert len(fire) > len(fire_tasks)
    for unit_id in fire:
        board = events_of(tablets[unit_id].get_received("/hub"), "task_board")[-1]["data"]
        own = {t["id"] for t in board["tasks"]}
        assert own | {t["id"] for t in board["support_tasks"]} == fire_tasks
        assert not own & {t["id"] for t in board["support_tasks"]}
