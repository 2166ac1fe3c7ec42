"""The plan lifecycle over REST: the enterprise's review, signing and issue, the county's
filing (备案) with its record, revision flags, and what the county must chase."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, render_template, request
from pydantic import BaseModel, ConfigDict, Field

from command.errors import InvalidInput
from command.models import Role
from plans.filing import LifecycleError, Review
from plans.validation import PlanError
from web.api import body
from web.auth import current_actor
from web.auth import require as require_role
from web.openapi import documented
from web.plans_api import _desk, _plan_error, _today, version_view

bp = Blueprint("plan_filing", __name__, url_prefix="/api/v1")
pages = Blueprint("plan_filing_pages", __name__)
STAFF = (Role.DUTY_OFFICER, Role.ADMIN)
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReviewBody(Strict):
    held_on: dt.date
    panel: Annotated[list[Name], Field(min_length=1, max_length=30)]
    conclusion: Literal["passed", "revise"]
    notes: Annotated[str, Field(max_length=4000)] = ""


class IssueBody(Strict):
    principal: Name
    issued_on: dt.date


class FileBody(Strict):
    filed_on: dt.date | None = None


class FlagBody(Strict):
    trigger: Literal["law", "organisation", "hazards", "resources", "drill_finding",
                     "incident_finding", "other"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class VersionView(BaseModel):
    version: int
    status: str
    plan_id: int
    approved_by: str | None
    approved_on: str | None
    next_review: str | None
    review: dict[str, Any] | None = None
    filing_due: str | None = None
    filed_on: str | None = None
    filing_no: str | None = None


class FilingRecord(BaseModel):
    """备案登记表."""

    filing_no: str | None
    filed_on: str | None
    filed_by: str | None
    plan_id: int
    version: int
    title: str
    enterprise: str | None
    credit_code: str | None
    address: str | None
    issued_by: str | None
    issued_on: str | None
    review: dict[str, Any] | None
    filing_due: str | None
    filed_late: bool
    next_review: str | None
    parts: dict[str, int]


class FilingStatus(BaseModel):
    as_of: str
    awaiting_filing: list[dict[str, Any]]
    flagged_for_revision: list[dict[str, Any]]
    evaluation_overdue: list[dict[str, Any]]


@bp.errorhandler(PlanError)
def _lifecycle_error(exc: PlanError) -> Any:
    if isinstance(exc, LifecycleError):
        return jsonify({"error": {"code": "conflict", "message": exc.message,
                                  "field": "version"}}), 409
    return _plan_error(exc)


@bp.post("/plans/<int:plan_id>/versions/<int:version>/review")
@documented(response=VersionView)
@require_role(*STAFF)
def review_version(plan_id: int, version: int) -> Any:
    """Record the enterprise's review (评审) of a draft version."""
    b = body(ReviewBody)
    row = _desk().review(current_actor(), plan_id, version,
                         Review(b.held_on, tuple(b.panel), b.conclusion, b.notes))
    return jsonify(version_view(row, document=False, today=_today()))


@bp.post("/plans/<int:plan_id>/versions/<int:version>/issue")
@documented(response=VersionView)
@require_role(*STAFF)
def issue_version(plan_id: int, version: int) -> Any:
    """The enterprise's principal signed and issued a reviewed version: it is in force and
    must be filed within 20 working days."""
    b = body(IssueBody)
    row = _desk().issue(current_actor(), plan_id, version, b.principal, b.issued_on)
    return jsonify(version_view(row, document=False, today=_today()))


@bp.post("/plans/<int:plan_id>/versions/<int:version>/file")
@documented(response=FilingRecord, status=201)
@require_role(*STAFF)
def file_version(plan_id: int, version: int) -> Any:
    """File (备案) the issued version; a plan missing a part GB/T 29639-2020 requires is
    refused with every missing part and its line."""
    b = body(FileBody) if request.get_data() else FileBody()
    return jsonify(_desk().file(current_actor(), plan_id, version, b.filed_on)), 201


@bp.get("/plans/<int:plan_id>/versions/<int:version>/filing-record")
@documented(response=FilingRecord)
@require_role(*STAFF, Role.TRAINER)
def filing_record(plan_id: int, version: int) -> Any:
    """The filing record the county issued."""
    return jsonify(_desk().filing_record(current_actor(), plan_id, version))


@bp.post("/plans/<int:plan_id>/revision-flags")
@documented(status=201, response={"type": "object"})
@require_role(*STAFF)
def flag_revision(plan_id: int) -> Any:
    """Flag the plan for revision (law, organisation, hazards, resources, findings)."""
    b = body(FlagBody)
    return jsonify(_desk().flag_revision(current_actor(), plan_id, b.trigger, b.reason)), 201


@bp.get("/plans/filing-status")
@documented(response=FilingStatus, query={"as_of": {"type": "string", "format": "date"}})
@require_role(*STAFF)
def filing_status() -> Any:
    """Plans awaiting filing (overdue first), flagged for revision, past evaluation."""
    raw = request.args.get("as_of")
    as_of = None
    if raw:
        try:
            as_of = dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput("as_of must be a date (YYYY-MM-DD)", "as_of") from None
    return jsonify(_desk().filing_status(current_actor(), as_of))


@pages.get("/plans/<int:plan_id>/versions/<int:version>/filing-record")
def filing_record_page(plan_id: int, version: int) -> Any:
    """The printable filing record (备案登记表)."""
    return render_template("plans-filing.html", plan_id=plan_id, version=version)


def init_app(app: Any, h: Any) -> None:
    app.register_blueprint(pages)
