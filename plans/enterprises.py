"""Enterprises and their major hazard installations, authored as a YAML or JSON file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from plans.hazards import Assessment, UnknownChemical, assess, load_tables
from plans.models import Enterprise, HazardInstallation, Plan, PlanRevisionFlag
from plans.schema import CreditCode, Phone, StrictModel, Text, UnNumber
from plans.validation import (
    BBox,
    Format,
    Parsed,
    PlanValidationError,
    Problem,
    parse_text,
    point_problems,
    validate_model,
)

CAS_RE = re.compile(r"^([0-9]{2,7})-([0-9]{2})-([0-9])$")
SENSOR_UNITS: dict[str, tuple[str, ...]] = {
    "gas_combustible": ("%LEL",),
    "gas_toxic": ("ppm",),
    "temperature": ("°C",),
    "pressure": ("MPa",),
    "level": ("m", "%"),
}


def _cas(value: str) -> str:
    m = CAS_RE.match(value)
    if not m:
        raise PydanticCustomError("cas", "must be a CAS number like 7782-50-5, got '{value}'",
                                  {"value": value})
    digits = (m.group(1) + m.group(2))[::-1]
    if sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 != int(m.group(3)):
        raise PydanticCustomError("cas", "check digit of CAS number '{value}' is wrong",
                                  {"value": value})
    return value


Cas = Annotated[str, AfterValidator(_cas)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


class Person(StrictModel):
    """A named person with a phone number."""

    name: Text
    phone: Phone


class EnterpriseContacts(StrictModel):
    """Whom the command room calls at the enterprise."""

    on_duty_phone: Phone
    safety_manager: Person
    legal_representative: Person


class Thresholds(StrictModel):
    """Alarm levels and timing of a sensor (see command.sensors for defaults)."""

    level1: float | None = None
    level2: float | None = None
    hysteresis: float | None = Field(default=None, ge=0)
    hold_s: float | None = Field(default=None, ge=0)
    heartbeat_s: float | None = Field(default=None, gt=0)
    min: float | None = None
    max: float | None = None
    stuck_n: int | None = Field(default=None, ge=2)
    stuck_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.level1 is not None and self.level2 is not None and not self.level2 > self.level1:
            raise PydanticCustomError("thresholds", "level2 must be above level1")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise PydanticCustomError("thresholds", "min must be below max")
        return self


class Sensor(StrictModel):
    """A gas, temperature, pressure or level sensor on an installation."""

    sensor_id: str = Field(min_length=1, max_length=100, pattern=r"^[^/]+$")
    kind: Literal["gas_combustible", "gas_toxic", "temperature", "pressure", "level"]
    unit: Literal["%LEL", "ppm", "°C", "MPa", "m", "%"]
    lat: Lat | None = None
    lon: Lon | None = None
    chemical: UnNumber | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)


class StoredChemical(StrictModel):
    """A hazardous chemical held at an installation, at its maximum quantity."""

    name: Text
    un: UnNumber | None = None
    cas: Cas | None = None
    quantity_t: float = Field(ge=0)
    hazard_class: str | None = Field(default=None, description="GB 18218-2018 Table 2 class")


class Installation(StrictModel):
    """A major hazard installation (重大危险源)."""

    code: str = Field(min_length=1, max_length=50)
    name: Text
    lat: Lat
    lon: Lon
    chemicals: list[StoredChemical] = Field(min_length=1)
    sensors: list[Sensor] = Field(default_factory=list)


class EnterpriseEntry(StrictModel):
    """One enterprise of the registry file."""

    name: Text
    alt_name: str = Field(default="", max_length=200)
    credit_code: CreditCode
    address: str = Field(default="", max_length=300)
    lat: Lat
    lon: Lon
    industry: str = Field(default="", max_length=100)
    park: str = Field(default="", max_length=100)
    contacts: EnterpriseContacts
    people_within_500m: int = Field(ge=0)
    installations: list[Installation] = Field(default_factory=list)


ENTERPRISE_FILE = TypeAdapter(list[EnterpriseEntry])


def _cross_problems(parsed: Parsed, bbox: BBox | None) -> list[Problem]:
    data = parsed.data
    if not isinstance(data, list):
        return []
    out: list[Problem] = []
    tables = load_tables()
    codes: dict[str, int] = {}
    for i, e in enumerate(data):
        if not isinstance(e, dict):
            continue
        code = e.get("credit_code")
        if isinstance(code, str):
            if code in codes:
                out.append(parsed.problem((i, "credit_code"), f"duplicate credit code {code!r} "
                                                              f"(first at [{codes[code]}])"))
            codes.setdefault(code, i)
        out += point_problems(parsed, (i,), e, bbox)
        inst_codes: set[str] = set()
        sensor_ids: set[str] = set()
        for j, inst in enumerate(e.get("installations") or []):
            if not isinstance(inst, dict):
                continue
            iloc = (i, "installations", j)
            if isinstance(inst.get("code"), str):
                if inst["code"] in inst_codes:
                    out.append(parsed.problem((*iloc, "code"),
                                              f"duplicate installation code {inst['code']!r}"))
                inst_codes.add(inst["code"])
            out += point_problems(parsed, iloc, inst, bbox)
            for k, chem in enumerate(inst.get("chemicals") or []):
                if isinstance(chem, dict):
                    try:
                        tables.rule_for(chem)
                    except UnknownChemical as exc:
                        out.append(parsed.problem((*iloc, "chemicals", k), str(exc)))
            for k, sensor in enumerate(inst.get("sensors") or []):
                if not isinstance(sensor, dict):
                    continue
                sloc = (*iloc, "sensors", k)
                sid = sensor.get("sensor_id")
                if isinstance(sid, str):
                    if sid in sensor_ids:
                        out.append(parsed.problem((*sloc, "sensor_id"),
                                                  f"duplicate sensor id {sid!r} in this "
                                                  "enterprise"))
                    sensor_ids.add(sid)
                units = SENSOR_UNITS.get(str(sensor.get("kind")))
                if units and isinstance(sensor.get("unit"), str) and sensor["unit"] not in units:
                    out.append(parsed.problem((*sloc, "unit"),
                                              f"a {sensor['kind']} sensor measures in "
                                              f"{' or '.join(units)}"))
                if "lat" in sensor or "lon" in sensor:
                    out += point_problems(parsed, sloc, sensor, bbox)
    return out


def check_enterprises_text(text: str, fmt: Format, *, map_bbox: BBox | None
                           ) -> list[EnterpriseEntry]:
    """Parse and check an enterprise registry file; PlanValidationError lists every problem."""
    parsed, problems = parse_text(text, fmt)
    if parsed is None:
        raise PlanValidationError(problems)
    entries, schema = validate_model(ENTERPRISE_FILE, parsed)
    problems += schema + _cross_problems(parsed, map_bbox)
    if problems or entries is None:
        raise PlanValidationError(problems)
    return list(entries)


@dataclass
class EnterpriseLoad:
    """What load_enterprises did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    # (credit code, installation code) -> its assessment
    assessments: dict[tuple[str, str], Assessment] = field(default_factory=dict)

    @property
    def installations(self) -> int:
        """How many installations were written."""
        return len(self.assessments)


def format_of(path: Path) -> Format:
    """json for .json files, yaml otherwise."""
    return "json" if path.suffix.lower() == ".json" else "yaml"


def load_enterprises(session: Session, path: Path | str, *, map_bbox: BBox | None = None
                     ) -> EnterpriseLoad:
    """Upsert the enterprises of a registry file by credit code, grading each installation."""
    path = Path(path)
    entries = check_enterprises_text(path.read_text(encoding="utf-8"), format_of(path),
                                     map_bbox=map_bbox)
    report = EnterpriseLoad()
    for entry in entries:
        e = session.scalar(select(Enterprise).where(Enterprise.credit_code == entry.credit_code))
        if e is None:
            e = Enterprise(credit_code=entry.credit_code, lat=entry.lat, lon=entry.lon)
            session.add(e)
            report.created.append(entry.credit_code)
        else:
            report.updated.append(entry.credit_code)
        e.name, e.alt_name, e.address = entry.name, entry.alt_name, entry.address
        e.lat, e.lon, e.industry, e.park = entry.lat, entry.lon, entry.industry, entry.park
        e.contacts = entry.contacts.model_dump(mode="json")
        e.people_within_500m = entry.people_within_500m
        existing = {h.code: h for h in e.installations}
        before = {h.code: h.chemicals for h in existing.values()}
        keep = []
        for inst in entry.installations:
            chemicals = [c.model_dump(mode="json", exclude_none=True) for c in inst.chemicals]
            result = assess(chemicals, entry.people_within_500m)
            # keeping the row (and its id) lets sensors and warnings stay attached to it
            h = existing.get(inst.code) or HazardInstallation(code=inst.code)
            h.name, h.lat, h.lon = inst.name, inst.lat, inst.lon
            h.chemicals = chemicals
            h.sensors = [s.model_dump(mode="json", exclude_none=True) for s in inst.sensors]
            h.r_value, h.grade = result.r, result.grade
            keep.append(h)
            report.assessments[(entry.credit_code, inst.code)] = result
        e.installations = keep
        session.flush()
        after = {h.code: h.chemicals for h in keep}
        if before and after != before:
            _flag_changed_hazards(session, e, before, after)
    return report


def _flag_changed_hazards(session: Session, e: Enterprise, before: dict[str, Any],
                          after: dict[str, Any]) -> None:
    """A change of the registry's installations is a revision trigger for a plan in force
    (the Measures, Art. 36: major hazard sources changed)."""
    plan = session.scalar(select(Plan).where(Plan.enterprise_id == e.id,
                                             Plan.current_version.is_not(None)))
    if plan is None:
        return
    changed = sorted(set(before) ^ set(after)
                     | {c for c in set(before) & set(after) if before[c] != after[c]})
    session.add(PlanRevisionFlag(
        enterprise_id=e.id, county_id=e.county_id, trigger="hazards",
        reason="major hazard installations changed in the registry: " + ", ".join(changed),
        created_by="registry import"))
    session.flush()


def installation_assessment(h: HazardInstallation, people_within_500m: int) -> dict[str, Any]:
    """The worked R computation of a stored installation, for display."""
    result = assess(h.chemicals, people_within_500m)
    return {
        "s": round(result.s, 3), "alpha": result.alpha, "r": round(result.r, 2),
        "grade": result.grade, "is_major_hazard": result.is_major_hazard,
        "terms": [{"name": t.name, "quantity_t": t.quantity_t, "q_t": t.q_t, "beta": t.beta,
                   "source": t.source} for t in result.terms],
    }
