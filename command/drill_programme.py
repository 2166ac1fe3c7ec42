"""Drills as the standards define them: the AQ/T 9007-2019 programme (type, scope, phases,
objectives, participants, evaluators, safety plan, scenario script), evaluation per AQ/T
9009-2015 (observations per area, the report's five sections), improvement items followed to
closure (and to a plan revision), and the half-yearly drill obligation of hazardous-chemicals
enterprises (《生产安全事故应急预案管理办法》 Art. 33), including drills the hub did not run.

The blind, unannounced spring of command.drills is unchanged: a programme written before the
drill springs records no event, so nobody on duty learns of it from the log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command.auth import Actor
from command.drill_models import (
    Drill,
    DrillImprovement,
    DrillObservation,
    DrillStatus,
    EnterpriseDrill,
)
from command.drills import DrillService
from command.errors import Conflict, Forbidden, InvalidInput, NotFound
from command.models import Event, Incident, Role
from command.views import iso
from plans.models import Enterprise, HazardInstallation, PlanRevisionFlag

DRILL_TYPES = ("tabletop", "functional", "full_scale")
DRILL_SCOPES = ("single", "comprehensive")
PHASES = ("plan", "prepare", "run", "evaluate", "improve")
# AQ/T 9009-2015 evaluation content, in the standard's order
EVALUATION_AREAS = (
    "information_reporting",
    "command_coordination",
    "disposal",
    "resources",
    "cordon_evacuation",
    "public_information",
    "after_action",
)
RATINGS = ("met", "partly_met", "not_met")
IMPROVEMENT_STATUSES = ("open", "in_progress", "closed")
_NEXT_STATUS = {"open": {"in_progress", "closed"}, "in_progress": {"closed"}, "closed": set()}
# hazardous-chemicals enterprises drill their plans at least once every half year
DRILL_INTERVAL = dt.timedelta(days=183)
# an evaluator's device clock may run a little ahead of the hub's
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_TEXT = 4000
EARLIEST_RECORD = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class MselRow:
    """One row of the master scenario events list: when, what, to whom, what is expected."""

    at_s: float
    inject: str
    player: str
    expected_action: str


@dataclass(frozen=True)
class Programme:
    """What AQ/T 9007 asks a drill to carry besides its blind schedule."""

    drill_type: str
    scope: str
    objectives: tuple[str, ...]
    participants: tuple[str, ...] = ()
    evaluators: tuple[str, ...] = ()
    safety_plan: str = ""
    msel: tuple[MselRow, ...] = ()

    def check(self) -> None:
        """Refuse a programme the standard would not accept."""
        if self.drill_type not in DRILL_TYPES:
            raise InvalidInput(f"drill_type must be one of {', '.join(DRILL_TYPES)}",
                               "drill_type")
        if self.scope not in DRILL_SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(DRILL_SCOPES)}", "scope")
        if not any(o.strip() for o in self.objectives):
            raise InvalidInput("a drill needs at least one objective", "objectives")
        # people move and machines run in functional and full-scale drills: AQ/T 9007 asks
        # for a safety plan before them
        if self.drill_type != "tabletop" and not self.safety_plan.strip():
            raise InvalidInput("functional and full-scale drills need a safety plan",
                               "safety_plan")
        for i, row in enumerate(self.msel):
            if not row.inject.strip():
                raise InvalidInput("every scenario row needs an inject", f"msel[{i}].inject")
            if not row.expected_action.strip():
                raise InvalidInput("every scenario row needs the expected action",
                                   f"msel[{i}].expected_action")

    def as_dict(self) -> dict[str, Any]:
        return {
            "drill_type": self.drill_type, "scope": self.scope,
            "objectives": [o.strip() for o in self.objectives if o.strip()],
            "participants": list(self.participants), "evaluators": list(self.evaluators),
            "safety_plan": self.safety_plan,
            "msel": [{"at_s": r.at_s, "inject": r.inject, "player": r.player,
                      "expected_action": r.expected_action}
                     for r in sorted(self.msel, key=lambda r: r.at_s)],
        }


@dataclass(frozen=True)
class Observation:
    """An evaluator's note on one AQ/T 9009 area; client_id makes a resend harmless."""

    client_id: str
    area: str
    rating: str
    observed_at: dt.datetime
    note: str = ""


@dataclass(frozen=True)
class EnterpriseDrillReport:
    """A drill the enterprise held and reports to the county."""

    enterprise_id: int
    held_on: dt.date
    drill_type: str
    scope: str
    title: str
    participants: int = 0
    summary: str = ""


@dataclass
class ImprovementChange:
    """What to change on an improvement item; None leaves a field as it is."""

    status: str | None = None
    owner: str | None = None
    due: dt.date | None = None
    plan_revision: bool | None = None
    fields: set[str] = field(default_factory=set)


def phase_of(drill: Drill) -> str:
    """The drill's phase: the trainer moves plan → prepare and evaluate → improve; the
    drill's own run sets run and evaluate."""
    stored = drill.phase if drill.phase in PHASES else "plan"
    if drill.status in (DrillStatus.RUNNING, DrillStatus.PAUSED):
        return "run"
    if drill.status is DrillStatus.ENDED and drill.incident_id is not None:
        return "improve" if stored == "improve" else "evaluate"
    return stored if stored in ("plan", "prepare") else "plan"


def grade_conclusion(observations: list[DrillObservation]) -> str:
    """The overall conclusion per area ratings: any area not met fails the drill."""
    if not observations:
        return "not_evaluated"
    ratings = {o.rating for o in observations}
    if "not_met" in ratings:
        return "not_met"
    return "partly_met" if "partly_met" in ratings else "met"


class DrillProgramme:
    """Programme, evaluation, improvement and obligations over the drill service."""

    def __init__(self, drills: DrillService) -> None:
        self.drills = drills
        self.service = drills.service

    # ---- the programme ----------------------------------------------------------------------

    def set_programme(self, actor: Actor, drill_id: int, programme: Programme) -> dict[str, Any]:
        """Write the drill's AQ/T 9007 programme; before the spring it stays secret."""
        programme.check()
        with self.service.transaction() as tx:
            drill = self.drills._drill(tx.session, actor, drill_id)
            if drill.status in (DrillStatus.ENDED, DrillStatus.MISSED):
                raise Conflict("the drill is over; its programme is part of the record",
                               "drill_id")
            drill.programme = programme.as_dict()
            if drill.phase == "plan":
                drill.phase = "prepare"
            incident = self._incident(tx.session, drill)
            if incident is not None:
                tx.record("drill.programme_set", {"drill_id": drill.id,
                                                  "drill_type": programme.drill_type,
                                                  "scope": programme.scope},
                          incident=incident, actor=actor)
            tx.session.flush()
            return self.view(tx.session, drill)

    def set_phase(self, actor: Actor, drill_id: int, phase: str) -> dict[str, Any]:
        """Move to the improvement phase after evaluation (the other phases follow the run)."""
        if phase not in PHASES:
            raise InvalidInput(f"phase must be one of {', '.join(PHASES)}", "phase")
        with self.service.transaction() as tx:
            drill = self.drills._drill(tx.session, actor, drill_id)
            current = phase_of(drill)
            if phase == current:
                return self.view(tx.session, drill)
            allowed = {("plan", "prepare"), ("evaluate", "improve")}
            if (current, phase) not in allowed:
                raise Conflict(f"a drill in phase {current} cannot move to {phase}", "phase")
            if phase == "prepare" and not drill.programme:
                raise Conflict("write the programme before preparing the drill", "phase")
            drill.phase = phase
            incident = self._incident(tx.session, drill)
            if incident is not None:
                tx.record("drill.phase_changed", {"drill_id": drill.id, "phase": phase},
                          incident=incident, actor=actor)
            return self.view(tx.session, drill)

    def view(self, s: Session, drill: Drill) -> dict[str, Any]:
        """The programme part of a drill."""
        return {"drill_id": drill.id, "phase": phase_of(drill), "programme": drill.programme,
                "status": drill.status.value}

    def get(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        with self.service.reading() as s:
            return self.view(s, self.drills._drill(s, actor, drill_id))

    @staticmethod
    def _incident(s: Session, drill: Drill) -> Incident | None:
        return s.get(Incident, drill.incident_id) if drill.incident_id is not None else None

    # ---- evaluation -------------------------------------------------------------------------

    def record_observation(self, actor: Actor, drill_id: int,
                           obs: Observation) -> tuple[dict[str, Any], bool]:
        """Store an evaluator's observation once; a resend of the same form is answered with
        the stored one (created False)."""
        if obs.area not in EVALUATION_AREAS:
            raise InvalidInput(f"area must be one of {', '.join(EVALUATION_AREAS)}", "area")
        if obs.rating not in RATINGS:
            raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}", "rating")
        if not obs.client_id.strip() or len(obs.client_id) > 64:
            raise InvalidInput("client_id must be 1-64 characters", "client_id")
        if obs.observed_at.tzinfo is None:
            raise InvalidInput("observed_at needs a UTC offset", "observed_at")
        if len(obs.note) > MAX_TEXT:
            raise InvalidInput(f"note may be at most {MAX_TEXT} characters", "note")
        with self.service.transaction() as tx:
            s = tx.session
            drill = self.drills._drill(s, actor, drill_id)
            evaluators = (drill.programme or {}).get("evaluators") or []
            if evaluators and actor.username not in evaluators and actor.role is not Role.ADMIN:
                raise Forbidden("only the drill's evaluators record observations")
            existing = s.scalar(select(DrillObservation).where(
                DrillObservation.client_id == obs.client_id))
            if existing is not None:
                if existing.drill_id != drill.id or existing.evaluator != actor.username:
                    raise Conflict("client_id is already used by another observation",
                                   "client_id")
                return _observation_view(existing), False
            incident = self._incident(s, drill)
            if incident is None or drill.started_at is None:
                raise Conflict("the drill has not sprung yet: nothing to observe", "drill_id")
            at = obs.observed_at.astimezone(dt.UTC)
            if at > tx.now + CLOCK_SKEW:
                raise InvalidInput("observed_at lies in the future", "observed_at")
            if at < drill.started_at - CLOCK_SKEW:
                raise InvalidInput("observed_at is before the drill started", "observed_at")
            after_seq = s.scalar(select(func.max(Event.seq)).where(
                Event.incident_id == incident.id))
            row = DrillObservation(drill_id=drill.id, client_id=obs.client_id, area=obs.area,
                                   rating=obs.rating, note=obs.note.strip(), observed_at=at,
                                   recorded_at=tx.now, evaluator=actor.username,
                                   after_seq=after_seq)
            s.add(row)
            s.flush()
            # the note stays in the evaluation record: players on duty see only that an
            # observation was made, never the evaluator's words
            tx.record("drill.observation", {"drill_id": drill.id, "observation_id": row.id,
                                            "area": row.area, "rating": row.rating,
                                            "observed_at": iso(at)},
                      incident=incident, actor=actor)
            return _observation_view(row), True

    def observations(self, actor: Actor, drill_id: int) -> list[dict[str, Any]]:
        with self.service.reading() as s:
            drill = self.drills._drill(s, actor, drill_id)
            return [_observation_view(o) for o in self._observations(s, drill.id)]

    @staticmethod
    def _observations(s: Session, drill_id: int) -> list[DrillObservation]:
        return list(s.scalars(select(DrillObservation).where(
            DrillObservation.drill_id == drill_id).order_by(DrillObservation.observed_at,
                                                             DrillObservation.id)))

    # ---- improvement items ------------------------------------------------------------------

    def update_improvement(self, actor: Actor, drill_id: int, item_id: int,
                           change: ImprovementChange) -> dict[str, Any]:
        """Follow an improvement item to closure; it may flag the enterprise's plan for
        revision (a revision trigger of the Measures, Art. 36)."""
        with self.service.transaction() as tx:
            s = tx.session
            drill = self.drills._drill(s, actor, drill_id)
            item = s.get(DrillImprovement, item_id)
            if item is None or item.drill_id != drill.id:
                raise NotFound(f"improvement {item_id} not found", "item_id")
            if item.status == "closed":
                raise Conflict("the item is closed", "status")
            if change.status is not None and change.status != item.status:
                if change.status not in IMPROVEMENT_STATUSES:
                    raise InvalidInput("status must be open, in_progress or closed", "status")
                if change.status not in _NEXT_STATUS[item.status]:
                    raise Conflict(f"an item {item.status} cannot become {change.status}",
                                   "status")
                item.status = change.status
                if change.status == "closed":
                    item.closed_at, item.closed_by = tx.now, actor.username
            if change.owner is not None:
                item.owner = change.owner.strip()
            if "due" in change.fields:
                item.due = change.due
            if change.plan_revision and not item.plan_revision:
                self._flag_plan(tx, actor, drill, item)
            if item.status == "closed" and not item.owner:
                raise InvalidInput("an item is closed by its owner: set the owner", "owner")
            incident = self._incident(s, drill)
            if incident is not None:
                tx.record("drill.improvement_updated", {"drill_id": drill.id,
                                                        **_improvement_view(item)},
                          incident=incident, actor=actor)
            s.flush()
            return _improvement_view(item)

    def _flag_plan(self, tx: Any, actor: Actor, drill: Drill, item: DrillImprovement) -> None:
        enterprise_id = (drill.sprung or {}).get("enterprise_id")
        if enterprise_id is None:
            raise Conflict("the drill has no enterprise whose plan could be revised",
                           "plan_revision")
        enterprise = tx.session.get(Enterprise, enterprise_id)
        if enterprise is None:
            raise NotFound("the drill's enterprise no longer exists", "plan_revision")
        item.plan_revision = True
        flag = PlanRevisionFlag(enterprise_id=enterprise.id, county_id=enterprise.county_id,
                                trigger="drill_finding", reason=item.text,
                                improvement_id=item.id, created_at=tx.now,
                                created_by=actor.username)
        tx.session.add(flag)
        tx.session.flush()
        # a real obligation on the enterprise: officers of its county see it, not only trainers
        tx.record("plan.revision_flagged", {"enterprise_id": enterprise.id,
                                            "enterprise_name": enterprise.name,
                                            "trigger": "drill_finding", "reason": item.text,
                                            "flag_id": flag.id, "drill_id": drill.id},
                  county_id=enterprise.county_id, exercise=False, actor=actor)

    def revision_flags(self, actor: Actor) -> list[dict[str, Any]]:
        """Open plan-revision flags in the actor's counties."""
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(PlanRevisionFlag, Enterprise.name).join(
                Enterprise, Enterprise.id == PlanRevisionFlag.enterprise_id).where(
                PlanRevisionFlag.cleared_at.is_(None))
            if counties is not None:
                q = q.where(PlanRevisionFlag.county_id.in_(counties))
            return [{"id": f.id, "enterprise_id": f.enterprise_id, "enterprise_name": name,
                     "trigger": f.trigger, "reason": f.reason,
                     "improvement_id": f.improvement_id, "created_at": iso(f.created_at),
                     "created_by": f.created_by}
                    for f, name in s.execute(q.order_by(PlanRevisionFlag.id))]

    # ---- the AQ/T 9009 report ---------------------------------------------------------------

    def evaluation_report(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """The evaluation report in the standard's five sections."""
        timing = self.drills.report(actor, drill_id)
        with self.service.reading() as s:
            drill = self.drills._drill(s, actor, drill_id)
            obs = self._observations(s, drill.id)
            items = list(drill.improvements)
            programme = drill.programme or {}
            enterprise = None
            if drill.sprung and drill.sprung.get("enterprise_id") is not None:
                enterprise = s.get(Enterprise, drill.sprung["enterprise_id"])
            by_area: dict[str, Counter[str]] = {a: Counter() for a in EVALUATION_AREAS}
            for o in obs:
                by_area[o.area][o.rating] += 1
            analysis = []
            for area in EVALUATION_AREAS:
                counts = by_area[area]
                rated = [o for o in obs if o.area == area]
                analysis.append({"area": area, "counts": {r: counts.get(r, 0) for r in RATINGS},
                                 "conclusion": grade_conclusion(rated)})
            shortfalls = [_observation_view(o) for o in obs if o.rating != "met"]
            rep = timing.get("report") or {}
            score = (rep.get("score") or {}).get("value")
            return {
                "drill_id": drill.id,
                "basic_situation": {
                    "title": drill.title, "phase": phase_of(drill),
                    "drill_type": programme.get("drill_type"), "scope": programme.get("scope"),
                    "enterprise": enterprise.name if enterprise else None,
                    "scenario": (drill.sprung or {}).get("scenario_name"),
                    "started_at": iso(drill.started_at), "ended_at": iso(drill.ended_at),
                    "objectives": programme.get("objectives") or [],
                    "participants": programme.get("participants") or [],
                    "evaluators": programme.get("evaluators") or [],
                    "safety_plan": programme.get("safety_plan") or "",
                },
                "evaluation_process": {
                    "msel": programme.get("msel") or [],
                    "observations": [_observation_view(o) for o in obs],
                    "injects": timing["drill"]["injects"],
                },
                "analysis": {"areas": analysis, "timing": rep or None,
                             # the automatic timing score stands beside the evaluators' view
                             "timing_score": score},
                "improvement_suggestions": {
                    "items": [_improvement_view(i) for i in items],
                    "shortfalls": shortfalls,
                },
                "conclusion": {"result": grade_conclusion(obs), "timing_score": score,
                               "observations": len(obs),
                               "areas_not_evaluated": [a["area"] for a in analysis
                                                       if a["conclusion"] == "not_evaluated"],
                               "open_items": sum(1 for i in items if i.status != "closed")},
            }

    def evaluation_csv(self, actor: Actor, drill_id: int) -> str:
        """The report's observations and items as CSV (cells never run as formulas)."""
        rep = self.evaluation_report(actor, drill_id)
        out = io.StringIO()
        w = csv.writer(out)
        basic = rep["basic_situation"]
        w.writerow(["section", "field", "value", "detail"])
        for k in ("title", "drill_type", "scope", "enterprise", "scenario", "started_at",
                  "ended_at"):
            w.writerow(_safe_row(["basic_situation", k, basic.get(k) or "", ""]))
        for o in rep["evaluation_process"]["observations"]:
            w.writerow(_safe_row(["observation", o["area"], o["rating"],
                                  f'{o["observed_at"]} {o["evaluator"]}: {o["note"]}']))
        for a in rep["analysis"]["areas"]:
            w.writerow(_safe_row(["analysis", a["area"], a["conclusion"],
                                  " ".join(f"{k}={v}" for k, v in a["counts"].items())]))
        for i in rep["improvement_suggestions"]["items"]:
            w.writerow(_safe_row(["improvement", i["status"], i["text"],
                                  f'{i["owner"]} {i["due"] or ""}'.strip()]))
        c = rep["conclusion"]
        w.writerow(_safe_row(["conclusion", "result", c["result"],
                              f'timing score {c["timing_score"]}']))
        return out.getvalue()

    # ---- enterprise drills and the half-yearly obligation ----------------------------------

    def _check_county_reader(self, actor: Actor) -> None:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers, trainers and administrators keep drill records")

    def record_enterprise_drill(self, actor: Actor,
                                report: EnterpriseDrillReport) -> dict[str, Any]:
        """Record a drill an enterprise held (and reported), even if the hub did not run it."""
        # the county's staff file what enterprises report; trainers only read it
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN):
            raise Forbidden("only officers and administrators record enterprise drills")
        if report.drill_type not in DRILL_TYPES:
            raise InvalidInput(f"drill_type must be one of {', '.join(DRILL_TYPES)}",
                               "drill_type")
        if report.scope not in DRILL_SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(DRILL_SCOPES)}", "scope")
        if not report.title.strip():
            raise InvalidInput("title must not be empty", "title")
        if report.participants < 0:
            raise InvalidInput("participants must not be negative", "participants")
        counties = self.service.region_counties(actor.region_id)
        with self.service.transaction() as tx:
            s = tx.session
            if report.held_on > tx.now.date() or report.held_on < EARLIEST_RECORD:
                raise InvalidInput("held_on must be a past date", "held_on")
            enterprise = s.get(Enterprise, report.enterprise_id)
            if enterprise is None or (counties is not None
                                      and enterprise.county_id not in counties):
                raise NotFound(f"enterprise {report.enterprise_id} not found",
                               "enterprise_id")
            row = EnterpriseDrill(enterprise_id=enterprise.id, county_id=enterprise.county_id,
                                  held_on=report.held_on, drill_type=report.drill_type,
                                  scope=report.scope, title=report.title.strip(),
                                  participants=report.participants,
                                  summary=report.summary.strip(), recorded_at=tx.now,
                                  recorded_by=actor.username)
            s.add(row)
            s.flush()
            view = _enterprise_drill_view(row, enterprise.name)
            tx.record("drill.recorded", view, county_id=enterprise.county_id, exercise=True,
                      actor=actor)
            return view

    def enterprise_drills(self, actor: Actor,
                          enterprise_id: int | None = None) -> list[dict[str, Any]]:
        self._check_county_reader(actor)
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(EnterpriseDrill, Enterprise.name).join(
                Enterprise, Enterprise.id == EnterpriseDrill.enterprise_id)
            if counties is not None:
                q = q.where(EnterpriseDrill.county_id.in_(counties))
            if enterprise_id is not None:
                q = q.where(EnterpriseDrill.enterprise_id == enterprise_id)
            rows = s.execute(q.order_by(EnterpriseDrill.held_on.desc(), EnterpriseDrill.id))
            return [_enterprise_drill_view(r, name) for r, name in rows]

    def obligations(self, actor: Actor, as_of: dt.date | None = None) -> dict[str, Any]:
        """Every hazardous-chemicals enterprise of the actor's counties with its last drill
        and whether the half-yearly drill is overdue; overdue ones first."""
        self._check_county_reader(actor)
        today = as_of or self.service.clock().date()
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(Enterprise).where(Enterprise.id.in_(
                select(HazardInstallation.enterprise_id)))
            if counties is not None:
                q = q.where(Enterprise.county_id.in_(counties))
            enterprises = list(s.scalars(q.order_by(Enterprise.id)))
            last: dict[int, dt.date] = {}
            for eid, held in s.execute(select(EnterpriseDrill.enterprise_id,
                                              func.max(EnterpriseDrill.held_on))
                                       .group_by(EnterpriseDrill.enterprise_id)):
                last[eid] = held
            # drills the hub ran count too, on the day they sprang
            for d in s.scalars(select(Drill).where(Drill.status == DrillStatus.ENDED,
                                                   Drill.started_at.is_not(None))):
                eid = (d.sprung or {}).get("enterprise_id")
                if eid is not None and d.started_at is not None:
                    day = d.started_at.date()
                    if eid not in last or day > last[eid]:
                        last[eid] = day
            named = [(e.id, e.name, e.county_id) for e in enterprises]
        rows = []
        for eid, name, county_id in named:
            held = last.get(eid)
            due = held + DRILL_INTERVAL if held else None
            overdue = due is None or due < today
            rows.append({"enterprise_id": eid, "enterprise_name": name,
                         "county_id": county_id, "last_drill_on": iso(held),
                         "due_on": iso(due), "overdue": overdue,
                         "never": held is None,
                         "days_overdue": (today - due).days if due and due < today else None})
        # never drilled first, then the longest overdue
        rows.sort(key=lambda r: (not r["overdue"],
                                 -(10**6 if r["never"] else r["days_overdue"] or 0),
                                 r["enterprise_id"]))
        return {"as_of": iso(today), "interval_days": DRILL_INTERVAL.days, "enterprises": rows,
                "overdue": sum(1 for r in rows if r["overdue"])}


def _observation_view(o: DrillObservation) -> dict[str, Any]:
    return {"id": o.id, "client_id": o.client_id, "area": o.area, "rating": o.rating,
            "note": o.note, "observed_at": iso(o.observed_at),
            "recorded_at": iso(o.recorded_at), "evaluator": o.evaluator,
            "after_seq": o.after_seq}


def _improvement_view(m: DrillImprovement) -> dict[str, Any]:
    return {"id": m.id, "text": m.text, "owner": m.owner, "due": iso(m.due),
            "status": m.status, "closed_at": iso(m.closed_at), "closed_by": m.closed_by,
            "plan_revision": m.plan_revision, "created_at": iso(m.created_at),
            "created_by": m.created_by}


def _enterprise_drill_view(r: EnterpriseDrill, name: str) -> dict[str, Any]:
    return {"id": r.id, "enterprise_id": r.enterprise_id, "enterprise_name": name,
            "county_id": r.county_id, "held_on": iso(r.held_on), "drill_type": r.drill_type,
            "scope": r.scope, "title": r.title, "participants": r.participants,
            "summary": r.summary, "drill_id": r.drill_id, "recorded_at": iso(r.recorded_at),
            "recorded_by": r.recorded_by}


def _safe_row(cells: list[Any]) -> list[str]:
    # a cell starting like a formula would run in a spreadsheet
    return ["'" + str(c) if str(c)[:1] in ("=", "+", "-", "@") else str(c) for c in cells]
