"""Map import: OSM rules (class, access, one-way, speeds, turn restrictions), formats, report."""

from __future__ import annotations

import argparse
import bz2
import gzip
import sys
from pathlib import Path

import pytest

from dispatch.graph import RoadGraph, Snap, haversine_m
from dispatch.maps import (
    import_map,
    load_dimacs,
    oneway_of,
    parse_maxspeed,
    register_cli,
    way_verdict,
)

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "roads"
# the full shared data set (Luxembourg) lives beside the repository, when it is there
ROADS = Path(__file__).resolve().parents[3] / "shared" / "data" / "roads"
if not ROADS.exists():
    ROADS = Path("/work/shared/data/roads")


def test_cli_imports_pbf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pbf = BUNDLED / "sao_paulo_centro.osm.pbf"
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    out = tmp_path / "sp.json.gz"
    args = parser.parse_args(["map", "import", str(pbf), "--out", str(out)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "4465 nodes, 8113 edges" in text and "bbox lon" in text and "loads in" in text
    assert "© OpenStreetMap contributors" in text
    g = RoadGraph.load(out)
    assert (g.node_count, g.edge_count) == (4465, 8113)


def test_cli_reports_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["map", "import", str(tmp_path / "missing.osm")])
    assert args.func(args) == 1
    assert "map import failed" in capsys.readouterr().out


def test_dimacs_loader(tmp_path: Path) -> None:
    # a triangle plus a tail: 4 nodes, 4 undirected edges
    (tmp_path / "g.graph").write_text("% comment\n4 4\n2 3\n1 3\n1 2 4\n3\n")
    (tmp_path / "g.xyz").write_text(
        "610000 5060000 0\n610100 5060000 0\n610000 5060100 0\n610000 5060200 0\n")
    g = load_dimacs(tmp_path / "g.graph", tmp_path / "g.xyz", speed_kmh=36.0)
    assert (g.node_count, g.edge_count) == (4, 8)
    lon, lat = g.node_lonlat(1)
    assert (lon, lat) == pytest.approx((6.1, 49.6))
    t = g.travel_times_to(g.snap_node(4)).time_from(g.snap_node(1))
    assert t == pytest.approx(2 * 111.2 / 10.0, rel=0.01)  # two 0.001° steps at 10 m/s


def test_luxembourg_counts() -> None:
    graph, xyz = ROADS / "luxembourg.osm.graph", ROADS / "luxembourg.osm.xyz"
    if not graph.exists():
        pytest.skip("shared road data not available")
    g = load_dimacs(graph, xyz)
    assert (g.node_count, g.edge_count) == (114_599, 2 * 119_666)
    assert g.contains(49.61, 6.13)


# ---- the importer's rules on a hand-checked fixture (tests/data/roads/rules.osm) ---------
RULES = BUNDLED / "rules.osm"
LEGAL_NAMES = {"West Street", "West Street North", "Middle Street", "North Street",
               "East Street", "East Street South", "Emergency Lane", "Fire Access"}


def _import(src: Path, tmp_path: Path, name: str = "out.json.gz") -> RoadGraph:
    out = tmp_path / name
    import_map(src, out)
    return RoadGraph.load(out)


def _path_s(g: RoadGraph, *nodes: int) -> float:
    """Seconds along legal roads through junctions, at the fixture's 10 m/s."""
    total = 0.0
    for a, b in zip(nodes, nodes[1:], strict=False):
        (lon1, lat1), (lon2, lat2) = g.node_lonlat(a), g.node_lonlat(b)
        total += haversine_m(lat1, lon1, lat2, lon2) / 10.0
    return total


def _time(g: RoadGraph, a: int, b: int) -> float | None:
    return g.travel_times_to(g.snap_node(b)).time_from(g.snap_node(a))


@pytest.fixture(scope="module")
def rules_graph(tmp_path_factory: pytest.TempPathFactory) -> RoadGraph:
    return _import(RULES, tmp_path_factory.mktemp("rules"))


def test_no_road_kept_from_an_illegal_way(rules_graph: RoadGraph) -> None:
    names = {d["name"] for _, _, d in rules_graph.G.edges(data=True)}
    assert names == LEGAL_NAMES


def test_route_never_takes_footway_steps_path_track_or_closed_access(
        rules_graph: RoadGraph) -> None:
    # 1 -> 2: every 250 m shortcut is illegal; no right turn at 3, so round by North Street
    g = rules_graph
    t = _time(g, 1, 2)
    assert t == pytest.approx(_path_s(g, 1, 3, 5, 6, 4, 2), abs=0.01)
    route = g.travel_times_to(g.snap_node(2)).route_from(g.snap_node(1))
    assert route is not None
    assert all(lat >= 10.0 - 1e-9 for _, lat in route.coords)  # shortcuts lie south of 1-2


def test_turn_restriction_changes_the_route(rules_graph: RoadGraph, tmp_path: Path) -> None:
    text = RULES.read_text()
    free = tmp_path / "free.osm"
    free.write_text(text[:text.index('  <relation id="300"')] + "</osm>\n")
    g_free = _import(free, tmp_path)
    assert _time(g_free, 1, 2) == pytest.approx(_path_s(g_free, 1, 3, 4, 2), abs=0.01)
    assert _time(rules_graph, 1, 2) > _time(g_free, 1, 2) + 30  # type: ignore[operator]
    # only straight on at 4 from East Street: 6 -> 3 may not turn at 4, it goes round by 5
    assert _time(g_free, 6, 3) == pytest.approx(_path_s(g_free, 6, 4, 3), abs=0.01)
    assert _time(rules_graph, 6, 3) == pytest.approx(_path_s(rules_graph, 6, 5, 3), abs=0.01)
    # a unit already standing on the junction is not bound by how others arrive at it
    assert _time(rules_graph, 3, 4) == pytest.approx(_path_s(rules_graph, 3, 4), abs=0.01)
    # the forward search honours the restriction the same way
    times = rules_graph.travel_times_from(rules_graph.snap_node(1))
    assert times[2] == pytest.approx(_time(rules_graph, 1, 2))


def test_restriction_holds_from_mid_edge_origins(rules_graph: RoadGraph) -> None:
    g = rules_graph
    lon, lat = g.node_lonlat(1)
    start = g.snap(lat + 0.001, lon + 0.00001)  # halfway up West Street
    field = g.travel_times_to(g.snap_node(4))
    assert field.time_from(start) == pytest.approx(
        _path_s(g, 1, 3) / 2 + _path_s(g, 3, 5, 6, 4), abs=0.05)


@pytest.mark.parametrize("fmt", ["osm.gz", "osm.bz2", "osm.pbf"])
def test_compressed_and_pbf_extracts_read(fmt: str, tmp_path: Path,
                                          rules_graph: RoadGraph) -> None:
    src = tmp_path / f"rules.{fmt}"
    if fmt == "osm.gz":
        src.write_bytes(gzip.compress(RULES.read_bytes()))
    elif fmt == "osm.bz2":
        src.write_bytes(bz2.compress(RULES.read_bytes()))
    else:
        import osmium

        with osmium.SimpleWriter(str(src)) as writer:
            for obj in osmium.FileProcessor(str(RULES)):
                writer.add(obj)
    g = _import(src, tmp_path)
    assert (g.node_count, g.edge_count) == (rules_graph.node_count, rules_graph.edge_count)
    assert _time(g, 1, 2) == pytest.approx(_time(rules_graph, 1, 2))


@pytest.mark.parametrize(("damage", "line"), [("unclosed", 43), ("truncated", 120),
                                              ("garbage", 1)])
def test_broken_osm_file_is_refused_with_its_line(
        damage: str, line: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = RULES.read_text().splitlines()
    if damage == "unclosed":
        lines[41] = lines[41].replace("/>", ">")  # line 42's <node> is never closed
    elif damage == "truncated":
        lines = lines[:120]  # a download cut short
    else:
        lines = ["this is not OSM data"]
    broken = tmp_path / "broken.osm.gz"
    broken.write_bytes(gzip.compress("\n".join(lines).encode()))
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["map", "import", str(broken)])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "map import failed: broken.osm.gz is not a readable OSM file" in out
    assert f"line {line}" in out and "Traceback" not in out


def test_import_report_names_what_was_dropped(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["map", "import", str(RULES), "--out", str(tmp_path / "r.json.gz")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for reason in ("highway=footway", "highway=steps", "highway=path", "highway=track",
                   "access=private", "access=no", "motor_vehicle=no", "service=driveway"):
        assert reason in out
    assert "strongly connected components: 1" in out and "100.0%" in out
    assert "turn restrictions honoured: 2" in out


def _legal_segments(src: Path) -> set[tuple[tuple[float, float], tuple[float, float]]]:
    """Consecutive point pairs of every way the rules keep, read independently of the importer."""
    import osmium

    out = set()
    for w in osmium.FileProcessor(str(src)).with_locations().with_filter(
            osmium.filter.EntityFilter(osmium.osm.WAY)):
        if "highway" not in w.tags or way_verdict(dict(w.tags)) is not None:
            continue
        pts = [(round(n.lon, 6), round(n.lat, 6)) for n in w.nodes if n.location.valid()]
        for a, b in zip(pts, pts[1:], strict=False):
            out.update({(a, b), (b, a)})
    return out


@pytest.mark.parametrize("src", [BUNDLED / "aguascalientes.osm.bz2",
                                 BUNDLED / "sao_paulo_centro.osm.pbf"])
def test_real_extract_edges_follow_only_legal_ways(src: Path, tmp_path: Path) -> None:
    g = _import(src, tmp_path)
    legal = _legal_segments(src)
    for e in g.edge_ids():
        coords = [(round(lon, 6), round(lat, 6)) for lon, lat in g.edge_coords(e)]
        for a, b in zip(coords, coords[1:], strict=False):
            assert (a, b) in legal, (e, a, b)


def test_real_extract_turn_restrictions_are_honoured(ags_graph: RoadGraph) -> None:
    g = ags_graph
    banned = g.banned_turns()
    assert banned
    for e_in, e_out in banned:
        t_in, t_out = g.edge_travel_time(e_in), g.edge_travel_time(e_out)
        lon, lat = g.node_lonlat(e_in[1])
        field = g.travel_times_to(_mid(g, e_out))
        got = field.time_from(_mid(g, e_in))
        assert got is None or got > (t_in + t_out) / 2 + 1e-6, (e_in, e_out, lon, lat)


def _mid(g: RoadGraph, edge: tuple[int, int, int]) -> Snap:
    return g.snap_on_edge(edge, 0.5)


@pytest.mark.parametrize(("value", "kmh"), [
    ("50", 50.0), ("30 mph", 48.28), ("60 km/h", 60.0), ("CN:urban", 50.0),
    ("CN:rural", 70.0), ("RU:urban", 50.0), ("DE:zone30", 30.0), ("DE:zone:30", 30.0),
    ("50;30", 30.0), ("none", None), ("signals", None), ("", None), ("walk", 6.0),
])
def test_maxspeed_values(value: str, kmh: float | None) -> None:
    got = parse_maxspeed(value)
    assert got == (None if kmh is None else pytest.approx(kmh, abs=0.01))


@pytest.mark.parametrize(("tags", "verdict"), [
    ({"highway": "residential"}, None),
    ({"highway": "footway"}, "highway=footway"),
    ({"highway": "residential", "access": "private"}, "access=private"),
    ({"highway": "residential", "access": "no", "emergency": "yes"}, None),
    ({"highway": "residential", "access": "no", "motor_vehicle": "destination"}, None),
    ({"highway": "residential", "motor_vehicle": "no"}, "motor_vehicle=no"),
    ({"highway": "residential", "vehicle": "no", "motorcar": "yes"}, None),
    ({"highway": "service", "service": "driveway"}, "service=driveway"),
    ({"highway": "service", "service": "alley"}, None),
    ({"highway": "service", "service": "emergency_access"}, None),
])
def test_access_rules(tags: dict[str, str], verdict: str | None) -> None:
    assert way_verdict(tags) == verdict


@pytest.mark.parametrize(("tags", "oneway"), [
    ({"highway": "residential"}, 0), ({"highway": "residential", "oneway": "yes"}, 1),
    ({"highway": "residential", "oneway": "-1"}, -1),
    ({"highway": "primary", "junction": "roundabout"}, 1),
    ({"highway": "primary", "junction": "roundabout", "oneway": "no"}, 0),
    ({"highway": "motorway"}, 1), ({"highway": "motorway", "oneway": "no"}, 0),
])
def test_one_way_rules(tags: dict[str, str], oneway: int) -> None:
    assert oneway_of(tags) == oneway


def test_map_libraries_are_normal_dependencies() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    deps = " ".join(project["project"]["dependencies"])
    assert "osmium" in deps and "osmnx" in deps


def test_missing_osm_library_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "osmium", None)  # as if it were not installed
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["map", "import", str(RULES), "--out", str(tmp_path / "x.json.gz")])
    assert args.func(args) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("map import failed: the OSM reader is not installed")
    assert not (tmp_path / "x.json.gz").exists()
