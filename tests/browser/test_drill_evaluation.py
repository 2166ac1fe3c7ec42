"""An evaluator on a tablet during a blind drill: observations saved while the Wi-Fi is down
stay on the device and reach the hub once it is back, once each; the AQ/T 9009 evaluation
report then shows them in its five sections, in both languages."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser.conftest import ARTIFACTS, Requests, screenshot
from tests.browser.test_pages import DESK, api
from tests.liveserver import LiveHub, live_hub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(180)]
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with live_hub(tmp_path_factory.mktemp("evaluation"),
                  {"DRILL_SCHEDULER": "1", "DRILL_TICK_S": "0.5"}) as h:
        yield h


def sprung_drill(hub: LiveHub, trainer: dict[str, Any]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    drill = api(hub, "POST", "/drills", trainer, json={
        "title": "评估演练", "window": {"start": now.isoformat(),
                                    "end": (now + dt.timedelta(seconds=2)).isoformat()}})
    api(hub, "PUT", f"/drills/{drill['id']}/programme", trainer, json={
        "drill_type": "full_scale", "scope": "comprehensive",
        "objectives": ["首报 10 分钟内", "东门疏散"], "participants": ["北站", "园区医院"],
        "evaluators": ["trainer"], "safety_plan": "安全员在场；真实警情优先",
        "msel": [{"at_s": 0, "inject": "氯气泄漏报警", "player": "值班员",
                  "expected_action": "按预案调派"}]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        drill = api(hub, "GET", f"/drills/{drill['id']}", trainer)
        if drill["incident_id"]:
            return drill
        time.sleep(0.3)
    raise AssertionError(f"the drill never sprang: {drill}")


def open_as_trainer(browser: Any, seen: Requests, hub: LiveHub, path: str,
                    **ctx: Any) -> tuple[Any, Any]:
    context = seen.watch(browser.new_context(**ctx))
    page = context.new_page()
    page.goto(hub.url + "/login")
    page.fill("#username", "trainer")
    page.fill("#password", "trainer")
    page.press("#password", "Enter")
    page.wait_for_url(hub.url + "/trainer")
    page.goto(hub.url + path)
    page.wait_for_selector("#main:not([hidden])")
    return context, page


def test_observations_saved_offline_reach_the_hub_once(hub: LiveHub, browser: Any,
                                                      requests_seen: Requests) -> None:
    trainer = hub.login("trainer")
    drill = sprung_drill(hub, trainer)
    errors: list[str] = []
    ctx, page = open_as_trainer(browser, requests_seen, hub,
                                f"/trainer/drills/{drill['id']}/evaluate", **TABLET)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.wait_for_selector("#areas button")
    # the Wi-Fi drops; the evaluator keeps writing
    ctx.set_offline(True)
    page.click("#areas button[data-value=cordon_evacuation]")
    page.click("#ratings button[data-value=not_met]")
    page.fill("#obs-form textarea[name=note]", "东门无人警戒")
    page.click("#save")
    page.click("#areas button[data-value=information_reporting]")
    page.click("#ratings button[data-value=met]")
    page.click("#save")
    page.wait_for_function("() => document.querySelectorAll('#queue li').length === 2")
    assert "离线" in page.inner_text("#net")
    base = hub.url + f"/api/v1/drills/{drill['id']}/observations"
    assert requests.get(base, headers=trainer["headers"], timeout=10).json() == []
    # a reload while offline would lose nothing either: the queue lives on the device
    stored = page.evaluate(f"() => JSON.parse(localStorage.getItem('redline.eval.{drill['id']}'))")
    assert [o["state"] for o in stored] == ["queued", "queued"]
    screenshot(page, "drill-evaluator-offline.png")

    ctx.set_offline(False)
    page.wait_for_function("() => document.querySelectorAll('#sent li').length === 2",
                           timeout=20_000)
    saved = requests.get(base, headers=trainer["headers"], timeout=10).json()
    assert sorted(o["area"] for o in saved) == ["cordon_evacuation", "information_reporting"]
    assert {o["client_id"] for o in saved} == {o["client_id"] for o in stored}
    # the flush again (timer, "online" event) sends nothing twice
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    time.sleep(1.0)
    assert len(requests.get(base, headers=trainer["headers"], timeout=10).json()) == 2
    screenshot(page, "drill-evaluator-form.png")

    # the report in the standard's five sections, after the drill ends
    api(hub, "POST", f"/drills/{drill['id']}/end", trainer)
    rctx, report = open_as_trainer(browser, requests_seen, hub,
                                   f"/trainer/drills/{drill['id']}/evaluation", **DESK)
    report.on("pageerror", lambda e: errors.append(str(e)))
    report.wait_for_function("() => document.querySelectorAll('#area-rows tr').length === 7")
    for heading in ("一、演练基本情况", "二、评估过程", "三、情况分析", "四、改进建议",
                    "五、评估结论"):
        assert heading in report.inner_text("main")
    assert "未达到" in report.inner_text("#conclusion")
    assert "东门无人警戒" in report.inner_text("#shortfalls")
    screenshot(report, "drill-evaluation-report-zh.png")
    # it prints: the browser's own PDF of the page, print styles applied
    pdf = report.pdf(format="A4")
    assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000
    (ARTIFACTS / "drill-evaluation-report.pdf").write_bytes(pdf)
    report.click("#lang")
    report.wait_for_function("() => document.querySelector('#sec-basic h2').textContent"
                             ".startsWith('1. Basic')")
    # the sections re-render from the API in the new language
    report.wait_for_function(
        "() => document.querySelector('#conclusion').textContent.includes('Not met')")
    screenshot(report, "drill-evaluation-report-en.png")
    assert errors == []
    assert requests_seen.foreign() == []
    ctx.close()
    rctx.close()
