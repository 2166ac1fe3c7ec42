"""One platform, several counties: nobody reaches into another county's roads, units or
stations, and odd values get a 4xx naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from command.auth import hash_password
from command.db import session_scope
from command.models import Role, User
from tests.clock import Clock
from tests.security.helpers import add_county_officer, app_for, login, report_fire, snapshot


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    with app_for(db_url, CLOCK=clock, LOGIN_RATE_LIMIT="1000/60") as app:
        yield app


def _county_b(app: Any) -> int:
    other = add_county_officer(app, "duty_b")
    with session_scope(app.extensions["redline"].sessions) as s:
        s.add(User(username="admin_b", password_hash=hash_password("admin_b"), role=Role.ADMIN,
                   region_id=other))
    return other


def test_an_admin_of_one_county_cannot_make_a_tablet_for_anothers_unit(app: Any) -> None:
    client = app.test_client()
    other = _county_b(app)
    admin_b = login(client, "admin_b")["headers"]
    e11 = next(u for u in client.get("/api/v1/units", headers=login(client, "duty")["headers"])
               .get_json() if u["callsign"] == "E11")
    before = snapshot(app)
    resp = client.post("/api/v1/users", headers=admin_b, json={
        "username": "spy", "password": "tall-grass-1827", "role": "unit", "unit_id": e11["id"]})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["field"] == "unit_id"
    assert snapshot(app) == before
    # the platform admin may, but the account's region must cover the unit's county
    admin = login(client, "admin")["headers"]
    wrong = client.post("/api/v1/users", headers=admin, json={
        "username": "tablet2", "password": "amber-violin-5530", "role": "unit",
        "unit_id": e11["id"], "region_id": other})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "region_id"


def test_an_officer_cannot_close_another_countys_roads(app: Any) -> None:
    client = app.test_client()
    _county_b(app)
    duty = login(client, "duty")["headers"]
    incident = report_fire(client, duty)
    route = next(a["route"] for a in incident["assignments"] if a.get("route"))
    mid = len(route["coordinates"]) // 2
    segment = {"type": "LineString", "coordinates": route["coordinates"][mid:mid + 2]}
    before = snapshot(app)
    resp = client.post("/api/v1/closures", headers=login(client, "duty_b")["headers"],
                       json={"geometry": segment, "reason": "not mine"})
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"]["field"] == "geometry"
    assert snapshot(app) == before
    # the county the roads belong to may
    mine = client.post("/api/v1/closures", headers=duty, json={"geometry": segment})
    assert mine.status_code == 201, mine.get_json()


def test_another_countys_stations_are_not_drawn(app: Any) -> None:
    client = app.test_client()
    _county_b(app)
    iso = client.get("/api/v1/coverage/isochrones",
                     headers=login(client, "duty_b")["headers"]).get_json()
    assert iso["features"] == []
    own = client.get("/api/v1/coverage/isochrones",
                     headers=login(client, "duty")["headers"]).get_json()
    assert own["features"]


@pytest.mark.parametrize(("path", "payload", "field"), [
    ("/api/v1/drills", {"unit_ids": [2**63]}, "unit_ids.0"),
    ("/api/v1/drills", {"station_ids": [2**64]}, "station_ids.0"),
    ("/api/v1/drills", {"window": {"start": "9999-12-31T22:59:59-14:00",
                                   "end": "9999-12-31T23:59:59-14:00"}}, "window"),
])
def test_out_of_range_drill_values_are_refused(app: Any, clock: Clock, path: str,
                                               payload: dict[str, Any], field: str) -> None:
    client = app.test_client()
    trainer = login(client, "trainer")["headers"]
    start = clock.now.isoformat()
    end = (clock.now.replace(year=clock.now.year + 1)).isoformat()
    body = {"window": {"start": start, "end": end}, **payload}
    before = snapshot(app)
    resp = client.post(path, headers=trainer, json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["field"].startswith(field.split(".")[0])
    assert snapshot(app) == before


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_statistics_since_off_the_calendar_is_refused(app: Any, since: str) -> None:
    client = app.test_client()
    resp = client.get("/api/v1/statistics", query_string={"since": since},
                      headers=login(client, "duty")["headers"])
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "since"


def test_an_id_past_any_row_names_its_field(app: Any) -> None:
    client = app.test_client()
    resp = client.get("/api/v1/incidents/99999999999999999999",
                      headers=login(client, "duty")["headers"])
    assert resp.status_code == 404 and resp.get_json()["error"]["field"] == "incident_id"


def test_many_addresses_do_not_add_up_to_many_guesses(db_url: str, clock: Clock) -> None:
    with app_for(db_url, CLOCK=clock, LOGIN_RATE_LIMIT="1/60") as app:
        client = app.test_client()
        codes = []
        for i in range(7):  # one try from each address: the account allows 5 a minute
            codes.append(client.post("/api/v1/auth/login",
                                     json={"username": "admin", "password": "wrong"},
                                     environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code)
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_a_place_away_from_enterprises_belongs_to_its_nearest_stations_county(
        app: Any) -> None:
    """A location-only report more than 500 m from any enterprise was filed under the first
    county: county B's officer was refused at its own station."""
    from sqlalchemy import select

    from command.models import Station, Unit
    from dispatch.graph import haversine_m
    from plans.models import Enterprise

    client = app.test_client()
    other = _county_b(app)
    hub = app.extensions["redline"]
    with session_scope(hub.sessions) as s:
        enterprises = list(s.scalars(select(Enterprise)))
        station = max(s.scalars(select(Station)), key=lambda st: min(
            haversine_m(st.lat, st.lon, e.lat, e.lon) for e in enterprises))
        assert min(haversine_m(station.lat, station.lon, e.lat, e.lon)
                   for e in enterprises) > 600
        station.county_id = other
        for u in s.scalars(select(Unit).where(Unit.station_id == station.id)):
            u.county_id = other
        where = {"lat": station.lat, "lon": station.lon}
    duty_b = login(client, "duty_b")["headers"]
    r = client.post("/api/v1/incidents", headers=duty_b,
                    json={"kind": "fire", "location": where, "confirm_new": True})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["county_id"] == other
