"""Each county has its own default plan: only its (or a higher region's) admins change it,
and its plan.* events reach that county's officers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from command.auth import hash_password
from command.db import session_scope
from command.models import Region, RegionLevel, Role, User
from tests.clock import Clock
from tests.conftest import events_of
from tests.security.helpers import add_county_officer, app_for, login, snapshot
from web.extensions import socketio

DEFAULT = (Path(__file__).parents[2] / "plans/data/demo/county_default.yaml").read_text(
    encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Any]:
    with app_for(db_url, CLOCK=clock, LOGIN_RATE_LIMIT="1000/60") as app:
        yield app


def _counties(app: Any) -> tuple[int, int]:
    """(county A of the demo, a new county B with its own admin admin_b and officer duty_b)."""
    other = add_county_officer(app, "duty_b")
    with session_scope(app.extensions["redline"].sessions) as s:
        demo = s.scalar(select(Region.id).where(Region.level == RegionLevel.COUNTY)
                        .order_by(Region.id))
        s.add(User(username="admin_b", password_hash=hash_password("admin_b"), role=Role.ADMIN,
                   region_id=other))
        s.add(User(username="admin_a", password_hash=hash_password("admin_a"), role=Role.ADMIN,
                   region_id=demo))
    return demo, other


def _upload(client: Any, headers: dict[str, str], county: int | None = None) -> Any:
    url = "/api/v1/plans/county-default/versions"
    if county is not None:
        url += f"?county_id={county}"
    return client.post(url, headers={**headers, **YAML}, data=DEFAULT.encode())


def test_a_county_admin_cannot_draft_or_approve_another_countys_default_plan(app: Any) -> None:
    client = app.test_client()
    county_a, county_b = _counties(app)
    admin_a, admin_b = login(client, "admin_a")["headers"], login(client, "admin_b")["headers"]
    before = snapshot(app)
    resp = _upload(client, admin_b, county_a)
    assert resp.status_code == 403 and resp.get_json()["error"]["field"] == "county_id"
    assert snapshot(app) == before
    # county A's own default: county B's admin may neither approve it nor read it
    mine = _upload(client, admin_a).get_json()
    resp = client.post(f"/api/v1/plans/{mine['plan_id']}/versions/{mine['version']}/approve",
                       headers=admin_b)
    assert resp.status_code in (403, 404)
    assert client.get(f"/api/v1/plans/county-default?county_id={county_a}",
                      headers=admin_b).status_code == 404
    # nor may a county admin replace the platform-wide fallback everyone else relies on
    platform = client.get("/api/v1/plans/county-default", headers=admin_b).get_json()
    resp = client.post(f"/api/v1/plans/{platform['plan_id']}/versions/1/approve", headers=admin_b)
    assert resp.status_code in (403, 404)


def test_each_county_keeps_its_own_default_and_its_officers_hear_of_it(app: Any) -> None:
    client = app.test_client()
    county_a, county_b = _counties(app)
    admin_b = login(client, "admin_b")["headers"]
    officer_b = socketio.test_client(app, namespace="/hub",
                                     auth={"token": login(client, "duty_b")["token"]})
    officer_b.get_received("/hub")
    draft = _upload(client, admin_b)
    assert draft.status_code == 201, draft.get_json()
    b_plan = draft.get_json()["plan_id"]
    assert client.post(f"/api/v1/plans/{b_plan}/versions/{draft.get_json()['version']}/approve",
                       headers=admin_b).status_code == 200
    seen = officer_b.get_received("/hub")
    assert events_of(seen, "plan.drafted") and events_of(seen, "plan.approved")
    officer_b.disconnect("/hub")
    # county A still runs on the plan it had
    a_default = client.get(f"/api/v1/plans/county-default?county_id={county_a}",
                           headers=login(client, "admin")["headers"]).get_json()
    assert a_default["plan_id"] != b_plan
