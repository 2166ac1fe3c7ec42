"""Unannounced blind drills: schedule, spring at a secret moment, injects, end and report.

A drill springs by reporting an incident through the command service exactly as a real
report arrives (marked as an exercise), so what is measured is the county's real response.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from command.auth import Actor
from command.drill_models import Drill, DrillImprovement, DrillInject, DrillStatus, InjectType
from command.errors import CommandError, Conflict, Forbidden, InvalidInput, NotFound
from command.events import PublishedEvent, incident_events
from command.models import (
    Closure,
    Incident,
    IncidentKind,
    IncidentStatus,
    Role,
    Station,
    Unit,
    UnitStatus,
    User,
)
from command.scoring import aggregate, compare, score_incident
from command.service import (
    REROUTE_TEXT,
    CommandService,
    IncidentChange,
    IncidentReport,
    Wind,
)
from command.views import closure_view, iso
from dispatch.closures import InvalidClosure, edges_for_closure
from dispatch.reasons import Reason
from plans.matching import match_scenario
from plans.models import Enterprise, Plan, PlanVersion
from plans.schema import PlanDocument

log = logging.getLogger(__name__)

MANAGERS = (Role.TRAINER, Role.ADMIN)
MAX_WINDOW = dt.timedelta(days=90)
# a tick can land just after a window's end; a drill that came due moments ago still fires
LATE_GRACE = dt.timedelta(seconds=30)
# a claimed drill with no incident after this long lost its process mid-spring
SPRING_TIMEOUT = dt.timedelta(seconds=120)
MAX_INJECT_AT_S = 24 * 3600.0
# statistics look at the newest incidents only
STATS_LIMIT = 1000
# what an inject did, English; the trainer console translates "reason.<code>" from the parts
OUTCOME_TEXT: dict[str, str] = {
    "drill.no_incident": "skipped: the drill has no incident",
    "drill.incident_closed": "skipped: the drill's incident is closed",
    "drill.severity": "severity {before} → {after}",
    "drill.casualties": "casualties {before} → {after}",
    "drill.unit_not_on_drill": "skipped: the unit is not on the drill",
    "drill.unit_out_of_service": "unit out of service",
    "drill.no_road": "skipped: the geometry covers no road",
    "drill.road_blocked": "closure {closure}: {n} road segments blocked in the drill",
    "drill.recorded": "recorded in the log",
    "drill.failed": "failed: {error}",
}


def _outcome(code: str, **params: Any) -> Reason:
    return Reason(OUTCOME_TEXT).add(code, **params)


@dataclass(frozen=True)
class Variations:
    """Ranges the hub draws from when the drill springs."""

    severity: tuple[int, int] = (1, 3)
    casualties: tuple[int, int] = (0, 3)
    wind_deg: tuple[float, float] = (0.0, 360.0)
    wind_speed_ms: tuple[float, float] = (1.0, 6.0)
    spill: tuple[str, ...] = ("small", "large")

    def as_dict(self) -> dict[str, Any]:
        return {"severity": list(self.severity), "casualties": list(self.casualties),
                "wind": {"from_deg": list(self.wind_deg), "speed_ms": list(self.wind_speed_ms)},
                "spill": list(self.spill)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Variations:
        d = d or {}
        wind = d.get("wind") or {}
        base = cls()
        return cls(
            severity=tuple(d.get("severity") or base.severity),  # type: ignore[arg-type]
            casualties=tuple(d.get("casualties") or base.casualties),  # type: ignore[arg-type]
            wind_deg=tuple(wind.get("from_deg") or base.wind_deg),  # type: ignore[arg-type]
            wind_speed_ms=tuple(wind.get("speed_ms") or base.wind_speed_ms),  # type: ignore[arg-type]
            spill=tuple(d.get("spill") or base.spill),
        )

    def check(self) -> None:
        """Refuse ranges that are upside down or outside what a report may carry."""
        pairs = {"severity": (self.severity, 1, 4), "casualties": (self.casualties, 0, 100000),
                 "wind.from_deg": (self.wind_deg, 0, 360),
                 "wind.speed_ms": (self.wind_speed_ms, 0, 100)}
        for name, ((lo, hi), low, high) in pairs.items():
            if not low <= lo <= hi <= high:
                raise InvalidInput(f"{name} must be [lo, hi] within [{low}, {high}]",
                                   f"variations.{name}")
        if not self.spill or any(s not in ("small", "large") for s in self.spill):
            raise InvalidInput("spill must list small and/or large", "variations.spill")


@dataclass(frozen=True)
class InjectSpec:
    at_s: float
    type: InjectType
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DrillSpec:
    """What a trainer asks for; None pools mean any."""

    window_start: dt.datetime
    window_end: dt.datetime
    enterprise_ids: Sequence[int] | None = None
    scenario_ids: Sequence[str] | None = None
    unit_ids: Sequence[int] | None = None
    station_ids: Sequence[int] | None = None
    variations: Variations = Variations()
    injects: Sequence[InjectSpec] = ()
    title: str = ""


def _min_severity(cand: _Candidate) -> int:
    """The lowest severity at which the candidate's scenario triggers."""
    return int((cand.scenario.get("trigger") or {}).get("min_severity") or 1)


@dataclass(frozen=True)
class _Candidate:
    enterprise_id: int
    enterprise_name: str
    chemicals: tuple[str, ...]
    version: PlanVersion
    scenario: dict[str, Any]


def _actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=user.role, unit_id=user.unit_id,
                 region_id=user.region_id, language=user.language)


class DrillService:
    """Drills over one command service; tick() is the scheduler's whole job."""

    def __init__(self, service: CommandService, rng: random.Random | None = None) -> None:
        self.service = service
        # the secret moment and the scenario must not be predictable from outside
        self.rng = rng or secrets.SystemRandom()

    # ---- access -----------------------------------------------------------------------------

    def _check(self, actor: Actor) -> None:
        if actor.role not in MANAGERS:
            raise Forbidden("only trainers and administrators manage drills")

    def _visible(self, actor: Actor, drill: Drill | None) -> bool:
        if drill is None:
            return False
        regions = self.service.region_counties(actor.region_id)
        return regions is None or drill.region_id in regions

    def _drill(self, s: Session, actor: Actor, drill_id: int) -> Drill:
        self._check(actor)
        drill = s.get(Drill, drill_id)
        if drill is None or not self._visible(actor, drill):
            raise NotFound(f"drill {drill_id} not found", "drill_id")
        return drill

    # ---- creating and reading ---------------------------------------------------------------

    def create(self, actor: Actor, spec: DrillSpec) -> dict[str, Any]:
        """Validate the pools, draw the secret moment and store the drill."""
        self._check(actor)
        now = self.service.clock()
        start, end = spec.window_start, spec.window_end
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("window times need a UTC offset", "window")
        try:
            start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31 at -14:00 is past the calendar's end in UTC
            raise InvalidInput("window lies outside the calendar", "window") from None
        if end <= start:
            raise InvalidInput("window end must be after its start", "window.end")
        if end <= now:
            raise InvalidInput("window is already over", "window.end")
        if end - start > MAX_WINDOW:
            raise InvalidInput("window may be at most 90 days", "window")
        spec.variations.check()
        with self.service.transaction() as tx:
            s = tx.session
            user = s.get(User, actor.user_id)
            if user is None:
                raise NotFound("user not found", "actor")
            pool_units = self._check_units(s, actor, spec)
            drill = Drill(
                title=spec.title, created_by_id=actor.user_id, created_by=actor.username,
                region_id=actor.region_id, created_at=now, window_start=start,
                window_end=end, due_at=self._draw_moment(max(start, now), end),
                enterprise_ids=list(spec.enterprise_ids) if spec.enterprise_ids else None,
                scenario_ids=list(spec.scenario_ids) if spec.scenario_ids else None,
                unit_ids=list(spec.unit_ids) if spec.unit_ids else None,
                station_ids=list(spec.station_ids) if spec.station_ids else None,
                variations=spec.variations.as_dict(),
            )
            if not self._candidates(s, actor, drill):
                raise InvalidInput("no enterprise in the pool has a current plan with a "
                                   "matching scenario", "scenario_ids")
            for i, inj in enumerate(spec.injects):
                self._check_inject(inj, pool_units, i)
                drill.injects.append(DrillInject(index=i, at_s=float(inj.at_s), type=inj.type,
                                                 data=dict(inj.data)))
            s.add(drill)
            s.flush()
            return self._view(drill, now)

    def _draw_moment(self, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
        span = (hi - lo).total_seconds()
        return lo + dt.timedelta(seconds=self.rng.uniform(0.0, max(span, 0.0)))

    def _check_units(self, s: Session, actor: Actor, spec: DrillSpec) -> set[int] | None:
        counties = self.service.region_counties(actor.region_id)
        pool: set[int] = set()
        for uid in spec.unit_ids or ():
            u = s.get(Unit, uid)
            if u is None or (counties is not None and u.county_id not in counties):
                raise InvalidInput(f"unit {uid} not found", "unit_ids")
            pool.add(u.id)
        for sid in spec.station_ids or ():
            st = s.get(Station, sid)
            if st is None or (counties is not None and st.county_id not in counties):
                raise InvalidInput(f"station {sid} not found", "station_ids")
            pool |= set(s.scalars(select(Unit.id).where(Unit.station_id == sid)))
        if (spec.unit_ids or spec.station_ids) and not pool:
            raise InvalidInput("the stations given have no units", "station_ids")
        return pool or None

    def _check_inject(self, inj: InjectSpec, pool: set[int] | None, i: int) -> None:
        where = f"injects.{i}"
        if not 0 <= inj.at_s <= MAX_INJECT_AT_S:
            raise InvalidInput("at_s must be between 0 and 86400", f"{where}.at_s")
        if inj.type is InjectType.CASUALTIES:
            count = inj.data.get("count")
            if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10000:
                raise InvalidInput("casualties needs a count from 1 to 10000",
                                   f"{where}.data.count")
        elif inj.type is InjectType.UNIT_BREAKDOWN:
            uid = inj.data.get("unit_id")
            if not isinstance(uid, int) or (pool is not None and uid not in pool):
                raise InvalidInput("unit_breakdown needs a unit_id of a participating unit",
                                   f"{where}.data.unit_id")
        elif inj.type is InjectType.ROAD_BLOCKED:
            geom = inj.data.get("geometry")
            if not isinstance(geom, dict):
                raise InvalidInput("road_blocked needs a GeoJSON geometry",
                                   f"{where}.data.geometry")
            try:
                edges = edges_for_closure(self.service.graph, geom)
            except InvalidClosure as exc:
                raise InvalidInput(f"road_blocked: {exc}", f"{where}.data.geometry") from None
            if not edges:
                raise InvalidInput("road_blocked: the geometry covers no road of the map",
                                   f"{where}.data.geometry")

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        """Every drill the trainer's region covers, newest first."""
        self._check(actor)
        now = self.service.clock()
        with self.service.reading() as s:
            drills = s.scalars(select(Drill).order_by(Drill.id.desc()).limit(500))
            return [self._view(d, now) for d in drills if self._visible(actor, d)]

    def get(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        with self.service.reading() as s:
            return self._view(self._drill(s, actor, drill_id), self.service.clock())

    def _inject_due(self, drill: Drill, inj: DrillInject) -> dt.datetime | None:
        if drill.started_at is None:
            return None
        return drill.started_at + dt.timedelta(seconds=inj.at_s + drill.paused_total_s)

    def _view(self, d: Drill, now: dt.datetime) -> dict[str, Any]:
        return {
            "id": d.id,
            "title": d.title,
            # the API speaks scheduled|running|ended|missed; a paused drill is running, paused
            "status": (DrillStatus.RUNNING if d.status is DrillStatus.PAUSED else d.status).value,
            "paused": d.status is DrillStatus.PAUSED,
            "window": {"start": iso(d.window_start), "end": iso(d.window_end)},
            "due_at": iso(d.due_at),
            "enterprise_ids": d.enterprise_ids,
            "scenario_ids": d.scenario_ids,
            "unit_ids": d.unit_ids,
            "station_ids": d.station_ids,
            "variations": d.variations,
            "sprung": d.sprung,
            "incident_id": d.incident_id,
            "started_at": iso(d.started_at),
            "paused_at": iso(d.paused_at),
            "paused_total_s": d.paused_total_s,
            "revealed_at": iso(d.revealed_at),
            "revealed_by": d.revealed_by,
            "ended_at": iso(d.ended_at),
            "ended_by": d.ended_by,
            "missed_at": iso(d.missed_at),
            "note": d.note,
            "created_by": d.created_by,
            "created_at": iso(d.created_at),
            "score": (d.result or {}).get("score", {}).get("value"),
            "injects": [{"index": i.index, "at_s": i.at_s, "type": i.type.value, "data": i.data,
                         "due_at": iso(self._inject_due(d, i)), "applied_at": iso(i.applied_at),
                         "applied_by": i.applied_by, "outcome": i.outcome,
                         "outcome_parts": i.outcome_parts or []} for i in d.injects],
            "improvements": [{"id": m.id, "text": m.text, "owner": m.owner, "due": iso(m.due),
                              "created_at": iso(m.created_at), "created_by": m.created_by}
                             for m in d.improvements],
        }

    # ---- the scheduler ----------------------------------------------------------------------

    def tick(self) -> list[int]:
        """Spring due drills, mark missed ones, apply due injects; the drills touched."""
        now = self.service.clock()
        touched: list[int] = []
        with self.service.reading() as s:
            due = list(s.scalars(select(Drill.id).where(
                Drill.status == DrillStatus.SCHEDULED, Drill.due_at <= now).order_by(
                Drill.due_at)))
        # each step on its own: one drill's failure must not stall every other drill
        for drill_id in due:
            if self._guarded(f"springing drill {drill_id}", self._spring_or_miss, drill_id, now):
                touched.append(drill_id)
        touched += self._guarded("recovering drills", self._recover, now) or []
        touched += self._guarded("applying injects", self._apply_due_injects, now) or []
        return touched

    @staticmethod
    def _guarded(what: str, step: Callable[..., Any], *args: Any) -> Any:
        try:
            return step(*args)
        except Exception:
            log.exception("drill scheduler: %s failed", what)
            return None

    def _conditional(self, drill_id: int, from_: Sequence[DrillStatus], **values: Any) -> bool:
        """Move a drill between states only if nobody else did: one process wins."""
        with self.service.sessions() as s, s.begin():
            result = s.execute(update(Drill).where(Drill.id == drill_id,
                                                   Drill.status.in_(list(from_)))
                               .values(**values).execution_options(synchronize_session=False))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _spring_or_miss(self, drill_id: int, now: dt.datetime) -> bool:
        with self.service.reading() as s:
            drill = s.get(Drill, drill_id)
            if drill is None:
                return False
            window_end, due_at = drill.window_end, drill.due_at
        if now > window_end and now - due_at > LATE_GRACE:
            return self._conditional(
                drill_id, [DrillStatus.SCHEDULED], status=DrillStatus.MISSED, missed_at=now,
                note="the hub was not running while the drill was due and its window closed")
        if not self._conditional(drill_id, [DrillStatus.SCHEDULED], status=DrillStatus.RUNNING,
                                 claimed_at=now):
            return False
        try:
            self._spring(drill_id)
        except Exception as exc:
            log.exception("drill %s could not spring", drill_id)
            self._conditional(drill_id, [DrillStatus.RUNNING], status=DrillStatus.MISSED,
                              missed_at=self.service.clock(),
                              note=f"could not spring: {getattr(exc, 'message', exc)}")
        return True

    def _spring(self, drill_id: int) -> None:
        """Draw a scenario and variations and report the incident as a real report arrives."""
        with self.service.reading() as s:
            drill = s.get(Drill, drill_id)
            assert drill is not None
            user = s.get(User, drill.created_by_id)
            if user is None:
                raise NotFound("the drill's creator no longer exists")
            actor = _actor_of(user)
            candidates = self._candidates(s, actor, drill)
            if not candidates:
                raise InvalidInput("no enterprise in the pool has a matching plan scenario")
            variations = Variations.from_dict(drill.variations)
            # only scenarios a report within the trainer's severity range can trigger: the
            # plan's matcher must land on the scenario drawn, as it would for a real call
            top = variations.severity[1]
            cand = self.rng.choice([c for c in candidates if _min_severity(c) <= top]
                                   or candidates)
            pool = self._unit_pool(s, drill)
            drawn = self._draw(variations, _min_severity(cand))
            kind, chemical = self._kind_for(cand, drawn["severity"], drawn["casualties"])
        sprung = {"enterprise_id": cand.enterprise_id, "enterprise_name": cand.enterprise_name,
                  "scenario_id": cand.scenario.get("id"),
                  "scenario_name": cand.scenario.get("name"), "kind": kind.value,
                  "chemical": chemical, **drawn}
        with self.service.sessions() as s, s.begin():
            s.execute(update(Drill).where(Drill.id == drill_id).values(sprung=sprung))
        report = IncidentReport(
            kind=kind, enterprise_id=cand.enterprise_id, chemical=chemical,
            severity=drawn["severity"], casualties=drawn["casualties"],
            wind=Wind(drawn["wind"]["from_deg"], drawn["wind"]["speed_ms"]),
            spill=drawn["spill"] if chemical else None, source="drill", exercise=True,
            drill_id=drill_id, unit_pool=pool,
        )
        incident = self.service.report_incident(actor, report)
        with self.service.sessions() as s, s.begin():
            s.execute(update(Drill).where(Drill.id == drill_id).values(
                incident_id=incident.id, started_at=incident.created_at))

    def _draw(self, v: Variations, min_severity: int = 1) -> dict[str, Any]:
        r = self.rng
        lo, hi = v.severity
        return {
            "severity": r.randint(max(lo, min_severity), hi) if min_severity <= hi
            else r.randint(lo, hi),
            "casualties": r.randint(*v.casualties),
            "wind": {"from_deg": round(r.uniform(*v.wind_deg), 0) % 360.0,
                     "speed_ms": round(r.uniform(*v.wind_speed_ms), 1)},
            "spill": r.choice(list(v.spill)),
        }

    def _unit_pool(self, s: Session, drill: Drill) -> frozenset[int] | None:
        if not drill.unit_ids and not drill.station_ids:
            return None
        pool = set(drill.unit_ids or [])
        if drill.station_ids:
            pool |= set(s.scalars(select(Unit.id).where(Unit.station_id.in_(drill.station_ids))))
        return frozenset(pool)

    def _candidates(self, s: Session, actor: Actor, drill: Drill) -> list[_Candidate]:
        """Every (enterprise, scenario) of a current plan within the drill's pools."""
        q = select(Enterprise).order_by(Enterprise.id)
        if drill.enterprise_ids:
            q = q.where(Enterprise.id.in_(drill.enterprise_ids))
        counties = self.service.region_counties(actor.region_id)
        if counties is not None:
            q = q.where(Enterprise.county_id.in_(counties))
        wanted = set(drill.scenario_ids or [])
        out = []
        for e in s.scalars(q):
            plan = s.scalar(select(Plan).where(Plan.enterprise_id == e.id))
            if plan is None or plan.current_version is None:
                continue
            version = s.scalar(select(PlanVersion).where(
                PlanVersion.plan_id == plan.id, PlanVersion.version == plan.current_version))
            if version is None:
                continue
            chems = tuple(sorted({str(c["un"]) for h in e.installations for c in h.chemicals
                                  if c.get("un")}))
            for sc in version.document.get("scenarios", []):
                if wanted and sc.get("id") not in wanted:
                    continue
                out.append(_Candidate(e.id, e.name, chems, version, sc))
        return out

    def _kind_for(self, cand: _Candidate, severity: int, casualties: int
                  ) -> tuple[IncidentKind, str | None]:
        """An incident kind and chemical that the plan matches to the drawn scenario."""
        doc = PlanDocument.model_validate(cand.version.document)
        combos = []
        for kind in IncidentKind:
            for chem in (*cand.chemicals, None):
                m = match_scenario(doc, None, kind.value, chem, severity, casualties)
                if m is not None and m.scenario.id == cand.scenario.get("id"):
                    combos.append((kind, chem))
        if combos:
            return self.rng.choice(combos)
        # the plan's matcher wants something we cannot guess: report the closest we have
        log.warning("no report matches scenario %s; reporting a fire", cand.scenario.get("id"))
        return IncidentKind.FIRE, (cand.chemicals[0] if cand.chemicals else None)

    def _recover(self, now: dt.datetime) -> list[int]:
        """Finish drills whose incident closed; repair a spring cut short by a crash."""
        touched = []
        with self.service.reading() as s:
            live = s.execute(select(Drill.id, Drill.incident_id, Drill.claimed_at).where(
                Drill.status.in_([DrillStatus.RUNNING, DrillStatus.PAUSED]))).all()
            closed = {i for (i,) in s.execute(select(Incident.id).where(
                Incident.id.in_([r.incident_id for r in live if r.incident_id]),
                Incident.status == IncidentStatus.CLOSED))}
            orphans = {}
            for r in live:
                if r.incident_id is None and r.claimed_at and now - r.claimed_at > SPRING_TIMEOUT:
                    # plain values: the session (and its objects) is gone when they are used
                    orphans[r.id] = s.execute(select(Incident.id, Incident.created_at).where(
                        Incident.drill_id == r.id)).first()
        for r in live:
            if r.incident_id in closed and self._finish(r.id, "incident closed"):
                touched.append(r.id)
        for drill_id, incident in orphans.items():
            if incident is not None:
                with self.service.sessions() as s, s.begin():
                    s.execute(update(Drill).where(Drill.id == drill_id).values(
                        incident_id=incident.id, started_at=incident.created_at))
            else:
                self._conditional(drill_id, [DrillStatus.RUNNING], status=DrillStatus.MISSED,
                                  missed_at=now, note="the hub stopped while springing it")
            touched.append(drill_id)
        return touched

    def _apply_due_injects(self, now: dt.datetime) -> list[int]:
        with self.service.reading() as s:
            drills = s.scalars(select(Drill).where(Drill.status == DrillStatus.RUNNING,
                                                   Drill.incident_id.is_not(None))).all()
            due = [(d.id, i.index) for d in drills for i in d.injects
                   if i.applied_at is None and (t := self._inject_due(d, i)) and t <= now]
        for drill_id, index in due:
            self._apply(drill_id, index, "schedule")
        return sorted({d for d, _ in due})

    # ---- injects ----------------------------------------------------------------------------

    def fire_inject(self, actor: Actor, drill_id: int, index: int) -> dict[str, Any]:
        """Fire an inject by hand from the console."""
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            if drill.status is not DrillStatus.RUNNING:
                # paused means no injects at all, by schedule or by hand
                raise Conflict(f"drill is {drill.status.value}", "drill_id")
            if not any(i.index == index for i in drill.injects):
                raise NotFound(f"inject {index} not found", "index")
        if not self._apply(drill_id, index, actor.username):
            raise Conflict(f"inject {index} was already applied", "index")
        return self.get(actor, drill_id)

    def _apply(self, drill_id: int, index: int, by: str) -> bool:
        """Claim one inject and apply it; False if it was applied already."""
        now = self.service.clock()
        with self.service.sessions() as s, s.begin():
            # claimed only while the drill runs: a pause or an end that landed since the
            # list of due injects was read stops it here
            running = select(Drill.id).where(Drill.id == drill_id,
                                             Drill.status == DrillStatus.RUNNING).exists()
            result = s.execute(update(DrillInject).where(
                DrillInject.drill_id == drill_id, DrillInject.index == index,
                DrillInject.applied_at.is_(None), running).values(applied_at=now, applied_by=by)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
        with self.service.reading() as s:
            drill = s.get(Drill, drill_id)
            assert drill is not None
            inj = next(i for i in drill.injects if i.index == index)
            kind, data, incident_id = inj.type, dict(inj.data), drill.incident_id
            user = s.get(User, drill.created_by_id)
            # an Actor, not the row: reading() expires rows when it closes
            trainer = _actor_of(user) if user is not None else None
            region_id = drill.region_id
        try:
            outcome = self._effect(drill_id, incident_id, index, kind, data, by, trainer,
                                   region_id)
        except Exception as exc:
            log.exception("inject %s of drill %s failed", index, drill_id)
            outcome = _outcome("drill.failed", error=str(getattr(exc, "message", exc)))
        with self.service.sessions() as s, s.begin():
            s.execute(update(DrillInject).where(DrillInject.drill_id == drill_id,
                                                DrillInject.index == index)
                      .values(outcome=outcome.text, outcome_parts=outcome.parts))
        return True

    def _effect(self, drill_id: int, incident_id: int | None, index: int, kind: InjectType,
                data: dict[str, Any], by: str, trainer: Actor | None, region_id: int | None
                ) -> Reason:
        if incident_id is None or trainer is None:
            return _outcome("drill.no_incident")
        with self.service.transaction() as tx:
            incident = tx.session.get(Incident, incident_id)
            if incident is None or incident.status is IncidentStatus.CLOSED:
                return _outcome("drill.incident_closed")
            severity, casualties = incident.severity, incident.casualties
            tx.record("drill.inject", {"drill_id": drill_id, "index": index,
                                       "type": kind.value, "data": data, "by": by},
                      incident=incident, actor=by)
        if kind is InjectType.EXPLOSION:
            self.service.change_incident(trainer, incident_id, IncidentChange(
                severity=min(4, severity + 1)))
            return _outcome("drill.severity", before=severity, after=min(4, severity + 1))
        if kind is InjectType.CASUALTIES:
            total = casualties + int(data["count"])
            self.service.change_incident(trainer, incident_id, IncidentChange(casualties=total))
            return _outcome("drill.casualties", before=casualties, after=total)
        if kind is InjectType.UNIT_BREAKDOWN:
            unit_id = int(data["unit_id"])
            with self.service.reading() as s:
                unit = s.get(Unit, unit_id)
                on_drill = unit is not None and unit.incident_id == incident_id
            if not on_drill:
                # never touch a unit that is not on this drill: it may be on a real call
                return _outcome("drill.unit_not_on_drill")
            system = Actor(user_id=0, username=f"drill-{drill_id}", role=Role.ADMIN,
                           unit_id=None, region_id=region_id)
            try:
                self.service.set_unit_status(system, "out_of_service", unit_id=unit_id,
                                             only_on_incident=incident_id)
            except Conflict:
                return _outcome("drill.unit_not_on_drill")
            return _outcome("drill.unit_out_of_service")
        if kind is InjectType.ROAD_BLOCKED:
            return self._block_road(drill_id, incident_id, index, data, by)
        return _outcome("drill.recorded")

    def _block_road(self, drill_id: int, incident_id: int, index: int, data: dict[str, Any],
                    by: str) -> Reason:
        """Close roads for the drill's incident only and re-route its units around them.

        The closure is bound to the exercise incident, so the service leaves it out of real
        dispatch and coverage; it is lifted when the drill ends.
        """
        geometry = data["geometry"]
        edges = edges_for_closure(self.service.graph, geometry)
        if not edges:
            return _outcome("drill.no_road")
        with self.service.transaction() as tx:
            incident = tx.session.get(Incident, incident_id)
            assert incident is not None
            if incident.status is not IncidentStatus.ACTIVE:
                # ended meanwhile: its closures were lifted already, none may come after
                return _outcome("drill.incident_closed")
            closure = Closure(geometry=geometry, created_at=tx.now, incident_id=incident_id,
                              county_id=incident.county_id,
                              reason=str(data.get("reason") or f"drill {drill_id} inject {index}"))
            tx.session.add(closure)
            tx.session.flush()
            tx.record("closure.added", closure_view(closure) | {"edges": len(edges)},
                      incident=incident, actor=by)
            self.service._reroute_all(tx, incident, by, Reason(REROUTE_TEXT).add(
                "reroute.closure_added", closure=closure.id))
            closure_id = closure.id
        return _outcome("drill.road_blocked", closure=closure_id, n=len(edges))

    def _lift_closures(self, incident_id: int, by: str) -> None:
        """Reopen the roads a drill's injects closed."""
        with self.service.transaction() as tx:
            incident = tx.session.get(Incident, incident_id)
            rows = tx.session.scalars(select(Closure).where(
                Closure.incident_id == incident_id, Closure.removed_at.is_(None))).all()
            for c in rows:
                c.removed_at = tx.now
                tx.record("closure.removed", closure_view(c), incident=incident, actor=by)

    # ---- trainer controls -------------------------------------------------------------------

    def _record(self, incident_id: int, type_: str, data: dict[str, Any], actor: Actor) -> None:
        with self.service.transaction() as tx:
            incident = tx.session.get(Incident, incident_id)
            if incident is not None:
                tx.record(type_, data, incident=incident, actor=actor)

    def reveal(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """Record that the drill was revealed to its participants, and when."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            if drill.incident_id is None:
                raise Conflict("the drill has not sprung yet", "drill_id")
            incident_id, already = drill.incident_id, drill.revealed_at is not None
        if not already:
            with self.service.sessions() as s, s.begin():
                result = s.execute(update(Drill).where(Drill.id == drill_id,
                                                       Drill.revealed_at.is_(None))
                                   .values(revealed_at=now, revealed_by=actor.username))
                first = result.rowcount == 1  # type: ignore[attr-defined]
            if first:
                self._record(incident_id, "drill.revealed",
                             {"drill_id": drill_id, "revealed_by": actor.username}, actor)
        return self.get(actor, drill_id)

    def pause(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """Hold pending injects."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            incident_id = drill.incident_id
        if not self._conditional(drill_id, [DrillStatus.RUNNING], status=DrillStatus.PAUSED,
                                 paused_at=now):
            raise Conflict("only a running drill can be paused", "drill_id")
        if incident_id is not None:
            self._record(incident_id, "drill.paused", {"drill_id": drill_id}, actor)
        return self.get(actor, drill_id)

    def resume(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """Release the injects; their times shift by the pause."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            if drill.status is not DrillStatus.PAUSED or drill.paused_at is None:
                raise Conflict("only a paused drill can be resumed", "drill_id")
            total = drill.paused_total_s + (now - drill.paused_at).total_seconds()
            incident_id = drill.incident_id
        if not self._conditional(drill_id, [DrillStatus.PAUSED], status=DrillStatus.RUNNING,
                                 paused_at=None, paused_total_s=total):
            raise Conflict("only a paused drill can be resumed", "drill_id")
        if incident_id is not None:
            self._record(incident_id, "drill.resumed",
                         {"drill_id": drill_id, "paused_total_s": round(total, 3)}, actor)
        return self.get(actor, drill_id)

    def end(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """End the drill: close its incident (releasing every unit) and freeze the report."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            status, incident_id = drill.status, drill.incident_id
        if status is DrillStatus.SCHEDULED:
            if not self._conditional(drill_id, [DrillStatus.SCHEDULED], status=DrillStatus.ENDED,
                                     ended_at=now, ended_by=actor.username,
                                     note="cancelled before it sprang"):
                raise Conflict("the drill changed meanwhile; try again", "drill_id")
            return self.get(actor, drill_id)
        if status in (DrillStatus.ENDED, DrillStatus.MISSED):
            return self.get(actor, drill_id)
        if incident_id is None:
            raise Conflict("the drill is springing; try again in a moment", "drill_id")
        with self.service.reading() as s:
            open_ = s.get(Incident, incident_id).status is IncidentStatus.ACTIVE  # type: ignore[union-attr]
        if open_:
            self._record(incident_id, "drill.ended", {"drill_id": drill_id,
                                                      "ended_by": actor.username}, actor)
            self.service.close_incident(actor, incident_id)
        self._finish(drill_id, actor.username)
        return self.get(actor, drill_id)

    def _finish(self, drill_id: int, by: str) -> bool:
        """Mark a drill ended and freeze its after-action figures."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = s.get(Drill, drill_id)
            if drill is None or drill.incident_id is None:
                return False
            incident_id = drill.incident_id
            incident = s.get(Incident, incident_id)
            events = incident_events(s, incident_id)
            as_of = incident.closed_at if incident is not None and incident.closed_at else now
        result = score_incident(events, as_of=as_of) if events else None
        if not self._conditional(drill_id, [DrillStatus.RUNNING, DrillStatus.PAUSED],
                                 status=DrillStatus.ENDED, ended_at=now, ended_by=by,
                                 paused_at=None, result=result):
            return False
        self._lift_closures(incident_id, by)
        self._repair_breakdowns(drill_id, by)
        return True

    def _repair_breakdowns(self, drill_id: int, by: str) -> None:
        """Units a breakdown inject took out of service come back when the drill ends: the
        breakdown was pretend, the unit is real. One set out of service since (a real
        fault) stays as it is."""
        with self.service.reading() as s:
            drill = s.get(Drill, drill_id)
            if drill is None:
                return
            broken = [(int(i.data["unit_id"]), i.applied_at) for i in drill.injects
                      if i.type is InjectType.UNIT_BREAKDOWN and i.applied_at is not None
                      and isinstance(i.data.get("unit_id"), int)]
            region_id = drill.region_id
            units = {u.id: u for u in s.scalars(select(Unit).where(
                Unit.id.in_([u for u, _ in broken])))}
            due = [uid for uid, at in broken if (u := units.get(uid)) is not None
                   and u.status is UnitStatus.OUT_OF_SERVICE and u.incident_id is None
                   and at is not None and u.status_since <= at + dt.timedelta(seconds=5)]
        system = Actor(user_id=0, username=by or f"drill-{drill_id}", role=Role.ADMIN,
                       unit_id=None, region_id=region_id)
        for unit_id in due:
            try:
                self.service.set_unit_status(system, "available", unit_id=unit_id,
                                             only_on_incident=0)
            except CommandError:
                log.warning("drill %s: unit %s could not be put back in service",
                            drill_id, unit_id)

    def on_events(self, events: Sequence[PublishedEvent]) -> None:
        """Service listener: a drill ends when anyone closes its incident."""
        for e in events:
            if e.type != "incident.closed" or not e.exercise or e.incident_id is None:
                continue
            try:
                with self.service.reading() as s:
                    drill_id = s.scalar(select(Drill.id).where(
                        Drill.incident_id == e.incident_id,
                        Drill.status.in_([DrillStatus.RUNNING, DrillStatus.PAUSED])))
                if drill_id is not None:
                    self._finish(drill_id, str(e.data.get("closed_by") or "incident closed"))
            except Exception:
                log.exception("could not finish the drill of incident %s", e.incident_id)

    # ---- after action -----------------------------------------------------------------------

    def statistics(self, actor: Actor, since: dt.datetime | None = None) -> dict[str, Any]:
        """Response times over many incidents, from their event logs.

        Officers and administrators get real incidents only: a drill never counts in real
        statistics. Trainers, who see drills only, get exercises only.
        """
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers, administrators and trainers read statistics")
        exercise = actor.role is Role.TRAINER
        now = self.service.clock()
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(Incident.id).where(Incident.exercise.is_(exercise))
            if counties is not None:
                q = q.where(Incident.county_id.in_(counties))
            if since is not None:
                q = q.where(Incident.created_at >= since)
            ids = list(s.scalars(q.order_by(Incident.id.desc()).limit(STATS_LIMIT)))
            reports = [score_incident(evs, as_of=now) for i in ids
                       if (evs := incident_events(s, i))]
        return aggregate(reports, exercise=exercise, since=since)

    def report(self, actor: Actor, drill_id: int) -> dict[str, Any]:
        """The measured figures (live while running, frozen once ended) and comparisons."""
        now = self.service.clock()
        with self.service.reading() as s:
            drill = self._drill(s, actor, drill_id)
            view = self._view(drill, now)
            if drill.incident_id is None:
                return {"drill": view, "report": None, "comparison": None,
                        "improvements": view["improvements"]}
            if drill.status is DrillStatus.ENDED and drill.result:
                rep = drill.result
            else:
                rep = score_incident(incident_events(s, drill.incident_id), as_of=now)
            previous = [d.result for d in s.scalars(select(Drill).where(
                Drill.status == DrillStatus.ENDED, Drill.id != drill.id,
                Drill.result.is_not(None)).order_by(Drill.started_at))
                if d.result and d.started_at and drill.started_at
                and d.started_at < drill.started_at
                and d.result.get("county_id") == rep.get("county_id")]
        return {"drill": view, "report": rep, "comparison": compare(rep, previous),
                "improvements": view["improvements"]}

    def add_improvement(self, actor: Actor, drill_id: int, text: str, owner: str = "",
                        due: dt.date | None = None) -> dict[str, Any]:
        """Add an improvement item to the after-action report."""
        if not text.strip():
            raise InvalidInput("text must not be empty", "text")
        with self.service.transaction() as tx:
            drill = self._drill(tx.session, actor, drill_id)
            item = DrillImprovement(drill_id=drill.id, text=text.strip(), owner=owner.strip(),
                                    due=due, created_at=tx.now, created_by=actor.username)
            tx.session.add(item)
            tx.session.flush()
            return {"id": item.id, "text": item.text, "owner": item.owner, "due": iso(item.due),
                    "created_at": iso(item.created_at), "created_by": item.created_by}
