"""Simulated unit crews: log in as unit tablets and answer task boards like a crew would.

`redline simulate` drives units against a running hub for drills, demos and load tests; the
drill end-to-end test uses `Simulator` as a library.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import socketio

log = logging.getLogger(__name__)

NAMESPACE = "/hub"
POSITION_EVERY_S = 1.0
EARTH_R_M = 6_371_000.0


def haversine_m(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance between two [lon, lat] points in metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_R_M * math.asin(min(1.0, math.sqrt(h)))


class Route:
    """A GeoJSON LineString walked by fraction of its length."""

    def __init__(self, coords: Sequence[Sequence[float]]) -> None:
        self.coords = [tuple(c[:2]) for c in coords] or [(0.0, 0.0)]
        self.cum = [0.0]
        for a, b in zip(self.coords, self.coords[1:], strict=False):
            self.cum.append(self.cum[-1] + haversine_m(a, b))
        self.length_m = self.cum[-1]

    def at(self, fraction: float) -> tuple[float, float]:
        """(lat, lon) at a fraction of the way along."""
        if self.length_m <= 0 or fraction <= 0:
            lon, lat = self.coords[0]
            return lat, lon
        if fraction >= 1:
            lon, lat = self.coords[-1]
            return lat, lon
        target = fraction * self.length_m
        for i in range(1, len(self.cum)):
            if self.cum[i] >= target:
                seg = self.cum[i] - self.cum[i - 1]
                f = (target - self.cum[i - 1]) / seg if seg > 0 else 1.0
                (lon0, lat0), (lon1, lat1) = self.coords[i - 1], self.coords[i]
                return lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0)
        lon, lat = self.coords[-1]
        return lat, lon


@dataclass
class Action:
    """One thing a simulated crew did, for tests and the console log."""

    callsign: str
    kind: str
    incident_id: int | None
    at: float
    detail: Any = None
    ok: bool = True


class Crew:
    """One unit's simulated crew on its own Socket.IO connection."""

    def __init__(self, sim: Simulator, callsign: str, token: str, unit_id: int,
                 rng: random.Random) -> None:
        self.sim, self.callsign, self.token, self.unit_id, self.rng = (
            sim, callsign, token, unit_id, rng)
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.5)
        self.status = "available"
        self.run: _Run | None = None
        self.lock = threading.Lock()
        self.client.on("event", self._on_event, namespace=NAMESPACE)

    def connect(self) -> None:
        self.client.connect(self.sim.url, namespaces=[NAMESPACE], auth={"token": self.token},
                            transports=["websocket"], wait_timeout=10)

    def emit(self, event: str, data: dict[str, Any], incident_id: int | None) -> bool:
        """Send a crew command and wait for the hub's answer."""
        try:
            answer = self.client.call(event, data, namespace=NAMESPACE, timeout=15)
        except Exception as exc:
            self.sim.note(Action(self.callsign, event, incident_id, time.monotonic(), str(exc),
                                 ok=False))
            return False
        ok = bool(answer and answer.get("ok"))
        if event != "position" or not ok:
            self.sim.note(Action(self.callsign, event, incident_id, time.monotonic(),
                                 data if ok else answer, ok=ok))
        return ok

    def board(self, board: Mapping[str, Any]) -> None:
        """A task board arrived (new assignment, or new route for the current one)."""
        a = board.get("assignment") or {}
        if a.get("status", "active") != "active" or board["incident"].get("status") == "closed":
            return
        with self.lock:
            if self.run is not None and self.run.assignment_id == a.get("id"):
                self.run.reroute(board)
                return
            if self.run is not None:
                self.run.cancel()
            self.run = _Run(self, board)
            self.run.start()

    def _on_event(self, ev: dict[str, Any]) -> None:
        data = ev.get("data") or {}
        if ev.get("type") == "task_board":
            self.board(data)
        elif ev.get("type") == "unit.status" and data.get("unit_id") == self.unit_id:
            self.status = data.get("status", self.status)
        elif ev.get("type") == "assignment.released" and data.get("unit_id") == self.unit_id:
            with self.lock:
                run = self.run
                if run is not None and run.assignment_id == data.get("assignment_id"):
                    run.cancel()
                    self.run = None
            threading.Thread(target=self._back_in_service, daemon=True).start()

    def _back_in_service(self) -> None:
        # the hub frees the unit itself; only speak up if it stayed busy and no new call came
        time.sleep(1.0)
        with self.lock:
            idle = self.run is None
        if idle and self.status not in ("available", "out_of_service") and not self.sim.stopped:
            self.emit("unit.status", {"status": "available"}, None)

    def stop(self) -> None:
        with self.lock:
            if self.run is not None:
                self.run.cancel()
        if self.client.connected:
            self.client.disconnect()


class _Run(threading.Thread):
    """Drives one assignment: ack, turn out, drive, arrive, work the tasks."""

    def __init__(self, crew: Crew, board: Mapping[str, Any]) -> None:
        super().__init__(daemon=True, name=f"sim-{crew.callsign}")
        self.crew = crew
        self.assignment_id = board["assignment"]["id"]
        self.incident_id = board["incident"]["id"]
        self.tasks = sorted(board.get("tasks") or [], key=lambda t: (t["order"], t["id"] or 0))
        self._set_route(board)
        self.cancelled = threading.Event()
        self.rerouted = threading.Event()
        self.t0 = time.monotonic()

    def _set_route(self, board: Mapping[str, Any]) -> None:
        a = board["assignment"]
        self.route = Route(((a.get("route") or {}).get("coordinates")) or [])
        self.travel_s = float(a.get("travel_s") or 0.0)

    def reroute(self, board: Mapping[str, Any]) -> None:
        self._set_route(board)
        self.rerouted.set()

    def cancel(self) -> None:
        self.cancelled.set()

    def wait(self, sim_s: float) -> bool:
        """Sleep simulated seconds; False if the run was cancelled."""
        return not self.cancelled.wait(max(0.0, sim_s) / self.crew.sim.speed)

    def sim_elapsed(self) -> float:
        return (time.monotonic() - self.t0) * self.crew.sim.speed

    def emit(self, event: str, data: dict[str, Any]) -> bool:
        return not self.cancelled.is_set() and self.crew.emit(event, data, self.incident_id)

    def run(self) -> None:
        sim, rng = self.crew.sim, self.crew.rng
        try:
            if not self.wait(rng.uniform(*sim.ack_delay)):
                return
            self.emit("ack", {"incident_id": self.incident_id})
            if not self.wait(rng.uniform(*sim.ack_delay)):
                return
            if not self.emit("unit.status", {"status": "en_route"}):
                return
            if not self.drive():
                return
            if not self.emit("unit.status", {"status": "on_scene"}):
                return
            self.work_tasks()
        except Exception:
            log.exception("simulated crew %s failed", self.crew.callsign)

    def drive(self) -> bool:
        """Move along the route at road speed, reporting the position every second."""
        speed = self.crew.sim.speed
        done_s = 0.0
        while True:
            self.rerouted.clear()
            route, travel_s = self.route, self.travel_s
            while done_s < travel_s:
                step = min(POSITION_EVERY_S * speed, travel_s - done_s)
                if not self.wait(step):
                    return False
                if self.rerouted.is_set():
                    break
                done_s += step
                lat, lon = route.at(done_s / travel_s if travel_s else 1.0)
                self.emit("position", {"lat": lat, "lon": lon})
            if not self.rerouted.is_set():
                return True
            # a new route starts where the unit is now
            done_s = 0.0

    def work_tasks(self) -> None:
        """Complete the unit's tasks in order; with probability `sloppiness` one runs late."""
        sim, rng = self.crew.sim, self.crew.rng
        for t in self.tasks:
            if t.get("status") == "done":
                continue
            deadline = t.get("deadline_s")
            if deadline:
                late = rng.random() < sim.sloppiness
                target = deadline * (rng.uniform(1.1, 1.4) if late else rng.uniform(0.3, 0.8))
                wait_s = max(1.0, target - self.sim_elapsed())
                if not late:
                    # never let an on-time task slip past its deadline by waiting
                    wait_s = min(wait_s, max(0.0, deadline * 0.9 - self.sim_elapsed()))
            else:
                wait_s = rng.uniform(5.0, 30.0)
            if not self.wait(wait_s):
                return
            self.emit("task.update", {"task_id": t["id"], "status": "done"})


class Simulator:
    """Simulated crews for a set of callsigns on a running hub."""

    def __init__(self, url: str, callsigns: Sequence[str], *, speed: float = 1.0,
                 ack_delay: tuple[float, float] = (2.0, 8.0), sloppiness: float = 0.1,
                 rng: random.Random | None = None,
                 password: Callable[[str], str] = lambda callsign: callsign) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.url = url.rstrip("/")
        self.callsigns = list(callsigns)
        self.speed = speed
        self.ack_delay = ack_delay
        self.sloppiness = sloppiness
        self.rng = rng or random.Random()
        self.password = password
        self.crews: dict[str, Crew] = {}
        self.actions: list[Action] = []
        self.stopped = False
        self._lock = threading.Lock()

    def note(self, action: Action) -> None:
        with self._lock:
            self.actions.append(action)
        log.info("%s %s %s%s", action.callsign, action.kind, action.detail or "",
                 "" if action.ok else " (refused)")

    def start(self) -> Simulator:
        """Log every crew in, connect it, and pick up any board it already has."""
        for cs in self.callsigns:
            r = requests.post(self.url + "/api/v1/auth/login", timeout=15,
                              json={"username": cs, "password": self.password(cs)})
            r.raise_for_status()
            data = r.json()
            crew = Crew(self, cs, data["token"], data["unit_id"],
                        random.Random(self.rng.random()))
            crew.connect()
            self.crews[cs] = crew
            board = requests.get(self.url + "/api/v1/board", timeout=15,
                                 headers={"Authorization": f"Bearer {data['token']}"})
            if board.ok and board.json().get("board"):
                crew.board(board.json()["board"])
        return self

    def stop(self) -> None:
        self.stopped = True
        for crew in self.crews.values():
            crew.stop()

    def done(self, kind: str, incident_id: int | None = None) -> list[Action]:
        """Actions of one kind that the hub accepted."""
        with self._lock:
            return [a for a in self.actions if a.kind == kind and a.ok
                    and (incident_id is None or a.incident_id == incident_id)]


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition("-")
    a, b = float(lo), float(hi or lo)
    if a < 0 or b < a:
        raise argparse.ArgumentTypeError("use LO-HI seconds, e.g. 2-8")
    return a, b


def _callsigns(url: str, units: str, officer: str) -> list[str]:
    if units != "all":
        return [u.strip() for u in units.split(",") if u.strip()]
    user, _, password = officer.partition(":")
    r = requests.post(url + "/api/v1/auth/login", timeout=15,
                      json={"username": user, "password": password or user})
    r.raise_for_status()
    units_list = requests.get(url + "/api/v1/units", timeout=15, headers={
        "Authorization": f"Bearer {r.json()['token']}"}).json()
    return [u["callsign"] for u in units_list]


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run simulated crews until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    url = args.url.rstrip("/")
    sim = Simulator(url, _callsigns(url, args.units, args.officer), speed=args.speed,
                    ack_delay=args.ack_delay, sloppiness=args.sloppiness,
                    rng=random.Random(args.seed) if args.seed is not None else None)
    sim.start()
    print(f"simulating {', '.join(sim.callsigns)} against {url} at {args.speed}x; Ctrl-C stops")
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def register_cli(subparsers: Any) -> None:
    """Add `redline simulate`."""
    p = subparsers.add_parser("simulate", help="simulated unit crews answering task boards")
    p.add_argument("--url", default="http://127.0.0.1:5000")
    p.add_argument("--units", default="all", help="callsigns, comma separated, or all")
    p.add_argument("--ack-delay", type=_range, default=(2.0, 8.0),
                   help="seconds before acknowledging and before turning out, LO-HI")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument("--sloppiness", type=float, default=0.1,
                   help="probability that a task is done late")
    p.add_argument("--officer", default="duty:duty",
                   help="USER:PASSWORD that lists the units for --units all")
    p.add_argument("--seed", type=int, help="repeatable run")
    p.set_defaults(func=cmd_simulate)
