"""The resource survey file: every problem with its line, nothing saved on a problem, the demo
county's survey loaded by the normal import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from command.db import session_scope
from plans.resource_models import Expert, RescueTeam, SupplyDepot, SupplyItem
from plans.resources import check_resources_text
from plans.service import import_directory
from plans.validation import PlanValidationError

GOOD = """\
county: 滨海县
depots:
  - code: T-1
    name: 测试物资库
    owner: county
    lat: -23.545
    lon: -46.640
    contact: {name: 张三, phone: 138 0000 9001}
    supplies:
      - {category: personal_protection, name: 空气呼吸器, quantity: 4, unit: 套}
experts:
  - {code: X-1, name: 李四, specialties: [氯气], phone: 138 0000 9002}
"""


def count(app: Any, model: Any) -> int:
    with app.extensions["redline"].sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_survey_is_loaded_with_the_demo(app: Any) -> None:
    assert count(app, SupplyDepot) == 3 and count(app, RescueTeam) == 3
    assert count(app, Expert) == 3 and count(app, SupplyItem) >= 10
    with app.extensions["redline"].sessions() as s:
        depot = s.scalars(select(SupplyDepot).where(SupplyDepot.owner == "enterprise")).first()
        assert depot is not None and depot.enterprise_id is not None
        assert depot.county_id is not None


def test_every_problem_is_named_with_its_line() -> None:
    bad = GOOD.replace("category: personal_protection", "category: snacks").replace(
        "quantity: 4", "quantity: -4").replace("code: X-1", "code: T-1")
    with pytest.raises(PlanValidationError) as e:
        check_resources_text(bad, "yaml", map_bbox=None)
    found = {(p.path, p.line) for p in e.value.problems}
    assert ("depots[0].supplies[0].category", 10) in found
    assert ("depots[0].supplies[0].quantity", 10) in found
    assert ("experts[0].code", 12) in found


def test_an_enterprise_depot_names_its_enterprise() -> None:
    bad = GOOD.replace("owner: county", "owner: enterprise")
    with pytest.raises(PlanValidationError) as e:
        check_resources_text(bad, "yaml", map_bbox=None)
    assert [p.path for p in e.value.problems] == ["depots[0].enterprise"]


def test_a_bad_survey_saves_nothing_and_a_good_one_replaces_the_inventory(
        app: Any, tmp_path: Path) -> None:
    hub = app.extensions["redline"]
    before = count(app, SupplyDepot)
    (tmp_path / "resources.yaml").write_text(
        GOOD.replace("county: 滨海县", "county: 无此县"), encoding="utf-8")
    with session_scope(hub.sessions) as s:
        report = import_directory(s, tmp_path, map_bbox=hub.graph.bbox)
    assert not report.ok and "county" in report.lines()[0]
    assert count(app, SupplyDepot) == before
    (tmp_path / "resources.yaml").write_text(GOOD, encoding="utf-8")
    with session_scope(hub.sessions) as s:
        report = import_directory(s, tmp_path, map_bbox=hub.graph.bbox)
    assert report.ok and report.resources is not None and report.resources.depots == 1
    # the same code again with a new count: the survey is the inventory of record
    (tmp_path / "resources.yaml").write_text(GOOD.replace("quantity: 4", "quantity: 9"),
                                             encoding="utf-8")
    with session_scope(hub.sessions) as s:
        import_directory(s, tmp_path, map_bbox=hub.graph.bbox)
    with hub.sessions() as s:
        depot = s.scalars(select(SupplyDepot).where(SupplyDepot.code == "T-1")).one()
        assert [(i.name, i.quantity) for i in depot.items] == [("空气呼吸器", 9.0)]
    assert count(app, SupplyDepot) == before + 1
