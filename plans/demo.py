"""The demo county's enterprises and plans, imported from files like any county's own, then
taken through the lifecycle the Measures prescribe: reviewed, signed and issued by each
enterprise's principal, filed by the county."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.db import session_scope
from command.models import Region
from plans.filing import Review, file_version, issue, record_review
from plans.models import Plan, PlanVersion
from plans.service import approve, import_directory
from plans.validation import BBox, PlanError

DEMO_DIR = Path(__file__).parent / "data" / "demo"
COUNTY_BUREAU = "滨海县应急管理局"


class DemoPlansInvalid(PlanError):
    """A bundled demo file failed validation: a bug in the repository, not user input."""


def load_demo_plans(sessions: Callable[[], Session], *, bbox: BBox | None = None,
                    directory: Path = DEMO_DIR) -> dict[str, int]:
    """Import the bundled enterprises and plans through the normal import path."""
    today = dt.date.today()
    with session_scope(sessions) as s:
        report = import_directory(s, directory, author="demo", approver=None, map_bbox=bbox)
        if not report.ok:
            raise DemoPlansInvalid("demo plans are invalid:\n" + "\n".join(report.lines()))
        for plan in s.scalars(select(Plan).order_by(Plan.id)):
            row = s.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                            .order_by(PlanVersion.version.desc())).first()
            if row is None:
                continue
            try:
                _through_lifecycle(s, plan, row, today)
            except PlanError as exc:
                raise DemoPlansInvalid(f"demo plan {plan.id}: {exc.message}") from exc
        enterprises = len(report.enterprises.created) if report.enterprises else 0
        return {"enterprises": enterprises, "plans": len(report.imported)}


def _through_lifecycle(s: Session, plan: Plan, row: PlanVersion, today: dt.date) -> None:
    doc = row.document
    issued_on = dt.date.fromisoformat(doc["approved_on"]) if doc.get("approved_on") else today
    if plan.enterprise is None:
        # the county's own default plan is issued by the county itself
        approve(s, plan.id, row.version, COUNTY_BUREAU, today, approved_on=issued_on)
        return
    principal = next((c["name"] for c in doc.get("contacts") or [] if c["role"] == "总指挥"),
                     "")
    held = issued_on - dt.timedelta(days=14)
    record_review(s, plan.id, row.version,
                  Review(held, ("园区安全专家组", "县应急管理局观察员"), "passed"), "demo")
    issue(s, plan.id, row.version, principal or "企业主要负责人", issued_on, today)
    # the demo's enterprises join their county after the plans load: it is the demo county
    county = s.get(Region, plan.enterprise.county_id) if plan.enterprise.county_id else None
    file_version(s, plan.id, row.version, COUNTY_BUREAU,
                 min(issued_on + dt.timedelta(days=10), today),
                 county.name if county else COUNTY_BUREAU.removesuffix("应急管理局"))
