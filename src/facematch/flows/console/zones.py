"""Times as the console shows them: in the operator's zone, with the zone named (``WIB``); and
calendar days of that zone as ranges of stored (UTC) times.

A zone's name is its abbreviation where the time zone database has a real one (Asia/Jakarta:
``WIB``, Asia/Makassar: ``WITA``, Asia/Jayapura: ``WIT``, ``UTC``, ``CET``...); where it has only an
offset (``+0545``) the name is ``UTC+05:45``.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local(at: datetime, name: str) -> datetime:
    """``at`` (aware, or naive UTC) in the zone ``name``."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(zone(name))


def label(name: str, at: datetime | None = None) -> str:
    """The zone's short name at ``at`` (now by default)."""
    moment = local(at or datetime.now(UTC), name)
    abbreviation = moment.tzname() or ""
    if abbreviation and abbreviation[0] not in "+-":
        return abbreviation
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def show(at: datetime | None, name: str, *, seconds: bool = True) -> str:
    """``2025-01-02 10:04:05 WIB`` (``–`` for no time)."""
    if at is None:
        return "–"
    moment = local(at, name)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {label(name, at)}"


def clock(at: datetime, name: str) -> str:
    """``10:04 WIB``: a time later today, for "until HH:MM"."""
    return f"{local(at, name).strftime('%H:%M')} {label(name, at)}"


def today(name: str) -> date:
    return datetime.now(UTC).astimezone(zone(name)).date()


def day_start(day: date, name: str) -> datetime:
    """The UTC instant the calendar day ``day`` of zone ``name`` begins."""
    return datetime.combine(day, time(0), tzinfo=zone(name)).astimezone(UTC)


def offset_minutes(day: date, name: str) -> int:
    """The zone's offset from UTC at the start of ``day`` (to group stored times by local day)."""
    offset = datetime.combine(day, time(12), tzinfo=zone(name)).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def iso_utc(at: datetime | None) -> str:
    """ISO 8601 in UTC with ``Z`` (exports)."""
    if at is None:
        return ""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
