"""The console's dashboard: per day and per partner, from the database (nothing kept in memory).

Outcomes are counted as the partners received them: an attempt waiting for a reviewer is
``IN_REVIEW`` (its engine verdict is not an outcome yet, nor is its reason code). Attempts are
counted by the day they were created, in the operator's zone (the zone's offset at the start of
the range; see :mod:`facematch.flows.console.zones`). Failure to acquire (FTA) counts attempts
where an image held no usable face (``INVALID_DOCUMENT``: the selfie; ``REFERENCE_IMAGE_VALIDATION_
FAILED``: the reference). Confirm → decision is the engine's time (for reviewed attempts, until the
item entered the queue); the review's own time shows as queue age. Latency percentiles and the
score histogram use the newest :data:`SAMPLE` attempts of the range.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from facematch.flows.console import filters, zones
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services
from facematch.rules.review_band import Band
from facematch.rules.states import ReasonCode, Result, SubmissionStatus
from facematch.storage import console_queries, partner_repo, review_repo, submission_repo
from facematch.storage.console_queries import SubmissionFilter

SAMPLE = 20_000
FTA_REASONS = frozenset({ReasonCode.INVALID_DOCUMENT, ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED})
HISTOGRAM = (-0.2, 1.0, 0.025)
"""Similarity histogram: from, to, bin width."""
DEFAULT_DAYS = 14


@dataclass
class Counts:
    submissions: int = 0
    valid: int = 0
    invalid: int = 0
    error: int = 0
    in_review: int = 0
    open: int = 0
    """Not decided yet by anyone (initiated, in progress)."""
    fta: int = 0

    def add(self, status: str, result: str | None, reason: str | None, n: int) -> None:
        self.submissions += n
        if status == SubmissionStatus.ERROR:
            self.error += n
        elif status == SubmissionStatus.COMPLETED and result == Result.VALID:
            self.valid += n
        elif status == SubmissionStatus.COMPLETED:
            self.invalid += n
        elif status == SubmissionStatus.IN_REVIEW:
            self.in_review += n
        else:
            self.open += n
        if reason in FTA_REASONS and status != SubmissionStatus.IN_REVIEW:
            self.fta += n

    @property
    def fta_rate(self) -> float | None:
        decided = self.valid + self.invalid + self.error
        return self.fta / decided if decided else None


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float | None
    p95: float | None
    n: int


@dataclass
class PartnerSummary:
    partner_id: str
    name: str
    counts: Counts = field(default_factory=Counts)
    queue_open: int = 0
    queue_oldest: datetime | None = None
    callbacks_delivered: int = 0
    callbacks_failed: int = 0
    latency: Latency = Latency(None, None, 0)

    @property
    def callback_success(self) -> float | None:
        total = self.callbacks_delivered + self.callbacks_failed
        return self.callbacks_delivered / total if total else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: date
    until: date
    """Inclusive."""
    zone: str
    """The operator's zone: the days are its calendar days."""
    partner_id: str | None
    days: list[str]
    per_day: dict[str, Counts]
    reasons: list[tuple[str, int]]
    latency_by_day: dict[str, Latency]
    latency: Latency
    callbacks_by_day: dict[str, tuple[int, int]]
    """day → (delivered attempts, failed attempts)."""
    partners: list[PartnerSummary]
    histogram: list[tuple[float, float, int]]
    threshold: float | None
    band: Band | None
    queue_open: int
    queue_oldest: datetime | None
    outbox: dict[str, int]
    totals: Counts


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _latency(values: list[float]) -> Latency:
    return Latency(percentile(values, 0.5), percentile(values, 0.95), len(values))


def histogram(values: list[float]) -> list[tuple[float, float, int]]:
    start, stop, width = HISTOGRAM
    bins = round((stop - start) / width)
    counts = [0] * bins
    for value in values:
        index = min(bins - 1, max(0, math.floor((value - start) / width)))
        counts[index] += 1
    return [(round(start + i * width, 4), round(start + (i + 1) * width, 4), c) for i, c in enumerate(counts)]


def _threshold(svc: Services, partner_id: str | None) -> float | None:
    """The threshold of the newest engine decision (what the engine used, model and settings alike)."""
    with svc.db.session() as session:
        details = submission_repo.latest_engine_details(partner_id, session=session)
    face_match = ((details or {}).get("verificationResults") or {}).get("faceMatch") or {}
    value = face_match.get("threshold")
    return float(value) if isinstance(value, int | float) else None


def dashboard(
    svc: Services,
    user: ConsoleUser,
    *,
    since: str = "",
    until: str = "",
    partner_id: str | None = None,
) -> Dashboard:
    """Counts, rates and distributions for the operator's days ``since``..``until`` (default: the
    last 14; at most ``console.max_range_days``)."""
    user.require(Permission.READ)
    span = filters.days(svc, user.time_zone, since, until, default_days=DEFAULT_DAYS)
    assert span is not None
    partner_id = filters.text(partner_id or "", "partner")
    minutes = zones.offset_minutes(span.since, span.zone)
    f = SubmissionFilter(partner_id=partner_id or None, since=span.start, until=span.end)
    days = [d.isoformat() for d in span.each()]
    with svc.db.session() as session:
        partners = {p.id: PartnerSummary(p.id, p.name) for p in partner_repo.list_partners(session=session)}
        outcomes = console_queries.daily_outcomes(f, minutes, session=session)
        times = console_queries.engine_decision_times(f, session=session, limit=SAMPLE)
        sims = console_queries.similarities(f, session=session, limit=SAMPLE)
        callbacks = console_queries.daily_callback_attempts(f, minutes, session=session)
        queues = console_queries.open_reviews_by_partner(session=session)
        outbox = console_queries.outbox_counts(session=session, partner_id=partner_id or None)
        band = review_repo.band_of(partner_id, session=session) if partner_id else None
    per_day = {day: Counts() for day in days}
    totals = Counts()
    reasons: Counter[str] = Counter()
    for day, pid, status, result, reason, n in outcomes:
        per_day.setdefault(day, Counts()).add(status, result, reason, n)
        totals.add(status, result, reason, n)
        if pid in partners:
            partners[pid].counts.add(status, result, reason, n)
        if reason and status != SubmissionStatus.IN_REVIEW:  # not an outcome yet
            reasons[reason] += n
    by_day: dict[str, list[float]] = defaultdict(list)
    by_partner: dict[str, list[float]] = defaultdict(list)
    for created, pid, seconds in times:
        by_day[zones.local(created, span.zone).date().isoformat()].append(seconds)
        by_partner[pid].append(seconds)
    for pid, summary in partners.items():
        summary.latency = _latency(by_partner.get(pid, []))
    delivered: dict[str, tuple[int, int]] = {day: (0, 0) for day in days}
    for day, pid, outcome, n in callbacks:
        ok = outcome == "DELIVERED"
        good, bad = delivered.get(day, (0, 0))
        delivered[day] = (good + n, bad) if ok else (good, bad + n)
        if pid in partners:
            if ok:
                partners[pid].callbacks_delivered += n
            else:
                partners[pid].callbacks_failed += n
    queue_open, queue_oldest = 0, None
    for pid, count, oldest in queues:
        if pid in partners:
            partners[pid].queue_open, partners[pid].queue_oldest = count, oldest
        if partner_id in (None, "", pid):
            queue_open += count
            queue_oldest = oldest if queue_oldest is None or oldest < queue_oldest else queue_oldest
    shown = [p for p in partners.values() if not partner_id or p.partner_id == partner_id]
    return Dashboard(
        since=span.since,
        until=span.until,
        zone=span.zone,
        partner_id=partner_id or None,
        days=days,
        per_day=per_day,
        reasons=reasons.most_common(),
        latency_by_day={day: _latency(by_day.get(day, [])) for day in days},
        latency=_latency([s for _, _, s in times]),
        callbacks_by_day=delivered,
        partners=sorted(shown, key=lambda p: (-p.counts.submissions, p.name)),
        histogram=histogram(sims),
        threshold=_threshold(svc, partner_id or None),
        band=band,
        queue_open=queue_open,
        queue_oldest=queue_oldest,
        outbox=outbox,
        totals=totals,
    )
