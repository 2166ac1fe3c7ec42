"""Standing cover of the approved plans over REST, drive-time isochrones, and the cover page.

Both answers are deterministic for a given set of plans in force, stations, units and road
closures, so each is computed once per process and kept until one of those changes (the key
is re-read from the database on every request; that read is cheap).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from sqlalchemy import select

from command.models import Closure, Incident, Role, Station
from dispatch.closures import edges_for_closure
from dispatch.coverage import ISOCHRONE_MINUTES, station_isochrones
from dispatch.coverage import Station as CoverStation
from plans.coverage import for_counties, plan_coverage, state_key
from web.auth import current_actor, hub, require
from web.errors import ApiError

bp = Blueprint("coverage", __name__, url_prefix="/api/v1")
pages = Blueprint("coverage_pages", __name__)

VIEWERS = (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
MAX_ISOCHRONES = 6
MAX_MINUTES = 60.0


class CoverageCache:
    """Per-process results keyed by the state they were computed from."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.coverage: tuple[Any, dict[str, Any], str] | None = None
        self.isochrones: dict[Any, dict[str, Any]] = {}


def _cache() -> CoverageCache:
    return current_app.extensions["coverage_cache"]  # type: ignore[no-any-return]


def _closures(session: Any) -> tuple[tuple[int, ...], frozenset[Any]]:
    # a drill's road closure binds only its exercise: the county's real cover ignores it
    rows = [c for c, exercise in session.execute(
        select(Closure, Incident.exercise).outerjoin(Incident, Closure.incident_id == Incident.id)
        .where(Closure.removed_at.is_(None)).order_by(Closure.id)).all() if not exercise]
    graph = hub().graph
    edges: set[Any] = set()
    for c in rows:
        edges |= edges_for_closure(graph, c.geometry)
    return tuple(c.id for c in rows), frozenset(edges)


def current_coverage() -> tuple[dict[str, Any], bool, str]:
    """(full report, served from cache, computed at) for the state in the database now."""
    h = hub()
    cache = _cache()
    turnout = dict(h.service.settings.turnout_s)
    with cache.lock, h.service.reading() as s:
        closure_ids = tuple(s.scalars(select(Closure.id).where(Closure.removed_at.is_(None))
                                      .order_by(Closure.id)))
        key = (id(h.graph), state_key(s), closure_ids, tuple(sorted(turnout.items())))
        if cache.coverage is not None and cache.coverage[0] == key:
            return cache.coverage[1], True, cache.coverage[2]
        _ids, blocked = _closures(s)
        result = plan_coverage(s, h.graph, turnout_s=turnout, blocked=blocked)
        at = h.service.clock().isoformat()
        cache.coverage = (key, result, at)
        return result, False, at


@bp.get("/coverage")
@require(*VIEWERS)
def get_coverage() -> Any:
    """Per enterprise and approved scenario: can each required force be on scene in time."""
    result, cached, at = current_coverage()
    counties = hub().service.region_counties(current_actor().region_id)
    return jsonify({**for_counties(result, counties), "cached": cached, "computed_at": at})


def parse_minutes(raw: str | None) -> tuple[float, ...]:
    """'4,8,12' -> (4.0, 8.0, 12.0); ApiError 422 naming `minutes` otherwise."""
    if raw is None or raw.strip() == "":
        return tuple(float(m) for m in ISOCHRONE_MINUTES)
    out: list[float] = []
    for part in raw.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise ApiError(422, "invalid", f"minutes must be numbers separated by commas, "
                                           f"got {part.strip()!r}", "minutes") from None
        if not 0 < value <= MAX_MINUTES:
            raise ApiError(422, "invalid", f"each minute value must be > 0 and <= "
                                           f"{MAX_MINUTES:g}", "minutes")
        out.append(value)
    if len(out) > MAX_ISOCHRONES:
        raise ApiError(422, "invalid", f"at most {MAX_ISOCHRONES} minute values", "minutes")
    return tuple(sorted(set(out)))


@bp.get("/coverage/isochrones")
@require(*VIEWERS)
def get_isochrones() -> Any:
    """Drive-time areas from every in-service station as GeoJSON (minutes=4,8,12)."""
    minutes = parse_minutes(request.args.get("minutes"))
    h = hub()
    cache = _cache()
    with cache.lock, h.service.reading() as s:
        # the stations of the caller's region only: another county's are not theirs to see
        counties = h.service.region_counties(current_actor().region_id)
        rows = [r for r in s.scalars(select(Station).order_by(Station.id))
                if counties is None or r.county_id is None or r.county_id in counties]
        closure_ids, blocked = _closures(s)
        key = (id(h.graph), minutes, closure_ids,
               tuple((r.id, r.lat, r.lon, r.in_service) for r in rows))
        fc = cache.isochrones.get(key)
        if fc is None:
            stations = [CoverStation(r.id, r.name, r.lat, r.lon, r.in_service) for r in rows]
            fc = station_isochrones(h.graph, stations, minutes, blocked)
            alt = {r.id: r.alt_name for r in rows}
            for f in fc["features"]:
                f["properties"]["alt_name"] = alt.get(f["properties"]["station_id"], "")
            if len(cache.isochrones) > 32:
                cache.isochrones.clear()
            cache.isochrones[key] = fc
    return jsonify({**fc, "minutes": list(minutes)})


@pages.get("/coverage")
def coverage_page() -> Any:
    """The cover map: station isochrones, enterprises by colour, station outage effects."""
    return render_template("coverage.html", today=dt.date.today().isoformat())


def init_app(app: Flask, _hub: Any) -> None:
    """Give the app its cache and the page."""
    app.extensions["coverage_cache"] = CoverageCache()
    app.register_blueprint(pages)
