"""Incidents, units, assignments, tasks and the append-only event log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship

from command.db import Base, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])


class RegionLevel(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class Role(enum.StrEnum):
    DUTY_OFFICER = "duty_officer"
    UNIT = "unit"
    TRAINER = "trainer"
    ADMIN = "admin"


class UnitStatus(enum.StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


class IncidentStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class IncidentKind(enum.StrEnum):
    FIRE = "fire"
    EXPLOSION = "explosion"
    LEAK = "leak"
    POISONING = "poisoning"
    OTHER = "other"


class AssignmentStatus(enum.StrEnum):
    ACTIVE = "active"
    RELEASED = "released"


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[RegionLevel] = mapped_column(_enum(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # the region a user works in; None means the whole platform
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str] = mapped_column(String(10), default="zh_CN")


class AuthToken(Base):
    """An opaque bearer token, stored only as its hash so a database leak gives no sessions."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    alt_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20))  # fire | hazmat | hospital
    lat: Mapped[float]
    lon: Mapped[float]
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    in_service: Mapped[bool] = mapped_column(default=True)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    callsign: Mapped[str] = mapped_column(String(50), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # fire | ems | hazmat | command
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[UnitStatus] = mapped_column(_enum(UnitStatus), default=UnitStatus.AVAILABLE)
    status_since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lat: Mapped[float]
    lon: Mapped[float]
    position_at: Mapped[dt.datetime | None]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    station: Mapped[Station | None] = relationship()


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(_enum(IncidentKind))
    status: Mapped[IncidentStatus] = mapped_column(
        _enum(IncidentStatus), default=IncidentStatus.ACTIVE
    )
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    lat: Mapped[float]
    lon: Mapped[float]
    address: Mapped[str] = mapped_column(String(300), default="")
    chemical: Mapped[str | None] = mapped_column(String(10))
    severity: Mapped[int] = mapped_column(default=2)
    casualties: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(30), default="phone")  # phone | sensor | drill
    exercise: Mapped[bool] = mapped_column(default=False)
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("plan_versions.id"))
    # {enterprise_id, plan_id, version, scenario_id, scenario_name, source}, fixed at activation
    plan_ref: Mapped[dict[str, Any] | None]
    drill_id: Mapped[int | None] = mapped_column(index=True)
    scenario_id: Mapped[str | None] = mapped_column(String(100))
    scenario_name: Mapped[str | None] = mapped_column(String(200))
    match_reason: Mapped[str] = mapped_column(Text, default="")
    response_level: Mapped[str | None] = mapped_column(String(4))
    wind: Mapped[dict[str, Any] | None]
    spill: Mapped[str | None] = mapped_column(String(10))
    isolation: Mapped[dict[str, Any] | None]
    unmet: Mapped[list[Any]] = mapped_column(default=list)
    coverage_gaps: Mapped[list[Any]] = mapped_column(default=list)
    # relocations that would restore the cover this dispatch took away
    move_ups: Mapped[list[Any]] = mapped_column(default=list)
    # units this incident may ever dispatch (a drill's participants); None: any
    unit_pool: Mapped[list[Any] | None]
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    reported_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    # the first report upward (due within an hour): {text, sent_to, sent_at, by, late,
    # elapsed_s}; None until an officer sends it
    first_report: Mapped[dict[str, Any] | None]
    # later reports of the same incident the officer attached instead of opening a new one
    attached_reports: Mapped[list[Any] | None]
    # the government's response level (I-IV), apart from the enterprise plan's response_level:
    # {"level", "active", "reason", "at", "by"}, set by the commander's decision
    government_response: Mapped[dict[str, Any] | None]
    # the order No. 493 accident report: first report, follow-ups, upward chain
    accident_report: Mapped[dict[str, Any] | None]

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="incident", order_by="Assignment.id"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="incident", order_by="(Task.order, Task.id)"
    )
    notifications: Mapped[list[NotificationCheck]] = relationship(
        order_by="NotificationCheck.id"
    )


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    capability: Mapped[str] = mapped_column(String(20))
    status: Mapped[AssignmentStatus] = mapped_column(
        _enum(AssignmentStatus), default=AssignmentStatus.ACTIVE
    )
    eta_s: Mapped[float]
    travel_s: Mapped[float]
    turnout_s: Mapped[float]
    distance_m: Mapped[float]
    deadline_s: Mapped[float | None]
    # GeoJSON LineString
    route: Mapped[dict[str, Any] | None]
    staging: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]
    acked_at: Mapped[dt.datetime | None]
    released_at: Mapped[dt.datetime | None]

    incident: Mapped[Incident] = relationship(back_populates="assignments")
    unit: Mapped[Unit] = relationship()


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    capability: Mapped[str] = mapped_column(String(20), default="")
    order: Mapped[int] = mapped_column(default=0)
    deadline_s: Mapped[float | None]
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]

    incident: Mapped[Incident] = relationship(back_populates="tasks")


class Closure(Base):
    """A road closure set by a duty officer: a segment (edge list) or a polygon."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    geometry: Mapped[dict[str, Any]]  # GeoJSON LineString or Polygon as given
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))


class NotificationCheck(Base):
    """Who on an incident's contact list has been notified, and when."""

    __tablename__ = "notification_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    contact: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    notified_at: Mapped[dt.datetime | None]
    notified_by: Mapped[str] = mapped_column(String(100), default="")


class EventCounter(Base):
    """Single-row counter: taking the next seq locks it, so seq order is commit order."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Event(Base):
    """One entry of the append-only event log; never updated or deleted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_unit_seq", "unit_id", "seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(50))
    incident_id: Mapped[int | None] = mapped_column(index=True)
    # the unit this event is addressed to, if any; a unit's tablet sees only these
    unit_id: Mapped[int | None]
    county_id: Mapped[int | None]
    exercise: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100), default="")
    data: Mapped[dict[str, Any]]


class ProcessedCommand(Base):
    """Client-generated command ids already applied, so a repeated send is applied once."""

    __tablename__ = "processed_commands"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(50))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EventLogIsAppendOnly(Exception):
    pass


@event.listens_for(Event, "before_update")
def _refuse_event_update(*_args: Any) -> None:
    raise EventLogIsAppendOnly("events are never updated")


@event.listens_for(Event, "before_delete")
def _refuse_event_delete(*_args: Any) -> None:
    raise EventLogIsAppendOnly("events are never deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_event_change(state: ORMExecuteState) -> None:
    # bulk UPDATE / DELETE statements through session.execute bypass the flush hooks above; the
    # database triggers (initial migration) refuse raw SQL too
    if (state.is_update or state.is_delete) and any(
            m.class_ is Event for m in state.all_mappers):
        raise EventLogIsAppendOnly("events are never updated or deleted")
