"""Acceptance checks of issues 4 and 5 in a real browser against a real hub process: the
tablet says where to stage and says plainly when no road avoids the hazard zone (dropping the
old route and ETA), the tablet's GPS reaches the hub, and the command room flags a unit that
has not acknowledged within 60 s."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.browser.conftest import Requests, login
from tests.browser.test_pages import DESK, TABLET, api, wait_board
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]

# a chlorine leak in a street away from every enterprise's own plan (the county default plan)
STREET = {"lat": -23.5450, "lon": -46.6200}


def test_tablet_staging_no_route_gps_and_unacknowledged_flag(
        hub: LiveHub, browser: Any, requests_seen: Requests) -> None:
    duty = hub.login("duty")
    inc = api(hub, "POST", "/incidents", duty, json={
        "kind": "leak", "location": STREET, "chemical": "UN1017", "spill": "small",
        "wind": {"from_deg": 90, "speed_ms": 2}})
    first, second = inc["assignments"][:2]
    assert first["staging"] is not None

    # the first unit's tablet, with a GPS fix a little off its current position
    units = {u["id"]: u for u in api(hub, "GET", "/units", duty)}
    here = units[first["unit_id"]]["position"]
    fix = {"latitude": here["lat"] + 0.001, "longitude": here["lon"] + 0.001}
    ctx = requests_seen.watch(browser.new_context(
        **TABLET, geolocation=fix, permissions=["geolocation"]))
    tab = ctx.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    login(tab, hub, first["callsign"])
    wait_board(tab, inc["id"])
    # Chinese by default: the board says to go to the upwind staging point
    assert "先到上风向集结点" in tab.inner_text("#b-hazard")
    tab.click("#alert-ack")
    tab.wait_for_selector("#alert", state="hidden")

    # the tablet's position reaches the hub (dispatch uses current positions)
    deadline = time.monotonic() + 15
    while True:
        pos = next(u for u in api(hub, "GET", "/units", duty)
                   if u["id"] == first["unit_id"])["position"]
        if pos["lat"] == pytest.approx(fix["latitude"], abs=1e-6):
            break
        assert time.monotonic() < deadline, f"tablet position never arrived: {pos}"
        time.sleep(0.3)
    assert pos["lon"] == pytest.approx(fix["longitude"], abs=1e-6)

    officer_ctx = requests_seen.watch(browser.new_context(**DESK))
    officer = officer_ctx.new_page()
    officer.on("pageerror", lambda e: errors.append(str(e)))
    login(officer, hub, "duty")
    # selecting flies the map there: let the flight end before the page's clock jumps ahead
    officer.evaluate("() => { window.flown = Promise.race([new Promise((r) => "
                     "RL.cmd.map.once('moveend', r)), new Promise((r) => setTimeout(r, 3000))]); }")
    officer.click(f"#incident-list li[data-incident-id='{inc['id']}']")
    officer.evaluate("() => window.flown.then(() => true)")
    row = "#assignments tr[data-unit-id='{}']"
    officer.wait_for_selector(row.format(second["unit_id"]))
    # not flagged yet: the second unit's crew has had less than 60 s
    assert officer.locator(row.format(second["unit_id"]) + " .ack-flag.overdue").count() == 0
    # 61 s later (the page's clock moved on) an unacknowledged unit is flagged, an acked not
    later = dt.datetime.fromisoformat(inc["created_at"]) + dt.timedelta(seconds=61)
    officer.clock.set_system_time(later)
    officer.wait_for_selector(row.format(second["unit_id"]) + " .ack-flag.overdue",
                              timeout=5000)
    assert officer.locator(row.format(first["unit_id"]) + " .ack-flag").count() == 0
    assert officer.locator(row.format(first["unit_id"]) + " .acked .ok").count() == 1
    # past the plan's deadline and not on scene: the unit's status row turns red; an hour
    # after the report the first-report countdown says it is overdue
    status_row = f"#unit-rows tr[data-unit-id='{second['unit_id']}']"
    assert officer.locator(status_row + ".overdue").count() == 0
    start = dt.datetime.fromisoformat(inc["created_at"])
    officer.clock.set_system_time(start + dt.timedelta(seconds=second["deadline_s"] + 1))
    officer.wait_for_selector(status_row + ".overdue", timeout=5000)
    assert "overdue" not in (officer.get_attribute("#first-report-countdown", "class") or "")
    officer.clock.set_system_time(start + dt.timedelta(seconds=3601))
    officer.wait_for_selector("#first-report-countdown.overdue", state="attached",
                              timeout=5000)

    # a large spill: the protective zone covers every road downwind; crews never stage in
    # it: they drive through it to its upwind side, and the tablet says so
    api(hub, "PATCH", f"/incidents/{inc['id']}", duty, json={"spill": "large"})
    tab.wait_for_function(
        "() => (RL.unit.board.notes || []).includes('route_crosses_protective_zone')")
    assert "路线穿越下风向防护区" in tab.inner_text("#b-hazard")

    # every road around is closed: no route at all; both screens say so plainly
    d = 0.03
    ring = [[STREET["lon"] + x, STREET["lat"] + y]
            for x, y in ((-d, -d), (d, -d), (d, d), (-d, d), (-d, -d))]
    api(hub, "POST", "/closures", duty,
        json={"geometry": {"type": "Polygon", "coordinates": [ring]}, "reason": "test"})
    tab.wait_for_function("() => RL.unit.board && RL.unit.board.assignment.route === null")
    assert "没有避开危险区的道路" in tab.inner_text("#b-hazard")
    assert tab.inner_text("#b-eta").strip() == "—"
    officer.wait_for_selector(row.format(first["unit_id"]) + " .no-route")

    # English on the tablet too
    tab.click("#lang-switch")
    tab.wait_for_function("() => document.documentElement.lang === 'en'")
    tab.wait_for_selector("#conn.online", timeout=20_000)
    assert "No road avoids the hazard zone" in tab.inner_text("#b-hazard")
    for page in (tab, officer):
        assert page.evaluate("RL.missingKeys()") == []
    assert errors == []
    assert requests_seen.foreign() == []
    api(hub, "POST", f"/incidents/{inc['id']}/close", duty)
    ctx.close()
    officer_ctx.close()
