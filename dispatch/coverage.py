"""Standing cover: can each enterprise's required force arrive in time, and what moves fix gaps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, mapping

from dispatch.graph import EdgeId, PointOffRoad, RoadGraph, Snap, TravelField
from dispatch.reasons import Part, Reason
from dispatch.recommend import DEFAULT_TURNOUT_S, RequiredForce, solve_assignment, turnout_for

# a requirement met with less than this share of its deadline to spare is "amber"
AMBER_MARGIN = 0.20
ISOCHRONE_MINUTES = (4, 8, 12)
# why a target is not covered, English; the pages' catalogues hold them as "reason.<code>"
COVER_TEXT: dict[str, str] = {
    "cover.off_road": "point is {distance_m} m from the nearest road (limit {max_m} m)",
    "cover.unreachable": "unreachable",
    "cover.short": "{capability}: {covered} of {count} can arrive within {deadline_s} s",
}


@dataclass(frozen=True)
class Station:
    """A fire station, hospital or other base units respond from."""

    station_id: int
    name: str
    lat: float
    lon: float
    in_service: bool = True
    kind: str = ""  # fire | hazmat | hospital; "" houses any unit


# where a unit of each kind may be stationed (an engine does not move up to a hospital)
HOUSES: dict[str, frozenset[str]] = {
    "fire": frozenset({"fire", "hazmat"}),
    "hazmat": frozenset({"hazmat", "fire"}),
    "command": frozenset({"fire", "hazmat"}),
    "ems": frozenset({"hospital"}),
}


def can_house(station: Station, unit_kind: str) -> bool:
    """Whether a unit of this kind may be relocated to the station."""
    if not station.kind or unit_kind not in HOUSES:
        return True
    return station.kind in HOUSES[unit_kind]


@dataclass(frozen=True)
class StationUnit:
    """A unit, its home station and where it is now (available = free to respond)."""

    unit_id: int
    kind: str
    capabilities: tuple[str, ...]
    station_id: int | None
    lat: float
    lon: float
    available: bool = True
    # dispatch sends units only within their county: so does cover
    county_id: int | None = None
    # free for a real call but not to be moved (a unit on a drill)
    movable: bool = True


@dataclass(frozen=True)
class CoverTarget:
    """An enterprise (or other risk site) and the force it needs within which deadlines."""

    target_id: int
    name: str
    lat: float
    lon: float
    forces: tuple[RequiredForce, ...]
    county_id: int | None = None


@dataclass(frozen=True)
class RequirementCover:
    """How one required force is covered: slots filled on time, worst ETA, spare share."""

    capability: str
    count: int
    deadline_s: float | None
    covered: int
    worst_eta_s: float | None
    margin: float | None  # 1 - worst ETA / deadline; None without a deadline or any cover
    unit_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TargetCoverage:
    """green: all on time with ≥ 20 % to spare; amber: all on time, some tight; red: gaps."""

    target_id: int
    name: str
    status: str
    requirements: tuple[RequirementCover, ...]
    bottleneck: str | None  # capability that is missing or has the least margin
    reason: str = ""
    # the reason as [{"code", "params"}] for the pages to translate (dispatch.reasons)
    reason_parts: list[Part] = field(default_factory=list, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "target_id": self.target_id, "name": self.name, "status": self.status,
            "bottleneck": self.bottleneck, "reason": self.reason,
            "reason_parts": self.reason_parts,
            "requirements": [r.__dict__ | {"unit_ids": list(r.unit_ids)}
                             for r in self.requirements],
        }


@dataclass(frozen=True)
class CoverageReport:
    """Cover of every target now, and with each station out of service."""

    targets: tuple[TargetCoverage, ...]
    # station id -> the targets whose status gets worse if that station's units are gone
    station_out: dict[int, tuple[TargetCoverage, ...]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many targets are green, amber and red."""
        out = {"green": 0, "amber": 0, "red": 0}
        for t in self.targets:
            out[t.status] += 1
        return out


@dataclass(frozen=True)
class MoveUp:
    """Relocate an available unit to an empty station to restore cover."""

    unit_id: int
    from_station_id: int | None
    to_station_id: int
    travel_s: float
    restores: tuple[int, ...]  # targets no longer red after the move
    uncovers: tuple[int, ...]  # targets that become red because the unit leaves


_RANK = {"green": 0, "amber": 1, "red": 2}


class CoverageModel:
    """One reverse search per target, then cheap re-evaluation for any unit placement."""

    def __init__(self, graph: RoadGraph, targets: Sequence[CoverTarget],
                 turnout_s: Mapping[str, float] | None = None,
                 blocked: Iterable[EdgeId] | None = None) -> None:
        self.graph = graph
        self.targets = list(targets)
        self.turnout_s = DEFAULT_TURNOUT_S if turnout_s is None else turnout_s
        self.blocked = frozenset(blocked or ())
        self._fields: dict[int, TravelField | None] = {}
        self._off_road: dict[int, Reason] = {}
        for t in self.targets:
            deadlines = [f.deadline_s for f in t.forces]
            cutoff = None if None in deadlines or not deadlines else max(
                float(d) for d in deadlines if d is not None)
            try:
                snap = graph.snap(t.lat, t.lon, avoid=self.blocked)
            except PointOffRoad as exc:
                self._fields[t.target_id] = None
                self._off_road[t.target_id] = Reason(COVER_TEXT).add(
                    "cover.off_road", distance_m=f"{exc.distance_m:.0f}",
                    max_m=f"{exc.max_distance_m:.0f}")
                continue
            self._fields[t.target_id] = graph.travel_times_to(snap, cutoff_s=cutoff,
                                                              blocked=self.blocked)
        self._snaps: dict[tuple[float, float], Snap | None] = {}
        self.station_fields: dict[int, TravelField | None] = {}

    def snap(self, lat: float, lon: float) -> Snap | None:
        """Snap a unit position (cached); None if it is off the roads."""
        key = (round(lat, 6), round(lon, 6))
        if key not in self._snaps:
            try:
                self._snaps[key] = self.graph.snap(lat, lon)
            except PointOffRoad:
                self._snaps[key] = None
        return self._snaps[key]

    def evaluate(self, target: CoverTarget,
                 units: Sequence[StationUnit]) -> TargetCoverage:
        """Cover of one target by the available units, each filling at most one slot."""
        fld = self._fields.get(target.target_id)
        if fld is None:
            why = self._off_road.get(target.target_id) or Reason(COVER_TEXT).add(
                "cover.unreachable")
            return TargetCoverage(target.target_id, target.name, "red",
                                  tuple(RequirementCover(f.capability, f.count, f.deadline_s, 0,
                                                         None, None) for f in target.forces),
                                  target.forces[0].capability if target.forces else None,
                                  why.text, why.parts)
        slots = [(i, f) for i, f in enumerate(target.forces) for _ in range(max(0, f.count))]
        free = [u for u in units if u.available and (
            u.county_id is None or target.county_id is None or u.county_id == target.county_id)]
        # ratio = ETA / deadline so requirements with different deadlines compare fairly
        ratio = np.full((len(slots), len(free)), np.inf)
        eta = np.full((len(slots), len(free)), np.inf)
        for j, u in enumerate(free):
            s = self.snap(u.lat, u.lon)
            t = fld.time_from(s) if s is not None else None
            if t is None:
                continue
            for r, (_, f) in enumerate(slots):
                if f.capability not in u.capabilities:
                    continue
                e = t + turnout_for(u.kind, f.capability, self.turnout_s)
                if f.deadline_s is None:
                    ratio[r, j], eta[r, j] = 0.0, e
                elif e <= f.deadline_s:
                    ratio[r, j], eta[r, j] = e / f.deadline_s, e
        pairs = solve_assignment(ratio) if slots and free else []
        per: dict[int, list[tuple[float, float, int]]] = {}
        for r, j in pairs:
            per.setdefault(slots[r][0], []).append((eta[r, j], ratio[r, j], free[j].unit_id))
        reqs = []
        worst: tuple[float, str] | None = None
        missing_cap: str | None = None
        for i, f in enumerate(target.forces):
            got = per.get(i, [])
            worst_eta = max((e for e, _, _ in got), default=None)
            margin = None
            if f.deadline_s and got:
                margin = 1.0 - max(r for _, r, _ in got)
            reqs.append(RequirementCover(f.capability, f.count, f.deadline_s, len(got), worst_eta,
                                         margin, tuple(u for _, _, u in got)))
            if len(got) < f.count and missing_cap is None:
                missing_cap = f.capability
            if margin is not None and (worst is None or margin < worst[0]):
                worst = (margin, f.capability)
        if missing_cap is not None:
            status, bottleneck = "red", missing_cap
        elif worst is not None and worst[0] < AMBER_MARGIN:
            status, bottleneck = "amber", worst[1]
        else:
            status, bottleneck = "green", worst[1] if worst else None
        return TargetCoverage(target.target_id, target.name, status, tuple(reqs), bottleneck)

    def evaluate_all(self, units: Sequence[StationUnit]) -> list[TargetCoverage]:
        """Cover of every target."""
        return [self.evaluate(t, units) for t in self.targets]


def coverage(graph: RoadGraph, stations: Sequence[Station], units: Sequence[StationUnit],
             targets: Sequence[CoverTarget], turnout_s: Mapping[str, float] | None = None,
             blocked: Iterable[EdgeId] | None = None, with_outages: bool = True,
             model: CoverageModel | None = None) -> CoverageReport:
    """Cover of each target now and, per in-service station, if that station were out."""
    model = model or CoverageModel(graph, targets, turnout_s, blocked)
    out_of_service = {s.station_id for s in stations if not s.in_service}
    active = [u for u in units if u.station_id not in out_of_service]
    now = model.evaluate_all(active)
    station_out: dict[int, tuple[TargetCoverage, ...]] = {}
    if with_outages:
        for s in stations:
            if s.station_id in out_of_service:
                continue
            without = [u for u in active if u.station_id != s.station_id]
            worse = tuple(c for c, before in zip(model.evaluate_all(without), now, strict=True)
                          if _RANK[c.status] > _RANK[before.status])
            station_out[s.station_id] = worse
    return CoverageReport(tuple(now), station_out)


def recommend_move_ups(graph: RoadGraph, stations: Sequence[Station],
                       units: Sequence[StationUnit], targets: Sequence[CoverTarget],
                       turnout_s: Mapping[str, float] | None = None,
                       blocked: Iterable[EdgeId] | None = None, max_moves: int = 3,
                       model: CoverageModel | None = None) -> list[MoveUp]:
    """Relocations of available units to empty stations that restore the most red targets."""
    # Greedy: choosing stations to maximise cover is a maximum-coverage problem (NP-hard), and
    # a duty officer acts on one or two moves at a time anyway. Each round takes the (unit,
    # empty station) pair with the largest net gain in covered targets, ties broken by the
    # shorter relocation drive, so cover returns soonest and the unit is least long in transit.
    model = model or CoverageModel(graph, targets, turnout_s, blocked)
    blocked = frozenset(blocked or ())
    in_service = {s.station_id: s for s in stations if s.in_service}
    current = [u for u in units if u.station_id is None or u.station_id in in_service]
    moves: list[MoveUp] = []
    # drive times to each station depend only on the graph and closures: keep them with the
    # model, which callers cache for as long as those stay the same
    travel_fields: dict[int, TravelField | None] = model.station_fields
    for _ in range(max_moves):
        status = model.evaluate_all(current)
        covered = {c.target_id for c in status if c.status != "red"}
        if len(covered) == len(model.targets):
            break
        occupied = {_at_station(u, in_service) for u in current if u.available}
        empty = [s for s in in_service.values() if s.station_id not in occupied]
        best: tuple[tuple[int, float], MoveUp, list[StationUnit]] | None = None
        for st in empty:
            if st.station_id not in travel_fields:
                try:
                    snap = graph.snap(st.lat, st.lon, avoid=blocked)
                    travel_fields[st.station_id] = graph.travel_times_to(snap, blocked=blocked)
                except PointOffRoad:
                    travel_fields[st.station_id] = None
            fld = travel_fields[st.station_id]
            if fld is None:
                continue
            for k, u in enumerate(current):
                if (not u.available or not u.movable or u.unit_id in {m.unit_id for m in moves}
                        or not can_house(st, u.kind)):
                    continue
                origin = model.snap(u.lat, u.lon)
                drive = fld.time_from(origin) if origin is not None else None
                if drive is None:
                    continue
                moved = replace(u, lat=st.lat, lon=st.lon, station_id=st.station_id)
                trial = current[:k] + [moved] + current[k + 1:]
                after = {c.target_id for c in model.evaluate_all(trial) if c.status != "red"}
                gain = len(after) - len(covered)
                if gain <= 0:
                    continue
                score = (gain, -drive)
                if best is None or score > best[0]:
                    best = (score, MoveUp(u.unit_id, _at_station(u, in_service), st.station_id,
                                          drive, tuple(sorted(after - covered)),
                                          tuple(sorted(covered - after))), trial)
        if best is None:
            break
        moves.append(best[1])
        current = best[2]
    return moves


def _at_station(u: StationUnit, stations: Mapping[int, Station]) -> int | None:
    """The station a unit stands at: its home station when it is within 150 m of it."""
    if u.station_id is None or u.station_id not in stations:
        return None
    st = stations[u.station_id]
    near = abs(st.lat - u.lat) < 0.00135 and abs(st.lon - u.lon) < 0.00135 / max(
        0.2, np.cos(np.radians(st.lat)))
    return u.station_id if near else None


def isochrones(graph: RoadGraph, lat: float, lon: float,
               minutes: Sequence[float] = ISOCHRONE_MINUTES,
               blocked: Iterable[EdgeId] | None = None,
               properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Drive-time areas from a point as GeoJSON polygons (concave hulls of reached junctions)."""
    origin = graph.snap(lat, lon)
    times = graph.travel_times_from(origin, cutoff_s=max(minutes) * 60.0, blocked=blocked)
    ids = list(times)
    lonlat = np.array([graph.node_lonlat(n) for n in ids]) if ids else np.zeros((0, 2))
    t = np.array([times[n] for n in ids])
    feats = []
    for m in sorted(minutes, reverse=True):
        pts = lonlat[t <= m * 60.0]
        if len(pts) == 0:
            continue
        local = graph.project_geometry(MultiPoint(pts))
        hull = shapely.concave_hull(local, ratio=0.15) if len(pts) >= 3 else local
        # a little padding: roads a few tens of metres past the last junction are reached too
        area = hull.buffer(60.0).simplify(10.0)
        geom = _round(mapping(graph.unproject_geometry(area)))
        feats.append({"type": "Feature",
                      "properties": {"minutes": m, **(properties or {})},
                      "geometry": geom})
    return {"type": "FeatureCollection", "features": feats}


def station_isochrones(graph: RoadGraph, stations: Sequence[Station],
                       minutes: Sequence[float] = ISOCHRONE_MINUTES,
                       blocked: Iterable[EdgeId] | None = None) -> dict[str, Any]:
    """Isochrones of every in-service station in one FeatureCollection."""
    feats: list[dict[str, Any]] = []
    for s in stations:
        if not s.in_service:
            continue
        try:
            fc = isochrones(graph, s.lat, s.lon, minutes, blocked,
                            {"station_id": s.station_id, "name": s.name})
        except PointOffRoad:
            continue
        feats.extend(fc["features"])
    return {"type": "FeatureCollection", "features": feats}


def _round(obj: Any, nd: int = 5) -> Any:
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v, nd) for v in obj]
    if isinstance(obj, float):
        return round(obj, nd)
    return obj
