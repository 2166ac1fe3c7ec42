"""The C-speed road search against independent networkx Dijkstras on the shipped maps."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import networkx as nx
import pytest
from shapely.geometry import Point

from dispatch.graph import RoadGraph, search_arrays_dir
from dispatch.maps import import_map, read_map
from tests.dispatch.conftest import AGUASCALIENTES, BUNDLED

RULES = BUNDLED / "rules.osm"


def _reference_to(g: RoadGraph, b: int) -> dict[int, float]:
    """Seconds from every junction to junction b, turn restrictions included (line graph)."""
    G = g.G
    banned = set(g.banned_turns())
    L = nx.DiGraph()
    for e1 in G.edges(keys=True):
        L.add_node(e1)
        for e2 in G.out_edges(e1[1], keys=True):
            if (e1, e2) not in banned:
                w = G.edges[e2]["travel_time"]
                if not L.has_edge(e1, e2) or L.edges[e1, e2]["w"] > w:
                    L.add_edge(e1, e2, w=w)
        if e1[1] == b:
            L.add_edge(e1, "B", w=0.0)
    d = nx.single_source_dijkstra_path_length(L.reverse(copy=False), "B", weight="w")
    out = {b: 0.0}
    for e, t in d.items():
        if e == "B":
            continue
        total = G.edges[e]["travel_time"] + t
        if total < out.get(e[0], float("inf")):
            out[e[0]] = total
    return out


@pytest.mark.parametrize("name", ["sp_graph", "ags_graph"])
def test_travel_times_equal_networkx(name: str, request: pytest.FixtureRequest) -> None:
    g: RoadGraph = request.getfixturevalue(name)
    rng = random.Random(11)
    ids = g.node_ids()
    for b in rng.sample(ids, 4):
        ref = _reference_to(g, b)
        field = g.travel_times_to(g.snap_node(b))
        bounded = g.travel_times_to(g.snap_node(b), cutoff_s=180.0)
        for x in ids:
            got = field.node_time(x)
            assert got == pytest.approx(ref.get(x), abs=1e-6), (b, x)
            within = ref.get(x, float("inf")) <= 180.0
            assert (bounded.node_time(x) is not None) == within


def test_forward_search_equals_reverse(sp_graph: RoadGraph) -> None:
    g = sp_graph
    rng = random.Random(5)
    a = rng.choice(g.node_ids())
    ahead = g.travel_times_from(g.snap_node(a), cutoff_s=300.0)
    for b in rng.sample(sorted(ahead), 40):
        assert g.travel_times_to(g.snap_node(b)).time_from(g.snap_node(a)) == \
            pytest.approx(ahead[b], abs=1e-6)


def test_closures_reweight_without_rebuilding(sp_graph: RoadGraph) -> None:
    g = sp_graph
    rng = random.Random(2)
    b = rng.choice(g.node_ids())
    field = g.travel_times_to(g.snap_node(b))
    a = max((x for x in g.node_ids() if field.node_time(x) is not None),
            key=lambda x: field.node_time(x) or 0.0)
    route = field.route_from(g.snap_node(a))
    assert route is not None
    closed = g.edges_near(Point(route.coords[len(route.coords) // 2]), within_m=1.0)
    assert closed
    detour = g.travel_times_to(g.snap_node(b), blocked=closed).time_from(g.snap_node(a))
    assert detour is None or detour > route.travel_s
    assert g.blocked_index(closed) is g.blocked_index(set(closed))  # cached by closure set
    # the open map is untouched
    assert g.travel_times_to(g.snap_node(b)).time_from(g.snap_node(a)) == route.travel_s


def test_times_are_plain_floats_for_json(sp_graph: RoadGraph) -> None:
    g = sp_graph
    a, b = g.node_ids()[10], g.node_ids()[2000]
    field = g.travel_times_to(g.snap_node(b))
    route = field.route_from(g.snap_node(a))
    escape = field.escape_route_from(g.snap_node(a), g.blocked_index(g.edge_ids()))
    assert route is not None and escape is not None
    for t in (field.time_from(g.snap_node(a)), field.node_time(a), route.travel_s,
              escape.travel_s, *g.travel_times_from(g.snap_node(a), 60.0).values()):
        assert type(t) is float
    assert type(field.reached_count()) is int


def test_import_writes_search_arrays_that_load_memory_mapped(tmp_path: Path) -> None:
    out = tmp_path / "ags.json.gz"
    import_map(AGUASCALIENTES, out)
    assert search_arrays_dir(out).is_dir()
    shared = RoadGraph.load(out)
    assert shared.shares_search_arrays
    built = RoadGraph.from_arrays(read_map(out))
    assert not built.shares_search_arrays
    rng = random.Random(4)
    for b in rng.sample(built.node_ids(), 5):
        f1 = shared.travel_times_to(shared.snap_node(b), cutoff_s=300.0)
        f2 = built.travel_times_to(built.snap_node(b), cutoff_s=300.0)
        assert all(f1.node_time(x) == f2.node_time(x) for x in built.node_ids())
    # arrays that belong to another map are ignored, never trusted
    other = tmp_path / "other.json.gz"
    import_map(RULES, other)
    shutil.rmtree(search_arrays_dir(out))
    shutil.copytree(search_arrays_dir(other), search_arrays_dir(out))
    again = RoadGraph.load(out)
    assert not again.shares_search_arrays
    assert again.travel_times_to(again.snap_node(b)).node_time(b) == 0.0


def test_bundled_map_ships_its_search_arrays(sp_graph: RoadGraph) -> None:
    assert sp_graph.shares_search_arrays
