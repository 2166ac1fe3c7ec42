"""The plan lifecycle of the Measures: review, sign and issue, county filing within 20
working days with a filing record, revision triggers, and GB/T 29639 parts checked at filing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from command.db import session_scope
from plans.filing import add_working_days, is_working_day
from plans.models import PlanVersion
from plans.service import import_directory
from tests.plans.conftest import read
from tests.plans.test_api import _events, upload

STRUCTURE = (Path(__file__).resolve().parents[2] / "plans" / "data" / "demo"
             / "chlor-alkali.yaml").read_text(encoding="utf-8")
PARTS = STRUCTURE[STRUCTURE.index("\ncomprehensive:"):]


def structured(text: str) -> str:
    """The test plan with the chlor-alkali plan's GB/T 29639 parts, its special plans
    pointing at the test plan's own scenario."""
    parts = PARTS.replace("scenarios: [chlorine-leak, hydrogen-leak, hcl-leak]",
                          "scenarios: [chlorine-leak]").replace(
        "scenarios: [hydrogen-fire-explosion, chlorine-tank-fire-exposure]", "scenarios: []")
    return text.rstrip("\n") + "\n" + parts


def lifecycle(client: Any, h: dict[str, str], plan_id: int, v: int) -> str:
    return f"/api/v1/plans/{plan_id}/versions/{v}"


def test_working_days_skip_weekends_and_the_national_holiday() -> None:
    assert not is_working_day(dt.date(2026, 10, 1))  # National Day
    assert not is_working_day(dt.date(2026, 12, 5))  # a Saturday
    assert add_working_days(dt.date(2026, 12, 4), 1) == dt.date(2026, 12, 7)
    assert add_working_days(dt.date(2026, 12, 1), 20) == dt.date(2026, 12, 29)


def test_review_issue_file_in_order_with_a_record(app: Any, client: Any, enterprise_id: int,
                                                  headers: Any) -> None:
    duty = headers("duty")
    draft = upload(client, duty, enterprise_id, structured(read("valid.yaml"))).get_json()
    base = lifecycle(client, duty, draft["plan_id"], 1)
    today = dt.date.today()
    # issued before any review: refused
    r = client.post(base + "/issue", headers=duty,
                    json={"principal": "测试总经理", "issued_on": today.isoformat()})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "version"
    r = client.post(base + "/review", headers=duty, json={
        "held_on": (today - dt.timedelta(days=3)).isoformat(), "panel": [],
        "conclusion": "passed"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "panel"
    r = client.post(base + "/review", headers=duty, json={
        "held_on": (today - dt.timedelta(days=3)).isoformat(),
        "panel": ["园区安全专家 甲", "外部专家 乙"], "conclusion": "passed"})
    assert r.status_code == 200 and r.get_json()["review"]["conclusion"] == "passed"
    # the trainer plays drills; plan records are the county's
    assert client.post(base + "/file", headers=headers("trainer")).status_code == 403
    r = client.post(base + "/issue", headers=duty,
                    json={"principal": "测试总经理", "issued_on": today.isoformat()})
    issued = r.get_json()
    assert r.status_code == 200 and issued["status"] == "approved"
    assert issued["approved_by"] == "测试总经理"
    assert issued["filing_due"] == add_working_days(today, 20).isoformat()
    r = client.post(base + "/file", headers=duty, json={})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert record["filing_no"].endswith("号") and "应急预案备〔" in record["filing_no"]
    assert record["filed_late"] is False and record["issued_by"] == "测试总经理"
    assert record["parts"]["onsite_plans"] == 3
    assert client.post(base + "/file", headers=duty, json={}).status_code == 409
    again = client.get(base + "/filing-record", headers=duty).get_json()
    assert again["filing_no"] == record["filing_no"]
    logged = [len(_events(app, t)) for t in ("plan.reviewed", "plan.issued", "plan.filed")]
    assert logged == [1, 1, 1]
    assert _events(app, "plan.filed")[0]["county_id"] is not None


def test_a_plan_missing_a_required_part_is_refused_at_filing_with_its_line(
        client: Any, enterprise_id: int, headers: Any) -> None:
    duty = headers("duty")
    text = structured(read("valid.yaml"))
    # no annexes, and a special plan naming a scenario the plan does not have
    text = text[:text.index("annexes:")].replace("scenarios: [chlorine-leak]",
                                                 "scenarios: [chlorine-leak, nosuch]")
    draft = upload(client, duty, enterprise_id, text).get_json()
    base = lifecycle(client, duty, draft["plan_id"], 1)
    today = dt.date.today().isoformat()
    client.post(base + "/review", headers=duty,
                json={"held_on": today, "panel": ["专家"], "conclusion": "passed"})
    client.post(base + "/issue", headers=duty, json={"principal": "总经理", "issued_on": today})
    r = client.post(base + "/file", headers=duty, json={})
    assert r.status_code == 422
    problems = {p["path"]: p["line"] for p in r.get_json()["problems"]}
    # a missing part has no line: the document's first key (after the comment) stands for it
    assert "annexes" in problems and problems["annexes"] == 2
    nosuch = next(k for k in problems if k.endswith("scenarios[1]"))
    line = text.splitlines()[problems[nosuch] - 1]
    assert "nosuch" in line
    # a plan of scenarios only (the old shape) still dispatches but cannot be filed
    only = upload(client, duty, enterprise_id, read("valid.yaml").replace(
        "version: 1", "version: 2")).get_json()
    assert only["status"] == "draft"


def test_filing_overdue_and_revision_triggers_are_listed(app: Any, client: Any,
                                                          enterprise_id: int, headers: Any,
                                                          tmp_path: Path) -> None:
    duty = headers("duty")
    draft = upload(client, duty, enterprise_id, structured(read("valid.yaml"))).get_json()
    base = lifecycle(client, duty, draft["plan_id"], 1)
    long_ago = dt.date.today() - dt.timedelta(days=45)
    client.post(base + "/review", headers=duty, json={
        "held_on": long_ago.isoformat(), "panel": ["专家"], "conclusion": "passed"})
    client.post(base + "/issue", headers=duty,
                json={"principal": "总经理", "issued_on": long_ago.isoformat()})
    status = client.get("/api/v1/plans/filing-status", headers=duty).get_json()
    row = next(r for r in status["awaiting_filing"] if r["enterprise_id"] == enterprise_id)
    assert row["overdue"] and row["working_days_left"] < 0
    # the registry changes the enterprise's installations: its plan is flagged
    hub = app.extensions["redline"]
    (tmp_path / "enterprises.yaml").write_text(_registry_with_installation(), encoding="utf-8")
    with session_scope(hub.sessions) as s:
        report = import_directory(s, tmp_path, map_bbox=hub.graph.bbox)
        assert report.ok, report.lines()
    (tmp_path / "enterprises.yaml").write_text(
        _registry_with_installation(quantity=30), encoding="utf-8")
    with session_scope(hub.sessions) as s:
        import_directory(s, tmp_path, map_bbox=hub.graph.bbox)
    flags = client.get("/api/v1/plans/filing-status", headers=duty).get_json()[
        "flagged_for_revision"]
    mine = [f for f in flags if f["enterprise_id"] == enterprise_id]
    assert [f["trigger"] for f in mine] == ["hazards"] and "T-01" in mine[0]["reason"]
    r = client.post(f"/api/v1/plans/{draft['plan_id']}/revision-flags", headers=duty,
                    json={"trigger": "organisation", "reason": "总经理更换"})
    assert r.status_code == 201
    bad = client.post(f"/api/v1/plans/{draft['plan_id']}/revision-flags", headers=duty,
                      json={"trigger": "mood", "reason": "x"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "trigger"
    # filing (late) clears the flags raised before it
    r = client.post(base + "/file", headers=duty, json={})
    assert r.status_code == 201 and r.get_json()["filed_late"] is True
    after = client.get("/api/v1/plans/filing-status", headers=duty).get_json()
    assert not [f for f in after["flagged_for_revision"] if f["enterprise_id"] == enterprise_id]
    assert not [r for r in after["awaiting_filing"] if r["enterprise_id"] == enterprise_id]


def test_the_demo_plans_are_filed(app: Any) -> None:
    with app.extensions["redline"].sessions() as s:
        rows = s.scalars(select(PlanVersion).where(PlanVersion.filed_on.is_not(None))).all()
        assert len(rows) == 6 and all(r.filing_no and r.review for r in rows)


def _registry_with_installation(quantity: float = 10) -> str:
    return f"""\
- name: 测试精细化工有限公司
  credit_code: 91990322MA1PLN0T7F
  lat: -23.5450
  lon: -46.6250
  contacts:
    on_duty_phone: 0515-8621 9000
    safety_manager: {{name: 测试, phone: 138 0000 0000}}
    legal_representative: {{name: 测试, phone: 138 0000 0001}}
  people_within_500m: 40
  installations:
    - code: T-01
      name: 液氯钢瓶库
      lat: -23.5451
      lon: -46.6251
      chemicals:
        - {{name: 液氯, un: UN1017, cas: 7782-50-5, quantity_t: {quantity}}}
"""


def test_the_pocket_card_carries_its_posts_onsite_disposal_plan(client: Any,
                                                                headers: Any) -> None:
    cards = client.get("/api/v1/enterprises/1/plan/cards", headers=headers("duty")).get_json()
    tank = next(c for c in cards["cards"] if c["post"] == "液氯罐区操作工")
    assert tank["onsite_plan"]["post"] == "液氯罐区操作工"
    assert tank["onsite_plan"]["disposal"] and tank["onsite_plan"]["cautions"]
