"""Crews must be able to tap every status button whatever the screen: the route map never
covers them, the phone page never scrolls sideways; success toasts are readable."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Requests, login
from tests.browser.test_pages import DESK, api, wait_board
from tests.liveserver import LiveHub

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(150)]

SCREENS = {"tablet": (1024, 768), "portrait": (800, 1280), "phone": (390, 844)}
BUTTONS_UNDER = """() => {
  const out = [];
  const max = document.documentElement.scrollHeight - innerHeight;
  // the sticky bar rides over the page as it scrolls: check it over every part of it
  for (const y of [0, max / 4, max / 2, 3 * max / 4, max]) {
    window.scrollTo(0, y);
    for (const b of document.querySelectorAll('.status-btn')) {
      const r = b.getBoundingClientRect();
      if (r.bottom <= 0 || r.top >= innerHeight) continue;
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      out.push([b.dataset.status, !!hit && (hit === b || b.contains(hit)),
                hit ? String(hit.className) : null]);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_status_button_can_be_tapped(hub: LiveHub, browser: Any,
                                           requests_seen: Requests, lang: str) -> None:
    duty = hub.login("duty")
    inc = api(hub, "POST", "/incidents", duty, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1,
        "spill": "small", "confirm_new": True})
    callsign = inc["assignments"][0]["callsign"]
    for name, (w, h) in SCREENS.items():
        ctx = requests_seen.watch(browser.new_context(
            viewport={"width": w, "height": h}, has_touch=True, locale=lang))
        ctx.add_cookies([{"name": "redline_lang", "value": lang, "url": hub.url}])
        page = ctx.new_page()
        login(page, hub, callsign)
        wait_board(page, inc["id"])
        page.wait_for_selector(".route-map .leaflet-pane", state="attached")
        if page.locator(".alert-ack").is_visible():
            page.click(".alert-ack")  # the new-assignment alert covers all until acknowledged
            page.wait_for_selector(".alert-overlay", state="hidden")
        seen = page.evaluate(BUTTONS_UNDER)
        assert len({s for s, _ok, _cls in seen}) == 6, f"{name}: not every button was seen"
        blocked = sorted({(s, cls) for s, ok, cls in seen if not ok})
        assert blocked == [], f"{name} {lang}: covered buttons {blocked}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= w, f"{name} {lang}: the page is {width} px wide on a {w} px screen"
        ctx.close()


def test_success_toasts_are_readable(hub: LiveHub, browser: Any,
                                     requests_seen: Requests) -> None:
    ctx = requests_seen.watch(browser.new_context(**DESK))
    page = ctx.new_page()
    login(page, hub, "duty")
    page.evaluate("() => RL.toast('已保存', 'ok')")
    colours = page.evaluate("""() => { const t = document.querySelector('#toasts .toast.ok');
      const s = getComputedStyle(t); return [s.color, s.backgroundColor]; }""")
    assert colours[0] != colours[1], f"text and box share a colour: {colours}"
    assert colours[0] == "rgb(255, 255, 255)"
    ctx.close()
