"""Plans over REST: upload, approve, export round-trip, versioning, roles, regions, cards."""

from __future__ import annotations

import json
from typing import Any

import yaml
from sqlalchemy import select

from command.models import Event
from plans.models import Plan
from tests.plans.conftest import JSON, YAML, put_in_force, read, upload
from tests.security.helpers import add_county_officer


def _approve(client: Any, headers: dict[str, str], plan_id: int, version: int) -> Any:
    return client.post(f"/api/v1/plans/{plan_id}/versions/{version}/approve", headers=headers)


def _events(app: Any, type_: str) -> list[dict[str, Any]]:
    with app.extensions["redline"].service.reading() as s:
        return [{"data": e.data, "actor": e.actor, "county_id": e.county_id}
                for e in s.scalars(select(Event).where(Event.type == type_)
                                   .order_by(Event.seq))]


def test_schema_is_public(client: Any) -> None:
    resp = client.get("/api/v1/plans/schema")
    assert resp.status_code == 200
    schema = resp.get_json()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"version", "title", "scenarios"} <= set(schema["required"])
    force = schema["$defs"]["RequiredForce"]["properties"]
    assert "hazmat" in force["capability"]["enum"]


def test_draft_approve_current(app: Any, client: Any, enterprise_id: int, headers: Any) -> None:
    resp = upload(client, headers("duty"), enterprise_id, read("valid.yaml"))
    assert resp.status_code == 201, resp.get_json()
    draft = resp.get_json()
    assert draft["status"] == "draft" and draft["version"] == 1 and draft["created_by"] == "duty"
    assert draft["document"]["scenarios"][0]["id"] == "chlorine-leak"
    plan_id = draft["plan_id"]

    # a draft is not in force
    plan = client.get(f"/api/v1/enterprises/{enterprise_id}/plan",
                      headers=headers("duty")).get_json()
    assert plan["current"] is None and [v["status"] for v in plan["versions"]] == ["draft"]

    # the bureau no longer approves an enterprise's plan: the enterprise reviews it and its
    # principal issues it (the county's staff record both); trainers do neither
    refused = _approve(client, headers("admin"), plan_id, 1)
    assert refused.status_code == 409 and refused.get_json()["error"]["field"] == "version"
    assert client.post(f"/api/v1/plans/{plan_id}/versions/1/review", headers=headers("trainer"),
                       json={"held_on": "2026-01-05", "panel": ["x"],
                             "conclusion": "passed"}).status_code == 403
    resp = put_in_force(client, headers("duty"), plan_id, 1)
    assert resp.status_code == 200, resp.get_json()
    approved = resp.get_json()
    assert approved["status"] == "approved" and approved["approved_by"] == "测试总经理"
    assert approved["next_review"] is not None and approved["review_overdue"] is False
    again = put_in_force(client, headers("duty"), plan_id, 1)
    assert again.status_code == 409 and again.get_json()["error"]["field"] == "version"

    plan = client.get(f"/api/v1/enterprises/{enterprise_id}/plan",
                      headers=headers("trainer")).get_json()
    assert plan["current_version"] == 1 and plan["plan_id"] == plan_id
    assert plan["current"]["document"]["title"].startswith("测试精细化工")
    assert plan["enterprise"]["id"] == enterprise_id

    # both changes are in the event log, with who did them
    drafted, approved_ev = _events(app, "plan.drafted"), _events(app, "plan.issued")
    assert [(e["data"]["plan_id"], e["data"]["version"], e["actor"]) for e in drafted] == [
        (plan_id, 1, "duty")]
    assert [(e["data"]["version"], e["data"]["superseded"], e["actor"])
            for e in approved_ev] == [(1, None, "duty")]
    assert approved_ev[0]["county_id"] is not None


def test_versions_and_supersede(client: Any, enterprise_id: int, headers: Any) -> None:
    plan_id = upload(client, headers("duty"), enterprise_id, read("valid.yaml")).get_json()[
        "plan_id"]
    put_in_force(client, headers("duty"), plan_id, 1)
    v2 = upload(client, headers("admin"), enterprise_id, read("valid.json"), JSON)
    assert v2.status_code == 201 and v2.get_json()["source_format"] == "json"
    assert put_in_force(client, headers("duty"), plan_id, 2).status_code == 200
    versions = client.get(f"/api/v1/plans/{plan_id}/versions", headers=headers("duty")).get_json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"),
                                                               (2, "approved")]
    # a superseded version cannot come back
    back = put_in_force(client, headers("duty"), plan_id, 1)
    assert back.status_code == 409
    one = client.get(f"/api/v1/plans/{plan_id}/versions/1", headers=headers("duty")).get_json()
    assert one["document"]["version"] == 1 and one["status"] == "superseded"
    missing = client.get(f"/api/v1/plans/{plan_id}/versions/7", headers=headers("duty"))
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "version"


def test_export_round_trips_exactly(client: Any, enterprise_id: int, headers: Any) -> None:
    yaml_text, json_text = read("valid.yaml"), read("valid.json")
    plan_id = upload(client, headers("duty"), enterprise_id, yaml_text).get_json()["plan_id"]
    assert upload(client, headers("duty"), enterprise_id, json_text, JSON).status_code == 201
    base = f"/api/v1/plans/{plan_id}/versions"
    h = headers("duty")

    resp = client.get(f"{base}/1/export?format=yaml", headers=h)
    assert resp.status_code == 200 and resp.mimetype == "application/yaml"
    assert resp.data == yaml_text.encode("utf-8")  # comments, order and flow style kept
    resp = client.get(f"{base}/2/export?format=json", headers=h)
    assert resp.mimetype == "application/json" and resp.data == json_text.encode("utf-8")
    # without format: the authored one
    assert client.get(f"{base}/2/export", headers=h).data == json_text.encode("utf-8")
    # the other format carries the same data
    as_json = json.loads(client.get(f"{base}/1/export?format=json", headers=h).data)
    assert as_json == yaml.safe_load(yaml_text)
    as_yaml = yaml.safe_load(client.get(f"{base}/2/export?format=yaml", headers=h).data)
    assert as_yaml == json.loads(json_text)
    bad = client.get(f"{base}/1/export?format=xml", headers=h)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "format"


def test_upload_content_types(app: Any, client: Any, enterprise_id: int, headers: Any) -> None:
    h = headers("duty")
    text = read("valid.yaml")
    resp = upload(client, h, enterprise_id, text, "text/plain")
    assert resp.status_code == 415 and resp.get_json()["error"]["field"] == "Content-Type"
    bad = client.post(f"/api/v1/enterprises/{enterprise_id}/plans", data=b"\xff\xfe\x00",
                      headers={**h, "Content-Type": YAML})
    assert bad.status_code == 400
    empty = upload(client, h, enterprise_id, "")
    assert empty.status_code == 422
    assert empty.get_json()["problems"][0]["message"] == "document is empty"
    assert upload(client, h, enterprise_id, text, "text/yaml; charset=utf-8").status_code == 201
    with app.extensions["redline"].service.reading() as s:
        assert s.scalar(select(Plan).where(Plan.enterprise_id == enterprise_id)) is not None


def test_roles(client: Any, enterprise_id: int, headers: Any) -> None:
    text = read("valid.yaml")
    assert upload(client, {}, enterprise_id, text).status_code == 401
    assert upload(client, headers("trainer"), enterprise_id, text).status_code == 403
    assert upload(client, headers("E11"), enterprise_id, text).status_code == 403
    assert client.get(f"/api/v1/enterprises/{enterprise_id}/plan",
                      headers=headers("E11")).status_code == 403
    assert client.get("/api/v1/plans", headers=headers("E11")).status_code == 403
    assert client.get("/api/v1/plans/overdue").status_code == 401
    assert upload(client, headers("admin"), 999_999, text).status_code == 404


def test_region_scoping(app: Any, client: Any, enterprise_id: int, headers: Any,
                        login: Any) -> None:
    plan_id = upload(client, headers("duty"), enterprise_id, read("valid.yaml")).get_json()[
        "plan_id"]
    add_county_officer(app)
    other = login("duty_other")["headers"]
    listed = client.get("/api/v1/plans", headers=other).get_json()
    assert all(p["enterprise"] is None for p in listed), "only the county default is visible"
    assert client.get(f"/api/v1/enterprises/{enterprise_id}/plan",
                      headers=other).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}/versions", headers=other).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}/versions/1/export",
                      headers=other).status_code == 404
    assert upload(client, other, enterprise_id, read("valid.json"), JSON).status_code == 404
    mine = client.get("/api/v1/plans", headers=headers("duty")).get_json()
    assert enterprise_id in [p["enterprise"]["id"] for p in mine if p["enterprise"]]


def test_overdue_reviews(client: Any, enterprise_id: int, headers: Any) -> None:
    # the authored next review date is already past: flagged as soon as it is approved
    text = read("valid.yaml").replace("title_en:", "next_review: 2020-01-01\ntitle_en:")
    plan_id = upload(client, headers("duty"), enterprise_id, text).get_json()["plan_id"]
    before = client.get("/api/v1/plans/overdue", headers=headers("duty")).get_json()
    assert all(o["plan_id"] != plan_id for o in before), "a draft is not in force"
    put_in_force(client, headers("duty"), plan_id, 1)
    overdue = client.get("/api/v1/plans/overdue", headers=headers("duty")).get_json()
    mine = [o for o in overdue if o["plan_id"] == plan_id]
    assert len(mine) == 1 and mine[0]["next_review"] == "2020-01-01"
    assert mine[0]["days_overdue"] > 0 and mine[0]["review_overdue"] is True
    listed = {p["plan_id"]: p for p in client.get("/api/v1/plans",
                                                  headers=headers("duty")).get_json()}
    assert listed[plan_id]["current"]["review_overdue"] is True


def test_pocket_cards(client: Any, enterprise_id: int, headers: Any) -> None:
    plan_id = upload(client, headers("duty"), enterprise_id, read("valid.yaml")).get_json()[
        "plan_id"]
    no_plan = client.get(f"/api/v1/enterprises/{enterprise_id}/plan/cards",
                         headers=headers("duty"))
    assert no_plan.status_code == 404  # only the approved version is printed
    put_in_force(client, headers("duty"), plan_id, 1)
    cards = client.get(f"/api/v1/enterprises/{enterprise_id}/plan/cards",
                       headers=headers("duty")).get_json()
    assert cards["version"] == 1 and len(cards["cards"]) == 1
    card = cards["cards"][0]
    assert card["post"] == "液氯库房操作工"
    assert card["url"].endswith(f"/plans/{enterprise_id}/cards/0")
    assert card["qr_svg"].lstrip().startswith(("<?xml", "<svg"))
    assert card["assembly_location"] == {"lat": -23.544, "lon": -46.624}
    page = client.get(f"/plans/{enterprise_id}/cards/0")
    assert page.status_code == 200 and b"pocket" in page.data


def test_county_default_plan(app: Any, client: Any, headers: Any) -> None:
    existing = client.get("/api/v1/plans/county-default", headers=headers("duty"))
    versions = existing.get_json()["versions"] if existing.status_code == 200 else []
    number = max((v["version"] for v in versions), default=0) + 1
    text = (f"version: {number}\ntitle: 滨海县默认应急预案（测试）\nscenarios:\n"
            "  - id: any-other\n    name: 其他事故\n    trigger: {kinds: [other]}\n"
            "    response_level: IV\n    required_forces:\n"
            "      - {capability: command, count: 1, deadline_s: 1800}\n")
    url = "/api/v1/plans/county-default/versions"
    h = {"Content-Type": YAML}
    assert client.post(url, data=text, headers={**headers("duty"), **h}).status_code == 403
    resp = client.post(url, data=text, headers={**headers("admin"), **h})
    assert resp.status_code == 201, resp.get_json()
    named = text.replace("title:", "enterprise: 91990322MA1PLN0T7F\ntitle:").replace(
        f"version: {number}", f"version: {number + 1}")
    refused = client.post(url, data=named, headers={**headers("admin"), **h})
    assert refused.status_code == 422
    assert refused.get_json()["problems"][0]["path"] == "enterprise"
    plan_id = resp.get_json()["plan_id"]
    assert _approve(client, headers("admin"), plan_id, number).status_code == 200
    plan = client.get("/api/v1/plans/county-default", headers=headers("trainer")).get_json()
    assert plan["county_default"] is True and plan["current_version"] == number
    assert plan["current"]["document"]["scenarios"][0]["id"] == "any-other"
