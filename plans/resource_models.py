"""Emergency resources a duty officer calls on: supply depots with their GB 30077 inventories,
rescue teams and the expert pool (GB/T 29639-2020 annex: emergency resource survey)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from command.db import Base, utcnow


class SupplyDepot(Base):
    """A place where emergency supplies and equipment are kept (an enterprise's, the
    county's or a social organisation's)."""

    __tablename__ = "supply_depots"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(20))  # enterprise | county | social
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    address: Mapped[str] = mapped_column(String(300), default="")
    # {"name", "phone"}: who opens the depot at night
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    items: Mapped[list[SupplyItem]] = relationship(
        back_populates="depot", cascade="all, delete-orphan", order_by="SupplyItem.id")


class SupplyItem(Base):
    """A line of a depot's inventory."""

    __tablename__ = "supply_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("supply_depots.id"), index=True)
    category: Mapped[str] = mapped_column(String(30), index=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[float]
    unit: Mapped[str] = mapped_column(String(20))

    depot: Mapped[SupplyDepot] = relationship(back_populates="items")


class RescueTeam(Base):
    """An enterprise, professional or social rescue team."""

    __tablename__ = "rescue_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # enterprise | professional | social
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    members: Mapped[int] = mapped_column(default=0)
    specialties: Mapped[list[Any]] = mapped_column(default=list)
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")


class Expert(Base):
    """A member of the county's expert pool."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    specialties: Mapped[list[Any]] = mapped_column(default=list)
    organisation: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(30))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # where the expert usually is (an office); None when unknown
    lat: Mapped[float | None]
    lon: Mapped[float | None]
