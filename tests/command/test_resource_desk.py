"""Resources during an incident: nearest first, county scope, a request becomes a logged task."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from command.errors import Conflict, InvalidInput, NotFound
from command.events import incident_events
from command.models import IncidentKind, Region, RegionLevel, Task
from command.resource_desk import ResourceDesk, ResourceRequest
from command.service import IncidentReport
from plans.resource_models import SupplyDepot
from tests.command.test_drills import actor


def desk(app: Any) -> ResourceDesk:
    return app.extensions["resources"]  # type: ignore[no-any-return]


def chlorine_leak(app: Any) -> int:
    inc = app.extensions["redline"].service.report_incident(actor(app, "duty"), IncidentReport(
        kind=IncidentKind.LEAK, enterprise_id=1, chemical="UN1017", severity=1))
    return int(inc.id)


def test_search_finds_by_specialty_and_sorts_by_distance(app: Any) -> None:
    duty = actor(app, "duty")
    found = desk(app).search(duty, q="氯")
    names = {r["name"] for r in found}
    assert "郑文博" in names and "滨海氯碱企业专职救援队" in names
    near = desk(app).search(duty, type_="supply", category="personal_protection",
                            near=(-23.5482, -46.6617))
    distances = [r["distance_m"] for r in near]
    assert distances == sorted(distances) and near[0]["depot"].startswith("滨海氯碱")
    with pytest.raises(InvalidInput) as e:
        desk(app).search(duty, category="snacks")
    assert e.value.field == "category"


def test_the_incident_lists_the_nearest_resources(app: Any) -> None:
    incident_id = chlorine_leak(app)
    near = desk(app).for_incident(actor(app, "duty"), incident_id)
    assert near["teams"][0]["name"] == "滨海氯碱企业专职救援队"
    teams = [t["distance_m"] for t in near["teams"]]
    assert teams == sorted(teams)
    # every category held somewhere is offered, at most its two nearest stocks
    cats = [s["category"] for s in near["supplies"]]
    assert "leak_sealing" in cats and max(cats.count(c) for c in cats) <= 2
    experts = [x for x in near["experts"] if x["distance_m"] is not None]
    assert experts and near["experts"][-1]["distance_m"] is None  # no office: listed last


def test_a_request_becomes_a_logged_task_and_never_more_than_the_stock(app: Any) -> None:
    incident_id = chlorine_leak(app)
    duty = actor(app, "duty")
    sealing = desk(app).search(duty, q="液氯钢瓶堵漏器")[0]
    with pytest.raises(Conflict) as e:
        desk(app).request(duty, incident_id, ResourceRequest("supply", sealing["id"], 4))
    assert e.value.field == "quantity"
    with pytest.raises(InvalidInput):
        desk(app).request(duty, incident_id, ResourceRequest("supply", sealing["id"]))
    answer = desk(app).request(duty, incident_id, ResourceRequest(
        "supply", sealing["id"], 2, "到东门交给危化救援大队"))
    assert "×2 套" in answer["task"]["title"] and answer["task"]["unit_id"] is None
    assert "刘志强" in answer["task"]["details"] and answer["distance_m"] < 200
    expert = desk(app).search(duty, type_="expert", q="中毒")[0]
    desk(app).request(duty, incident_id, ResourceRequest("expert", expert["id"]))
    with app.extensions["redline"].sessions() as s:
        tasks = s.scalars(select(Task).where(Task.incident_id == incident_id,
                                             Task.unit_id.is_(None))).all()
        assert {t.title for t in tasks} >= {answer["task"]["title"], "钱雅琴"}
        logged = [e for e in incident_events(s, incident_id) if e.type == "resource.requested"]
    assert [e.data["resource"]["type"] for e in logged] == ["supply", "expert"]
    assert logged[0].data["quantity"] == 2 and logged[0].data["contact"]["phone"]


def test_another_countys_resources_are_out_of_reach(app: Any) -> None:
    incident_id = chlorine_leak(app)
    hub = app.extensions["redline"]
    with hub.sessions() as s, s.begin():
        province = Region(name="西山省", level=RegionLevel.PROVINCE)
        s.add(province)
        s.flush()
        county = Region(name="西山县", level=RegionLevel.COUNTY, parent_id=province.id)
        s.add(county)
        s.flush()
        depot = s.scalars(select(SupplyDepot).where(SupplyDepot.owner == "county")).one()
        depot.county_id = county.id
        item_id = depot.items[0].id
    hub.service._region_parents = None
    duty = actor(app, "duty")
    assert item_id not in {r["id"] for r in desk(app).search(duty, type_="supply")}
    with pytest.raises(NotFound):
        desk(app).request(duty, incident_id, ResourceRequest("supply", item_id, 1))
