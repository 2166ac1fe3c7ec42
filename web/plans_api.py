"""Emergency plans over REST: schema, upload, versions, approval, export, pocket cards; pages.

Who may do what:
- the JSON Schema of a plan file is public (authoring tools fetch it);
- duty officers, admins and trainers read plans of the enterprises in their region (trainers
  build drills on them); the county default plan is readable by all three;
- duty officers and admins upload drafts for the enterprises of their region: the command room
  is where enterprises' files arrive, and a draft changes nothing an incident uses;
- only admins approve a version (the bureau's review) and upload the county default plan,
  which applies to every county.
Uploads and approvals go through command.plan_desk, which writes them to the event log
(`plan.drafted`, `plan.approved`) in the same transaction as the version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from command.auth import Actor
from command.models import Role
from command.plan_desk import PlanDesk
from plans.filing import LifecycleError
from plans.models import Enterprise, Plan, PlanStatus, PlanVersion
from plans.pocket import pocket_card_qr_svg
from plans.schema import PlanDocument, plan_json_schema
from plans.service import (
    EnterpriseNotFound,
    PlanConflict,
    PlanNotFound,
    StaleVersion,
    VersionAlreadyApproved,
    VersionNotFound,
    VersionSuperseded,
    document_of,
    export,
    get_version,
    list_versions,
    overdue_reviews,
    plan_of,
    versions_summary,
)
from plans.validation import Format, PlanError, PlanValidationError
from web.auth import current_actor, hub, require
from web.errors import ApiError, error_body

bp = Blueprint("plans", __name__, url_prefix="/api/v1")
pages = Blueprint("plans_pages", __name__)

VIEWERS = (Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
UPLOADERS = (Role.DUTY_OFFICER, Role.ADMIN)
JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MEDIA_TYPES: dict[str, str] = {"yaml": "application/yaml; charset=utf-8",
                               "json": "application/json; charset=utf-8"}

_NOT_FOUND = (PlanNotFound, EnterpriseNotFound, VersionNotFound)
_CONFLICT = (VersionAlreadyApproved, VersionSuperseded, StaleVersion, PlanConflict,
             LifecycleError)


@bp.errorhandler(PlanError)
def _plan_error(exc: PlanError) -> Any:
    if isinstance(exc, PlanValidationError):
        first = exc.problems[0] if exc.problems else None
        out = error_body("invalid_plan", exc.message, first.path if first else None)
        out["problems"] = [p.as_dict() for p in exc.problems]
        return jsonify(out), 422
    if isinstance(exc, _NOT_FOUND):
        return jsonify(error_body("not_found", exc.message, _field_of(exc))), 404
    if isinstance(exc, _CONFLICT):
        return jsonify(error_body("conflict", exc.message, "version")), 409
    return jsonify(error_body("invalid", exc.message)), 422


def _field_of(exc: PlanError) -> str:
    if isinstance(exc, EnterpriseNotFound):
        return "enterprise_id"
    if isinstance(exc, VersionNotFound):
        return "version"
    return "plan_id"


# ---- scope --------------------------------------------------------------------------------

def _counties(actor: Actor) -> frozenset[int] | None:
    return hub().service.region_counties(actor.region_id)


def _desk() -> PlanDesk:
    h = hub()
    return PlanDesk(h.service, h.graph.bbox)


def _enterprise(s: Session, actor: Actor, enterprise_id: int) -> Enterprise:
    """The enterprise if it exists and lies in the actor's region (404 otherwise)."""
    return _desk().enterprise_for(s, actor, enterprise_id)


def _plan(s: Session, actor: Actor, plan_id: int) -> Plan:
    """A plan the actor may see: the county default, or an enterprise plan in the region."""
    return _desk().plan_for(s, actor, plan_id)


# ---- views --------------------------------------------------------------------------------

def _enterprise_brief(e: Enterprise | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"id": e.id, "name": e.name, "alt_name": e.alt_name, "credit_code": e.credit_code,
            "park": e.park, "address": e.address, "location": {"lat": e.lat, "lon": e.lon},
            "contacts": e.contacts, "county_id": e.county_id,
            "max_grade": min((h.grade for h in e.installations), default=None)}


def _today() -> dt.date:
    return hub().service.clock().date()


def version_view(v: PlanVersion, *, document: bool, today: dt.date) -> dict[str, Any]:
    """A version's lifecycle fields, optionally with its document."""
    out = versions_summary([v])[0]
    out["plan_id"] = v.plan_id
    out["review_overdue"] = (v.status is PlanStatus.APPROVED and v.next_review is not None
                             and v.next_review < today)
    if document:
        out["document"] = v.document
    return out


def plan_view(s: Session, plan: Plan, today: dt.date) -> dict[str, Any]:
    """The plan with its version in force (and that version's document)."""
    versions = list_versions(s, plan.id)
    current = next((v for v in versions if v.version == plan.current_version), None)
    return {
        "plan_id": plan.id,
        "enterprise_id": plan.enterprise_id,
        "county_default": plan.is_county_default,
        "county_id": plan.county_id,
        "enterprise": _enterprise_brief(plan.enterprise),
        "current_version": plan.current_version,
        "current": version_view(current, document=True, today=today) if current else None,
        "versions": [version_view(v, document=False, today=today) for v in versions],
    }


def _plan_body() -> tuple[Format, str]:
    """The authored file from the request body, its format from the Content-Type."""
    mime = request.mimetype
    if mime in JSON_TYPES:
        fmt: Format = "json"
    elif mime in YAML_TYPES:
        fmt = "yaml"
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send the plan file as application/json, application/yaml or text/yaml",
                       "Content-Type")
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_body", "the plan file must be UTF-8 text", "body") \
            from None
    return fmt, text


# ---- REST ---------------------------------------------------------------------------------

@bp.get("/plans/schema")
def plan_schema() -> Any:
    """The JSON Schema plan files are validated against (YAML or JSON)."""
    resp = jsonify(plan_json_schema())
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/plans")
@require(*VIEWERS)
def list_plans() -> Any:
    """Every enterprise in the caller's region with its plan status, then the county default."""
    actor = current_actor()
    today = _today()
    counties = _counties(actor)
    out = []
    with hub().service.reading() as s:
        q = select(Enterprise).order_by(Enterprise.id)
        if counties is not None:
            q = q.where(Enterprise.county_id.in_(counties))
        rows: list[tuple[Enterprise | None, Plan | None]] = [
            (e, e.plan) for e in s.scalars(q)]
        rows.append((None, plan_of(s, None)))
        for e, plan in rows:
            versions = list_versions(s, plan.id) if plan else []
            current = next((v for v in versions if plan and v.version == plan.current_version),
                           None)
            drafts = [v.version for v in versions if v.status is PlanStatus.DRAFT]
            out.append({
                "enterprise": _enterprise_brief(e),
                "county_default": e is None,
                "plan_id": plan.id if plan else None,
                "current_version": plan.current_version if plan else None,
                "current": version_view(current, document=False, today=today)
                if current else None,
                "scenarios": len(current.document.get("scenarios", [])) if current else 0,
                "pocket_cards": len(current.document.get("pocket_cards", [])) if current else 0,
                "drafts": drafts,
                "latest_version": versions[-1].version if versions else None,
            })
    return jsonify(out)


@bp.get("/plans/overdue")
@require(*VIEWERS)
def overdue_plans() -> Any:
    """Plans in force whose review date has passed (re-assess at least every three years)."""
    actor = current_actor()
    today = _today()
    counties = _counties(actor)
    out = []
    with hub().service.reading() as s:
        for v in overdue_reviews(s, today):
            e = v.plan.enterprise
            if e is not None and counties is not None and e.county_id not in counties:
                continue
            out.append({**version_view(v, document=False, today=today),
                        "enterprise": _enterprise_brief(e),
                        "county_default": v.plan.is_county_default,
                        "days_overdue": (today - v.next_review).days if v.next_review else None})
    return jsonify(out)


def _county_arg(actor: Any) -> int | None:
    """The county_id query parameter, or the caller's own region."""
    raw = request.args.get("county_id")
    if raw is None:
        return actor.region_id
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise ApiError(422, "invalid", "county_id must be a positive integer", "county_id")
    return int(raw)


@bp.get("/plans/county-default")
@require(*VIEWERS)
def county_default_plan() -> Any:
    """The county default plan (used when an enterprise plan has nothing for a report)."""
    actor = current_actor()
    county = _county_arg(actor)
    counties = hub().service.region_counties(actor.region_id)
    if counties is not None and county not in counties:
        raise PlanNotFound("no county default plan is stored for that county")
    with hub().service.reading() as s:
        # the county's own default, else its nearest higher region's, else the platform's
        plan = next((p for p in (plan_of(s, None, r) for r in
                                 [*hub().service.county_ancestors(county), None])
                     if p is not None), None)
        if plan is None:
            raise PlanNotFound("no county default plan is stored")
        return jsonify(plan_view(s, plan, _today()))


@bp.post("/plans/county-default/versions")
@require(Role.ADMIN)
def upload_county_default() -> Any:
    """Store a county default plan file (YAML or JSON body) as a new draft version."""
    fmt, text = _plan_body()
    actor = current_actor()
    version = _desk().draft(actor, None, text, fmt, county_id=_county_arg(actor))
    return jsonify(version_view(version, document=True, today=_today())), 201


@bp.get("/enterprises/<int:enterprise_id>/plan")
@require(*VIEWERS)
def enterprise_plan(enterprise_id: int) -> Any:
    """The enterprise's plan: the version in force with its document, and every version."""
    actor = current_actor()
    with hub().service.reading() as s:
        e = _enterprise(s, actor, enterprise_id)
        plan = plan_of(s, e.id)
        if plan is None:
            raise PlanNotFound(f"enterprise {enterprise_id} has no plan yet")
        return jsonify(plan_view(s, plan, _today()))


@bp.post("/enterprises/<int:enterprise_id>/plans")
@require(*UPLOADERS)
def upload_plan(enterprise_id: int) -> Any:
    """Store a plan file (YAML or JSON body, by Content-Type) as a new draft version.

    Refused with 422 and every problem (path, message, line) when the file is invalid;
    nothing is saved then.
    """
    actor = current_actor()
    with hub().service.reading() as s:
        _enterprise(s, actor, enterprise_id)  # 404 before looking at the body
    fmt, text = _plan_body()
    version = _desk().draft(actor, enterprise_id, text, fmt)
    return jsonify(version_view(version, document=True, today=_today())), 201


@bp.get("/plans/<int:plan_id>/versions")
@require(*VIEWERS)
def plan_versions(plan_id: int) -> Any:
    """Every version of a plan, oldest first (without documents)."""
    actor = current_actor()
    today = _today()
    with hub().service.reading() as s:
        _plan(s, actor, plan_id)
        return jsonify([version_view(v, document=False, today=today)
                        for v in list_versions(s, plan_id)])


@bp.get("/plans/<int:plan_id>/versions/<int:version>")
@require(*VIEWERS)
def plan_version(plan_id: int, version: int) -> Any:
    """One version with its document (drafts too, for review before approval)."""
    actor = current_actor()
    with hub().service.reading() as s:
        _plan(s, actor, plan_id)
        return jsonify(version_view(get_version(s, plan_id, version), document=True,
                                    today=_today()))


@bp.post("/plans/<int:plan_id>/versions/<int:version>/approve")
@require(Role.ADMIN)
def approve_version(plan_id: int, version: int) -> Any:
    """Make a draft the version in force; the one before becomes superseded."""
    row = _desk().approve(current_actor(), plan_id, version)
    return jsonify(version_view(row, document=False, today=_today()))


@bp.get("/plans/<int:plan_id>/versions/<int:version>/export")
@require(*VIEWERS)
def export_version(plan_id: int, version: int) -> Any:
    """The file as authored (format=yaml|json; default the authored format)."""
    actor = current_actor()
    fmt = request.args.get("format")
    if fmt not in (None, "yaml", "json"):
        raise ApiError(422, "invalid", "format must be yaml or json", "format")
    with hub().service.reading() as s:
        _plan(s, actor, plan_id)
        row = get_version(s, plan_id, version)
        chosen: Format = fmt or row.source_format  # type: ignore[assignment]
        text = export(row, chosen)
    resp = Response(text.encode("utf-8"), content_type=MEDIA_TYPES[chosen])
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="plan-{plan_id}-v{version}.{chosen}"')
    return resp


@bp.get("/enterprises/<int:enterprise_id>/plan/cards")
@require(*VIEWERS)
def pocket_cards(enterprise_id: int) -> Any:
    """The pocket cards of the plan in force, each with a QR code opening its page."""
    actor = current_actor()
    with hub().service.reading() as s:
        e = _enterprise(s, actor, enterprise_id)
        plan = plan_of(s, e.id)
        current = None
        if plan is not None and plan.current_version is not None:
            current = get_version(s, plan.id, plan.current_version)
        if plan is None or current is None:
            raise PlanNotFound(f"enterprise {enterprise_id} has no approved plan")
        doc: PlanDocument = document_of(current)
        points = {p.name: p for p in doc.assembly_points}
        # the on-site disposal plan of the card's post (GB/T 29639) travels with the card
        onsite = {op.post: op.model_dump(mode="json") for op in doc.onsite_plans}
        cards = []
        for i, card in enumerate(doc.pocket_cards):
            url = url_for("plans_pages.pocket_card_page", enterprise_id=e.id, index=i,
                          _external=True)
            point = points.get(card.assembly_point)
            cards.append({
                "index": i, **card.model_dump(mode="json"), "url": url,
                "onsite_plan": onsite.get(card.post),
                "assembly_location": ({"lat": point.lat, "lon": point.lon} if point else None),
                "qr_svg": pocket_card_qr_svg(url),
            })
        return jsonify({"enterprise": _enterprise_brief(e), "plan_id": plan.id,
                        "version": current.version, "title": doc.title,
                        "title_en": doc.title_en, "cards": cards})


# ---- pages (shells: the data comes from the API with the user's token) ---------------------

@pages.get("/plans")
def plans_page() -> Any:
    """Enterprises with their plan status, review dates and cover colour."""
    return render_template("plans.html")


@pages.get("/plans/<int:enterprise_id>")
def plan_page(enterprise_id: int) -> Any:
    """A plan that reads like the document."""
    return render_template("plans-detail.html", enterprise_id=enterprise_id)


@pages.get("/plans/default")
def default_plan_page() -> Any:
    """The county default plan."""
    return render_template("plans-detail.html", enterprise_id="default")


@pages.get("/plans/<int:enterprise_id>/upload")
def upload_page(enterprise_id: int) -> Any:
    """Upload a plan file; problems are shown next to their lines."""
    return render_template("plans-upload.html", enterprise_id=enterprise_id)


@pages.get("/plans/default/upload")
def default_upload_page() -> Any:
    """Upload a county default plan file."""
    return render_template("plans-upload.html", enterprise_id="default")


@pages.get("/plans/<int:enterprise_id>/cards")
def pocket_cards_page(enterprise_id: int) -> Any:
    """All pocket cards of the plan, printable on A6."""
    return render_template("pocket-cards.html", enterprise_id=enterprise_id, index="")


@pages.get("/plans/<int:enterprise_id>/cards/<int:index>")
def pocket_card_page(enterprise_id: int, index: int) -> Any:
    """One pocket card: where its QR code leads."""
    return render_template("pocket-cards.html", enterprise_id=enterprise_id, index=index)


def init_app(app: Flask, _hub: Any) -> None:
    """Register the page shells."""
    app.register_blueprint(pages)
