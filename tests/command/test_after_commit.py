"""What is committed stands: publishing failures and retried commands never undo or repeat it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from command.errors import Conflict
from command.events import PublishedEvent
from command.models import Event, Incident, IncidentKind
from command.service import IncidentReport
from web import create_app


class BrokenPublisher:
    """A message queue that is down: every publish raises, as redis-py does."""

    def __init__(self) -> None:
        self.calls = 0

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        self.calls += 1
        raise ConnectionError("Redis is down")


def _actor(app: Any, username: str) -> Any:
    from command.auth import Actor
    from command.models import User

    with app.extensions["redline"].sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return Actor(user_id=user.id, username=user.username, role=user.role,
                     unit_id=user.unit_id, region_id=user.region_id)


def _counts(app: Any) -> tuple[int, int]:
    with app.extensions["redline"].sessions() as s:
        return (s.scalar(select(func.count()).select_from(Incident)) or 0,
                s.scalar(select(func.count()).select_from(Event)) or 0)


def test_a_publish_failure_after_commit_does_not_fail_the_report(db_url: str) -> None:
    broken = BrokenPublisher()
    app = create_app({"DATABASE_URL": db_url, "ASYNC_MODE": "threading", "LOAD_DEMO": False,
                      "DRILL_SCHEDULER": False, "TESTING": True, "PUBLISHER": broken})
    service = app.extensions["redline"].service
    seen: list[int] = []
    service.listeners.append(lambda evs: seen.extend(e.seq for e in evs))
    incident = service.report_incident(_actor(app, "duty"), IncidentReport(
        kind=IncidentKind.FIRE, enterprise_id=1, severity=2))
    assert broken.calls >= 1
    # the report stands, with its events in the log, and later listeners still ran
    assert service.get_incident_obj(incident.id).assignments
    assert _counts(app)[1] > 0 and seen, "listeners after a failed publish still see events"
    app.extensions["redline"].engine.dispose()


def test_a_retried_report_is_applied_once_and_ids_are_not_shared(app: Any) -> None:
    service = app.extensions["redline"].service
    duty = _actor(app, "duty")
    report = IncidentReport(kind=IncidentKind.FIRE, enterprise_id=1, severity=2,
                            client_id="report-7f3a")
    first = service.report_incident(duty, report)
    before = _counts(app)
    again = service.report_incident(duty, report)
    assert again.id == first.id and _counts(app) == before
    # the same id from another user, or for another command, is refused, not dropped
    with pytest.raises(Conflict):
        service.report_incident(_actor(app, "admin"), report)
    with pytest.raises(Conflict):
        service.close_incident(duty, first.id, client_id="report-7f3a")
    assert _counts(app) == before
