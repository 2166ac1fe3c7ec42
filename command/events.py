"""The event log: recording events inside a transaction, who may see them, and publishing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from command.models import Event, EventCounter, Role


@dataclass(frozen=True)
class PublishedEvent:
    """An event as every client sees it, plus the routing facts the publisher needs."""

    seq: int
    type: str
    incident_id: int | None
    at: dt.datetime
    data: dict[str, Any]
    unit_id: int | None = None
    county_id: int | None = None
    exercise: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "incident_id": self.incident_id,
            "at": self.at.isoformat(),
            "exercise": self.exercise,
            "data": self.data,
        }

    @classmethod
    def from_row(cls, row: Event) -> PublishedEvent:
        return cls(
            seq=row.seq,
            type=row.type,
            incident_id=row.incident_id,
            at=row.at,
            data=row.data,
            unit_id=row.unit_id,
            county_id=row.county_id,
            exercise=row.exercise,
        )


class Publisher(Protocol):
    """Delivers committed events to the screens allowed to see them."""

    def publish(self, events: Sequence[PublishedEvent]) -> None: ...


@dataclass
class MemoryPublisher:
    """Keeps published events in a list; for domain tests and tools without a hub."""

    events: list[PublishedEvent] = field(default_factory=list)

    def publish(self, events: Sequence[PublishedEvent]) -> None:
        self.events.extend(events)

    def of_type(self, type_: str) -> list[PublishedEvent]:
        return [e for e in self.events if e.type == type_]


def ensure_counter(session: Session) -> None:
    """Create the single seq counter row if the database is new."""
    if session.get(EventCounter, 1) is None:
        session.add(EventCounter(id=1, value=0))
        session.flush()


def take_seqs(session: Session, n: int) -> int:
    """Take n consecutive seqs at once; returns the first. The row lock holds until commit."""
    value = session.execute(
        update(EventCounter)
        .where(EventCounter.id == 1)
        .values(value=EventCounter.value + n)
        .returning(EventCounter.value)
    ).scalar_one()
    return int(value) - n + 1


def append_events(session: Session, rows: Sequence[Event]) -> list[PublishedEvent]:
    """Number a transaction's events in one counter update and add them to the log.

    Called just before commit: the counter row stays locked for the shortest time, and seq
    order is still commit order (the next writer waits on the same row).
    """
    if not rows:
        return []
    first = take_seqs(session, len(rows))
    for i, row in enumerate(rows):
        row.seq = first + i
    session.add_all(rows)
    session.flush()
    return [PublishedEvent.from_row(r) for r in rows]


@dataclass(frozen=True)
class Viewer:
    """Who is looking: decides which events a connection may see."""

    role: Role
    unit_id: int | None = None
    # counties the viewer may see; None means every county
    counties: frozenset[int] | None = None

    def may_see(self, event: PublishedEvent) -> bool:
        if self.role is Role.UNIT:
            return event.unit_id is not None and event.unit_id == self.unit_id
        if self.role is Role.TRAINER and not event.exercise:
            return False
        return self.counties is None or event.county_id in self.counties


def events_since(
    session: Session, viewer: Viewer, since_seq: int, limit: int = 5000
) -> list[PublishedEvent]:
    """Every event after since_seq that the viewer may see, in seq order."""
    query = select(Event).where(Event.seq > since_seq)
    if viewer.role is Role.UNIT:
        query = query.where(Event.unit_id == viewer.unit_id)
    else:
        if viewer.role is Role.TRAINER:
            query = query.where(Event.exercise.is_(True))
        if viewer.counties is not None:
            query = query.where(Event.county_id.in_(viewer.counties))
    rows = session.scalars(query.order_by(Event.seq).limit(limit))
    return [PublishedEvent.from_row(r) for r in rows]


def incident_events(session: Session, incident_id: int) -> list[PublishedEvent]:
    """The timeline of one incident, in seq order."""
    rows = session.scalars(select(Event).where(Event.incident_id == incident_id)
                           .order_by(Event.seq))
    return [PublishedEvent.from_row(r) for r in rows]


def last_seq(session: Session) -> int:
    row = session.get(EventCounter, 1)
    return row.value if row else 0


def rooms_for(event: PublishedEvent, county_ancestors: Iterable[int]) -> list[str]:
    """Socket.IO rooms an event goes to: its unit, officers of its county and every region
    above it, and trainers of those regions when it is an exercise."""
    regions: list[int | None] = [None, *county_ancestors]
    rooms = [officer_room(r) for r in regions]
    if event.exercise:
        rooms += [trainer_room(r) for r in regions]
    if event.unit_id is not None:
        rooms.append(unit_room(event.unit_id))
    return rooms


def officer_room(region_id: int | None) -> str:
    return f"officers:{region_id if region_id is not None else 'all'}"


def trainer_room(region_id: int | None) -> str:
    return f"trainers:{region_id if region_id is not None else 'all'}"


def unit_room(unit_id: int) -> str:
    return f"unit:{unit_id}"
