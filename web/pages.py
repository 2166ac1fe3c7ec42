"""Server-rendered page shells; the scripts talk to the REST API and Socket.IO."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.blueprints import BlueprintSetupState

from web import i18n

bp = Blueprint("pages", __name__)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    # the page shells need gettext; create_app may also call i18n.init_app (it runs once)
    i18n.init_app(state.app)


@bp.get("/")
def command_room() -> Any:
    """The command room: map, report form, incidents, unit board, timeline."""
    return render_template("command.html")


@bp.get("/unit")
def unit_tablet() -> Any:
    """The unit tablet: the task board of one unit."""
    return render_template("unit.html")


@bp.get("/login")
def login_page() -> Any:
    """The login form; it sends each role to its own page."""
    return render_template("login.html")
