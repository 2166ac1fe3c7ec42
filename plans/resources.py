"""The county's emergency resource survey (应急资源调查) as an authored file: supply depots with
their inventories by GB 30077-2013 category, rescue teams and the expert pool.

`resources.yaml` (or .json) sits beside `enterprises.yaml` in a county's plan directory and is
loaded by `redline plans import DIR` through the same validation as plans: every problem with
its path and line, nothing saved on any problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from command.models import Region, RegionLevel
from plans.enterprises import Lat, Lon, Person
from plans.models import Enterprise
from plans.resource_models import Expert, RescueTeam, SupplyDepot, SupplyItem
from plans.schema import CreditCode, Phone, StrictModel, Text
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

RESOURCE_FILE_STEM = "resources"
# GB 30077-2013 (危险化学品单位应急救援物资配备要求), tables 1-4: the kinds of supplies
SUPPLY_CATEGORIES: tuple[str, ...] = (
    "detection",            # 侦检
    "personal_protection",  # 个体防护
    "cordon",               # 警戒
    "communication",        # 通信
    "firefighting",         # 灭火抢险
    "medical",              # 医疗急救
    "leak_sealing",         # 堵漏
    "transfer",             # 输转
    "decontamination",      # 洗消
    "lighting_smoke",       # 排烟照明
    "other",                # 其他
)
SupplyCategory = Literal["detection", "personal_protection", "cordon", "communication",
                         "firefighting", "medical", "leak_sealing", "transfer",
                         "decontamination", "lighting_smoke", "other"]
Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class SupplyLine(StrictModel):
    category: SupplyCategory
    name: Short
    spec: Annotated[str, Field(max_length=200)] = ""
    quantity: Annotated[float, Field(gt=0, le=1e9)]
    unit: Annotated[str, Field(min_length=1, max_length=20)]


class DepotEntry(StrictModel):
    code: Code
    name: Short
    owner: Literal["enterprise", "county", "social"]
    enterprise: CreditCode | None = None
    lat: Lat
    lon: Lon
    address: Text = ""
    contact: Person
    supplies: Annotated[list[SupplyLine], Field(min_length=1)]


class TeamEntry(StrictModel):
    code: Code
    name: Short
    kind: Literal["enterprise", "professional", "social"]
    enterprise: CreditCode | None = None
    lat: Lat
    lon: Lon
    members: Annotated[int, Field(ge=1, le=100000)]
    specialties: Annotated[list[Short], Field(min_length=1)]
    contact: Person
    notes: Text = ""


class ExpertEntry(StrictModel):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=100)]
    specialties: Annotated[list[Short], Field(min_length=1)]
    organisation: Text = ""
    title: Annotated[str, Field(max_length=100)] = ""
    phone: Phone
    lat: Lat | None = None
    lon: Lon | None = None


class ResourceFile(StrictModel):
    # the county the file belongs to, by name; entries of an enterprise take its county
    county: Short | None = None
    depots: list[DepotEntry] = []
    teams: list[TeamEntry] = []
    experts: list[ExpertEntry] = []


RESOURCE_FILE = TypeAdapter(ResourceFile)


@dataclass
class ResourceLoad:
    """What load_resources wrote."""

    depots: int = 0
    items: int = 0
    teams: int = 0
    experts: int = 0

    def line(self) -> str:
        return (f"resources: {self.depots} depots ({self.items} inventory lines), "
                f"{self.teams} teams, {self.experts} experts")


def _owner_problems(parsed: Parsed) -> list[Problem]:
    """Rules across entries, on the raw data: they run even where the schema fails."""
    raw = parsed.data if isinstance(parsed.data, dict) else {}
    out: list[Problem] = []
    codes: dict[str, str] = {}
    for section in ("depots", "teams", "experts"):
        entries = raw.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            code = entry.get("code") if isinstance(entry, dict) else None
            if not isinstance(code, str):
                continue
            if code in codes:
                out.append(parsed.problem((section, i, "code"),
                                          f"code '{code}' is used twice (first in "
                                          f"{codes[code]})"))
            codes.setdefault(code, section)
            owned = {"depots": ("owner", "enterprise"), "teams": ("kind", "enterprise")}
            if section in owned and entry.get(owned[section][0]) == "enterprise" \
                    and entry.get("enterprise") is None:
                out.append(parsed.problem((section, i, "enterprise"),
                                          "an enterprise's entry names its credit code"))
            if section == "experts" and ("lat" in entry) != ("lon" in entry):
                out.append(parsed.problem((section, i, "lat"),
                                          "give both lat and lon, or neither"))
    return out


def check_resources_text(text: str, fmt: Format, *, map_bbox: BBox | None) -> ResourceFile:
    """Parse and check a resource file; PlanValidationError lists every problem."""
    parsed, problems = parse_text(text, fmt)
    if parsed is None:
        raise PlanValidationError(problems)
    doc, schema = validate_model(RESOURCE_FILE, parsed)
    problems += schema + _owner_problems(parsed)
    raw = parsed.data if isinstance(parsed.data, dict) else {}
    for section in ("depots", "teams"):
        items = raw.get(section)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and map_bbox is not None:
                problems += point_problems(parsed, (section, i), item, map_bbox)
    if problems or doc is None:
        raise PlanValidationError(problems)
    return doc


def load_resources(session: Session, text: str, fmt: Format, *,
                   map_bbox: BBox | None = None) -> ResourceLoad:
    """Upsert the file's depots, teams and experts by code; a depot's inventory is replaced
    by the file's (the survey is the inventory of record)."""
    doc = check_resources_text(text, fmt, map_bbox=map_bbox)
    problems: list[Problem] = []
    county_id = _county(session, doc.county, problems)
    enterprises = {e.credit_code: e for e in session.scalars(select(Enterprise))}

    def owner(section: str, i: int, code: str | None) -> tuple[int | None, int | None]:
        if code is None:
            return None, county_id
        e = enterprises.get(code)
        if e is None:
            problems.append(Problem(f"{section}[{i}].enterprise",
                                    f"no enterprise with credit code {code} is registered"))
            return None, county_id
        return e.id, e.county_id if e.county_id is not None else county_id

    report = ResourceLoad()
    for i, d in enumerate(doc.depots):
        eid, cid = owner("depots", i, d.enterprise)
        row = session.scalar(select(SupplyDepot).where(SupplyDepot.code == d.code)) \
            or SupplyDepot(code=d.code)
        row.name, row.owner, row.enterprise_id, row.county_id = d.name, d.owner, eid, cid
        row.lat, row.lon, row.address = d.lat, d.lon, d.address
        row.contact = d.contact.model_dump(mode="json")
        row.items = [SupplyItem(category=s.category, name=s.name, spec=s.spec,
                                quantity=s.quantity, unit=s.unit) for s in d.supplies]
        session.add(row)
        report.depots += 1
        report.items += len(d.supplies)
    for i, t in enumerate(doc.teams):
        eid, cid = owner("teams", i, t.enterprise)
        team = session.scalar(select(RescueTeam).where(RescueTeam.code == t.code)) \
            or RescueTeam(code=t.code)
        team.name, team.kind, team.enterprise_id, team.county_id = t.name, t.kind, eid, cid
        team.lat, team.lon, team.members = t.lat, t.lon, t.members
        team.specialties, team.notes = list(t.specialties), t.notes
        team.contact = t.contact.model_dump(mode="json")
        session.add(team)
        report.teams += 1
    for x in doc.experts:
        ex = session.scalar(select(Expert).where(Expert.code == x.code)) or Expert(code=x.code)
        ex.name, ex.specialties, ex.organisation = x.name, list(x.specialties), x.organisation
        ex.title, ex.phone, ex.county_id, ex.lat, ex.lon = (x.title, x.phone, county_id,
                                                            x.lat, x.lon)
        session.add(ex)
        report.experts += 1
    if problems:
        raise PlanValidationError(problems)
    session.flush()
    return report


def _county(session: Session, name: str | None, problems: list[Problem]) -> int | None:
    counties = list(session.scalars(select(Region).where(Region.level == RegionLevel.COUNTY)))
    if name is not None:
        match = [c for c in counties if c.name == name]
        if not match:
            problems.append(Problem("county", f"no county named {name}"))
            return None
        return match[0].id
    if len(counties) == 1:
        return counties[0].id
    problems.append(Problem("county", "name the county the file belongs to (several exist)"))
    return None
