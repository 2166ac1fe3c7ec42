"""The OpenAPI document covers every REST route, and a live hub keeps its promises under
schemathesis: no 5xx, every response as documented."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.liveserver import live_hub
from tests.security.helpers import app_for
from web.openapi import PUBLIC, TOKEN_ONLY

HIDDEN = {"HEAD", "OPTIONS"}
# operations whose success body is still documented as "any JSON". This list may only
# shrink: a new route must describe its answer (RESPONSES in web/openapi.py or @documented)
UNDESCRIBED = {
    "api.list_closures", "api.add_closure", "api.remove_closure", "api.coverage_now",
    "api.check_notification",
    "coverage.get_coverage", "coverage.get_isochrones",
    "drills.create_drill", "drills.list_drills", "drills.get_drill", "drills.end_drill",
    "drills.add_improvement", "drills.fire_inject", "drills.pause_drill",
    "drills.drill_playback", "drills.drill_report", "drills.resume_drill",
    "drills.reveal_drill", "drills.incident_playback", "drills.statistics",
    "sensors.issue_ingest_token", "sensors.list_sensors", "sensors.list_faults",
    "sensors.post_readings", "sensors.stats", "sensors.list_warnings", "sensors.ack_warning",
    "sensors.dismiss_warning", "sensors.silence_warning",
    "plans.enterprise_plan", "plans.pocket_cards", "plans.upload_plan", "plans.list_plans",
    "plans.plan_versions", "plans.plan_version", "plans.approve_version",
    "plans.county_default_plan", "plans.upload_county_default", "plans.overdue_plans",
    "plans.plan_schema",
}


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    with app_for(db_url) as app:
        yield app


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)


def test_every_rest_route_is_in_the_document(app: Any) -> None:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    in_app = {(m.lower(), _openapi_path(r.rule), r.endpoint)
              for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
              for m in (r.methods or set()) - HIDDEN}
    in_doc = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    missing = sorted((m.upper(), p) for m, p, _ in in_app if (m, p) not in in_doc)
    assert not missing, f"routes missing from /api/v1/openapi.json: {missing}"
    extra = sorted(in_doc - {(m, p) for m, p, _ in in_app})
    assert not extra, f"the document lists routes the app does not have: {extra}"
    undescribed = set()
    for method, path, endpoint in sorted(in_app):
        op = doc["paths"][path][method]
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where}: no summary (give the view a docstring)"
        names = set(re.findall(r"{(\w+)}", path))
        assert names == {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}, where
        view = app.view_functions[endpoint]
        roles = getattr(view, "allowed_roles", None)
        # exactly two kinds of route: public ones say so, every other one needs a bearer token
        if endpoint in PUBLIC:
            assert op.get("security") == [] and "x-roles" not in op, where
        else:
            assert {"bearerAuth": []} in op.get("security", []), f"{where}: no bearer auth"
            assert "401" in op["responses"], where
        if roles is None:
            assert endpoint in PUBLIC or endpoint in TOKEN_ONLY, (
                f"{where}: has no @require(...); list it in PUBLIC or TOKEN_ONLY if intended")
        else:
            declared = {r.value for r in roles} or {"duty_officer", "unit", "trainer", "admin"}
            assert set(op["x-roles"]) == declared, where
            assert {"401", "403"} <= set(op["responses"]), where
        for code, response in op["responses"].items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == doc["x-error-body"], f"{where} {code}"
        success = next(r for c, r in op["responses"].items() if c.startswith("2"))
        content = success.get("content") or {}
        if not any(c.get("schema") for c in content.values()):
            undescribed.add(endpoint)
    new = sorted(undescribed - UNDESCRIBED)
    assert not new, (f"describe the success body of {new} in web/openapi.py (RESPONSES) or "
                     "with @documented(response=...)")
    # the Socket.IO events are listed too, with their payloads and roles
    from web.hub import EVENTS

    assert set(doc["x-socketio"]) == set(EVENTS)


def test_only_public_routes_answer_without_a_token(app: Any) -> None:
    """What the document says matches what the hub does: with no credentials every route but
    the public ones answers 401, and the public ones never do."""
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - HIDDEN):
            status = client.open(url, method=method, json={}).status_code
            where = f"{method} {rule.rule} ({rule.endpoint})"
            if rule.endpoint in PUBLIC:
                assert status != 401, where
            else:
                assert status == 401, f"{where} answered {status} without a token"


def test_the_document_is_valid_openapi(app: Any) -> None:
    import schemathesis

    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(doc)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) == sum(len(v) for v in doc["paths"].values())


@pytest.mark.server
def test_schemathesis_against_a_live_hub(tmp_path: Path) -> None:
    """Fuzz every operation as a duty officer for a bounded time: zero 5xx, every status,
    content type, header and body as documented."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert st, "schemathesis is a test dependency (pip install -e '.[test]')"
    env = {"LOAD_DEMO": "1", "DRILL_SCHEDULER": "0", "LOGIN_RATE_LIMIT": "1000/60"}
    with live_hub(tmp_path, env) as hub:
        token = hub.login("duty")["token"]
        result = subprocess.run(
            [st, "run", hub.url + "/api/v1/openapi.json",
             "-H", f"Authorization: Bearer {token}",
             # logging out would revoke the token for every later request
             "--exclude-path", "/api/v1/auth/logout",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                         "response_headers_conformance,response_schema_conformance",
             "--phases", "coverage,fuzzing", "--max-examples", "3", "--max-time", "45",
             # one worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis calls
             # it while describing strategies
             "--workers", "1", "--request-timeout", "20", "--seed", "7", "--no-shrink",
             "--max-failures", "20"],
            # its run cache (.schemathesis/) goes to the test's directory, not the checkout
            cwd=tmp_path, capture_output=True, text=True, timeout=150)
        out = result.stdout
        log = hub.log_path.read_text(errors="replace")
    assert result.returncode == 0, (out[-8000:] + result.stderr[-2000:]
                                    + "\n--- hub log ---\n" + log[-4000:])
    assert "Traceback" not in log, log[-4000:]
