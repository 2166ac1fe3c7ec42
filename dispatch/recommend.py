"""Which units to send: an optimal slot-by-unit assignment on road travel times."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.graph import EdgeId, PointOffRoad, RoadGraph, Route, Snap, TravelField

# NFPA 1710 turnout times: 60 s for EMS calls, 80 s for fire and special operations
DEFAULT_TURNOUT_S: dict[str, float] = {"ems": 60.0, "medical": 60.0, "fire": 80.0,
                                       "hazmat": 80.0, "rescue": 80.0, "command": 80.0}
FALLBACK_TURNOUT_S = 80.0
# when the deadline-bounded search leaves slots unfilled: grow the bound this much per search,
# at most this many bounded searches in all, then one unbounded search
SEARCH_GROWTH = 4.0
MAX_BOUNDED_SEARCHES = 3


@dataclass(frozen=True)
class RequiredForce:
    """count units with a capability, wanted on scene within deadline_s (None = no deadline)."""

    capability: str
    count: int
    deadline_s: float | None


@dataclass(frozen=True)
class Candidate:
    """An available unit and where it is now."""

    unit_id: int
    kind: str
    capabilities: tuple[str, ...]
    lat: float
    lon: float


@dataclass(frozen=True)
class ProposedAssignment:
    """One unit sent to fill one requirement slot."""

    unit_id: int
    capability: str
    travel_s: float
    turnout_s: float
    eta_s: float
    distance_m: float
    deadline_s: float | None
    late: bool
    route: dict[str, Any]


@dataclass(frozen=True)
class Unmet:
    """Slots of a requirement that no available unit can fill."""

    capability: str
    missing: int
    deadline_s: float | None
    reason: str = ""


@dataclass(frozen=True)
class Recommendation:
    """The proposed assignments, what stays unfilled, and where units are routed to."""

    assignments: list[ProposedAssignment]
    unmet: list[Unmet]
    target: Snap
    searches: int = 1
    skipped: dict[int, str] = field(default_factory=dict)  # unit id -> why it was not considered


@dataclass(frozen=True)
class _Slot:
    capability: str
    deadline_s: float | None


def turnout_for(kind: str, capability: str, turnout_s: Mapping[str, float]) -> float:
    """Turnout seconds: by unit kind, else by the capability asked for, else 80 s."""
    if kind in turnout_s:
        return float(turnout_s[kind])
    if capability in turnout_s:
        return float(turnout_s[capability])
    return FALLBACK_TURNOUT_S


def _max_matching(feasible: np.ndarray) -> int:
    if feasible.size == 0:
        return 0
    rows, cols = linear_sum_assignment(~feasible, maximize=False)
    return int(feasible[rows, cols].sum())


def solve_assignment(eta: np.ndarray) -> list[tuple[int, int]]:
    """Slot→unit pairs of a slots × units ETA matrix (inf = cannot fill), lexicographically best."""
    # objective: most slots filled, then the least latest ETA, then the least total ETA
    feasible = np.isfinite(eta)
    if not feasible.any():
        return []
    k_max = _max_matching(feasible)
    # bottleneck: the smallest ETA threshold that still allows k_max filled slots
    levels = np.unique(eta[feasible])
    lo, hi = 0, len(levels) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _max_matching(eta <= levels[mid]) == k_max:
            hi = mid
        else:
            lo = mid + 1
    threshold = levels[lo]
    allowed = eta <= threshold
    # a forbidden pair costs more than any sum of allowed ETAs, so the minimum-cost assignment
    # first keeps k_max allowed pairs and then minimises their total
    big = float(eta[allowed].sum()) * 2.0 + 1e6
    cost = np.where(allowed, eta, big)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


def recommend_units(
    graph: RoadGraph,
    target_lat: float,
    target_lon: float,
    forces: Sequence[RequiredForce],
    candidates: Sequence[Candidate],
    turnout_s: Mapping[str, float] | None = None,
    blocked: Iterable[EdgeId] | None = None,
    exclude: Iterable[int] | None = None,
    max_snap_m: float = 1000.0,
    escape: Iterable[EdgeId] | None = None,
    hot: Iterable[EdgeId] | None = None,
) -> Recommendation:
    """Propose units for the required forces; PointOffRoad if the target is off the roads.

    escape: blocked edges (the hazard zone's roads) that a unit standing among them may use
    to drive out; closures are never in it.
    hot: the isolation circle's roads, within escape: a unit outside the circle never drives
    out through it (only a unit already inside the circle leaves by them).
    """
    turnouts = DEFAULT_TURNOUT_S if turnout_s is None else turnout_s
    blocked = frozenset(blocked or ())
    escape_idx = graph.blocked_index(escape)
    hot_idx = graph.blocked_index(hot) & escape_idx
    excluded = set(exclude or ())
    try:
        target = graph.snap(target_lat, target_lon, max_distance_m=max_snap_m, avoid=blocked)
    except PointOffRoad:
        if not blocked:
            raise
        # every nearby road is closed: keep the real spot, the search then reports it unreachable
        target = graph.snap(target_lat, target_lon, max_distance_m=max_snap_m)
    slots = [_Slot(f.capability, None if f.deadline_s is None else float(f.deadline_s))
             for f in forces for _ in range(max(0, int(f.count)))]
    needed = {s.capability for s in slots}
    skipped: dict[int, str] = {}
    pool: list[Candidate] = []
    for c in candidates:
        if c.unit_id in excluded or not needed.intersection(c.capabilities):
            continue
        if not graph.contains(c.lat, c.lon):
            skipped[c.unit_id] = "off the map"
            continue
        pool.append(c)
    units: list[tuple[Candidate, Snap]] = []
    snaps = graph.snap_many([c.lat for c in pool], [c.lon for c in pool], max_snap_m)
    for c, snap in zip(pool, snaps, strict=True):
        if snap is None:
            skipped[c.unit_id] = f"more than {max_snap_m:.0f} m from the nearest road"
        else:
            units.append((c, snap))
    if not slots:
        return Recommendation([], [], target, 0, skipped)

    deadlines = [s.deadline_s for s in slots]
    cutoff = None if None in deadlines else max(d for d in deadlines if d is not None)
    field_ = graph.travel_times_to(target, cutoff_s=cutoff, blocked=blocked)
    searches = 1
    escapes = _escapes(units, field_, escape_idx, hot_idx)
    pairs, eta = _solve(slots, units, field_, turnouts, escapes)
    if cutoff is not None:
        min_turnout = min((turnout_for(c.kind, s.capability, turnouts)
                           for c, _ in units for s in slots), default=0.0)
        bound: float | None = cutoff
        while bound is not None:
            bottleneck = max((eta[r, c] for r, c in pairs), default=math.inf)
            # every unit beyond the bound needs more than bound + its turnout; if the
            # bottleneck is below that, no such unit could fill a slot better: done
            if len(pairs) == len(slots) and bottleneck <= bound + min_turnout:
                break
            if field_.reached_count() == graph.node_count:
                break  # the bounded search already reached every junction
            # search farther: a few growing bounds (cost is what they reach), then unbounded
            bound = bound * SEARCH_GROWTH if searches < MAX_BOUNDED_SEARCHES else None
            field_ = graph.travel_times_to(target, cutoff_s=bound, blocked=blocked)
            searches += 1
            escapes = _escapes(units, field_, escape_idx, hot_idx)
            pairs, eta = _solve(slots, units, field_, turnouts, escapes)

    # within one capability, the earliest unit takes the tightest deadline (ETAs don't change)
    by_cap: dict[str, list[tuple[int, int]]] = {}
    for r, c in pairs:
        by_cap.setdefault(slots[r].capability, []).append((r, c))
    assignments: list[ProposedAssignment] = []
    filled: set[int] = set()
    for cap_pairs in by_cap.values():
        rows = sorted((r for r, _ in cap_pairs),
                      key=lambda r: (math.inf if slots[r].deadline_s is None
                                     else slots[r].deadline_s, r))
        cols = sorted((c for _, c in cap_pairs), key=lambda c: eta[cap_pairs[0][0], c])
        for r, c in zip(rows, cols, strict=True):
            cand, snap = units[c]
            slot = slots[r]
            route = escapes[c] if c in escapes else field_.route_from(snap)
            if route is None:  # pragma: no cover - a finite time always has a route
                continue
            t_out = turnout_for(cand.kind, slot.capability, turnouts)
            e = t_out + route.travel_s
            assignments.append(ProposedAssignment(
                unit_id=cand.unit_id, capability=slot.capability, travel_s=route.travel_s,
                turnout_s=t_out, eta_s=e, distance_m=route.distance_m, deadline_s=slot.deadline_s,
                late=slot.deadline_s is not None and e > slot.deadline_s, route=route.geojson(),
            ))
            filled.add(r)
    assignments.sort(key=lambda a: (a.eta_s, a.unit_id))
    missing: dict[tuple[str, float | None], int] = {}
    for r, s in enumerate(slots):
        if r not in filled:
            missing[(s.capability, s.deadline_s)] = missing.get((s.capability, s.deadline_s), 0) + 1
    reason = ""
    if missing and not assignments and field_.reached_count() == 0:
        reason = "no open road leads to the target"
    unmet = [Unmet(cap, n, d, reason) for (cap, d), n in missing.items()]
    return Recommendation(assignments, unmet, target, searches, skipped)


def _escapes(units: list[tuple[Candidate, Snap]], field_: TravelField,
             escape_idx: frozenset[int], hot_idx: frozenset[int] = frozenset()
             ) -> dict[int, Route]:
    """Routes out of the hazard zone for units inside it (the normal search cannot reach
    them, since it avoids the zone's roads). A unit outside the zone that the search did not
    reach (beyond its cut-off, or cut off by closures) gets none: its way in must go around."""
    if not escape_idx:
        return {}
    out: dict[int, Route] = {}
    cool = escape_idx - hot_idx
    for j, (_, snap) in enumerate(units):
        if snap.edge in escape_idx and field_.time_from(snap) is None:
            # in the protective zone: out by its roads, never across the isolation circle
            way_out = escape_idx if snap.edge in hot_idx else cool
            route = field_.escape_route_from(snap, way_out)
            if route is not None:
                out[j] = route
    return out


def _solve(
    slots: list[_Slot], units: list[tuple[Candidate, Snap]], field_: TravelField,
    turnouts: Mapping[str, float], escapes: Mapping[int, Route] | None = None,
) -> tuple[list[tuple[int, int]], np.ndarray]:
    escapes = escapes or {}
    travel = [escapes[j].travel_s if j in escapes else field_.time_from(snap)
              for j, (_, snap) in enumerate(units)]
    caps = sorted({s.capability for s in slots})
    # Keeping only the best len(slots) units per capability loses nothing: if an optimal plan
    # used a unit ranked lower for capability c, at most len(slots) - 1 of c's better units are
    # busy elsewhere, so a free better one can take its slot without raising any ETA.
    keep: set[int] = set()
    for cap in caps:
        ranked = sorted(
            (travel[i] + turnout_for(c.kind, cap, turnouts), i)
            for i, (c, _) in enumerate(units) if cap in c.capabilities and travel[i] is not None)
        keep.update(i for _, i in ranked[:len(slots)])
    cols = sorted(keep)
    eta = np.full((len(slots), len(units)), np.inf)
    for j in cols:
        c = units[j][0]
        t = travel[j]
        assert t is not None
        for r, s in enumerate(slots):
            if s.capability in c.capabilities:
                eta[r, j] = t + turnout_for(c.kind, s.capability, turnouts)
    sub = eta[:, cols]
    pairs = [(r, cols[c]) for r, c in solve_assignment(sub)]
    return pairs, eta
