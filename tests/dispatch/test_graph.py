"""Road graph: import, routing against an independent Dijkstra, snapping, one-way streets."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from dispatch.graph import PointOffRoad, RoadGraph, Snap, haversine_m
from dispatch.maps import DEFAULT_MAP, import_map, read_map


def _matrix(g: RoadGraph) -> csr_matrix:
    """Node-to-node travel times, the minimum over parallel edges (scipy would sum them)."""
    best: dict[tuple[int, int], float] = {}
    nid = g.node_ids()
    index = {n: i for i, n in enumerate(nid)}
    for u, v, k in g.edge_ids():
        key = (index[u], index[v])
        t = g.edge_travel_time((u, v, k))
        best[key] = min(best.get(key, math.inf), t)
    rows, cols = zip(*best, strict=True)
    n = g.node_count
    return csr_matrix((list(best.values()), (rows, cols)), shape=(n, n))


@pytest.mark.parametrize("name", ["sp_graph", "ags_graph"])
def test_node_to_node_times_match_scipy(name: str, request: pytest.FixtureRequest) -> None:
    g: RoadGraph = request.getfixturevalue(name)
    m = _matrix(g)
    nid = g.node_ids()
    rng = random.Random(7)
    pairs = [tuple(rng.sample(range(g.node_count), 2)) for _ in range(300)]
    sources = sorted({a for a, _ in pairs})
    dist = dijkstra(m, directed=True, indices=sources)
    row = {a: i for i, a in enumerate(sources)}
    for a, b in pairs:
        field = g.travel_times_to(g.snap_node(nid[b]))
        got = field.time_from(g.snap_node(nid[a]))
        assert got is not None
        assert abs(got - dist[row[a], b]) < 1e-6
        route = field.route_from(g.snap_node(nid[a]))
        assert route is not None and abs(route.travel_s - got) < 1e-9
        assert route.coords[0] == list(g.node_lonlat(nid[a]))
        assert route.coords[-1] == list(g.node_lonlat(nid[b]))


def test_snapped_points_match_scipy(sp_graph: RoadGraph) -> None:
    """Mid-edge origins and targets: partial edges plus an independent node-to-node Dijkstra."""
    g = sp_graph
    m = _matrix(g)
    nid = g.node_ids()
    index = {n: i for i, n in enumerate(nid)}
    dist = dijkstra(m, directed=True)
    min_lon, min_lat, max_lon, max_lat = g.bbox
    rng = random.Random(3)

    def options(s: Snap) -> list[tuple[tuple[int, int, int], float]]:
        out = [((s.u, s.v, s.key), s.fraction)]
        for k in range(4):  # the two-way twin: same shape reversed
            twin = (s.v, s.u, k)
            try:
                coords = g.edge_coords(twin)
            except KeyError:
                continue
            if coords[::-1] == g.edge_coords((s.u, s.v, s.key)):
                out.append((twin, 1.0 - s.fraction))
                break
        return out

    checked = 0
    while checked < 100:
        o = g.snap(rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon), 400)
        t = g.snap(rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon), 400)
        expected = math.inf
        for eo, fo in options(o):
            for et, ft in options(t):
                to, tt = g.edge_travel_time(eo), g.edge_travel_time(et)
                via = (1 - fo) * to + dist[index[eo[1]], index[et[0]]] + ft * tt
                expected = min(expected, via)
                # a point snapped onto a junction (within 1 m) stands on it
                starts = [(eo[0], 0.0)] if fo == 0.0 else []
                starts.append((eo[1], (1 - fo) * to))
                ends = [(et[1], 0.0)] if ft == 1.0 else []
                ends.append((et[0], ft * tt))
                for a, ta in starts:
                    for b, tb in ends:
                        expected = min(expected, ta + dist[index[a], index[b]] + tb)
                if eo == et and fo <= ft:
                    expected = min(expected, (ft - fo) * to)
        got = g.travel_times_to(t).time_from(o)
        assert got is not None
        assert got == pytest.approx(expected, abs=1e-6)
        checked += 1


def test_one_way_street_is_respected(sp_graph: RoadGraph) -> None:
    g = sp_graph
    one_way = next((u, v, k) for u, v, k in g.edge_ids()
                   if u != v and not any((v, u, kk) in set(g.edge_ids()) for kk in range(3))
                   and g.edge_travel_time((u, v, k)) > 5)
    u, v, _ = one_way
    forward = g.travel_times_to(g.snap_node(v)).time_from(g.snap_node(u))
    backward = g.travel_times_to(g.snap_node(u)).time_from(g.snap_node(v))
    assert forward is not None and backward is not None
    assert forward <= g.edge_travel_time(one_way) + 1e-9
    assert backward > forward


def _long_one_way(g: RoadGraph) -> tuple[int, int, int]:
    ids = set(g.edge_ids())
    return max((e for e in ids if (e[1], e[0], 0) not in ids and e[0] != e[1]),
               key=g.edge_travel_time)


def test_snap_to_middle_of_long_edge(sp_graph: RoadGraph) -> None:
    g = sp_graph
    edge = _long_one_way(g)
    shape = g.projected_line(edge)
    mid = shape.interpolate(0.5, normalized=True)
    lon, lat = g.unproject(mid.x + 3.0, mid.y + 3.0)  # a few metres off the road
    s = g.snap(lat, lon)
    assert s.edge_id == edge
    assert s.fraction == pytest.approx(0.5, abs=0.02)
    assert 0 < s.distance_m < 10
    tt = g.edge_travel_time(edge)
    field = g.travel_times_to(s)
    assert field.time_from(g.snap_node(edge[0])) == pytest.approx(s.fraction * tt)
    to_head = g.travel_times_to(g.snap_node(edge[1])).time_from(s)
    assert to_head == pytest.approx((1 - s.fraction) * tt)


def test_same_edge_origin_and_target(sp_graph: RoadGraph) -> None:
    g = sp_graph
    edge = _long_one_way(g)
    shape = g.projected_line(edge)

    def at(f: float) -> Snap:
        p = shape.interpolate(f, normalized=True)
        lon, lat = g.unproject(p.x, p.y)
        return g.snap(lat, lon)

    a, b = at(0.2), at(0.7)
    tt = g.edge_travel_time(edge)
    field = g.travel_times_to(b)
    assert field.time_from(a) == pytest.approx((b.fraction - a.fraction) * tt)
    route = field.route_from(a)
    assert route is not None
    assert haversine_m(route.coords[0][1], route.coords[0][0], a.lat, a.lon) < 0.5
    assert haversine_m(route.coords[-1][1], route.coords[-1][0], b.lat, b.lon) < 0.5
    # against the one-way direction the unit has to drive around the block
    back = g.travel_times_to(a).time_from(b)
    assert back is not None and back > (b.fraction - a.fraction) * tt


def test_route_follows_road_shape(sp_graph: RoadGraph) -> None:
    g = sp_graph
    min_lon, min_lat, max_lon, max_lat = g.bbox
    t = g.snap((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
    o = g.snap(min_lat + 0.01, min_lon + 0.01)
    route = g.travel_times_to(t).route_from(o)
    assert route is not None
    length = sum(haversine_m(a[1], a[0], b[1], b[0])
                 for a, b in zip(route.coords, route.coords[1:], strict=False))
    assert length == pytest.approx(route.distance_m, rel=0.01)
    assert route.geojson()["type"] == "LineString"


def test_point_off_road(sp_graph: RoadGraph) -> None:
    min_lon, min_lat, _, _ = sp_graph.bbox
    with pytest.raises(PointOffRoad, match="m from the nearest road"):
        sp_graph.snap(min_lat - 0.05, min_lon - 0.05)
    assert not sp_graph.contains(min_lat - 0.05, min_lon - 0.05)


def test_cutoff_bounds_the_search(sp_graph: RoadGraph) -> None:
    g = sp_graph
    min_lon, min_lat, max_lon, max_lat = g.bbox
    t = g.snap((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
    full = g.travel_times_to(t)
    bounded = g.travel_times_to(t, cutoff_s=120.0)
    for n in g.node_ids()[::25]:
        exact = full.node_time(n)
        got = bounded.node_time(n)
        if exact is not None and exact <= 120.0:
            assert got == pytest.approx(exact)
        else:
            assert got is None


def test_demo_map_file_and_counts(sp_graph: RoadGraph) -> None:
    assert (sp_graph.node_count, sp_graph.edge_count) == (4465, 8113)
    assert read_map(DEFAULT_MAP).meta["attribution"].startswith("© OpenStreetMap contributors")
    assert sp_graph.G.number_of_edges() == 8113
    data = sp_graph.G.get_edge_data(*next(iter(sp_graph.edge_ids())))
    assert {"length", "travel_time", "geometry", "highway", "name"} <= set(data)


def test_import_counts(ags_graph: RoadGraph) -> None:
    assert (ags_graph.node_count, ags_graph.edge_count) == (830, 1678)


def test_import_rejects_unknown_format(tmp_path: object) -> None:
    from dispatch.maps import MapImportError

    with pytest.raises(MapImportError):
        import_map(__file__, "/tmp/never.json.gz")


def test_roads_geojson_is_small(sp_graph: RoadGraph) -> None:
    import json

    doc = sp_graph.roads_geojson()
    assert len(json.dumps(doc, separators=(",", ":"))) < 1_500_000
    assert doc["features"] and np.all([f["geometry"]["type"] == "MultiLineString"
                                       for f in doc["features"]])


def test_concurrent_queries_agree_with_serial(sp_graph: RoadGraph) -> None:
    from concurrent.futures import ThreadPoolExecutor

    g = sp_graph
    min_lon, min_lat, max_lon, max_lat = g.bbox
    rng = random.Random(9)
    pts = [(rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)) for _ in range(40)]

    def run(i: int) -> tuple[float | None, int]:
        t = g.snap(*pts[i], max_distance_m=2000)
        o = g.snap(*pts[(i + 1) % len(pts)], max_distance_m=2000)
        field = g.travel_times_to(t, cutoff_s=900 if i % 2 else None)
        route = field.route_from(o)
        return field.time_from(o), len(route.coords) if route else 0

    serial = [run(i) for i in range(len(pts))]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(run, range(len(pts))))
    assert parallel == serial
