"""The plan page reads as GB/T 29639-2020 has it (comprehensive, special and on-site plans,
annexes) and links the county's filing record, which prints; both languages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Requests, login, screenshot
from tests.browser.test_pages import DESK, api
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]


def test_plan_page_and_filing_record(hub: LiveHub, browser: Any,
                                     requests_seen: Requests) -> None:
    duty = hub.login("duty")
    plan = api(hub, "GET", "/enterprises/1/plan", duty)
    ctx = requests_seen.watch(browser.new_context(**DESK))
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, "duty")
    # the list says what the county must chase: no demo enterprise has a drill on record
    page.goto(hub.url + "/plans")
    page.wait_for_selector("#obligations:not([hidden]) #ob-drills li.overdue")
    assert "无演练记录" in page.inner_text("#ob-drills")
    assert "无待办事项" in page.inner_text("#ob-filing")  # every demo plan is filed
    screenshot(page, "plans-obligations-zh.png")
    page.goto(hub.url + "/plans/1")
    page.wait_for_selector("section.pl-gbt")
    text = page.inner_text("#plan-doc")
    for part in ("综合应急预案", "应急组织机构及职责", "响应终止", "专项应急预案", "现场处置方案",
                 "附件"):
        assert part in text, part
    record_link = page.locator("a[href$='/filing-record']")
    assert record_link.count() == 1
    screenshot(page, "plan-page-zh.png")
    record_link.click()
    page.wait_for_selector(".filing-table")
    rec = page.inner_text("#filing-record")
    assert "备案登记表" in rec and "应急预案备〔" in rec and "王建国" in rec
    assert plan["current"]["filing_no"] in rec
    screenshot(page, "plan-filing-record-zh.png")
    page.click("#lang-switch")
    page.wait_for_selector(".filing-table")
    page.wait_for_function("() => document.querySelector('#filing-record h1').textContent"
                           ".startsWith('Emergency plan filing record')")
    screenshot(page, "plan-filing-record-en.png")
    assert errors == [] and requests_seen.foreign() == []
    ctx.close()
