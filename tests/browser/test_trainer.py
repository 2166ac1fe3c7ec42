"""A blind drill in real browsers: the trainer schedules it on the console, the hub springs it,
the command room and the tablet show it as an EXERCISE / 演练, the trainer fires an inject by
hand, ends the drill, reads the after-action report and plays the drill back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Requests, login, screenshot
from tests.browser.test_pages import DESK, api, tablet, wait_board
from tests.liveserver import LiveHub, live_hub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(180)]

# the browser's own clock and zone, seconds included: the window opens now, closes soon
WINDOW_END = """(secs) => { const d = new Date(Date.now() + secs * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" +
    p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()); }"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    # this module needs the scheduler that springs drills; it looks every half second
    with live_hub(tmp_path_factory.mktemp("trainer"),
                  {"DRILL_SCHEDULER": "1", "DRILL_TICK_S": "0.5"}) as h:
        yield h


def marked(text: str) -> bool:
    """Both words, whatever the screen's language: nobody may take it for real."""
    return "EXERCISE" in text and "演练" in text


def trainer_login(page: Any, hub: LiveHub) -> None:
    """The shared login page sends a trainer to the console, which must open at once."""
    page.goto(hub.url + "/login")
    page.fill("#username", "trainer")
    page.fill("#password", "trainer")
    page.press("#password", "Enter")
    page.wait_for_url(hub.url + "/trainer")
    page.wait_for_selector("#main:not([hidden])")
    assert page.locator("#login").is_hidden()
    page.wait_for_function("() => document.querySelector('#drill-form select[name=enterprises]')"
                           ".options.length > 0")


def test_trainer_springs_fires_ends_reports_and_replays(hub: LiveHub, browser: Any,
                                                        requests_seen: Requests) -> None:
    duty = hub.login("duty")
    trainer_token = hub.login("trainer")
    errors: list[str] = []

    # the command room is open, as it always is; it knows nothing of the drill
    officer_ctx = requests_seen.watch(browser.new_context(**DESK))
    officer = officer_ctx.new_page()
    officer.on("pageerror", lambda e: errors.append(str(e)))
    login(officer, hub, "duty")
    officer.wait_for_selector("#unit-rows tr")
    assert officer.locator("#exercise-indicator").is_hidden()

    trainer_ctx = requests_seen.watch(browser.new_context(**DESK))
    console = trainer_ctx.new_page()
    console.on("pageerror", lambda e: errors.append(str(e)))
    console.on("dialog", lambda d: d.accept())  # "end the drill?" → yes
    trainer_login(console, hub)
    # its strings come from the same JSON catalogues, in the language the login page chose
    assert console.inner_text("#new-drill h2") == "安排演练"
    assert console.evaluate("document.documentElement.lang") == "zh-CN"

    # schedule: a window from now to a few seconds on, one inject left for the trainer's hand
    console.fill("#drill-form input[name=title]", "盲演练 · 浏览器")
    console.fill("#drill-form input[name=end]", console.evaluate(WINDOW_END, 4))
    console.click("#add-inject")
    row = console.locator("#inject-rows tr").last
    row.locator("[name=at_s]").fill("3600")
    row.locator("[name=type]").select_option("casualties")
    row.locator("[name=data]").fill('{"count": 4}')
    console.click("#drill-form button[type=submit]")
    console.wait_for_selector("#drill-rows tr")
    assert console.inner_text("#form-error") == ""
    drills = api(hub, "GET", "/drills", trainer_token)
    assert len(drills) == 1 and drills[0]["title"] == "盲演练 · 浏览器"
    drill_id = drills[0]["id"]
    assert [i["type"] for i in drills[0]["injects"]] == ["casualties"]

    # the hub springs it at its secret moment; the trainer's console sees it run
    console.wait_for_selector("#drill-rows tr.status-running", timeout=30_000)
    drill = api(hub, "GET", f"/drills/{drill_id}", trainer_token)
    incident_id = drill["incident_id"]
    assert drill["status"] == "running" and incident_id
    console.wait_for_function(
        f"() => document.querySelector('#drill-rows tr.status-running').cells[5].textContent"
        f" === '{incident_id}'")

    # the command room: the exercise is unmistakable in the bar, the list and the panel
    officer.wait_for_selector("#exercise-indicator:not([hidden])", timeout=15_000)
    item = officer.locator(f"#incident-list li.exercise[data-incident-id='{incident_id}']")
    item.wait_for()
    assert item.locator(".exercise-tag").inner_text() == "演练"
    item.click()
    officer.wait_for_selector("#incident-view.exercise #exercise-banner:not([hidden])")
    for where in ("#exercise-banner", "#exercise-indicator"):
        assert marked(officer.inner_text(where)), where
    inc = api(hub, "GET", f"/incidents/{incident_id}", duty)
    assert inc["exercise"] is True and inc["assignments"]
    officer.wait_for_function(f"() => document.querySelectorAll('#assignments tr.active')"
                              f".length === {len(inc['assignments'])}")
    officer.wait_for_timeout(300)
    screenshot(officer, "command-room-exercise.png")

    # a crew's tablet: the alert and the board both say EXERCISE / 演练
    crew = inc["assignments"][0]
    ctx_t, tab = tablet(browser, hub, requests_seen, crew["callsign"])
    tab.on("pageerror", lambda e: errors.append(str(e)))
    wait_board(tab, incident_id)
    tab.wait_for_selector("#alert:not([hidden]) #alert-exercise:not([hidden])")
    assert marked(tab.inner_text("#alert-exercise"))
    assert tab.evaluate("document.body.classList.contains('exercise')")
    screenshot(tab, "tablet-exercise-alert.png")
    tab.click("#alert-ack")
    tab.wait_for_selector("#alert", state="hidden")
    assert tab.locator("#board-exercise").is_visible()
    assert marked(tab.inner_text("#board-exercise"))
    screenshot(tab, "tablet-exercise.png")

    # the trainer fires the inject by hand: casualties rise on the drill's incident
    casualties = inc["casualties"]
    console.locator("#drill-rows tr.status-running .inject-list button").click()
    console.wait_for_selector("#drill-rows .inject-list .ok")
    drill = api(hub, "GET", f"/drills/{drill_id}", trainer_token)
    assert drill["injects"][0]["applied_at"] is not None
    assert api(hub, "GET", f"/incidents/{incident_id}", duty)["casualties"] == casualties + 4
    officer.wait_for_function(
        f"() => RL.cmd.incidents.get({incident_id}).casualties === {casualties + 4}")
    screenshot(console, "trainer-console.png")

    # the trainer ends it: the incident closes, every unit is released, the marks go away
    console.locator("#drill-rows tr.status-running button.danger").click()
    console.wait_for_selector("#drill-rows tr.status-ended", timeout=15_000)
    assert api(hub, "GET", f"/incidents/{incident_id}", duty)["status"] == "closed"
    tab.wait_for_selector("#no-board:not([hidden])")
    officer.wait_for_selector("#exercise-indicator", state="hidden")

    # the after-action report page
    report = api(hub, "GET", f"/drills/{drill_id}/report", trainer_token)["report"]
    console.click(f"#drill-rows tr.status-ended a[href='/trainer/drills/{drill_id}/report']")
    console.wait_for_url(f"{hub.url}/trainer/drills/{drill_id}/report")
    console.wait_for_selector("#main:not([hidden])")
    console.wait_for_function(f"() => document.querySelectorAll('#unit-rows tr').length === "
                              f"{len(report['units'])}")
    assert console.locator("#chart svg").count() == 1
    assert console.inner_text("#report-error") == ""
    assert "演练" in console.inner_text("header.exercise-banner")
    assert console.evaluate("TrainerI18n.missingKeys()") == []

    # back on the console, the drill plays back on the map at 60×
    console.go_back()
    console.wait_for_selector("#drill-rows tr.status-ended")
    playback = api(hub, "GET", f"/drills/{drill_id}/playback", trainer_token)
    shown = [e for e in playback["events"] if e["type"] != "unit.position"]
    console.locator("#drill-rows tr.status-ended .actions button").last.click()  # replay
    console.wait_for_function("() => document.querySelector('#replay-seek').max !== '0'")
    console.select_option("#replay-speed", "5")
    # every length the event list passes through while playing: it must grow step by step
    console.evaluate("""() => { window.seenLengths = [];
      new MutationObserver(() => window.seenLengths.push(
        document.querySelectorAll('#replay-log li').length))
        .observe(document.querySelector('#replay-log'), {childList: true}); }""")
    console.click("#replay-play")
    console.wait_for_function(
        f"() => document.querySelectorAll('#replay-log li').length === {len(shown)}",
        timeout=20_000)
    steps = set(console.evaluate("window.seenLengths"))
    assert len(steps & set(range(1, len(shown)))) >= 2, steps  # played in time, not at once
    log = console.inner_text("#replay-log")
    # event types read in the console's language (Chinese by default), not as raw codes
    catalogue = Path(__file__).resolve().parents[2] / "web/static/i18n/zh-CN.json"
    zh = json.loads(catalogue.read_text(encoding="utf-8"))
    assert zh["ev.incident.closed"] in log and zh["ev.assignment.created"] in log
    assert "incident.closed" not in log and "assignment.created" not in log
    assert console.locator("#replay-tasks li").count() > 0
    assert console.evaluate("document.querySelector('#replay-seek').value") == \
        console.evaluate("document.querySelector('#replay-seek').max")

    for page in (officer, tab):
        assert page.evaluate("RL.missingKeys()") == []
    assert console.evaluate("TrainerI18n.missingKeys()") == []
    console.click("#lang")
    console.wait_for_function("() => document.documentElement.lang === 'en'")
    assert console.inner_text("#new-drill h2") == "Schedule a drill"
    assert console.locator("#drill-rows tr.status-ended .pill").first.inner_text() == "ended"
    assert errors == []
    assert requests_seen.foreign() == []
    for ctx in (officer_ctx, trainer_ctx, ctx_t):
        ctx.close()
