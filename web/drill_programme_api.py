"""Drill programmes, evaluators' observations, improvement items, enterprise drill records and
the half-yearly obligation, over REST; the evaluator's tablet form and the evaluation report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from pydantic import BaseModel, ConfigDict, Field

from command.drill_programme import (
    DrillProgramme,
    EnterpriseDrillReport,
    ImprovementChange,
    MselRow,
    Observation,
    Programme,
)
from command.errors import InvalidInput
from command.models import Role
from web.api import body
from web.auth import current_actor, require
from web.openapi import documented
from web.security import MAX_ID

bp = Blueprint("drill_programme", __name__, url_prefix="/api/v1")
pages = Blueprint("drill_programme_pages", __name__)

MANAGERS = (Role.TRAINER, Role.ADMIN)
COUNTY = (Role.DUTY_OFFICER, Role.TRAINER, Role.ADMIN)

Text = Annotated[str, Field(max_length=4000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
DrillType = Literal["tabletop", "functional", "full_scale"]
Scope = Literal["single", "comprehensive"]
Area = Literal["information_reporting", "command_coordination", "disposal", "resources",
               "cordon_evacuation", "public_information", "after_action"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MselBody(Strict):
    at_s: Annotated[float, Field(ge=0, le=86400)]
    inject: Annotated[str, Field(min_length=1, max_length=1000)]
    player: Annotated[str, Field(max_length=200)] = ""
    expected_action: Annotated[str, Field(min_length=1, max_length=1000)]


class ProgrammeBody(Strict):
    drill_type: DrillType
    scope: Scope
    objectives: Annotated[list[Short], Field(min_length=1, max_length=50)]
    participants: Annotated[list[Short], Field(max_length=500)] = []
    evaluators: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                          Field(max_length=50)] = []
    safety_plan: Text = ""
    msel: Annotated[list[MselBody], Field(max_length=200)] = []


class PhaseBody(Strict):
    phase: Literal["plan", "prepare", "run", "evaluate", "improve"]


class ObservationBody(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    area: Area
    rating: Literal["met", "partly_met", "not_met"]
    observed_at: dt.datetime
    note: Text = ""


class ImprovementPatch(Strict):
    status: Literal["open", "in_progress", "closed"] | None = None
    owner: Annotated[str, Field(max_length=200)] | None = None
    due: dt.date | None = None
    plan_revision: bool | None = None


class EnterpriseDrillBody(Strict):
    enterprise_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    held_on: dt.date
    drill_type: DrillType
    scope: Scope
    title: Short
    participants: Annotated[int, Field(ge=0, le=100000)] = 0
    summary: Text = ""


# ---- what the routes answer (the OpenAPI document is generated from these) ----------------


class ProgrammeView(BaseModel):
    drill_id: int
    phase: Literal["plan", "prepare", "run", "evaluate", "improve"]
    status: str
    programme: dict[str, Any] | None


class ObservationView(BaseModel):
    id: int
    client_id: str
    area: Area
    rating: Literal["met", "partly_met", "not_met"]
    note: str
    observed_at: str
    recorded_at: str
    evaluator: str
    after_seq: int | None


class ImprovementView(BaseModel):
    id: int
    text: str
    owner: str
    due: str | None
    status: Literal["open", "in_progress", "closed"]
    closed_at: str | None
    closed_by: str | None
    plan_revision: bool
    created_at: str | None
    created_by: str


class EnterpriseDrillView(BaseModel):
    id: int
    enterprise_id: int
    enterprise_name: str
    county_id: int | None
    held_on: str
    drill_type: DrillType
    scope: Scope
    title: str
    participants: int
    summary: str
    drill_id: int | None
    recorded_at: str | None
    recorded_by: str


class ObligationRow(BaseModel):
    enterprise_id: int
    enterprise_name: str
    county_id: int | None
    last_drill_on: str | None
    due_on: str | None
    overdue: bool
    never: bool
    days_overdue: int | None


class ObligationsView(BaseModel):
    as_of: str
    interval_days: int
    overdue: int
    enterprises: list[ObligationRow]


class RevisionFlagView(BaseModel):
    id: int
    enterprise_id: int
    enterprise_name: str
    trigger: str
    reason: str
    improvement_id: int | None
    created_at: str | None
    created_by: str


class EvaluationReportView(BaseModel):
    """AQ/T 9009's five sections."""

    drill_id: int
    basic_situation: dict[str, Any]
    evaluation_process: dict[str, Any]
    analysis: dict[str, Any]
    improvement_suggestions: dict[str, Any]
    conclusion: dict[str, Any]


def programme() -> DrillProgramme:
    """The app's drill programme service."""
    return current_app.extensions["drill_programme"]  # type: ignore[no-any-return]


@bp.put("/drills/<int:drill_id>/programme")
@documented(response=ProgrammeView)
@require(*MANAGERS)
def set_programme(drill_id: int) -> Any:
    """Write the drill's AQ/T 9007 programme (type, scope, objectives, people, script)."""
    b = body(ProgrammeBody)
    spec = Programme(
        drill_type=b.drill_type, scope=b.scope, objectives=tuple(b.objectives),
        participants=tuple(b.participants), evaluators=tuple(b.evaluators),
        safety_plan=b.safety_plan,
        msel=tuple(MselRow(r.at_s, r.inject, r.player, r.expected_action) for r in b.msel))
    return jsonify(programme().set_programme(current_actor(), drill_id, spec))


@bp.get("/drills/<int:drill_id>/programme")
@documented(response=ProgrammeView)
@require(*MANAGERS)
def get_programme(drill_id: int) -> Any:
    return jsonify(programme().get(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/phase")
@documented(response=ProgrammeView)
@require(*MANAGERS)
def set_phase(drill_id: int) -> Any:
    """Move the drill to its next phase (prepare after planning, improve after evaluation)."""
    return jsonify(programme().set_phase(current_actor(), drill_id, body(PhaseBody).phase))


@bp.post("/drills/<int:drill_id>/observations")
@documented(response=ObservationView, status=201)
@require(*MANAGERS)
def record_observation(drill_id: int) -> Any:
    """Store an evaluator's observation; resending the same client_id answers 200."""
    b = body(ObservationBody)
    view, created = programme().record_observation(
        current_actor(), drill_id,
        Observation(b.client_id, b.area, b.rating, b.observed_at, b.note))
    return jsonify(view), 201 if created else 200


@bp.get("/drills/<int:drill_id>/observations")
@documented(response=list[ObservationView])
@require(*MANAGERS)
def list_observations(drill_id: int) -> Any:
    return jsonify(programme().observations(current_actor(), drill_id))


@bp.patch("/drills/<int:drill_id>/improvements/<int:item_id>")
@documented(response=ImprovementView)
@require(*MANAGERS)
def update_improvement(drill_id: int, item_id: int) -> Any:
    """Move an improvement item towards closure; plan_revision flags the enterprise's plan."""
    b = body(ImprovementPatch)
    change = ImprovementChange(status=b.status, owner=b.owner, due=b.due,
                               plan_revision=b.plan_revision, fields=set(b.model_fields_set))
    return jsonify(programme().update_improvement(current_actor(), drill_id, item_id, change))


@bp.get("/drills/<int:drill_id>/evaluation")
@documented(response=EvaluationReportView)
@require(*MANAGERS)
def evaluation(drill_id: int) -> Any:
    """The AQ/T 9009 evaluation report: basic situation, process, analysis, improvement
    suggestions, conclusion."""
    return jsonify(programme().evaluation_report(current_actor(), drill_id))


@bp.get("/drills/<int:drill_id>/evaluation.csv")
@require(*MANAGERS)
def evaluation_csv(drill_id: int) -> Any:
    text = programme().evaluation_csv(current_actor(), drill_id)
    return Response("\ufeff" + text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="drill-{drill_id}-evaluation.csv"'})


@bp.post("/enterprise-drills")
@documented(response=EnterpriseDrillView, status=201)
@require(Role.DUTY_OFFICER, Role.ADMIN)
def record_enterprise_drill() -> Any:
    """Record a drill an enterprise held and reported, whether or not the hub ran it."""
    b = body(EnterpriseDrillBody)
    report = EnterpriseDrillReport(b.enterprise_id, b.held_on, b.drill_type, b.scope, b.title,
                                   b.participants, b.summary)
    return jsonify(programme().record_enterprise_drill(current_actor(), report)), 201


@bp.get("/enterprise-drills")
@documented(response=list[EnterpriseDrillView],
            query={"enterprise_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}})
@require(*COUNTY)
def list_enterprise_drills() -> Any:
    raw = request.args.get("enterprise_id")
    eid = None
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise InvalidInput("enterprise_id must be a positive id", "enterprise_id")
        eid = int(raw)
    return jsonify(programme().enterprise_drills(current_actor(), eid))


@bp.get("/drill-obligations")
@documented(response=ObligationsView, query={"as_of": {"type": "string", "format": "date"}})
@require(*COUNTY)
def drill_obligations() -> Any:
    """Hazardous-chemicals enterprises and their half-yearly drill: overdue ones first."""
    raw = request.args.get("as_of")
    as_of = None
    if raw:
        try:
            as_of = dt.date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput("as_of must be a date (YYYY-MM-DD)", "as_of") from None
    return jsonify(programme().obligations(current_actor(), as_of))


@bp.get("/plan-revision-flags")
@documented(response=list[RevisionFlagView])
@require(*COUNTY)
def plan_revision_flags() -> Any:
    """Plans flagged for revision (drill findings) in the caller's counties."""
    return jsonify(programme().revision_flags(current_actor()))


@pages.get("/trainer/drills/<int:drill_id>/evaluate")
def evaluator_page(drill_id: int) -> Any:
    """The evaluator's tablet form: works offline, sends its queue when back online."""
    return render_template("trainer-evaluate.html", drill_id=drill_id)


@pages.get("/trainer/drills/<int:drill_id>/evaluation")
def evaluation_page(drill_id: int) -> Any:
    """The printable AQ/T 9009 evaluation report (print to PDF from the browser)."""
    return render_template("trainer-evaluation.html", drill_id=drill_id)


def init_app(app: Flask, h: Any) -> None:
    """Hook the programme service on the app's drill service."""
    app.extensions["drill_programme"] = DrillProgramme(app.extensions["drills"])
    app.register_blueprint(pages)
