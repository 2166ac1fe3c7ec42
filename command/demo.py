"""The embedded demo: a county on the bundled map with stations, units, accounts and plans.

Enterprises and their plans are files under plans/data/demo and go through the same import
path as any county's own files.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from command.auth import hash_password
from command.db import session_scope
from command.models import Region, RegionLevel, Role, Station, Unit, User

log = logging.getLogger(__name__)

DEMO_LOGINS = [("duty", "duty", "duty_officer"), ("trainer", "trainer", "trainer"),
               ("admin", "admin", "admin")]


@dataclass(frozen=True)
class DemoStation:
    key: str
    name: str
    alt_name: str
    kind: str
    lat: float
    lon: float
    units: tuple[tuple[str, str, tuple[str, ...]], ...]  # callsign, kind, capabilities


STATIONS = (
    DemoStation("F1", "城北消防救援站", "North Fire Station", "fire", -23.52946, -46.66522, (
        ("E11", "fire", ("fire", "rescue")),
        ("E12", "fire", ("fire", "foam")),
        ("L11", "fire", ("fire", "aerial")),
    )),
    DemoStation("F2", "城东消防救援站", "East Fire Station", "fire", -23.5450, -46.6050, (
        ("E21", "fire", ("fire", "rescue")),
        ("E22", "fire", ("fire", "foam")),
        ("C21", "command", ("command",)),
    )),
    DemoStation("F3", "城南消防救援站", "South Fire Station", "fire", -23.57504, -46.63939, (
        ("E31", "fire", ("fire",)),
        ("E32", "fire", ("fire", "foam")),
        ("R31", "fire", ("rescue", "fire")),
    )),
    DemoStation("H4", "化工园区危化品特勤站", "Chemical Park Hazmat Station", "hazmat",
                -23.5550, -46.6500, (
        ("H41", "hazmat", ("hazmat", "rescue")),
        ("H42", "hazmat", ("hazmat", "fire", "foam")),
        ("C41", "command", ("command", "hazmat")),
    )),
    DemoStation("M5", "县第一人民医院", "County No.1 People's Hospital", "hospital",
                -23.5400, -46.6350, (
        ("A51", "ems", ("medical",)),
        ("A52", "ems", ("medical",)),
    )),
    DemoStation("M6", "化工园区医院", "Chemical Park Hospital", "hospital",
                -23.57001, -46.66199, (
        ("A61", "ems", ("medical",)),
        ("A62", "ems", ("medical",)),
    )),
)


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) == 0


def load_regions(session: Session) -> Region:
    """Province → city → county for the demo; returns the county."""
    province = Region(name="东江省", level=RegionLevel.PROVINCE)
    session.add(province)
    session.flush()
    city = Region(name="临港市", level=RegionLevel.CITY, parent_id=province.id)
    session.add(city)
    session.flush()
    county = Region(name="滨海县", level=RegionLevel.COUNTY, parent_id=city.id)
    session.add(county)
    session.flush()
    return county


def load_stations_and_units(session: Session, county: Region, now: dt.datetime) -> list[Unit]:
    units: list[Unit] = []
    for st in STATIONS:
        station = Station(name=st.name, alt_name=st.alt_name, kind=st.kind, lat=st.lat,
                          lon=st.lon, county_id=county.id)
        session.add(station)
        session.flush()
        for i, (callsign, kind, caps) in enumerate(st.units):
            # park vehicles a few metres apart so the map shows each one
            unit = Unit(callsign=callsign, kind=kind, capabilities=list(caps),
                        station_id=station.id, lat=st.lat + 0.00008 * i, lon=st.lon,
                        county_id=county.id, status_since=now)
            session.add(unit)
            units.append(unit)
    session.flush()
    return units


def load_accounts(session: Session, units: list[Unit], county: Region) -> None:
    """Demo logins; real deployments set passwords with `redline users set-password`."""
    province_id = county.parent_id
    province = session.get(Region, province_id).parent_id if province_id else None
    for username, password, role in DEMO_LOGINS:
        session.add(User(username=username, password_hash=hash_password(password),
                         role=Role(role), region_id=province))
    for unit in units:
        session.add(User(username=unit.callsign, password_hash=hash_password(unit.callsign),
                         role=Role.UNIT, unit_id=unit.id, region_id=county.id))


def load_demo(hub: Any) -> dict[str, int]:
    """Load the whole demo into an empty database."""
    from plans.demo import load_demo_plans

    now = dt.datetime.now(dt.UTC)
    with session_scope(hub.sessions) as s:
        county = load_regions(s)
        units = load_stations_and_units(s, county, now)
        load_accounts(s, units, county)
        county_id = county.id
    counts = load_demo_plans(hub.sessions, bbox=hub.graph.bbox)
    with session_scope(hub.sessions) as s:
        from plans.models import Enterprise

        s.execute(update(Enterprise).where(Enterprise.county_id.is_(None))
                  .values(county_id=county_id))
    return {"units": len(units), **counts}


def is_demo_map(map_path: str | None) -> bool:
    """Whether the hub routes on the bundled map the demo's places were drawn on."""
    from pathlib import Path

    from dispatch.maps import DEFAULT_MAP

    return map_path is None or Path(map_path).resolve() == DEFAULT_MAP.resolve()


def load_demo_if_empty(hub: Any) -> bool:
    """Load the demo once: two hub processes starting together on an empty database take
    turns under a cross-process lock, and the second finds the users and does nothing.

    Never on another map: the demo's stations and enterprises lie in São Paulo, and its
    well-known passwords must never reach a county's real database."""
    from command.db import cross_process_lock

    if not is_demo_map(hub.config.get("MAP_PATH")):
        log.warning("not loading the demo: MAP_PATH is not the bundled demo map")
        return False

    with cross_process_lock(hub.engine, "demo"):
        with hub.sessions() as s:
            if not is_empty(s):
                return False
        load_demo(hub)
    return True
