"""Blind drills over REST, the trainer pages, and the scheduler that springs drills."""

from __future__ import annotations

import datetime as dt
import random
from typing import Annotated, Any, Literal

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
)
from pydantic import BaseModel, ConfigDict, Field

from command.drill_models import InjectType
from command.drills import DrillService, DrillSpec, InjectSpec, Variations
from command.errors import InvalidInput
from command.models import Role
from command.scoring import playback, report_csv
from web.api import body
from web.auth import current_actor, hub, require
from web.extensions import socketio
from web.security import MAX_ID

bp = Blueprint("drills", __name__, url_prefix="/api/v1")
pages = Blueprint("trainer_pages", __name__)

MANAGERS = (Role.TRAINER, Role.ADMIN)
TICK_S = 1.0

IdList = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]],
                   Field(min_length=1, max_length=500)]
Range = tuple[float, float]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WindowBody(Strict):
    start: dt.datetime
    end: dt.datetime


class WindRanges(Strict):
    from_deg: Range | None = None
    speed_ms: Range | None = None


class VariationsBody(Strict):
    severity: tuple[int, int] | None = None
    casualties: tuple[int, int] | None = None
    wind: WindRanges | None = None
    spill: Annotated[list[Literal["small", "large"]], Field(min_length=1)] | None = None


class InjectBody(Strict):
    at_s: Annotated[float, Field(ge=0, le=86400)]
    type: InjectType
    data: dict[str, Any] = {}


class DrillBody(Strict):
    window: WindowBody
    title: Annotated[str, Field(max_length=200)] = ""
    enterprise_ids: IdList | Literal["any"] | None = None
    scenario_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                            Field(min_length=1, max_length=500)] | Literal["any"] | None = None
    unit_ids: IdList | Literal["any"] | None = None
    station_ids: IdList | None = None
    variations: VariationsBody | None = None
    injects: Annotated[list[InjectBody], Field(max_length=50)] = []


class ImprovementBody(Strict):
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    owner: Annotated[str, Field(max_length=200)] = ""
    due: dt.date | None = None


def _pool(value: Any) -> Any:
    return None if value in (None, "any") else value


def drills() -> DrillService:
    """The app's drill service."""
    return current_app.extensions["drills"]  # type: ignore[no-any-return]


@bp.post("/drills")
@require(*MANAGERS)
def create_drill() -> Any:
    """Schedule a blind drill; the moment it springs is drawn now and kept secret."""
    data = body(DrillBody)
    v = data.variations
    variations = Variations.from_dict(v.model_dump(exclude_none=True) if v else None)
    spec = DrillSpec(
        window_start=data.window.start, window_end=data.window.end, title=data.title,
        enterprise_ids=_pool(data.enterprise_ids), scenario_ids=_pool(data.scenario_ids),
        unit_ids=_pool(data.unit_ids), station_ids=data.station_ids, variations=variations,
        injects=[InjectSpec(i.at_s, i.type, i.data) for i in data.injects],
    )
    return jsonify(drills().create(current_actor(), spec)), 201


@bp.get("/drills")
@require(*MANAGERS)
def list_drills() -> Any:
    return jsonify(drills().list(current_actor()))


@bp.get("/drills/<int:drill_id>")
@require(*MANAGERS)
def get_drill(drill_id: int) -> Any:
    return jsonify(drills().get(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/reveal")
@require(*MANAGERS)
def reveal_drill(drill_id: int) -> Any:
    """Record that the participants were told it is a drill."""
    return jsonify(drills().reveal(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/pause")
@require(*MANAGERS)
def pause_drill(drill_id: int) -> Any:
    return jsonify(drills().pause(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/resume")
@require(*MANAGERS)
def resume_drill(drill_id: int) -> Any:
    return jsonify(drills().resume(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/end")
@require(*MANAGERS)
def end_drill(drill_id: int) -> Any:
    """Close the drill's incident, releasing every unit, and freeze the report."""
    return jsonify(drills().end(current_actor(), drill_id))


@bp.post("/drills/<int:drill_id>/injects/<int:index>/fire")
@require(*MANAGERS)
def fire_inject(drill_id: int, index: int) -> Any:
    return jsonify(drills().fire_inject(current_actor(), drill_id, index))


@bp.get("/drills/<int:drill_id>/report")
@require(*MANAGERS)
def drill_report(drill_id: int) -> Any:
    """The measured figures, the score and its rules, comparisons, improvement items."""
    return jsonify(drills().report(current_actor(), drill_id))


@bp.get("/drills/<int:drill_id>/report.csv")
@require(*MANAGERS)
def drill_report_csv(drill_id: int) -> Any:
    full = drills().report(current_actor(), drill_id)
    rep = full["report"]
    text = report_csv(rep, full["improvements"], full["drill"].get("title") or "") if rep else ""
    # the BOM makes spreadsheet programs read the Chinese titles as UTF-8
    return Response("\ufeff" + text, mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="drill-{drill_id}-report.csv"'})


@bp.post("/drills/<int:drill_id>/improvements")
@require(*MANAGERS)
def add_improvement(drill_id: int) -> Any:
    data = body(ImprovementBody)
    return jsonify(drills().add_improvement(current_actor(), drill_id, data.text, data.owner,
                                            data.due)), 201


@bp.get("/statistics")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def statistics() -> Any:
    """Response statistics: real incidents for officers (drills never count), drills for
    trainers. ?since=ISO-8601 limits them to incidents reported from then on."""
    raw = request.args.get("since")
    since = None
    if raw:
        try:
            since = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if since.tzinfo is None:
                raise InvalidInput("since needs a UTC offset", "since")
            since = since.astimezone(dt.UTC)
        except (ValueError, OverflowError):  # year 1 at +14:00 falls off the calendar
            raise InvalidInput("since must be an ISO-8601 time", "since") from None
    return jsonify(drills().statistics(current_actor(), since))


@bp.get("/incidents/<int:incident_id>/playback")
@require(Role.DUTY_OFFICER, Role.ADMIN, Role.TRAINER)
def incident_playback(incident_id: int) -> Any:
    """An incident's event log shaped for replay (trainers: exercises only)."""
    return jsonify(_playback(incident_id))


@bp.get("/drills/<int:drill_id>/playback")
@require(*MANAGERS)
def drill_playback(drill_id: int) -> Any:
    incident_id = drills().get(current_actor(), drill_id)["incident_id"]
    if incident_id is None:
        return jsonify({"incident": None, **playback([])})
    return jsonify(_playback(incident_id))


def _playback(incident_id: int) -> dict[str, Any]:
    service = hub().service
    actor = current_actor()
    return {"incident": service.incident_view(actor, incident_id),
            **playback(service.timeline(actor, incident_id))}


@pages.get("/trainer")
def trainer_page() -> Any:
    """The trainer's console: schedule drills, watch, inject, replay."""
    return render_template("trainer.html")


@pages.get("/trainer/drills/<int:drill_id>/report")
def trainer_report_page(drill_id: int) -> Any:
    """The printable after-action report of one drill."""
    return render_template("trainer-report.html", drill_id=drill_id)


def _scheduler(service: DrillService, app: Flask, every_s: float) -> None:
    # the first tick runs at once: a drill that came due while the hub was down fires on start
    while True:
        try:
            service.tick()
        except Exception:
            app.logger.exception("drill scheduler tick failed")
        socketio.sleep(every_s)


def init_app(app: Flask, h: Any) -> None:
    """Hook the drill service and start the scheduler when DRILL_SCHEDULER is on.

    The tables come from the migrations. DRILL_SEED makes the secret moments and scenarios
    repeatable (tests, demos); without it they come from the system's secure random source.
    Tests turn the scheduler off and call tick() with their own clock (CLOCK). Settings come
    from the app config (web/config.py reads the environment).
    """
    seed = h.config.get("DRILL_SEED")
    rng = random.Random(int(seed)) if seed not in (None, "") else None
    if rng is not None and not h.config.get("TESTING"):
        # anyone who knows the seed can work out when a blind drill will spring
        app.logger.warning("DRILL_SEED is set: drill moments and scenarios are predictable; "
                           "unset it outside tests and demos")
    service = DrillService(h.service, rng=rng)
    app.extensions["drills"] = service
    h.service.listeners.append(service.on_events)
    app.register_blueprint(pages)
    if h.config.get("DRILL_SCHEDULER"):
        every_s = float(h.config.get("DRILL_TICK_S") or TICK_S)
        socketio.start_background_task(_scheduler, service, app, every_s)

