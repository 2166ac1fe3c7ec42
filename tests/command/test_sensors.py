"""Pure sensor alarm logic: configuration, parsing, hold, hysteresis, health, correlation."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from command.sensors import (
    LEL_CEILING,
    ConfigError,
    FaultChange,
    IngestStats,
    LevelChange,
    Malformed,
    SensorSpec,
    SensorTracker,
    Thresholds,
    correlated,
    oel_ppm,
    on_duty_contact,
    parse_mqtt,
    parse_reading,
    parse_sensor,
    parse_topic,
)
from plans.hazards import normalize_un
from tests.clock import Clock

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
PLACE = {"enterprise_id": 7, "installation_id": 3, "code": "T-01", "name": "液氯储罐区",
         "lat": -23.55, "lon": -46.65, "chemicals": [{"name": "氯", "un": "1017"}]}


def spec(kind: str = "gas_combustible", unit: str = "%LEL", **th: float) -> SensorSpec:
    thresholds = {"level1": 20.0, "level2": 40.0, "hysteresis": 2.0, "hold_s": 5.0,
                  "heartbeat_s": 60.0, **th}
    s, _notes = parse_sensor({"sensor_id": "GT-101", "kind": kind, "unit": unit,
                              "thresholds": thresholds}, **PLACE)
    return s


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def run(tracker: SensorTracker, values: list[tuple[float, float]]) -> list[object]:
    """Feed (seconds, value) pairs; every change in order."""
    out: list[object] = []
    for sec, value in values:
        out += tracker.feed(value, at(sec), at(sec)) or []
    return out


def levels(changes: list[object]) -> list[tuple[int, int]]:
    return [(c.level_from, c.level_to) for c in changes if isinstance(c, LevelChange)]


# ---- configuration ---------------------------------------------------------------------------


def test_combustible_defaults_to_the_standard_ceiling() -> None:
    s, notes = parse_sensor({"sensor_id": "G1", "kind": "gas_combustible", "unit": "%LEL"},
                            **PLACE)
    assert (s.thresholds.level1, s.thresholds.level2) == LEL_CEILING
    assert s.thresholds.hysteresis == pytest.approx(2.5)
    assert s.chemical == "UN1017"
    assert (s.lat, s.lon) == (PLACE["lat"], PLACE["lon"])
    assert notes == []


def test_combustible_thresholds_above_the_ceiling_are_lowered_and_noted() -> None:
    s, notes = parse_sensor({"sensor_id": "G1", "kind": "gas_combustible", "unit": "%LEL",
                             "thresholds": {"level1": 30, "level2": 60}}, **PLACE)
    assert (s.thresholds.level1, s.thresholds.level2) == (25.0, 50.0)
    assert notes and "ceiling" in notes[0]


def test_toxic_thresholds_per_chemical() -> None:
    s, _ = parse_sensor({"sensor_id": "T1", "kind": "gas_toxic", "unit": "ppm"}, **PLACE)
    oel = oel_ppm("UN1017")
    assert oel == pytest.approx(0.34, abs=0.01)
    assert (s.thresholds.level1, s.thresholds.level2) == (oel, 2 * oel)
    ammonia, _ = parse_sensor({"sensor_id": "T2", "kind": "gas_toxic", "unit": "ppm",
                               "chemical": "UN1005"}, **PLACE)
    assert ammonia.thresholds.level1 == oel_ppm("UN1005")
    # the incident reports the gas the sensor measures, else the installation's first chemical
    assert (ammonia.chemical, s.chemical) == ("UN1005", "UN1017")


@pytest.mark.parametrize("raw, message", [
    ({"sensor_id": "X", "kind": "temperature", "unit": "°C"}, "required"),
    ({"sensor_id": "X", "kind": "pressure", "unit": "MPa",
      "thresholds": {"level1": 2, "level2": 1}}, "above level1"),
    ({"sensor_id": "X", "kind": "smoke", "unit": "%"}, "kind"),
    ({"sensor_id": "X", "kind": "level", "unit": "ft"}, "unit"),
    ({"sensor_id": "", "kind": "level", "unit": "m"}, "sensor_id"),
    ({"sensor_id": "a/b", "kind": "level", "unit": "m"}, "sensor_id"),
    ({"sensor_id": "X", "kind": "level", "unit": "m",
      "thresholds": {"level1": "high", "level2": 9}}, "number"),
    ({"sensor_id": "X", "kind": "level", "unit": "m",
      "thresholds": {"level1": 8, "level2": 9, "hold_s": -1}}, "hold_s"),
    ("not an object", "object"),
])
def test_bad_sensor_entries_are_refused(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sensor(raw, **PLACE)


def test_un_numbers_are_normalized() -> None:
    assert normalize_un("1017") == "UN1017"
    assert normalize_un(1005) == "UN1005"
    assert normalize_un("un 1053") == "UN1053"
    assert normalize_un("NA1993") == "NA1993"
    assert normalize_un("chlorine") is None
    assert normalize_un(None) is None


def test_on_duty_contact_prefers_the_duty_phone() -> None:
    contacts = {"on_duty_phone": "0571-1", "safety_manager": {"name": "王工", "phone": "139"}}
    assert on_duty_contact(contacts) == {"role": "on_duty", "name": "王工", "phone": "0571-1"}
    assert on_duty_contact({"safety_manager": {"name": "王工", "phone": "139"}})["phone"] == "139"
    assert on_duty_contact({"on_duty": {"name": "值班长", "phone": "110"}})["name"] == "值班长"
    assert on_duty_contact(None)["role"] == "none"


# ---- readings --------------------------------------------------------------------------------


def test_mqtt_reading_parses() -> None:
    r = parse_mqtt("redline/sensors/7/GT-101",
                   json.dumps({"ts": "2026-03-01T16:00:00+08:00", "value": 12.5,
                               "unit": "%LEL"}).encode(), "redline/sensors")
    assert (r.enterprise_id, r.sensor_id, r.value, r.unit) == (7, "GT-101", 12.5, "%LEL")
    assert r.ts == T0


@pytest.mark.parametrize("topic, payload", [
    ("redline/sensors/7/GT-101", b"not json"),
    ("redline/sensors/7/GT-101", b"[1, 2]"),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": NaN, "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": true, "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": "5", "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": 5, "unit": "LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "2026-03-01T08:00:00", "value": 5, "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": "yesterday", "value": 5, "unit": "%LEL"}'),
    ("redline/sensors/7/GT-101", b'{"ts": 1700000000, "value": 5, "unit": "%LEL"}'),
    ("redline/sensors/seven/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": 5, "unit": "%"}'),
    ("redline/sensors/7", b'{"ts": "2026-03-01T08:00:00Z", "value": 5, "unit": "%"}'),
    ("redline/sensors/7/a/b", b'{"ts": "2026-03-01T08:00:00Z", "value": 5, "unit": "%"}'),
    ("other/7/GT-101", b'{"ts": "2026-03-01T08:00:00Z", "value": 5, "unit": "%"}'),
    ("redline/sensors/7/GT-101", b"{" + b" " * 5000 + b"}"),
])
def test_malformed_mqtt_readings_are_refused(topic: str, payload: bytes) -> None:
    with pytest.raises(Malformed):
        parse_mqtt(topic, payload, "redline/sensors")


def test_batch_item_parts_are_checked() -> None:
    body = {"ts": "2026-03-01T08:00:00Z", "value": 1, "unit": "%"}
    assert parse_reading(7, "L1", body).value == 1.0
    for eid, sid in ((0, "L1"), ("7", "L1"), (True, "L1"), (7, ""), (7, None)):
        with pytest.raises(Malformed):
            parse_reading(eid, sid, body)
    assert parse_topic("p/x/3/S-1", "p/x/") == (3, "S-1")


def test_stats_count_per_enterprise() -> None:
    stats = IngestStats()
    stats.count("accepted", 7, 3)
    stats.count("unknown", 7, error="unknown sensor X")
    stats.count("malformed", None, error="bad")
    view = stats.view()
    assert (view["accepted"], view["unknown"], view["malformed"]) == (3, 1, 1)
    assert view["per_enterprise"]["7"]["accepted"] == 3
    assert view["per_enterprise"]["?"]["malformed"] == 1
    assert len(view["last_errors"]) == 2


# ---- hold and hysteresis ---------------------------------------------------------------------


def test_a_spike_shorter_than_the_hold_time_fires_nothing() -> None:
    t = SensorTracker(spec())
    changes = run(t, [(0, 3), (1, 80), (2, 45), (3, 30), (4, 5), (5, 3), (10, 3)])
    assert levels(changes) == []
    assert t.level == 0


def test_sustained_first_level_fires_after_the_hold_time() -> None:
    t = SensorTracker(spec())
    changes = run(t, [(0, 21), (1, 22), (2, 23), (3, 22), (4, 24)])
    assert levels(changes) == []
    changes = run(t, [(5, 22)])
    assert levels(changes) == [(0, 1)]
    fired = changes[0]
    assert isinstance(fired, LevelChange)
    assert fired.above_since == at(0) and fired.threshold == 20.0 and fired.value == 22
    assert levels(run(t, [(6, 25), (7, 30)])) == []


def test_hold_restarts_when_the_value_dips_below_the_threshold() -> None:
    t = SensorTracker(spec())
    assert levels(run(t, [(0, 21), (3, 21), (4, 19), (5, 21), (9, 21)])) == []
    assert levels(run(t, [(10, 21)])) == [(0, 1)]


def test_hysteresis_keeps_the_alarm_until_below_threshold_minus_hysteresis() -> None:
    t = SensorTracker(spec())
    run(t, [(0, 25), (5, 25)])
    assert t.level == 1
    assert levels(run(t, [(6, 19), (7, 18.5), (8, 18)])) == []  # 18 is not below 20 - 2
    assert levels(run(t, [(9, 17.9)])) == [(1, 0)]
    # after clearing, it needs a full hold time again
    assert levels(run(t, [(10, 21), (14, 21)])) == []
    assert levels(run(t, [(15, 21)])) == [(0, 1)]


def test_sustained_second_level_goes_straight_to_level_two() -> None:
    t = SensorTracker(spec())
    assert levels(run(t, [(0, 55), (2, 60), (5, 58)])) == [(0, 2)]
    assert levels(run(t, [(6, 39)])) == []   # 39 >= 40 - 2
    assert levels(run(t, [(7, 37)])) == [(2, 1)]
    assert levels(run(t, [(8, 17)])) == [(1, 0)]


def test_first_then_second_level() -> None:
    t = SensorTracker(spec())
    assert levels(run(t, [(0, 25), (5, 26)])) == [(0, 1)]
    assert levels(run(t, [(6, 45), (10, 45)])) == []
    assert levels(run(t, [(11, 45)])) == [(1, 2)]


def test_zero_hold_fires_on_the_first_reading() -> None:
    t = SensorTracker(spec(hold_s=0))
    assert levels(run(t, [(0, 41)])) == [(0, 2)]


def test_late_or_repeated_readings_are_ignored() -> None:
    t = SensorTracker(spec())
    assert t.feed(5, at(10), at(10)) == []
    assert t.feed(5, at(10), at(11)) is None
    assert t.feed(50, at(9), at(11)) is None
    assert t.last_value == 5


def test_revert_lets_the_next_reading_fire_again() -> None:
    t = SensorTracker(spec())
    change = run(t, [(0, 25), (5, 25)])[0]
    assert isinstance(change, LevelChange)
    t.revert(change)
    assert t.level == 0
    assert levels(run(t, [(6, 25)])) == [(0, 1)]


# ---- health ----------------------------------------------------------------------------------


def faults(changes: list[object]) -> list[tuple[str, bool]]:
    return [(c.reason, c.raised) for c in changes if isinstance(c, FaultChange)]


def test_out_of_range_is_a_fault_and_over_full_scale_gas_still_alarms() -> None:
    t = SensorTracker(spec(hold_s=0))
    # below zero past drift: a broken sensor, not gas
    changes = run(t, [(0, -9)])
    assert faults(changes) == [("out_of_range", True)]
    assert levels(changes) == [] and t.level == 0
    assert faults(run(t, [(1, -12)])) == []  # once per fault
    assert faults(run(t, [(2, 3)])) == [("out_of_range", False)]
    # past full scale a combustible-gas detector means an explosive atmosphere (a catalytic
    # bead may even read low there): the fault and the top alarm level both
    changes = run(t, [(3, 120)])
    assert faults(changes) == [("out_of_range", True)]
    assert levels(changes) == [(0, 2)] and t.level == 2


def test_hold_time_runs_on_the_hubs_clock_too() -> None:
    t = SensorTracker(spec(hold_s=10))
    now = T0
    # two readings at the same hub instant, the second stamped 20 s ahead: still one spike
    assert levels(t.feed(45.0, T0, now) or []) == []
    assert levels(t.feed(45.0, T0 + dt.timedelta(seconds=20), now) or []) == []
    assert t.level == 0
    later = T0 + dt.timedelta(seconds=21)
    assert levels(t.feed(45.0, T0 + dt.timedelta(seconds=22), later) or []) == [(0, 2)]


def test_configured_range_is_used() -> None:
    t = SensorTracker(spec("temperature", "°C", level1=60, level2=80, min=-40, max=200))
    assert faults(run(t, [(0, 250)])) == [("out_of_range", True)]
    assert faults(run(t, [(1, 25)])) == [("out_of_range", False)]


def test_stuck_value_is_a_fault_after_n_readings_and_time() -> None:
    t = SensorTracker(spec("pressure", "MPa", level1=1.6, level2=2.0, stuck_n=5, stuck_s=60))
    assert faults(run(t, [(i * 10, 0.8) for i in range(6)])) == []  # 6 readings, only 50 s
    assert faults(run(t, [(60, 0.8)])) == [("stuck", True)]
    assert faults(run(t, [(70, 0.8)])) == []
    assert faults(run(t, [(80, 0.81)])) == [("stuck", False)]


def test_clean_air_zero_on_a_gas_detector_is_not_stuck() -> None:
    t = SensorTracker(spec(stuck_n=3, stuck_s=10))
    assert faults(run(t, [(i * 10, 0.0) for i in range(10)])) == []
    t2 = SensorTracker(spec(stuck_n=3, stuck_s=10))
    assert faults(run(t2, [(i * 10, 1.5) for i in range(4)])) == [("stuck", True)]


def test_silent_sensor_uses_the_service_clock() -> None:
    clock = Clock(T0)
    t = SensorTracker(spec(heartbeat_s=60))
    assert t.check_silent(clock()) is None  # never reported: nothing to miss
    t.feed(3, clock(), clock())
    clock.advance(60)
    assert t.check_silent(clock()) is None
    clock.advance(1)
    change = t.check_silent(clock())
    assert change is not None and change.raised and change.reason == "silent"
    assert change.detail["quiet_s"] == 61
    assert t.check_silent(clock.advance(100)) is None  # flagged once
    back = t.feed(3, clock(), clock())
    assert back is not None and faults(back) == [("silent", False)]


# ---- correlation -----------------------------------------------------------------------------


def test_two_sensors_within_the_window_correlate() -> None:
    assert correlated("B", at(100), [("A", at(0), False)], 120) == ["A"]
    assert correlated("B", at(130), [("A", at(0), False)], 120) == []
    # still in alarm counts however long ago it fired
    assert correlated("B", at(3600), [("A", at(0), True)], 120) == ["A"]
    # the same sensor twice is not two sensors
    assert correlated("A", at(10), [("A", at(0), True)], 120) == []
    assert correlated("C", at(10), [("A", at(0), True), ("B", at(5), True),
                                    ("A", at(1), False)], 120) == ["A", "B"]


def test_thresholds_of_levels() -> None:
    th = Thresholds(level1=1.0, level2=2.0, hysteresis=0.1)
    assert (th.of(1), th.of(2)) == (1.0, 2.0)
