"""Dispatch fixtures: the demo map and the Aguascalientes fixture, each loaded once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from dispatch.graph import RoadGraph, haversine_m
from dispatch.maps import MapArrays, import_map

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "roads"
# the full shared data set (Luxembourg) lives beside the repository, when it is there
ROADS = Path(__file__).resolve().parents[3] / "shared" / "data" / "roads"
if not ROADS.exists():
    ROADS = Path("/work/shared/data/roads")
AGUASCALIENTES = BUNDLED / "aguascalientes.osm.bz2"


@pytest.fixture(scope="session")
def sp_graph() -> RoadGraph:
    """The bundled São Paulo demo map."""
    return RoadGraph.load()


@pytest.fixture(scope="session")
def ags_graph(tmp_path_factory: pytest.TempPathFactory) -> RoadGraph:
    """Aguascalientes, imported through the real importer into a temp file."""
    out = tmp_path_factory.mktemp("maps") / "ags.json.gz"
    import_map(AGUASCALIENTES, out)
    return RoadGraph.load(out)


TinyEdge = tuple[int, int, float]  # u, v, travel seconds


def _tiny(nodes: dict[int, tuple[float, float]], edges: Sequence[TinyEdge],
          two_way: bool = True) -> RoadGraph:
    ids = sorted(nodes)
    index = {n: i for i, n in enumerate(ids)}
    arrays = MapArrays(ids, [nodes[n][0] for n in ids], [nodes[n][1] for n in ids],
                       [], [], [], [], [], [], [], [], {"source": "test"})
    for u, v, t in edges:
        for a, b in ((u, v), (v, u)) if two_way else ((u, v),):
            arrays.u.append(index[a])
            arrays.v.append(index[b])
            arrays.key.append(0)
            (lon1, lat1), (lon2, lat2) = nodes[a], nodes[b]
            arrays.length.append(haversine_m(lat1, lon1, lat2, lon2))
            arrays.travel_time.append(t)
            arrays.highway.append("residential")
            arrays.name.append(f"{a}-{b}")
            arrays.geometry.append(None)
    return RoadGraph.from_arrays(arrays)


@pytest.fixture
def tiny_graph() -> Callable[..., RoadGraph]:
    """Factory for hand-built graphs: nodes {id: (lon, lat)}, edges [(u, v, seconds)]."""
    return _tiny
