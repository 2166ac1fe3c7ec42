"""Sensor ingestion rate and alarm-to-task-board latency against a real hub process.

Builds the demo database, gives its hazard installations --sensors sensors (one alarm sensor
per installation, the rest streaming normal values), starts `wsgi.py` (eventlet, SQLite) with
MQTT on the machine's Mosquitto, connects every unit's tablet and an officer over Socket.IO and
publishes every sensor at 1 Hz. Meanwhile it drives one alarm sensor after another into a
sustained second-level alarm (hold 1 s) and measures, per alarm, the time from publishing the
reading that fires it to the last task board of the resulting incident arriving on the unit
clients; each incident is then closed and the sensor returns to normal.

    python bench/sensors.py [--sensors 1000] [--duration 30] [--alarms 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import requests
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.liveserver import live_hub  # noqa: E402

HOLD_S = 1.0
# kind, unit, thresholds, normal value range
PROFILES: list[tuple[str, str, dict[str, float], tuple[float, float]]] = [
    ("gas_combustible", "%LEL", {"level1": 20, "level2": 40, "hysteresis": 2}, (0.0, 6.0)),
    ("gas_toxic", "ppm", {"level1": 10, "level2": 20, "hysteresis": 1}, (0.0, 3.0)),
    ("temperature", "°C", {"level1": 60, "level2": 90, "hysteresis": 3, "max": 400},
     (18.0, 35.0)),
    ("pressure", "MPa", {"level1": 1.6, "level2": 2.0, "hysteresis": 0.05, "max": 10},
     (0.6, 1.2)),
    ("level", "m", {"level1": 8.0, "level2": 9.0, "hysteresis": 0.2, "max": 12}, (3.0, 6.0)),
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


@dataclass
class Sensor:
    enterprise_id: int
    sensor_id: str
    unit: str
    low: float
    high: float
    alarm: bool = False
    # ticks of the alarm readings published so far in the current alarm, and when
    alarm_pubs: list[float] = field(default_factory=list)


def build_database(url: str, n_sensors: int) -> tuple[list[Sensor], list[Sensor]]:
    """The demo database with n_sensors bench sensors; returns (all, one alarm sensor per
    installation)."""
    from sqlalchemy import select

    from command.db import session_scope
    from plans.models import HazardInstallation
    from web import create_app

    app = create_app({"DATABASE_URL": url, "ASYNC_MODE": "threading", "LOAD_DEMO": True,
                      "DRILL_SCHEDULER": False})
    hub = app.extensions["redline"]
    sensors: list[Sensor] = []
    alarm_sensors: list[Sensor] = []
    with session_scope(hub.sessions) as s:
        installations = list(s.scalars(select(HazardInstallation).order_by(HazardInstallation.id)))
        if not installations:
            raise SystemExit("the demo has no hazard installations")
        per: list[list[dict[str, Any]]] = [[] for _ in installations]
        for i in range(n_sensors):
            slot = i % len(installations)
            inst = installations[slot]
            if i < len(installations):
                kind, unit, th, normal = PROFILES[0]
                sid = f"BENCH-{inst.id}-ALARM"
            else:
                kind, unit, th, normal = PROFILES[i % len(PROFILES)]
                sid = f"BENCH-{inst.id}-{i:04d}"
            per[slot].append({"sensor_id": sid, "kind": kind, "unit": unit,
                              "thresholds": {**th, "hold_s": HOLD_S, "heartbeat_s": 120}})
            sensor = Sensor(inst.enterprise_id, sid, unit, *normal)
            sensors.append(sensor)
            if i < len(installations):
                alarm_sensors.append(sensor)
        for inst, extra in zip(installations, per, strict=True):
            inst.sensors = [*(inst.sensors or []), *extra]
    engine = app.extensions.get("redline.sensors")
    if engine is not None:
        engine.stop()
    hub.engine.dispose()
    return sensors, alarm_sensors


class Load:
    """Publishes every sensor once per logical second, spread over that second."""

    def __init__(self, sensors: list[Sensor], prefix: str) -> None:
        self.sensors = sensors
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"redline-bench-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.base = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.published = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.rng = random.Random(7)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        slices = 10
        start = time.perf_counter()
        tick = 0
        while not self.stop.is_set():
            ts = (self.base + dt.timedelta(seconds=tick)).isoformat()
            for k in range(slices):
                due = start + tick + k / slices
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                for sensor in self.sensors[k::slices]:
                    self._publish(sensor, ts)
            tick += 1

    def _publish(self, sensor: Sensor, ts: str) -> None:
        with self.lock:
            alarm = sensor.alarm
        value = 55.0 if alarm else round(self.rng.uniform(sensor.low, sensor.high), 3)
        payload = json.dumps({"ts": ts, "value": value, "unit": sensor.unit})
        qos = 1 if alarm else 0
        if alarm:
            with self.lock:
                sensor.alarm_pubs.append(time.perf_counter())
        self.client.publish(f"{self.prefix}/{sensor.enterprise_id}/{sensor.sensor_id}", payload,
                            qos=qos)
        self.published += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


def sample_stats(url: str, headers: dict[str, str], out: list[tuple[float, int, int]],
                 stop: threading.Event) -> None:
    s = requests.Session()
    s.headers.update(headers)
    while not stop.is_set():
        try:
            st = s.get(url + "/api/v1/sensors/stats", timeout=5).json()
            out.append((time.perf_counter(), st["accepted"], st["queue"]))
        except requests.RequestException:
            pass
        stop.wait(1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensors", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--alarms", type=int, default=24)
    ap.add_argument("--async-mode", default="eventlet")
    args = ap.parse_args()
    prefix = f"redline-bench-{uuid.uuid4().hex[:8]}/sensors"
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'live.db'}"
        sensors, alarm_sensors = build_database(db_url, args.sensors)
        env = {"DATABASE_URL": db_url, "ASYNC_MODE": args.async_mode,
               "MQTT_URL": "mqtt://127.0.0.1:1883", "MQTT_TOPIC_PREFIX": prefix,
               "DRILL_SCHEDULER": "0"}
        with live_hub(Path(tmp), env) as hub:
            run(hub, sensors, alarm_sensors, args)


def run(hub: Any, sensors: list[Sensor], alarm_sensors: list[Sensor],
        args: argparse.Namespace) -> None:
    duty = hub.login("duty")
    h = duty["headers"]
    http = requests.Session()
    http.headers.update(h)
    stats = http.get(hub.url + "/api/v1/sensors/stats", timeout=10).json()
    if not stats.get("mqtt") or not stats["mqtt"]["connected"]:
        raise SystemExit(f"hub has no MQTT link: {stats.get('mqtt')}")
    # the hub says where it listens (MQTT_TOPIC_PREFIX may not be read from the environment)
    prefix = stats["mqtt"]["topic"].removesuffix("/+/+")
    units = http.get(hub.url + "/api/v1/units", timeout=10).json()
    cond = threading.Condition()
    boards: dict[tuple[int, int], float] = {}
    assigned: dict[int, set[int]] = {}
    alarm_incident: dict[str, tuple[int, float]] = {}
    closed_episode: dict[str, float] = {}
    clients: list[socketio.Client] = []

    def on_unit(uid: int) -> Callable[[dict[str, Any]], None]:
        def handler(data: dict[str, Any]) -> None:
            if data["type"] == "task_board":
                with cond:
                    boards.setdefault((data["incident_id"], uid), time.perf_counter())
                    cond.notify_all()
        return handler

    def on_officer(data: dict[str, Any]) -> None:
        t = time.perf_counter()
        with cond:
            if data["type"] == "assignment.created":
                a = data["data"]["assignment"]
                assigned.setdefault(a["incident_id"], set()).add(a["unit_id"])
            elif data["type"] == "sensor.alarm" and data["data"].get("incident_id"):
                sid = data["data"]["sensor"]["sensor_id"]
                alarm_incident.setdefault(sid, (data["data"]["incident_id"], t))
            elif data["type"] == "sensor.cleared" and data["data"].get("episode_closed"):
                closed_episode[data["data"]["sensor"]["sensor_id"]] = t
            cond.notify_all()

    for u in units:
        c = socketio.Client(reconnection=False)
        c.on("event", on_unit(u["id"]), namespace="/hub")
        c.connect(hub.url, namespaces=["/hub"], transports=["websocket"],
                  auth={"token": hub.login(u["callsign"])["token"]})
        clients.append(c)
    officer = socketio.Client(reconnection=False)
    officer.on("event", on_officer, namespace="/hub")
    officer.connect(hub.url, namespaces=["/hub"], transports=["websocket"],
                    auth={"token": duty["token"]})
    clients.append(officer)

    load = Load(sensors, prefix)
    samples: list[tuple[float, int, int]] = []
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=sample_stats, args=(hub.url, h, samples, stop_sampling),
                               daemon=True)
    t_start = time.perf_counter()
    load.start()
    sampler.start()
    time.sleep(5)  # warm-up: every sensor reports before the first alarm

    to_board: list[float] = []
    to_alarm: list[float] = []
    failures: list[str] = []
    i = 0
    while (len(to_board) < args.alarms or time.perf_counter() - t_start < args.duration) \
            and i < args.alarms * 3:
        sensor = alarm_sensors[i % len(alarm_sensors)]
        i += 1
        with cond:
            # the installation's previous episode must be over, or this alarm joins it
            cond.wait_for(lambda s=sensor: s.sensor_id not in alarm_incident
                          or s.sensor_id in closed_episode, timeout=15)
            alarm_incident.pop(sensor.sensor_id, None)
            closed_episode.pop(sensor.sensor_id, None)
        with load.lock:
            sensor.alarm_pubs = []
            sensor.alarm = True
        with cond:
            got = cond.wait_for(lambda s=sensor: s.sensor_id in alarm_incident, timeout=20)
        if not got:
            failures.append(f"{sensor.sensor_id}: no incident")
            with load.lock:
                sensor.alarm = False
            continue
        incident_id, alarm_at = alarm_incident[sensor.sensor_id]
        with cond:
            cond.wait_for(lambda n=incident_id: n in assigned, timeout=5)
            want = {(incident_id, uid) for uid in assigned.get(incident_id, set())}
            ok = bool(want) and cond.wait_for(lambda w=want: w <= boards.keys(), timeout=10)
        with load.lock:
            sensor.alarm = False
            pubs = list(sensor.alarm_pubs)
        # the reading that fires is the first one held for HOLD_S: the second at 1 Hz
        fired_at = pubs[int(HOLD_S)] if len(pubs) > int(HOLD_S) else None
        if not ok or fired_at is None:
            failures.append(f"{sensor.sensor_id}: boards missing for incident {incident_id}")
        else:
            to_board.append(max(boards[k] for k in want) - fired_at)
            to_alarm.append(alarm_at - fired_at)
        http.post(hub.url + f"/api/v1/incidents/{incident_id}/close", timeout=30)
        if time.perf_counter() - t_start > 600:
            break
    t_load_end = time.perf_counter()
    load.close()
    time.sleep(1.5)
    stop_sampling.set()
    sampler.join(5)
    final = http.get(hub.url + "/api/v1/sensors/stats", timeout=10).json()
    for c in clients:
        c.disconnect()

    steady = [s for s in samples if t_start + 5 <= s[0] <= t_load_end]
    rate = ((steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
            if len(steady) >= 2 else float("nan"))
    max_queue = max((s[2] for s in steady), default=0)
    ms = 1000.0
    print(f"sensors: {len(sensors)} at 1 Hz for {t_load_end - t_start:.0f} s via Mosquitto, "
          f"async mode: {args.async_mode}, database: SQLite")
    print(f"published {load.published}, hub accepted {final['accepted']}, unknown "
          f"{final['unknown']}, malformed {final['malformed']}, stale {final['stale']}, "
          f"dropped {final['dropped']}")
    print(f"ingested (sustained, after 5 s warm-up): {rate:.0f} readings/s; "
          f"hub queue max {max_queue}")
    print(f"alarms measured: {len(to_board)} ({len(failures)} failed"
          + (f": {'; '.join(failures[:3])}" if failures else "") + ")")
    for name, vals in (("firing reading -> sensor.alarm (officer)", to_alarm),
                       ("firing reading -> last task board", to_board)):
        if vals:
            print(f"{name:42s} median {statistics.median(vals) * ms:7.1f} ms   "
                  f"p95 {pct(vals, 0.95) * ms:7.1f} ms   max {max(vals) * ms:7.1f} ms")


if __name__ == "__main__":
    main()
