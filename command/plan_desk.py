"""The plan desk: drafts and approvals of emergency plans, each written with its event.

plans/service.py holds the plan rules (validation, versions, review dates) as functions on a
session; here they meet the command service, so a draft or an approval and its `plan.drafted`
or `plan.approved` event commit in one transaction and reach every screen, like any other
state change. Region scope is checked here too: a duty officer of one county never sees, nor
touches, another county's plans.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from command.auth import Actor
from command.service import CommandService
from plans.models import Enterprise, Plan, PlanVersion
from plans.service import EnterpriseNotFound, PlanNotFound, approve, create_draft
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
        return plan

    def draft(self, actor: Actor, enterprise_id: int | None, text: str,
              fmt: Format) -> PlanVersion:
        """Validate an authored plan file and store it as a new draft version.

        enterprise_id None drafts the county default plan. An invalid file raises
        PlanValidationError with every problem, and nothing is saved.
        """
        with self.service.transaction() as tx:
            e = (self.enterprise_for(tx.session, actor, enterprise_id)
                 if enterprise_id is not None else None)
            version = create_draft(tx.session, enterprise_id, text, fmt, actor.username,
                                   map_bbox=self.map_bbox)
            tx.record("plan.drafted", {
                "plan_id": version.plan_id, "enterprise_id": enterprise_id,
                "version": version.version, "created_by": actor.username,
                "title": version.document.get("title", "")},
                county_id=e.county_id if e else None, actor=actor)
        return version

    def approve(self, actor: Actor, plan_id: int, version: int) -> PlanVersion:
        """Make a draft the version in force; the one before becomes superseded. Incidents
        keep the version they activated."""
        with self.service.transaction() as tx:
            plan = self.plan_for(tx.session, actor, plan_id)
            previous = plan.current_version
            row = approve(tx.session, plan_id, version, actor.username, tx.now.date())
            e = plan.enterprise
            tx.record("plan.approved", {
                "plan_id": plan_id, "enterprise_id": plan.enterprise_id, "version": row.version,
                "superseded": previous, "approved_by": row.approved_by,
                "next_review": row.next_review.isoformat() if row.next_review else None},
                county_id=e.county_id if e else None, actor=actor)
        return row
