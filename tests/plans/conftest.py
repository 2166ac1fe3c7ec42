"""Plan fixtures: a test enterprise of our own beside the demo ones, and the plan files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from command.db import session_scope
from command.models import Region, RegionLevel
from plans.models import Enterprise

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
CREDIT_CODE = "91990322MA1PLN0T7F"
# on the bundled map, beside a drivable road, away from the demo enterprises
SITE = (-23.5450, -46.6250)


def read(name: str) -> str:
    """A plan file of tests/plans/data as text."""
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def enterprise_id(app: Any) -> int:
    """测试精细化工有限公司 in the demo county, without a plan yet."""
    hub = app.extensions["redline"]
    with session_scope(hub.sessions) as s:
        county = s.scalar(select(Region.id).where(Region.level == RegionLevel.COUNTY)
                          .order_by(Region.id))
        e = Enterprise(name="测试精细化工有限公司", alt_name="Test Fine Chemicals Co., Ltd.",
                       credit_code=CREDIT_CODE, address="滨海化工园区测试路1号", lat=SITE[0],
                       lon=SITE[1], industry="精细化工", park="滨海化工园区",
                       contacts={"on_duty_phone": "0515-8621 9000"}, people_within_500m=40,
                       county_id=county)
        s.add(e)
        s.flush()
        return e.id


@pytest.fixture
def headers(login: Callable[..., dict[str, Any]]) -> Callable[[str], dict[str, str]]:
    """Authorization headers per demo login, logging in once per user."""
    cache: dict[str, dict[str, str]] = {}

    def _headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = login(username)["headers"]
        return cache[username]

    return _headers


YAML = "application/yaml"
JSON = "application/json"


def upload(client: Any, headers: dict[str, str], enterprise_id: int, text: str,
           content_type: str = YAML) -> Any:
    """POST a plan file as the request body."""
    return client.post(f"/api/v1/enterprises/{enterprise_id}/plans", data=text.encode("utf-8"),
                       headers={**headers, "Content-Type": content_type})


def put_in_force(client: Any, headers: dict[str, str], plan_id: int, version: int,
                 principal: str = "测试总经理") -> Any:
    """Record the enterprise's passed review and its principal's issue: the version is in
    force (the county files it afterwards). Returns the issue answer."""
    import datetime as dt

    today = dt.date.today().isoformat()
    base = f"/api/v1/plans/{plan_id}/versions/{version}"
    client.post(base + "/review", headers=headers, json={
        "held_on": today, "panel": ["专家组"], "conclusion": "passed"})
    return client.post(base + "/issue", headers=headers,
                       json={"principal": principal, "issued_on": today})
