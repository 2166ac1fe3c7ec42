"""The duty officer finds the nearest rescue team for a chlorine leak in the incident's
Resources tab and calls it with one click: the request lands on the incident's tasks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Requests, login, screenshot
from tests.browser.test_pages import DESK, api
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]


def test_nearest_team_requested_from_the_resources_tab(hub: LiveHub, browser: Any,
                                                       requests_seen: Requests) -> None:
    duty = hub.login("duty")
    inc = api(hub, "POST", "/incidents", duty, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1})
    ctx = requests_seen.watch(browser.new_context(**DESK))
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, "duty")
    page.click(f"#incident-list [data-incident-id='{inc['id']}']")
    page.click("#tab-btn-resources")
    page.wait_for_selector("#resources li.resource.team")
    first_team = page.locator("#resources li.resource.team").first
    assert "滨海氯碱企业专职救援队" in first_team.inner_text()
    assert "救援队伍" in page.inner_text("#resources")
    first_team.locator("button").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#toasts .toast')].some("
        "(x) => x.textContent.startsWith('已调用'))", timeout=10_000)
    tasks = api(hub, "GET", f"/incidents/{inc['id']}", duty)["tasks"]
    assert any(t["title"] == "滨海氯碱企业专职救援队" for t in tasks)
    page.fill("#resource-q", "堵漏")
    page.press("#resource-q", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#resources h3').textContent === '搜索结果'")
    assert "液氯钢瓶堵漏器" in page.inner_text("#resources")
    screenshot(page, "command-room-resources.png")
    assert errors == [] and requests_seen.foreign() == []
    ctx.close()
