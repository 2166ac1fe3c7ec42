"""The duty officer works a live incident in the command room of a real browser: add and
release a unit, escalate, close and reopen a road on the map, tick a contact, read the cover
warning, close the incident; the tablets of the units concerned follow live."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.browser.conftest import Requests, login
from tests.browser.test_pages import DESK, api, report_by_keyboard, tablet, wait_board
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(180)]


# is this route (GeoJSON lon/lat pairs) drawn as a line on the selected incident's layer?
DRAWN = """(coords) => RL.cmd.layers.selected.getLayers().some((group) =>
  group.getLayers && group.getLayers().some((line) => {
    if (!line.getLatLngs) return false;
    const ll = line.getLatLngs().flat(3);
    return ll.length === coords.length && ll.every((p, i) =>
      Math.abs(p.lat - coords[i][1]) < 1e-7 && Math.abs(p.lng - coords[i][0]) < 1e-7);
  }))"""


def assignments(hub: LiveHub, duty: dict[str, Any], incident_id: int) -> dict[int, Any]:
    """The incident's active assignments by unit id, straight from the hub."""
    inc = api(hub, "GET", f"/incidents/{incident_id}", duty)
    return {a["unit_id"]: a for a in inc["assignments"] if a["status"] == "active"}


def row_count(page: Any) -> int:
    return int(page.evaluate("document.querySelectorAll('#assignments tr.active').length"))


def click_map_at(page: Any, lat: float, lon: float) -> None:
    """Centre the map on the point, then click it with the mouse like an officer would."""
    page.evaluate(f"RL.cmd.map.setView([{lat}, {lon}], 18, {{animate: false}})")
    page.wait_for_timeout(100)
    xy = page.evaluate(f"(() => {{ const p = RL.cmd.map.latLngToContainerPoint([{lat}, {lon}]);"
                       " return [p.x, p.y]; })()")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def road_point(route: dict[str, Any]) -> tuple[float, float]:
    """The middle of the longest segment in the middle half of a route: on one road edge,
    away from intersections and from the markers at the route's ends."""
    coords = route["coordinates"]
    n = len(coords)
    lo, hi = max(0, n // 4), max(1, (3 * n) // 4)
    best = max(range(lo, min(hi, n - 1)),
               key=lambda i: (coords[i + 1][0] - coords[i][0]) ** 2
               + (coords[i + 1][1] - coords[i][1]) ** 2)
    (lon1, lat1), (lon2, lat2) = coords[best][:2], coords[best + 1][:2]
    return (lat1 + lat2) / 2, (lon1 + lon2) / 2


def test_officer_adds_releases_escalates_closes_roads(hub: LiveHub, browser: Any,
                                                      requests_seen: Requests) -> None:
    duty = hub.login("duty")
    officer_ctx = requests_seen.watch(browser.new_context(**DESK))
    officer = officer_ctx.new_page()
    errors: list[str] = []
    officer.on("pageerror", lambda e: errors.append(str(e)))
    login(officer, hub, "duty")
    officer.wait_for_selector("#unit-rows tr")

    # a fire at the chlor-alkali plant, severity 2: a big first dispatch
    incident_id = report_by_keyboard(officer, "氯碱")
    officer.wait_for_selector("#incident-view:not([hidden])")
    first = assignments(hub, duty, incident_id)
    officer.wait_for_function(f"() => document.querySelectorAll('#assignments tr.active')"
                              f".length === {len(first)}")

    # the hub checks the county's cover after the dispatch; the panel shows gaps and advice
    officer.wait_for_selector("#coverage-warning:not([hidden])", timeout=20_000)
    inc = api(hub, "GET", f"/incidents/{incident_id}", duty)
    assert inc["coverage_gaps"], "the demo's big dispatch leaves enterprises uncovered"
    text = officer.inner_text("#coverage-warning")
    assert f"{len(inc['coverage_gaps'])} 家企业" in text
    for m in inc["move_ups"]:
        assert officer.locator(f"#coverage-warning li.move-up[data-unit-id='{m['unit_id']}']"
                               ).inner_text().startswith(m["callsign"])
    if not inc["move_ups"]:
        assert "暂无空闲力量" in text

    # add a unit: its tablet, already open and standing by, gets the board and the alert
    units = requests.get(hub.url + "/api/v1/units", headers=duty["headers"], timeout=10).json()
    spare = next(u for u in units if u["status"] == "available" and "fire" in u["capabilities"])
    ctx_x, tab_x = tablet(browser, hub, requests_seen, spare["callsign"])
    tab_x.on("pageerror", lambda e: errors.append(str(e)))
    tab_x.wait_for_selector("#no-board:not([hidden])")
    officer.select_option("#add-unit", str(spare["id"]))
    officer.click("#add-unit-form button[type=submit]")
    officer.wait_for_selector(f"#assignments tr.active[data-unit-id='{spare['id']}']")
    wait_board(tab_x, incident_id)
    tab_x.wait_for_selector("#alert:not([hidden])")
    assert spare["id"] in assignments(hub, duty, incident_id)

    # release it again: the row is struck through and the tablet drops the board
    officer.click(f"#assignments tr.active[data-unit-id='{spare['id']}'] button")
    officer.click("#confirm .confirm-yes")
    officer.wait_for_selector(f"#assignments tr.released[data-unit-id='{spare['id']}']")
    tab_x.wait_for_selector("#no-board:not([hidden])")
    tab_x.wait_for_selector("#alert", state="hidden")
    assert spare["id"] not in assignments(hub, duty, incident_id)

    # escalate to severity 3: a higher response level, more units, their tablets get boards
    before = assignments(hub, duty, incident_id)
    level_before = api(hub, "GET", f"/incidents/{incident_id}", duty)["response_level"]
    officer.click("#sev-buttons [data-sev='3']")
    officer.wait_for_function(f"() => document.querySelectorAll('#assignments tr.active')"
                              f".length > {len(before)}", timeout=15_000)
    inc = api(hub, "GET", f"/incidents/{incident_id}", duty)
    assert inc["severity"] == 3 and inc["response_level"] != level_before
    added = {a["unit_id"]: a for a in inc["assignments"]
             if a["status"] == "active" and a["unit_id"] not in before}
    assert added
    assert officer.evaluate("document.querySelectorAll('#assignments tr.active').length") == \
        len(before) + len(added)
    if spare["id"] in added:
        new_tab = tab_x  # the released unit was free again and got picked: live push
    else:
        ctx_y, new_tab = tablet(browser, hub, requests_seen, next(iter(added.values()))["callsign"])
        new_tab.on("pageerror", lambda e: errors.append(str(e)))
    wait_board(new_tab, incident_id)
    new_tab.wait_for_selector("#alert:not([hidden])")
    assert f"#{incident_id}" in new_tab.inner_text("#alert-what")

    # close a road: closure mode, one click on the map on a unit's route
    live = assignments(hub, duty, incident_id)
    victim = max(live.values(), key=lambda a: len(a["route"]["coordinates"]) if a["route"] else 0)
    lat, lon = road_point(victim["route"])
    officer.fill("#closure-reason", "罐车侧翻")
    officer.click("#close-road")
    officer.wait_for_selector("#map.picking")
    until_before = officer.get_attribute(
        f"#assignments tr.active[data-unit-id='{victim['unit_id']}'] td:nth-child(3) span",
        "data-until")
    click_map_at(officer, lat, lon)
    officer.wait_for_selector("#closure-list li")
    closures = api(hub, "GET", "/closures", duty)
    assert len(closures) == 1 and closures[0]["reason"] == "罐车侧翻"
    assert closures[0]["incident_id"] == incident_id
    assert officer.evaluate("RL.cmd.layers.closures.getLayers().length") == 1
    rerouted = assignments(hub, duty, incident_id)[victim["unit_id"]]
    assert rerouted["route"]["coordinates"] != victim["route"]["coordinates"]
    assert rerouted["eta_s"] > victim["eta_s"]
    # the officer's screen follows: new ETA in the dispatch table, new line on the map
    officer.wait_for_function(
        f"() => document.querySelector(\"#assignments tr.active[data-unit-id='{victim['unit_id']}']"
        f" td:nth-child(3) span\").dataset.until !== '{until_before}'")
    officer.wait_for_function(DRAWN, arg=rerouted["route"]["coordinates"])

    # reopen it: the routes go back to the open road
    officer.click("#closure-list li button")
    officer.wait_for_selector("#closure-empty:not([hidden])")
    assert api(hub, "GET", "/closures", duty) == []
    reopened = assignments(hub, duty, incident_id)[victim["unit_id"]]
    assert reopened["eta_s"] == pytest.approx(victim["eta_s"], abs=1.0)
    assert officer.evaluate("RL.cmd.layers.closures.getLayers().length") == 0

    # tick a contact on the notification checklist
    officer.click("#tab-btn-notify")
    officer.locator("#contacts input[type=checkbox]").first.check()
    officer.wait_for_selector("#contacts li.done")
    checks = api(hub, "GET", f"/incidents/{incident_id}", duty)["notifications"]
    assert [c["notified_by"] for c in checks if c["notified"]] == ["duty"]
    officer.click("#tab-btn-overview")

    # close the incident: every tablet on it drops the board
    officer.click("#close-incident")
    officer.click("#confirm .confirm-yes")
    officer.wait_for_selector("#inc-status.status-closed")
    new_tab.wait_for_selector("#no-board:not([hidden])")
    assert api(hub, "GET", f"/incidents/{incident_id}", duty)["status"] == "closed"
    assert officer.locator("#coverage-warning").is_hidden()

    for page in (officer, tab_x, new_tab):
        assert page.evaluate("RL.missingKeys()") == []
    assert errors == []
    assert requests_seen.foreign() == []
    officer_ctx.close()
    ctx_x.close()
    if new_tab is not tab_x:
        new_tab.context.close()


def test_a_reconnect_replays_nothing_old_and_names_stay_text(hub: LiveHub, browser: Any,
                                                            requests_seen: Requests) -> None:
    duty = hub.login("duty")
    # history from before the page loads: units dispatched, then released by a close
    old = api(hub, "POST", "/incidents", duty, json={"kind": "fire", "enterprise_id": 2})
    api(hub, "POST", f"/incidents/{old['id']}/close", duty)

    page = requests_seen.watch(browser.new_context(**DESK)).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, hub, "duty")
    page.wait_for_selector("#unit-rows tr")
    live = api(hub, "POST", "/incidents", duty, json={"kind": "fire", "enterprise_id": 2})
    busy = {a["unit_id"] for a in live["assignments"]}
    shown = "(id) => RL.cmd.units.get(id) && RL.cmd.units.get(id).status"
    for unit_id in busy:
        page.wait_for_function(f"() => ({shown})({unit_id}) === 'dispatched'")

    # the link drops and comes back: the overlap the hub re-sends holds the old close, which
    # must not make the dispatched units look free again
    page.evaluate("RL.cmd.hub.socket.io.engine.close()")
    page.wait_for_selector("#conn.online", timeout=20_000)
    page.wait_for_timeout(1500)
    truth = {u["id"]: u["status"] for u in api(hub, "GET", "/units", duty)}
    on_screen = page.evaluate("Object.fromEntries(Array.from(RL.cmd.units.values())"
                              ".map((u) => [u.id, u.status]))")
    assert {int(k): v for k, v in on_screen.items()} == truth

    # a name with markup in it (an enterprise, a closure reason, a callsign) stays text on
    # the map: Leaflet would insert a tooltip string as HTML
    tip = page.evaluate("""() => {
      const m = L.marker(RL.cmd.map.getCenter()).bindTooltip('<img id="pwn" src="x">tanker')
        .addTo(RL.cmd.map);
      m.openTooltip();
      const text = m.getTooltip().getElement().textContent;
      m.remove();
      return [Boolean(document.getElementById("pwn")), text];
    }""")
    assert tip == [False, '<img id="pwn" src="x">tanker']
    api(hub, "POST", f"/incidents/{live['id']}/close", duty)
    assert errors == []
