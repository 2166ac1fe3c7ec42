"""Map import from PBF and the command line, and the DIMACS benchmark loader."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dispatch.graph import RoadGraph
from dispatch.maps import load_dimacs, register_cli

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
    assert "5391 nodes, 9513 edges" in text and "bbox lon" in text and "loads in" in text
    assert "© OpenStreetMap contributors" in text
    g = RoadGraph.load(out)
    assert (g.node_count, g.edge_count) == (5391, 9513)


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
