"""A whole blind drill against a real hub process, answered by simulated crews.

Starts `wsgi.py` on a temporary SQLite database with the drill scheduler on, schedules a drill
whose window opens now, lets `command.simulator` drive every unit (ack, turn out, drive the
route at road speed, arrive, work the tasks), has the duty officer tick off one contact, ends
the drill when every unit is on scene and every assigned task is done, and prints the
after-action report's measured figures (the report JSON, without per-event detail) and the
wall time of each phase. Repeat with --runs N for median and p95 of the phases.

    python bench/drill_simulated.py [--speed 120] [--seed 11] [--runs 1] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from command.simulator import Simulator  # noqa: E402
from tests.liveserver import live_hub  # noqa: E402


def _poll(fn: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise TimeoutError("gave up waiting")


def one_drill(speed: float, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    phases: dict[str, float] = {}
    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, live_hub(
            Path(tmp), env={"DRILL_SCHEDULER": "1", "DRILL_SEED": str(seed)}) as hub:
        phases["hub_start_s"] = time.monotonic() - t
        trainer, duty = hub.login("trainer"), hub.login("duty")
        h = trainer["headers"]
        units = requests.get(hub.url + "/api/v1/units", headers=duty["headers"],
                             timeout=10).json()
        sim = Simulator(hub.url, [u["callsign"] for u in units], speed=speed,
                        ack_delay=(2.0, 20.0), sloppiness=0.2,
                        rng=random.Random(seed)).start()
        try:
            t = time.monotonic()
            now = dt.datetime.now(dt.UTC)
            drill = requests.post(hub.url + "/api/v1/drills", headers=h, timeout=10, json={
                "window": {"start": now.isoformat(),
                           "end": (now + dt.timedelta(seconds=2)).isoformat()},
                "variations": {"severity": [1, 3], "casualties": [0, 3]}}).json()
            base = f"{hub.url}/api/v1/drills/{drill['id']}"
            drill = _poll(lambda: (d := requests.get(base, headers=h, timeout=10).json())
                          ["incident_id"] and d, 30)
            phases["spring_s"] = time.monotonic() - t
            incident_id = drill["incident_id"]
            inc = requests.get(f"{hub.url}/api/v1/incidents/{incident_id}",
                               headers=duty["headers"], timeout=10).json()
            if inc["notifications"]:
                requests.post(f"{hub.url}/api/v1/incidents/{incident_id}/notifications/"
                              f"{inc['notifications'][0]['id']}", headers=duty["headers"],
                              json={"notified": True}, timeout=10).raise_for_status()
            t = time.monotonic()

            def finished() -> bool:
                rep = requests.get(base + "/report", headers=h, timeout=10).json()["report"]
                live = [u for u in rep["units"] if u["status"] != "released"]
                return bool(live) and all(u["on_scene_s"] is not None for u in live) and all(
                    t["done_s"] is not None for t in rep["tasks"] if t["unit_id"] is not None)

            _poll(finished, 180)
            phases["response_s"] = time.monotonic() - t
            requests.post(base + "/end", headers=h, timeout=10).raise_for_status()
        finally:
            sim.stop()
        full = requests.get(base + "/report", headers=h, timeout=10).json()
    return full, phases


def summary(full: dict[str, Any]) -> dict[str, Any]:
    rep = full["report"]
    keep = ("callsign", "capability", "deadline_s", "ack_s", "turnout_s", "travel_s",
            "response_s", "status", "late_by_s")
    return {
        "drill": {k: full["drill"][k] for k in ("id", "status", "incident_id", "sprung")},
        "scenario_name": rep["scenario_name"],
        "report_to_dispatch_s": rep["report_to_dispatch_s"],
        "units": [{k: u[k] for k in keep} for u in rep["units"]],
        "unfilled": rep["unfilled"],
        "tasks": [{k: t[k] for k in ("title", "callsign", "deadline_s", "done_s", "status",
                                     "late_by_s")} for t in rep["tasks"]],
        "notifications": rep["notifications"],
        "score": {"value": rep["score"]["value"],
                  "components": rep["score"]["components"]},
        "late": rep["late"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the whole report JSON")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {}
    for i in range(args.runs):
        full, phases = one_drill(args.speed, args.seed + i)
        print(json.dumps(full if args.json else summary(full), ensure_ascii=False, indent=1))
        for k, v in phases.items():
            timings.setdefault(k, []).append(v)
    for k, vs in timings.items():
        vs.sort()
        p95 = vs[min(len(vs) - 1, int(0.95 * len(vs)))]
        print(f"{k}: median {statistics.median(vs):.2f} s, p95 {p95:.2f} s (n={len(vs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
