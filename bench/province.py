"""Province-scale road graph, stage 1: the graph alone (no hub processes yet).

Builds a synthetic province by tiling the real Luxembourg DIMACS10 street graph (114,599
junctions per tile) on a grid and stitching neighbouring tiles with two-way roads between
their facing border junctions; writes it as a Redline map plus its search arrays; then, in
fresh processes, measures what a hub pays for it: start-up (RoadGraph.load), RSS, and the
bounded road search (`travel_times_to`, mid-edge targets) against raw scipy Dijkstra on the
same graph and cutoff (median, p95, ratio). Two processes load it at once to show the shared
memory-mapped search arrays (shared RSS).

Not yet here (issue 14's full bench): hub processes on PostgreSQL + Redis, 100 counties,
5,000 units, 200 enterprises and 2,000 clients.

    python bench/province.py [--tiles 27] [--reps 50] [--out DIR]

27 tiles are 3.09 M junctions; the graph build needs several GB of memory.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dispatch.graph import haversine_m  # noqa: E402
from dispatch.maps import MapArrays, dimacs_arrays, write_map  # noqa: E402

ROADS = Path("/work/shared/data/roads")
STITCHES = 40  # roads joining two neighbouring tiles


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def tiled(base: MapArrays, tiles: int) -> MapArrays:
    """`tiles` copies of a map on a grid, neighbours joined by STITCHES two-way roads."""
    cols = math.ceil(math.sqrt(tiles))
    lon0, lat0 = np.array(base.lon), np.array(base.lat)
    width = float(lon0.max() - lon0.min()) + 0.02
    height = float(lat0.max() - lat0.min()) + 0.02
    n = len(base.node_ids)
    u0, v0 = np.array(base.u), np.array(base.v)
    lon_parts, lat_parts, u_parts, v_parts, len_parts = [], [], [], [], []
    east = np.argsort(-lon0)[:STITCHES * 4]
    west = np.argsort(lon0)[:STITCHES * 4]
    north = np.argsort(-lat0)[:STITCHES * 4]
    south = np.argsort(lat0)[:STITCHES * 4]
    length0 = np.array(base.length)
    for t in range(tiles):
        r, c = divmod(t, cols)
        lon_parts.append(lon0 + c * width)
        lat_parts.append(lat0 - r * height)
        u_parts.append(u0 + t * n)
        v_parts.append(v0 + t * n)
        len_parts.append(length0)
    lon, lat = np.concatenate(lon_parts), np.concatenate(lat_parts)
    su: list[int] = []
    sv: list[int] = []
    for t in range(tiles):
        r, c = divmod(t, cols)
        for other, a_side, b_side in ((t + 1, east, west), (t + cols, south, north)):
            if other >= tiles or (other == t + 1 and c == cols - 1):
                continue
            a = sorted(a_side, key=lambda i: lat0[i] if a_side is east else lon0[i])
            b = sorted(b_side, key=lambda i: lat0[i] if b_side is west else lon0[i])
            for i, j in zip(a[::4][:STITCHES], b[::4][:STITCHES], strict=False):
                x, y = int(i) + t * n, int(j) + other * n
                su += [x, y]
                sv += [y, x]
    mps = 50 / 3.6
    s_len = [haversine_m(lat[a], lon[a], lat[b], lon[b]) for a, b in zip(su, sv, strict=True)]
    u = np.concatenate(u_parts + [np.array(su)]).tolist()
    v = np.concatenate(v_parts + [np.array(sv)]).tolist()
    length = np.concatenate(len_parts + [np.array(s_len)])
    m = len(u)
    return MapArrays(list(range(1, len(lon) + 1)), np.round(lon, 7).tolist(),
                     np.round(lat, 7).tolist(), u, v, [0] * m, np.round(length, 3).tolist(),
                     np.round(length / mps, 3).tolist(), ["road"] * m, [""] * m, [None] * m,
                     {"source": f"{tiles} tiles of luxembourg.osm (DIMACS10)",
                      "attribution": "© OpenStreetMap contributors"})


PROBE = r"""
import json, random, statistics, sys, time
import numpy as np, psutil
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
sys.path.insert(0, sys.argv[1])
from dispatch.graph import RoadGraph
t = time.perf_counter()
g = RoadGraph.load(sys.argv[2])
load_s = time.perf_counter() - t
mem = psutil.Process().memory_full_info()
out = {"load_s": load_s, "rss_mb": mem.rss / 2**20, "shared_mb": mem.shared / 2**20,
       "nodes": g.node_count, "edges": g.edge_count, "shares": g.shares_search_arrays}
reps = int(sys.argv[3])
if reps:
    rng = random.Random(1)
    edges = list(g.edge_ids())
    n = g.node_count
    index = {x: i for i, x in enumerate(g.node_ids())}
    rows = np.array([index[v] for _, v, _ in edges], dtype=np.int32)
    cols = np.array([index[u] for u, _, _ in edges], dtype=np.int32)
    data = np.array([g.edge_travel_time(e) for e in edges])
    raw = csr_matrix((data, (rows, cols)), shape=(n, n))
    for cutoff in (480.0, 900.0):
        ours, base = [], []
        for _ in range(reps):
            s = g.snap_on_edge(rng.choice(edges), rng.random())
            t = time.perf_counter(); g.travel_times_to(s, cutoff_s=cutoff)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            dijkstra(raw, directed=True, indices=index[s.v], limit=cutoff)
            base.append(time.perf_counter() - t)
        out[f"search_{cutoff:.0f}"] = [ours, base]
print(json.dumps(out))
"""


def probe(path: Path, reps: int) -> subprocess.Popen[str]:
    root = str(Path(__file__).resolve().parent.parent)
    return subprocess.Popen([sys.executable, "-c", PROBE, root, str(path), str(reps)],
                            stdout=subprocess.PIPE, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiles", type=int, default=27)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--out", help="directory for the map (default: a temporary one)")
    args = ap.parse_args()
    from dispatch.graph import RoadGraph

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.out or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"province{args.tiles}.json.gz"
        t = time.perf_counter()
        base = dimacs_arrays(ROADS / "luxembourg.osm.graph", ROADS / "luxembourg.osm.xyz")
        arrays = tiled(base, args.tiles)
        print(f"province: {args.tiles} tiles, {len(arrays.node_ids):,} junctions, "
              f"{len(arrays.u):,} directed edges; built in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        write_map(arrays, path)
        RoadGraph.from_arrays(arrays).save_search_arrays(path)
        del arrays
        print(f"written (map + search arrays) in {time.perf_counter() - t:.1f} s: "
              f"{path.stat().st_size / 1e6:.0f} MB map")
        first = json.loads(probe(path, args.reps).communicate()[0])
        print(f"hub start-up (RoadGraph.load): {first['load_s']:.1f} s; RSS "
              f"{first['rss_mb']:.0f} MB (of it shared {first['shared_mb']:.0f} MB); "
              f"search arrays memory-mapped: {first['shares']}")
        for key in ("search_480", "search_900"):
            ours, base_t = first[key]
            om, op = statistics.median(ours), pct(ours, 0.95)
            bm, bp = statistics.median(base_t), pct(base_t, 0.95)
            print(f"search, cutoff {key[7:]} s: ours median {om * 1e3:.1f} ms, p95 "
                  f"{op * 1e3:.1f} ms; raw scipy median {bm * 1e3:.1f} ms, p95 "
                  f"{bp * 1e3:.1f} ms; ratio {om / bm:.2f}x median, {op / bp:.2f}x p95")
        pair = [probe(path, 0), probe(path, 0)]
        both = [json.loads(p.communicate()[0]) for p in pair]
        print("two processes loading at once: " + "; ".join(
            f"start-up {b['load_s']:.1f} s, RSS {b['rss_mb']:.0f} MB "
            f"(shared {b['shared_mb']:.0f} MB)" for b in both))


if __name__ == "__main__":
    main()
