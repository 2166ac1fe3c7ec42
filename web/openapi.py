"""The OpenAPI 3.1 document of the REST API, generated from the app itself.

Nothing is listed by hand: every rule under /api/ in ``app.url_map`` becomes an operation.
For each view the generator reads

* who may call it: ``allowed_roles`` left by ``web.auth.require``;
* its request body: the pydantic model passed to ``body(Model)`` in the view's source (or
  ``@documented(body=...)``), as ``model_json_schema()``;
* its query parameters: the ``request.args.get("name")`` calls in the view's source;
* its success status: ``return ..., 201`` in the view's source, else 200;
* its success body: ``RESPONSES`` below or ``@documented(response=...)``; a route nobody
  described yet is documented as "any JSON" until its author says more;
* its errors: the one error body ``{"error": {"code", "message", "field"}}`` for every 4xx
  the hub produces (400 malformed JSON, 401, 403, 404, 409, 413, 422, 429 for login).

Socket.IO events are listed under ``x-socketio`` from the hub's registered handlers.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from command.models import IncidentKind, IncidentStatus, Role, UnitStatus
from web.security import CSRF_HEADER, MAX_ID, cookie_name

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
HIDDEN_METHODS = {"HEAD", "OPTIONS"}
# routes anyone may call without a token
PUBLIC = {"api.health", "api.auth_login", "api.map_info", "openapi.openapi_json",
          "plans.plan_schema"}
# routes that take a bearer token that is not a user's (no roles, no session cookie)
TOKEN_ONLY = {"sensors.post_readings": "an enterprise's sensor ingest token"}


# ---- response models ---------------------------------------------------------------------


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Model):
    code: str
    message: str
    field: str | None


class ErrorBody(Model):
    """Every 4xx and 5xx: what went wrong and which field of the request."""

    error: ErrorDetail


class Point(Model):
    lat: float
    lon: float


class StationOut(Model):
    id: int
    name: str
    alt_name: str
    kind: str
    lat: float
    lon: float
    in_service: bool


class UnitOut(Model):
    id: int
    callsign: str
    kind: str
    capabilities: list[str]
    status: UnitStatus
    status_since: str | None
    position: Point
    station: StationOut | None
    incident_id: int | None
    county_id: int | None


class AssignmentOut(Model):
    id: int
    incident_id: int
    unit_id: int
    callsign: str | None
    capability: str
    status: Literal["active", "released"]
    eta_s: float
    travel_s: float
    turnout_s: float
    distance_m: float
    deadline_s: float | None
    late: bool
    route: dict[str, Any] | None
    staging: dict[str, Any] | None
    created_at: str | None
    delivered_at: str | None
    acked_at: str | None
    released_at: str | None


class TaskOut(Model):
    id: int
    incident_id: int
    unit_id: int | None
    title: str
    details: str
    capability: str
    order: int
    deadline_s: float | None
    status: Literal["pending", "done"]
    done_at: str | None


class EnterpriseBrief(Model):
    id: int
    name: str
    alt_name: str
    address: str
    lat: float
    lon: float


class IncidentOut(Model):
    id: int
    kind: IncidentKind
    status: IncidentStatus
    exercise: bool
    source: str
    enterprise_id: int | None
    enterprise: EnterpriseBrief | None
    location: Point
    address: str
    chemical: str | None
    severity: int
    casualties: int
    description: str
    plan: dict[str, Any] | None
    match_reason: str
    match_reason_parts: list[dict[str, Any]]
    drill_id: int | None
    response_level: str | None
    wind: dict[str, Any] | None
    spill: str | None
    isolation: dict[str, Any] | None
    assignments: list[AssignmentOut]
    unmet: list[Any]
    coverage_gaps: list[Any]
    tasks: list[TaskOut]
    county_id: int | None
    reported_by: str
    created_at: str | None
    closed_at: str | None
    # {text, sent_to, sent_at, by, late, elapsed_s} once the first report upward is sent
    first_report: dict[str, Any] | None = None
    # later reports the officer attached instead of opening a duplicate incident
    attached_reports: list[Any] = []
    # {value, max, en, zh}: 1 is the mildest
    severity_label: dict[str, Any] | None = None
    # the plan's level and the government's, each labelled (I is the most severe)
    response_level_label: dict[str, Any] | None = None
    government_response: dict[str, Any] | None = None
    # order No. 493: first report, grade, follow-ups, upward chain with countdowns
    accident_report: dict[str, Any] | None = None


class AccidentReportOut(Model):
    # None until the first report is filed; unsent steps carry overdue as of now
    accident_report: dict[str, Any] | None


class EnterpriseOut(Model):
    id: int
    name: str
    alt_name: str
    credit_code: str
    address: str
    location: Point
    industry: str
    park: str
    county_id: int | None
    max_grade: int | None
    chemicals: list[str]
    plan: dict[str, Any] | None
    contacts: dict[str, Any] = {}
    people_within_500m: int = 0
    installations: list[dict[str, Any]] = []


class EventOut(Model):
    seq: int
    type: str
    incident_id: int | None
    at: str
    exercise: bool
    data: dict[str, Any]


class BoardBody(Model):
    incident: dict[str, Any]
    assignment: AssignmentOut
    tasks: list[TaskOut]
    pocket_cards: list[Any]
    notes: list[str]


class BoardOut(Model):
    board: BoardBody | None
    seq: Annotated[int, Field(ge=0, description="the last event seq the board reflects")]


class LoginOut(Model):
    token: Annotated[str | None, Field(description="the bearer token; null in cookie mode, "
                                                   "where only the HttpOnly cookie carries it")]
    role: Role
    unit_id: int | None
    username: str
    region_id: int | None
    expires_in: int
    csrf_token: Annotated[str | None, Field(description=f"cookie mode only: send it as "
                                                        f"{CSRF_HEADER} on unsafe methods")] = None


class MeOut(Model):
    username: str
    role: Role
    unit_id: int | None
    region_id: int | None
    language: str


class GraphInfo(Model):
    nodes: int
    edges: int


class HealthOut(Model):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    database_engine: str
    graph: GraphInfo


class MapInfoOut(Model):
    bbox: Annotated[list[float], Field(min_length=4, max_length=4)]
    attribution: str
    tile_url: str | None


class StatusOut(Model):
    status: str


class UserOut(Model):
    id: int
    username: str
    role: Role
    unit_id: int | None
    region_id: int | None
    active: bool
    language: str
    live_tokens: int


class FeatureCollection(Model):
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


# success bodies of routes whose source says nothing about them
RESPONSES: dict[str, Any] = {
    "api.health": HealthOut,
    "api.auth_login": LoginOut,
    "api.auth_logout": StatusOut,
    "api.me": MeOut,
    "api.enterprises": list[EnterpriseOut],
    "api.enterprise": EnterpriseOut,
    "api.units": list[UnitOut],
    "api.stations": list[StationOut],
    "api.report_incident": IncidentOut,
    "api.list_incidents": list[IncidentOut],
    "api.get_incident": IncidentOut,
    "api.change_incident": IncidentOut,
    "api.incident_events": list[EventOut],
    "api.close_incident": IncidentOut,
    "api.first_report": IncidentOut,
    "api.government_level": IncidentOut,
    "api.accident_first_report": IncidentOut,
    "api.accident_follow_up": IncidentOut,
    "api.accident_step_sent": IncidentOut,
    "api.accident_report": AccidentReportOut,
    "api.add_unit": IncidentOut,
    "api.release_unit": IncidentOut,
    "api.update_task": TaskOut,
    "api.unit_status": UnitOut,
    "api.unit_position": StatusOut,
    "api.board": BoardOut,
    "api.events": list[EventOut],
    "api.map_roads": FeatureCollection,
    "api.map_info": MapInfoOut,
    "openapi.openapi_json": {"type": "object", "required": ["openapi", "paths"]},
    "admin.list_users": list[UserOut],
    "admin.add_user": UserOut,
    "admin.change_user": UserOut,
}

# query parameters typed more precisely than "a string"
QUERY: dict[str, dict[str, dict[str, Any]]] = {
    "api.events": {"since": {"type": "integer", "minimum": 0, "maximum": MAX_ID}},
    "api.list_incidents": {"status": {"type": "string", "enum": ["active", "closed"]}},
}

# bodies read without body(Model)
BODIES: dict[str, dict[str, Any]] = {
    "sensors.post_readings": {
        "type": "object", "required": ["readings"],
        "properties": {"readings": {"type": "array", "items": {"type": "object"}}},
    },
}


# routes that read or answer something other than one JSON document
_PLAN_FILE = {"application/json": {"schema": {"type": "object"}},
              "application/yaml": {"schema": {"type": "string"}},
              "text/yaml": {"schema": {"type": "string"}}}
REQUEST_CONTENT: dict[str, dict[str, Any]] = {
    "plans.upload_plan": _PLAN_FILE,
    "plans.upload_county_default": _PLAN_FILE,
}
RESPONSE_CONTENT: dict[str, dict[str, Any]] = {
    # the plan file as authored, or converted by ?format=
    "plans.export_version": {"application/yaml": {"schema": {"type": "object"}},
                             "application/json": {"schema": {"type": "object"}}},
}


def documented(*, body: Any = None, response: Any = None, status: int | None = None,
               query: dict[str, dict[str, Any]] | None = None,
               content_type: str | None = None) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document where its source cannot say it.

    ``body``/``response`` are pydantic models, ``list[Model]`` or JSON Schema dicts."""

    def decorator(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "body": body, "response": response, "status": status, "query": query or {},
            "content_type": content_type}
        return view

    return decorator


# ---- reading a view ----------------------------------------------------------------------


@dataclass
class ViewInfo:
    body: Any = None
    body_required: bool = True
    query: list[str] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    content_type: str | None = None


def _is_request_args_get(node: ast.Call) -> str | None:
    f = node.func
    if (isinstance(f, ast.Attribute) and f.attr in ("get", "getlist")
            and isinstance(f.value, ast.Attribute) and f.value.attr == "args"
            and isinstance(f.value.value, ast.Name) and f.value.value.id == "request"
            and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def inspect_view(view: Callable[..., Any]) -> ViewInfo:
    """What the view's own source says about its body, query, status and content type."""
    info = ViewInfo()
    fn = inspect.unwrap(view)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return info
    optional_calls: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp):
            for sub in ast.walk(node):
                optional_calls.add(id(sub))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if (isinstance(node.func, ast.Name) and node.func.id == "body" and node.args
                    and isinstance(node.args[0], ast.Name)):
                model = fn.__globals__.get(node.args[0].id)
                if isinstance(model, type) and issubclass(model, BaseModel):
                    info.body = model
                    info.body_required = id(node) not in optional_calls
            name = _is_request_args_get(node)
            if name and name not in info.query:
                info.query.append(name)
            if isinstance(node.func, ast.Name) and node.func.id == "Response":
                for kw in node.keywords:
                    if kw.arg == "mimetype" and isinstance(kw.value, ast.Constant):
                        info.content_type = str(kw.value.value).split(";")[0].strip()
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            elts = node.value.elts
            if (len(elts) >= 2 and isinstance(elts[1], ast.Constant)
                    and isinstance(elts[1].value, int) and 200 <= elts[1].value < 300):
                info.statuses.add(elts[1].value)
    return info


def _doc_attr(view: Callable[..., Any]) -> dict[str, Any]:
    fn: Any = view
    while fn is not None:
        doc = getattr(fn, "openapi", None)
        if isinstance(doc, dict):
            return doc
        fn = getattr(fn, "__wrapped__", None)
    return {}


# ---- schemas -----------------------------------------------------------------------------


class _Schemas:
    """Collects every model first, then asks pydantic for all of them at once, so two
    models with the same class name in different modules get distinct component names."""

    def __init__(self) -> None:
        self.wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
        self.refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]] = {}
        self.components: dict[str, Any] = {}

    def want(self, spec: Any, mode: JsonSchemaMode) -> None:
        if isinstance(spec, type) and issubclass(spec, BaseModel):
            if (spec, mode) not in self.wanted:
                self.wanted.append((spec, mode))
        elif getattr(spec, "__origin__", None) is list:
            self.want(spec.__args__[0], mode)

    def resolve(self) -> None:
        key_map, defs = models_json_schema(self.wanted, ref_template=REF)
        self.refs = dict(key_map)
        self.components = dict(defs.get("$defs", {}))

    def of(self, spec: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        if spec is None:
            return {}
        if isinstance(spec, dict):
            return spec
        if isinstance(spec, type) and issubclass(spec, BaseModel):
            return dict(self.refs[(spec, mode)])
        if getattr(spec, "__origin__", None) is list:
            return {"type": "array", "items": self.of(spec.__args__[0], mode)}
        raise TypeError(f"cannot document {spec!r}")


# ---- the document ------------------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-zA-Z_]+)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][\w]*)>")


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params: list[dict[str, Any]] = []

    def sub(m: re.Match[str]) -> str:
        conv, name = m.group("conv") or "string", m.group("name")
        if conv == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        elif conv == "float":
            schema = {"type": "number"}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _CONVERTER.sub(sub, rule), params


def _error_response(ref: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    def make(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    return make


def _roles(view: Callable[..., Any]) -> tuple[str, ...] | None:
    roles = getattr(view, "allowed_roles", None)
    if roles is None:
        return None
    return tuple(r.value for r in roles) or tuple(r.value for r in Role)


@dataclass
class _Op:
    path: str
    method: str
    endpoint: str
    view: Callable[..., Any]
    path_params: list[dict[str, Any]]
    info: ViewInfo
    doc: dict[str, Any]
    n_methods: int

    @property
    def body_spec(self) -> Any:
        if self.method not in ("POST", "PUT", "PATCH"):
            return None
        return self.doc.get("body") or self.info.body or BODIES.get(self.endpoint)

    @property
    def response_spec(self) -> Any:
        return self.doc.get("response") or RESPONSES.get(self.endpoint)


def _operations(app: Flask) -> list[_Op]:
    ops: list[_Op] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        path, path_params = _path_and_params(rule.rule)
        methods = sorted((rule.methods or set()) - HIDDEN_METHODS)
        info, doc = inspect_view(view), _doc_attr(view)
        for method in methods:
            ops.append(_Op(path, method, rule.endpoint, view, path_params, info, doc,
                           len(methods)))
    return ops


def _operation(op: _Op, schemas: _Schemas) -> dict[str, Any]:
    roles = _roles(op.view)
    public = op.endpoint in PUBLIC
    _error = _error_response(schemas.of(ErrorBody, "serialization"))
    out: dict[str, Any] = {
        "operationId": op.endpoint + ("" if op.n_methods == 1 else f"_{op.method.lower()}"),
        "tags": [op.endpoint.split(".")[0]],
        "summary": (inspect.getdoc(inspect.unwrap(op.view)) or op.endpoint).splitlines()[0],
    }
    if roles is not None:
        out["x-roles"] = list(roles)
        cookie = ({"sessionCookie": []} if op.method == "GET"
                  else {"sessionCookie": [], "csrfToken": []})
        out["security"] = [{"bearerAuth": []}, cookie]
    elif public:
        out["security"] = []
    elif op.endpoint in TOKEN_ONLY:
        out["security"] = [{"bearerAuth": []}]
        out["description"] = f"Bearer token: {TOKEN_ONLY[op.endpoint]}."
    params = list(op.path_params)
    query = {name: {"type": "string"} for name in op.info.query}
    query.update(QUERY.get(op.endpoint, {}))
    query.update(op.doc.get("query") or {})
    for name, schema in query.items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    if params:
        out["parameters"] = params
    if op.body_spec is not None:
        out["requestBody"] = {
            "required": bool(op.info.body_required),
            "content": {"application/json": {"schema": schemas.of(op.body_spec,
                                                                  "validation")}},
        }
    if op.endpoint in REQUEST_CONTENT:
        out["requestBody"] = {"required": True, "content": REQUEST_CONTENT[op.endpoint]}
    status = op.doc.get("status") or (min(op.info.statuses) if op.info.statuses else 200)
    content_type = op.doc.get("content_type") or op.info.content_type or "application/json"
    schema = (schemas.of(op.response_spec, "serialization")
              if content_type == "application/json" else {"type": "string"})
    responses: dict[str, Any] = {str(status): {
        "description": "success",
        "content": RESPONSE_CONTENT.get(op.endpoint) or {content_type: {"schema": schema}}}}
    if op.endpoint in REQUEST_CONTENT:
        responses["415"] = _error("the body's Content-Type is not one of those listed")
    responses["400"] = _error("malformed request (for example a body that is not JSON)")
    responses["404"] = _error("no such resource, or not in the caller's region")
    responses["413"] = _error("request body too large")
    responses["422"] = _error("invalid input; error.field names the field")
    if not public:
        responses["401"] = _error("missing, invalid, expired or revoked token")
        responses["403"] = _error("the caller's role may not do this, or a missing CSRF "
                                  "token on a cookie-authenticated request")
    if op.method != "GET":
        responses["409"] = _error("conflicts with the current state (for example the "
                                  "incident is closed)")
    if op.endpoint == "api.auth_login":
        responses["401"] = _error("invalid username or password")
        responses["429"] = {**_error("too many login attempts"), "headers": {
            "Retry-After": {"schema": {"type": "integer", "minimum": 1},
                            "description": "seconds to wait"}}}
    if op.endpoint == "api.health":
        responses["503"] = {"description": "database unreachable", "content": {
            "application/json": {"schema": schemas.of(HealthOut, "serialization")}}}
    out["responses"] = dict(sorted(responses.items()))
    return out


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api/ route of this app."""
    ops = _operations(app)
    schemas = _Schemas()
    schemas.want(ErrorBody, "serialization")
    schemas.want(HealthOut, "serialization")
    for op in ops:
        schemas.want(op.body_spec, "validation")
        schemas.want(op.response_spec, "serialization")
    schemas.resolve()
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    error_ref = schemas.of(ErrorBody, "serialization")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Redline hub API",
            "version": "1",
            "description": "Emergency command and dispatch. Errors are always "
                           '{"error": {"code", "message", "field"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "token from POST /api/v1/auth/login"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": cookie_name(app),
                                  "description": 'set by login with {"cookie": true}'},
                "csrfToken": {"type": "apiKey", "in": "header", "name": CSRF_HEADER,
                              "description": "csrf_token from the cookie-mode login answer"},
            },
        },
        "x-error-body": error_ref,
        "x-socketio": socketio_events(),
    }


def socketio_events() -> dict[str, Any]:
    """The client events of the /hub namespace with their payload schemas and roles."""
    from web import hub as hub_events
    from web.publisher import NAMESPACE

    out: dict[str, Any] = {}
    for name, fn in sorted(getattr(hub_events, "EVENTS", {}).items()):
        model = getattr(fn, "payload_model", None)
        roles = getattr(fn, "allowed_roles", None)
        out[name] = {
            "namespace": NAMESPACE,
            "roles": [r.value for r in (roles or tuple(Role))],
            "payload": (model.model_json_schema() if model is not None else None),
            "errors": "an `error` event {event, code, message, field}; nothing changes",
        }
    return out


@bp.get("/openapi.json")
def openapi_json() -> Any:
    """This API's OpenAPI 3.1 document (no authentication)."""
    cache = current_app.extensions.setdefault("redline.openapi", {})
    if "doc" not in cache:
        cache["doc"] = build(current_app)
    return jsonify(cache["doc"])
