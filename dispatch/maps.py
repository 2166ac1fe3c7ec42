"""Road map import (OSM XML/PBF, GraphML, DIMACS) and the compact on-disk map format."""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from dispatch.graph import RoadGraph

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_MAP = DATA_DIR / "sao_paulo_centro.json.gz"
FORMAT = "redline-roads"
FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0, https://www.openstreetmap.org/copyright"
OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".xml", ".xml.gz",
                ".xml.bz2")

DRIVE_HIGHWAYS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "service", "road",
})

# Free-flow speeds (km/h) for roads without a usable maxspeed tag; MAPS.md explains the choice.
# Urban: a city centre's congestion eats what an emergency vehicle could legally gain.
URBAN_SPEEDS_KMH: dict[str, float] = {
    "motorway": 80.0, "motorway_link": 50.0, "trunk": 60.0, "trunk_link": 40.0,
    "primary": 50.0, "primary_link": 35.0, "secondary": 40.0, "secondary_link": 30.0,
    "tertiary": 35.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "road": 30.0,
}
RURAL_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0, "motorway_link": 60.0, "trunk": 80.0, "trunk_link": 50.0,
    "primary": 70.0, "primary_link": 50.0, "secondary": 60.0, "secondary_link": 40.0,
    "tertiary": 50.0, "tertiary_link": 40.0, "unclassified": 40.0, "residential": 30.0,
    "living_street": 10.0, "service": 20.0, "road": 40.0,
}
# A 1 km grid cell with at least this much drivable road (km) counts as urban.
URBAN_ROAD_KM_PER_KM2 = 10.0

# Implicit maxspeed values ("CN:urban", "DE:rural", "RU:motorway"): by the part after the colon.
ZONE_SPEEDS_KMH: dict[str, float] = {
    "urban": 50.0, "rural": 90.0, "motorway": 120.0, "trunk": 100.0, "living_street": 20.0,
    "walk": 6.0, "school": 30.0, "pedestrian_zone": 10.0, "bicycle_road": 30.0,
}
# Country-specific exceptions to the zone table (km/h).
COUNTRY_ZONE_SPEEDS_KMH: dict[str, float] = {
    "CN:rural": 70.0, "CN:urban": 50.0, "CN:motorway": 120.0,
    "DE:rural": 100.0, "FR:rural": 80.0, "GB:nsl_single": 96.6, "GB:nsl_dual": 112.7,
    "GB:motorway": 112.7, "US:urban": 40.2,
}
MPH = 1.609344

# access values that shut out a motor car (an emergency vehicle is one, unless emergency=*)
DENIED = frozenset({"no", "private", "agricultural", "forestry", "agricultural;forestry",
                    "military", "bus", "psv", "delivery_only", "use_sidepath"})
ALLOWED = frozenset({"yes", "designated", "permissive", "destination", "customers",
                     "delivery", "official", "permit"})
# most specific first: the first of these tags a way carries decides (OSM access hierarchy)
ACCESS_KEYS = ("emergency", "motorcar", "motor_vehicle", "vehicle", "access")
DROPPED_SERVICE = frozenset({"driveway", "parking_aisle"})

Progress = Callable[[str], None]


class MapImportError(Exception):
    """The input file cannot be turned into a road map."""


class MapLibraryMissing(MapImportError):
    """The OSM reading library (pyosmium) is not installed."""


@dataclass
class ImportStats:
    """What the importer kept and dropped, in km per road class and per reason."""

    kept_km: dict[str, float] = field(default_factory=dict)
    dropped_km: dict[str, float] = field(default_factory=dict)
    dropped_reasons: dict[str, tuple[int, float]] = field(default_factory=dict)  # ways, km
    components: int = 0
    largest_share: float = 0.0
    restrictions: int = 0
    restrictions_skipped: dict[str, int] = field(default_factory=dict)
    urban_share: float = 0.0
    maxspeed_tagged_km: float = 0.0

    def drop(self, reason: str, highway: str, km: float) -> None:
        """Count a dropped way under its reason and road class."""
        ways, total = self.dropped_reasons.get(reason, (0, 0.0))
        self.dropped_reasons[reason] = (ways + 1, total + km)
        self.dropped_km[highway] = self.dropped_km.get(highway, 0.0) + km

    def lines(self) -> list[str]:
        """The human-readable import report."""
        out = ["road class         kept km   dropped km"]
        for hw in sorted(set(self.kept_km) | set(self.dropped_km),
                         key=lambda h: -(self.kept_km.get(h, 0) + self.dropped_km.get(h, 0))):
            out.append(f"  {hw:<16} {self.kept_km.get(hw, 0.0):>8.1f} "
                       f"{self.dropped_km.get(hw, 0.0):>11.1f}")
        out.append(f"  {'total':<16} {sum(self.kept_km.values()):>8.1f} "
                   f"{sum(self.dropped_km.values()):>11.1f}")
        if self.dropped_reasons:
            out.append("dropped, by reason (ways, km):")
            for reason, (n, km) in sorted(self.dropped_reasons.items(), key=lambda r: -r[1][1]):
                out.append(f"  {reason:<40} {n:>6} {km:>9.1f}")
        out.append(f"strongly connected components: {self.components}; largest holds "
                   f"{self.largest_share:.1%} of junctions (only it is kept)")
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.restrictions_skipped.items()))
        out.append(f"turn restrictions honoured: {self.restrictions}"
                   + (f" (skipped: {skipped})" if skipped else ""))
        out.append(f"speeds: maxspeed tagged on {self.maxspeed_tagged_km:.1f} km; "
                   f"urban defaults on {self.urban_share:.0%} of the rest")
        return out


@dataclass(frozen=True)
class MapReport:
    """Summary of an imported map."""

    nodes: int
    edges: int
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
    seconds: float
    out_path: Path | None = None
    load_seconds: float | None = None
    stats: ImportStats | None = None


@dataclass
class MapArrays:
    """Column arrays of a road map; node references in edges are 0-based node indices."""

    node_ids: list[int]
    lon: list[float]
    lat: list[float]
    u: list[int]
    v: list[int]
    key: list[int]
    length: list[float]
    travel_time: list[float]
    highway: list[str]
    name: list[str]
    # per edge: flat [lon0, lat0, lon1, lat1, ...] including both end nodes, or None = straight
    geometry: list[list[float] | None]
    meta: dict[str, Any]
    # banned turns as (edge into a junction, edge out of it), from OSM turn restrictions
    banned_turns: list[tuple[int, int]] = field(default_factory=list)


def _noop(_msg: str) -> None:
    return None


def _first_drive(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if v in DRIVE_HIGHWAYS:
            return str(v)
    return str(values[0]) if values else ""


def _is_drive(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(v in DRIVE_HIGHWAYS for v in values)


def _name(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list):
        return " / ".join(str(v) for v in dict.fromkeys(value))
    return str(value)


# ---- OSM tag rules ---------------------------------------------------------------------
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")


def parse_maxspeed(value: str | None) -> float | None:
    """km/h of an OSM maxspeed value ("50", "30 mph", "CN:urban", "50;30"), None if unusable."""
    if not value:
        return None
    speeds = []
    for part in value.split(";"):
        part = part.strip()
        m = _NUMBER.match(part)
        if m:
            unit = m.group(2)
            kmh = float(m.group(1)) * (MPH if unit == "mph" else 1.852 if unit == "knots" else 1)
            if kmh > 0:
                speeds.append(kmh)
        elif part in COUNTRY_ZONE_SPEEDS_KMH:
            speeds.append(COUNTRY_ZONE_SPEEDS_KMH[part])
        elif part == "walk":
            speeds.append(ZONE_SPEEDS_KMH["walk"])
        elif ":" in part:
            zone = part.split(":", 1)[1]
            digits = re.search(r"(\d+)", zone)
            if zone.startswith("zone") and digits:  # DE:zone30, DE:zone:30
                speeds.append(float(digits.group(1)))
            elif zone in ZONE_SPEEDS_KMH:
                speeds.append(ZONE_SPEEDS_KMH[zone])
    # "none", "signals", "variable": no usable number, the class default applies
    return min(speeds) if speeds else None


def way_verdict(tags: dict[str, str]) -> str | None:
    """Why a highway is not drivable by a fire engine or ambulance, None if it is."""
    hw = tags.get("highway", "")
    if hw not in DRIVE_HIGHWAYS:
        return f"highway={hw}"
    if tags.get("area") == "yes":
        return "area=yes"
    for key in ACCESS_KEYS:
        value = tags.get(key)
        if value is None:
            continue
        values = {v.strip() for v in value.split(";")}
        if values & ALLOWED:
            break
        if values & DENIED:
            return f"{key}={value}"
    if hw == "service" and tags.get("service") in DROPPED_SERVICE \
            and tags.get("emergency") not in ALLOWED:
        return f"service={tags['service']}"
    if tags.get("oneway") == "reversible":
        # its direction changes by the hour: no route may count on either
        return "oneway=reversible"
    return None


def oneway_of(tags: dict[str, str]) -> int:
    """1 = drivable along the way only, -1 = against it only, 0 = both ways."""
    value = tags.get("oneway", "")
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value in ("no", "false", "0"):
        return 0
    if tags.get("junction") in ("roundabout", "circular"):
        return 1
    if tags.get("highway") in ("motorway", "motorway_link"):
        return 1
    return 0


# ---- reading OSM with pyosmium -------------------------------------------------------------
@dataclass
class _Way:
    osm_id: int
    highway: str
    name: str
    oneway: int
    speed_fwd: float | None
    speed_bwd: float | None
    refs: list[int]
    lons: list[float]
    lats: list[float]
    km: float


def _osmium() -> Any:
    try:
        import osmium
    except ImportError as exc:
        raise MapLibraryMissing(
            "the OSM reader is not installed: run `pip install osmium` in this environment "
            "(it is a dependency of redline; `make run` installs it)") from exc
    return osmium


def _line_km(lons: list[float], lats: list[float]) -> float:
    from dispatch.graph import haversine_m

    return sum(haversine_m(lats[i], lons[i], lats[i + 1], lons[i + 1])
               for i in range(len(lons) - 1)) / 1000.0


def _read_osm_ways(path: Path, stats: ImportStats, progress: Progress
                   ) -> tuple[list[_Way], list[tuple[int, str, int, int, int]]]:
    """Drivable ways (filtered before anything is joined) and turn restrictions of a file."""
    osmium = _osmium()
    ways: list[_Way] = []
    restrictions: list[tuple[int, str, int, int, int]] = []  # rel id, kind, from, via, to
    fp = osmium.FileProcessor(str(path)).with_locations().with_filter(
        osmium.filter.EntityFilter(osmium.osm.WAY | osmium.osm.RELATION))
    seen, last = 0, time.perf_counter()
    try:
        for obj in fp:
            seen += 1
            if seen % 20000 == 0 and time.perf_counter() - last > 2.0:
                last = time.perf_counter()
                progress(f"read {seen:,} ways and relations, kept {len(ways):,} roads")
            if obj.is_way():
                hw = obj.tags.get("highway")
                if hw is None:
                    continue
                refs, lons, lats = [], [], []
                for n in obj.nodes:
                    if n.location.valid():  # nodes clipped from the extract are left out
                        refs.append(n.ref)
                        lons.append(round(n.lon, 7))
                        lats.append(round(n.lat, 7))
                if len(refs) < 2:
                    continue
                tags = dict(obj.tags)
                km = _line_km(lons, lats)
                why = way_verdict(tags)
                if why is not None:
                    stats.drop(why, hw, km)
                    continue
                generic = parse_maxspeed(tags.get("maxspeed"))
                fwd = parse_maxspeed(tags.get("maxspeed:forward")) or generic
                bwd = parse_maxspeed(tags.get("maxspeed:backward")) or generic
                ways.append(_Way(obj.id, hw, tags.get("name", tags.get("ref", "")),
                                 oneway_of(tags), fwd, bwd, refs, lons, lats, km))
            elif obj.tags.get("type") == "restriction":
                _restriction(obj, restrictions, stats)
    except RuntimeError as exc:
        where = _xml_problem(path)
        raise MapImportError(f"{path.name} is not a readable OSM file: "
                             f"{where or exc}") from exc
    return ways, restrictions


_OSM_OBJECTS = frozenset({"node", "way", "relation", "changeset"})


def _xml_problem(path: Path) -> str | None:
    """Where an OSM XML file goes wrong, as 'line N: what', None if it is not XML or fine."""
    import bz2
    from xml.parsers import expat

    name = path.name.lower()
    if name.endswith((".pbf", ".o5m")):
        return None
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    parser = expat.ParserCreate()
    stack: list[str] = []
    problem: list[str] = []

    def start(tag: str, _attrs: dict[str, str]) -> None:
        if tag in _OSM_OBJECTS and stack and stack[-1] in _OSM_OBJECTS and not problem:
            problem.append(f"line {parser.CurrentLineNumber}: <{tag}> inside the "
                           f"<{stack[-1]}> before it (is that one closed?)")
        stack.append(tag)

    def end(_tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                parser.Parse(chunk, False)
                if problem:
                    return problem[0]
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        return problem[0] if problem else (
            f"line {exc.lineno}, column {exc.offset + 1}: {expat.ErrorString(exc.code)}")
    except (OSError, EOFError) as exc:
        return str(exc)
    return problem[0] if problem else None


def _restriction(rel: Any, out: list[tuple[int, str, int, int, int]],
                 stats: ImportStats) -> None:
    tags = rel.tags
    kind = (tags.get("restriction:motorcar") or tags.get("restriction:motor_vehicle")
            or tags.get("restriction") or "")
    excepted = {v.strip() for v in tags.get("except", "").split(";")}
    if not kind.startswith(("no_", "only_")):
        stats.restrictions_skipped["of an unknown kind"] = \
            stats.restrictions_skipped.get("of an unknown kind", 0) + 1
        return
    if excepted & {"emergency", "motorcar", "motor_vehicle"}:
        stats.restrictions_skipped["not for emergency vehicles"] = \
            stats.restrictions_skipped.get("not for emergency vehicles", 0) + 1
        return
    frm = [m.ref for m in rel.members if m.role == "from" and m.type == "w"]
    to = [m.ref for m in rel.members if m.role == "to" and m.type == "w"]
    via = [(m.type, m.ref) for m in rel.members if m.role == "via"]
    if len(frm) != 1 or len(to) != 1 or len(via) != 1 or via[0][0] != "n":
        why = "via a way (not supported)" if via and via[0][0] == "w" else "malformed"
        stats.restrictions_skipped[why] = stats.restrictions_skipped.get(why, 0) + 1
        return
    out.append((rel.id, kind, frm[0], via[0][1], to[0]))


def _urban_ways(ways: list[_Way]) -> list[bool]:
    """Whether each way lies in a dense (urban) 1 km grid cell."""
    if not ways:
        return []
    lat0 = sum(w.lats[0] for w in ways) / len(ways)
    ky, kx = 1 / 0.008993, math.cos(math.radians(lat0)) / 0.008993  # cells per degree
    cells: dict[tuple[int, int], float] = {}

    def cell(w: _Way) -> tuple[int, int]:
        m = len(w.lons) // 2
        return int(math.floor(w.lons[m] * kx)), int(math.floor(w.lats[m] * ky))

    keys = [cell(w) for w in ways]
    for w, k in zip(ways, keys, strict=True):
        cells[k] = cells.get(k, 0.0) + w.km
    return [cells[k] >= URBAN_ROAD_KM_PER_KM2 for k in keys]


def arrays_from_ways(ways: list[_Way], restrictions: list[tuple[int, str, int, int, int]],
                     stats: ImportStats, meta: dict[str, Any],
                     area: str = "auto") -> MapArrays:
    """Split drivable ways at junctions into directed edges; never joins two ways."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from dispatch.graph import haversine_m

    uses: dict[int, int] = {}
    for w in ways:
        for r in w.refs:
            uses[r] = uses.get(r, 0) + 1
        # way ends are junctions even where nothing else meets them
        uses[w.refs[0]] = uses.get(w.refs[0], 0) + 1
        uses[w.refs[-1]] = uses.get(w.refs[-1], 0) + 1
    urban = [area == "urban"] * len(ways) if area != "auto" else _urban_ways(ways)
    index: dict[int, int] = {}
    node_ids: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    # per directed edge: u, v, length, seconds, way position, coordinates
    eu: list[int] = []
    ev: list[int] = []
    elen: list[float] = []
    ett: list[float] = []
    eway: list[int] = []
    egeom: list[list[float]] = []
    urban_km = 0.0
    untagged_km = 0.0
    for wi, w in enumerate(ways):
        default = (URBAN_SPEEDS_KMH if urban[wi] else RURAL_SPEEDS_KMH)[w.highway]
        if w.speed_fwd is None and w.speed_bwd is None:
            untagged_km += w.km
            urban_km += w.km if urban[wi] else 0.0
        else:
            stats.maxspeed_tagged_km += w.km
        start = 0
        for i in range(1, len(w.refs)):
            if uses[w.refs[i]] < 2 and i < len(w.refs) - 1:
                continue
            pts = range(start, i + 1)
            for j in (start, i):
                r = w.refs[j]
                if r not in index:
                    index[r] = len(node_ids)
                    node_ids.append(r)
                    lon.append(w.lons[j])
                    lat.append(w.lats[j])
            a, b = index[w.refs[start]], index[w.refs[i]]
            length = sum(haversine_m(w.lats[k], w.lons[k], w.lats[k + 1], w.lons[k + 1])
                         for k in range(start, i))
            coords = [c for k in pts for c in (w.lons[k], w.lats[k])]
            for direction, speed in ((1, w.speed_fwd), (-1, w.speed_bwd)):
                if w.oneway and w.oneway != direction:
                    continue
                kmh = speed or default
                eu.append(a if direction == 1 else b)
                ev.append(b if direction == 1 else a)
                elen.append(round(length, 3))
                ett.append(round(length / (kmh / 3.6), 3))
                eway.append(wi)
                if direction == 1:
                    egeom.append(coords)
                else:
                    egeom.append([c for k in reversed(pts) for c in (w.lons[k], w.lats[k])])
            start = i
    stats.urban_share = urban_km / untagged_km if untagged_km else 0.0
    if not eu:
        raise MapImportError("the file contains no drivable roads")
    n = len(node_ids)
    graph = coo_matrix((np.ones(len(eu)), (eu, ev)), shape=(n, n)).tocsr()
    ncomp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels)
    main = int(np.argmax(sizes))
    stats.components = int(ncomp)
    stats.largest_share = float(sizes[main]) / n
    keep_node = labels == main
    new_index = np.cumsum(keep_node) - 1
    # km of each way that survives in the main component (edges of one direction counted once)
    way_kept_m = [0.0] * len(ways)
    way_seen: dict[tuple[int, int, int], bool] = {}
    a = MapArrays([node_ids[i] for i in range(n) if keep_node[i]],
                  [lon[i] for i in range(n) if keep_node[i]],
                  [lat[i] for i in range(n) if keep_node[i]],
                  [], [], [], [], [], [], [], [], meta)
    keys: dict[tuple[int, int], int] = {}
    old_to_new: dict[int, int] = {}
    for e in range(len(eu)):
        if not (keep_node[eu[e]] and keep_node[ev[e]]):
            continue
        u, v = int(new_index[eu[e]]), int(new_index[ev[e]])
        k = keys.get((u, v), 0)
        keys[(u, v)] = k + 1
        old_to_new[e] = len(a.u)
        a.u.append(u)
        a.v.append(v)
        a.key.append(k)
        a.length.append(elen[e])
        a.travel_time.append(ett[e])
        w = ways[eway[e]]
        a.highway.append(w.highway)
        a.name.append(w.name)
        g = egeom[e]
        a.geometry.append(None if len(g) == 4 else g)
        pair = (eway[e], min(eu[e], ev[e]), max(eu[e], ev[e]))
        if pair not in way_seen:
            way_seen[pair] = True
            way_kept_m[eway[e]] += elen[e]
    for wi, w in enumerate(ways):
        kept = min(way_kept_m[wi] / 1000.0, w.km)
        stats.kept_km[w.highway] = stats.kept_km.get(w.highway, 0.0) + kept
        if w.km - kept > 1e-6:
            ways_n, km = stats.dropped_reasons.get("not connected to the main network", (0, 0.0))
            stats.dropped_reasons["not connected to the main network"] = \
                (ways_n + (kept == 0), km + w.km - kept)
            stats.dropped_km[w.highway] = stats.dropped_km.get(w.highway, 0.0) + w.km - kept
    a.banned_turns = _banned_turns(restrictions, ways, eu, ev, eway, node_ids, old_to_new, stats)
    return a


def _banned_turns(restrictions: list[tuple[int, str, int, int, int]], ways: list[_Way],
                  eu: list[int], ev: list[int], eway: list[int], node_ids: list[int],
                  old_to_new: dict[int, int], stats: ImportStats) -> list[tuple[int, int]]:
    """(edge in, edge out) pairs that turn restrictions forbid, in the kept edges' indices."""
    by_way: dict[int, list[int]] = {}
    for e in old_to_new:
        by_way.setdefault(ways[eway[e]].osm_id, []).append(e)
    out_of: dict[int, list[int]] = {}
    for e in old_to_new:
        out_of.setdefault(eu[e], []).append(e)
    banned: set[tuple[int, int]] = set()
    for _rel, kind, frm, via, to in restrictions:
        into = [e for e in by_way.get(frm, ()) if node_ids[ev[e]] == via]
        onto = [e for e in by_way.get(to, ()) if node_ids[eu[e]] == via]
        if not into or not onto:
            why = "on roads not kept"
            stats.restrictions_skipped[why] = stats.restrictions_skipped.get(why, 0) + 1
            continue
        stats.restrictions += 1
        for e_in in into:
            if kind.startswith("no_"):
                banned.update((e_in, e_out) for e_out in onto)
            else:
                banned.update((e_in, e_out) for e_out in out_of.get(ev[e_in], ())
                              if e_out not in onto)
    return sorted((old_to_new[a], old_to_new[b]) for a, b in banned)


# ---- GraphML (already simplified by osmnx: taken edge by edge) ---------------------------
def _read_graphml(path: Path, progress: Progress) -> nx.MultiDiGraph:
    try:
        import osmnx as ox
    except ImportError as exc:
        raise MapLibraryMissing("osmnx is not installed: run `pip install osmnx` in this "
                                "environment to read GraphML") from exc
    progress(f"reading GraphML {path}")
    return ox.load_graphml(path)


def drive_graph(G: nx.MultiDiGraph, progress: Progress = _noop) -> nx.MultiDiGraph:
    """Drivable edges only, with speeds, travel times and the largest strongly connected part."""
    import osmnx as ox

    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
            if not _is_drive(d.get("highway"))
            or way_verdict({k2: str(v2) for k2, v2 in d.items() if isinstance(v2, str)}
                           | {"highway": _first_drive(d.get("highway"))}) is not None]
    G = G.copy()
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if G.number_of_edges() == 0:
        raise MapImportError("the file contains no drivable roads")
    progress(f"kept {G.number_of_edges()} drivable edges; computing speeds and travel times")
    G = ox.routing.add_edge_speeds(G, hwy_speeds=URBAN_SPEEDS_KMH, fallback=30.0)
    G = ox.routing.add_edge_travel_times(G)
    progress("keeping the largest strongly connected component")
    return ox.truncate.largest_component(G, strongly=True)


def arrays_from_graph(G: nx.MultiDiGraph, meta: dict[str, Any]) -> MapArrays:
    """Column arrays from an osmnx graph that has length and travel_time on every edge."""
    node_ids = [int(n) for n in G.nodes]
    index = {n: i for i, n in enumerate(G.nodes)}
    lon = [round(float(G.nodes[n]["x"]), 7) for n in G.nodes]
    lat = [round(float(G.nodes[n]["y"]), 7) for n in G.nodes]
    a = MapArrays(node_ids, lon, lat, [], [], [], [], [], [], [], [], meta)
    for u, v, k, d in G.edges(keys=True, data=True):
        a.u.append(index[u])
        a.v.append(index[v])
        a.key.append(int(k))
        a.length.append(round(float(d["length"]), 3))
        a.travel_time.append(round(float(d["travel_time"]), 3))
        a.highway.append(_first_drive(d.get("highway", "")))
        a.name.append(_name(d.get("name")))
        geom = d.get("geometry")
        if geom is None:
            a.geometry.append(None)
        else:
            coords = list(geom.coords) if hasattr(geom, "coords") else list(geom)
            a.geometry.append([round(float(c), 6) for pt in coords for c in pt[:2]])
    return a


def write_map(arrays: MapArrays, out_path: Path) -> None:
    """Write the compact gzip-JSON map file, with string columns dictionary-encoded."""
    hw_vocab = sorted(set(arrays.highway))
    name_vocab = sorted(set(arrays.name))
    hw_i = {h: i for i, h in enumerate(hw_vocab)}
    name_i = {n: i for i, n in enumerate(name_vocab)}
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "meta": arrays.meta,
        "nodes": {"id": arrays.node_ids, "lon": arrays.lon, "lat": arrays.lat},
        "edges": {
            "u": arrays.u, "v": arrays.v, "key": arrays.key, "length": arrays.length,
            "travel_time": arrays.travel_time,
            "highway": [hw_i[h] for h in arrays.highway], "highway_vocab": hw_vocab,
            "name": [name_i[n] for n in arrays.name], "name_vocab": name_vocab,
            # interior shape points only: the ends are the junctions' own coordinates
            "geometry": [None if g is None else g[2:-2] for g in arrays.geometry],
        },
        # each pair: no driving from the first edge straight onto the second at their junction
        "banned_turns": {"from": [a for a, _ in arrays.banned_turns],
                         "to": [b for _, b in arrays.banned_turns]},
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(doc, f, separators=(",", ":"), ensure_ascii=False)
    tmp.replace(out_path)


def read_map(path: Path) -> MapArrays:
    """Read a map file written by `write_map`."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT or doc.get("version") not in READABLE_VERSIONS:
        raise MapImportError(f"{path} is not a Redline road map (format {FORMAT} "
                             f"v{FORMAT_VERSION})")
    n, e = doc["nodes"], doc["edges"]
    hw_vocab, name_vocab = e["highway_vocab"], e["name_vocab"]
    lon, lat = n["lon"], n["lat"]
    geometry = [
        None if g is None else [lon[u], lat[u], *g, lon[v], lat[v]]
        for u, v, g in zip(e["u"], e["v"], e["geometry"], strict=True)
    ]
    turns = doc.get("banned_turns", {"from": [], "to": []})
    return MapArrays(
        n["id"], lon, lat, e["u"], e["v"], e["key"], e["length"], e["travel_time"],
        [hw_vocab[i] for i in e["highway"]], [name_vocab[i] for i in e["name"]], geometry,
        doc.get("meta", {}), list(zip(turns["from"], turns["to"], strict=True)),
    )


def is_osm_file(path: Path) -> bool:
    """Whether a file name looks like an OSM extract the importer reads."""
    return path.name.lower().endswith(OSM_SUFFIXES)


def import_map(path: Path | str, out_path: Path | str, progress: Progress | None = None,
               area: str = "auto") -> MapReport:
    """Import an OSM/GraphML file into a compact drivable road map at out_path."""
    from dispatch.graph import RoadGraph

    progress = progress or _noop
    path, out_path = Path(path), Path(out_path)
    if not path.exists():
        raise MapImportError(f"no such file: {path}")
    t0 = time.perf_counter()
    meta = {"source": path.name, "attribution": ATTRIBUTION,
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    stats: ImportStats | None = None
    if path.name.lower().endswith(".graphml"):
        arrays = arrays_from_graph(drive_graph(_read_graphml(path, progress), progress), meta)
    elif is_osm_file(path):
        stats = ImportStats()
        progress(f"reading {path}")
        ways, restrictions = _read_osm_ways(path, stats, progress)
        progress(f"splitting {len(ways):,} drivable ways at their junctions")
        arrays = arrays_from_ways(ways, restrictions, stats, meta, area)
    else:
        raise MapImportError(f"unsupported map file type: {path.name} (expected .osm, "
                             ".osm.gz, .osm.bz2, .osm.pbf or .graphml)")
    progress(f"writing {out_path}")
    write_map(arrays, out_path)
    RoadGraph.from_arrays(arrays).save_search_arrays(out_path)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    graph = RoadGraph.load(out_path)
    load_seconds = time.perf_counter() - t1
    return MapReport(graph.node_count, graph.edge_count, graph.bbox, seconds, out_path,
                     load_seconds, stats)


def load_dimacs(graph_path: Path | str, xyz_path: Path | str,
                speed_kmh: float = 50.0) -> RoadGraph:
    """Load a DIMACS10 street graph (METIS adjacency + xyz) as a two-way road graph."""
    from dispatch.graph import RoadGraph

    return RoadGraph.from_arrays(dimacs_arrays(graph_path, xyz_path, speed_kmh))


def dimacs_arrays(graph_path: Path | str, xyz_path: Path | str,
                  speed_kmh: float = 50.0) -> MapArrays:
    """The column arrays of a DIMACS10 street graph, every road two-way at one speed."""
    from dispatch.graph import haversine_m

    lon: list[float] = []
    lat: list[float] = []
    with open(xyz_path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                # DIMACS10 street coordinates: lon = x / 1e5, lat = y / 1e5 - 1 (roads README)
                lon.append(int(parts[0]) / 1e5)
                lat.append(int(parts[1]) / 1e5 - 1.0)
    u: list[int] = []
    v: list[int] = []
    length: list[float] = []
    header: tuple[int, int] | None = None
    i = 0
    with open(graph_path, encoding="ascii") as f:
        for line in f:
            if line.startswith("%"):
                continue
            if header is None:
                parts = line.split()
                header = (int(parts[0]), int(parts[1]))
                continue
            for tok in line.split():
                j = int(tok) - 1
                # each undirected edge is listed from both ends: each listing is one direction
                u.append(i)
                v.append(j)
                length.append(haversine_m(lat[i], lon[i], lat[j], lon[j]))
            i += 1
    if header is None or header[0] != len(lon) or i != header[0] or len(u) != 2 * header[1]:
        raise MapImportError(f"DIMACS files disagree with their header {header}: "
                             f"{len(lon)} coordinates, {i} adjacency lines, {len(u)} arcs")
    mps = speed_kmh / 3.6
    arrays = MapArrays(
        list(range(1, len(lon) + 1)), lon, lat, u, v, [0] * len(u), length,
        [d / mps for d in length], ["road"] * len(u), [""] * len(u), [None] * len(u),
        {"source": Path(graph_path).name, "attribution": "© OpenStreetMap contributors, "
         "CC BY-SA 2.0 (2010 snapshot), DIMACS10", "speed_kmh": speed_kmh},
    )
    return arrays


def _cmd_import(args: argparse.Namespace) -> int:
    src = Path(args.file)
    stem = src.name
    for suffix in (".gz", ".bz2", ".pbf", ".osm", ".xml", ".graphml"):
        stem = stem.removesuffix(suffix)
    out = Path(args.out) if args.out else src.with_name(stem + ".json.gz")
    try:
        report = import_map(src, out, progress=lambda m: print(f"  {m}", flush=True),
                            area=args.area)
    except MapImportError as exc:
        print(f"map import failed: {exc}")
        return 1
    min_lon, min_lat, max_lon, max_lat = report.bbox
    if report.stats is not None:
        for line in report.stats.lines():
            print(line)
    print(f"imported {report.nodes} nodes, {report.edges} edges in {report.seconds:.1f} s")
    print(f"bbox lon {min_lon:.5f} … {max_lon:.5f}, lat {min_lat:.5f} … {max_lat:.5f}")
    print(f"wrote {report.out_path} ({out.stat().st_size / 1e6:.2f} MB); "
          f"loads in {report.load_seconds or 0.0:.2f} s")
    print(f"data {ATTRIBUTION}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add `map import FILE [--out PATH] [--area auto|urban|rural]` to argparse sub-parsers."""
    p = subparsers.add_parser("map", help="road maps")
    sub = p.add_subparsers(dest="map_command", required=True)
    imp = sub.add_parser("import", help="import an OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf) or "
                         "GraphML file as a drivable road map")
    imp.add_argument("file")
    imp.add_argument("--out", help="output map file (default: FILE with .json.gz)")
    imp.add_argument("--area", choices=("auto", "urban", "rural"), default="auto",
                     help="default speeds where maxspeed is not tagged: urban or rural table, "
                     "or by road density per square kilometre (auto)")
    imp.set_defaults(func=_cmd_import)
