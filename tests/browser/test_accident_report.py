"""The command room files the order No. 493 first report and marks the city step sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Requests, login
from tests.browser.test_pages import DESK, api
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]


def test_officer_files_the_first_accident_report_and_marks_the_city_sent(
        hub: LiveHub, browser: Any, requests_seen: Requests) -> None:
    duty = hub.login("duty")
    inc = api(hub, "POST", "/incidents", duty, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1})
    ctx = requests_seen.watch(browser.new_context(**DESK))
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, "duty")
    page.click(f"#incident-list [data-incident-id='{inc['id']}']")
    page.click("#tab-btn-notify")
    form = "#accident-report form"
    page.fill(f"{form} [name=occurred_at]", "2026-01-01T08:30")
    for name, value in [("place", "液氯罐区"), ("enterprise_summary", "氯碱企业"),
                        ("account", "阀门泄漏"), ("measures", "关阀"),
                        ("reporter_name", "何军"), ("reporter_phone", "0515-86210001"),
                        ("dead", "3"), ("injured", "4"), ("seriously_injured", "1")]:
        page.fill(f"{form} [name={name}]", value)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#accident-report li button")
    assert "较大事故" in page.inner_text("#accident-report")
    page.click("#accident-report li button")
    page.wait_for_function("() => document.querySelector('#accident-report li')"
                           ".textContent.includes('已报')")
    report = api(hub, "GET", f"/incidents/{inc['id']}/accident-report", duty)
    assert report["accident_report"]["steps"][0]["sent_at"] is not None
    assert report["accident_report"]["dead"] == 3
    assert errors == [] and requests_seen.foreign() == []
    ctx.close()
