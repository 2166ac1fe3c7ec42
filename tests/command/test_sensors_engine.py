"""The sensor engine against a real SQLite database and the real command service.

Incidents are reported through CommandService.report_incident on the bundled road map, the
same call a phoned-in report makes; the enterprise here has no plan and no units, so these tests
pin down warnings, episodes, deduplication across processes and restarts, faults and officer
actions. The hub-level tests (tests/services/test_mqtt_hub.py) check plan activation and dispatch
on the demo database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import command.models  # noqa: F401  (register tables)
import plans.models  # noqa: F401
from command.auth import Actor
from command.db import Base, make_engine, make_sessionmaker, session_scope
from command.errors import Conflict, Forbidden, InvalidInput, NotFound
from command.events import MemoryPublisher, ensure_counter
from command.models import (
    Event,
    Incident,
    IncidentKind,
    IncidentStatus,
    Region,
    RegionLevel,
    Role,
)
from command.sensor_models import SensorEpisode, SensorFault, SensorStatus, SensorWarning
from command.sensors import SensorEngine, parse_reading
from command.service import CommandService
from dispatch.graph import RoadGraph
from plans.models import Enterprise, HazardInstallation
from tests.clock import Clock

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
DUTY = Actor(user_id=1, username="duty", role=Role.DUTY_OFFICER, unit_id=None, region_id=None)
ADMIN = Actor(user_id=2, username="admin", role=Role.ADMIN, unit_id=None, region_id=None)


@pytest.fixture(scope="module")
def graph() -> RoadGraph:
    return RoadGraph.load()


SENSORS_T01 = [
    {"sensor_id": "GT-101", "kind": "gas_combustible", "unit": "%LEL", "lat": -23.551,
     "lon": -46.651, "thresholds": {"level1": 20, "level2": 40, "hysteresis": 2, "hold_s": 5,
                                    "heartbeat_s": 60}},
    {"sensor_id": "GT-102", "kind": "gas_combustible", "unit": "%LEL",
     "thresholds": {"level1": 20, "level2": 40, "hysteresis": 2, "hold_s": 5}},
    {"sensor_id": "TT-103", "kind": "temperature", "unit": "°C",
     "thresholds": {"level1": 60, "level2": 90, "hysteresis": 5, "hold_s": 5, "max": 400}},
]


@dataclass
class World:
    engine: SensorEngine
    service: CommandService
    clock: Clock
    sessions: sessionmaker[Session]
    county_id: int
    enterprise_id: int
    db: Any

    def feed(self, sensor: str, values: list[tuple[float, float]], *,
             engine: SensorEngine | None = None, unit: str = "%LEL") -> None:
        """Readings at T0 + seconds; the service clock follows the readings."""
        for sec, value in values:
            ts = T0 + dt.timedelta(seconds=sec)
            self.clock.now = max(self.clock.now, ts)
            r = parse_reading(self.enterprise_id, sensor,
                              {"ts": ts.isoformat(), "value": value, "unit": unit})
            (engine or self.engine).ingest([r])

    def events(self, type_: str | None = None) -> list[Event]:
        with self.sessions() as s:
            q = select(Event).order_by(Event.seq)
            if type_:
                q = q.where(Event.type == type_)
            return list(s.scalars(q))

    def count(self, model: Any) -> int:
        with self.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def reports(self) -> list[Incident]:
        """Incidents the sensors reported, oldest first."""
        with self.sessions() as s:
            return list(s.scalars(select(Incident).where(Incident.source == "sensor")
                                  .order_by(Incident.id)))

    def second_engine(self) -> SensorEngine:
        other = SensorEngine(self.service)
        other.start()
        return other


@pytest.fixture
def world(tmp_path: Path, graph: RoadGraph) -> Iterator[World]:
    db = make_engine(f"sqlite:///{tmp_path / 'sensors.db'}")
    Base.metadata.create_all(db)
    sessions = make_sessionmaker(db)
    with session_scope(sessions) as s:
        ensure_counter(s)
        county = Region(name="滨海县", level=RegionLevel.COUNTY)
        s.add(county)
        s.flush()
        e = Enterprise(name="滨海氯碱化工", credit_code="91330000TEST00001X", lat=-23.55,
                       lon=-46.65, county_id=county.id,
                       contacts={"on_duty_phone": "0571-8888", "safety_manager":
                                 {"name": "王工", "phone": "13900000000"}})
        e.installations = [
            HazardInstallation(code="T-01", name="液氯储罐区", lat=-23.5505, lon=-46.6505,
                               chemicals=[{"name": "氯", "un": "1017", "quantity_t": 50}],
                               sensors=SENSORS_T01),
            HazardInstallation(code="T-02", name="氢气柜", lat=-23.552, lon=-46.652,
                               chemicals=[{"name": "氢", "un": "UN1049"}],
                               sensors=[{"sensor_id": "GT-201", "kind": "gas_combustible",
                                         "unit": "%LEL",
                                         "thresholds": {"level1": 20, "level2": 40,
                                                        "hold_s": 5}}]),
        ]
        s.add(e)
        s.flush()
        county_id, enterprise_id = county.id, e.id
    clock = Clock(T0)
    service = CommandService(sessions, graph, MemoryPublisher(), clock=clock)
    engine = SensorEngine(service, correlation_window_s=120)
    engine.start()
    yield World(engine, service, clock, sessions, county_id, enterprise_id, db)
    db.dispose()


def test_first_level_is_a_warning_with_the_contact_to_call(world: World) -> None:
    world.feed("GT-101", [(0, 3), (1, 22), (3, 24), (6, 23), (7, 25)])
    (ev,) = world.events("sensor.warning")
    d = ev.data
    assert ev.county_id == world.county_id and ev.incident_id is None
    assert ev.actor == "system:sensors"
    assert d["level"] == 1 and d["value"] == 23 and d["threshold"] == 20
    assert d["enterprise"]["name"] == "滨海氯碱化工"
    assert d["installation"]["code"] == "T-01"
    assert d["sensor"] == {"sensor_id": "GT-101", "kind": "gas_combustible", "unit": "%LEL"}
    assert d["position"] == {"lat": -23.551, "lon": -46.651}
    assert d["contact"]["phone"] == "0571-8888"
    assert world.reports() == []
    assert world.count(SensorEpisode) == 0


def test_sustained_second_level_reports_exactly_one_incident(world: World) -> None:
    world.feed("GT-101", [(0, 45), (2, 50), (5, 52)])
    assert len(world.reports()) == 1
    report = world.reports()[0]
    assert report.kind is IncidentKind.LEAK and report.severity == 3
    assert report.chemical == "UN1017" and report.source == "sensor"
    assert (report.lat, report.lon) == (-23.551, -46.651)
    assert "GT-101" in report.description
    # the alarm persists: nothing more
    world.feed("GT-101", [(s, 55) for s in range(6, 60, 2)])
    assert len(world.reports()) == 1
    (alarm,) = world.events("sensor.alarm")
    assert alarm.incident_id == world.reports()[0].id
    assert alarm.data["severity"] == 3 and alarm.data["trigger"] == "level2"
    assert world.events("sensor.warning") == []  # a second-level alarm is more than a warning
    with world.sessions() as s:
        w = s.scalar(select(SensorWarning))
        assert w is not None and w.level == 2 and w.incident_id == alarm.incident_id


def test_temperature_alarm_reports_a_fire(world: World) -> None:
    world.feed("TT-103", [(0, 95), (5, 96)], unit="°C")
    assert world.reports()[0].kind is IncidentKind.FIRE


def test_two_first_level_sensors_escalate_to_one_incident(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    assert world.reports() == []
    world.feed("GT-102", [(30, 25), (35, 26)])
    assert len(world.reports()) == 1
    report = world.reports()[0]
    assert report.severity == 2 and "GT-101" in report.description
    assert "GT-102" in report.description
    # a third sensor of the same installation joins the same episode
    world.feed("TT-103", [(40, 70), (45, 70)], unit="°C")
    assert len(world.reports()) == 1
    with world.sessions() as s:
        ep = s.scalar(select(SensorEpisode))
        assert ep is not None and ep.sensors == ["GT-101", "GT-102", "TT-103"]
        assert {w.incident_id for w in s.scalars(select(SensorWarning))} == {ep.incident_id}


def test_first_level_sensors_far_apart_in_time_do_not_correlate(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25), (6, 10)])   # fires and clears
    world.feed("GT-102", [(200, 25), (205, 25)])
    assert world.reports() == []
    assert len(world.events("sensor.warning")) == 2


def test_sensors_of_different_installations_do_not_correlate(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    world.feed("GT-201", [(10, 25), (15, 25)])
    assert world.reports() == []


def test_correlation_then_second_level_raises_the_severity_once(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    world.feed("GT-102", [(10, 25), (15, 25)])
    world.feed("GT-102", [(20, 45), (25, 45)])
    assert len(world.reports()) == 1
    updates = world.events("incident.updated")
    assert [u.data["changes"]["severity"] for u in updates] == [3]
    world.feed("GT-101", [(30, 45), (35, 45)])
    assert len(world.events("incident.updated")) == 1
    with world.sessions() as s:
        incident = s.get(Incident, world.reports()[0].id)
        assert incident is not None and incident.severity == 3


def test_clearing_closes_the_episode_and_a_new_alarm_reuses_an_active_incident(
        world: World) -> None:
    world.feed("GT-101", [(0, 45), (5, 45)])
    world.feed("GT-101", [(10, 37)])
    assert [e.data["to"] for e in world.events("sensor.downgraded")] == [1]
    world.feed("GT-101", [(11, 10)])
    (cleared,) = world.events("sensor.cleared")
    assert cleared.data["episode_closed"] is not None
    # the incident is still being worked: the next alarm goes to it, not to a new one
    world.feed("GT-101", [(100, 45), (105, 45)])
    assert len(world.reports()) == 1
    assert world.count(SensorEpisode) == 2
    alarms = world.events("sensor.alarm")
    assert len(alarms) == 2 and alarms[1].incident_id == alarms[0].incident_id
    # once the incident is closed, a new alarm is a new incident
    world.feed("GT-101", [(110, 10)])
    with session_scope(world.sessions) as s:
        incident = s.get(Incident, world.reports()[0].id)
        assert incident is not None
        incident.status = IncidentStatus.CLOSED
    world.feed("GT-101", [(200, 45), (205, 45)])
    assert len(world.reports()) == 2


def test_a_restarted_engine_does_not_fire_again_and_still_clears(world: World) -> None:
    world.feed("GT-101", [(0, 45), (5, 45)])
    assert len(world.reports()) == 1
    world.engine.stop()
    restarted = world.second_engine()
    assert restarted.trackers[(world.enterprise_id, "GT-101")].level == 2
    world.feed("GT-101", [(10, 46), (20, 47), (30, 48)], engine=restarted)
    assert len(world.reports()) == 1
    assert world.count(SensorWarning) == 1
    world.feed("GT-101", [(40, 5)], engine=restarted)
    assert len(world.events("sensor.cleared")) == 1
    with world.sessions() as s:
        assert s.scalar(select(SensorEpisode.closed_at)) is not None


def test_two_processes_on_one_database_report_once(world: World) -> None:
    other = world.second_engine()
    for sec, value in [(0, 25), (2, 45), (5, 46), (7, 47)]:
        world.feed("GT-101", [(sec, value)])
        world.feed("GT-101", [(sec, value)], engine=other)
    world.feed("GT-102", [(8, 25), (13, 25)], engine=other)
    world.feed("GT-102", [(8, 25), (13, 25)])
    assert len(world.reports()) == 1
    assert world.count(SensorWarning) == 2
    assert len(world.events("sensor.alarm")) == 1
    warnings = world.events("sensor.warning")
    assert sorted(e.data["sensor"]["sensor_id"] for e in warnings) == ["GT-101", "GT-102"]
    assert warnings[1].data["incident_id"] == world.reports()[0].id
    world.feed("GT-101", [(20, 1)], engine=other)
    world.feed("GT-101", [(20, 1)])
    assert len(world.events("sensor.cleared")) == 1


def test_an_episode_claimed_before_a_crash_is_reported_on_start(world: World) -> None:
    with session_scope(world.sessions) as s:
        inst = s.scalar(select(HazardInstallation).where(HazardInstallation.code == "T-01"))
        assert inst is not None
        s.add(SensorEpisode(enterprise_id=world.enterprise_id, installation_id=inst.id,
                            trigger="level2", severity=3, sensors=["GT-101"],
                            county_id=world.county_id, opened_at=T0))
    world.second_engine()
    assert len(world.reports()) == 1
    world.second_engine()   # reported now: a further start does nothing
    assert len(world.reports()) == 1


def test_an_incident_off_the_map_falls_back_to_the_enterprise(world: World) -> None:
    # a sensor whose surveyed position lies outside the road map
    with session_scope(world.sessions) as s:
        inst = s.scalar(select(HazardInstallation).where(HazardInstallation.code == "T-01"))
        assert inst is not None
        inst.sensors = [{**SENSORS_T01[0], "lat": 10.0, "lon": 10.0}]
    world.engine.reload()
    world.feed("GT-101", [(0, 45), (5, 45)])
    (r,) = world.reports()
    assert (r.lat, r.lon) == (-23.55, -46.65) and r.enterprise_id == world.enterprise_id


def test_unknown_and_malformed_readings_change_nothing(world: World) -> None:
    before = len(world.events())
    world.feed("NOPE-1", [(0, 99), (5, 99)])
    bad_unit = parse_reading(world.enterprise_id, "GT-101",
                             {"ts": T0.isoformat(), "value": 99, "unit": "ppm"})
    future = parse_reading(world.enterprise_id, "GT-101",
                           {"ts": (T0 + dt.timedelta(hours=2)).isoformat(), "value": 99,
                            "unit": "%LEL"})
    result = world.engine.ingest([bad_unit, future])
    assert result.malformed == 2
    mq = world.engine.ingest_mqtt([
        ("redline/sensors/1/GT-101", b"garbage"),
        ("redline/sensors/x/GT-101", b"{}"),
        (f"redline/sensors/{world.enterprise_id}/GT-101", b'{"value": 1}'),
    ])
    assert mq.malformed == 3
    items = world.engine.ingest_items(world.enterprise_id, [
        "nope", {"enterprise_id": world.enterprise_id, "sensor_id": "GT-101", "value": 1}])
    assert items.malformed == 2
    stats = world.engine.stats.view()
    assert stats["unknown"] == 2 and stats["malformed"] == 7 and stats["accepted"] == 0
    assert stats["per_enterprise"][str(world.enterprise_id)]["unknown"] == 2
    assert len(world.events()) == before
    assert world.count(SensorWarning) == 0 and world.reports() == []


def test_out_of_range_and_silent_sensors_are_faults(world: World) -> None:
    world.feed("TT-103", [(0, 500)], unit="°C")
    (fault,) = world.events("sensor.fault")
    assert fault.data["reason"] == "out_of_range" and fault.data["contact"]["phone"]
    assert fault.county_id == world.county_id
    world.feed("TT-103", [(1, 20)], unit="°C")
    assert len(world.events("sensor.fault.cleared")) == 1
    world.feed("GT-101", [(2, 1)])
    world.clock.advance(61)
    world.engine.tick()
    silent = [e for e in world.events("sensor.fault") if e.data["reason"] == "silent"]
    assert [e.data["sensor"]["sensor_id"] for e in silent] == ["GT-101"]
    world.engine.tick()
    assert len(world.events("sensor.fault")) == 2
    world.feed("GT-101", [(100, 1)])
    assert len(world.events("sensor.fault.cleared")) == 2
    assert world.count(SensorWarning) == 0 and world.reports() == []


def test_last_values_are_flushed_and_heartbeats_survive_a_restart(world: World) -> None:
    world.feed("GT-101", [(0, 1)])
    world.engine.flush_status(force=True)
    with world.sessions() as s:
        st = s.get(SensorStatus, (world.enterprise_id, "GT-101"))
        assert st is not None and st.last_value == 1
    restarted = world.second_engine()
    world.clock.advance(120)
    restarted.tick()
    assert world.count(SensorFault) == 1


def test_officer_acknowledges_silences_and_dismisses(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    (warning,) = world.engine.list_warnings(DUTY, "open")
    wid = warning["id"]
    assert world.engine.ack(DUTY, wid)["status"] == "acked"
    assert world.engine.list_warnings(DUTY, "open") == []
    assert [w["id"] for w in world.engine.list_warnings(DUTY, "active")] == [wid]
    silenced = world.engine.silence(DUTY, wid, 30)
    assert silenced["status"] == "silenced" and silenced["silenced_by"] == "duty"
    # the alarm clears and comes back within the silence: logged, marked silenced
    world.feed("GT-101", [(10, 5), (20, 25), (25, 25)])
    warnings = world.events("sensor.warning")
    assert [w.data["silenced"] for w in warnings] == [False, True]
    second = warnings[1].data["warning_id"]
    dismissed = world.engine.dismiss(DUTY, second, "calibration by the enterprise")
    assert dismissed["status"] == "dismissed"
    types = [e.type for e in world.events() if e.type.startswith("sensor.warning.")]
    assert types == ["sensor.warning.acked", "sensor.warning.silenced",
                     "sensor.warning.dismissed"]
    with pytest.raises(Conflict):
        world.engine.dismiss(DUTY, second, "again")
    with pytest.raises(InvalidInput):
        world.engine.dismiss(DUTY, wid, "  ")
    with pytest.raises(InvalidInput):
        world.engine.silence(DUTY, second, 0)
    with pytest.raises(NotFound):
        world.engine.ack(DUTY, 9999)
    trainer = Actor(user_id=3, username="t", role=Role.TRAINER, unit_id=None, region_id=None)
    with pytest.raises(Forbidden):
        world.engine.ack(trainer, wid)
    other_region = Actor(user_id=4, username="o", role=Role.DUTY_OFFICER, unit_id=None,
                         region_id=world.county_id + 100)
    with pytest.raises(NotFound):
        world.engine.ack(other_region, wid)
    assert world.engine.list_warnings(other_region) == []


def test_a_dismissed_warning_does_not_make_an_incident(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    (warning,) = world.engine.list_warnings(DUTY, "open")
    world.engine.dismiss(DUTY, warning["id"], "detector under maintenance")
    world.feed("GT-102", [(10, 25), (15, 25)])
    assert world.reports() == []


def test_silences_run_out(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    (warning,) = world.engine.list_warnings(DUTY, "open")
    world.engine.silence(DUTY, warning["id"], 5)
    world.clock.advance(5 * 60 + 1)
    world.engine.tick()
    assert [w["id"] for w in world.engine.list_warnings(DUTY, "open")] == [warning["id"]]
    assert len(world.events("sensor.warning.unsilenced")) == 1


def test_ingest_tokens_are_stored_as_hashes(world: World) -> None:
    with pytest.raises(Forbidden):
        world.engine.issue_token(DUTY, world.enterprise_id)
    token = world.engine.issue_token(ADMIN, world.enterprise_id)
    assert world.engine.enterprise_for_token(token) == world.enterprise_id
    with world.sessions() as s:
        stored = s.get(Enterprise, world.enterprise_id).ingest_token_hash
        assert stored is not None and token not in stored
    again = world.engine.issue_token(ADMIN, world.enterprise_id)
    assert world.engine.enterprise_for_token(token) is None
    assert world.engine.enterprise_for_token(again) == world.enterprise_id
    assert world.engine.enterprise_for_token("") is None
    with pytest.raises(NotFound):
        world.engine.issue_token(ADMIN, 9999)
    assert len(world.events("sensor.ingest_token.issued")) == 2


def test_sensors_view_lists_levels_and_faults(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    view = {v["sensor_id"]: v for v in world.engine.sensors_view(DUTY)}
    assert set(view) == {"GT-101", "GT-102", "TT-103", "GT-201"}
    assert view["GT-101"]["level"] == 1 and view["GT-101"]["last_value"] == 25
    assert view["GT-102"]["last_value"] is None


# ---- found in review: each of these once lost or faked an alarm ---------------------------


def _msg(eid: int, sid: str, sec: float, value: float | str, unit: str = "%LEL"
         ) -> tuple[str, bytes]:
    ts = (T0 + dt.timedelta(seconds=sec)).isoformat()
    return (f"redline/sensors/{eid}/{sid}",
            f'{{"ts":"{ts}","value":{value},"unit":"{unit}"}}'.encode())


def test_poison_messages_are_malformed_and_never_sink_their_batch(world: World) -> None:
    eid = world.enterprise_id
    world.clock.now = T0 + dt.timedelta(seconds=10)
    poison = [
        _msg(eid, "GT-101", 1, "9" * 400),  # an integer no float can hold
        ("redline/sensors/²/GT-101", _msg(eid, "GT-101", 1, 45)[1]),  # not an ASCII digit
        ("redline/sensors/١/GT-101", _msg(eid, "GT-101", 1, 45)[1]),  # Arabic-Indic one
        (f"redline/sensors/{eid}/GT-101",
         b'{"ts":"0001-01-01T00:00:00+14:00","value":1,"unit":"%LEL"}'),  # off the calendar
        (f"redline/sensors/{eid}/GT-101", b"[" * 2000 + b"]" * 2000),  # nested too deep
    ]
    good = [_msg(eid, "GT-101", s, 45) for s in range(8)]
    result = world.engine.ingest_mqtt(good[:4] + poison + good[4:])
    assert result.malformed == len(poison) and result.accepted == len(good)
    assert len(world.reports()) == 1

    items: list[Any] = [{"enterprise_id": eid, "sensor_id": "GT-102", "ts": (
        T0 + dt.timedelta(seconds=s)).isoformat(), "value": 1, "unit": "%LEL"} for s in range(3)]
    items.append({**items[0], "ts": "0001-01-01T00:00:00+14:00"})
    http = world.engine.ingest_items(eid, items)
    assert (http.accepted, http.malformed) == (3, 1)


def test_a_reading_stamped_ahead_neither_hides_nor_fakes_an_alarm(world: World) -> None:
    eid = world.enterprise_id
    # a glitch stamped minutes ahead is refused, so the real readings after it count
    glitch = world.engine.ingest([parse_reading(eid, "GT-101", {
        "ts": (T0 + dt.timedelta(seconds=290)).isoformat(), "value": 1, "unit": "%LEL"})])
    assert glitch.malformed == 1
    world.feed("GT-101", [(s, 45) for s in range(1, 30)])
    assert len(world.reports()) == 1


def test_a_spike_stamped_ahead_is_still_one_spike(world: World) -> None:
    eid = world.enterprise_id
    world.clock.now = T0
    for sec in (0, 25):  # both arrive at the same hub instant, the second stamped 25 s on
        world.engine.ingest([parse_reading(eid, "GT-101", {
            "ts": (T0 + dt.timedelta(seconds=sec)).isoformat(), "value": 45, "unit": "%LEL"})])
    assert world.reports() == []


def test_an_alarm_after_the_incident_closed_reports_a_new_one(world: World) -> None:
    world.feed("GT-101", [(0, 25), (5, 25)])
    world.feed("GT-102", [(10, 25), (15, 25)])
    (first,) = world.reports()
    world.feed("GT-102", [(20, 1)])  # GT-102 clears; GT-101 lingers at level 1
    with session_scope(world.sessions) as s:
        incident = s.get(Incident, first.id)
        assert incident is not None
        incident.status = IncidentStatus.CLOSED
    world.feed("TT-103", [(3600, 95), (3605, 96)], unit="°C")  # an hour later: fire
    reports = world.reports()
    assert len(reports) == 2 and reports[1].status is IncidentStatus.ACTIVE


def test_a_gas_detector_past_full_scale_alarms(world: World) -> None:
    world.feed("GT-101", [(0, 0)] + [(s, 101) for s in range(1, 30)])
    assert len(world.reports()) == 1
    assert [e.data["reason"] for e in world.events("sensor.fault")] == ["out_of_range"]


def test_no_false_silence_when_another_process_gets_the_readings(world: World) -> None:
    world.feed("GT-101", [(0, 1)])
    world.engine.flush_status(force=True)
    other = world.second_engine()  # behind the same load balancer, gets no HTTP batch
    for sec in range(30, 600, 30):
        world.feed("GT-101", [(sec, 1)])
        world.engine.flush_status(force=True)
        other.tick()
        world.engine.tick()
    with world.sessions() as s:
        assert s.scalars(select(SensorFault).where(SensorFault.cleared_at.is_(None))).all() == []


def test_a_batch_sent_newest_first_is_taken_in_time_order(world: World) -> None:
    eid = world.enterprise_id
    world.clock.now = T0 + dt.timedelta(seconds=10)
    items = [{"enterprise_id": eid, "sensor_id": "GT-102", "ts": (
        T0 + dt.timedelta(seconds=s)).isoformat(), "value": 1, "unit": "%LEL"}
        for s in (9, 6, 3, 0)]
    assert world.engine.ingest_items(eid, items).accepted == 4
