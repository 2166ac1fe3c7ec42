"""The plan desk: drafts and approvals of emergency plans, each written with its event.

plans/service.py holds the plan rules (validation, versions, review dates) as functions on a
session; here they meet the command service, so a draft or an approval and its `plan.drafted`
or `plan.approved` event commit in one transaction and reach every screen, like any other
state change. Region scope is checked here too: a duty officer of one county never sees, nor
touches, another county's plans.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.auth import Actor
from command.errors import Forbidden
from command.models import Region, Role
from command.service import CommandService
from plans.filing import (
    LifecycleError,
    Review,
    file_version,
    filing_record,
    flag_revision,
    is_working_day,
    issue,
    record_review,
)
from plans.models import Enterprise, Plan, PlanRevisionFlag, PlanStatus, PlanVersion
from plans.service import EnterpriseNotFound, PlanNotFound, approve, create_draft, get_version
from plans.validation import BBox, Format


class PlanDesk:
    """Region-scoped plan changes through the command service's transaction."""

    def __init__(self, service: CommandService, map_bbox: BBox | None = None) -> None:
        self.service = service
        # drafts are checked against the map the hub routes on (sites and assembly points
        # outside it could never be reached)
        self.map_bbox = map_bbox

    def enterprise_for(self, session: Session, actor: Actor, enterprise_id: int) -> Enterprise:
        """The enterprise if it exists and lies in the actor's region."""
        e = session.get(Enterprise, enterprise_id)
        counties = self.service.region_counties(actor.region_id)
        if e is None or (counties is not None and e.county_id not in counties):
            raise EnterpriseNotFound(f"enterprise {enterprise_id} not found")
        return e

    def plan_for(self, session: Session, actor: Actor, plan_id: int) -> Plan:
        """A plan the actor may see: the county default, or an enterprise plan in the region."""
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise PlanNotFound(f"plan {plan_id} not found")
        if plan.enterprise_id is not None:
            try:
                self.enterprise_for(session, actor, plan.enterprise_id)
            except EnterpriseNotFound:
                raise PlanNotFound(f"plan {plan_id} not found") from None
        elif plan.county_id is not None and not self.service._in_scope(actor, plan.county_id):
            raise PlanNotFound(f"plan {plan_id} not found")
        return plan

    def default_county_for(self, actor: Actor, county_id: int | None) -> int | None:
        """The county whose default plan the actor changes: its own county unless it names
        one in its region; only a platform-wide administrator changes the fallback (None)."""
        if county_id is None:
            county_id = actor.region_id
        if actor.region_id is not None and not self.service._in_scope(actor, county_id):
            raise Forbidden("only that county's or a higher region's administrators change "
                            "its default plan", "county_id")
        return county_id

    def _check_default_writer(self, actor: Actor, plan: Plan) -> None:
        if plan.is_county_default and actor.region_id is not None and (
                plan.county_id is None or not self.service._in_scope(actor, plan.county_id)):
            raise Forbidden("only that county's or a higher region's administrators change "
                            "its default plan", "plan_id")

    def draft(self, actor: Actor, enterprise_id: int | None, text: str,
              fmt: Format, county_id: int | None = None) -> PlanVersion:
        """Validate an authored plan file and store it as a new draft version.

        enterprise_id None drafts the county default plan. An invalid file raises
        PlanValidationError with every problem, and nothing is saved.
        """
        with self.service.transaction() as tx:
            e = (self.enterprise_for(tx.session, actor, enterprise_id)
                 if enterprise_id is not None else None)
            county = e.county_id if e else self.default_county_for(actor, county_id)
            version = create_draft(tx.session, enterprise_id, text, fmt, actor.username,
                                   map_bbox=self.map_bbox,
                                   county_id=county if e is None else None)
            tx.record("plan.drafted", {
                "plan_id": version.plan_id, "enterprise_id": enterprise_id,
                "version": version.version, "created_by": actor.username,
                "title": version.document.get("title", "")},
                county_id=county, actor=actor)
        return version

    def approve(self, actor: Actor, plan_id: int, version: int) -> PlanVersion:
        """Make a draft of a county default plan the version in force; the one before becomes
        superseded. Incidents keep the version they activated. An enterprise's plan is not the
        bureau's to approve: the enterprise reviews and issues it, the county files it."""
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            if plan.enterprise_id is not None:
                raise LifecycleError("an enterprise plan is reviewed and issued by the "
                                     "enterprise and filed by the county: record its review "
                                     "and issue, then file it")
            self._check_default_writer(actor, plan)
            previous = plan.current_version
            row = approve(tx.session, plan_id, version, actor.username, tx.now.date())
            tx.record("plan.approved", {
                "plan_id": plan_id, "enterprise_id": plan.enterprise_id, "version": row.version,
                "superseded": previous, "approved_by": row.approved_by,
                "next_review": row.next_review.isoformat() if row.next_review else None},
                county_id=self._county_of(plan), actor=actor)
        return row

    # ---- the lifecycle: review, sign and issue, file, revision (plans/filing.py) ----------

    def _event_data(self, plan: Plan, row: PlanVersion) -> dict[str, Any]:
        return {"plan_id": plan.id, "enterprise_id": plan.enterprise_id,
                "version": row.version, "title": row.document.get("title", "")}

    def _county_of(self, plan: Plan) -> int | None:
        return plan.enterprise.county_id if plan.enterprise is not None else plan.county_id

    def _check_county_staff(self, actor: Actor) -> None:
        if actor.role not in (Role.DUTY_OFFICER, Role.ADMIN):
            raise Forbidden("only the county's officers and administrators keep plan records")

    def review(self, actor: Actor, plan_id: int, version: int, review: Review) -> PlanVersion:
        """Record the enterprise's review (评审) of a draft."""
        self._check_county_staff(actor)
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            if review.held_on > tx.now.date():
                raise LifecycleError("a review cannot be held in the future")
            row = record_review(tx.session, plan_id, version, review, actor.username)
            tx.record("plan.reviewed", {**self._event_data(plan, row), "review": row.review},
                      county_id=self._county_of(plan), actor=actor)
        return row

    def issue(self, actor: Actor, plan_id: int, version: int, principal: str,
              issued_on: dt.date) -> PlanVersion:
        """The enterprise's principal signs and issues a reviewed version: it is in force."""
        self._check_county_staff(actor)
        if not principal.strip():
            raise LifecycleError("name the principal who signed the plan")
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            previous = plan.current_version
            row = issue(tx.session, plan_id, version, principal.strip(), issued_on,
                        tx.now.date())
            tx.record("plan.issued", {**self._event_data(plan, row), "superseded": previous,
                                      "issued_by": row.approved_by,
                                      "issued_on": row.approved_on.isoformat()
                                      if row.approved_on else None,
                                      "filing_due": row.filing_due.isoformat()
                                      if row.filing_due else None},
                      county_id=self._county_of(plan), actor=actor)
        return row

    def file(self, actor: Actor, plan_id: int, version: int,
             filed_on: dt.date | None = None) -> dict[str, Any]:
        """File (备案) the issued version and return the filing record."""
        self._check_county_staff(actor)
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            if plan.enterprise is None:
                raise LifecycleError("the county's own default plan is not filed")
            county = tx.session.get(Region, plan.enterprise.county_id) \
                if plan.enterprise.county_id is not None else None
            when = filed_on or tx.now.date()
            if when > tx.now.date():
                raise LifecycleError("a plan cannot be filed in the future")
            row = file_version(tx.session, plan_id, version, actor.username, when,
                               county.name if county else "")
            record = filing_record(row, plan.enterprise)
            tx.record("plan.filed", {**self._event_data(plan, row),
                                     "filing_no": row.filing_no,
                                     "filed_late": record["filed_late"]},
                      county_id=self._county_of(plan), actor=actor)
        return record

    def filing_record(self, actor: Actor, plan_id: int, version: int) -> dict[str, Any]:
        """The filing record of a filed version."""
        with self.service.reading() as s:
            plan = self.plan_for(s, actor, plan_id)
            row = get_version(s, plan_id, version)
            if row.filed_on is None:
                raise PlanNotFound(f"version {version} of plan {plan_id} is not filed")
            return filing_record(row, plan.enterprise)

    def flag_revision(self, actor: Actor, plan_id: int, trigger: str,
                      reason: str) -> dict[str, Any]:
        """Flag a plan for revision (a change in law, organisation, hazards, resources...)."""
        self._check_county_staff(actor)
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            if plan.enterprise is None:
                raise LifecycleError("only an enterprise's plan is flagged for revision")
            flag = flag_revision(tx.session, plan.enterprise, trigger, reason,
                                 actor.username, tx.now)
            data = {"plan_id": plan.id, "enterprise_id": plan.enterprise_id,
                    "enterprise_name": plan.enterprise.name, "flag_id": flag.id,
                    "trigger": trigger, "reason": flag.reason}
            tx.record("plan.revision_flagged", data, county_id=plan.enterprise.county_id,
                      actor=actor)
        return data

    def filing_status(self, actor: Actor, today: dt.date | None = None) -> dict[str, Any]:
        """What the county must chase: versions issued but not filed (overdue past 20 working
        days), plans flagged for revision, plans past their three-yearly evaluation."""
        self._check_county_staff(actor)
        today = today or self.service.clock().date()
        counties = self.service.region_counties(actor.region_id)
        with self.service.reading() as s:
            q = (select(PlanVersion, Enterprise).join(Plan, Plan.id == PlanVersion.plan_id)
                 .join(Enterprise, Enterprise.id == Plan.enterprise_id)
                 .where(PlanVersion.status == PlanStatus.APPROVED))
            if counties is not None:
                q = q.where(Enterprise.county_id.in_(counties))
            unfiled, evaluation = [], []
            for row, e in s.execute(q.order_by(PlanVersion.id)):
                base = {"plan_id": row.plan_id, "version": row.version,
                        "enterprise_id": e.id, "enterprise_name": e.name}
                if row.filed_on is None:
                    due = row.filing_due
                    unfiled.append({**base, "issued_on": _iso(row.approved_on),
                                    "filing_due": _iso(due),
                                    "overdue": bool(due and due < today),
                                    "working_days_left": _working_days_between(today, due)})
                if row.next_review and row.next_review < today:
                    evaluation.append({**base, "next_review": _iso(row.next_review)})
            fq = (select(PlanRevisionFlag, Enterprise.name)
                  .join(Enterprise, Enterprise.id == PlanRevisionFlag.enterprise_id)
                  .where(PlanRevisionFlag.cleared_at.is_(None)))
            if counties is not None:
                fq = fq.where(PlanRevisionFlag.county_id.in_(counties))
            flagged = [{"flag_id": f.id, "enterprise_id": f.enterprise_id,
                        "enterprise_name": name, "trigger": f.trigger, "reason": f.reason,
                        "created_at": f.created_at.isoformat(), "created_by": f.created_by}
                       for f, name in s.execute(fq.order_by(PlanRevisionFlag.id))]
        unfiled.sort(key=lambda r: (not r["overdue"], r["filing_due"] or ""))
        return {"as_of": today.isoformat(), "awaiting_filing": unfiled,
                "flagged_for_revision": flagged, "evaluation_overdue": evaluation}


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _working_days_between(start: dt.date, end: dt.date | None) -> int | None:
    """Working days from start to end (negative once past)."""
    if end is None:
        return None
    sign = 1 if end >= start else -1
    lo, hi = (start, end) if sign > 0 else (end, start)
    n, day = 0, lo
    while day < hi:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            n += 1
    return sign * n
