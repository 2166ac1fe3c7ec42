"""ERG 2016 isolation distances and the hazard zone they draw around a release."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from astral import Observer
from astral.sun import elevation
from shapely.geometry import Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from dispatch.graph import EARTH_RADIUS_M, EdgeId, PointOffRoad, RoadGraph, Snap, bearing_deg
from dispatch.reasons import Part, Reason

ERG_CSV = Path(__file__).resolve().parent / "data" / "erg2016.csv"

# ERG 2016 Table 3 wind classes: low < 10 km/h, moderate 10-20 km/h, high > 20 km/h
LOW_WIND_MAX_MS = 10 / 3.6
HIGH_WIND_MIN_MS = 20 / 3.6

CONTAINERS: dict[str, str] = {
    "RAIL": "rail tank car",
    "SEMI": "highway tank truck or trailer",
    "MTON": "multiple ton cylinders",
    "STON": "multiple small cylinders or single ton cylinder",
    "AG": "agricultural nurse tank",
    "MSM": "multiple small cylinders",
}
_CONTAINER_ALIASES: dict[str, str] = {
    "rail": "RAIL", "rail tank car": "RAIL", "tank car": "RAIL", "railcar": "RAIL",
    "semi": "SEMI", "truck": "SEMI", "tank truck": "SEMI", "trailer": "SEMI",
    "highway tank truck": "SEMI", "highway tank truck or trailer": "SEMI",
    "mton": "MTON", "multiple ton cylinders": "MTON",
    "ston": "STON", "single ton cylinder": "STON", "ton cylinder": "STON",
    "multiple small cylinders or single ton cylinder": "STON",
    "ag": "AG", "nurse tank": "AG", "agricultural nurse tank": "AG",
    "msm": "MSM", "small cylinders": "MSM", "multiple small cylinders": "MSM",
}
_WIND_COL = {"low": "LOW", "moderate": "MOD", "high": "HI"}


@dataclass(frozen=True)
class IsolationDistances:
    """Initial isolation radius and downwind protective-action distance, with their source."""

    radius_m: float
    protective_m: float
    source: str
    un: str = ""
    material: str = ""
    guide: int = 0
    # the source as [{"code", "params"}] for the pages to translate (dispatch.reasons)
    source_parts: list[Part] = field(default_factory=list, compare=False)
    # table1 / table3: ERG's distances for the material; guide: its orange guide page's
    # (immediate isolation, large-spill evacuation, fire isolation) where Table 1 has no row
    basis: str = "table1"
    guide_code: str = ""
    # ERG prints "more than 11 km" as 11.0+: the real distance may be larger
    over_11km: bool = False
    # ERG's "+": larger under some atmospheric conditions
    atm: bool = False
    # a guide page without a large-spill distance: "increase as necessary"
    increase_as_necessary: bool = False


@functools.lru_cache(maxsize=1)
def erg_table() -> dict[int, list[dict[str, Any]]]:
    """ERG 2016 rows by UN/NA number (loaded once)."""
    out: dict[int, list[dict[str, Any]]] = {}
    with open(ERG_CSV, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            rec: dict[str, Any] = {}
            for k, v in row.items():
                try:
                    rec[k] = float(v)
                except ValueError:
                    rec[k] = v
            out.setdefault(int(rec["IDNum"]), []).append(rec)
    return out


ERG_GUIDES_CSV = Path(__file__).resolve().parent / "data" / "erg2016_guides.csv"
# ERG prints distances of more than 11 km as "11.0+"; the table stores them as 11000
ERG_MAX_M = 11000.0
# where a guide says only "increase as necessary" for a large spill
INCREASE_FLOOR_LIQUID_M = 300.0
INCREASE_FLOOR_GAS_M = 800.0


@functools.lru_cache(maxsize=1)
def guide_index() -> dict[int, tuple[str, str]]:
    """UN/NA number -> (guide, name) from the ERG 2016 ID-number index (yellow pages)."""
    out: dict[int, tuple[str, str]] = {}
    with open(ERG_GUIDES_CSV, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out[int(row["un"])] = (row["guide"].strip(), row["name"].strip())
    return out


def _number_of(un: str) -> int | None:
    m = re.fullmatch(r"(?:UN|NA|ID)?\s*(\d{1,4})", un.strip(), flags=re.IGNORECASE)
    return int(m.group(1)) if m else None


def _industrial(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ERG lists chemical-warfare agents under the same numbers (CG phosgene, AC hydrogen
    # cyanide...); a plant release is never one of them, and their distances are far larger.
    # Rows without any downwind distance (LPG's BLEVE row) are guide pages, not Table 1.
    return [r for r in rows if "weaponized" not in str(r["Material"]).lower()
            and (r.get("TABLE3") == "Yes"
                 or any(float(r.get(k) or 0) > 0 for k in ("SM_DY", "SM_NTE", "LG_DY",
                                                            "LG_NTE")))]


def _lookup(un: str) -> tuple[int, list[dict[str, Any]]] | None:
    text = un.strip()
    table = erg_table()
    num = _number_of(text)
    if num is not None:
        rows = _industrial(table.get(num, [])) if num != 0 else []
        return (num, rows) if rows else None
    # a material name instead of a number: exact name match only, never a guess
    for num, rows in table.items():
        named = [r for r in _industrial(rows) if str(r["Material"]).lower() == text.lower()]
        if named and num != 0:
            return num, named
    return None


# ERG: "day" is sunrise to sunset; the sun's centre 0.833 degrees below the horizon
# (refraction and its radius) is the moment of sunrise and sunset
SUNRISE_ELEVATION_DEG = -0.833
# ERG: a small spill is up to about 208 litres (one drum); a tonne bound is generous
SMALL_SPILL_MAX_T = 0.2


def is_night(lat: float, lon: float, when: dt.datetime) -> bool:
    """Whether the sun is down at the place and moment (ERG's night: sunset to sunrise)."""
    observer = Observer(latitude=lat, longitude=lon)
    return bool(elevation(observer, when.astimezone(dt.UTC)) <= SUNRISE_ELEVATION_DEG)


def wind_class(wind_speed_ms: float) -> str:
    """ERG Table 3 wind class of a speed in m/s: low, moderate or high."""
    if wind_speed_ms < LOW_WIND_MAX_MS:
        return "low"
    return "high" if wind_speed_ms > HIGH_WIND_MIN_MS else "moderate"


def _table3(row: dict[str, Any], container: str | None, night: bool,
            wind_speed_ms: float | None) -> tuple[float, float, Reason] | None:
    period = "NTE" if night else "DY"
    classes = [wind_class(wind_speed_ms)] if wind_speed_ms is not None else list(_WIND_COL)
    prefixes = list(CONTAINERS)
    code = _CONTAINER_ALIASES.get(container.strip().lower()) if container else None
    if code is not None:
        prefixes = [code]
    best: tuple[float, float, str, str] | None = None
    for pre in prefixes:
        iso = float(row.get(f"{pre}_ISO", 0) or 0)
        for wc in classes:
            prot = float(row.get(f"{pre}{period}{_WIND_COL[wc]}", 0) or 0)
            if iso <= 0 and prot <= 0:
                continue
            if best is None or (prot, iso) > (best[1], best[0]):
                best = (iso, prot, pre, wc)
    if best is None and code is not None:
        return _table3(row, None, night, wind_speed_ms)  # container not listed for this material
    if best is None:
        return None
    how = Reason(SOURCE_TEXT).add(f"isolation.container.{best[2]}").add(
        f"isolation.wind.{best[3]}", sep=", ")
    notes = (["isolation.container_unknown"] if code is None else []) + (
        ["isolation.wind_unknown"] if wind_speed_ms is None else [])
    for i, note in enumerate(notes):
        how.add(note, sep=" (" if i == 0 else "; ")
    if notes:
        how.punct(")")
    return best[0], best[1], how


def isolation_for(
    un: str,
    spill: str = "small",
    night: bool = False,
    wind_speed_ms: float | None = None,
    container: str | None = None,
    fire: bool = False,
) -> IsolationDistances | None:
    """ERG 2016 distances for a UN number (e.g. "UN1017"): Table 1 (or 3) where the material
    has a row, else its guide page; None only for a number ERG does not list."""
    found = _lookup(un)
    if found is None:
        return guide_isolation(un, spill=spill, fire=fire)
    num, rows = found
    large = spill.lower().startswith("l")
    period = "night" if night else "day"
    results: list[IsolationDistances] = []
    for row in rows:
        name = str(row["Material"])
        src = Reason(SOURCE_TEXT)
        label = {"un": f"UN{num:04d}", "material": name.lower()}
        basis = "table1"
        if large and row.get("TABLE3") == "Yes":
            t3 = _table3(row, container, night, wind_speed_ms)
            if t3 is None:
                continue
            iso, prot, how = t3
            basis = "table3"
            src.add("isolation.erg", table=3, **label).add("isolation.spill.large", sep=", ")
            src.extend(how, sep=", ")
        else:
            pre = "LG" if large else "SM"
            iso = float(row[f"{pre}_ISO"])
            prot = float(row[f"{pre}_NTE" if night else f"{pre}_DY"])
            src.add("isolation.erg", table=1, **label).add(
                f"isolation.spill.{'large' if large else 'small'}", sep=", ")
        src.add(f"isolation.{period}", sep=", ")
        over = prot >= ERG_MAX_M
        atm = str(row.get("ATM") or "").strip().lower() == "yes"
        if over:
            src.add("isolation.over_11km", sep=", ")
        if atm:
            src.add("isolation.atm", sep=", ")
        if fire and float(row.get("FIRE_ISO", 0) or 0) > 0:
            fire_iso = float(row["FIRE_ISO"])
            # the guide: isolate for the fire distance in all directions, evacuate as far
            iso, prot = max(iso, fire_iso), max(prot, fire_iso)
            src.add("isolation.fire", sep=", ", m=f"{fire_iso:.0f}")
        if iso <= 0 and prot <= 0:
            continue
        guide = guide_index().get(num, (str(int(row["GuideNum"])), ""))[0]
        results.append(IsolationDistances(iso, prot, src.text, f"UN{num:04d}", name,
                                          int(row["GuideNum"]), src.parts, basis=basis,
                                          guide_code=guide, over_11km=over, atm=atm))
    if not results:
        return guide_isolation(un, spill=spill, fire=fire)
    # several entries share a number: without the exact material, the most protective rules
    best = max(results, key=lambda r: (r.protective_m, r.radius_m))
    if len({(r.radius_m, r.protective_m) for r in results}) > 1:
        note = Reason(SOURCE_TEXT).add("isolation.most_protective", n=len(results))
        best = IsolationDistances(best.radius_m, best.protective_m,
                                  best.source + f" ({note.text})", best.un, best.material,
                                  best.guide, best.source_parts + note.parts, basis=best.basis,
                                  guide_code=best.guide_code, over_11km=best.over_11km,
                                  atm=best.atm)
    return best


def guide_isolation(un: str, spill: str = "small", fire: bool = False
                    ) -> IsolationDistances | None:
    """The orange guide page's public-safety distances for a material without a Table 1
    row: immediate precautionary isolation all round (50 m liquids, 100 m gases), the
    large-spill downwind evacuation, and the fire isolation (a tank, rail car or tank truck
    involved: 800 or 1600 m all round)."""
    num = _number_of(un)
    if num is None or num not in guide_index():
        return None
    code, name = guide_index()[num]
    page = _guide_page(int(code.rstrip("P")))
    if page is None:
        return None
    iso = float(page["SM_ISO"] or 0)
    large_m = float(page["LG_ISO"] or 0)
    fire_m = float(page["FIRE_ISO"] or 0)
    large = spill.lower().startswith("l")
    src = Reason(SOURCE_TEXT).add("isolation.guide", guide=code, un=f"UN{num:04d}",
                                  material=name.lower())
    prot = iso
    increase = False
    if large:
        if large_m > 0:
            prot = max(iso, large_m)
            src.add("isolation.guide_large", sep=", ", m=f"{large_m:.0f}")
        else:
            # "increase as necessary" is not a distance a route can avoid: take the guides'
            # own large-spill figure for the state (flammable liquids 300 m, gases 800 m)
            increase = True
            prot = max(iso, INCREASE_FLOOR_GAS_M if iso >= 100 else INCREASE_FLOOR_LIQUID_M)
            src.add("isolation.guide_increase", sep=", ", m=f"{prot:.0f}")
    else:
        src.add("isolation.spill.small", sep=", ")
    if fire and fire_m > 0:
        iso, prot = max(iso, fire_m), max(prot, fire_m)
        src.add("isolation.fire", sep=", ", m=f"{fire_m:.0f}")
    return IsolationDistances(iso, prot, src.text, f"UN{num:04d}", name, int(code.rstrip("P")),
                              src.parts, basis="guide", guide_code=code,
                              increase_as_necessary=increase)


def _guide_page(guide: int) -> dict[str, Any] | None:
    return next((r for r in erg_table().get(0, []) if int(r["GuideNum"]) == guide), None)


# English templates of the source parts; web/static/i18n/<lang>.json hold them as
# "reason.<code>" (en.json word for word: tests/web/test_i18n.py checks it)
SOURCE_TEXT: dict[str, str] = {
    "isolation.erg": "ERG2016 Table {table}, {un} {material}",
    "isolation.spill.small": "small spill",
    "isolation.spill.large": "large spill",
    "isolation.day": "day",
    "isolation.night": "night",
    "isolation.fire": "fire: isolate {m} m",
    "isolation.most_protective": "most protective of {n} entries",
    "isolation.container_unknown": "container unknown: most protective",
    "isolation.wind_unknown": "wind unknown: most protective",
    "isolation.plan_scenario": "plan scenario {scenario}",
    "isolation.spill_assumed.large": "spill size not reported: large assumed (the "
                                      "installation holds more than a drum)",
    "isolation.spill_assumed.small": "spill size not reported: small assumed (no more "
                                      "than a drum is held here)",
    "isolation.over_11km": "more than 11 km: the real distance may be larger",
    "isolation.atm": "larger under some atmospheric conditions (ERG +)",
    "isolation.guide": "ERG2016 Guide {guide}, {un} {material} (no Table 1 row)",
    "isolation.guide_large": "large spill: evacuate {m} m downwind",
    "isolation.guide_increase": "large spill: the guide says increase downwind as necessary;"
                                " {m} m taken",
    **{f"isolation.container.{code}": name for code, name in CONTAINERS.items()},
    **{f"isolation.wind.{wc}": f"{wc} wind" for wc in _WIND_COL},
}


class HazardZone:
    """Isolation circle plus the protective-action area (downwind square, or a circle)."""

    def __init__(self, lat: float, lon: float, radius_m: float, protective_m: float,
                 downwind_deg: float | None = None) -> None:
        self.lat, self.lon = float(lat), float(lon)
        self.radius_m, self.protective_m = float(radius_m), float(protective_m)
        self.downwind_deg = None if downwind_deg is None else float(downwind_deg) % 360.0
        self._ky = EARTH_RADIUS_M * math.pi / 180.0
        self._kx = self._ky * math.cos(math.radians(self.lat))
        self.isolation_local: BaseGeometry = Point(0, 0).buffer(max(self.radius_m, 1.0), 64)
        self.protective_local: BaseGeometry
        if self.protective_m <= 0:
            self.protective_local = Polygon()
        elif self.downwind_deg is None:
            self.protective_local = Point(0, 0).buffer(self.protective_m, 64)
        else:
            a = math.radians(self.downwind_deg)
            d = (math.sin(a), math.cos(a))  # x east, y north
            p = (d[1], -d[0])
            h, s = self.protective_m / 2, self.protective_m
            self.protective_local = Polygon([
                (p[0] * h, p[1] * h), (p[0] * h + d[0] * s, p[1] * h + d[1] * s),
                (-p[0] * h + d[0] * s, -p[1] * h + d[1] * s), (-p[0] * h, -p[1] * h)])
        self.local: BaseGeometry = shapely.union(self.isolation_local, self.protective_local)
        shapely.prepare(self.local)

    @property
    def upwind_deg(self) -> float | None:
        """Where the wind comes from (the direction to approach from)."""
        return None if self.downwind_deg is None else (self.downwind_deg + 180.0) % 360.0

    def _to_local(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon) * self._kx, (lat - self.lat) * self._ky

    def _to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(
            (c[:, 0] / self._kx + self.lon, c[:, 1] / self._ky + self.lat)))

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a point is inside the isolation or protective-action area."""
        x, y = self._to_local(lat, lon)
        return bool(shapely.intersects_xy(self.local, x, y))

    def polygon(self) -> BaseGeometry:
        """The whole zone as a lon/lat shapely geometry."""
        return self._to_lonlat(self.local)

    def polygon_geojson(self) -> dict[str, Any]:
        """The whole zone as a GeoJSON geometry (lon, lat)."""
        return _rounded(mapping(self.polygon()))

    def features_geojson(self) -> dict[str, Any]:
        """Isolation and protective areas as separate GeoJSON features for drawing."""
        feats = [{"type": "Feature", "properties": {"area": "isolation",
                                                     "radius_m": self.radius_m},
                  "geometry": _rounded(mapping(self._to_lonlat(self.isolation_local)))}]
        if not self.protective_local.is_empty:
            feats.append({"type": "Feature",
                          "properties": {"area": "protective", "distance_m": self.protective_m,
                                         "downwind_deg": self.downwind_deg},
                          "geometry": _rounded(mapping(self._to_lonlat(self.protective_local)))})
        return {"type": "FeatureCollection", "features": feats}

    def isolation_edges(self, graph: RoadGraph) -> frozenset[EdgeId]:
        """Every edge (both directions) whose road shape enters the isolation circle."""
        return graph.edges_near(self._to_lonlat(self.isolation_local))

    def blocked_edges(self, graph: RoadGraph) -> frozenset[EdgeId]:
        """Every edge (both directions) whose road shape enters the zone."""
        return graph.edges_near(self.polygon())

    def staging_point(self, graph: RoadGraph, blocked: frozenset[EdgeId] | None = None,
                      margin_m: float = 30.0, crosswind: bool = False) -> Snap | None:
        """An open road point just outside the zone, upwind if the wind is known, reachable.

        crosswind widens the fan to the whole upwind half-plane: the protective zone lies
        wholly downwind of the source, so a point there is outside it whatever the blocking.
        """
        blocked = blocked if blocked is not None else self.blocked_edges(graph)
        reach_needed = self._reach_needed(graph)
        upwind = self.upwind_deg
        fan = 100 if crosswind else 90
        # bearings to try: straight upwind first, then fanning out; all round without wind
        if upwind is None:
            offsets = [float(a) for a in range(0, 360, 15)]
        else:
            offsets = [0.0] + [s * a for a in range(10, fan, 10) for s in (1.0, -1.0)]
        base = 0.0 if upwind is None else upwind
        extent = self._extent_m()
        steps = [margin_m, margin_m + 50, margin_m + 150, margin_m + 400, margin_m + 1000]
        seen: set[int] = set()
        for step in steps:
            found: list[tuple[float, Snap]] = []
            for off in offsets:
                bearing = (base + off) % 360.0
                r = self._boundary_distance(bearing, extent) + step
                a = math.radians(bearing)
                lat = self.lat + r * math.cos(a) / self._ky
                lon = self.lon + r * math.sin(a) / self._kx
                try:
                    s = graph.snap(lat, lon, max_distance_m=max(60.0, step), avoid=blocked)
                except PointOffRoad:
                    continue
                if s.edge in seen or not self._outside(s, margin_m / 2):
                    continue
                seen.add(s.edge)
                if upwind is not None and _angle(bearing_deg(self.lat, self.lon, s.lat, s.lon),
                                                 upwind) > (90.0 if crosswind else 89.9):
                    continue
                found.append((math.hypot(*self._to_local(s.lat, s.lon)), s))
            for _, s in sorted(found, key=lambda t: t[0]):
                field = graph.travel_times_to(s, blocked=blocked)
                if field.reached_count() >= reach_needed:
                    return s
        return None

    def _outside(self, s: Snap, margin_m: float) -> bool:
        x, y = self._to_local(s.lat, s.lon)
        return self.local.distance(Point(x, y)) >= margin_m

    def _extent_m(self) -> float:
        return max(self.radius_m, self.protective_m * 1.5) + 10.0

    def _boundary_distance(self, bearing: float, extent: float) -> float:
        """Distance from the source to the zone's edge along a bearing."""
        a = math.radians(bearing)
        ray = shapely.LineString([(0, 0), (extent * math.sin(a), extent * math.cos(a))])
        inside = ray.intersection(self.local)
        return float(inside.length) if not inside.is_empty else 0.0

    def _reach_needed(self, graph: RoadGraph) -> int:
        """Junctions a staging point must be reachable from: half of those outside the zone."""
        lon, lat = graph.node_arrays()
        x = (lon - self.lon) * self._kx
        y = (lat - self.lat) * self._ky
        outside = int((~shapely.intersects_xy(self.local, x, y)).sum())
        return max(1, outside // 2)


def _angle(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _rounded(geom: Any, nd: int = 6) -> Any:
    if isinstance(geom, dict):
        return {k: _rounded(v, nd) for k, v in geom.items()}
    if isinstance(geom, list | tuple):
        return [_rounded(v, nd) for v in geom]
    if isinstance(geom, float):
        return round(geom, nd)
    return geom
