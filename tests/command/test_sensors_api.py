"""Sensor REST API on the demo database: ingest tokens, readings, stats, warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from command.db import session_scope
from command.models import Event, Incident
from command.sensors import SensorEngine
from plans.models import Enterprise, HazardInstallation
from tests.conftest import events_of

SENSORS = [
    {"sensor_id": "API-GT-1", "kind": "gas_combustible", "unit": "%LEL",
     "thresholds": {"level1": 20, "level2": 40, "hysteresis": 2, "hold_s": 5}},
    {"sensor_id": "API-GT-2", "kind": "gas_combustible", "unit": "%LEL",
     "thresholds": {"level1": 20, "level2": 40, "hysteresis": 2, "hold_s": 5}},
]


@dataclass
class Setup:
    engine: SensorEngine
    enterprise_id: int
    other_enterprise_id: int
    token: str
    admin: dict[str, Any]
    duty: dict[str, Any]
    hub: Any

    @property
    def ingest(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def counts(self) -> tuple[int, int]:
        with self.hub.sessions() as s:
            return (int(s.scalar(select(func.count()).select_from(Event)) or 0),
                    int(s.scalar(select(func.count()).select_from(Incident)) or 0))


@pytest.fixture
def setup(app: Any, client: Any, login: Callable[..., dict[str, Any]]) -> Iterator[Setup]:
    h = app.extensions["redline"]
    engine: SensorEngine = app.extensions["redline.sensors"]
    with session_scope(h.sessions) as s:
        inst = s.scalars(select(HazardInstallation).order_by(HazardInstallation.id)).first()
        assert inst is not None, "the demo has no hazard installation"
        inst.sensors = [*SENSORS]
        eid = inst.enterprise_id
        other = s.scalar(select(Enterprise.id).where(Enterprise.id != eid))
    engine.reload()
    admin, duty = login("admin"), login("duty")
    r = client.post(f"/api/v1/enterprises/{eid}/ingest-token", headers=admin["headers"])
    assert r.status_code == 201, r.get_json()
    yield Setup(engine, eid, other or eid + 1000, r.get_json()["token"], admin, duty, h)
    engine.stop()


def batch(eid: int, sensor: str, values: list[tuple[float, float]], unit: str = "%LEL",
          start: dt.datetime | None = None) -> dict[str, Any]:
    t0 = start or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    return {"readings": [{"enterprise_id": eid, "sensor_id": sensor, "value": v, "unit": unit,
                          "ts": (t0 + dt.timedelta(seconds=sec)).isoformat()}
                         for sec, v in values]}


def test_only_an_admin_issues_tokens_and_a_new_one_replaces_the_old(
        client: Any, setup: Setup) -> None:
    url = f"/api/v1/enterprises/{setup.enterprise_id}/ingest-token"
    assert client.post(url, headers=setup.duty["headers"]).status_code == 403
    assert client.post(url).status_code == 401
    assert client.post("/api/v1/enterprises/99999/ingest-token",
                       headers=setup.admin["headers"]).status_code == 404
    # neither the token nor its hash is ever shown back
    listed = client.get("/api/v1/enterprises", headers=setup.admin["headers"])
    assert listed.status_code == 200
    text = listed.get_data(as_text=True)
    assert setup.token not in text and "sha256:" not in text and "ingest_token" not in text
    r = client.post(url, headers=setup.admin["headers"])
    new = r.get_json()["token"]
    body = batch(setup.enterprise_id, "API-GT-1", [(0, 1)])
    assert client.post("/api/v1/sensors/readings", json=body,
                       headers=setup.ingest).status_code == 401
    assert client.post("/api/v1/sensors/readings", json=body,
                       headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_readings_raise_a_warning_for_the_officers(client: Any, setup: Setup,
                                                   sio: Callable[[str], Any]) -> None:
    officer = sio("duty")
    officer.get_received("/hub")
    r = client.post("/api/v1/sensors/readings", headers=setup.ingest,
                    json=batch(setup.enterprise_id, "API-GT-1",
                               [(0, 3), (1, 22), (3, 23), (6, 24)]))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["accepted"] == 4
    (ev,) = events_of(officer.get_received("/hub"), "sensor.warning")
    assert ev["data"]["sensor"]["sensor_id"] == "API-GT-1"
    assert "phone" in ev["data"]["contact"]
    warnings = client.get("/api/v1/sensors/warnings?status=open",
                          headers=setup.duty["headers"]).get_json()
    assert [w["sensor_id"] for w in warnings] == ["API-GT-1"]
    wid = warnings[0]["id"]
    unit = client.post("/api/v1/auth/login", json={"username": "E11", "password": "E11"})
    unit_headers = {"Authorization": f"Bearer {unit.get_json()['token']}"}
    assert client.post(f"/api/v1/sensors/warnings/{wid}/ack",
                       headers=unit_headers).status_code == 403
    r = client.post(f"/api/v1/sensors/warnings/{wid}/ack", headers=setup.duty["headers"])
    assert r.status_code == 200 and r.get_json()["status"] == "acked"
    r = client.post(f"/api/v1/sensors/warnings/{wid}/silence", json={"minutes": 0},
                    headers=setup.duty["headers"])
    assert r.status_code == 422
    r = client.post(f"/api/v1/sensors/warnings/{wid}/silence", json={"minutes": 15},
                    headers=setup.duty["headers"])
    assert r.get_json()["status"] == "silenced"
    assert client.post(f"/api/v1/sensors/warnings/{wid}/dismiss", json={},
                       headers=setup.duty["headers"]).status_code == 422
    r = client.post(f"/api/v1/sensors/warnings/{wid}/dismiss", json={"reason": "校准"},
                    headers=setup.duty["headers"])
    assert r.get_json()["status"] == "dismissed"
    assert client.post("/api/v1/sensors/warnings/99999/ack",
                       headers=setup.duty["headers"]).status_code == 404
    types = [e["type"] for e in events_of(officer.get_received("/hub"))]
    assert types == ["sensor.warning.acked", "sensor.warning.silenced",
                     "sensor.warning.dismissed"]


def test_second_level_over_http_reports_one_incident_with_dispatch(
        client: Any, setup: Setup) -> None:
    r = client.post("/api/v1/sensors/readings", headers=setup.ingest,
                    json=batch(setup.enterprise_id, "API-GT-1",
                               [(0, 45), (2, 50), (5, 52), (6, 55), (9, 60)]))
    assert r.status_code == 200
    incidents = client.get("/api/v1/incidents", headers=setup.duty["headers"]).get_json()
    sensor_incidents = [i for i in incidents if i["source"] == "sensor"]
    assert len(sensor_incidents) == 1
    incident = sensor_incidents[0]
    assert incident["kind"] == "leak" and incident["severity"] == 3
    assert incident["enterprise_id"] == setup.enterprise_id
    assert "API-GT-1" in incident["description"]
    assert incident["assignments"], incident["unmet"]


def test_bad_requests_change_nothing(client: Any, setup: Setup) -> None:
    before = setup.counts()
    eid = setup.enterprise_id
    body = batch(eid, "API-GT-1", [(0, 45), (5, 45)])
    assert client.post("/api/v1/sensors/readings", json=body).status_code == 401
    assert client.post("/api/v1/sensors/readings", json=body,
                       headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/v1/sensors/readings", json=body,
                       headers=setup.duty["headers"]).status_code == 401
    foreign = batch(setup.other_enterprise_id, "API-GT-1", [(0, 45), (5, 45)])
    r = client.post("/api/v1/sensors/readings", json=foreign, headers=setup.ingest)
    assert r.status_code == 403
    assert client.post("/api/v1/sensors/readings", data="nope", headers={
        **setup.ingest, "Content-Type": "application/json"}).status_code == 422
    assert client.post("/api/v1/sensors/readings", json={"readings": {}},
                       headers=setup.ingest).status_code == 422
    r = client.post("/api/v1/sensors/readings", headers=setup.ingest, json={"readings": [
        {"enterprise_id": eid, "sensor_id": "API-GT-1", "value": "high", "unit": "%LEL",
         "ts": "2026-01-01T00:00:00Z"},
        {"enterprise_id": eid, "sensor_id": "API-GT-1", "value": 1, "unit": "%LEL",
         "ts": "2026-01-01T00:00:00"},
        {"enterprise_id": eid, "sensor_id": "API-GT-1", "value": 1, "unit": "ppm",
         "ts": dt.datetime.now(dt.UTC).isoformat()},
        "nope",
        *batch(eid, "NO-SUCH-SENSOR", [(0, 99), (5, 99)])["readings"],
    ]})
    assert r.status_code == 200
    result = r.get_json()
    assert (result["accepted"], result["malformed"], result["unknown"]) == (0, 4, 2)
    assert setup.counts() == before
    stats = client.get("/api/v1/sensors/stats", headers=setup.duty["headers"]).get_json()
    mine = stats["per_enterprise"][str(eid)]
    assert mine["malformed"] >= 5 and mine["unknown"] == 2 and mine["accepted"] == 0
    assert stats["mqtt"] is None
    assert client.get("/api/v1/sensors/stats",
                      headers=setup.ingest).status_code == 401


def test_sensor_list_shows_registered_sensors(client: Any, setup: Setup) -> None:
    client.post("/api/v1/sensors/readings", headers=setup.ingest,
                json=batch(setup.enterprise_id, "API-GT-2", [(0, 4)]))
    listed = client.get("/api/v1/sensors", headers=setup.duty["headers"]).get_json()
    mine = {s["sensor_id"]: s for s in listed if s["enterprise_id"] == setup.enterprise_id}
    assert mine["API-GT-2"]["last_value"] == 4 and mine["API-GT-1"]["last_value"] is None
    assert client.get("/api/v1/sensors/faults", headers=setup.duty["headers"]).get_json() == []


def test_a_faulty_sensor_is_told_to_the_enterprise_and_the_officers(
        client: Any, setup: Setup, sio: Callable[[str], Any]) -> None:
    officer = sio("duty")
    officer.get_received("/hub")
    # -20 %LEL is below any drift: a broken sensor, a fault and not an alarm
    r = client.post("/api/v1/sensors/readings", headers=setup.ingest,
                    json=batch(setup.enterprise_id, "API-GT-1", [(0, -20), (6, -20)]))
    assert r.status_code == 200
    assert r.get_json()["faults"] == [{"sensor_id": "API-GT-1", "faults": ["out_of_range"]}]
    (ev,) = events_of(officer.get_received("/hub"), "sensor.fault")
    assert ev["data"]["reason"] == "out_of_range" and ev["data"]["contact"]["phone"]
    faults = client.get("/api/v1/sensors/faults", headers=setup.duty["headers"]).get_json()
    assert [(f["sensor_id"], f["reason"]) for f in faults] == [("API-GT-1", "out_of_range")]
    incidents = client.get("/api/v1/incidents", headers=setup.duty["headers"]).get_json()
    assert [i for i in incidents if i["source"] == "sensor"] == []
    # back in range: the fault clears, and the enterprise hears so with its next batch
    r = client.post("/api/v1/sensors/readings", headers=setup.ingest,
                    json=batch(setup.enterprise_id, "API-GT-1", [(7, 2)]))
    assert r.get_json()["faults"] == []
    assert client.get("/api/v1/sensors/faults", headers=setup.duty["headers"]).get_json() == []
