"""The plan lifecycle of the Measures for Emergency Plan Management (应急管理部令第2号, 2019):
the enterprise reviews (评审) its plan, its principal signs and issues it, the county files it
(备案) within 20 working days and issues a filing record; revision triggers flag a plan, a
revised plan is filed again, and every plan is evaluated at least every three years.

Functions on a session, like plans/service.py; command/plan_desk.py adds scope and events.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import holidays
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plans.models import Enterprise, Plan, PlanRevisionFlag, PlanStatus, PlanVersion
from plans.service import PlanNotFound, approve, get_version
from plans.validation import PlanError, PlanValidationError, Problem, parse_text

FILING_WORKING_DAYS = 20
REVIEW_CONCLUSIONS = ("passed", "revise")
REVISION_TRIGGERS = ("law", "organisation", "hazards", "resources", "drill_finding",
                     "incident_finding", "other")


class LifecycleError(PlanError):
    """A lifecycle step out of order (issue before review, file before issue...)."""


@dataclass(frozen=True)
class Review:
    """The enterprise's review (评审) of a version: who sat on the panel and what it said."""

    held_on: dt.date
    panel: tuple[str, ...]
    conclusion: str
    notes: str = ""


@functools.lru_cache(maxsize=8)
def _cn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not a national public holiday. Make-up working weekends (调休)
    are not counted, so a deadline falls at most a few days later than the official one."""
    return day.weekday() < 5 and day not in _cn_holidays(day.year)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date n working days after start."""
    day, left = start, n
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


# what GB/T 29639-2020 requires of an enterprise's plan before the county files it
_REQUIRED: tuple[tuple[str, str], ...] = (
    ("comprehensive", "the comprehensive plan (综合应急预案) is missing"),
    ("onsite_plans", "no on-site disposal plan (现场处置方案) is given"),
    ("annexes", "the annexes (附件) are missing"),
)


def completeness_problems(row: PlanVersion) -> list[Problem]:
    """Every part the standard requires that the version lacks, at its line in the file."""
    parsed, problems = parse_text(row.source_text, "json" if row.source_format == "json"
                                  else "yaml")
    if parsed is None:
        return problems
    doc = row.document
    out: list[Problem] = []
    if doc.get("enterprise") is None:
        return out  # the county's own default plan is not filed with itself
    for key, message in _REQUIRED:
        if not doc.get(key):
            # a missing part has no line of its own: the document's top line stands for it
            out.append(Problem(key, message, parsed.problem((), message).line or 1))
    scenario_ids = {s.get("id") for s in doc.get("scenarios") or []}
    for i, sp in enumerate(doc.get("special_plans") or []):
        for j, sid in enumerate(sp.get("scenarios") or []):
            if sid not in scenario_ids:
                out.append(parsed.problem(("special_plans", i, "scenarios", j),
                                          f"no scenario with id {sid}"))
    kinds = {k for s in doc.get("scenarios") or [] if not s.get("general")
             for k in (s.get("trigger") or {}).get("kinds") or []}
    if kinds and not doc.get("special_plans"):
        out.append(parsed.problem(("scenarios",), "the plan's accident scenarios need "
                                  "special plans (专项应急预案) to be filed"))
    return out


def record_review(session: Session, plan_id: int, version: int, review: Review,
                  by: str) -> PlanVersion:
    """Store the enterprise's review of a draft version."""
    row = get_version(session, plan_id, version)
    if row.status is not PlanStatus.DRAFT:
        raise LifecycleError(f"version {version} is {row.status.value}; only drafts are "
                             "reviewed")
    if review.conclusion not in REVIEW_CONCLUSIONS:
        raise LifecycleError("conclusion must be passed or revise")
    if not any(p.strip() for p in review.panel):
        raise LifecycleError("a review names its panel")
    row.review = {"held_on": review.held_on.isoformat(),
                  "panel": [p.strip() for p in review.panel if p.strip()],
                  "conclusion": review.conclusion, "notes": review.notes, "by": by}
    session.flush()
    return row


def issue(session: Session, plan_id: int, version: int, principal: str,
          issued_on: dt.date, today: dt.date) -> PlanVersion:
    """The principal signs and issues a reviewed version: it is in force from now on and
    must be filed within 20 working days."""
    row = get_version(session, plan_id, version)
    if not row.review or row.review.get("conclusion") != "passed":
        raise LifecycleError(f"version {version} has not passed its review")
    if issued_on > today:
        raise LifecycleError("a plan cannot be issued in the future")
    if dt.date.fromisoformat(row.review["held_on"]) > issued_on:
        raise LifecycleError("a plan is issued after its review")
    row = approve(session, plan_id, version, principal, today, approved_on=issued_on)
    row.filing_due = add_working_days(issued_on, FILING_WORKING_DAYS)
    session.flush()
    return row


def file_version(session: Session, plan_id: int, version: int, by: str, filed_on: dt.date,
                 county_name: str) -> PlanVersion:
    """File (备案) the issued version: every required part present, a filing number drawn
    for the county and year, the enterprise's open revision flags cleared."""
    row = get_version(session, plan_id, version)
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound(f"plan {plan_id} not found")
    if row.status is not PlanStatus.APPROVED or row.approved_on is None:
        raise LifecycleError(f"version {version} is not the issued version in force")
    if row.filed_on is not None:
        raise LifecycleError(f"version {version} was filed on {row.filed_on} as "
                             f"{row.filing_no}")
    if filed_on < row.approved_on:
        raise LifecycleError("a plan is filed after it is issued")
    problems = completeness_problems(row)
    if problems:
        raise PlanValidationError(problems)
    year = filed_on.year
    n = (session.scalar(select(func.count()).select_from(PlanVersion).where(
        PlanVersion.filed_on >= dt.date(year, 1, 1),
        PlanVersion.filed_on <= dt.date(year, 12, 31))) or 0) + 1
    row.filed_on, row.filed_by = filed_on, by
    row.filing_no = f"{county_name}应急预案备〔{year}〕{n}号"
    if plan.enterprise_id is not None:
        for flag in session.scalars(select(PlanRevisionFlag).where(
                PlanRevisionFlag.enterprise_id == plan.enterprise_id,
                PlanRevisionFlag.cleared_at.is_(None))):
            flag.cleared_at = dt.datetime.combine(filed_on, dt.time(), tzinfo=dt.UTC)
    session.flush()
    return row


def flag_revision(session: Session, enterprise: Enterprise, trigger: str, reason: str,
                  by: str, now: dt.datetime) -> PlanRevisionFlag:
    """Flag the enterprise's plan for revision."""
    if trigger not in REVISION_TRIGGERS:
        raise LifecycleError(f"trigger must be one of {', '.join(REVISION_TRIGGERS)}")
    if not reason.strip():
        raise LifecycleError("say why the plan must be revised")
    flag = PlanRevisionFlag(enterprise_id=enterprise.id, county_id=enterprise.county_id,
                            trigger=trigger, reason=reason.strip(), created_at=now,
                            created_by=by)
    session.add(flag)
    session.flush()
    return flag


def filing_record(row: PlanVersion, enterprise: Enterprise | None) -> dict[str, Any]:
    """The filing record (备案登记表) the county issues."""
    return {
        "filing_no": row.filing_no, "filed_on": _iso(row.filed_on), "filed_by": row.filed_by,
        "plan_id": row.plan_id, "version": row.version,
        "title": row.document.get("title", ""),
        "enterprise": enterprise.name if enterprise else None,
        "credit_code": enterprise.credit_code if enterprise else None,
        "address": enterprise.address if enterprise else None,
        "issued_by": row.approved_by, "issued_on": _iso(row.approved_on),
        "review": row.review, "filing_due": _iso(row.filing_due),
        "filed_late": bool(row.filed_on and row.filing_due and row.filed_on > row.filing_due),
        "next_review": _iso(row.next_review),
        "parts": {"special_plans": len(row.document.get("special_plans") or []),
                  "onsite_plans": len(row.document.get("onsite_plans") or []),
                  "scenarios": len(row.document.get("scenarios") or [])},
    }


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
