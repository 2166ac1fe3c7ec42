"""Online monitoring of major hazard installations: readings in, warnings, faults and incidents out.

The pure part (sensor configuration, reading parsing, one tracker per sensor, correlation) has no
database; the engine applies what a tracker decides through the command service, so every
warning, fault and automatic report is in the event log. Timing of hold and hysteresis follows
the readings' own timestamps; heartbeats follow the service clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import queue
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from command.auth import Actor
from command.errors import CommandError, Conflict, Forbidden, InvalidInput, NotFound
from command.models import Incident, IncidentKind, IncidentStatus, Role
from command.sensor_models import (
    SensorEpisode,
    SensorFault,
    SensorStatus,
    SensorWarning,
)
from command.service import CommandService, IncidentChange, IncidentReport
from plans.hazards import normalize_un

log = logging.getLogger(__name__)

SYSTEM_ACTOR = Actor(user_id=0, username="system:sensors", role=Role.DUTY_OFFICER, unit_id=None,
                     region_id=None)

KINDS = ("gas_combustible", "gas_toxic", "temperature", "pressure", "level")
UNITS = ("%LEL", "ppm", "°C", "MPa", "m", "%")
INCIDENT_KIND = {
    "gas_combustible": IncidentKind.LEAK,
    "gas_toxic": IncidentKind.LEAK,
    "temperature": IncidentKind.FIRE,
    "pressure": IncidentKind.EXPLOSION,
    "level": IncidentKind.LEAK,
}
# when sensors of different kinds alarm together, report the worst
_KIND_RANK = {IncidentKind.EXPLOSION: 3, IncidentKind.FIRE: 2, IncidentKind.LEAK: 1}

# GB/T 50493-2019: combustible gas first alarm at most 25 %LEL, second at most 50 %LEL
LEL_CEILING = (25.0, 50.0)
# toxic gas: first alarm at most 100 % OEL, second at most 200 % OEL, where OEL is the MAC, else
# PC-STEL, else PC-TWA of GBZ 2.1-2019 (mg/m³), here with the molar mass to convert to ppm
TOXIC_OEL: dict[str, tuple[str, float, float]] = {
    "UN1005": ("ammonia", 30.0, 17.03),
    "UN1016": ("carbon monoxide", 30.0, 28.01),
    "UN1017": ("chlorine", 1.0, 70.90),
    "UN1050": ("hydrogen chloride", 7.5, 36.46),
    "UN1051": ("hydrogen cyanide", 1.0, 27.03),
    "UN1053": ("hydrogen sulphide", 10.0, 34.08),
    "UN1076": ("phosgene", 0.5, 98.92),
    "UN1079": ("sulphur dioxide", 10.0, 64.07),
    "UN1114": ("benzene", 10.0, 78.11),
}
MOLAR_VOLUME_L = 24.45  # litres per mole at 25 °C, 101.325 kPa

DEFAULT_HOLD_S = 5.0
DEFAULT_HEARTBEAT_S = 120.0
DEFAULT_STUCK_N = 60
DEFAULT_STUCK_S = 600.0
# physical range when the sensor's configuration gives none; a little slack under zero for drift
DEFAULT_RANGE: dict[str, tuple[float | None, float | None]] = {
    "%LEL": (-5.0, 100.0),
    "%": (-5.0, 105.0),
    "ppm": (-5.0, None),
}
MAX_PAYLOAD_BYTES = 4096
# a sensor's clock may run this far ahead of the hub's; a reading stamped later is refused
# (it would make every genuine reading before its time look stale)
MAX_FUTURE_S = 30.0


def oel_ppm(un: str | None) -> float | None:
    """The occupational exposure limit of a toxic gas in ppm, if the table knows it."""
    row = TOXIC_OEL.get(normalize_un(un) or "")
    if row is None:
        return None
    _name, mg_m3, molar_mass = row
    return round(mg_m3 * MOLAR_VOLUME_L / molar_mass, 2)


# ---- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """When a sensor alarms, clears and is considered faulty."""

    level1: float
    level2: float
    hysteresis: float
    hold_s: float = DEFAULT_HOLD_S
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    min: float | None = None
    max: float | None = None
    stuck_n: int = DEFAULT_STUCK_N
    stuck_s: float = DEFAULT_STUCK_S

    def of(self, level: int) -> float:
        return self.level1 if level == 1 else self.level2


@dataclass(frozen=True)
class SensorSpec:
    """A registered sensor and where it sits."""

    enterprise_id: int
    installation_id: int
    installation_code: str
    installation_name: str
    sensor_id: str
    kind: str
    unit: str
    lat: float
    lon: float
    thresholds: Thresholds
    # the chemical an incident reports: the gas the sensor measures, else the installation's
    # first chemical (a temperature or pressure alarm is about what the vessel holds)
    chemical: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        return (self.enterprise_id, self.sensor_id)


@dataclass(frozen=True)
class EnterpriseInfo:
    id: int
    name: str
    county_id: int | None
    contact: dict[str, Any]


class ConfigError(ValueError):
    """A sensor entry that cannot be monitored as written."""


def _num(raw: dict[str, Any], key: str, default: float | None) -> float | None:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a number")
    return float(value)


def parse_sensor(raw: Any, *, enterprise_id: int, installation_id: int, code: str, name: str,
                 lat: float, lon: float, chemicals: Sequence[Any]) -> tuple[SensorSpec, list[str]]:
    """Check one entry of HazardInstallation.sensors; returns the spec and notes on clamping."""
    if not isinstance(raw, dict):
        raise ConfigError("sensor entry must be an object")
    sensor_id = raw.get("sensor_id")
    if not isinstance(sensor_id, str) or not sensor_id or len(sensor_id) > 100 or "/" in sensor_id:
        raise ConfigError("sensor_id must be a non-empty string without '/'")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{sensor_id}: kind must be one of {', '.join(KINDS)}")
    unit = raw.get("unit")
    if unit not in UNITS:
        raise ConfigError(f"{sensor_id}: unit must be one of {', '.join(UNITS)}")
    th = raw.get("thresholds") or {}
    if not isinstance(th, dict):
        raise ConfigError(f"{sensor_id}: thresholds must be an object")
    notes: list[str] = []
    first_un = next((normalize_un(c.get("un")) for c in chemicals
                     if isinstance(c, dict) and normalize_un(c.get("un"))), None)
    toxic_un = normalize_un(raw.get("chemical")) or next(
        (normalize_un(c.get("un")) for c in chemicals
         if isinstance(c, dict) and oel_ppm(c.get("un")) is not None), None)
    try:
        level1 = _num(th, "level1", None)
        level2 = _num(th, "level2", None)
        ceiling: tuple[float, float] | None = None
        if kind == "gas_combustible" and unit == "%LEL":
            ceiling = LEL_CEILING
        elif kind == "gas_toxic" and unit == "ppm" and oel_ppm(toxic_un) is not None:
            oel = oel_ppm(toxic_un)
            assert oel is not None
            ceiling = (oel, 2 * oel)
        if ceiling is not None:
            level1 = ceiling[0] if level1 is None else level1
            level2 = ceiling[1] if level2 is None else level2
            if level1 > ceiling[0] or level2 > ceiling[1]:
                notes.append(f"{sensor_id}: thresholds {level1}/{level2} {unit} lowered to the "
                             f"standard's ceiling {ceiling[0]}/{ceiling[1]} {unit}")
                level1, level2 = min(level1, ceiling[0]), min(level2, ceiling[1])
        if level1 is None or level2 is None:
            raise ConfigError(f"{sensor_id}: thresholds.level1 and level2 are required for "
                              f"{kind} in {unit}")
        if not level2 > level1:
            raise ConfigError(f"{sensor_id}: level2 must be above level1")
        hysteresis = _num(th, "hysteresis", round(0.1 * abs(level1), 6))
        hold_s = _num(th, "hold_s", DEFAULT_HOLD_S)
        heartbeat_s = _num(th, "heartbeat_s", DEFAULT_HEARTBEAT_S)
        lo_default, hi_default = DEFAULT_RANGE.get(unit, (None, None))
        lo = _num(th, "min", lo_default)
        hi = _num(th, "max", hi_default)
        stuck_n = _num(th, "stuck_n", DEFAULT_STUCK_N)
        stuck_s = _num(th, "stuck_s", DEFAULT_STUCK_S)
    except ConfigError as exc:
        if str(exc).startswith(sensor_id):
            raise
        raise ConfigError(f"{sensor_id}: thresholds.{exc}") from None
    assert hysteresis is not None and hold_s is not None and heartbeat_s is not None
    assert stuck_n is not None and stuck_s is not None
    if hysteresis < 0 or hold_s < 0 or heartbeat_s <= 0 or stuck_n < 2 or stuck_s < 0:
        raise ConfigError(f"{sensor_id}: hysteresis and hold_s must be >= 0, heartbeat_s > 0, "
                          "stuck_n >= 2")
    if lo is not None and hi is not None and not lo < hi:
        raise ConfigError(f"{sensor_id}: min must be below max")
    s_lat = _num(raw, "lat", lat)
    s_lon = _num(raw, "lon", lon)
    assert s_lat is not None and s_lon is not None
    spec = SensorSpec(
        enterprise_id=enterprise_id, installation_id=installation_id, installation_code=code,
        installation_name=name, sensor_id=sensor_id, kind=kind, unit=unit, lat=s_lat,
        lon=s_lon,
        thresholds=Thresholds(level1=level1, level2=level2, hysteresis=hysteresis,
                              hold_s=hold_s, heartbeat_s=heartbeat_s, min=lo, max=hi,
                              stuck_n=int(stuck_n), stuck_s=stuck_s),
        chemical=normalize_un(raw.get("chemical")) or first_un,
    )
    return spec, notes


def on_duty_contact(contacts: Any) -> dict[str, Any]:
    """Whom the command room calls at the enterprise: the duty phone, else the safety manager."""
    contacts = contacts if isinstance(contacts, dict) else {}
    duty = contacts.get("on_duty")
    manager = contacts.get("safety_manager") if isinstance(contacts.get("safety_manager"),
                                                           dict) else {}
    if isinstance(duty, dict) and duty.get("phone"):
        return {"role": "on_duty", "name": duty.get("name", ""), "phone": duty["phone"]}
    phone = contacts.get("on_duty_phone")
    if phone:
        return {"role": "on_duty", "name": manager.get("name", ""), "phone": phone}
    if manager.get("phone"):
        return {"role": "safety_manager", "name": manager.get("name", ""),
                "phone": manager["phone"]}
    return {"role": "none", "name": "", "phone": ""}


class Registry:
    """Every sensor of every installation, loaded from the enterprise data."""

    def __init__(self) -> None:
        self.sensors: dict[tuple[int, str], SensorSpec] = {}
        self.enterprises: dict[int, EnterpriseInfo] = {}
        self.problems: list[str] = []
        self.loaded_at = 0.0

    def load(self, session: Session) -> None:
        from plans.models import Enterprise

        sensors: dict[tuple[int, str], SensorSpec] = {}
        enterprises: dict[int, EnterpriseInfo] = {}
        problems: list[str] = []
        for e in session.scalars(select(Enterprise).order_by(Enterprise.id)):
            enterprises[e.id] = EnterpriseInfo(e.id, e.name, e.county_id,
                                               on_duty_contact(e.contacts))
            for h in e.installations:
                for raw in h.sensors or []:
                    try:
                        spec, notes = parse_sensor(
                            raw, enterprise_id=e.id, installation_id=h.id, code=h.code,
                            name=h.name, lat=h.lat, lon=h.lon, chemicals=h.chemicals or [])
                    except ConfigError as exc:
                        problems.append(f"enterprise {e.id} installation {h.code}: {exc}")
                        continue
                    if spec.key in sensors:
                        problems.append(f"enterprise {e.id}: sensor {spec.sensor_id} is listed "
                                        "twice; the first entry is used")
                        continue
                    problems += [f"enterprise {e.id} installation {h.code}: {n}" for n in notes]
                    sensors[spec.key] = spec
        self.sensors, self.enterprises, self.problems = sensors, enterprises, problems
        self.loaded_at = time.monotonic()


# ---- readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    enterprise_id: int
    sensor_id: str
    ts: dt.datetime
    value: float
    unit: str


class Malformed(ValueError):
    """A reading that cannot be read; counted, never applied."""


def parse_ts(raw: Any) -> dt.datetime:
    if not isinstance(raw, str) or len(raw) > 40:
        raise Malformed("ts must be an ISO-8601 string")
    try:
        ts = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        if ts.tzinfo is None:
            # a sensor's local time without an offset cannot be ordered against the hub's clock
            raise Malformed("ts needs a time zone offset")
        return ts.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # e.g. year 1 at +14:00 falls off the calendar
        raise Malformed("ts is not a valid ISO-8601 time") from None


def parse_reading(enterprise_id: Any, sensor_id: Any, body: Any) -> Reading:
    """A reading from its parts: topic or batch item, and the {ts, value, unit} object."""
    if isinstance(enterprise_id, bool) or not isinstance(enterprise_id, int) or enterprise_id < 1:
        raise Malformed("enterprise_id must be a positive integer")
    if not isinstance(sensor_id, str) or not 0 < len(sensor_id) <= 100:
        raise Malformed("sensor_id must be a string of 1 to 100 characters")
    if not isinstance(body, dict):
        raise Malformed("reading must be an object")
    value = body.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise Malformed("value must be a finite number")
    unit = body.get("unit")
    if unit not in UNITS:
        raise Malformed(f"unit must be one of {', '.join(UNITS)}")
    return Reading(enterprise_id, sensor_id, parse_ts(body.get("ts")), float(value), unit)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def parse_topic(topic: str, prefix: str) -> tuple[int, str]:
    """`<prefix>/<enterprise_id>/<sensor_id>` → (enterprise_id, sensor_id)."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        raise Malformed("topic outside the sensor prefix")
    parts = topic[len(head):].split("/")
    # isdigit() alone takes "²" and Arabic-Indic digits
    if (len(parts) != 2 or not parts[0].isascii() or not parts[0].isdigit()
            or len(parts[0]) > 12 or not parts[1]):
        raise Malformed("topic must be <prefix>/<enterprise_id>/<sensor_id>")
    return int(parts[0]), parts[1]


def parse_mqtt(topic: str, payload: bytes, prefix: str) -> Reading:
    enterprise_id, sensor_id = parse_topic(topic, prefix)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Malformed("payload too large")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Malformed("payload is not JSON (or nested too deep)") from None
    return parse_reading(enterprise_id, sensor_id, body)


# ---- one sensor's state ----------------------------------------------------------------------


@dataclass(frozen=True)
class LevelChange:
    """The alarm level of a sensor went up (after the hold time) or down (past hysteresis)."""

    level_from: int
    level_to: int
    value: float
    ts: dt.datetime
    threshold: float
    # first reading at or above the threshold that fired (rises only)
    above_since: dt.datetime | None = None


@dataclass(frozen=True)
class FaultChange:
    reason: str  # silent | stuck | out_of_range
    raised: bool
    detail: dict[str, Any] = field(default_factory=dict)


Change = LevelChange | FaultChange


class SensorTracker:
    """Alarm level, hold timers and health of one sensor; pure, fed one reading at a time."""

    def __init__(self, spec: SensorSpec) -> None:
        self.spec = spec
        self.level = 0
        # level -> timestamp of the first reading at/above its threshold in the current run
        self.pending: dict[int, dt.datetime] = {}
        self.faults: set[str] = set()
        self.last_ts: dt.datetime | None = None
        self.last_value: float | None = None
        self.last_seen: dt.datetime | None = None
        self._run_value: float | None = None
        self._run_start: dt.datetime | None = None
        self._run_count = 0

    def feed(self, value: float, ts: dt.datetime, now: dt.datetime) -> list[Change] | None:
        """Apply one reading; None when it is older than the last one (replayed or late)."""
        if self.last_ts is not None and ts <= self.last_ts:
            return None
        th = self.spec.thresholds
        out: list[Change] = []
        self.last_ts, self.last_value, self.last_seen = ts, value, now
        if "silent" in self.faults:
            self.faults.discard("silent")
            out.append(FaultChange("silent", False))
        # the hold time runs on the hub's clock too: a reading stamped ahead must not make a
        # single spike look sustained
        held_ts = min(ts, now)
        if (th.min is not None and value < th.min) or (th.max is not None and value > th.max):
            self._reset_run()
            if "out_of_range" not in self.faults:
                self.faults.add("out_of_range")
                out.append(FaultChange("out_of_range", True, {
                    "value": value, "min": th.min, "max": th.max, "ts": ts.isoformat()}))
            if self.spec.kind.startswith("gas_") and th.max is not None and value > th.max:
                # a gas detector at or past full scale means gas, not a broken sensor
                out += self._levels(value, held_ts)
            # otherwise an impossible value says nothing about the gas: no alarm, no clear
            return out
        if "out_of_range" in self.faults:
            self.faults.discard("out_of_range")
            out.append(FaultChange("out_of_range", False, {"value": value}))
        out += self._stuck(value, ts)
        out += self._levels(value, held_ts)
        return out

    def _reset_run(self) -> None:
        self._run_value, self._run_start, self._run_count = None, None, 0

    def _stuck(self, value: float, ts: dt.datetime) -> list[Change]:
        th = self.spec.thresholds
        if value != self._run_value:
            self._run_value, self._run_start, self._run_count = value, ts, 1
            if "stuck" in self.faults:
                self.faults.discard("stuck")
                return [FaultChange("stuck", False, {"value": value})]
            return []
        self._run_count += 1
        assert self._run_start is not None
        # zero-suppressed gas detectors read exactly 0 in clean air for hours
        exempt = self.spec.kind.startswith("gas_") and value == 0
        if ("stuck" not in self.faults and not exempt and self._run_count >= th.stuck_n
                and (ts - self._run_start).total_seconds() >= th.stuck_s):
            self.faults.add("stuck")
            return [FaultChange("stuck", True, {
                "value": value, "readings": self._run_count,
                "since": self._run_start.isoformat()})]
        return []

    def _levels(self, value: float, ts: dt.datetime) -> list[Change]:
        th = self.spec.thresholds
        old = self.level
        level = old
        while level > 0 and value < th.of(level) - th.hysteresis:
            level -= 1
        for lv in (1, 2):
            if lv <= level or value < th.of(lv):
                self.pending.pop(lv, None)
            else:
                self.pending.setdefault(lv, ts)
        due = [lv for lv, since in self.pending.items()
               if (ts - since).total_seconds() >= th.hold_s]
        above_since = None
        if due:
            top = max(due)
            above_since = self.pending[top]
            level = top
            for lv in list(self.pending):
                if lv <= level:
                    del self.pending[lv]
        self.level = level
        if level == old:
            return []
        # a rise reports the threshold it crossed, a fall the one it fell below
        return [LevelChange(old, level, value, ts, th.of(max(level, old)), above_since)]

    def overdue(self, now: dt.datetime) -> float | None:
        """Seconds quiet, if it reported before, is past its heartbeat and not yet flagged."""
        if self.last_seen is None or "silent" in self.faults:
            return None
        quiet = (now - self.last_seen).total_seconds()
        return quiet if quiet > self.spec.thresholds.heartbeat_s else None

    def check_silent(self, now: dt.datetime) -> FaultChange | None:
        """Flag a sensor that reported before and has been quiet past its heartbeat."""
        quiet = self.overdue(now)
        if quiet is None or self.last_seen is None:
            return None
        self.faults.add("silent")
        return FaultChange("silent", True, {"last_seen": self.last_seen.isoformat(),
                                            "quiet_s": round(quiet, 1),
                                            "heartbeat_s": self.spec.thresholds.heartbeat_s})

    def revert(self, change: LevelChange) -> None:
        """Undo a rise the database refused, so the next reading tries again."""
        self.level = change.level_from
        if change.level_to > change.level_from and change.above_since is not None:
            self.pending[change.level_to] = change.above_since


def correlated(sensor_id: str, ts: dt.datetime,
               others: Iterable[tuple[str, dt.datetime, bool]], window_s: float) -> list[str]:
    """Other sensors of an installation whose first-level alarm, together with this one, makes
    an incident: still in alarm, or fired within the window. `others` is (sensor, raised, active)
    for alarms the officer has not dismissed."""
    found: list[str] = []
    for other, raised, active in others:
        if other == sensor_id or other in found:
            continue
        if active or abs((ts - raised).total_seconds()) <= window_s:
            found.append(other)
    return found


# ---- counters --------------------------------------------------------------------------------


class IngestStats:
    """Readings accepted, unknown, malformed, late and dropped, in total and per enterprise."""

    FIELDS = ("accepted", "unknown", "malformed", "stale", "dropped")

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.by_enterprise: dict[str, Counter[str]] = {}
        self.last_errors: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def count(self, what: str, enterprise: Any, n: int = 1, error: str | None = None) -> None:
        key = str(enterprise) if enterprise is not None else "?"
        with self._lock:
            self.total[what] += n
            self.by_enterprise.setdefault(key, Counter())[what] += n
            if error is not None:
                self.last_errors = [*self.last_errors[-19:],
                                    {"enterprise": key, "kind": what, "error": error}]

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{f: self.total[f] for f in self.FIELDS},
                "per_enterprise": {k: {f: c[f] for f in self.FIELDS}
                                   for k, c in sorted(self.by_enterprise.items())},
                "last_errors": list(self.last_errors),
            }


@dataclass
class IngestResult:
    accepted: int = 0
    unknown: int = 0
    malformed: int = 0
    stale: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "unknown": self.unknown, "malformed": self.malformed,
                "stale": self.stale, "errors": self.errors[:50]}


# ---- views -----------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def warning_view(w: SensorWarning) -> dict[str, Any]:
    return {
        "id": w.id, "enterprise_id": w.enterprise_id, "installation_id": w.installation_id,
        "sensor_id": w.sensor_id, "kind": w.kind, "unit": w.unit, "level": w.level,
        "peak_level": w.peak_level, "status": w.status, "value": w.value,
        "peak_value": w.peak_value, "threshold": w.threshold,
        "position": {"lat": w.lat, "lon": w.lon}, "county_id": w.county_id,
        "above_since": _iso(w.above_since_ts), "raised_ts": _iso(w.raised_ts),
        "raised_at": _iso(w.raised_at), "cleared_at": _iso(w.cleared_at),
        "acked_at": _iso(w.acked_at), "acked_by": w.acked_by,
        "silenced_until": _iso(w.silenced_until), "silenced_by": w.silenced_by,
        "dismissed_at": _iso(w.dismissed_at), "dismissed_by": w.dismissed_by,
        "dismiss_reason": w.dismiss_reason, "episode_id": w.episode_id,
        "incident_id": w.incident_id,
    }


def fault_view(f: SensorFault) -> dict[str, Any]:
    return {"id": f.id, "enterprise_id": f.enterprise_id, "installation_id": f.installation_id,
            "sensor_id": f.sensor_id, "reason": f.reason, "detail": f.detail,
            "county_id": f.county_id, "detected_at": _iso(f.detected_at),
            "cleared_at": _iso(f.cleared_at)}


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


WARNING_STATUSES = ("open", "acked", "silenced", "dismissed", "cleared")
ACTIVE_STATUSES = ("open", "acked", "silenced")


# ---- the engine ------------------------------------------------------------------------------


class SensorEngine:
    """Turns readings into warnings, faults and automatic incident reports."""

    def __init__(self, service: CommandService, *, correlation_window_s: float = 120.0,
                 registry_refresh_s: float = 60.0, status_flush_s: float = 10.0,
                 inbox_size: int = 200_000) -> None:
        self.service = service
        self.correlation_window_s = correlation_window_s
        self.registry_refresh_s = registry_refresh_s
        self.status_flush_s = status_flush_s
        self.registry = Registry()
        self.trackers: dict[tuple[int, str], SensorTracker] = {}
        self.stats = IngestStats()
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=inbox_size)
        self.topic_prefix = "redline/sensors"
        self.stopped = threading.Event()
        self._lock = threading.RLock()
        self._dirty: set[tuple[int, str]] = set()
        # silent faults open in the database, perhaps raised by another hub process that gets
        # none of this sensor's HTTP batches: the next reading here clears them
        self._silent_open: set[tuple[int, str]] = set()
        self._silent_read_at = float("-inf")
        self._last_flush = time.monotonic()
        self._last_unknown_refresh = 0.0
        self._unreported: set[int] = set()
        self.started = False
        self.pumping = False
        self.bridge: MqttBridge | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Load the sensors and pick up open warnings and faults (after a restart)."""
        with self._lock:
            self.reload()
            with self.service.reading() as s:
                for w in s.scalars(select(SensorWarning).where(SensorWarning.cleared_at.is_(None))):
                    t = self.trackers.get((w.enterprise_id, w.sensor_id))
                    if t is not None:
                        t.level = w.level
                for f in s.scalars(select(SensorFault).where(SensorFault.cleared_at.is_(None))):
                    t = self.trackers.get((f.enterprise_id, f.sensor_id))
                    if t is not None:
                        t.faults.add(f.reason)
                for st in s.scalars(select(SensorStatus)):
                    t = self.trackers.get((st.enterprise_id, st.sensor_id))
                    if t is not None:
                        t.last_seen, t.last_ts, t.last_value = (st.last_seen_at, st.last_ts,
                                                                st.last_value)
                pending = list(s.scalars(select(SensorEpisode.id).where(
                    SensorEpisode.closed_at.is_(None), SensorEpisode.incident_id.is_(None),
                    SensorEpisode.report_error.is_(None))))
            self.started = True
        for episode_id in pending:
            # claimed but not reported when the process stopped; the client id makes it once
            self._report(episode_id)

    def stop(self) -> None:
        self.stopped.set()
        if self.bridge is not None:
            self.bridge.stop()
        try:
            self.flush_status(force=True)
        except Exception:
            log.exception("sensor status flush failed")

    def run(self, sleep: Callable[[float], None], tick_s: float = 1.0) -> None:
        """Drain MQTT messages and tick until stopped; `sleep` yields under eventlet/gevent."""
        next_tick = time.monotonic()
        while not self.stopped.is_set():
            batch = self.drain()
            if batch:
                try:
                    self.ingest_mqtt(batch)
                except Exception:
                    log.exception("sensor batch failed")
            if time.monotonic() >= next_tick:
                try:
                    self.tick()
                except Exception:
                    log.exception("sensor tick failed")
                next_tick = time.monotonic() + tick_s
            sleep(0 if batch else 0.01)
        self.pumping = False

    def reload(self) -> None:
        """Re-read the sensor configuration; trackers keep their state."""
        with self._lock:
            with self.service.reading() as s:
                self.registry.load(s)
            trackers: dict[tuple[int, str], SensorTracker] = {}
            for key, spec in self.registry.sensors.items():
                t = self.trackers.get(key) or SensorTracker(spec)
                t.spec = spec
                trackers[key] = t
            self.trackers = trackers

    # ---- ingestion -----------------------------------------------------------------------

    def ingest(self, readings: Iterable[Reading]) -> IngestResult:
        """Apply readings in order; never raises for a bad or unknown reading."""
        result = IngestResult()
        with self._lock:
            for r in readings:
                what, error = self._one(r)
                setattr(result, what, getattr(result, what) + 1)
                if error:
                    result.errors.append({"sensor_id": r.sensor_id, "error": error})
        return result

    def ingest_items(self, enterprise_id: int, items: Sequence[Any]) -> IngestResult:
        """A batch from HTTP: each item {enterprise_id, sensor_id, ts, value, unit}."""
        result = IngestResult()
        readings: list[Reading] = []
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise Malformed("reading must be an object")
                readings.append(parse_reading(item.get("enterprise_id"), item.get("sensor_id"),
                                              item))
            except Malformed as exc:
                result.malformed += 1
                result.errors.append({"index": i, "error": str(exc)})
                self.stats.count("malformed", enterprise_id, error=str(exc))
        # a gateway may send its buffer newest first: in time order, none of it looks stale
        readings.sort(key=lambda r: r.ts)
        applied = self.ingest(readings)
        result.accepted, result.unknown, result.stale = (applied.accepted, applied.unknown,
                                                         applied.stale)
        result.malformed += applied.malformed
        result.errors += applied.errors
        return result

    def ingest_mqtt(self, messages: Sequence[tuple[str, bytes]]) -> IngestResult:
        readings: list[Reading] = []
        bad = 0
        for topic, payload in messages:
            try:
                readings.append(parse_mqtt(topic, payload, self.topic_prefix))
            except Malformed as exc:
                bad += 1
                enterprise: Any = None
                with contextlib.suppress(Malformed):
                    enterprise = parse_topic(topic, self.topic_prefix)[0]
                self.stats.count("malformed", enterprise, error=f"{topic}: {exc}")
        result = self.ingest(readings)
        result.malformed += bad
        return result

    def drain(self, limit: int = 5000) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        while len(out) < limit:
            try:
                out.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return out

    def offer(self, topic: str, payload: bytes) -> None:
        """Hand an MQTT message over from the network thread; never blocks it."""
        try:
            self.inbox.put_nowait((topic, payload))
        except queue.Full:
            self.stats.count("dropped", None)

    def _one(self, r: Reading) -> tuple[str, str | None]:
        key = (r.enterprise_id, r.sensor_id)
        tracker = self.trackers.get(key)
        if tracker is None and self._may_refresh():
            self.reload()
            tracker = self.trackers.get(key)
        if tracker is None:
            self.stats.count("unknown", r.enterprise_id, error=f"unknown sensor {r.sensor_id}")
            return "unknown", f"unknown sensor {r.sensor_id}"
        spec = tracker.spec
        if r.unit != spec.unit:
            error = f"unit {r.unit} but sensor {r.sensor_id} measures {spec.unit}"
            self.stats.count("malformed", r.enterprise_id, error=error)
            return "malformed", error
        now = self.service.clock()
        if (r.ts - now).total_seconds() > MAX_FUTURE_S:
            error = "ts is in the future"
            self.stats.count("malformed", r.enterprise_id, error=error)
            return "malformed", error
        changes = tracker.feed(r.value, r.ts, now)
        if changes is None:
            self.stats.count("stale", r.enterprise_id)
            return "stale", None
        self.stats.count("accepted", r.enterprise_id)
        self._dirty.add(key)
        if key in self._silent_open:
            self._silent_open.discard(key)
            if not any(isinstance(c, FaultChange) and c.reason == "silent" for c in changes):
                changes = [FaultChange("silent", False), *changes]
        for change in changes:
            self._apply(tracker, change)
        return "accepted", None

    def _may_refresh(self) -> bool:
        # a sensor added to the enterprise data shows up without a restart, but a flood of
        # unknown ids must not turn into a flood of database reads
        now = time.monotonic()
        if now - self._last_unknown_refresh < self.registry_refresh_s:
            return False
        self._last_unknown_refresh = now
        return True

    # ---- periodic work -------------------------------------------------------------------

    def tick(self) -> None:
        """Heartbeats, silences running out, last values to the database, config refresh."""
        with self._lock:
            now = self.service.clock()
            quiet = [t for t in self.trackers.values() if t.overdue(now) is not None]
            if quiet:
                # another hub process may be the one receiving this sensor: trust the
                # database's last sighting before calling it silent
                seen = self._last_seen_in_db([t.spec for t in quiet])
                for t in quiet:
                    at = seen.get((t.spec.enterprise_id, t.spec.sensor_id))
                    if at is not None and (t.last_seen is None or at > t.last_seen):
                        t.last_seen = at
                    change = t.check_silent(now)
                    if change is not None:
                        self._apply(t, change)
            # other processes' silent flags change rarely: read them at the pace the
            # status is written, not on every tick
            if time.monotonic() - self._silent_read_at >= self.status_flush_s:
                self._silent_open = self._open_silent_faults()
                self._silent_read_at = time.monotonic()
            self._expire_silences(now)
            for episode_id in sorted(self._unreported):
                self._unreported.discard(episode_id)
                try:
                    self._report(episode_id)
                except Exception:
                    log.exception("sensor episode %s: report failed again", episode_id)
                    self._unreported.add(episode_id)
            if time.monotonic() - self.registry.loaded_at > self.registry_refresh_s:
                self.reload()
        self.flush_status()

    def _last_seen_in_db(self, specs: list[SensorSpec]) -> dict[tuple[int, str], dt.datetime]:
        try:
            with self.service.reading() as s:
                rows = s.execute(select(SensorStatus.enterprise_id, SensorStatus.sensor_id,
                                        SensorStatus.last_seen_at).where(
                    SensorStatus.sensor_id.in_({sp.sensor_id for sp in specs}))).all()
        except Exception:
            log.exception("reading sensor status failed")
            return {}
        return {(eid, sid): seen for eid, sid, seen in rows if seen is not None}

    def _open_silent_faults(self) -> set[tuple[int, str]]:
        try:
            with self.service.reading() as s:
                return set(s.execute(select(SensorFault.enterprise_id, SensorFault.sensor_id)
                                     .where(SensorFault.reason == "silent",
                                            SensorFault.cleared_at.is_(None))).tuples())
        except Exception:
            log.exception("reading silent faults failed")
            return self._silent_open

    def flush_status(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_flush < self.status_flush_s:
            return
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            rows = {k: (t.last_value, t.last_ts, t.last_seen) for k in dirty
                    if (t := self.trackers.get(k)) is not None}
            self._last_flush = time.monotonic()
        if not rows:
            return
        session = self.service.sessions()
        try:
            # executemany by primary key: one statement for all known rows, one for new ones
            # (a thousand ORM objects per flush stalled the pump for a quarter of a second)
            existing = set(session.execute(select(SensorStatus.enterprise_id,
                                                  SensorStatus.sensor_id)).tuples())
            params = [{"enterprise_id": eid, "sensor_id": sid, "last_value": value,
                       "last_ts": ts, "last_seen_at": seen}
                      for (eid, sid), (value, ts, seen) in rows.items()]
            known = [p for p in params if (p["enterprise_id"], p["sensor_id"]) in existing]
            new = [p for p in params if (p["enterprise_id"], p["sensor_id"]) not in existing]
            if known:
                session.execute(update(SensorStatus), known)
            if new:
                session.execute(insert(SensorStatus), new)
            session.commit()
        except Exception:
            session.rollback()
            with self._lock:
                self._dirty |= set(rows)
            log.exception("sensor status flush failed")
        finally:
            session.close()

    def _expire_silences(self, now: dt.datetime) -> None:
        with self.service.reading() as s:
            due = list(s.scalars(select(SensorWarning.id).where(
                SensorWarning.status == "silenced", SensorWarning.silenced_until <= now)))
        for wid in due:
            try:
                with self.service.transaction() as tx:
                    w = tx.session.get(SensorWarning, wid)
                    if w is None or w.status != "silenced":
                        continue
                    w.status = "acked" if w.acked_at is not None else "open"
                    tx.record("sensor.warning.unsilenced", {"warning": warning_view(w)},
                              county_id=w.county_id, actor=SYSTEM_ACTOR)
            except Exception:
                log.exception("could not end the silence of warning %s", wid)

    # ---- applying decisions --------------------------------------------------------------

    def _apply(self, tracker: SensorTracker, change: Change) -> None:
        try:
            if isinstance(change, FaultChange):
                self._fault(tracker.spec, change)
            elif change.level_to > change.level_from:
                self._rise(tracker.spec, change)
            else:
                self._fall(tracker.spec, change)
        except Exception:
            log.exception("sensor %s: could not apply %s", tracker.spec.sensor_id, change)
            if isinstance(change, LevelChange) and change.level_to > change.level_from:
                tracker.revert(change)
            elif isinstance(change, FaultChange):
                if change.raised:
                    tracker.faults.discard(change.reason)
                else:
                    tracker.faults.add(change.reason)

    def _enterprise(self, spec: SensorSpec) -> EnterpriseInfo:
        info = self.registry.enterprises.get(spec.enterprise_id)
        return info or EnterpriseInfo(spec.enterprise_id, "", None, on_duty_contact({}))

    def _sensor_facts(self, spec: SensorSpec) -> dict[str, Any]:
        e = self._enterprise(spec)
        return {
            "enterprise": {"id": e.id, "name": e.name},
            "installation": {"id": spec.installation_id, "code": spec.installation_code,
                             "name": spec.installation_name},
            "sensor": {"sensor_id": spec.sensor_id, "kind": spec.kind, "unit": spec.unit},
            "position": {"lat": spec.lat, "lon": spec.lon},
            "contact": e.contact,
        }

    def _fault(self, spec: SensorSpec, change: FaultChange) -> None:
        e = self._enterprise(spec)
        with self.service.transaction() as tx:
            s = tx.session
            row = s.scalar(select(SensorFault).where(
                SensorFault.enterprise_id == spec.enterprise_id,
                SensorFault.sensor_id == spec.sensor_id, SensorFault.reason == change.reason,
                SensorFault.cleared_at.is_(None)))
            if change.raised:
                if row is not None:
                    return
                row = SensorFault(enterprise_id=spec.enterprise_id,
                                  installation_id=spec.installation_id,
                                  sensor_id=spec.sensor_id, reason=change.reason,
                                  detail=change.detail, county_id=e.county_id,
                                  detected_at=tx.now)
                s.add(row)
                s.flush()
                tx.record("sensor.fault", {"fault_id": row.id, "reason": change.reason,
                                           "detail": change.detail, **self._sensor_facts(spec)},
                          county_id=e.county_id, actor=SYSTEM_ACTOR)
            else:
                if row is None:
                    return
                row.cleared_at = tx.now
                tx.record("sensor.fault.cleared", {"fault_id": row.id, "reason": change.reason,
                                                   **self._sensor_facts(spec)},
                          county_id=e.county_id, actor=SYSTEM_ACTOR)

    def _open_warning(self, s: Session, spec: SensorSpec) -> SensorWarning | None:
        return s.scalar(select(SensorWarning).where(
            SensorWarning.enterprise_id == spec.enterprise_id,
            SensorWarning.sensor_id == spec.sensor_id, SensorWarning.cleared_at.is_(None)))

    def _open_episode(self, s: Session, installation_id: int) -> SensorEpisode | None:
        return s.scalar(select(SensorEpisode).where(
            SensorEpisode.installation_id == installation_id, SensorEpisode.closed_at.is_(None)))

    def _rise(self, spec: SensorSpec, change: LevelChange) -> None:
        e = self._enterprise(spec)
        claimed: int | None = None
        escalate: int | None = None
        joined: int | None = None
        try:
            with self.service.transaction() as tx:
                s = tx.session
                w = self._open_warning(s, spec)
                if w is not None and w.level >= change.level_to:
                    return  # another process, or this one before a restart, already has it
                new_warning = w is None
                if w is None:
                    silenced_until = s.scalar(select(func.max(SensorWarning.silenced_until)).where(
                        SensorWarning.enterprise_id == spec.enterprise_id,
                        SensorWarning.sensor_id == spec.sensor_id,
                        SensorWarning.silenced_until > tx.now))
                    w = SensorWarning(
                        enterprise_id=spec.enterprise_id, installation_id=spec.installation_id,
                        sensor_id=spec.sensor_id, kind=spec.kind, unit=spec.unit,
                        level=change.level_to, peak_level=change.level_to,
                        status="silenced" if silenced_until else "open",
                        silenced_until=silenced_until, value=change.value,
                        peak_value=change.value, threshold=change.threshold, lat=spec.lat,
                        lon=spec.lon, county_id=e.county_id,
                        above_since_ts=change.above_since or change.ts, raised_ts=change.ts,
                        raised_at=tx.now)
                    s.add(w)
                else:
                    w.level = w.peak_level = change.level_to
                    w.threshold = change.threshold
                w.value = change.value
                w.peak_value = max(w.peak_value, change.value)
                s.flush()
                episode = self._open_episode(s, spec.installation_id)
                if episode is not None and episode.incident_id is not None:
                    incident = s.get(Incident, episode.incident_id)
                    if incident is not None and incident.status is not IncidentStatus.ACTIVE:
                        # its incident was closed while a warning lingered: a new alarm is a
                        # new episode, reported anew, never pinned to the closed incident
                        episode.closed_at = tx.now
                        s.flush()
                        episode = None
                if change.level_to >= 2:
                    if episode is None:
                        episode = self._claim(tx, spec, e, "level2", 3, [spec.sensor_id])
                        claimed = episode.id
                    else:
                        joined = episode.id
                        if episode.severity < 3:
                            episode.severity = 3
                            escalate = episode.id
                elif episode is not None:
                    joined = episode.id
                else:
                    others = list(s.scalars(select(SensorWarning).where(
                        SensorWarning.installation_id == spec.installation_id,
                        SensorWarning.id != w.id,
                        SensorWarning.dismissed_at.is_(None),
                        or_(SensorWarning.cleared_at.is_(None),
                            SensorWarning.raised_ts >= change.ts - dt.timedelta(
                                seconds=self.correlation_window_s))).order_by(
                        SensorWarning.raised_ts)))
                    peers = correlated(spec.sensor_id, change.ts,
                                       [(o.sensor_id, o.raised_ts, o.cleared_at is None)
                                        for o in others], self.correlation_window_s)
                    if peers:
                        episode = self._claim(tx, spec, e, "correlation", 2,
                                              [*peers, spec.sensor_id])
                        claimed = episode.id
                        for o in others:
                            if o.sensor_id in peers and o.episode_id is None:
                                o.episode_id = episode.id
                if episode is not None:
                    w.episode_id = episode.id
                    w.incident_id = episode.incident_id
                    if spec.sensor_id not in episode.sensors:
                        episode.sensors = [*episode.sensors, spec.sensor_id]
                if change.level_to == 1 and new_warning:
                    tx.record("sensor.warning", {
                        "warning_id": w.id, "level": 1, "value": change.value,
                        "threshold": change.threshold, "ts": change.ts.isoformat(),
                        "above_since": _iso(w.above_since_ts), "status": w.status,
                        "silenced": w.status == "silenced", "episode_id": w.episode_id,
                        "incident_id": w.incident_id, **self._sensor_facts(spec)},
                        county_id=e.county_id, actor=SYSTEM_ACTOR)
        except IntegrityError:
            # a second hub process claimed the same warning or episode first
            log.info("sensor %s: alarm already claimed elsewhere", spec.sensor_id)
            return
        if claimed is not None:
            try:
                self._report(claimed)
            except Exception:
                # the claim is committed; tick() retries under the same client id
                log.exception("sensor episode %s: report failed; will retry", claimed)
                self._unreported.add(claimed)
        elif escalate is not None:
            self._escalate(escalate, spec)
        elif joined is not None and change.level_to >= 2:
            self._alarm_event(joined, spec, note="joined")

    def _claim(self, tx: Any, spec: SensorSpec, e: EnterpriseInfo, trigger: str, severity: int,
               sensors: list[str]) -> SensorEpisode:
        """Open the installation's episode; the open-episode index makes this once."""
        episode = SensorEpisode(enterprise_id=spec.enterprise_id,
                                installation_id=spec.installation_id, trigger=trigger,
                                severity=severity, sensors=sensors, county_id=e.county_id,
                                opened_at=tx.now)
        s = tx.session
        previous = s.scalar(select(SensorEpisode).where(
            SensorEpisode.installation_id == spec.installation_id,
            SensorEpisode.incident_id.is_not(None)).order_by(SensorEpisode.id.desc()))
        if previous is not None:
            incident = s.get(Incident, previous.incident_id)
            if incident is not None and incident.status is IncidentStatus.ACTIVE:
                # the installation's last sensor incident is still being worked: add to it
                episode.incident_id = incident.id
        s.add(episode)
        s.flush()
        return episode

    def _report(self, episode_id: int) -> None:
        """Report the episode's incident through the one reporting path, at most once."""
        with self.service.reading() as s:
            episode = s.get(SensorEpisode, episode_id)
            if episode is None:
                return
            specs = [self.registry.sensors.get((episode.enterprise_id, sid))
                     for sid in episode.sensors]
            known = [sp for sp in specs if sp is not None]
            incident_id = episode.incident_id
            severity, trigger = episode.severity, episode.trigger
            warnings = {w.sensor_id: w for w in s.scalars(select(SensorWarning).where(
                SensorWarning.episode_id == episode_id))}
            s.expunge_all()
        if not known:
            return
        trigger_spec = known[-1]
        if incident_id is not None:
            self._alarm_event(episode_id, trigger_spec, note="existing incident")
            return
        kind = max((INCIDENT_KIND[sp.kind] for sp in known), key=lambda k: _KIND_RANK[k])
        description = self._describe(trigger, known, warnings)
        report = self._incident_report(kind, trigger_spec, severity, description, episode_id)
        error: str | None = None
        incident = None
        try:
            incident = self.service.report_incident(SYSTEM_ACTOR, report)
        except InvalidInput as exc:
            if exc.field == "location":
                # the sensor sits off the road map: report at the enterprise instead
                try:
                    incident = self.service.report_incident(
                        SYSTEM_ACTOR, replace(report, lat=None, lon=None))
                except CommandError as exc2:
                    error = exc2.message
            else:
                error = exc.message
        except CommandError as exc:
            error = exc.message
        with self.service.transaction() as tx:
            ep = tx.session.get(SensorEpisode, episode_id)
            assert ep is not None
            if incident is not None:
                ep.incident_id = incident.id
                for w in tx.session.scalars(select(SensorWarning).where(
                        SensorWarning.episode_id == episode_id)):
                    w.incident_id = incident.id
            else:
                ep.report_error = error or "unknown error"
            self._record_alarm(tx, ep, trigger_spec,
                               warnings.get(trigger_spec.sensor_id), note="reported",
                               error=error)

    def _incident_report(self, kind: IncidentKind, spec: SensorSpec, severity: int,
                         description: str, episode_id: int) -> IncidentReport:
        # the same report a duty officer files for a phoned-in alarm, marked with its source;
        # the client id makes a retried report (after a crash or a lost race) apply once
        return IncidentReport(kind=kind, enterprise_id=spec.enterprise_id, lat=spec.lat,
                              lon=spec.lon, chemical=spec.chemical, severity=severity,
                              source="sensor", description=description,
                              client_id=f"sensor-episode-{episode_id}")

    def _describe(self, trigger: str, specs: list[SensorSpec],
                  warnings: dict[str, SensorWarning]) -> str:
        parts = []
        for sp in specs:
            w = warnings.get(sp.sensor_id)
            level = f"{w.peak_level}级报警 {w.peak_value:g} {sp.unit}（设定值 {w.threshold:g}）" \
                if w else "报警"
            parts.append(f"传感器 {sp.sensor_id}（{sp.kind}）{level}")
        head = "二级报警" if trigger == "level2" else "两个传感器一级报警"
        sp0 = specs[-1]
        return (f"在线监测自动报警：{sp0.installation_code} {sp0.installation_name} {head}；"
                + "；".join(parts))

    def _escalate(self, episode_id: int, spec: SensorSpec) -> None:
        with self.service.reading() as s:
            episode = s.get(SensorEpisode, episode_id)
            incident_id = episode.incident_id if episode else None
        if incident_id is not None:
            try:
                self.service.change_incident(SYSTEM_ACTOR, incident_id, IncidentChange(severity=3))
            except CommandError as exc:
                log.info("sensor episode %s: incident not escalated: %s", episode_id, exc)
        self._alarm_event(episode_id, spec, note="escalated")

    def _alarm_event(self, episode_id: int, spec: SensorSpec, note: str) -> None:
        with self.service.transaction() as tx:
            ep = tx.session.get(SensorEpisode, episode_id)
            if ep is None:
                return
            w = self._open_warning(tx.session, spec)
            self._record_alarm(tx, ep, spec, w, note=note)

    def _record_alarm(self, tx: Any, ep: SensorEpisode, spec: SensorSpec,
                      w: SensorWarning | None, note: str, error: str | None = None) -> None:
        incident = tx.session.get(Incident, ep.incident_id) if ep.incident_id else None
        data = {"episode_id": ep.id, "trigger": ep.trigger, "severity": ep.severity,
                "sensors": list(ep.sensors), "note": note, "incident_id": ep.incident_id,
                "report_error": error, "warning": warning_view(w) if w else None,
                "level": w.level if w else None, "value": w.value if w else None,
                **self._sensor_facts(spec)}
        if incident is not None:
            tx.record("sensor.alarm", data, incident=incident, county_id=ep.county_id,
                      actor=SYSTEM_ACTOR)
        else:
            tx.record("sensor.alarm", data, county_id=ep.county_id, actor=SYSTEM_ACTOR)

    def _fall(self, spec: SensorSpec, change: LevelChange) -> None:
        e = self._enterprise(spec)
        with self.service.transaction() as tx:
            s = tx.session
            w = self._open_warning(s, spec)
            if w is None:
                return
            w.value = change.value
            facts = self._sensor_facts(spec)
            if change.level_to > 0:
                w.level = change.level_to
                tx.record("sensor.downgraded", {"warning": warning_view(w),
                                                "from": change.level_from,
                                                "to": change.level_to, **facts},
                          county_id=e.county_id, actor=SYSTEM_ACTOR)
                return
            w.level = 0
            w.cleared_at = tx.now
            if w.status != "dismissed":
                w.status = "cleared"
            s.flush()
            closed = None
            episode = self._open_episode(s, spec.installation_id)
            if episode is not None and s.scalar(select(func.count()).select_from(
                    SensorWarning).where(SensorWarning.installation_id == spec.installation_id,
                                         SensorWarning.cleared_at.is_(None))) == 0:
                episode.closed_at = tx.now
                closed = episode.id
            tx.record("sensor.cleared", {"warning": warning_view(w), "from": change.level_from,
                                         "value": change.value, "ts": change.ts.isoformat(),
                                         "episode_closed": closed, **facts},
                      county_id=e.county_id, actor=SYSTEM_ACTOR)

    # ---- officer actions -----------------------------------------------------------------

    def _officer(self, actor: Actor) -> None:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN):
            raise Forbidden("only duty officers handle sensor warnings")

    def _warning_for(self, tx: Any, counties: frozenset[int] | None,
                     warning_id: int) -> SensorWarning:
        # counties are looked up before the transaction: on SQLite a second session opened
        # inside it would wait for the write lock this one holds
        w = tx.session.get(SensorWarning, warning_id)
        if w is None or (counties is not None and w.county_id not in counties):
            raise NotFound(f"warning {warning_id} not found", "warning_id")
        return w

    def list_warnings(self, actor: Actor, status: str | None = None,
                      limit: int = 500) -> list[dict[str, Any]]:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers see sensor warnings")
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(SensorWarning).order_by(SensorWarning.id.desc())
            if status == "active":
                q = q.where(SensorWarning.status.in_(ACTIVE_STATUSES))
            elif status:
                if status not in WARNING_STATUSES:
                    raise InvalidInput("status must be one of "
                                       + ", ".join((*WARNING_STATUSES, "active")), "status")
                q = q.where(SensorWarning.status == status)
            if counties is not None:
                q = q.where(SensorWarning.county_id.in_(counties))
            return [warning_view(w) for w in s.scalars(q.limit(limit))]

    def list_faults(self, actor: Actor, open_only: bool = True) -> list[dict[str, Any]]:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER):
            raise Forbidden("only officers see sensor faults")
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = select(SensorFault).order_by(SensorFault.id.desc())
            if open_only:
                q = q.where(SensorFault.cleared_at.is_(None))
            if counties is not None:
                q = q.where(SensorFault.county_id.in_(counties))
            return [fault_view(f) for f in s.scalars(q.limit(500))]

    def ack(self, actor: Actor, warning_id: int) -> dict[str, Any]:
        """The officer has seen the warning."""
        self._officer(actor)
        counties = self.service.region_counties(actor.region_id)
        with self.service.transaction() as tx:
            w = self._warning_for(tx, counties, warning_id)
            if w.status == "acked":
                return warning_view(w)
            if w.status not in ("open", "silenced"):
                raise Conflict(f"warning is {w.status}", "warning_id")
            w.status, w.acked_at, w.acked_by = "acked", tx.now, actor.username
            tx.record("sensor.warning.acked", {"warning": warning_view(w)},
                      county_id=w.county_id, actor=actor)
            return warning_view(w)

    def silence(self, actor: Actor, warning_id: int, minutes: int) -> dict[str, Any]:
        """No new warning from this sensor sounds for `minutes` (they are still logged)."""
        self._officer(actor)
        if not 1 <= minutes <= 24 * 60:
            raise InvalidInput("minutes must be between 1 and 1440", "minutes")
        counties = self.service.region_counties(actor.region_id)
        with self.service.transaction() as tx:
            w = self._warning_for(tx, counties, warning_id)
            if w.status not in ACTIVE_STATUSES:
                raise Conflict(f"warning is {w.status}", "warning_id")
            w.status = "silenced"
            w.silenced_until = tx.now + dt.timedelta(minutes=minutes)
            w.silenced_by = actor.username
            tx.record("sensor.warning.silenced", {"warning": warning_view(w),
                                                  "minutes": minutes},
                      county_id=w.county_id, actor=actor)
            return warning_view(w)

    def dismiss(self, actor: Actor, warning_id: int, reason: str) -> dict[str, Any]:
        """The officer judged the warning false; it no longer counts towards an incident."""
        self._officer(actor)
        reason = reason.strip()
        if not reason:
            raise InvalidInput("a reason is required", "reason")
        counties = self.service.region_counties(actor.region_id)
        with self.service.transaction() as tx:
            w = self._warning_for(tx, counties, warning_id)
            if w.status == "dismissed":
                raise Conflict("warning is already dismissed", "warning_id")
            w.status, w.dismissed_at, w.dismissed_by = "dismissed", tx.now, actor.username
            w.dismiss_reason = reason
            tx.record("sensor.warning.dismissed", {"warning": warning_view(w),
                                                   "reason": reason},
                      county_id=w.county_id, actor=actor)
            return warning_view(w)

    # ---- ingest tokens -------------------------------------------------------------------

    def issue_token(self, actor: Actor, enterprise_id: int) -> str:
        """A new ingest token for an enterprise (the old one stops working); shown once."""
        from plans.models import Enterprise

        if actor.role is not Role.ADMIN:
            raise Forbidden("only an administrator issues ingest tokens")
        token = "rli_" + secrets.token_urlsafe(32)
        counties = self.service.region_counties(actor.region_id)
        with self.service.transaction() as tx:
            e = tx.session.get(Enterprise, enterprise_id)
            if e is None or (counties is not None and e.county_id not in counties):
                raise NotFound(f"enterprise {enterprise_id} not found", "enterprise_id")
            replaced = e.ingest_token_hash is not None
            e.ingest_token_hash = token_digest(token)
            tx.record("sensor.ingest_token.issued", {"enterprise_id": e.id,
                                                     "replaced": replaced},
                      county_id=e.county_id, actor=actor)
        return token

    def enterprise_for_token(self, token: str) -> int | None:
        from plans.models import Enterprise

        if not token or len(token) > 200:
            return None
        with self.service.reading() as s:
            return s.scalar(select(Enterprise.id).where(
                Enterprise.ingest_token_hash == token_digest(token)))

    def faults_of(self, enterprise_id: int) -> list[dict[str, Any]]:
        """An enterprise's faulty sensors, told back to its gateway with every batch it posts
        (faults are the enterprise's to fix; the command room sees them as sensor.fault)."""
        with self._lock:
            return [{"sensor_id": sid, "faults": sorted(t.faults)}
                    for (eid, sid), t in sorted(self.trackers.items())
                    if eid == enterprise_id and t.faults]

    def sensors_view(self, actor: Actor) -> list[dict[str, Any]]:
        """Every registered sensor with its last value, level and faults."""
        counties = self.service.region_counties(actor.region_id)
        out = []
        with self._lock:
            for (eid, sid), t in sorted(self.trackers.items()):
                info = self.registry.enterprises.get(eid)
                if counties is not None and (info is None or info.county_id not in counties):
                    continue
                sp = t.spec
                out.append({"enterprise_id": eid, "sensor_id": sid,
                            "installation_id": sp.installation_id, "kind": sp.kind,
                            "unit": sp.unit, "position": {"lat": sp.lat, "lon": sp.lon},
                            "thresholds": vars(sp.thresholds), "level": t.level,
                            "faults": sorted(t.faults), "last_value": t.last_value,
                            "last_ts": _iso(t.last_ts), "last_seen": _iso(t.last_seen)})
        return out


# ---- MQTT ------------------------------------------------------------------------------------


class MqttBridge:
    """Subscribes to `<prefix>/+/+` and hands each message to a callback; paho runs its own
    network thread, reconnects by itself and resubscribes on every connect."""

    def __init__(self, url: str, prefix: str, on_message: Callable[[str, bytes], None],
                 client_id: str | None = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT_URL must be mqtt://host[:port]; got {url!r}")
        self.tls = parsed.scheme in ("mqtts", "ssl")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (8883 if self.tls else 1883)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.prefix = prefix.rstrip("/")
        self.on_message = on_message
        self.client_id = client_id or f"redline-hub-{uuid.uuid4().hex[:12]}"
        self.connected = threading.Event()
        self.connects = 0
        self._client: Any = None

    @property
    def public_url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=True)
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        # connect_async + loop_start: the network thread keeps retrying if the broker is down
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self.connected.clear()

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason_code: Any,
                    _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect to %s refused: %s", self.public_url, reason_code)
            return
        client.subscribe(f"{self.prefix}/+/+", qos=1)
        self.connects += 1
        self.connected.set()

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any,
                       _properties: Any) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected from %s (%s); reconnecting", self.public_url, reason_code)

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        self.on_message(msg.topic, bytes(msg.payload))
