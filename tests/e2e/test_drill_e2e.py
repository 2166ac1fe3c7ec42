"""A blind drill end to end: a real hub springs it, simulated crews answer, the report adds up."""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from command.simulator import Simulator
from tests.liveserver import live_hub

pytestmark = pytest.mark.server


def _poll(fn: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _expected(events: list[dict[str, Any]]) -> dict[int, dict[str, float | None]]:
    """Per assignment: ack, turnout and travel seconds, straight from the raw log."""
    at = {e["seq"]: dt.datetime.fromisoformat(e["at"]) for e in events}
    out: dict[int, dict[str, Any]] = {}
    unit_of: dict[int, int] = {}
    for e in events:
        d = e["data"]
        if e["type"] == "assignment.created":
            a = d["assignment"]
            out[a["id"]] = {"created": at[e["seq"]], "acked": None, "en_route": None,
                            "on_scene": None}
            unit_of[a["unit_id"]] = a["id"]
        elif e["type"] == "assignment.acked":
            out[d["assignment_id"]]["acked"] = out[d["assignment_id"]]["acked"] or at[e["seq"]]
        elif e["type"] == "unit.status" and d["unit_id"] in unit_of:
            row = out[unit_of[d["unit_id"]]]
            if d["status"] in ("en_route", "on_scene") and row[d["status"]] is None:
                row[d["status"]] = at[e["seq"]]

    def secs(a: Any, b: Any) -> float | None:
        return None if a is None or b is None else round((b - a).total_seconds(), 3)

    return {aid: {"ack_s": secs(r["created"], r["acked"]),
                  "turnout_s": secs(r["created"], r["en_route"]),
                  "travel_s": secs(r["en_route"], r["on_scene"])} for aid, r in out.items()}


def test_a_blind_drill_springs_is_answered_and_scored(tmp_path: Path) -> None:
    with live_hub(tmp_path, env={"DRILL_SCHEDULER": "1"}) as hub:
        trainer = hub.login("trainer")
        duty = hub.login("duty")
        h = trainer["headers"]
        units = requests.get(hub.url + "/api/v1/units", headers=duty["headers"],
                             timeout=10).json()
        sim = Simulator(hub.url, [u["callsign"] for u in units], speed=120.0,
                        ack_delay=(2.0, 6.0), sloppiness=0.0, rng=random.Random(11)).start()
        try:
            now = dt.datetime.now(dt.UTC)
            r = requests.post(hub.url + "/api/v1/drills", headers=h, timeout=10, json={
                "window": {"start": now.isoformat(),
                           "end": (now + dt.timedelta(seconds=3)).isoformat()},
                "variations": {"severity": [1, 2], "casualties": [0, 1]}})
            assert r.status_code == 201, r.text
            drill_id = r.json()["id"]
            base = f"{hub.url}/api/v1/drills/{drill_id}"

            drill = _poll(lambda: (d := requests.get(base, headers=h, timeout=10).json())
                          ["incident_id"] and d, 15, "the drill to spring")
            assert drill["status"] == "running"
            incident_id = drill["incident_id"]
            # the command room works the drill like a real call: it ticks off one contact
            inc = requests.get(f"{hub.url}/api/v1/incidents/{incident_id}",
                               headers=duty["headers"], timeout=10).json()
            assert inc["exercise"] is True
            checks = inc["notifications"]
            if checks:
                r = requests.post(f"{hub.url}/api/v1/incidents/{incident_id}/notifications/"
                                  f"{checks[0]['id']}", headers=duty["headers"], timeout=10,
                                  json={"notified": True})
                assert r.status_code == 200, r.text

            def scored() -> dict[str, Any] | None:
                rep = requests.get(base + "/report", headers=h, timeout=10).json()["report"]
                units_in = [u for u in rep["units"] if u["status"] != "released"]
                ready = (units_in and all(u["on_scene_s"] is not None for u in units_in)
                         and all(t["done_s"] is not None for t in rep["tasks"]
                                 if t["unit_id"] is not None))
                return rep if ready else None

            live = _poll(scored, 40, "every unit on scene and every task done")
            assert live["score"]["value"] is not None

            ended = requests.post(base + "/end", headers=h, timeout=10).json()
            assert ended["status"] == "ended"
        finally:
            sim.stop()

        rep = requests.get(base + "/report", headers=h, timeout=10).json()["report"]
        events = requests.get(f"{hub.url}/api/v1/incidents/{incident_id}/events", headers=h,
                              timeout=10).json()
        assert all(e["exercise"] for e in events)
        types = [e["type"] for e in events]
        assert types[0] == "incident.created" and types[-1] == "incident.closed"
        t0 = dt.datetime.fromisoformat(events[0]["at"])
        first = next(e for e in events if e["type"] == "assignment.created")
        assert rep["report_to_dispatch_s"] == round(
            (dt.datetime.fromisoformat(first["at"]) - t0).total_seconds(), 3)
        expected = _expected(events)
        assert {u["assignment_id"] for u in rep["units"]} == set(expected)
        for u in rep["units"]:
            for key in ("ack_s", "turnout_s", "travel_s"):
                assert u[key] == expected[u["assignment_id"]][key], (u["callsign"], key)
        done = {e["data"]["task"]["id"] for e in events if e["type"] == "task.updated"
                and e["data"]["task"]["status"] == "done"}
        assert {t["task_id"] for t in rep["tasks"] if t["done_s"] is not None} == done
        ticked = [e for e in events if e["type"] == "notification.checked"]
        assert len(ticked) == (1 if checks else 0)
        by_contact = {n["contact"]: n for n in rep["notifications"]}
        assert set(by_contact) == {c["contact"] for c in checks}
        for e in ticked:
            n = by_contact[e["data"]["check"]["contact"]]
            assert n["notified_s"] == round(
                (dt.datetime.fromisoformat(e["at"]) - t0).total_seconds(), 3)
            assert n["status"] == "met"
        assert sim.done("ack", incident_id), "the simulator acknowledged"
        # every unit is free again
        after = requests.get(hub.url + "/api/v1/units", headers=duty["headers"],
                             timeout=10).json()
        on_drill = {u["unit_id"] for u in rep["units"]}
        assert all(u["incident_id"] is None for u in after if u["id"] in on_drill)
        csv_text = requests.get(base + "/report.csv", headers=h, timeout=10).text
        assert csv_text.lstrip("\ufeff").startswith("section,")
