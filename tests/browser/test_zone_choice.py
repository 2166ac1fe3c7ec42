"""A chlorine leak of unknown size at the 80 t store: the command room shows the plan's zone
beside ERG's wider one and keeps ERG's until the officer picks; the pick is logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Requests, login, screenshot
from tests.browser.test_pages import DESK, api
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]


def test_officer_picks_the_zone_when_the_plan_is_smaller(hub: LiveHub, browser: Any,
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
    page.wait_for_selector("#zone-choice:not([hidden]) .zone-warning")
    box = page.inner_text("#zone-choice")
    assert "预案设定的隔离/防护范围小于 ERG" in box and "当前采用" in box
    # the facts say why the zone is this wide: the unreported spill size was taken as large
    assert "按大量泄漏处理" in page.inner_text("#inc-facts")
    screenshot(page, "command-room-zone-choice.png")
    page.click("#zone-choice button[data-zone=plan]")
    page.wait_for_function("() => document.querySelector('#zone-choice .zone-option.chosen')"
                           ".textContent.includes('预案')")
    events = api(hub, "GET", f"/incidents/{inc['id']}/events", duty)
    assert [e["data"]["choice"] for e in events if e["type"] == "incident.zone_chosen"] == [
        "plan"]
    assert errors == [] and requests_seen.foreign() == []
    ctx.close()
