"""Enterprises, their major hazard installations and their versioned emergency plans."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from command.db import Base, utcnow


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SUPERSEDED = "superseded"


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    alt_name: Mapped[str] = mapped_column(String(200), default="")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    industry: Mapped[str] = mapped_column(String(100), default="")
    park: Mapped[str] = mapped_column(String(100), default="")
    # on_duty_phone, safety_manager {name, phone}, legal_representative {name, phone}
    contacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    people_within_500m: Mapped[int] = mapped_column(default=0)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # hash of the per-enterprise sensor ingest token
    ingest_token_hash: Mapped[str | None] = mapped_column(String(200))

    installations: Mapped[list[HazardInstallation]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="HazardInstallation.id"
    )
    plan: Mapped[Plan | None] = relationship(back_populates="enterprise", uselist=False)


class HazardInstallation(Base):
    """A major hazard installation (重大危险源) with its chemicals and computed grade."""

    __tablename__ = "hazard_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]
    lon: Mapped[float]
    # [{"name", "un", "cas", "quantity_t"}]
    chemicals: Mapped[list[Any]] = mapped_column(default=list)
    r_value: Mapped[float] = mapped_column(default=0.0)
    grade: Mapped[int] = mapped_column(default=4)
    # [{"sensor_id", "kind", "unit", "lat", "lon", "thresholds": {...}}]
    sensors: Mapped[list[Any]] = mapped_column(default=list)

    enterprise: Mapped[Enterprise] = relationship(back_populates="installations")


class Plan(Base):
    """One plan per enterprise; its content lives in immutable versions."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), unique=True)
    # county default plans have no enterprise; one per incident kind set
    is_county_default: Mapped[bool] = mapped_column(default=False)
    # the county a default plan serves; None: the platform-wide fallback
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    current_version: Mapped[int | None]

    enterprise: Mapped[Enterprise | None] = relationship(back_populates="plan")
    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.version"
    )


class PlanVersion(Base):
    """An immutable version of a plan document; incidents point at the one they activated."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    version: Mapped[int]
    status: Mapped[PlanStatus] = mapped_column(Enum(PlanStatus, native_enum=False, length=20))
    document: Mapped[dict[str, Any]]
    # the file exactly as authored, so export round-trips byte for byte
    source_text: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(10), default="yaml")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    # the version in force: who signed and issued it (the enterprise's principal) and when
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_on: Mapped[dt.date | None]
    next_review: Mapped[dt.date | None]
    # the lifecycle of the Measures for Emergency Plan Management: the enterprise reviews
    # (评审), its principal signs and issues, the county files (备案) and issues a record
    review: Mapped[dict[str, Any] | None]  # {held_on, panel: [...], conclusion, notes, by}
    filing_due: Mapped[dt.date | None]
    filed_on: Mapped[dt.date | None]
    filed_by: Mapped[str | None] = mapped_column(String(100))
    filing_no: Mapped[str | None] = mapped_column(String(60))

    plan: Mapped[Plan] = relationship(back_populates="versions")


class PlanVersionIsImmutable(Exception):
    """A stored version's content was about to change."""


# status, approval and review dates follow the lifecycle; what the version says never changes
IMMUTABLE_VERSION_FIELDS = ("plan_id", "version", "document", "source_text", "source_format",
                            "created_at", "created_by")


@event.listens_for(PlanVersion, "before_update")
def _refuse_version_edit(_mapper: Any, _connection: Any, target: PlanVersion) -> None:
    state = inspect(target)
    changed = [name for name in IMMUTABLE_VERSION_FIELDS
               if state.attrs[name].history.has_changes()]
    if changed:
        raise PlanVersionIsImmutable(f"plan version {target.id}: {', '.join(changed)} "
                                     "cannot change once stored")


@event.listens_for(PlanVersion, "before_delete")
def _refuse_version_delete(_mapper: Any, _connection: Any, target: PlanVersion) -> None:
    raise PlanVersionIsImmutable(f"plan version {target.id} cannot be deleted; incidents "
                                 "refer to the exact version they activated")


class PlanRevisionFlag(Base):
    """A reason to revise an enterprise's plan: a change in law, organisation, hazards or
    resources, or a drill or incident finding (the Measures, Art. 36). Filing a newer
    version clears it."""

    __tablename__ = "plan_revision_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    # the drill improvement item that raised it (no foreign key: plans never need drills)
    improvement_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    cleared_at: Mapped[dt.datetime | None]
