"""Live cover of the county: can every enterprise's first force still arrive in time?

Built on dispatch.coverage from the database's stations, units (where they are now, and
whether they are free) and the approved plans. Used after each dispatch to warn the officer
of gaps and to recommend move-ups, and by GET /api/v1/coverage/now.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.models import Incident, Station, Unit, UnitStatus
from dispatch.coverage import (
    COVER_TEXT,
    CoverageModel,
    CoverTarget,
    MoveUp,
    StationUnit,
    TargetCoverage,
    coverage,
    recommend_move_ups,
)
from dispatch.coverage import Station as CoverStation
from dispatch.graph import EdgeId, RoadGraph
from dispatch.reasons import Part, Reason
from dispatch.recommend import RequiredForce
from plans.models import Enterprise, Plan, PlanVersion
from plans.schema import PlanDocument

# the first force every plan must be able to count on: its fire requirement
FIRST_FORCE_CAPABILITIES = ("fire",)


@dataclass(frozen=True)
class LiveCoverage:
    """Cover of each enterprise now, and the relocations that would restore it."""

    targets: tuple[TargetCoverage, ...]
    move_ups: tuple[MoveUp, ...]
    # names for the move-up advice, from the rows the cover was computed on
    station_names: dict[int, str] = field(default_factory=dict)
    callsigns: dict[int, str] = field(default_factory=dict)

    @property
    def gaps(self) -> list[TargetCoverage]:
        """Enterprises whose first force can no longer arrive by its deadline."""
        return [t for t in self.targets if t.status == "red"]

    def as_dict(self) -> dict[str, Any]:
        counts = {"green": 0, "amber": 0, "red": 0}
        for t in self.targets:
            counts[t.status] += 1
        return {
            "counts": counts,
            "targets": [t.as_dict() for t in self.targets],
            "gaps": [{"enterprise_id": t.target_id, "name": t.name, "bottleneck": t.bottleneck,
                      "reason": gap_reason(t), "reason_parts": gap_reason_parts(t)}
                     for t in self.gaps],
            "move_ups": [{"unit_id": m.unit_id, "callsign": self.callsigns.get(m.unit_id, ""),
                          "from_station_id": m.from_station_id,
                          "to_station_id": m.to_station_id,
                          "to_station": self.station_names.get(m.to_station_id, ""),
                          "travel_s": round(m.travel_s, 1), "restores": list(m.restores),
                          "uncovers": list(m.uncovers)} for m in self.move_ups],
        }


def _gap(t: TargetCoverage) -> tuple[str, list[Part]]:
    if t.reason:  # not routable at all: the model said why
        return t.reason, list(t.reason_parts)
    why = Reason(COVER_TEXT)
    for r in t.requirements:
        if r.covered < r.count and r.deadline_s is not None:
            why.add("cover.short", capability=r.capability, covered=r.covered, count=r.count,
                    deadline_s=f"{r.deadline_s:.0f}")
    return why.text, why.parts


def gap_reason(t: TargetCoverage) -> str:
    """Why a target is uncovered, e.g. "fire: 1 of 3 can arrive within 600 s"."""
    return _gap(t)[0]


def gap_reason_parts(t: TargetCoverage) -> list[Part]:
    """The same reason as [{"code", "params"}] for the pages."""
    return _gap(t)[1]


def first_force_targets(session: Session, counties: frozenset[int] | None = None
                        ) -> list[CoverTarget]:
    """Per enterprise with a plan in force: the first-alarm force of its first scenario.

    The first-alarm force is the fire requirement with the shortest deadline over the
    enterprise's scenarios: if that cannot arrive in time, nothing else of the plan can start.
    """
    q = (select(Enterprise, PlanVersion)
         .join(Plan, Plan.enterprise_id == Enterprise.id)
         .join(PlanVersion, (PlanVersion.plan_id == Plan.id)
               & (PlanVersion.version == Plan.current_version))
         .order_by(Enterprise.id))
    targets: list[CoverTarget] = []
    for enterprise, version in session.execute(q):
        if counties is not None and enterprise.county_id not in counties:
            continue
        doc = PlanDocument.model_validate(version.document)
        first = [f for sc in doc.scenarios for f in sc.required_forces
                 if f.capability in FIRST_FORCE_CAPABILITIES]
        if not first:
            continue
        f = min(first, key=lambda f: (f.deadline_s, -f.count))
        targets.append(CoverTarget(enterprise.id, enterprise.name, enterprise.lat, enterprise.lon,
                                   (RequiredForce(f.capability, f.count, float(f.deadline_s)),),
                                   enterprise.county_id))
    return targets


_models: dict[tuple[Any, ...], CoverageModel] = {}
_models_lock = threading.Lock()


def _model(graph: RoadGraph, targets: list[CoverTarget], blocked: frozenset[EdgeId],
           turnout_s: Mapping[str, float] | None = None) -> CoverageModel:
    """One reverse search per target is the expensive part; it only changes with the plans,
    the map, the closures or the turnout settings, so keep the last few models."""
    turnout = tuple(sorted((turnout_s or {}).items()))
    key = (id(graph), tuple(targets), blocked, turnout)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            if len(_models) >= 8:
                _models.pop(next(iter(_models)))
            model = _models[key] = CoverageModel(graph, targets, blocked=blocked,
                                                 turnout_s=dict(turnout) if turnout else None)
        return model


def _free_for_real(unit: Unit, exercise_incidents: set[int]) -> bool:
    # a unit on a drill is free for real work: a real incident takes it off the drill
    if unit.status is UnitStatus.AVAILABLE:
        return True
    return unit.incident_id is not None and unit.incident_id in exercise_incidents


def live_coverage(session: Session, graph: RoadGraph, *,
                  blocked: Iterable[EdgeId] = (), counties: frozenset[int] | None = None,
                  max_moves: int = 3, turnout_s: Mapping[str, float] | None = None
                  ) -> LiveCoverage:
    """Cover from units' current positions and statuses, with recommended move-ups."""
    targets = first_force_targets(session, counties)
    station_rows = [s for s in session.scalars(select(Station).order_by(Station.id))
                    if counties is None or s.county_id in counties]
    # every unit a target's county could send (dispatch stays within the county)
    target_counties = {t.county_id for t in targets}
    unit_rows = [u for u in session.scalars(select(Unit).order_by(Unit.id))
                 if counties is None or u.county_id is None or u.county_id in counties
                 or u.county_id in target_counties]
    names = {s.id: s.name for s in station_rows}
    callsigns = {u.id: u.callsign for u in unit_rows}
    if not targets:
        return LiveCoverage((), (), names, callsigns)
    stations = [CoverStation(s.id, s.name, s.lat, s.lon, s.in_service, s.kind)
                for s in station_rows]
    exercise = set(session.scalars(select(Incident.id).where(Incident.exercise.is_(True),
                                                             Incident.closed_at.is_(None))))
    units = [StationUnit(u.id, u.kind, tuple(u.capabilities), u.station_id, u.lat, u.lon,
                         _free_for_real(u, exercise), u.county_id,
                         # a unit on a drill answers a real call, but is not moved around
                         movable=u.status is UnitStatus.AVAILABLE) for u in unit_rows]
    model = _model(graph, targets, frozenset(blocked), turnout_s)
    report = coverage(graph, stations, units, targets, with_outages=False, model=model)
    moves: list[MoveUp] = []
    if any(t.status == "red" for t in report.targets):
        moves = recommend_move_ups(graph, stations, units, targets, blocked=blocked,
                                   max_moves=max_moves, model=model)
    return LiveCoverage(report.targets, tuple(moves), names, callsigns)
