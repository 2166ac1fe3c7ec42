"""Readings published to the machine's Mosquitto reach a hub app and turn into warnings,
faults and automatically reported incidents with the plan's dispatch."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from command.db import session_scope
from command.models import Event, Incident
from command.sensors import SensorEngine
from plans.models import HazardInstallation, PlanVersion
from plans.schema import PlanDocument, Trigger
from tests.clock import Clock
from web import create_app

pytestmark = pytest.mark.services

BROKER = "mqtt://127.0.0.1:1883"
TH = {"level1": 20, "level2": 40, "hysteresis": 2, "hold_s": 5, "heartbeat_s": 60}


@dataclass
class Hub:
    app: Any
    engine: SensorEngine
    clock: Clock
    prefix: str
    enterprise_id: int
    pub: mqtt.Client
    t0: dt.datetime
    # the installation's first chemical, which its sensors without one of their own report
    chemical: str

    def scenario_trigger(self, plan_version_id: int | None, scenario_id: str) -> Trigger:
        h = self.app.extensions["redline"]
        with h.sessions() as s:
            version = s.get(PlanVersion, plan_version_id)
            assert version is not None
            doc = PlanDocument.model_validate(version.document)
        (scenario,) = [sc for sc in doc.scenarios if sc.id == scenario_id]
        return scenario.trigger

    def publish(self, sensor: str, values: list[tuple[float, Any]], unit: str = "%LEL",
                enterprise: int | None = None) -> None:
        """Readings at t0 + seconds, in order, acknowledged by the broker."""
        for sec, value in values:
            ts = self.t0 + dt.timedelta(seconds=sec)
            payload = json.dumps({"ts": ts.isoformat(), "value": value, "unit": unit})
            self.raw(f"{enterprise or self.enterprise_id}/{sensor}", payload.encode())

    def raw(self, suffix: str, payload: bytes) -> None:
        self.pub.publish(f"{self.prefix}/{suffix}", payload, qos=1).wait_for_publish(5)

    def settle(self, accepted: int | None = None, timeout: float = 10.0) -> None:
        """Wait until the pump has drained the queue (and accepted `accepted` readings)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.engine.stats.view()
            done = self.engine.inbox.qsize() == 0 and (accepted is None
                                                       or stats["accepted"] >= accepted)
            if done:
                time.sleep(0.2)  # the last drained batch may still be applying
                if self.engine.inbox.qsize() == 0:
                    return
            time.sleep(0.02)
        raise AssertionError(f"readings not ingested: {self.engine.stats.view()}")

    def events(self, type_: str | None = None) -> list[Event]:
        h = self.app.extensions["redline"]
        with h.sessions() as s:
            q = select(Event).order_by(Event.seq)
            if type_:
                q = q.where(Event.type == type_)
            return list(s.scalars(q))

    def incidents(self) -> list[Incident]:
        h = self.app.extensions["redline"]
        with h.sessions() as s:
            rows = list(s.scalars(select(Incident).order_by(Incident.id)))
            for i in rows:
                _ = i.assignments, i.tasks
            return rows

    def counts(self) -> tuple[int, int]:
        h = self.app.extensions["redline"]
        with h.sessions() as s:
            return (int(s.scalar(select(func.count()).select_from(Event)) or 0),
                    int(s.scalar(select(func.count()).select_from(Incident)) or 0))


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    """An app on a copy of the demo database with MQTT on; one demo installation gets three
    sensors with known thresholds."""
    from command.db import make_engine, make_sessionmaker

    db = make_engine(db_url)
    with session_scope(make_sessionmaker(db)) as s:
        inst = s.scalars(select(HazardInstallation).order_by(HazardInstallation.id)).first()
        assert inst is not None, "the demo has no hazard installation"
        inst.sensors = [
            {"sensor_id": "HUB-GT-1", "kind": "gas_combustible", "unit": "%LEL",
             "thresholds": TH},
            {"sensor_id": "HUB-GT-2", "kind": "gas_combustible", "unit": "%LEL",
             "thresholds": TH},
            {"sensor_id": "HUB-TT-3", "kind": "temperature", "unit": "°C",
             "thresholds": {**TH, "level1": 60, "level2": 90, "max": 400}},
        ]
        enterprise_id = inst.enterprise_id
        chemical = inst.chemicals[0]["un"]
    db.dispose()
    clock = Clock()
    prefix = f"redline-test-{uuid.uuid4().hex[:12]}/sensors"
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "MQTT_URL": BROKER,
                      "MQTT_TOPIC_PREFIX": prefix, "DRILL_SCHEDULER": False,
                      "LOAD_DEMO": False, "CLOCK": clock, "TESTING": True})
    engine: SensorEngine = app.extensions["redline.sensors"]
    assert engine.bridge is not None
    assert engine.bridge.connected.wait(10), "no Mosquitto on 127.0.0.1:1883"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                      client_id=f"redline-test-pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    time.sleep(0.3)  # let the hub's subscription settle before the first publish
    try:
        yield Hub(app, engine, clock, prefix, enterprise_id, pub,
                  clock.now - dt.timedelta(minutes=5), chemical)
    finally:
        pub.loop_stop()
        pub.disconnect()
        engine.stop()
        app.extensions["redline"].engine.dispose()


def test_a_spike_below_the_hold_time_fires_nothing(hub: Hub) -> None:
    before = hub.counts()
    hub.publish("HUB-GT-1", [(0, 2), (1, 60), (2, 55), (3, 3), (4, 2), (10, 2)])
    hub.settle(accepted=6)
    assert hub.counts() == before
    assert hub.engine.stats.view()["accepted"] == 6


def test_sustained_second_level_reports_exactly_one_incident_with_dispatch(hub: Hub) -> None:
    hub.publish("HUB-GT-1", [(0, 45), (2, 48), (5, 50), (6, 52), (8, 55), (12, 58)])
    hub.settle(accepted=6)
    assert wait_for(lambda: len(hub.incidents()) == 1)
    hub.publish("HUB-GT-1", [(s, 60) for s in range(13, 40, 3)])
    hub.settle()
    (incident,) = hub.incidents()
    assert incident.source == "sensor" and incident.kind.value == "leak"
    assert incident.severity == 3 and incident.enterprise_id == hub.enterprise_id
    assert "HUB-GT-1" in incident.description
    assert incident.reported_by == "system:sensors"
    # the installation's chemical, and the scenario of the enterprise's own plan for a leak of it
    assert incident.chemical == hub.chemical
    assert incident.plan_ref is not None and incident.scenario_id, incident.match_reason
    assert incident.plan_ref["enterprise_id"] == hub.enterprise_id
    trigger = hub.scenario_trigger(incident.plan_version_id, incident.scenario_id)
    assert "leak" in trigger.kinds and hub.chemical in trigger.chemicals
    assert incident.assignments, incident.unmet
    boards = [e for e in hub.events("task_board") if e.incident_id == incident.id]
    assert {b.unit_id for b in boards} == {a.unit_id for a in incident.assignments}
    (alarm,) = hub.events("sensor.alarm")
    assert alarm.incident_id == incident.id and alarm.data["trigger"] == "level2"


def test_two_first_level_sensors_escalate_to_an_incident(hub: Hub) -> None:
    hub.publish("HUB-GT-1", [(0, 25), (3, 26), (6, 27)])
    hub.settle(accepted=3)
    assert wait_for(lambda: len(hub.events("sensor.warning")) == 1)
    assert hub.incidents() == []
    hub.publish("HUB-GT-2", [(30, 24), (33, 25), (36, 25)])
    hub.settle(accepted=6)
    assert wait_for(lambda: len(hub.incidents()) == 1)
    (incident,) = hub.incidents()
    assert incident.severity == 2 and incident.source == "sensor"
    assert "HUB-GT-1" in incident.description and "HUB-GT-2" in incident.description
    assert incident.assignments
    warnings = hub.events("sensor.warning")
    assert len(warnings) == 2
    assert all(w.county_id is not None for w in warnings)


def test_a_silent_sensor_is_flagged(hub: Hub) -> None:
    hub.publish("HUB-GT-2", [(0, 1)])
    hub.settle(accepted=1)
    assert hub.events("sensor.fault") == []
    hub.clock.advance(61)
    assert wait_for(lambda: any(e.data["sensor"]["sensor_id"] == "HUB-GT-2"
                                and e.data["reason"] == "silent"
                                for e in hub.events("sensor.fault")), timeout=10)
    fault = next(e for e in hub.events("sensor.fault")
                 if e.data["sensor"]["sensor_id"] == "HUB-GT-2")
    assert "phone" in fault.data["contact"] and fault.county_id is not None
    assert hub.incidents() == [] and hub.events("sensor.warning") == []


def test_malformed_payloads_and_unknown_sensors_change_nothing(hub: Hub) -> None:
    before = hub.counts()
    for payload in (b"not json", b"[]", b'{"value": 50}',
                    b'{"ts": "2026-01-01T00:00:00Z", "value": "50", "unit": "%LEL"}',
                    b'{"ts": "2026-01-01T00:00:00", "value": 50, "unit": "%LEL"}'):
        hub.raw(f"{hub.enterprise_id}/HUB-GT-1", payload)
    hub.raw("not-a-number/HUB-GT-1", b'{"ts": "2026-01-01T00:00:00Z", "value": 1}')
    hub.publish("NO-SUCH-SENSOR", [(0, 99), (6, 99), (12, 99)])
    hub.publish("HUB-GT-1", [(0, 99), (6, 99)], enterprise=999_999)
    hub.publish("HUB-GT-1", [(0, 55), (6, 55)], unit="ppm")
    assert wait_for(lambda: hub.engine.stats.view()["malformed"] == 8
                    and hub.engine.stats.view()["unknown"] == 5)
    hub.settle()
    assert hub.counts() == before
    client = hub.app.test_client()
    token = client.post("/api/v1/auth/login",
                        json={"username": "duty", "password": "duty"}).get_json()["token"]
    stats = client.get("/api/v1/sensors/stats",
                       headers={"Authorization": f"Bearer {token}"}).get_json()
    assert stats["malformed"] == 8 and stats["unknown"] == 5 and stats["accepted"] == 0
    assert stats["per_enterprise"][str(hub.enterprise_id)]["unknown"] == 3
    assert stats["per_enterprise"]["999999"]["unknown"] == 2
    assert stats["mqtt"]["connected"] is True
