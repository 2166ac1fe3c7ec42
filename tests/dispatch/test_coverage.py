"""Standing cover: status colours, station outages, move-ups and isochrones."""

from __future__ import annotations

import pytest
from shapely.geometry import Point, shape

from dispatch.coverage import (
    CoverageModel,
    CoverTarget,
    Station,
    StationUnit,
    coverage,
    isochrones,
    recommend_move_ups,
)
from dispatch.graph import RoadGraph
from dispatch.recommend import RequiredForce

NORTH = Station(1, "North", -23.525, -46.640)
SOUTH = Station(2, "South", -23.570, -46.625)
SITE = (-23.530, -46.645)  # close to North, far from South


def _units(north_available: bool = True) -> list[StationUnit]:
    return [
        StationUnit(11, "fire", ("fire", "rescue"), 1, NORTH.lat, NORTH.lon, north_available),
        StationUnit(21, "fire", ("fire",), 2, SOUTH.lat, SOUTH.lon),
        StationUnit(22, "fire", ("fire", "foam"), 2, SOUTH.lat, SOUTH.lon),
    ]


def _eta(g: RoadGraph, station: Station) -> float:
    field = g.travel_times_to(g.snap(*SITE))
    t = field.time_from(g.snap(station.lat, station.lon))
    assert t is not None
    return t + 80.0


def test_status_colours_and_bottleneck(sp_graph: RoadGraph) -> None:
    g = sp_graph
    eta = _eta(g, NORTH)
    targets = [
        CoverTarget(1, "roomy", *SITE, (RequiredForce("fire", 1, eta * 2),)),
        CoverTarget(2, "tight", *SITE, (RequiredForce("fire", 1, eta * 1.1),)),
        CoverTarget(3, "short", *SITE, (RequiredForce("fire", 1, eta * 2),
                                        RequiredForce("hazmat", 1, 900.0))),
    ]
    report = coverage(g, [NORTH, SOUTH], _units(), targets)
    status = {t.target_id: t for t in report.targets}
    assert status[1].status == "green"
    assert status[2].status == "amber" and status[2].bottleneck == "fire"
    assert status[2].requirements[0].margin == pytest.approx(1 - 1 / 1.1)
    assert status[3].status == "red" and status[3].bottleneck == "hazmat"
    assert report.counts() == {"green": 1, "amber": 1, "red": 1}


def test_one_unit_fills_one_slot(sp_graph: RoadGraph) -> None:
    target = CoverTarget(1, "two needs", *SITE, (RequiredForce("fire", 1, 3600.0),
                                                 RequiredForce("rescue", 1, 3600.0)))
    only = [_units()[0]]
    cover = coverage(sp_graph, [NORTH], only, [target]).targets[0]
    assert cover.status == "red"
    assert sum(r.covered for r in cover.requirements) == 1


def test_station_outage_effect(sp_graph: RoadGraph) -> None:
    g = sp_graph
    eta_north, eta_south = _eta(g, NORTH), _eta(g, SOUTH)
    assert eta_south > eta_north * 1.5
    deadline = (eta_north + eta_south) / 2
    target = CoverTarget(1, "site", *SITE, (RequiredForce("fire", 1, deadline),))
    report = coverage(g, [NORTH, SOUTH], _units(), [target])
    assert report.targets[0].status in ("green", "amber")
    assert [t.target_id for t in report.station_out[1]] == [1]
    assert report.station_out[2] == ()


def test_move_up_restores_cover(sp_graph: RoadGraph) -> None:
    g = sp_graph
    eta_north, eta_south = _eta(g, NORTH), _eta(g, SOUTH)
    deadline = (eta_north + eta_south) / 2
    target = CoverTarget(1, "site", *SITE, (RequiredForce("fire", 1, deadline),))
    units = _units(north_available=False)  # North's engine is out on a call
    model = CoverageModel(g, [target])
    assert model.evaluate(target, units).status == "red"
    moves = recommend_move_ups(g, [NORTH, SOUTH], units, [target], model=model)
    assert len(moves) == 1
    m = moves[0]
    assert (m.from_station_id, m.to_station_id, m.restores) == (2, 1, (1,))
    assert m.unit_id in (21, 22) and m.travel_s > 0 and m.uncovers == ()


def test_isochrones_nest_and_contain_station(sp_graph: RoadGraph) -> None:
    fc = isochrones(sp_graph, NORTH.lat, NORTH.lon)
    by_min = {f["properties"]["minutes"]: shape(f["geometry"]) for f in fc["features"]}
    assert sorted(by_min) == [4, 8, 12]
    assert by_min[4].contains(Point(NORTH.lon, NORTH.lat))
    assert by_min[4].area < by_min[8].area < by_min[12].area
    times = sp_graph.travel_times_from(sp_graph.snap(NORTH.lat, NORTH.lon), cutoff_s=240)
    inside = sum(by_min[4].buffer(1e-6).contains(Point(sp_graph.node_lonlat(n))) for n in times)
    assert inside == len(times)


def test_move_ups_never_send_an_engine_to_a_hospital(sp_graph: RoadGraph) -> None:
    from dispatch.coverage import Station as St

    hospital = St(3, "Hospital", -23.570, -46.625, kind="hospital")
    fire = St(1, "North", -23.525, -46.640, kind="fire")
    target = CoverTarget(10, "South plant", -23.571, -46.626,
                         (RequiredForce("fire", 1, 240.0),))
    engine = StationUnit(1, "fire", ("fire",), 1, fire.lat, fire.lon)
    assert coverage(sp_graph, [fire, hospital], [engine], [target]).targets[0].status == "red"
    # the only empty station near the plant is a hospital: no move-up is proposed
    assert recommend_move_ups(sp_graph, [fire, hospital], [engine], [target]) == []
    # the same spot as a fire station restores the cover
    annex = St(3, "South annex", -23.570, -46.625, kind="fire")
    moves = recommend_move_ups(sp_graph, [fire, annex], [engine], [target])
    assert [(m.unit_id, m.to_station_id) for m in moves] == [(1, 3)]
