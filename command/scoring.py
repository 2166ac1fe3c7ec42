"""Drill measurement and scoring: pure functions over an incident's event log.

Everything here reads events only (PublishedEvent objects or their JSON payloads), so a
report can be recomputed at any time from the append-only log and checked against it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean, median
from typing import Any

from command.events import PublishedEvent

ACK_DEADLINE_S = 60.0
NOTIFY_DEADLINE_S = 900.0
# the county's first report upward (首报) is due within an hour of the incident
FIRST_REPORT_DEADLINE_S = 3600.0
WEIGHTS: dict[str, float] = {"forces": 0.4, "tasks": 0.3, "acks": 0.2, "notifications": 0.1}
RULES = [
    "forces (40%): each required unit on scene within its plan deadline, counted from its "
    "dispatch; a requirement nobody could fill counts as missed",
    "tasks (30%): each plan task with a deadline done within it, counted from its creation",
    f"acks (20%): each assignment acknowledged within {ACK_DEADLINE_S:.0f} s of dispatch",
    f"notifications (10%): each contact checked off within {NOTIFY_DEADLINE_S:.0f} s of the "
    f"report, and the first report upward sent within {FIRST_REPORT_DEADLINE_S:.0f} s",
    "score = 100 x weighted share of deadlines met; a part with nothing to measure is left out "
    "and the others are re-weighted; items still open or released before their deadline "
    "(preempted by a real incident, broken down, released by an officer) are not counted",
]
# items with these outcomes enter the score; "open" and "released" do not
COUNTED = {"met", "late", "missed"}


@dataclass(frozen=True)
class Ev:
    """One event, whatever form it came in."""

    seq: int
    type: str
    at: dt.datetime
    data: Mapping[str, Any]
    unit_id: int | None
    incident_id: int | None


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def normalize(events: Iterable[PublishedEvent | Mapping[str, Any]]) -> list[Ev]:
    """Events in seq order, from PublishedEvent objects or dicts with seq/type/at/data."""
    out = []
    for e in events:
        if isinstance(e, PublishedEvent):
            out.append(Ev(e.seq, e.type, _time(e.at), e.data, e.unit_id, e.incident_id))
        else:
            out.append(Ev(int(e["seq"]), str(e["type"]), _time(e["at"]), e.get("data") or {},
                          e.get("unit_id"), e.get("incident_id")))
    out.sort(key=lambda e: e.seq)
    return out


def _secs(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds(), 3)


def judge(start: dt.datetime, deadline_s: float | None, done: dt.datetime | None,
          stopped: dt.datetime | None, as_of: dt.datetime) -> tuple[str, float | None]:
    """Outcome of one deadline (met, late, missed, open, released, none) and how late."""
    if deadline_s is None:
        return ("done" if done else "none"), None
    due = start + dt.timedelta(seconds=deadline_s)
    if done is not None:
        late = (done - due).total_seconds()
        return ("met", None) if late <= 0 else ("late", round(late, 3))
    if stopped is not None and stopped < due:
        return "released", None
    end = min(as_of, stopped) if stopped is not None else as_of
    if end >= due:
        return "missed", round((end - due).total_seconds(), 3)
    return "open", None


@dataclass
class _Assignment:
    id: int
    unit_id: int
    callsign: str
    capability: str
    deadline_s: float | None
    dispatched: dt.datetime
    acked: dt.datetime | None = None
    en_route: dt.datetime | None = None
    on_scene: dt.datetime | None = None
    released: dt.datetime | None = None
    release_reason: str | None = None
    release_reason_parts: list[Any] | None = None


@dataclass
class _Task:
    id: int
    title: str
    capability: str
    deadline_s: float | None
    created: dt.datetime
    unit_id: int | None
    order: int = 0
    done: dt.datetime | None = None


def _assignments(evs: Sequence[Ev], incident_id: int | None) -> list[_Assignment]:
    out: list[_Assignment] = []
    by_id: dict[int, _Assignment] = {}
    for e in evs:
        if e.type == "assignment.created":
            a = e.data["assignment"]
            item = _Assignment(int(a["id"]), int(a["unit_id"]), a.get("callsign") or "",
                               a.get("capability") or "", a.get("deadline_s"), e.at)
            by_id[item.id] = item
            out.append(item)
        elif e.type == "assignment.acked":
            item = by_id.get(int(e.data.get("assignment_id", 0)))
            if item is not None and item.acked is None:
                item.acked = e.at
        elif e.type == "assignment.released":
            item = by_id.get(int(e.data.get("assignment_id", 0)))
            if item is not None and item.released is None:
                item.released, item.release_reason = e.at, e.data.get("reason")
                item.release_reason_parts = e.data.get("reason_parts")
        elif e.type == "unit.status":
            if incident_id is not None and e.data.get("incident_id") not in (None, incident_id):
                continue
            unit_id = e.data.get("unit_id", e.unit_id)
            active = [a for a in out if a.unit_id == unit_id and a.released is None]
            if not active:
                continue
            a = active[-1]
            status = e.data.get("status")
            if status == "en_route" and a.en_route is None:
                a.en_route = e.at
            elif status == "on_scene" and a.on_scene is None:
                a.on_scene = e.at
                if a.en_route is None:
                    # straight to on_scene: the whole way counts as travel
                    a.en_route = a.dispatched
    return out


def _tasks(evs: Sequence[Ev]) -> list[_Task]:
    tasks: dict[int, _Task] = {}

    def see(view: Mapping[str, Any], at: dt.datetime) -> _Task | None:
        if view.get("id") is None:
            return None
        tid = int(view["id"])
        t = tasks.get(tid)
        if t is None:
            # its clock starts when it was created, not when an event first shows it
            created = _time(view["created_at"]) if view.get("created_at") else at
            t = _Task(tid, view.get("title") or "", view.get("capability") or "",
                      view.get("deadline_s"), created, view.get("unit_id"),
                      view.get("order") or 0)
            tasks[tid] = t
        if "unit_id" in view:
            t.unit_id = view["unit_id"]  # None: its unit was released, nobody holds it now
        return t

    for e in evs:
        if e.type == "task_board":
            for view in e.data.get("tasks") or []:
                see(view, e.at)
        elif e.type == "task.updated":
            view = e.data.get("task") or {}
            t = see(view, e.at)
            if t is None:
                continue
            if view.get("status") == "done":
                t.done = _time(view["done_at"]) if view.get("done_at") else e.at
            else:
                t.done = None
    return sorted(tasks.values(), key=lambda t: (t.created, t.order, t.id))


def _notifications(evs: Sequence[Ev]) -> dict[str, dt.datetime | None]:
    state: dict[str, dt.datetime | None] = {}
    for e in evs:
        if e.type == "incident.created":
            # the checklist the plan set: a contact never ticked counts as not notified
            inc = e.data.get("incident") if isinstance(e.data.get("incident"), Mapping) else {}
            for n in inc.get("notifications") or []:
                if isinstance(n, Mapping) and n.get("contact"):
                    state.setdefault(str(n["contact"]), None)
            continue
        if e.type != "notification.checked":
            continue
        d = e.data.get("check") if isinstance(e.data.get("check"), Mapping) else e.data
        contact = str(d.get("contact") or d.get("id") or f"#{e.seq}")
        notified = d.get("notified", True) and ("notified_at" not in d or d["notified_at"])
        if notified:
            state[contact] = _time(d["notified_at"]) if d.get("notified_at") else e.at
        else:
            state[contact] = None
    return state


def _share(items: Sequence[Mapping[str, Any]], key: str = "status") -> dict[str, Any]:
    counted = [i for i in items if i[key] in COUNTED]
    met = sum(1 for i in counted if i[key] == "met")
    return {"met": met, "counted": len(counted),
            "share": round(met / len(counted), 4) if counted else None}


def score_incident(events: Iterable[PublishedEvent | Mapping[str, Any]],
                   as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Every measured figure of one incident's response, and its score with the rules."""
    evs = normalize(events)
    created = next((e for e in evs if e.type == "incident.created"), None)
    if created is None:
        raise ValueError("the events hold no incident.created")
    incident = created.data.get("incident") or {}
    incident_id = incident.get("id", created.incident_id)
    t0 = created.at
    closed = next((e.at for e in evs if e.type == "incident.closed"), None)
    last = evs[-1].at
    now = as_of or closed or last

    def off(at: dt.datetime | None) -> float | None:
        return _secs(t0, at)

    assignments = _assignments(evs, incident_id)
    units = []
    for a in assignments:
        status, late_by = judge(a.dispatched, a.deadline_s, a.on_scene, a.released, now)
        ack_status, ack_late = judge(a.dispatched, ACK_DEADLINE_S, a.acked, a.released, now)
        units.append({
            "assignment_id": a.id, "unit_id": a.unit_id, "callsign": a.callsign,
            "capability": a.capability, "deadline_s": a.deadline_s,
            "dispatched_s": off(a.dispatched), "acked_s": off(a.acked),
            "en_route_s": off(a.en_route), "on_scene_s": off(a.on_scene),
            "released_s": off(a.released), "release_reason": a.release_reason,
            "release_reason_parts": a.release_reason_parts,
            "ack_s": _secs(a.dispatched, a.acked),
            "turnout_s": _secs(a.dispatched, a.en_route),
            "travel_s": _secs(a.en_route, a.on_scene),
            "response_s": _secs(a.dispatched, a.on_scene),
            "status": status, "late_by_s": late_by,
            "ack_status": ack_status, "ack_late_by_s": ack_late,
        })
    unfilled = []
    last_unmet = next((e for e in reversed(evs) if e.type == "incident.unmet"), None)
    for u in (last_unmet.data.get("unmet") or []) if last_unmet else []:
        for _ in range(int(u.get("missing") or 0)):
            unfilled.append({"capability": u.get("capability"), "deadline_s": u.get("deadline_s"),
                             "status": "missed", "reason": "no unit available"})
    callsigns = {a.unit_id: a.callsign for a in assignments}
    tasks = []
    for t in _tasks(evs):
        # a task is never "released": undone when the incident closed, it is missed if its
        # deadline had passed by then and open (not counted) if not
        status, late_by = judge(t.created, t.deadline_s, t.done, None,
                                min(now, closed) if closed else now)
        tasks.append({
            "task_id": t.id, "title": t.title, "capability": t.capability,
            "unit_id": t.unit_id, "callsign": callsigns.get(t.unit_id) if t.unit_id else None,
            "created_s": off(t.created), "deadline_s": t.deadline_s,
            "due_s": off(t.created) + t.deadline_s if t.deadline_s is not None else None,
            "done_s": off(t.done), "status": status, "late_by_s": late_by,
        })
    notifications = []
    for contact, at in _notifications(evs).items():
        status, late_by = judge(t0, NOTIFY_DEADLINE_S, at, None, now)
        notifications.append({"contact": contact, "notified_s": off(at), "status": status,
                              "late_by_s": late_by})
    # the first report upward is one more item of the notifications part, with its own deadline
    sent = next((e for e in evs if e.type == "incident.first_report"), None)
    fr_status, fr_late = judge(t0, FIRST_REPORT_DEADLINE_S, sent.at if sent else None, None, now)
    first_report = {"sent_s": off(sent.at) if sent else None,
                    "sent_to": sent.data.get("sent_to") if sent else None,
                    "by": sent.data.get("by") if sent else None,
                    "deadline_s": FIRST_REPORT_DEADLINE_S, "status": fr_status,
                    "late_by_s": fr_late}

    forces = [{"callsign": u["callsign"], "capability": u["capability"],
               "deadline_s": u["deadline_s"], "status": u["status"]}
              for u in units if u["deadline_s"] is not None] + unfilled
    components = {
        "forces": _share(forces),
        "tasks": _share(tasks),
        "acks": _share(units, "ack_status"),
        "notifications": _share(notifications + [first_report]),
    }
    measured = {k: c for k, c in components.items() if c["share"] is not None}
    for name, c in components.items():
        c["weight"] = WEIGHTS[name]
    total_w = sum(WEIGHTS[k] for k in measured)
    value = (round(100.0 * sum(WEIGHTS[k] * c["share"] for k, c in measured.items()) / total_w, 1)
             if total_w else None)

    late: list[dict[str, Any]] = []
    for u in units:
        if u["status"] in ("late", "missed"):
            late.append({"what": "on scene", "who": u["callsign"], "status": u["status"],
                         "deadline_s": u["deadline_s"], "late_by_s": u["late_by_s"]})
        if u["ack_status"] in ("late", "missed"):
            late.append({"what": "ack", "who": u["callsign"], "status": u["ack_status"],
                         "deadline_s": ACK_DEADLINE_S, "late_by_s": u["ack_late_by_s"]})
    for f in unfilled:
        late.append({"what": "unfilled", "who": f["capability"], "status": "missed",
                     "deadline_s": f["deadline_s"], "late_by_s": None})
    for t in tasks:
        if t["status"] in ("late", "missed"):
            late.append({"what": "task", "who": t["title"], "status": t["status"],
                         "deadline_s": t["deadline_s"], "late_by_s": t["late_by_s"]})
    for n in notifications:
        if n["status"] in ("late", "missed"):
            late.append({"what": "notification", "who": n["contact"], "status": n["status"],
                         "deadline_s": NOTIFY_DEADLINE_S, "late_by_s": n["late_by_s"]})
    if first_report["status"] in ("late", "missed"):
        late.append({"what": "first report", "who": first_report["sent_to"] or "",
                     "status": first_report["status"], "deadline_s": FIRST_REPORT_DEADLINE_S,
                     "late_by_s": fr_late})

    first_dispatch = next((e.at for e in evs if e.type == "assignment.created"), None)
    return {
        "incident_id": incident_id,
        "exercise": bool(incident.get("exercise", False)),
        "drill_id": incident.get("drill_id"),
        "county_id": incident.get("county_id"),
        "scenario_name": incident.get("scenario_name") or (incident.get("plan") or {}).get(
            "scenario_name"),
        "reported_at": t0.isoformat(),
        "closed_at": closed.isoformat() if closed else None,
        "as_of": now.isoformat(),
        "as_of_s": off(now),
        "report_to_dispatch_s": _secs(t0, first_dispatch),
        "units": units,
        "unfilled": unfilled,
        "tasks": tasks,
        "notifications": notifications,
        "first_report": first_report,
        "late": late,
        "injects": [{"at_s": off(e.at), **e.data} for e in evs if e.type == "drill.inject"],
        "preempted": [{"at_s": off(e.at), **e.data} for e in evs if e.type == "drill.preempted"],
        "score": {"value": value, "components": components, "rules": RULES},
    }


def _avg(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(mean(got), 3) if got else None


def compare(current: Mapping[str, Any], previous: Sequence[Mapping[str, Any]]
            ) -> dict[str, Any]:
    """The current drill against the county's and each unit's previous drills."""
    prev_scores = [p["score"]["value"] for p in previous if p["score"]["value"] is not None]
    county_mean = round(mean(prev_scores), 1) if prev_scores else None
    value = current["score"]["value"]
    units: dict[str, Any] = {}
    for u in current["units"]:
        mine = [pu for p in previous for pu in p["units"] if pu["unit_id"] == u["unit_id"]]
        row: dict[str, Any] = {"callsign": u["callsign"], "previous_drills": len(
            {p["incident_id"] for p in previous for pu in p["units"]
             if pu["unit_id"] == u["unit_id"]})}
        for key in ("ack_s", "turnout_s", "travel_s", "response_s"):
            before = _avg(pu[key] for pu in mine)
            row[key] = {"now": u[key], "before": before,
                        "delta": round(u[key] - before, 3)
                        if u[key] is not None and before is not None else None}
        judged = [pu for pu in mine if pu["status"] in COUNTED]
        row["on_time_before"] = (round(sum(1 for pu in judged if pu["status"] == "met")
                                       / len(judged), 4) if judged else None)
        units[str(u["unit_id"])] = row
    return {
        "county": {"previous": [{"incident_id": p["incident_id"], "drill_id": p.get("drill_id"),
                                 "reported_at": p["reported_at"], "score": p["score"]["value"]}
                                for p in previous],
                   "mean_before": county_mean,
                   "delta": round(value - county_mean, 1)
                   if value is not None and county_mean is not None else None},
        "units": units,
    }


def _quantiles(values: Iterable[float | None]) -> dict[str, Any]:
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(got), "median": round(median(got), 3),
            "p90": round(got[min(len(got) - 1, math.ceil(0.9 * len(got)) - 1)], 3)}


def aggregate(reports: Sequence[Mapping[str, Any]], *, exercise: bool,
              since: dt.datetime | None = None) -> dict[str, Any]:
    """Statistics over many incidents' reports: median and p90 of each timing, deadline shares.

    The caller chooses real incidents or exercises; the two are never mixed, and every report
    says which it is, so a stray one is refused rather than counted.
    """
    if any(bool(r.get("exercise")) is not exercise for r in reports):
        raise ValueError("real incidents and exercises are never counted together")
    units = [u for r in reports for u in r["units"]]
    forces = [f for r in reports for f in (
        [u for u in r["units"] if u["deadline_s"] is not None] + list(r["unfilled"]))]
    tasks = [t for r in reports for t in r["tasks"]]
    return {
        "exercise": exercise,
        "since": since.isoformat() if since else None,
        "incidents": len(reports),
        "incident_ids": [r["incident_id"] for r in reports],
        "report_to_dispatch_s": _quantiles(r["report_to_dispatch_s"] for r in reports),
        "ack_s": _quantiles(u["ack_s"] for u in units),
        "turnout_s": _quantiles(u["turnout_s"] for u in units),
        "travel_s": _quantiles(u["travel_s"] for u in units),
        "response_s": _quantiles(u["response_s"] for u in units),
        "forces_on_time": _share(forces),
        "tasks_on_time": _share(tasks),
        "acks_on_time": _share(units, "ack_status"),
    }


CSV_COLUMNS = ["section", "who", "capability", "deadline_s", "dispatched_s", "ack_s",
               "turnout_s", "travel_s", "response_s", "done_s", "status", "late_by_s"]


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: titles, names and phone targets come from
    plans and officers, and "=HYPERLINK(...)" or "+cmd" must never run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: _cell(v) for k, v in rowdict.items()})


def report_csv(report: Mapping[str, Any], improvements: Sequence[Mapping[str, Any]] = (),
               title: str = "") -> str:
    """The table of timings as CSV: one row per unit, unfilled requirement, task, contact,
    then the score, the drill's title and its improvement items."""
    buf = io.StringIO()
    w = _SafeWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for u in report["units"]:
        w.writerow({"section": "unit", "who": u["callsign"], **u})
    for f in report["unfilled"]:
        w.writerow({"section": "unfilled", "who": f["capability"], **f})
    for t in report["tasks"]:
        w.writerow({"section": "task", "who": t["title"], **t})
    for n in report["notifications"]:
        w.writerow({"section": "notification", "who": n["contact"], "done_s": n["notified_s"],
                    "status": n["status"], "late_by_s": n["late_by_s"]})
    fr = report.get("first_report")
    if fr:
        w.writerow({"section": "first_report", "who": fr["sent_to"] or "",
                    "deadline_s": fr["deadline_s"], "done_s": fr["sent_s"],
                    "status": fr["status"], "late_by_s": fr["late_by_s"]})
    score = report["score"]
    w.writerow({"section": "score", "who": "total", "status": score["value"]})
    for name, c in score["components"].items():
        w.writerow({"section": "score", "who": name, "status": c["share"],
                    "capability": f"weight {c['weight']}"})
    if title:
        w.writerow({"section": "title", "who": title})
    for m in improvements:
        w.writerow({"section": "improvement", "who": m.get("text", ""),
                    "capability": m.get("owner", ""), "status": m.get("due") or ""})
    return buf.getvalue()


# event types a replay draws; the rest stay on the timeline only
PLAYBACK_DROP_KEYS = {"pocket_cards"}


def playback(events: Iterable[PublishedEvent | Mapping[str, Any]]) -> dict[str, Any]:
    """An incident's log shaped for replay: offsets in seconds from the first event."""
    evs = normalize(events)
    if not evs:
        return {"start": None, "end": None, "duration_s": 0.0, "events": [], "units": {}}
    t0 = evs[0].at
    units: dict[str, dict[str, Any]] = {}
    frames = []
    for e in evs:
        data = {k: v for k, v in e.data.items() if k not in PLAYBACK_DROP_KEYS}
        frames.append({"t": _secs(t0, e.at), "seq": e.seq, "type": e.type, "unit_id": e.unit_id,
                       "data": data})
        if e.type == "assignment.created":
            a = e.data["assignment"]
            coords = ((a.get("route") or {}).get("coordinates") or [])
            start = {"lat": coords[0][1], "lon": coords[0][0]} if coords else None
            units.setdefault(str(a["unit_id"]), {"callsign": a.get("callsign"),
                                                 "capability": a.get("capability"),
                                                 "start": start})
    return {"start": t0.isoformat(), "end": evs[-1].at.isoformat(),
            "duration_s": _secs(t0, evs[-1].at), "events": frames, "units": units}
