"""Blind drills: the schedule (kept secret from participants), injects and improvement items."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from command.db import Base, utcnow


class DrillStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"
    MISSED = "missed"


class InjectType(enum.StrEnum):
    EXPLOSION = "explosion"
    CASUALTIES = "casualties"
    ROAD_BLOCKED = "road_blocked"
    UNIT_BREAKDOWN = "unit_breakdown"


class Drill(Base):
    """One unannounced drill: the pools it draws from, its window and its secret moment."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[DrillStatus] = mapped_column(
        Enum(DrillStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=DrillStatus.SCHEDULED, index=True,
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    # the creator's region; only trainers and admins whose region covers it see the drill
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    # the secret moment it springs, drawn at creation
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    # pools; None means any
    enterprise_ids: Mapped[list[Any] | None]
    scenario_ids: Mapped[list[Any] | None]
    unit_ids: Mapped[list[Any] | None]
    station_ids: Mapped[list[Any] | None]
    # {"severity": [lo, hi], "casualties": [lo, hi], "wind_deg": [lo, hi],
    #  "wind_speed_ms": [lo, hi], "spill": ["small", "large"]}
    variations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # what was drawn when it sprang: enterprise, scenario, kind, chemical, variations
    sprung: Mapped[dict[str, Any] | None]
    claimed_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    paused_at: Mapped[dt.datetime | None]
    paused_total_s: Mapped[float] = mapped_column(default=0.0)
    revealed_at: Mapped[dt.datetime | None]
    revealed_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[dt.datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))
    missed_at: Mapped[dt.datetime | None]
    # why a drill was missed or could not spring
    note: Mapped[str] = mapped_column(Text, default="")
    # the after-action figures, frozen when the drill ends
    result: Mapped[dict[str, Any] | None]
    # AQ/T 9007 programme: type, scope, objectives, participants, evaluators, safety plan,
    # scenario script (MSEL); None until the trainer writes it
    programme: Mapped[dict[str, Any] | None]
    phase: Mapped[str] = mapped_column(String(20), default="plan", server_default="plan")

    injects: Mapped[list[DrillInject]] = relationship(
        back_populates="drill", order_by="DrillInject.index", cascade="all, delete-orphan"
    )
    improvements: Mapped[list[DrillImprovement]] = relationship(
        back_populates="drill", order_by="DrillImprovement.id", cascade="all, delete-orphan"
    )


class DrillInject(Base):
    """A timed follow-up event: applied at start + at_s (plus time paused) or fired by hand."""

    __tablename__ = "drill_injects"
    __table_args__ = (UniqueConstraint("drill_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    index: Mapped[int]
    at_s: Mapped[float]
    type: Mapped[InjectType] = mapped_column(
        Enum(InjectType, native_enum=False, length=30,
             values_callable=lambda e: [m.value for m in e]))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    applied_at: Mapped[dt.datetime | None]
    applied_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(Text, default="")
    # the outcome as [{"code", "params"}] for the trainer console to translate
    outcome_parts: Mapped[list[Any] | None]

    drill: Mapped[Drill] = relationship(back_populates="injects")


class DrillImprovement(Base):
    """An improvement item the trainer writes into the after-action report."""

    __tablename__ = "drill_improvements"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200), default="")
    due: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    # open → in_progress → closed; a closed item keeps who closed it and when
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    # the item asks for the enterprise's plan to be revised (a revision trigger)
    plan_revision: Mapped[bool] = mapped_column(default=False, server_default=false())

    drill: Mapped[Drill] = relationship(back_populates="improvements")


class DrillObservation(Base):
    """An evaluator's observation per AQ/T 9009, written on a tablet during the drill.

    client_id comes from the evaluator's device, so a form saved offline and sent again
    after reconnecting is stored once.
    """

    __tablename__ = "drill_observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    area: Mapped[str] = mapped_column(String(40))
    rating: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    # when the evaluator saw it (the device's clock), and when the hub stored it
    observed_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    evaluator: Mapped[str] = mapped_column(String(100))
    # the last event of the drill's incident when it was stored: places it in the log
    after_seq: Mapped[int | None]


class EnterpriseDrill(Base):
    """A drill an enterprise held and reported to the county (the hub may not have run it)."""

    __tablename__ = "enterprise_drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(index=True)
    drill_type: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    # the hub drill it records, when the hub ran it
    drill_id: Mapped[int | None] = mapped_column(ForeignKey("drills.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
