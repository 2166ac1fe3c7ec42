"""Report-to-task-board latency on the demo map, against a real hub process.

Starts `wsgi.py` (eventlet, SQLite in a temp folder), connects every unit's tablet and an
officer over Socket.IO, reports N incidents one after another over HTTP and measures, per
report, the time from sending the HTTP request until each assigned unit's client has its
board. Each incident is closed after its boards arrive so the units are free again.

    python bench/dispatch_latency.py [--reports 200] [--async-mode eventlet]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.liveserver import live_hub  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=200)
    ap.add_argument("--async-mode", default="eventlet")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, live_hub(
            Path(tmp), {"ASYNC_MODE": args.async_mode}) as hub:
        duty = hub.login("duty")
        h = duty["headers"]
        units = requests.get(hub.url + "/api/v1/units", headers=h, timeout=10).json()
        enterprises = requests.get(hub.url + "/api/v1/enterprises", headers=h, timeout=10).json()
        arrivals: dict[tuple[int, int], float] = {}
        cond = threading.Condition()
        clients = []
        for u in units:
            c = socketio.Client(reconnection=False)

            def on_event(data: dict[str, Any], uid: int = u["id"]) -> None:
                if data["type"] == "task_board":
                    with cond:
                        arrivals[(data["incident_id"], uid)] = time.perf_counter()
                        cond.notify_all()

            c.on("event", on_event, namespace="/hub")
            c.connect(hub.url, namespaces=["/hub"], transports=["websocket"],
                      auth={"token": hub.login(u["callsign"])["token"]})
            clients.append(c)
        session = requests.Session()
        session.headers.update(h)
        per_board: list[float] = []
        per_report: list[float] = []
        http_only: list[float] = []
        kinds = ["fire", "leak", "explosion", "fire", "poisoning"]
        for i in range(args.reports):
            e = enterprises[i % len(enterprises)]
            t0 = time.perf_counter()
            r = session.post(hub.url + "/api/v1/incidents", timeout=30,
                             json={"kind": kinds[i % len(kinds)], "enterprise_id": e["id"],
                                   "confirm_new": True})
            http_only.append(time.perf_counter() - t0)
            r.raise_for_status()
            inc = r.json()
            want = {(inc["id"], a["unit_id"]) for a in inc["assignments"]}
            with cond:
                ok = cond.wait_for(lambda want=want: want <= arrivals.keys(), timeout=10)
            if not ok:
                print(f"report {i}: boards missing for {want - arrivals.keys()}")
                continue
            times = [arrivals[k] - t0 for k in want]
            per_board += times
            per_report.append(max(times))
            session.post(hub.url + f"/api/v1/incidents/{inc['id']}/close", timeout=30)
        for c in clients:
            c.disconnect()
    ms = 1000.0
    print(f"reports: {len(per_report)}/{args.reports}, boards: {len(per_board)}, "
          f"async mode: {args.async_mode}, database: SQLite")
    for name, vals in (("HTTP response", http_only), ("report -> each board", per_board),
                       ("report -> last board of the report", per_report)):
        print(f"{name:36s} median {statistics.median(vals) * ms:7.1f} ms   "
              f"p95 {pct(vals, 0.95) * ms:7.1f} ms   max {max(vals) * ms:7.1f} ms")


if __name__ == "__main__":
    main()
