"""What the console accepts in its lists, charts and exports: dates, ranges, text and choices.

Everything an operator can type into a query string is checked here, once, so that no input can
reach the database as something it cannot handle: dates are ``YYYY-MM-DD`` between
:data:`FIRST_DAY` and a year from now, a range spans at most ``console.max_range_days`` days, text
is at most :data:`MAX_TEXT` printable characters, and a choice is one of its values. Anything else is
a 400 (:class:`~facematch.errors.InvalidFieldError`) that says what to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from facematch.errors import InvalidFieldError
from facematch.flows.console import zones
from facematch.flows.console.operators import ConsoleUser
from facematch.flows.context import Services
from facematch.rules.states import DeliveryState, ReasonCode, Result, SubmissionStatus
from facematch.storage.console_queries import AuditFilter, CallbackFilter, SubmissionFilter

FIRST_DAY = date(2000, 1, 1)
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Days:
    """Calendar days ``since``..``until`` (inclusive) of the operator's zone, and the stored (UTC)
    instants they span."""

    since: date
    until: date
    zone: str

    @property
    def start(self) -> datetime:
        return zones.day_start(self.since, self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return zones.day_start(self.until + timedelta(days=1), self.zone)

    @property
    def count(self) -> int:
        return (self.until - self.since).days + 1

    def each(self) -> list[date]:
        return [self.since + timedelta(days=i) for i in range(self.count)]


def day(value: str, name: str, zone: str) -> date | None:
    """A ``YYYY-MM-DD`` date between FIRST_DAY and a year from today ("" → None)."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidFieldError(name, f"{name}: dates are YYYY-MM-DD (e.g. 2025-01-31)")
    latest = zones.today(zone) + timedelta(days=366)
    if not FIRST_DAY <= parsed <= latest:
        raise InvalidFieldError(
            name, f"{name}: choose a date between {FIRST_DAY.isoformat()} and {latest.isoformat()}"
        )
    return parsed


def days(svc: Services, zone: str, since: str, until: str, *, default_days: int | None = None) -> Days | None:
    """The range the operator asked for: both ends optional (one alone is a one-sided range up to
    the longest one allowed), ``default_days`` up to today when neither is given (None: no range)."""
    first, last = day(since, "since", zone), day(until, "until", zone)
    longest = svc.settings.console.max_range_days
    if first is None and last is None:
        if default_days is None:
            return None
        last = zones.today(zone)
        return Days(last - timedelta(days=default_days - 1), last, zone)
    if first is None:
        assert last is not None
        first = max(FIRST_DAY, last - timedelta(days=longest - 1))
    if last is None:
        last = first + timedelta(days=longest - 1)
    if first > last:
        raise InvalidFieldError("since", "the range starts after it ends")
    chosen = Days(first, last, zone)
    if chosen.count > longest:
        raise InvalidFieldError("until", f"a range may span at most {longest} days")
    return chosen


def text(value: str, name: str) -> str | None:
    """A search term: trimmed, at most MAX_TEXT printable characters ("" → None)."""
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TEXT:
        raise InvalidFieldError(name, f"{name}: at most {MAX_TEXT} characters")
    if not value.isprintable():
        raise InvalidFieldError(name, f"{name}: only printable characters")
    return value


def choice(value: str, allowed: Iterable[str], name: str) -> str | None:
    """One of ``allowed`` ("" → None)."""
    value = value.strip()
    if not value:
        return None
    if value not in set(allowed):
        raise InvalidFieldError(name, f"{name}: not one of the offered values")
    return value


def submission_filter(
    svc: Services,
    user: ConsoleUser,
    *,
    partner: str = "",
    psid: str = "",
    user_id: str = "",
    q: str = "",
    status: str = "",
    result: str = "",
    reason: str = "",
    since: str = "",
    until: str = "",
) -> SubmissionFilter:
    """The submissions an operator asks for, from the query string (400 for what cannot be asked)."""
    span = days(svc, user.time_zone, since, until)
    return SubmissionFilter(
        partner_id=text(partner, "partner"),
        partner_session_id=text(psid, "psid"),
        user_id=text(user_id, "user_id"),
        any_id=text(q, "q"),
        status=choice(status, SubmissionStatus, "status"),
        result=choice(result, Result, "result"),
        reason_code=choice(reason, [r for r in ReasonCode if r], "reason"),
        since=span.start if span else None,
        until=span.end if span else None,
    )


def callback_filter(
    svc: Services,
    user: ConsoleUser,
    *,
    partner: str = "",
    status: str = "",
    submission: str = "",
    since: str = "",
    until: str = "",
) -> CallbackFilter:
    span = days(svc, user.time_zone, since, until)
    return CallbackFilter(
        partner_id=text(partner, "partner"),
        status=choice(status, DeliveryState, "status"),
        submission_id=text(submission, "submission"),
        since=span.start if span else None,
        until=span.end if span else None,
    )


def audit_filter(
    svc: Services,
    user: ConsoleUser,
    *,
    operator: str = "",
    submission: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
) -> AuditFilter:
    span = days(svc, user.time_zone, since, until)
    operator_id = text(operator, "operator")
    return AuditFilter(
        actor=f"operator:{operator_id}" if operator_id else None,
        submission_id=text(submission, "submission"),
        action=text(action, "action"),
        since=span.start if span else None,
        until=span.end if span else None,
    )
