"""Unit recommendation: optimal assignment, unmet requirements, late fills, closures."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import numpy as np
import pytest
from shapely.geometry import Point, mapping

from dispatch.closures import edges_for_closure
from dispatch.graph import PointOffRoad, RoadGraph
from dispatch.recommend import (
    Candidate,
    RequiredForce,
    Unmet,
    recommend_units,
    solve_assignment,
    turnout_for,
)

ZERO = {"fire": 0.0, "ems": 0.0, "hazmat": 0.0}
NODES = {0: (10.0, 50.0), 1: (10.001, 50.0), 2: (10.0, 50.001), 3: (9.99, 50.0)}
EDGES = [(0, 1, 20.0), (0, 2, 40.0), (0, 3, 900.0)]
A = Candidate(1, "fire", ("fire", "medical"), 50.0, 10.001)
B = Candidate(2, "ems", ("medical",), 50.001, 10.0)
C = Candidate(3, "fire", ("fire",), 50.0, 9.99)


def test_assignment_beats_greedy(tiny_graph: Callable[..., RoadGraph]) -> None:
    g = tiny_graph(NODES, EDGES)
    forces = [RequiredForce("medical", 1, 300.0), RequiredForce("fire", 1, 300.0)]
    rec = recommend_units(g, 50.0, 10.0, forces, [A, B, C], turnout_s=ZERO)
    got = {a.capability: a.unit_id for a in rec.assignments}
    assert got == {"fire": 1, "medical": 2}
    assert max(a.eta_s for a in rec.assignments) == pytest.approx(40.0)
    assert not rec.unmet and not any(a.late for a in rec.assignments)
    # greedy (each requirement in turn takes its nearest free unit) ends up 900 s for fire
    free, greedy = {1: 20.0, 2: 40.0, 3: 900.0}, []
    for cap in ("medical", "fire"):
        unit = min((u for u in free if cap in {1: A, 2: B, 3: C}[u].capabilities),
                   key=free.__getitem__)
        greedy.append(free.pop(unit))
    assert max(greedy) == 900.0 > max(a.eta_s for a in rec.assignments)


def test_multi_capability_unit_fills_one_slot(tiny_graph: Callable[..., RoadGraph]) -> None:
    g = tiny_graph(NODES, EDGES)
    forces = [RequiredForce("fire", 1, 300.0), RequiredForce("medical", 1, 300.0)]
    rec = recommend_units(g, 50.0, 10.0, forces, [A], turnout_s=ZERO)
    assert len(rec.assignments) == 1 and rec.assignments[0].unit_id == 1
    missing = {"fire", "medical"} - {rec.assignments[0].capability}
    assert [u.capability for u in rec.unmet] == list(missing)


def test_unmet_capability_is_reported(tiny_graph: Callable[..., RoadGraph]) -> None:
    g = tiny_graph(NODES, EDGES)
    forces = [RequiredForce("hazmat", 2, 600.0), RequiredForce("fire", 1, 600.0)]
    rec = recommend_units(g, 50.0, 10.0, forces, [A, B, C], turnout_s=ZERO)
    assert rec.unmet == [Unmet("hazmat", 2, 600.0)]
    assert [a.unit_id for a in rec.assignments] == [1]


def test_late_units_fill_after_wider_searches(tiny_graph: Callable[..., RoadGraph]) -> None:
    g = tiny_graph(NODES, EDGES)
    rec = recommend_units(g, 50.0, 10.0, [RequiredForce("fire", 2, 10.0)], [A, B, C],
                          turnout_s=ZERO)
    # 10 s, then 40 s and 160 s bounds, then unbounded: unit 3 is farther than 160 s
    assert rec.searches == 4
    assert sorted(a.unit_id for a in rec.assignments) == [1, 3]
    assert all(a.late for a in rec.assignments)


def test_turnout_and_skipped_candidates(tiny_graph: Callable[..., RoadGraph]) -> None:
    g = tiny_graph(NODES, EDGES)
    far = Candidate(9, "fire", ("fire",), 0.0, 0.0)
    rec = recommend_units(g, 50.0, 10.0, [RequiredForce("fire", 1, 300.0)], [far, A])
    a = rec.assignments[0]
    assert a.unit_id == 1 and a.turnout_s == 80.0 and a.eta_s == pytest.approx(100.0)
    assert rec.skipped == {9: "off the map"}
    assert turnout_for("ems", "medical", {"ems": 60.0}) == 60.0
    assert a.route["type"] == "LineString" and a.route["coordinates"][-1] == [10.0, 50.0]


def _brute(eta: np.ndarray) -> tuple[int, float, float]:
    s, u = eta.shape
    best = (0, math.inf, math.inf)
    key = (0, 0.0, 0.0)
    for perm in itertools.permutations(range(u), min(s, u)):
        for rows in itertools.combinations(range(s), min(s, u)):
            vals = [eta[r, c] for r, c in zip(rows, perm, strict=True) if np.isfinite(eta[r, c])]
            key = (-len(vals), max(vals, default=0.0), sum(vals))
            if (key[0], key[1], key[2]) < (-best[0], best[1], best[2]):
                best = (len(vals), key[1], key[2])
    return best


def test_solver_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(60):
        s, u = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        eta = rng.integers(1, 30, size=(s, u)).astype(float)
        eta[rng.random((s, u)) < 0.35] = np.inf
        pairs = solve_assignment(eta)
        vals = [eta[r, c] for r, c in pairs]
        assert len({c for _, c in pairs}) == len(pairs)
        n, bottleneck, total = _brute(eta)
        assert len(vals) == n
        if n:
            assert max(vals) == bottleneck and sum(vals) == pytest.approx(total)


def _random_units(g: RoadGraph, n: int, seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = g.bbox
    caps = ["fire", "medical", "hazmat", "rescue", "foam"]
    out = []
    for i in range(n):
        c = tuple(rng.sample(caps, rng.randint(1, 3)))
        kind = {"medical": "ems", "hazmat": "hazmat"}.get(c[0], "fire")
        out.append(Candidate(i, kind, c, rng.uniform(min_lat, max_lat),
                             rng.uniform(min_lon, max_lon)))
    return out


def test_real_map_matches_unpruned_optimum(sp_graph: RoadGraph) -> None:
    """Pruning and the bounded first search give the same optimum as brute force on all units."""
    g = sp_graph
    units = _random_units(g, 120, 11)
    forces = [RequiredForce("fire", 3, 300.0), RequiredForce("medical", 2, 420.0),
              RequiredForce("hazmat", 1, 600.0)]
    for lat, lon in [(-23.545, -46.635), (-23.53, -46.62), (-23.565, -46.655)]:
        rec = recommend_units(g, lat, lon, forces, units)
        field = g.travel_times_to(rec.target)
        slots = [f.capability for f in forces for _ in range(f.count)]
        eta = np.full((len(slots), len(units)), np.inf)
        for j, c in enumerate(units):
            try:
                t = field.time_from(g.snap(c.lat, c.lon))
            except PointOffRoad:  # recommend_units skips such units too
                continue
            for r, cap in enumerate(slots):
                if t is not None and cap in c.capabilities:
                    eta[r, j] = t + turnout_for(c.kind, cap, {"ems": 60.0, "fire": 80.0,
                                                              "hazmat": 80.0})
        best = [eta[r, c] for r, c in solve_assignment(eta)]
        got = [a.eta_s for a in rec.assignments]
        assert len(got) == len(best) == len(slots)
        assert max(got) == pytest.approx(max(best))
        assert sum(got) == pytest.approx(sum(best))
        assert len({a.unit_id for a in rec.assignments}) == len(got)
        for a in rec.assignments:
            assert a.eta_s == pytest.approx(a.turnout_s + a.travel_s)
            assert a.route["coordinates"][-1] == pytest.approx([rec.target.lon, rec.target.lat])


def test_closure_blocks_route(sp_graph: RoadGraph) -> None:
    g = sp_graph
    units = [Candidate(1, "fire", ("fire",), -23.53, -46.62)]
    target = (-23.565, -46.655)
    before = recommend_units(g, *target, [RequiredForce("fire", 1, None)], units)
    coords = before.assignments[0].route["coordinates"]
    mid = coords[len(coords) // 2]
    polygon = Point(mid).buffer(0.0004)  # about 40 m across the route
    blocked = edges_for_closure(g, mapping(polygon))
    assert blocked
    after = recommend_units(g, *target, [RequiredForce("fire", 1, None)], units,
                            blocked=blocked)
    a = after.assignments[0]
    assert a.travel_s > before.assignments[0].travel_s
    assert not any(polygon.contains(Point(c)) for c in a.route["coordinates"])


def test_closure_line_follows_its_road_only(sp_graph: RoadGraph) -> None:
    g = sp_graph
    edge = max(g.edge_ids(), key=lambda e: len(g.edge_coords(e)) * g.edge_travel_time(e))
    line = g.projected_line(edge)
    drawn = g.unproject_geometry(line.parallel_offset(3.0, "left"))
    blocked = edges_for_closure(g, mapping(drawn))
    assert edge in blocked
    u, v, _ = edge
    crossing = [e for e in g.edge_ids() if (e[0] in (u, v) or e[1] in (u, v))
                and {e[0], e[1]} != {u, v}]
    assert crossing and not any(e in blocked for e in crossing)


def test_target_cut_off_by_closures_is_unmet_not_error(sp_graph: RoadGraph) -> None:
    g = sp_graph
    lat, lon = -23.545, -46.635
    ring = Point(lon, lat).buffer(0.004)  # about 400 m around the target, every road closed
    blocked = edges_for_closure(g, mapping(ring))
    units = [Candidate(1, "fire", ("fire",), -23.53, -46.62)]
    rec = recommend_units(g, lat, lon, [RequiredForce("fire", 1, 600.0)], units,
                          blocked=blocked, max_snap_m=100.0)
    assert rec.assignments == []
    assert rec.unmet[0].missing == 1 and "no open road" in rec.unmet[0].reason
