"""Can each approved plan be carried out? Standing cover of every scenario from home stations.

Reads the enterprises' current plan versions, the stations and their units from the database
and hands them to dispatch.coverage. Units are placed at their home station (standing cover is
about the plan, not about where a unit happens to be now) and count as available unless they
are out of service or their station is. Units without a home station are left out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.models import Station, Unit, UnitStatus
from dispatch.coverage import (
    CoverageModel,
    CoverTarget,
    StationUnit,
    TargetCoverage,
    coverage,
)
from dispatch.coverage import (
    Station as CoverStation,
)
from dispatch.graph import EdgeId, RoadGraph
from dispatch.recommend import RequiredForce
from plans.models import Enterprise, Plan, PlanVersion
from plans.schema import PlanDocument

STATUS_RANK = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class ScenarioRef:
    """Which enterprise plan scenario a cover target stands for."""

    enterprise_id: int
    county_id: int | None
    plan_id: int
    version: int
    scenario_id: str
    name: str
    name_en: str | None
    response_level: str


def state_key(session: Session) -> tuple[Any, ...]:
    """Everything the result depends on besides the graph: plans in force, stations, units.

    Cheap to read on every request; equal keys mean the cached result is still right.
    """
    plans = tuple(session.execute(
        select(Plan.id, Plan.current_version, Enterprise.lat, Enterprise.lon)
        .join(Enterprise, Enterprise.id == Plan.enterprise_id)
        .where(Plan.current_version.is_not(None)).order_by(Plan.id)).all())
    stations = tuple(session.execute(
        select(Station.id, Station.lat, Station.lon, Station.in_service)
        .order_by(Station.id)).all())
    units = tuple((u.id, u.kind, tuple(u.capabilities or ()), u.station_id,
                   u.status is UnitStatus.OUT_OF_SERVICE)
                  for u in session.scalars(select(Unit).order_by(Unit.id)))
    return (tuple(map(tuple, plans)), tuple(map(tuple, stations)), units)


def load_inputs(session: Session) -> tuple[list[CoverStation], list[StationUnit],
                                           list[CoverTarget], dict[int, ScenarioRef]]:
    """Stations, units at their home stations, and one target per approved scenario."""
    stations_rows = list(session.scalars(select(Station).order_by(Station.id)))
    stations = [CoverStation(s.id, s.name, s.lat, s.lon, s.in_service, s.kind)
                for s in stations_rows]
    by_id = {s.id: s for s in stations_rows}
    units = []
    for u in session.scalars(select(Unit).order_by(Unit.id)):
        home = by_id.get(u.station_id) if u.station_id is not None else None
        if home is None:
            continue
        units.append(StationUnit(u.id, u.kind, tuple(u.capabilities or ()), home.id, home.lat,
                                 home.lon, available=u.status is not UnitStatus.OUT_OF_SERVICE,
                                 county_id=u.county_id))
    targets: list[CoverTarget] = []
    refs: dict[int, ScenarioRef] = {}
    rows = session.execute(
        select(Plan, PlanVersion, Enterprise)
        .join(PlanVersion, (PlanVersion.plan_id == Plan.id)
              & (PlanVersion.version == Plan.current_version))
        .join(Enterprise, Enterprise.id == Plan.enterprise_id)
        .order_by(Enterprise.id)).all()
    for plan, version, enterprise in rows:
        doc = PlanDocument.model_validate(version.document)
        for sc in doc.scenarios:
            target_id = len(targets) + 1
            forces = tuple(RequiredForce(f.capability, f.count, float(f.deadline_s))
                           for f in sc.required_forces)
            targets.append(CoverTarget(target_id, f"{enterprise.name} / {sc.id}", enterprise.lat,
                                       enterprise.lon, forces, enterprise.county_id))
            refs[target_id] = ScenarioRef(enterprise.id, enterprise.county_id, plan.id,
                                          version.version, sc.id, sc.name, sc.name_en,
                                          sc.response_level)
    return stations, units, targets, refs


def _worst(statuses: Iterable[str]) -> str | None:
    return max(statuses, key=lambda s: STATUS_RANK[s], default=None)


def _requirement(r: Any, callsigns: Mapping[int, str]) -> dict[str, Any]:
    return {
        "capability": r.capability, "count": r.count, "deadline_s": r.deadline_s,
        "covered": r.covered, "on_time": r.covered >= r.count,
        "worst_eta_s": None if r.worst_eta_s is None else round(float(r.worst_eta_s), 1),
        "margin": None if r.margin is None else round(float(r.margin), 3),
        "unit_ids": list(r.unit_ids), "callsigns": [callsigns.get(u, str(u)) for u in r.unit_ids],
    }


def plan_coverage(session: Session, graph: RoadGraph, *,
                  turnout_s: Mapping[str, float] | None = None,
                  blocked: Iterable[EdgeId] | None = None) -> dict[str, Any]:
    """The full cover report of every enterprise with an approved plan, JSON-ready.

    Per enterprise: its worst scenario status, each scenario's requirements (on time or not,
    worst ETA, margin, the units that would go) and bottleneck, and for each station the
    scenarios that get worse if it is out of service.
    """
    started = time.perf_counter()
    stations, units, targets, refs = load_inputs(session)
    callsigns = dict(session.execute(select(Unit.id, Unit.callsign)).tuples().all())
    model = CoverageModel(graph, targets, turnout_s, blocked)
    report = coverage(graph, stations, units, targets, turnout_s, blocked, model=model)
    now = {t.target_id: t for t in report.targets}
    station_names = {s.station_id: s.name for s in stations}
    station_county = dict(session.execute(select(Station.id, Station.county_id)).tuples().all())

    enterprises: dict[int, dict[str, Any]] = {}
    for e in session.scalars(select(Enterprise).order_by(Enterprise.id)):
        enterprises[e.id] = {"enterprise_id": e.id, "name": e.name, "alt_name": e.alt_name,
                             "county_id": e.county_id, "location": {"lat": e.lat, "lon": e.lon},
                             "plan_id": None, "version": None, "status": None,
                             "bottleneck": None, "scenarios": [], "station_out": []}
    for target_id, ref in refs.items():
        cov: TargetCoverage = now[target_id]
        entry = enterprises[ref.enterprise_id]
        entry["plan_id"], entry["version"] = ref.plan_id, ref.version
        entry["scenarios"].append({
            "scenario_id": ref.scenario_id, "name": ref.name, "name_en": ref.name_en,
            "response_level": ref.response_level, "status": cov.status,
            "bottleneck": cov.bottleneck, "reason": cov.reason,
            "requirements": [_requirement(r, callsigns) for r in cov.requirements],
        })
    for entry in enterprises.values():
        worst = _worst(sc["status"] for sc in entry["scenarios"])
        entry["status"] = worst
        if worst is not None:
            # the bottleneck of the enterprise is that of its worst scenario
            entry["bottleneck"] = next(sc["bottleneck"] for sc in entry["scenarios"]
                                       if sc["status"] == worst)

    station_out = []
    for station_id, worse in report.station_out.items():
        affects = []
        for cov in worse:
            ref = refs[cov.target_id]
            affects.append({"enterprise_id": ref.enterprise_id, "scenario_id": ref.scenario_id,
                            "from": now[cov.target_id].status, "to": cov.status,
                            "bottleneck": cov.bottleneck})
            enterprises[ref.enterprise_id]["station_out"].append({
                "station_id": station_id, "station": station_names.get(station_id, ""),
                "scenario_id": ref.scenario_id, "from": now[cov.target_id].status,
                "to": cov.status, "bottleneck": cov.bottleneck})
        station_out.append({"station_id": station_id, "name": station_names.get(station_id, ""),
                            "county_id": station_county.get(station_id), "affects": affects})
    return {
        "stations": [{"station_id": s.station_id, "name": s.name, "lat": s.lat, "lon": s.lon,
                      "in_service": s.in_service, "county_id": station_county.get(s.station_id)}
                     for s in stations],
        "enterprises": list(enterprises.values()),
        "station_out": station_out,
        "scenarios": len(targets),
        "elapsed_ms": round((time.perf_counter() - started) * 1000.0, 1),
    }


def for_counties(result: Mapping[str, Any], counties: frozenset[int] | None) -> dict[str, Any]:
    """The report limited to the enterprises of some counties (None: all)."""
    if counties is None:
        visible = list(result["enterprises"])
    else:
        visible = [e for e in result["enterprises"] if e["county_id"] in counties]
    ids = {e["enterprise_id"] for e in visible}
    counts = {"green": 0, "amber": 0, "red": 0, "none": 0}
    for e in visible:
        counts[e["status"] or "none"] += 1
    def mine(station: Mapping[str, Any]) -> bool:
        # another county's stations (names, positions) are not the caller's to see
        return counties is None or station.get("county_id") in counties

    station_out = [{**s, "affects": [a for a in s["affects"] if a["enterprise_id"] in ids]}
                   for s in result["station_out"] if mine(s)]
    stations = [s for s in result["stations"] if mine(s)]
    return {**result, "enterprises": visible, "stations": stations, "station_out": station_out,
            "counts": counts}
