"""The demo county's enterprises and plans, imported from files like any county's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from command.db import session_scope
from plans.service import import_directory
from plans.validation import BBox, PlanError

DEMO_DIR = Path(__file__).parent / "data" / "demo"


class DemoPlansInvalid(PlanError):
    """A bundled demo file failed validation: a bug in the repository, not user input."""


def load_demo_plans(sessions: Callable[[], Session], *, bbox: BBox | None = None,
                    directory: Path = DEMO_DIR) -> dict[str, int]:
    """Import the bundled enterprises and plans through the normal import path."""
    with session_scope(sessions) as s:
        report = import_directory(s, directory, author="demo", approver="滨海县应急管理局",
                                  map_bbox=bbox)
        if not report.ok:
            raise DemoPlansInvalid("demo plans are invalid:\n" + "\n".join(report.lines()))
        enterprises = len(report.enterprises.created) if report.enterprises else 0
        return {"enterprises": enterprises, "plans": len(report.imported)}
