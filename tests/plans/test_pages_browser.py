"""The plan, upload, pocket card and cover pages in a real browser against a live hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.liveserver import live_hub
from tests.plans.conftest import BAD

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _first_planned(hub: Any, headers: dict[str, str]) -> dict[str, Any]:
    plans = requests.get(hub.url + "/api/v1/plans", headers=headers, timeout=10).json()
    return next(p for p in plans if p["enterprise"] and p["current"] and p["pocket_cards"])


def test_plan_pages(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with live_hub(tmp_path, {"LOAD_DEMO": "1", "DRILL_SCHEDULER": "0"}) as hub:
        headers = hub.login("admin")["headers"]
        planned = _first_planned(hub, headers)
        eid = planned["enterprise"]["id"]
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            context = browser.new_context()
            context.add_cookies([{"name": "redline_lang", "value": "en", "url": hub.url}])
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(hub.url + "/login?lang=en")
            page.fill("#username", "admin")
            page.fill("#password", "admin")
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)

            # the list: every enterprise, with its cover colour
            page.goto(hub.url + "/plans")
            page.wait_for_selector(f"#plans-table a[href='/plans/{eid}']")
            page.wait_for_selector("#plans-table .cov-chip")

            # the plan reads like the document: scenarios, forces, versions
            page.goto(hub.url + f"/plans/{eid}")
            page.wait_for_selector(".pl-scenario")
            assert page.locator(".pl-scenario").count() == planned["scenarios"]
            assert page.locator(".pl-scenario table").count() == planned["scenarios"]

            # upload a bad file: the problem is shown beside its line, nothing is saved
            page.goto(hub.url + f"/plans/{eid}/upload")
            page.wait_for_selector(f"#upload-title:has-text('{planned['enterprise']['name']}')")
            bad = (BAD / "count_below_one.yaml").read_text(encoding="utf-8").replace(
                "91990322MA1PLN0T7F", planned["enterprise"]["credit_code"])
            page.fill("#plan-text", bad)
            page.click("#upload-submit")
            line = page.wait_for_selector("#line-33.pl-bad-line")
            assert "scenarios[1].required_forces[0].count" in line.inner_text()
            versions = requests.get(f"{hub.url}/api/v1/plans/{planned['plan_id']}/versions",
                                    headers=headers, timeout=10).json()
            assert len(versions) == len(planned["drafts"]) + 1

            # printable pocket cards with their QR codes
            page.goto(hub.url + f"/plans/{eid}/cards")
            page.wait_for_selector(".pocket-card .pocket-qr svg")
            assert page.locator(".pocket-card").count() == planned["pocket_cards"]
            page.goto(hub.url + f"/plans/{eid}/cards/0")
            page.wait_for_selector(".pocket-card")
            assert page.locator(".pocket-card").count() == 1

            # the cover map with isochrones and the station-out selector
            page.goto(hub.url + "/coverage")
            page.wait_for_selector(".cov-enterprise")
            page.wait_for_selector(".cov-legend-item")
            page.select_option("#station-out", index=1)
            page.wait_for_selector("#station-effect :is(ul, p)")
            browser.close()
            # the refused upload is the one failed request the browser reports
            assert [e for e in errors if "status of 422" not in e] == []
