"""Road closures drawn on the map, turned into the graph edges they block."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from dispatch.graph import EdgeId, RoadGraph

# how far a drawn closure line may stray from the road it follows (drawing on a map is rough)
FOLLOW_TOLERANCE_M = 8.0
# an edge is "followed" when the line runs along it, not merely across it
ALONG_RATIO = 0.7
MIN_OVERLAP_M = 1.0


class InvalidClosure(ValueError):
    """The closure geometry is not a usable GeoJSON Point, LineString or Polygon."""


def edges_for_closure(graph: RoadGraph, geometry: dict[str, Any],
                      tolerance_m: float = FOLLOW_TOLERANCE_M) -> frozenset[EdgeId]:
    """Edges a closure blocks: roads a line follows, or roads a polygon touches."""
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidClosure(f"not a GeoJSON geometry: {exc}") from exc
    if geom.is_empty:
        return frozenset()
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        return graph.edges_near(geom)
    if kind in ("Point", "MultiPoint"):
        return graph.edges_near(geom, within_m=tolerance_m)
    if kind in ("LineString", "MultiLineString"):
        return _followed(graph, geom, tolerance_m)
    raise InvalidClosure(f"unsupported closure geometry {kind}")


def _followed(graph: RoadGraph, line: BaseGeometry, tolerance_m: float) -> frozenset[EdgeId]:
    pline = graph.project_geometry(line)
    band = pline.buffer(tolerance_m)
    out: set[EdgeId] = set()
    for edge in graph.edges_near(line, within_m=tolerance_m):
        road = graph.projected_line(edge)
        overlap = road.intersection(band)
        if overlap.is_empty or overlap.length < MIN_OVERLAP_M:
            continue
        parts = getattr(overlap, "geoms", [overlap])
        # a cross street only touches the band: its overlap projects onto one spot of the line
        along = 0.0
        for part in parts:
            if part.geom_type != "LineString" or part.length == 0:
                continue
            c = list(part.coords)
            along += abs(pline.project(_pt(c[-1])) - pline.project(_pt(c[0])))
        if along >= ALONG_RATIO * overlap.length:
            out.add(edge)
    return frozenset(out)


def _pt(c: tuple[float, ...]) -> BaseGeometry:
    from shapely.geometry import Point

    return Point(c[0], c[1])
