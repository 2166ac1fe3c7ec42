"""ERG 2016 lookups and hazard zones: shape, staging upwind, routes that stay outside."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable

import pytest

from dispatch.graph import RoadGraph, bearing_deg, haversine_m
from dispatch.hazard import ERG_CSV, HazardZone, isolation_for, wind_class
from dispatch.recommend import Candidate, RequiredForce, recommend_units

CENTRE = (-23.545, -46.635)


def test_chlorine_small_spill_table1() -> None:
    day = isolation_for("UN1017", "small", night=False)
    assert day is not None and (day.radius_m, day.protective_m) == (60.0, 300.0)
    # ERG marks chlorine "+": larger under some atmospheric conditions, said to the officer
    assert day.source == ("ERG2016 Table 1, UN1017 chlorine, small spill, day, larger under "
                          "some atmospheric conditions (ERG +)") and day.atm
    night = isolation_for("1017", "small", night=True)
    assert night is not None and (night.radius_m, night.protective_m) == (60.0, 1100.0)
    with open(ERG_CSV, encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["IDNum"] == "1017")
    assert (float(row["SM_ISO"]), float(row["SM_DY"])) == (60.0, 300.0)
    assert isolation_for("Chlorine") == day


@pytest.mark.parametrize(("wind", "night", "expected", "label"), [
    (2.0, False, (1000.0, 9900.0), "low wind"),
    (4.0, False, (1000.0, 6400.0), "moderate wind"),
    (7.0, False, (1000.0, 5100.0), "high wind"),
    (4.0, True, (1000.0, 9000.0), "moderate wind"),
])
def test_chlorine_large_spill_table3(wind: float, night: bool, expected: tuple[float, float],
                                     label: str) -> None:
    d = isolation_for("UN1017", "large", night=night, wind_speed_ms=wind, container="rail")
    assert d is not None and (d.radius_m, d.protective_m) == expected
    assert "Table 3" in d.source and "rail tank car" in d.source and label in d.source


def test_table3_container_and_unknowns() -> None:
    semi = isolation_for("UN1017", "large", wind_speed_ms=2.0, container="tank truck")
    assert semi is not None and (semi.radius_m, semi.protective_m) == (600.0, 5800.0)
    unknown = isolation_for("UN1017", "large")
    assert unknown is not None and unknown.protective_m == 9900.0
    assert "most protective" in unknown.source
    # chlorine has no agricultural nurse tank entry: fall back to the most protective container
    ag = isolation_for("UN1017", "large", wind_speed_ms=2.0, container="ag")
    assert ag is not None and ag.protective_m == 9900.0
    assert wind_class(2.7) == "low" and wind_class(3.0) == "moderate" and wind_class(6) == "high"


def test_table1_large_spill_fire_and_unknown_number() -> None:
    with open(ERG_CSV, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["IDNum"]] = counts.get(r["IDNum"], 0) + 1
    row = next(r for r in rows if r["TABLE3"] != "Yes" and float(r["LG_DY"]) > 0
               and counts[r["IDNum"]] == 1 and float(r["FIRE_ISO"]) > float(r["LG_ISO"]))
    un = f"UN{int(row['IDNum']):04d}"
    d = isolation_for(un, "large", night=False)
    assert d is not None and d.protective_m == float(row["LG_DY"])
    assert d.source.startswith(f"ERG2016 Table 1, {un}") and "large spill, day" in d.source
    f = isolation_for(un, "large", fire=True)
    assert f is not None and f.radius_m == float(row["FIRE_ISO"])
    assert isolation_for("UN9999") is None and isolation_for("nonsense") is None


def _offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (lat + north_m / 111_195.0,
            lon + east_m / (111_195.0 * math.cos(math.radians(lat))))


def test_zone_shape_square_downwind() -> None:
    lat, lon = CENTRE
    z = HazardZone(lat, lon, 100.0, 800.0, downwind_deg=90.0)  # wind from the west
    assert z.contains(*_offset(lat, lon, 0, 50))
    assert z.contains(*_offset(lat, lon, 700, 300))
    assert not z.contains(*_offset(lat, lon, -300, 0))
    assert not z.contains(*_offset(lat, lon, 700, 500))
    assert not z.contains(*_offset(lat, lon, 900, 0))
    circle = HazardZone(lat, lon, 100.0, 800.0, None)
    assert circle.contains(*_offset(lat, lon, -700, 0))
    assert z.polygon_geojson()["type"] == "Polygon"
    assert len(z.features_geojson()["features"]) == 2


@pytest.mark.parametrize("from_deg", [0.0, 135.0, 250.0])
def test_staging_upwind_and_routes_avoid_zone(sp_graph: RoadGraph, from_deg: float) -> None:
    g = sp_graph
    lat, lon = CENTRE
    z = HazardZone(lat, lon, 150.0, 1000.0, downwind_deg=(from_deg + 180.0) % 360.0)
    blocked = z.blocked_edges(g)
    assert len(blocked) > 50
    staging = z.staging_point(g, blocked)
    assert staging is not None
    assert not z.contains(staging.lat, staging.lon)
    bearing = bearing_deg(lat, lon, staging.lat, staging.lon)
    assert min(abs(bearing - from_deg), 360 - abs(bearing - from_deg)) < 90.0
    rng = random.Random(int(from_deg))
    min_lon, min_lat, max_lon, max_lat = g.bbox
    units = [Candidate(i, "fire", ("fire",), rng.uniform(min_lat, max_lat),
                       rng.uniform(min_lon, max_lon)) for i in range(40)]
    units = [u for u in units if not z.contains(u.lat, u.lon)]
    rec = recommend_units(g, staging.lat, staging.lon, [RequiredForce("fire", 8, None)], units,
                          blocked=blocked)
    assert len(rec.assignments) == 8
    for a in rec.assignments:
        assert not any(z.contains(c[1], c[0]) for c in a.route["coordinates"])


def test_staging_without_wind_is_outside_circle(sp_graph: RoadGraph) -> None:
    z = HazardZone(*CENTRE, 60.0, 300.0, None)
    s = z.staging_point(sp_graph)
    assert s is not None and not z.contains(s.lat, s.lon)
    assert z._to_local(s.lat, s.lon) != (0.0, 0.0)
    assert math.hypot(*z._to_local(s.lat, s.lon)) < 600.0


def test_units_inside_the_zone_drive_out_and_never_back_in(sp_graph: RoadGraph) -> None:
    g = sp_graph
    lat, lon = CENTRE
    z = HazardZone(lat, lon, 150.0, 1000.0, downwind_deg=90.0)
    blocked = z.blocked_edges(g)
    staging = z.staging_point(g, blocked)
    assert staging is not None
    rng = random.Random(7)
    inside = []
    while len(inside) < 6:
        p = (lat + rng.uniform(-0.008, 0.008), lon + rng.uniform(0.0, 0.009))
        if z.contains(*p) and not (abs(p[0] - lat) < 0.0015 and abs(p[1] - lon) < 0.0015):
            inside.append(p)
    units = [Candidate(i, "fire", ("fire",), p[0], p[1]) for i, p in enumerate(inside)]
    # without escape the search that avoids the zone cannot reach them at all
    stuck = recommend_units(g, staging.lat, staging.lon, [RequiredForce("fire", 6, None)],
                            units, blocked=blocked)
    assert len(stuck.assignments) < 6
    rec = recommend_units(g, staging.lat, staging.lon, [RequiredForce("fire", 6, None)], units,
                          blocked=blocked, escape=blocked)
    assert len(rec.assignments) == 6
    for a in rec.assignments:
        first = a.route["coordinates"][0]
        assert z.contains(first[1], first[0]), "the route starts where the unit stands"
        end = a.route["coordinates"][-1]
        assert haversine_m(end[1], end[0], staging.lat, staging.lon) < 1.0
        # the time is the drive out plus the normal route: a plain search confirms it
        leave = g.snap(inside[a.unit_id][0], inside[a.unit_id][1])
        direct = g.travel_times_to(g.snap(staging.lat, staging.lon)).time_from(leave)
        assert direct is not None and a.travel_s >= direct - 1e-6


def test_escape_never_uses_a_closed_road(sp_graph: RoadGraph) -> None:
    g = sp_graph
    lat, lon = CENTRE
    z = HazardZone(lat, lon, 150.0, 600.0, None)
    zone = z.blocked_edges(g)
    staging = z.staging_point(g, zone)
    assert staging is not None
    unit = Candidate(1, "fire", ("fire",), lat, lon)
    start = g.snap(lat, lon)
    assert 0.0 < start.fraction < 1.0
    u, v, _ = start.edge_id
    # the road the unit stands on is closed both ways: escape may not use it
    closed = frozenset(e for e in g.edge_ids() if {e[0], e[1]} == {u, v})
    # as the command service calls it: escape by the zone's roads, minus the closed ones
    rec = recommend_units(g, staging.lat, staging.lon, [RequiredForce("fire", 1, None)],
                          [unit], blocked=zone | closed, escape=zone - closed)
    assert rec.assignments == [] and rec.unmet[0].missing == 1
    free = recommend_units(g, staging.lat, staging.lon, [RequiredForce("fire", 1, None)],
                           [unit], blocked=zone, escape=zone)
    assert len(free.assignments) == 1


def test_a_unit_outside_the_zone_goes_around_even_beyond_the_deadline(
        tiny_graph: Callable[..., RoadGraph]) -> None:
    # a straight road 1-2-3-4-5 through the source at 3, and a long clean detour 1-6-7-5
    nodes = {1: (120.000, 30.0), 2: (120.010, 30.0), 3: (120.020, 30.0), 4: (120.030, 30.0),
             5: (120.040, 30.0), 6: (120.000, 30.05), 7: (120.040, 30.05)}
    g = tiny_graph(nodes, [(1, 2, 60), (2, 3, 60), (3, 4, 60), (4, 5, 60), (1, 6, 300),
                           (6, 7, 400), (7, 5, 300)])
    z = HazardZone(30.0, 120.020, 300.0, 0.0, None)
    blocked = z.blocked_edges(g)
    unit = Candidate(1, "fire", ("fire",), 30.0, 120.001)
    # the detour takes longer than the deadline, so the first, bounded search misses the
    # unit; it must still be routed around, never across the source
    for deadline in (None, 600.0):
        rec = recommend_units(g, 30.0, 120.040, [RequiredForce("fire", 1, deadline)], [unit],
                              blocked=blocked, escape=blocked)
        (a,) = rec.assignments
        assert a.travel_s > 1000.0
        assert not any(z.contains(c[1], c[0]) for c in a.route["coordinates"])
        assert a.late is (deadline is not None)


def test_a_unit_in_the_protective_zone_leaves_it_without_crossing_the_isolation_circle(
        tiny_graph: Callable[..., RoadGraph]) -> None:
    # west-east road 1-2-3-4-5-6 with the source at 3 and the wind blowing east; the only
    # other way west is a long loop 6-7-8-1 far to the north
    nodes = {1: (120.000, 30.0), 2: (120.010, 30.0), 3: (120.020, 30.0), 4: (120.030, 30.0),
             5: (120.040, 30.0), 6: (120.050, 30.0), 7: (120.050, 30.05), 8: (120.000, 30.05)}
    g = tiny_graph(nodes, [(1, 2, 60), (2, 3, 60), (3, 4, 60), (4, 5, 60), (5, 6, 60),
                           (6, 7, 400), (7, 8, 400), (8, 1, 400)])
    z = HazardZone(30.0, 120.020, 300.0, 2000.0, downwind_deg=90.0)
    circle = HazardZone(30.0, 120.020, 300.0, 0.0, None)
    blocked = z.blocked_edges(g)
    unit = Candidate(1, "fire", ("fire",), 30.0, 120.031)
    assert z.contains(unit.lat, unit.lon) and not circle.contains(unit.lat, unit.lon)
    rec = recommend_units(g, 30.0, 120.000, [RequiredForce("fire", 1, None)], [unit],
                          blocked=blocked, escape=blocked, hot=z.isolation_edges(g))
    (a,) = rec.assignments
    assert not any(circle.contains(c[1], c[0]) for c in a.route["coordinates"])
    assert a.travel_s > 1200.0  # east out of the zone, then the loop
    # a unit inside the circle itself still gets out by the fastest road
    inside = Candidate(2, "fire", ("fire",), 30.0, 120.021)
    rec = recommend_units(g, 30.0, 120.000, [RequiredForce("fire", 1, None)], [inside],
                          blocked=blocked, escape=blocked, hot=z.isolation_edges(g))
    (b,) = rec.assignments
    assert b.travel_s < 200.0


# ---- every chemical the product can see has a zone (issue 13) ------------------------------

def _visible_un_numbers() -> list[str]:
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "plans" / "data"
    table = yaml.safe_load((root / "gb18218.yaml").read_text(encoding="utf-8"))
    found = {c["un"] for c in table["chemicals"] if c.get("un")}
    for p in (root / "demo").glob("*.yaml"):
        found |= set(re.findall(r"\bUN\d{4}\b", p.read_text(encoding="utf-8")))
    return sorted(found)


@pytest.mark.parametrize("un", _visible_un_numbers())
@pytest.mark.parametrize("spill", ["small", "large"])
def test_every_chemical_the_product_knows_has_a_zone(un: str, spill: str) -> None:
    dist = isolation_for(un, spill)
    assert dist is not None, f"no zone for {un}"
    assert dist.radius_m > 0 and dist.protective_m >= dist.radius_m and dist.source
    assert dist.basis in ("table1", "table3", "guide") and dist.guide_code


def test_hydrogen_fire_isolates_the_guide_distance() -> None:
    # ERG Guide 115: a tank involved in a fire, isolate 1600 m all round
    fire = isolation_for("UN1049", "large", fire=True)
    assert fire is not None and (fire.radius_m, fire.protective_m) == (1600.0, 1600.0)
    assert fire.basis == "guide" and fire.guide_code == "115" and "Guide 115" in fire.source
    leak = isolation_for("UN1049", "large")
    assert leak is not None and (leak.radius_m, leak.protective_m) == (100.0, 800.0)
    small = isolation_for("UN1203", "small")  # gasoline: Guide 128, 50 m all round
    assert small is not None and (small.radius_m, small.protective_m) == (50.0, 50.0)
    # Guide 131 gives no large-spill distance: a stated floor, flagged, never 50 m
    methanol = isolation_for("UN1230", "large")
    assert methanol is not None and methanol.protective_m == 300.0
    assert methanol.increase_as_necessary


@pytest.mark.parametrize("un", ["UN1076", "UN1051", "UN2188", "UN1589"])
def test_weapon_rows_never_set_an_industrial_zone(un: str) -> None:
    dist = isolation_for(un, "large", night=True)
    assert dist is not None and "weaponized" not in dist.material.lower()
    with open(ERG_CSV, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["IDNum"] == un[2:]
                and "weaponized" not in r["Material"].lower()]
    assert rows and dist.protective_m <= max(float(r["LG_NTE"]) for r in rows) or \
        dist.basis == "table3"


def test_over_11km_and_atm_are_carried_to_the_officer() -> None:
    with open(ERG_CSV, encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if float(r["LG_NTE"] or 0) >= 11000
                   and r["TABLE3"] != "Yes" and "weaponized" not in r["Material"].lower())
    dist = isolation_for(row["IDNum"], "large", night=True)
    assert dist is not None and dist.over_11km and "more than 11 km" in dist.source
    assert isolation_for("UN1017") is not None and isolation_for("UN1017").atm  # type: ignore[union-attr]


def test_night_follows_sunrise_and_sunset_at_the_place() -> None:
    import datetime as dt

    from dispatch.hazard import is_night

    harbin = (45.8, 126.6)
    # 06:04 local solar time on a December morning: the old 06-18 h rule said day; the sun
    # rises about 07:00 Beijing time there
    assert is_night(*harbin, dt.datetime(2026, 12, 20, 22, 4, tzinfo=dt.UTC))
    # 04:34 Beijing time in June: the sun is up (sunrise about 03:45), the old rule said night
    assert not is_night(*harbin, dt.datetime(2026, 6, 20, 20, 34, tzinfo=dt.UTC))
    assert not is_night(-23.55, -46.63, dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC))
