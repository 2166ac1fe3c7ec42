"""Road map import (OSM XML/PBF, GraphML, DIMACS) and the compact on-disk map format."""

from __future__ import annotations

import argparse
import gzip
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from dispatch.graph import RoadGraph

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_MAP = DATA_DIR / "sao_paulo_centro.json.gz"
FORMAT = "redline-roads"
FORMAT_VERSION = 2
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0, https://www.openstreetmap.org/copyright"

DRIVE_HIGHWAYS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "service", "road",
})

# Typical urban free-flow speeds (km/h) for edges without a maxspeed tag; emergency vehicles
# drive faster than this in theory, but congestion in a city centre eats the difference.
URBAN_SPEEDS_KMH: dict[str, float] = {
    "motorway": 80.0, "motorway_link": 50.0, "trunk": 60.0, "trunk_link": 40.0,
    "primary": 50.0, "primary_link": 35.0, "secondary": 40.0, "secondary_link": 30.0,
    "tertiary": 35.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "road": 30.0,
}

Progress = Callable[[str], None]


class MapImportError(Exception):
    """The input file cannot be turned into a road map."""


@dataclass(frozen=True)
class MapReport:
    """Summary of an imported map."""

    nodes: int
    edges: int
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
    seconds: float
    out_path: Path | None = None
    load_seconds: float | None = None


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


def _pbf_to_xml(path: Path, tmpdir: Path) -> Path:
    import osmium

    out = tmpdir / (path.name.removesuffix(".pbf") or "map.osm")
    if not out.name.endswith(".osm"):
        out = out.with_name(out.name + ".osm")
    # osmnx 2.1 reads only OSM XML, so the PBF is re-encoded unchanged
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(path)):
            writer.add(obj)
    return out


def _read_osm(path: Path, progress: Progress) -> nx.MultiDiGraph:
    import osmnx as ox

    name = path.name.lower()
    if name.endswith(".graphml"):
        progress(f"reading GraphML {path}")
        return ox.load_graphml(path)
    if name.endswith(".pbf"):
        progress(f"converting PBF {path} to OSM XML")
        with tempfile.TemporaryDirectory() as tmp:
            xml = _pbf_to_xml(path, Path(tmp))
            progress(f"reading {xml.name}")
            return ox.graph_from_xml(xml, retain_all=True)
    if name.endswith((".osm", ".osm.bz2", ".xml", ".xml.bz2")):
        progress(f"reading OSM XML {path}")
        return ox.graph_from_xml(path, retain_all=True)
    raise MapImportError(f"unsupported map file type: {path.name} "
                         "(expected .osm, .osm.bz2, .osm.pbf or .graphml)")


def drive_graph(G: nx.MultiDiGraph, progress: Progress = _noop) -> nx.MultiDiGraph:
    """Drivable edges only, with speeds, travel times and the largest strongly connected part."""
    import osmnx as ox

    drop = [(u, v, k) for u, v, k, hw in G.edges(keys=True, data="highway") if not _is_drive(hw)]
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
    if doc.get("format") != FORMAT or doc.get("version") != FORMAT_VERSION:
        raise MapImportError(f"{path} is not a Redline road map (format {FORMAT} "
                             f"v{FORMAT_VERSION})")
    n, e = doc["nodes"], doc["edges"]
    hw_vocab, name_vocab = e["highway_vocab"], e["name_vocab"]
    lon, lat = n["lon"], n["lat"]
    geometry = [
        None if g is None else [lon[u], lat[u], *g, lon[v], lat[v]]
        for u, v, g in zip(e["u"], e["v"], e["geometry"], strict=True)
    ]
    return MapArrays(
        n["id"], lon, lat, e["u"], e["v"], e["key"], e["length"], e["travel_time"],
        [hw_vocab[i] for i in e["highway"]], [name_vocab[i] for i in e["name"]], geometry,
        doc.get("meta", {}),
    )


def import_map(path: Path | str, out_path: Path | str,
               progress: Progress | None = None) -> MapReport:
    """Import an OSM/GraphML file into a compact drivable road map at out_path."""
    from dispatch.graph import RoadGraph

    progress = progress or _noop
    path, out_path = Path(path), Path(out_path)
    if not path.exists():
        raise MapImportError(f"no such file: {path}")
    t0 = time.perf_counter()
    G = drive_graph(_read_osm(path, progress), progress)
    meta = {"source": path.name, "attribution": ATTRIBUTION,
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    arrays = arrays_from_graph(G, meta)
    progress(f"writing {out_path}")
    write_map(arrays, out_path)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    graph = RoadGraph.load(out_path)
    load_seconds = time.perf_counter() - t1
    return MapReport(graph.node_count, graph.edge_count, graph.bbox, seconds, out_path,
                     load_seconds)


def load_dimacs(graph_path: Path | str, xyz_path: Path | str,
                speed_kmh: float = 50.0) -> RoadGraph:
    """Load a DIMACS10 street graph (METIS adjacency + xyz) as a two-way road graph."""
    from dispatch.graph import RoadGraph, haversine_m

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
    return RoadGraph.from_arrays(arrays)


def _cmd_import(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.file).with_suffix("").with_suffix(".json.gz")
    try:
        report = import_map(args.file, out, progress=lambda m: print(f"  {m}", flush=True))
    except MapImportError as exc:
        print(f"map import failed: {exc}")
        return 1
    min_lon, min_lat, max_lon, max_lat = report.bbox
    print(f"imported {report.nodes} nodes, {report.edges} edges in {report.seconds:.1f} s")
    print(f"bbox lon {min_lon:.5f} … {max_lon:.5f}, lat {min_lat:.5f} … {max_lat:.5f}")
    print(f"wrote {report.out_path} ({out.stat().st_size / 1e6:.2f} MB); "
          f"loads in {report.load_seconds or 0.0:.2f} s")
    print(f"data {ATTRIBUTION}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add `map import FILE [--out PATH]` to an argparse sub-parser collection."""
    p = subparsers.add_parser("map", help="road maps")
    sub = p.add_subparsers(dest="map_command", required=True)
    imp = sub.add_parser("import", help="import an OSM (.osm, .osm.bz2, .osm.pbf) or GraphML "
                         "file as a drivable road map")
    imp.add_argument("file")
    imp.add_argument("--out", help="output map file (default: FILE with .json.gz)")
    imp.set_defaults(func=_cmd_import)
