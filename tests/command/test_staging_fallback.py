"""A protective zone that covers every road still leaves responders a staging point."""

from __future__ import annotations

from typing import Any

from command.models import Incident, IncidentKind
from dispatch.hazard import HazardZone


def test_staging_falls_back_to_the_isolation_circle_when_the_zone_covers_the_map(
        app: Any) -> None:
    service = app.extensions["redline"].service
    lat, lon = -23.5482, -46.6617  # the chlor-alkali plant of the demo
    incident = Incident(kind=IncidentKind.LEAK, lat=lat, lon=lon, isolation={
        "radius_m": 400.0, "protective_m": 60_000.0, "downwind_deg": None, "source": "test"})
    with service.reading() as s:
        target = service._target(s, incident)
    t_lat, t_lon, blocked, staging = target.lat, target.lon, target.blocked, target.staging
    assert staging is not None and "error" not in staging
    assert staging["inside_protective_zone"] is True
    circle = HazardZone(lat, lon, 400.0, 0.0, None)
    assert not circle.contains(t_lat, t_lon), "never inside the isolation circle"
    assert HazardZone(lat, lon, 400.0, 60_000.0, None).contains(t_lat, t_lon)
    # only the circle's roads are avoided, so units can still reach the staging point
    assert blocked == circle.blocked_edges(service.graph)
    assert target.hot == circle.isolation_edges(service.graph)


def test_staging_is_never_downwind_inside_the_protective_zone(app: Any) -> None:
    """A protective zone that no unit can drive around: they cross it (not the isolation
    circle) to a point on its upwind side, and never stage downwind in it."""
    service = app.extensions["redline"].service
    lat, lon = -23.5482, -46.6617
    # wind from the west: the 60 km protective square runs east over the whole map, and the
    # plant sits near the map's west edge, so nothing upwind is reachable around the zone
    iso = {"radius_m": 400.0, "protective_m": 60_000.0, "downwind_deg": 90.0, "source": "test"}
    incident = Incident(kind=IncidentKind.LEAK, lat=lat, lon=lon, isolation=iso)
    with service.reading() as s:
        target = service._target(s, incident)
    staging = target.staging
    assert staging is not None and "error" not in staging, staging
    zone = HazardZone(lat, lon, 400.0, 60_000.0, 90.0)
    assert zone.staging_point(service.graph) is None, "the case needs no road around the zone"
    assert not zone.contains(target.lat, target.lon), "staged inside the protective zone"
    assert target.lon < lon, "the staging point is on the upwind (west) side"
    assert staging["may_cross_protective_zone"] is True
    circle = HazardZone(lat, lon, 400.0, 0.0, None)
    assert target.blocked == circle.blocked_edges(service.graph)
