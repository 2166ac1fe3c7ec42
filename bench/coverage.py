"""Wall time of a full coverage run over every demo plan (what GET /api/v1/coverage computes).

Loads the demo (stations, units, enterprises and plans imported from plans/data/demo) into a
temporary SQLite database, then times `plans.coverage.plan_coverage` from scratch N times: the
database reads, one reverse search per approved scenario, the assignment per scenario, and the
re-evaluation with each station out of service. Also times the station isochrones (4, 8,
12 minutes) the cover page draws. Prints median and p95.

    python bench/coverage.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dispatch.coverage import Station as CoverStation  # noqa: E402
from dispatch.coverage import station_isochrones  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from sqlalchemy import select

    from command.models import Station
    from plans.coverage import plan_coverage
    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "ASYNC_MODE": "threading",
                          "LOAD_DEMO": True, "DRILL_SCHEDULER": False})
        hub = app.extensions["redline"]
        turnout = dict(hub.service.settings.turnout_s)
        times: list[float] = []
        result = {}
        for _ in range(args.runs):
            with hub.service.reading() as s:
                t0 = time.perf_counter()
                result = plan_coverage(s, hub.graph, turnout_s=turnout)
                times.append(time.perf_counter() - t0)
        with hub.service.reading() as s:
            stations = [CoverStation(r.id, r.name, r.lat, r.lon, r.in_service, r.kind)
                        for r in s.scalars(select(Station).order_by(Station.id))]
        iso: list[float] = []
        for _ in range(max(3, args.runs // 5)):
            t0 = time.perf_counter()
            station_isochrones(hub.graph, stations, (4, 8, 12))
            iso.append(time.perf_counter() - t0)
        hub.engine.dispose()

    planned = [e for e in result["enterprises"] if e["status"] is not None]
    print(f"map: {hub.graph.node_count} junctions, {hub.graph.edge_count} edges; "
          f"{len(stations)} stations; {len(planned)} enterprises with an approved plan, "
          f"{result['scenarios']} scenarios")
    print("status per enterprise: " + ", ".join(f"{e['name']} {e['status']}" for e in planned))
    print(f"full coverage run (with every single-station outage), {args.runs} runs: "
          f"median {statistics.median(times) * 1000:.1f} ms, p95 {pct(times, 0.95) * 1000:.1f} ms")
    print(f"station isochrones 4/8/12 min, {len(iso)} runs: "
          f"median {statistics.median(iso) * 1000:.1f} ms, p95 {pct(iso, 0.95) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
