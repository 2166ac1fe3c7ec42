"""Who may call what: every route in app.url_map and every Socket.IO event, with every role.

A new route or event fails this test until it is classified in ROUTES or EVENTS below, so
nobody adds an endpoint without deciding who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.helpers import ALL_ROLES, LOGIN_OF, NO_SUCH_ID, ROLES, app_for, login
from web.extensions import socketio

PUBLIC = "public"  # no token needed (health, login, page shells, static files, the API doc)
INGEST = "ingest"  # an enterprise's sensor ingest token, never a user's token

D, U, T, A = "duty_officer", "unit", "trainer", "admin"
OFFICERS = frozenset({D, A})
VIEWERS = frozenset({D, A, T})
MANAGERS = frozenset({T, A})

# (method, rule) -> the roles allowed through, PUBLIC or INGEST
ROUTES: dict[tuple[str, str], Any] = {
    # pages and assets: shells only, the data behind them needs a token
    ("GET", "/"): PUBLIC,
    ("GET", "/unit"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/trainer"): PUBLIC,
    ("GET", "/trainer/drills/<int:drill_id>/report"): PUBLIC,
    ("GET", "/trainer/drills/<int:drill_id>/evaluate"): PUBLIC,
    ("GET", "/trainer/drills/<int:drill_id>/evaluation"): PUBLIC,
    # the spine
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/map/info"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ALL_ROLES,
    ("GET", "/api/v1/me"): ALL_ROLES,
    ("GET", "/api/v1/units"): ALL_ROLES,
    ("GET", "/api/v1/events"): ALL_ROLES,
    ("GET", "/api/v1/map/roads"): ALL_ROLES,
    ("GET", "/api/v1/board"): frozenset({U}),
    ("GET", "/api/v1/enterprises"): VIEWERS,
    ("GET", "/api/v1/enterprises/<int:enterprise_id>"): VIEWERS,
    ("GET", "/api/v1/stations"): VIEWERS,
    ("POST", "/api/v1/incidents"): OFFICERS,
    ("GET", "/api/v1/incidents"): VIEWERS,
    ("GET", "/api/v1/incidents/<int:incident_id>"): VIEWERS,
    # trainers pass the gate; the service lets them touch exercise incidents only
    ("PATCH", "/api/v1/incidents/<int:incident_id>"): VIEWERS,
    ("GET", "/api/v1/incidents/<int:incident_id>/events"): VIEWERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/close"): VIEWERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/assignments"): OFFICERS,
    ("DELETE", "/api/v1/incidents/<int:incident_id>/assignments/<int:unit_id>"): VIEWERS,
    ("POST", "/api/v1/tasks/<int:task_id>"): frozenset({U, D, A}),
    ("POST", "/api/v1/units/<int:unit_id>/status"): frozenset({U, D, A}),
    ("POST", "/api/v1/units/<int:unit_id>/position"): frozenset({U, A}),
    # drills
    ("POST", "/api/v1/drills"): MANAGERS,
    ("GET", "/api/v1/drills"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/reveal"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/pause"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/resume"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/end"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/injects/<int:index>/fire"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/report"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/report.csv"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/improvements"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/playback"): MANAGERS,
    ("GET", "/api/v1/incidents/<int:incident_id>/playback"): VIEWERS,
    # drill programme and evaluation (AQ/T 9007 / 9009)
    ("PUT", "/api/v1/drills/<int:drill_id>/programme"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/programme"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/phase"): MANAGERS,
    ("POST", "/api/v1/drills/<int:drill_id>/observations"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/observations"): MANAGERS,
    ("PATCH", "/api/v1/drills/<int:drill_id>/improvements/<int:item_id>"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/evaluation"): MANAGERS,
    ("GET", "/api/v1/drills/<int:drill_id>/evaluation.csv"): MANAGERS,
    ("POST", "/api/v1/enterprise-drills"): OFFICERS,
    ("GET", "/api/v1/enterprise-drills"): VIEWERS,
    ("GET", "/api/v1/drill-obligations"): VIEWERS,
    ("GET", "/api/v1/plan-revision-flags"): VIEWERS,
    # the plan lifecycle: the county's staff record review and issue, and file
    ("POST", "/api/v1/plans/<int:plan_id>/versions/<int:version>/review"): OFFICERS,
    ("POST", "/api/v1/plans/<int:plan_id>/versions/<int:version>/issue"): OFFICERS,
    ("POST", "/api/v1/plans/<int:plan_id>/versions/<int:version>/file"): OFFICERS,
    ("GET", "/api/v1/plans/<int:plan_id>/versions/<int:version>/filing-record"): VIEWERS,
    ("POST", "/api/v1/plans/<int:plan_id>/revision-flags"): OFFICERS,
    ("GET", "/api/v1/plans/filing-status"): OFFICERS,
    ("GET", "/plans/<int:plan_id>/versions/<int:version>/filing-record"): PUBLIC,
    # emergency resources; trainers request them on exercise incidents only (the desk says)
    ("GET", "/api/v1/resources"): VIEWERS,
    ("GET", "/api/v1/incidents/<int:incident_id>/resources"): VIEWERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/resource-requests"): VIEWERS,
    # officers see real-incident statistics, trainers drill statistics (the view decides)
    ("GET", "/api/v1/statistics"): VIEWERS,
    # sensors
    ("POST", "/api/v1/sensors/readings"): INGEST,
    ("POST", "/api/v1/enterprises/<int:enterprise_id>/ingest-token"): frozenset({A}),
    ("GET", "/api/v1/sensors"): VIEWERS,
    ("GET", "/api/v1/sensors/stats"): OFFICERS,
    ("GET", "/api/v1/sensors/warnings"): VIEWERS,
    ("GET", "/api/v1/sensors/faults"): VIEWERS,
    ("POST", "/api/v1/sensors/warnings/<int:warning_id>/ack"): OFFICERS,
    ("POST", "/api/v1/sensors/warnings/<int:warning_id>/silence"): OFFICERS,
    ("POST", "/api/v1/sensors/warnings/<int:warning_id>/dismiss"): OFFICERS,
    # notification checklist, road closures, live cover
    ("POST", "/api/v1/incidents/<int:incident_id>/notifications/<int:check_id>"): OFFICERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/first-report"): OFFICERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/government-level"): OFFICERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/accident-report"): OFFICERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/accident-report/follow-ups"): OFFICERS,
    ("POST", "/api/v1/incidents/<int:incident_id>/accident-report/steps/<level>/sent"): OFFICERS,
    ("GET", "/api/v1/incidents/<int:incident_id>/accident-report"): OFFICERS,
    ("GET", "/api/v1/coverage/now"): OFFICERS,
    ("GET", "/api/v1/closures"): OFFICERS,
    ("POST", "/api/v1/closures"): OFFICERS,
    ("DELETE", "/api/v1/closures/<int:closure_id>"): OFFICERS,
    ("GET", "/api/v1/coverage"): VIEWERS,
    ("GET", "/api/v1/coverage/isochrones"): VIEWERS,
    ("GET", "/coverage"): PUBLIC,
    # plans: officers upload drafts, only an admin approves or sets the county default
    ("GET", "/api/v1/plans/schema"): PUBLIC,
    ("GET", "/api/v1/plans"): VIEWERS,
    ("GET", "/api/v1/plans/overdue"): VIEWERS,
    ("GET", "/api/v1/plans/county-default"): VIEWERS,
    ("POST", "/api/v1/plans/county-default/versions"): frozenset({A}),
    ("GET", "/api/v1/enterprises/<int:enterprise_id>/plan"): VIEWERS,
    ("GET", "/api/v1/enterprises/<int:enterprise_id>/plan/cards"): VIEWERS,
    ("POST", "/api/v1/enterprises/<int:enterprise_id>/plans"): OFFICERS,
    ("GET", "/api/v1/plans/<int:plan_id>/versions"): VIEWERS,
    ("GET", "/api/v1/plans/<int:plan_id>/versions/<int:version>"): VIEWERS,
    ("GET", "/api/v1/plans/<int:plan_id>/versions/<int:version>/export"): VIEWERS,
    ("POST", "/api/v1/plans/<int:plan_id>/versions/<int:version>/approve"): frozenset({A}),
    ("GET", "/plans"): PUBLIC,
    ("GET", "/plans/default"): PUBLIC,
    ("GET", "/plans/default/upload"): PUBLIC,
    ("GET", "/plans/<int:enterprise_id>"): PUBLIC,
    ("GET", "/plans/<int:enterprise_id>/upload"): PUBLIC,
    ("GET", "/plans/<int:enterprise_id>/cards"): PUBLIC,
    ("GET", "/plans/<int:enterprise_id>/cards/<int:index>"): PUBLIC,
    # accounts: administrators only
    ("GET", "/api/v1/users"): frozenset({A}),
    ("POST", "/api/v1/users"): frozenset({A}),
    ("PATCH", "/api/v1/users/<int:user_id>"): frozenset({A}),
    ("POST", "/api/v1/users/<int:user_id>/revoke"): frozenset({A}),
}

# Socket.IO client events on /hub -> the roles allowed to send them
EVENTS: dict[str, frozenset[str]] = {
    "ack": frozenset({U}),
    "delivered": frozenset({U}),
    "task.update": frozenset({U, D, A}),
    "unit.status": frozenset({U}),
    "position": frozenset({U}),
    "resync": ALL_ROLES,
}

# rules the issue reserves for one role, whoever writes the module
ADMIN_ONLY = re.compile(r"/(users|accounts)(/|$)|/approve(/|$)|/ingest-token$")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def app_routes(app: Any) -> dict[tuple[str, str], str]:
    out = {}
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out[(method, rule.rule)] = rule.endpoint
    return out


def expected_roles(method: str, rule: str) -> Any:
    """The table's entry for a route; a route nobody classified fails with the fix to make."""
    if (method, rule) not in ROUTES:
        pytest.fail(f"{method} {rule} is not classified: add it to ROUTES in "
                    "tests/web/test_roles_matrix.py with the roles allowed to call it "
                    "(and describe it in web/openapi.py if it is under /api/)")
    return ROUTES[(method, rule)]


@pytest.fixture
def matrix_app(db_url: str) -> Iterator[Any]:
    with app_for(db_url, LOGIN_RATE_LIMIT="1000/60") as app:
        yield app


class Tokens:
    """One token per role, renewed after a request that revokes it (logout)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, role: str) -> dict[str, Any]:
        if role not in self.data:
            self.data[role] = login(self.client, LOGIN_OF[role])
        return self.data[role]

    def forget(self, role: str) -> None:
        self.data.pop(role, None)


def _fill(rule: str, role: str, tokens: Tokens) -> str:
    """A concrete URL for a rule: ids that name nothing, except the caller's own unit."""

    def sub(m: re.Match[str]) -> str:
        conv, name = m.group(1), m.group(2)
        if name == "unit_id" and role == U:
            return str(tokens.get(U)["unit_id"])
        if conv == "path":
            return "css/trainer.css"
        return str(NO_SUCH_ID)

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", sub, rule)


def test_every_route_is_classified(matrix_app: Any) -> None:
    routes = app_routes(matrix_app)
    unclassified = sorted(set(routes) - set(ROUTES))
    assert not unclassified, (
        "new routes must be classified in tests/web/test_roles_matrix.py ROUTES: "
        f"{unclassified}")
    gone = sorted(set(ROUTES) - set(routes))
    assert not gone, f"ROUTES lists routes the app no longer has: {gone}"


def test_require_decorators_match_the_table(matrix_app: Any) -> None:
    """The roles each view declares with @require are exactly the table's."""
    for (method, rule), endpoint in app_routes(matrix_app).items():
        expected = expected_roles(method, rule)
        declared = getattr(matrix_app.view_functions[endpoint], "allowed_roles", None)
        if expected in (PUBLIC, INGEST):
            assert declared is None, f"{method} {rule} is {expected} but uses @require"
            continue
        assert declared is not None, f"{method} {rule} has no @require"
        roles = {r.value for r in declared} or set(ALL_ROLES)
        assert roles == set(expected), f"{method} {rule}: declared {roles}, table {expected}"


def test_reserved_routes_and_trainer_writes(matrix_app: Any) -> None:
    """Only admins manage users, approve plans and issue ingest tokens; a trainer changes
    nothing outside drills and (exercise) incidents."""
    for (method, rule), expected in ROUTES.items():
        if expected in (PUBLIC, INGEST):
            continue
        if ADMIN_ONLY.search(rule) and method in UNSAFE:
            assert expected == frozenset({A}), f"{method} {rule} must be admin-only"
        if T in expected and method in UNSAFE:
            assert (rule.startswith("/api/v1/drills") or rule.startswith("/api/v1/incidents")
                    or rule == "/api/v1/auth/logout"), f"trainer may {method} {rule}"


def test_every_route_with_every_role(matrix_app: Any) -> None:
    client = matrix_app.test_client()
    tokens = Tokens(client)
    failures: list[str] = []
    for (method, rule), endpoint in sorted(app_routes(matrix_app).items()):
        expected = expected_roles(method, rule)
        for role in ROLES:
            url = _fill(rule, role, tokens)
            headers = {} if role == "anonymous" else dict(tokens.get(role)["headers"])
            kwargs: dict[str, Any] = {"headers": headers}
            if method in UNSAFE:
                kwargs["json"] = {}
            resp = client.open(url, method=method, **kwargs)
            if endpoint == "api.auth_logout" and role != "anonymous":
                tokens.forget(role)
            status = resp.status_code
            text = resp.get_data()[:200].decode("utf-8", "replace")
            where = f"{method} {url} as {role}: {status} {text}"
            if status >= 500:
                failures.append(f"server error: {where}")
            elif expected == PUBLIC:
                if status in (401, 403):
                    failures.append(f"public route refused: {where}")
            elif expected == INGEST:
                if status != 401:
                    failures.append(f"ingest route accepted a user token: {where}")
            elif role == "anonymous":
                if status != 401:
                    failures.append(f"anonymous not 401: {where}")
            elif role in expected:
                if status in (401, 403):
                    failures.append(f"allowed role refused: {where}")
            else:
                body = resp.get_json(silent=True) or {}
                if status != 403 or body.get("error", {}).get("code") != "forbidden":
                    failures.append(f"role not refused with 403: {where}")
            if rule.startswith("/api/") and status >= 400:
                body = resp.get_json(silent=True)
                if not (isinstance(body, dict) and isinstance(body.get("error"), dict)
                        and {"code", "message", "field"} <= set(body["error"])):
                    failures.append(f"error without the JSON error body: {where}")
    assert not failures, "\n".join(failures)


def _payload(event: str, unit: dict[str, Any] | None) -> dict[str, Any]:
    """A well-formed payload that names nothing real (or the caller's own unit)."""
    return {
        "ack": {"incident_id": NO_SUCH_ID},
        "delivered": {"incident_id": NO_SUCH_ID},
        "task.update": {"task_id": NO_SUCH_ID, "status": "done"},
        "unit.status": {"status": "available"},
        "position": ({"lat": unit["position"]["lat"], "lon": unit["position"]["lon"]}
                     if unit else {"lat": 0.0, "lon": 0.0}),
        "resync": {"since_seq": 0},
    }.get(event, {})


def registered_events() -> set[str]:
    handlers = socketio.server.handlers.get("/hub", {})
    return set(handlers) - {"connect", "disconnect"}


def test_every_socketio_event_is_classified(matrix_app: Any) -> None:
    from web.hub import EVENTS as HUB_EVENTS

    events = registered_events()
    assert not sorted(events - set(EVENTS)), (
        "new Socket.IO events must be classified in test_roles_matrix.py EVENTS: "
        f"{sorted(events - set(EVENTS))}")
    assert set(EVENTS) <= events, f"EVENTS lists unknown events: {set(EVENTS) - events}"
    for name, roles in EVENTS.items():
        fn = HUB_EVENTS.get(name)
        assert fn is not None, f"{name} is not registered through web.hub.handler"
        assert {r.value for r in fn.allowed_roles} == set(roles), name


def test_every_socketio_event_with_every_role(matrix_app: Any) -> None:
    client = matrix_app.test_client()
    tokens = Tokens(client)
    anonymous = socketio.test_client(matrix_app, namespace="/hub")
    assert not anonymous.is_connected("/hub"), "a connection without a token is refused"
    bad = socketio.test_client(matrix_app, namespace="/hub", auth={"token": "nope"})
    assert not bad.is_connected("/hub")
    failures: list[str] = []
    for role in sorted(ALL_ROLES):
        data = tokens.get(role)
        c = socketio.test_client(matrix_app, namespace="/hub", auth={"token": data["token"]})
        assert c.is_connected("/hub"), role
        unit = None
        if role == U:
            units = client.get("/api/v1/units", headers=data["headers"]).get_json()
            unit = units[0]
        for event in sorted(EVENTS):
            c.get_received("/hub")
            reply = c.emit(event, _payload(event, unit), namespace="/hub", callback=True)
            errors = [r["args"][0] for r in c.get_received("/hub") if r["name"] == "error"]
            code = (reply or {}).get("error", {}).get("code") if isinstance(reply, dict) else None
            where = f"{event} as {role}: {reply}"
            if code == "internal":
                failures.append(f"handler crashed: {where}")
            if role in EVENTS[event]:
                if code in ("forbidden", "unauthorized"):
                    failures.append(f"allowed role refused: {where}")
            else:
                if code != "forbidden" or not errors or errors[-1]["code"] != "forbidden":
                    failures.append(f"role not refused: {where}")
        c.disconnect("/hub")
    assert not failures, "\n".join(failures)
