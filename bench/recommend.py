"""Recommendation latency on real road graphs, against a naive per-unit networkx Dijkstra.

For the bundled São Paulo map and the Luxembourg DIMACS10 graph (one default speed), with 20,
200 and 2,000 random units with random capabilities: median and p95 of `recommend_units`
(one search from the target bounded by the deadlines, wider ones only when slots stay
unfilled), and the cost of the naive approach, `networkx.single_source_dijkstra` from every
candidate unit's junction to the target's junction. The naive runs are timed on a capped
sample of units and scaled to the whole fleet, so the script stays within a few minutes.

Then the road search alone: `RoadGraph.travel_times_to` (a mid-edge target, bounded by the
deadline cutoff) against raw `scipy.sparse.csgraph.dijkstra` from the target's junction on the
same reverse graph with the same `limit`, side by side; it prints both medians and p95s and
their ratio.

    python bench/recommend.py [--reps 30] [--naive-sp 100] [--naive-lux 8] [--search-reps 200]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dispatch.graph import RoadGraph  # noqa: E402
from dispatch.maps import DEFAULT_MAP, load_dimacs  # noqa: E402
from dispatch.recommend import Candidate, RequiredForce, recommend_units  # noqa: E402

ROADS = Path("/work/shared/data/roads")
CAPS = ("fire", "medical", "hazmat", "rescue", "foam", "command")
KIND = {"fire": "fire", "rescue": "fire", "foam": "fire", "medical": "ems", "hazmat": "hazmat",
        "command": "command"}
FORCES = [RequiredForce("fire", 3, 480.0), RequiredForce("medical", 2, 600.0),
          RequiredForce("hazmat", 1, 900.0), RequiredForce("command", 1, 900.0)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20, peak
    except ImportError:
        return peak, peak


def random_points(g: RoadGraph, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """Points within 50 m of random junctions, so they fall on the mapped area."""
    ids = g.node_ids()
    out = []
    for _ in range(n):
        lon, lat = g.node_lonlat(rng.choice(ids))
        out.append((lat + rng.uniform(-4e-4, 4e-4), lon + rng.uniform(-4e-4, 4e-4)))
    return out


def fleet(g: RoadGraph, n: int, rng: random.Random) -> list[Candidate]:
    out = []
    for i, (lat, lon) in enumerate(random_points(g, n, rng)):
        caps = tuple(rng.sample(CAPS, rng.randint(1, 3)))
        out.append(Candidate(i, KIND[caps[0]], caps, lat, lon))
    return out


def bench_graph(name: str, g: RoadGraph, load_s: float, reps: int, naive_cap: int) -> None:
    cur, peak = rss_mb()
    print(f"\n== {name}: {g.node_count:,} nodes, {g.edge_count:,} edges; load {load_s:.2f} s; "
          f"RSS {cur:.0f} MB (peak {peak:.0f} MB)")
    t0 = time.perf_counter()
    G = g.G
    print(f"   networkx MultiDiGraph for the naive baseline built in "
          f"{time.perf_counter() - t0:.2f} s")
    rng = random.Random(42)
    needed = {f.capability for f in FORCES}
    print(f"   {'units':>6} {'median ms':>10} {'p95 ms':>8} {'wider search':>12} "
          f"{'naive/rec ms':>13} {'naive runs':>10} {'speed-up':>9}")
    for n in (20, 200, 2000):
        units = fleet(g, n, rng)
        targets = random_points(g, reps, rng)
        times, second = [], 0
        for lat, lon in targets:
            t = time.perf_counter()
            rec = recommend_units(g, lat, lon, FORCES, units)
            times.append(time.perf_counter() - t)
            second += rec.searches >= 2
        med = statistics.median(times)
        # naive: one node-to-node networkx Dijkstra per candidate that has a needed capability
        lat, lon = targets[0]
        tgt = g.snap(lat, lon).v
        cands = [u for u in units if needed.intersection(u.capabilities)]
        sample = cands[:naive_cap]
        srcs = [s.u if s is not None else None
                for s in g.snap_many([u.lat for u in sample], [u.lon for u in sample])]
        t = time.perf_counter()
        for src in srcs:
            if src is None:
                continue
            with contextlib.suppress(nx.NetworkXNoPath):
                nx.single_source_dijkstra(G, src, target=tgt, weight="travel_time")
        per_unit = (time.perf_counter() - t) / max(1, len(sample))
        naive = per_unit * len(cands)
        print(f"   {n:>6} {med * 1e3:>10.1f} {pct(times, 0.95) * 1e3:>8.1f} "
              f"{second:>9}/{reps:<2} {naive * 1e3:>13.0f} {len(sample):>10} "
              f"{naive / med:>8.0f}x")
    cur, peak = rss_mb()
    print(f"   RSS after runs {cur:.0f} MB (peak {peak:.0f} MB)")


def bench_search(name: str, g: RoadGraph, reps: int, cutoffs: tuple[float | None, ...]) -> None:
    """travel_times_to against raw scipy dijkstra on the same graph and cutoff."""
    ids = g.node_ids()
    index = {n: i for i, n in enumerate(ids)}
    rows, cols, data = [], [], []
    for u, v, k in g.edge_ids():
        rows.append(index[v])  # reverse graph: searching towards the target
        cols.append(index[u])
        data.append(g.edge_travel_time((u, v, k)))
    n = g.node_count
    raw = csr_matrix((np.array(data), (np.array(rows, dtype=np.int32),
                                       np.array(cols, dtype=np.int32))), shape=(n, n))
    rng = random.Random(9)
    targets = random_points(g, reps, rng)
    snaps = [g.snap(lat, lon) for lat, lon in targets]
    print(f"\n== road search on {name}: travel_times_to vs raw scipy dijkstra, {reps} targets")
    print(f"   {'cutoff s':>8} {'ours med ms':>11} {'ours p95':>9} {'scipy med':>9} "
          f"{'scipy p95':>9} {'ratio med':>9} {'ratio p95':>9}")
    for cutoff in cutoffs:
        ours, base = [], []
        limit = np.inf if cutoff is None else cutoff
        for s in snaps:
            t = time.perf_counter()
            g.travel_times_to(s, cutoff_s=cutoff)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            dijkstra(raw, directed=True, indices=index[s.v], limit=limit,
                     return_predecessors=True)
            base.append(time.perf_counter() - t)
        om, op = statistics.median(ours), pct(ours, 0.95)
        bm, bp = statistics.median(base), pct(base, 0.95)
        label = "none" if cutoff is None else f"{cutoff:.0f}"
        print(f"   {label:>8} {om * 1e3:>11.2f} {op * 1e3:>9.2f} {bm * 1e3:>9.2f} "
              f"{bp * 1e3:>9.2f} {om / bm:>8.2f}x {op / bp:>8.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30, help="recommendations per fleet size")
    ap.add_argument("--naive-sp", type=int, default=100, help="naive runs timed on São Paulo")
    ap.add_argument("--naive-lux", type=int, default=8, help="naive runs timed on Luxembourg")
    ap.add_argument("--search-reps", type=int, default=200, help="targets for the search bench")
    ap.add_argument("--search-only", action="store_true", help="only the road search bench")
    args = ap.parse_args()
    forces = ", ".join(f"{f.count}x {f.capability} <= {f.deadline_s:.0f} s" for f in FORCES)
    print(f"forces: {forces}")
    print("naive = networkx.single_source_dijkstra per candidate unit (scaled from a sample)")
    t = time.perf_counter()
    sp = RoadGraph.load(DEFAULT_MAP)
    sp_load = time.perf_counter() - t
    bench_search("São Paulo centro", sp, args.search_reps, (480.0, 900.0, None))
    if not args.search_only:
        bench_graph("São Paulo centro (bundled map)", sp, sp_load, args.reps, args.naive_sp)
    graph, xyz = ROADS / "luxembourg.osm.graph", ROADS / "luxembourg.osm.xyz"
    if not graph.exists():
        print(f"\n(skipping Luxembourg: {graph} not found)")
        return
    t = time.perf_counter()
    lux = load_dimacs(graph, xyz, speed_kmh=50.0)
    lux_load = time.perf_counter() - t
    bench_search("Luxembourg DIMACS10", lux, args.search_reps, (480.0, 900.0, None))
    if args.search_only:
        return
    bench_graph("Luxembourg DIMACS10 (50 km/h everywhere)", lux, lux_load,
                args.reps, args.naive_lux)


if __name__ == "__main__":
    main()
