"""Road graph: loading, snapping points to roads, travel-time searches and route geometry."""

from __future__ import annotations

import heapq
import json
import math
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from dispatch.maps import DEFAULT_MAP, MapArrays, read_map

EARTH_RADIUS_M = 6_371_008.8
INF = math.inf
# a snapped point this close to an edge end is treated as standing on the junction itself
AT_NODE_M = 1.0

EdgeId = tuple[int, int, int]  # (u, v, key) with OSM node ids, as in the networkx graph


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial compass bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


class PointOffRoad(Exception):
    """A point is too far from any road to be routed to or from."""

    def __init__(self, distance_m: float, max_distance_m: float) -> None:
        super().__init__(f"point is {distance_m:.0f} m from the nearest road "
                         f"(limit {max_distance_m:.0f} m)")
        self.distance_m = distance_m
        self.max_distance_m = max_distance_m


@dataclass(frozen=True)
class Snap:
    """A point projected onto a directed road edge; fraction is of the edge's travel time."""

    u: int
    v: int
    key: int
    fraction: float
    lat: float
    lon: float
    distance_m: float
    edge: int  # index of the edge in its RoadGraph

    @property
    def edge_id(self) -> EdgeId:
        """The (u, v, key) id of the snapped edge."""
        return (self.u, self.v, self.key)


@dataclass(frozen=True)
class Route:
    """A drivable path as GeoJSON-ordered [lon, lat] coordinates."""

    coords: list[list[float]]
    distance_m: float
    travel_s: float

    def geojson(self) -> dict[str, Any]:
        """The route as a GeoJSON LineString geometry."""
        coords = self.coords if len(self.coords) > 1 else self.coords * 2
        return {"type": "LineString", "coordinates": coords}


# A way onto or off the network: join/leave `node`, costing `offset` seconds spent on `edge`
# between fractions f0 and f1 (f0 == f1 means the point stands on the node itself).
@dataclass(frozen=True)
class _Link:
    node: int
    offset: float
    edge: int
    f0: float
    f1: float


class TravelField:
    """Travel times from every reached junction to one target point (one reverse search)."""

    def __init__(self, graph: RoadGraph, target: Snap, sources: list[_Link], dist: np.ndarray,
                 pred: np.ndarray, cutoff_s: float | None, blocked: frozenset[int]) -> None:
        self.graph = graph
        self.target = target
        self._sources = sources
        self._dist = dist  # per search node (junctions, their split copies, the virtual source)
        self._pred = pred  # the next search node towards the target; the virtual node at a source
        self.cutoff_s = cutoff_s
        self._blocked = blocked

    def node_time(self, node_id: int) -> float | None:
        """Travel time from a junction (OSM node id) to the target, None if not reached."""
        t = float(self._dist[self.graph._index[node_id]])
        return None if t == INF or (self.cutoff_s is not None and t > self.cutoff_s) else t

    def reached_count(self) -> int:
        """How many junctions can reach the target (within the cutoff)."""
        cut = INF if self.cutoff_s is None else self.cutoff_s
        d = self._dist[:self.graph.node_count]
        return int(np.count_nonzero((d < INF) & (d <= cut)))

    def _best(self, origin: Snap) -> tuple[float, _Link | None, _Link | None]:
        """(time, start link, direct same-edge link or None) of the fastest way to the target."""
        g = self.graph
        best, best_start, best_direct = INF, None, None
        for start in g._starts(origin):
            if start.f0 != start.f1 and start.edge in self._blocked:
                continue
            t = start.offset + float(self._dist[start.node])
            if t < best:
                best, best_start, best_direct = t, start, None
        # origin and target on the same directed edge, origin behind the target: drive straight on
        for eo, fo in g._edge_options(origin):
            if eo in self._blocked:
                continue
            for src in self._sources:
                if src.edge == eo and src.f0 == 0.0 and fo <= src.f1:
                    t = (src.f1 - fo) * g._tt[eo]
                    if t < best:
                        best, best_start = t, None
                        best_direct = _Link(-1, t, eo, fo, src.f1)
        if self.cutoff_s is not None and best > self.cutoff_s:
            return INF, None, None
        return best, best_start, best_direct

    def time_from(self, origin: Snap) -> float | None:
        """Travel time in seconds from an origin point to the target, None if unreachable."""
        t, _, _ = self._best(origin)
        return None if t == INF else t

    def route_from(self, origin: Snap) -> Route | None:
        """The fastest route from an origin point to the target, None if unreachable."""
        t, start, direct = self._best(origin)
        if t == INF:
            return None
        g = self.graph
        if direct is not None:
            coords = g._cut(direct.edge, direct.f0, direct.f1)
            return Route(_dedupe(coords), (direct.f1 - direct.f0) * g._len[direct.edge], t)
        assert start is not None
        coords = g._cut(start.edge, start.f0, start.f1)
        dist_m = (start.f1 - start.f0) * g._len[start.edge]
        return self._follow(start.node, coords, dist_m, t)

    def _follow(self, x: int, coords: list[list[float]], dist_m: float, t: float) -> Route:
        """The route on from search node x to the target, appended to coords."""
        g = self.graph
        virtual = g._virtual
        for _ in range(len(self._dist) + 1):
            y = int(self._pred[x])
            if y == virtual or y < 0:
                here = float(self._dist[x])
                src = min((s for s in self._sources if s.node == x),
                          key=lambda s: abs(s.offset - here))
                coords.extend(g._cut(src.edge, src.f0, src.f1))
                dist_m += (src.f1 - src.f0) * g._len[src.edge]
                return Route(_dedupe(coords), dist_m, t)
            e = g._edge_between(x, y, self._blocked)
            coords.extend(g._coords(e))
            dist_m += g._len[e]
            x = y
        raise RuntimeError("route reconstruction looped")  # pragma: no cover

    def escape_route_from(self, origin: Snap, escape: frozenset[int]) -> Route | None:
        """For an origin inside an avoided area: leave it by its own roads, then go on.

        A unit standing inside the hazard zone cannot be routed around it; it must drive out
        the fastest way. The search may use only `escape` edges (the zone's roads, indices)
        until it reaches a junction from which the ordinary route continues.
        """
        g = self.graph
        cut = INF if self.cutoff_s is None else self.cutoff_s
        dist: dict[int, float] = {}
        pred: dict[int, tuple[int, int] | _Link] = {}
        heap: list[tuple[float, int]] = []
        for s in g._starts(origin):
            if s.f0 != s.f1 and s.edge not in escape and s.edge in self._blocked:
                continue
            if s.offset < dist.get(s.node, INF):
                dist[s.node] = s.offset
                pred[s.node] = s
                heapq.heappush(heap, (s.offset, s.node))
        best, best_node = INF, -1
        while heap:
            d, x = heapq.heappop(heap)
            if d > dist.get(x, INF):
                continue
            if d >= best:
                break
            rest = float(self._dist[x])
            if rest < INF and d + rest < best:
                best, best_node = d + rest, x
            indptr, indices, edge = g._csr["fwd"]
            for j in range(int(indptr[x]), int(indptr[x + 1])):
                y, e = int(indices[j]), int(edge[j])
                nd = d + g._tt[e]
                if e in escape and nd < dist.get(y, INF):
                    dist[y] = nd
                    pred[y] = (x, e)
                    heapq.heappush(heap, (nd, y))
        if best_node < 0 or best > cut:
            return None
        edges: list[int] = []
        x = best_node
        while not isinstance(pred[x], _Link):
            x, e = pred[x]  # type: ignore[misc]
            edges.append(e)
        start = pred[x]
        assert isinstance(start, _Link)
        coords = g._cut(start.edge, start.f0, start.f1)
        dist_m = (start.f1 - start.f0) * g._len[start.edge]
        for e in reversed(edges):
            coords.extend(g._coords(e))
            dist_m += g._len[e]
        return self._follow(best_node, coords, dist_m, best)


class _EdgeLookup:
    """(u, v, key) OSM-id edge ids to edge indices, in sorted int64 codes (not a dict of tuples:
    at a province's millions of edges that dict alone took hundreds of MB)."""

    def __init__(self, index: dict[int, int], eu: Sequence[int], ev: Sequence[int],
                 key: Sequence[int]) -> None:
        self._node_index = index
        n = max(len(index), 1)
        self._n = n
        self._kmax = (max(key) if len(key) else 0) + 1
        codes = (np.asarray(eu, dtype=np.int64) * n + np.asarray(ev, dtype=np.int64)) \
            * self._kmax + np.asarray(key, dtype=np.int64)
        self._order = np.argsort(codes, kind="stable")
        self._codes = codes[self._order]

    def _code(self, edge: EdgeId) -> int | None:
        u, v, k = edge
        iu, iv = self._node_index.get(u), self._node_index.get(v)
        if iu is None or iv is None or not 0 <= k < self._kmax:
            return None
        return (iu * self._n + iv) * self._kmax + k

    def get(self, edge: EdgeId) -> int | None:
        """The edge's index, None if the map has no such edge."""
        code = self._code(edge)
        if code is None:
            return None
        i = int(np.searchsorted(self._codes, code))
        if i < len(self._codes) and int(self._codes[i]) == code:
            return int(self._order[i])
        return None

    def __getitem__(self, edge: EdgeId) -> int:
        e = self.get(edge)
        if e is None:
            raise KeyError(edge)
        return e

    def __contains__(self, edge: object) -> bool:
        return isinstance(edge, tuple) and len(edge) == 3 and self.get(edge) is not None

    def indices(self, edges: Iterable[EdgeId]) -> frozenset[int]:
        """Indices of the edges the map has (unknown ids ignored), vectorised."""
        codes = [c for c in map(self._code, edges) if c is not None]
        if not codes:
            return frozenset()
        arr = np.asarray(codes, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._codes, arr), len(self._codes) - 1)
        found = self._codes[pos] == arr
        return frozenset(self._order[pos[found]].tolist())


SEARCH_ARRAYS = ("head", "node_of", "copy_tail", "copy_edge", "fwd_indptr", "fwd_indices",
                 "fwd_edge", "rev_indptr", "rev_indices", "rev_edge")


def search_arrays_dir(map_path: Path) -> Path:
    """Where a map's memory-mappable search arrays live: beside it, NAME.arrays/."""
    name = map_path.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return map_path.with_name(name + ".arrays")


def _manifest(map_path: Path, graph: RoadGraph | None = None,
              arrays: MapArrays | None = None) -> dict[str, Any]:
    """What ties search arrays to their map file: its size and the graph's counts."""
    nodes = graph.node_count if graph is not None else len(arrays.node_ids)  # type: ignore[union-attr]
    edges = graph.edge_count if graph is not None else len(arrays.u)  # type: ignore[union-attr]
    banned = (len(graph._banned_pairs) if graph is not None
              else len(arrays.banned_turns))  # type: ignore[union-attr]
    return {"map_size": map_path.stat().st_size, "nodes": nodes, "edges": edges,
            "banned_turns": banned, "version": 1}


def _read_search_arrays(map_path: Path, arrays: MapArrays) -> dict[str, np.ndarray] | None:
    """The memory-mapped search arrays beside a map, None if absent or not for this map."""
    d = search_arrays_dir(map_path)
    try:
        manifest = json.loads((d / "manifest.json").read_text())
        if manifest != _manifest(map_path, arrays=arrays):
            return None
        return {name: np.load(d / f"{name}.npy", mmap_mode="r") for name in SEARCH_ARRAYS}
    except (OSError, ValueError):
        return None


def _dedupe(coords: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for c in coords:
        if not out or out[-1] != c:
            out.append(c)
    return out


class RoadGraph:
    """An immutable drivable road network with compact arrays for fast searches."""

    def __init__(self, arrays: MapArrays,
                 search: dict[str, np.ndarray] | None = None) -> None:
        a = arrays
        self.meta = dict(a.meta)
        self._node_ids = list(a.node_ids)
        self._index = {n: i for i, n in enumerate(self._node_ids)}
        self._lon = list(a.lon)
        self._lat = list(a.lat)
        self._eu, self._ev, self._key = list(a.u), list(a.v), list(a.key)
        self._len = [float(x) for x in a.length]
        self._tt = [float(x) for x in a.travel_time]
        self._hw, self._name, self._geom = a.highway, a.name, a.geometry
        n, m = len(self._node_ids), len(self._eu)
        self._eid = _EdgeLookup(self._index, self._eu, self._ev, self._key)
        self._csr: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        if search is None:
            self._expand_turns(a.banned_turns)
        else:
            self._banned_pairs = [(int(x), int(y)) for x, y in a.banned_turns]
            self._set_search(search["head"], search["node_of"], search["copy_tail"],
                             search["copy_edge"])
            self._csr = {d: (search[f"{d}_indptr"], search[f"{d}_indices"], search[f"{d}_edge"])
                         for d in ("fwd", "rev")}
        self._build_csr()
        self._twin = self._find_twins()
        lons = np.array(self._lon[:n])
        lats = np.array(self._lat[:n])
        lons.flags.writeable = False
        lats.flags.writeable = False
        self._lon_arr, self._lat_arr = lons, lats
        self.bbox: tuple[float, float, float, float] = (
            float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max()))
        self._lon0 = (self.bbox[0] + self.bbox[2]) / 2
        self._lat0 = (self.bbox[1] + self.bbox[3]) / 2
        self._ky = EARTH_RADIUS_M * math.pi / 180.0
        self._kx = self._ky * math.cos(math.radians(self._lat0))
        # one tree entry per physical road: a two-way road's twin shares its geometry
        self._tree_edges = [e for e in range(m) if self._twin[e] < 0 or self._twin[e] > e]
        self._lines = np.array([self._projected_line(e) for e in self._tree_edges], dtype=object)
        self._tree_edges_arr = np.array(self._tree_edges, dtype=np.int64)
        self._tree = shapely.STRtree(self._lines)
        self._G: nx.MultiDiGraph | None = None
        self._lock = threading.Lock()

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | str = DEFAULT_MAP) -> RoadGraph:
        """Load a map file written by `dispatch.maps.import_map`.

        When its search arrays lie beside it (`search_arrays_dir`), they are memory-mapped
        read-only, so every hub process on a machine shares one copy of them.
        """
        path = Path(path)
        arrays = read_map(path)
        return cls(arrays, _read_search_arrays(path, arrays))

    @property
    def shares_search_arrays(self) -> bool:
        """Whether the search arrays are memory-mapped from disk (shared between processes)."""
        return isinstance(self._csr_arrays()[0], np.memmap)

    def _csr_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self._csr is not None
        return self._csr["fwd"]

    def save_search_arrays(self, map_path: Path | str) -> Path:
        """Write the search arrays beside a map file, for `load` to memory-map."""
        assert self._csr is not None
        out = search_arrays_dir(Path(map_path))
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        parts = {"head": self._head, "node_of": self._node_of, "copy_tail": self._copy_tail,
                 "copy_edge": self._copy_edge}
        for d in ("fwd", "rev"):
            indptr, indices, edge = self._csr[d]
            parts |= {f"{d}_indptr": indptr, f"{d}_indices": indices, f"{d}_edge": edge}
        for name, arr in parts.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))
        (tmp / "manifest.json").write_text(json.dumps(_manifest(Path(map_path), self)))
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
        return out

    @classmethod
    def from_arrays(cls, arrays: MapArrays) -> RoadGraph:
        """Build from column arrays (see `dispatch.maps.MapArrays`)."""
        return cls(arrays)

    def _expand_turns(self, banned_turns: Sequence[tuple[int, int]]) -> None:
        """Search graph arrays, with junctions split where turn restrictions apply.

        An edge with a banned turn at its head ends in a copy of that junction which offers
        every way on except the banned ones; all other edges keep the plain junction, so the
        search stays node-based and only restricted junctions grow. Search edges carry the
        original edge index, so closures, costs and route shapes need no translation.
        """
        n = len(self._node_ids)
        banned: dict[int, set[int]] = {}
        self._banned_pairs = [(int(a), int(b)) for a, b in banned_turns]
        for e_in, e_out in banned_turns:
            if self._ev[e_in] == self._eu[e_out]:
                banned.setdefault(int(e_in), set()).add(int(e_out))
        head = np.asarray(self._ev, dtype=np.int64)  # search head: a junction or its copy
        node_of = list(range(n))  # search node -> junction index
        eu = np.asarray(self._eu, dtype=np.int64)
        by_tail = np.argsort(eu, kind="stable")
        first = np.searchsorted(eu[by_tail], np.arange(n + 1))
        copy_tail: list[int] = []
        copy_edge: list[int] = []
        for e_in in sorted(banned):
            head[e_in] = len(node_of)
            node_of.append(self._ev[e_in])
        for e_in in sorted(banned):
            via = self._ev[e_in]
            for e in by_tail[first[via]:first[via + 1]]:
                if int(e) not in banned[e_in]:
                    copy_tail.append(int(head[e_in]))
                    copy_edge.append(int(e))
        self._set_search(head, np.asarray(node_of, dtype=np.int64),
                         np.asarray(copy_tail, dtype=np.int64),
                         np.asarray(copy_edge, dtype=np.int64))

    def _set_search(self, head: np.ndarray, node_of: np.ndarray, copy_tail: np.ndarray,
                    copy_edge: np.ndarray) -> None:
        n = len(self._node_ids)
        self._head = head
        self._node_of = node_of
        self._copy_tail, self._copy_edge = copy_tail, copy_edge
        self._copies: dict[int, list[int]] = {}  # junction index -> its split copies
        for x in range(n, len(node_of)):
            self._copies.setdefault(int(node_of[x]), []).append(x)
        self._tails_extra: dict[int, list[int]] = {}  # edge -> split copies it leaves from
        for t, e in zip(copy_tail.tolist(), copy_edge.tolist(), strict=True):
            self._tails_extra.setdefault(e, []).append(t)
        self._lon.extend(self._lon[int(node_of[x])] for x in range(n, len(node_of)))
        self._lat.extend(self._lat[int(node_of[x])] for x in range(n, len(node_of)))

    def _build_csr(self) -> None:
        """Forward and reverse CSR arrays of the search graph, plus one virtual source node.

        The virtual node's row has fixed slots; each search points them at its start nodes
        with their start offsets (a point mid-edge starts part-way), so a multi-source search
        with offsets is one single-source scipy Dijkstra, exact.
        """
        size = len(self._node_of)
        m = len(self._eu)
        self._virtual = size
        most = max((len(c) for c in self._copies.values()), default=0)
        self._slots = 4 * (most + 1) + 4
        self._tt_arr = np.asarray(self._tt, dtype=np.float64)
        if getattr(self, "_csr", None) is None:
            t_arr = np.concatenate([np.asarray(self._eu, dtype=np.int64), self._copy_tail])
            h_arr = np.concatenate([self._head, self._head[self._copy_edge]])
            o_arr = np.concatenate([np.arange(m, dtype=np.int64), self._copy_edge])
            self._csr = {}
            for name, rows, cols in (("fwd", t_arr, h_arr), ("rev", h_arr, t_arr)):
                order = np.argsort(rows, kind="stable")
                counts = np.bincount(rows, minlength=size + 1)
                counts[size] = self._slots
                indptr = np.zeros(size + 2, dtype=np.int32)
                np.cumsum(counts, out=indptr[1:])
                indices = np.concatenate([cols[order], np.full(self._slots, size)])
                edge = np.concatenate([o_arr[order], np.full(self._slots, -1)])
                self._csr[name] = (indptr, indices.astype(np.int32), edge.astype(np.int64))
        self._weights_cache: dict[tuple[str, frozenset[int]], csr_matrix] = {}
        self._blocked_cache: dict[frozenset[EdgeId], frozenset[int]] = {}
        self._search_lock = threading.Lock()

    def _matrix(self, direction: str, blk: frozenset[int]) -> csr_matrix:
        """The search matrix with closed edges removed (infinite), cached by closure set."""
        key = (direction, blk)
        m = self._weights_cache.get(key)
        if m is None:
            indptr, indices, edge = self._csr[direction]
            data = np.empty(len(edge), dtype=np.float64)
            data[:-self._slots] = self._tt_arr[edge[:-self._slots]]
            data[-self._slots:] = INF
            if blk:
                closed = np.fromiter(blk, dtype=np.int64, count=len(blk))
                data[:-self._slots][np.isin(edge[:-self._slots], closed)] = INF
            # each search writes its start nodes into the virtual row: a private index copy
            m = csr_matrix((data, indices.copy(), indptr), shape=(len(indptr) - 1,) * 2)
            if len(self._weights_cache) >= 16:
                self._weights_cache.pop(next(iter(self._weights_cache)))
            self._weights_cache[key] = m
        return m

    def _search(self, direction: str, starts: list[_Link], blk: frozenset[int],
                cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """(dist, pred) of one scipy Dijkstra from the virtual node through start links."""
        size = self._virtual + 1
        if not starts:
            return np.full(size, INF), np.full(size, -9999, dtype=np.int32)
        with self._search_lock:
            m = self._matrix(direction, blk)
            k = self._slots
            nodes = [s.node for s in starts][:k]
            offs = [s.offset for s in starts][:k]
            m.indices[-k:] = self._virtual
            m.data[-k:] = INF
            m.indices[-k:][:len(nodes)] = nodes
            m.data[-k:][:len(nodes)] = offs
            dist, pred = dijkstra(m, directed=True, indices=self._virtual, return_predecessors=True,
                                  limit=cutoff)
        dist[self._virtual] = INF
        return dist, pred

    def _edge_between(self, x: int, y: int, blk: frozenset[int]) -> int:
        """The fastest open edge from search node x to search node y."""
        indptr, indices, edge = self._csr["fwd"]
        lo, hi = int(indptr[x]), int(indptr[x + 1])
        best, best_e = INF, -1
        for j in range(lo, hi):
            e = int(edge[j])
            if int(indices[j]) == y and e not in blk and self._tt[e] < best:
                best, best_e = self._tt[e], e
        return best_e

    def _all_copies(self, x: int) -> list[int]:
        """A junction's search nodes: itself and its split copies."""
        return [x, *self._copies.get(x, ())]

    def _find_twins(self) -> list[int]:
        by_pair: dict[tuple[int, int], list[int]] = {}
        for e in range(len(self._eu)):
            by_pair.setdefault((self._eu[e], self._ev[e]), []).append(e)
        twin = [-1] * len(self._eu)
        for e in range(len(self._eu)):
            if twin[e] >= 0 or self._eu[e] == self._ev[e]:
                continue
            fwd = self._coords(e)
            for r in by_pair.get((self._ev[e], self._eu[e]), ()):
                if twin[r] < 0 and abs(self._len[r] - self._len[e]) < 0.5 \
                        and self._coords(r)[::-1] == fwd:
                    twin[e], twin[r] = r, e
                    break
        return twin

    @property
    def G(self) -> nx.MultiDiGraph:  # noqa: N802 - the conventional name of a networkx graph
        """The network as a networkx MultiDiGraph (built on first use, then shared)."""
        with self._lock:
            if self._G is None:
                G = nx.MultiDiGraph(crs="EPSG:4326", **{k: v for k, v in self.meta.items()
                                                         if isinstance(v, str | int | float)})
                G.add_nodes_from((self._node_ids[i], {"x": self._lon[i], "y": self._lat[i]})
                                 for i in range(len(self._node_ids)))
                nid = self._node_ids
                G.add_edges_from(
                    (nid[self._eu[e]], nid[self._ev[e]], self._key[e],
                     {"length": self._len[e], "travel_time": self._tt[e],
                      "highway": self._hw[e], "name": self._name[e],
                      "geometry": self._coords(e)})
                    for e in range(len(self._eu)))
                self._G = G
            return self._G

    # ---- basic facts -------------------------------------------------------------------
    @property
    def node_count(self) -> int:
        """Number of junctions."""
        return len(self._node_ids)

    @property
    def edge_count(self) -> int:
        """Number of directed edges."""
        return len(self._eu)

    def contains(self, lat: float, lon: float, margin_m: float = 500.0) -> bool:
        """Whether a point lies inside the map's bounding box widened by margin_m."""
        dy = margin_m / self._ky
        dx = margin_m / self._kx
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return (min_lon - dx <= lon <= max_lon + dx) and (min_lat - dy <= lat <= max_lat + dy)

    def edge_ids(self) -> Iterator[EdgeId]:
        """All directed edge ids (u, v, key)."""
        nid = self._node_ids
        return ((nid[self._eu[e]], nid[self._ev[e]], self._key[e]) for e in range(len(self._eu)))

    def edge_id(self, e: int) -> EdgeId:
        """The (u, v, key) id of edge index e."""
        return (self._node_ids[self._eu[e]], self._node_ids[self._ev[e]], self._key[e])

    def edge_travel_time(self, edge: EdgeId) -> float:
        """Travel time in seconds along a whole edge."""
        return self._tt[self._eid[edge]]

    def edge_coords(self, edge: EdgeId) -> list[list[float]]:
        """The edge's road shape as [lon, lat] pairs from u to v."""
        return self._coords(self._eid[edge])

    def node_lonlat(self, node_id: int) -> tuple[float, float]:
        """(lon, lat) of a junction."""
        i = self._index[node_id]
        return self._lon[i], self._lat[i]

    def node_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only (lon, lat) arrays of all junctions, in node_ids() order."""
        return self._lon_arr, self._lat_arr

    def node_ids(self) -> list[int]:
        """All junction ids."""
        return list(self._node_ids)

    # ---- geometry helpers --------------------------------------------------------------
    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """Local metric (x, y) in metres of a lon/lat point (equirectangular about the map)."""
        return (lon - self._lon0) * self._kx, (lat - self._lat0) * self._ky

    def unproject(self, x: float, y: float) -> tuple[float, float]:
        """(lon, lat) of a local metric point."""
        return x / self._kx + self._lon0, y / self._ky + self._lat0

    def project_geometry(self, geom: BaseGeometry) -> BaseGeometry:
        """A lon/lat shapely geometry in the local metric projection."""
        return shapely.transform(
            geom, lambda c: np.column_stack(((c[:, 0] - self._lon0) * self._kx,
                                             (c[:, 1] - self._lat0) * self._ky)))

    def unproject_geometry(self, geom: BaseGeometry) -> BaseGeometry:
        """A local metric shapely geometry back in lon/lat."""
        return shapely.transform(
            geom, lambda c: np.column_stack((c[:, 0] / self._kx + self._lon0,
                                             c[:, 1] / self._ky + self._lat0)))

    def _coords(self, e: int) -> list[list[float]]:
        g = self._geom[e]
        if g is None:
            u, v = self._eu[e], self._ev[e]
            return [[self._lon[u], self._lat[u]], [self._lon[v], self._lat[v]]]
        return [[g[i], g[i + 1]] for i in range(0, len(g), 2)]

    def _projected_line(self, e: int) -> LineString:
        pts = [self.project(lon, lat) for lon, lat in self._coords(e)]
        if len(pts) < 2:
            pts = pts * 2
        return LineString(pts)

    def _cut(self, e: int, f0: float, f1: float) -> list[list[float]]:
        """Sub-polyline of edge e between two length fractions, as [lon, lat] pairs."""
        coords = self._coords(e)
        if f0 <= 0.0 and f1 >= 1.0:
            return coords
        pts = [self.project(lon, lat) for lon, lat in coords]
        cum = [0.0]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
        total = cum[-1]
        if total == 0.0:
            return [coords[0]]

        def at(f: float) -> list[float]:
            d = f * total
            for i in range(1, len(cum)):
                if cum[i] >= d:
                    seg = cum[i] - cum[i - 1]
                    r = 0.0 if seg == 0 else (d - cum[i - 1]) / seg
                    x = pts[i - 1][0] + r * (pts[i][0] - pts[i - 1][0])
                    y = pts[i - 1][1] + r * (pts[i][1] - pts[i - 1][1])
                    lon, lat = self.unproject(x, y)
                    return [round(lon, 7), round(lat, 7)]
            return coords[-1]

        out = [at(f0)]
        out.extend(coords[i] for i in range(1, len(cum) - 1) if f0 * total < cum[i] < f1 * total)
        out.append(at(f1))
        return out

    # ---- snapping ----------------------------------------------------------------------
    def snap(self, lat: float, lon: float, max_distance_m: float = 1000.0,
             avoid: Iterable[EdgeId] | None = None) -> Snap:
        """Nearest road point (skipping roads closed in avoid); PointOffRoad if too far."""
        if not avoid:
            snaps, dists = self._snap_batch(np.array([lat]), np.array([lon]), max_distance_m)
            if snaps[0] is None:
                raise PointOffRoad(float(dists[0]), max_distance_m)
            return snaps[0]
        pt = Point(self.project(lon, lat))
        if avoid:
            blk = self.blocked_index(avoid)
            hits = self._tree.query(pt, predicate="dwithin", distance=max_distance_m)
            hits = np.array([i for i in hits if self._open(self._tree_edges[int(i)], blk)],
                            dtype=int)
            idx, dist = hits, shapely.distance(pt, self._lines[hits])
            if len(idx) == 0:
                raise PointOffRoad(self._nearest_distance(pt), max_distance_m)
        else:
            idx, dist = self._tree.query_nearest(pt, return_distance=True, all_matches=True)
        if len(idx) == 0:
            raise PointOffRoad(INF, max_distance_m)
        # ties (crossing roads) resolve to the lowest edge index so snapping is deterministic
        j = min(range(len(idx)), key=lambda k: (float(dist[k]), self._tree_edges[int(idx[k])]))
        d = float(dist[j])
        if d > max_distance_m:
            raise PointOffRoad(d, max_distance_m)
        tree_i = int(idx[j])
        e = self._tree_edges[tree_i]
        if avoid and e in blk:
            e = self._twin[e]
            line = self._lines[tree_i]
            frac = 1.0 - (float(line.project(pt, normalized=True)) if line.length > 0 else 0.0)
            p = line.interpolate(1.0 - frac, normalized=True)
            return self._finish_snap(e, frac, p, d)
        line = self._lines[tree_i]
        frac = float(line.project(pt, normalized=True)) if line.length > 0 else 0.0
        return self._finish_snap(e, frac, line.interpolate(frac, normalized=True), d)

    def snap_many(self, lats: Sequence[float], lons: Sequence[float],
                  max_distance_m: float = 1000.0) -> list[Snap | None]:
        """Snap many points at once (vectorised); None where a point is off the roads."""
        snaps, _ = self._snap_batch(np.asarray(lats, dtype=float),
                                    np.asarray(lons, dtype=float), max_distance_m)
        return snaps

    def _snap_batch(self, lats: np.ndarray, lons: np.ndarray,
                    max_distance_m: float) -> tuple[list[Snap | None], np.ndarray]:
        n = len(lats)
        out: list[Snap | None] = [None] * n
        best_d = np.full(n, INF)
        if n == 0:
            return out, best_d
        pts = shapely.points((lons - self._lon0) * self._kx, (lats - self._lat0) * self._ky)
        (inp, tree_i), dist = self._tree.query_nearest(pts, return_distance=True,
                                                       all_matches=True)
        edges = self._tree_edges_arr[tree_i]
        # ties (crossing roads) resolve to the lowest edge index so snapping is deterministic
        order = np.lexsort((edges, dist, inp))
        inp, tree_i, dist, edges = inp[order], tree_i[order], dist[order], edges[order]
        first = np.ones(len(inp), dtype=bool)
        first[1:] = inp[1:] != inp[:-1]
        inp, tree_i, dist, edges = inp[first], tree_i[first], dist[first], edges[first]
        best_d[inp] = dist
        ok = dist <= max_distance_m
        inp, tree_i, dist, edges = inp[ok], tree_i[ok], dist[ok], edges[ok]
        lines = self._lines[tree_i]
        frac = np.nan_to_num(shapely.line_locate_point(lines, pts[inp], normalized=True))
        proj = shapely.line_interpolate_point(lines, frac, normalized=True)
        px, py = shapely.get_x(proj), shapely.get_y(proj)
        for k in range(len(inp)):
            out[int(inp[k])] = self._finish_xy(int(edges[k]), float(frac[k]), float(px[k]),
                                               float(py[k]), float(dist[k]))
        return out, best_d

    def _open(self, e: int, blk: frozenset[int]) -> bool:
        """Whether a physical road is drivable in at least one direction."""
        return e not in blk or (self._twin[e] >= 0 and self._twin[e] not in blk)

    def _nearest_distance(self, pt: Point) -> float:
        _, dist = self._tree.query_nearest(pt, return_distance=True, all_matches=False)
        return float(dist[0]) if len(dist) else INF

    def _finish_snap(self, e: int, frac: float, p: Point, d: float) -> Snap:
        return self._finish_xy(e, frac, p.x, p.y, d)

    def _finish_xy(self, e: int, frac: float, x: float, y: float, d: float) -> Snap:
        if frac * self._len[e] < AT_NODE_M:
            frac = 0.0
        elif (1.0 - frac) * self._len[e] < AT_NODE_M:
            frac = 1.0
        plon, plat = self.unproject(x, y)
        return self._make_snap(e, frac, plat, plon, d)

    def snap_node(self, node_id: int) -> Snap:
        """A Snap standing exactly on a junction (for node-to-node queries)."""
        i = self._index[node_id]
        fwd, rev = self._csr["fwd"], self._csr["rev"]
        if fwd[0][i + 1] > fwd[0][i]:
            e, frac = int(fwd[2][fwd[0][i]]), 0.0
        else:
            e, frac = int(rev[2][rev[0][i]]), 1.0
        return self._make_snap(e, frac, self._lat[i], self._lon[i], 0.0)

    def snap_on_edge(self, edge: EdgeId, fraction: float) -> Snap:
        """A Snap at a fraction of an edge's length (for tests and node-free queries)."""
        e = self._eid[edge]
        line = self._lines[self._tree_index(e)]
        along = fraction if self._twin[e] < 0 or self._twin[e] > e else 1.0 - fraction
        p = line.interpolate(along, normalized=True)
        lon, lat = self.unproject(p.x, p.y)
        return self._make_snap(e, fraction, lat, lon, 0.0)

    def _tree_index(self, e: int) -> int:
        key = e if self._twin[e] < 0 or self._twin[e] > e else self._twin[e]
        return int(np.searchsorted(self._tree_edges_arr, key))

    def banned_turns(self) -> list[tuple[EdgeId, EdgeId]]:
        """Turns that turn restrictions forbid: (edge into a junction, edge out of it)."""
        return [(self.edge_id(a), self.edge_id(b)) for a, b in self._banned_pairs]

    def _make_snap(self, e: int, frac: float, lat: float, lon: float, d: float) -> Snap:
        nid = self._node_ids
        return Snap(nid[self._eu[e]], nid[self._ev[e]], self._key[e], frac, lat, lon, d, e)

    def _edge_options(self, s: Snap) -> list[tuple[int, float]]:
        """The snapped point as (edge, fraction) on its edge and on the two-way twin."""
        out = [(s.edge, s.fraction)]
        tw = self._twin[s.edge]
        if tw >= 0:
            out.append((tw, 1.0 - s.fraction))
        return out

    def _starts(self, s: Snap) -> list[_Link]:
        """Ways to leave an origin point: drive to an edge's head, or stand on a junction."""
        out = []
        for e, f in self._edge_options(s):
            out.append(_Link(int(self._head[e]), (1.0 - f) * self._tt[e], e, f, 1.0))
            if f == 0.0:
                out.append(_Link(self._eu[e], 0.0, e, 0.0, 0.0))
        return out

    def _ends(self, s: Snap) -> list[_Link]:
        """Ways to reach a target point: from an edge's tail, or at a junction it stands on."""
        out = []
        for e, f in self._edge_options(s):
            # a restricted junction's copies may drive on along e too
            out.append(_Link(self._eu[e], f * self._tt[e], e, 0.0, f))
            out.extend(_Link(x, f * self._tt[e], e, 0.0, f) for x in self._tails_extra.get(e, ()))
            if f == 0.0:
                out.extend(_Link(x, 0.0, e, 0.0, 0.0) for x in self._all_copies(self._eu[e]))
            if f == 1.0:
                out.extend(_Link(x, 0.0, e, 1.0, 1.0) for x in self._all_copies(self._ev[e]))
        return out

    # ---- searches ----------------------------------------------------------------------
    def blocked_index(self, blocked: Iterable[EdgeId] | None) -> frozenset[int]:
        """Edge indices of a set of (u, v, key) ids; unknown ids are ignored (cached by set)."""
        if not blocked:
            return frozenset()
        key = blocked if isinstance(blocked, frozenset) else frozenset(blocked)
        hit = self._blocked_cache.get(key)
        if hit is None:
            hit = self._eid.indices(key)
            if len(self._blocked_cache) >= 64:
                self._blocked_cache.pop(next(iter(self._blocked_cache)))
            self._blocked_cache[key] = hit
        return hit

    def travel_times_to(self, target: Snap, cutoff_s: float | None = None,
                        blocked: Iterable[EdgeId] | None = None) -> TravelField:
        """One reverse search: travel times from everywhere (within cutoff_s) to target."""
        blk = self.blocked_index(blocked)
        sources = [s for s in self._ends(target) if s.f0 == s.f1 or s.edge not in blk]
        dist, pred = self._search("rev", sources, blk, INF if cutoff_s is None else cutoff_s)
        return TravelField(self, target, sources, dist, pred, cutoff_s, blk)

    def travel_times_from(self, origin: Snap, cutoff_s: float | None = None,
                          blocked: Iterable[EdgeId] | None = None) -> dict[int, float]:
        """One forward search: {node id: seconds} for junctions reachable within cutoff_s."""
        blk = self.blocked_index(blocked)
        starts = [s for s in self._starts(origin) if s.f0 == s.f1 or s.edge not in blk]
        cutoff = INF if cutoff_s is None else cutoff_s
        dist, _ = self._search("fwd", starts, blk, cutoff)
        n = self.node_count
        # a junction is reached when it or one of its split copies is
        best = dist[:n].copy()
        if len(dist) - 1 > n:
            np.minimum.at(best, np.asarray(self._node_of[n:]), dist[n:-1])
        nid = self._node_ids
        return {nid[int(i)]: float(best[i]) for i in np.flatnonzero(best <= cutoff)}

    # ---- spatial queries ---------------------------------------------------------------
    def edges_near(self, geom: BaseGeometry, within_m: float = 0.0) -> frozenset[EdgeId]:
        """Edge ids (both directions) whose geometry lies within within_m of a lon/lat shape."""
        pg = self.project_geometry(geom)
        if within_m > 0:
            hits = self._tree.query(pg, predicate="dwithin", distance=within_m)
        else:
            hits = self._tree.query(pg, predicate="intersects")
        out: set[EdgeId] = set()
        for i in hits:
            e = self._tree_edges[int(i)]
            out.add(self.edge_id(e))
            if self._twin[e] >= 0:
                out.add(self.edge_id(self._twin[e]))
        return frozenset(out)

    def projected_line(self, edge: EdgeId) -> LineString:
        """The edge's shape in the local metric projection."""
        return self._projected_line(self._eid[edge])

    def roads_geojson(self, simplify_m: float = 3.0, precision: int = 5) -> dict[str, Any]:
        """The network as a GeoJSON FeatureCollection: one MultiLineString per road class."""
        groups: dict[str, list[list[list[float]]]] = {}
        tol = simplify_m / self._ky
        for e in self._tree_edges:
            line = LineString(self._coords(e))
            if simplify_m > 0:
                line = line.simplify(tol, preserve_topology=False)
            coords = [[round(x, precision), round(y, precision)] for x, y in line.coords]
            coords = _dedupe(coords)
            if len(coords) >= 2:
                groups.setdefault(self._hw[e] or "road", []).append(coords)
        return {
            "type": "FeatureCollection",
            "attribution": self.meta.get("attribution", ""),
            "features": [
                {"type": "Feature", "properties": {"highway": hw},
                 "geometry": {"type": "MultiLineString", "coordinates": lines}}
                for hw, lines in sorted(groups.items())
            ],
        }
