"""Sensor alarm state kept in the database: warnings, incident episodes, faults, last values.

Each open row has a partial unique index, so two hub processes (or one restarted) that see the
same readings agree on one warning, one episode and one incident per alarm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from command.db import Base, utcnow


def _open_only(column: str) -> dict[str, Any]:
    clause = text(f"{column} IS NULL")
    return {"sqlite_where": clause, "postgresql_where": clause}


class SensorWarning(Base):
    """One alarm of one sensor, from the reading that fired it until it clears."""

    __tablename__ = "sensor_warnings"
    __table_args__ = (
        Index("ux_sensor_warnings_open", "enterprise_id", "sensor_id", unique=True,
              **_open_only("cleared_at")),
        Index("ix_sensor_warnings_installation", "installation_id", "raised_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("hazard_installations.id"))
    sensor_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    unit: Mapped[str] = mapped_column(String(10))
    # level now, and the highest level this alarm reached
    level: Mapped[int]
    peak_level: Mapped[int]
    # open | acked | silenced | dismissed | cleared
    status: Mapped[str] = mapped_column(String(20), default="open")
    value: Mapped[float]
    peak_value: Mapped[float]
    threshold: Mapped[float]
    lat: Mapped[float]
    lon: Mapped[float]
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # reading timestamps (the sensor's clock) and the hub's clock
    above_since_ts: Mapped[dt.datetime]
    raised_ts: Mapped[dt.datetime]
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[dt.datetime | None]
    acked_at: Mapped[dt.datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(100))
    silenced_until: Mapped[dt.datetime | None]
    silenced_by: Mapped[str | None] = mapped_column(String(100))
    dismissed_at: Mapped[dt.datetime | None]
    dismissed_by: Mapped[str | None] = mapped_column(String(100))
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("sensor_episodes.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))


class SensorEpisode(Base):
    """An installation in alarm: the one incident it reported, until all its sensors clear."""

    __tablename__ = "sensor_episodes"
    __table_args__ = (
        Index("ux_sensor_episodes_open", "installation_id", unique=True,
              **_open_only("closed_at")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("hazard_installations.id"))
    # level2 | correlation
    trigger: Mapped[str] = mapped_column(String(20))
    severity: Mapped[int]
    # sensor ids that made the episode, in firing order
    sensors: Mapped[list[Any]] = mapped_column(default=list)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # why no incident could be reported (location off the map, ...), for the officer
    report_error: Mapped[str | None] = mapped_column(Text)


class SensorFault(Base):
    """A sensor that is silent, stuck or out of its physical range: not an alarm."""

    __tablename__ = "sensor_faults"
    __table_args__ = (
        Index("ux_sensor_faults_open", "enterprise_id", "sensor_id", "reason", unique=True,
              **_open_only("cleared_at")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("hazard_installations.id"))
    sensor_id: Mapped[str] = mapped_column(String(100))
    # silent | stuck | out_of_range
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    detected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[dt.datetime | None]


class SensorStatus(Base):
    """The last reading of each sensor, flushed every few seconds (not per reading)."""

    __tablename__ = "sensor_status"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), primary_key=True)
    sensor_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_value: Mapped[float | None]
    last_ts: Mapped[dt.datetime | None]
    # the hub's clock when the last reading arrived (heartbeats use it)
    last_seen_at: Mapped[dt.datetime | None]
