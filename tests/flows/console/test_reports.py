"""The dashboard's numbers from seeded rows: per day and partner, failure to acquire, latency
percentiles, the similarity histogram, and the review queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consolekit import console_user, make_operator
from facematch.errors import InvalidFieldError
from facematch.flows import review
from facematch.flows.console import operators, zones
from facematch.flows.console import reports as console_reports
from facematch.flows.console.operators import OperatorRole
from facematch.flows.context import Services
from facematch.rules.review_band import Band
from facematch.storage.models import ReviewItem, utcnow
from servicekit import create_partner, seed_submission


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def test_percentiles_and_bins() -> None:
    assert console_reports.percentile([], 0.5) is None
    assert console_reports.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert console_reports.percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    bins = console_reports.histogram([-5.0, -0.2, 0.0, 0.3629, 0.9999, 1.0, 7.0])
    assert sum(c for _, _, c in bins) == 7 and bins[0][2] == 2 and bins[-1][2] == 3  # clamped to the ends
    assert bins[0][0] == -0.2 and bins[-1][1] == 1.0


def test_counts_per_day_and_partner(svc: Services) -> None:
    partner = create_partner(svc.db).partner_id
    other = create_partner(svc.db).partner_id
    now = utcnow()
    yesterday = now - timedelta(days=1)

    def seed(
        partner_id: str, at: object, status: str, result: str | None, reason: str, seconds: float
    ) -> str:
        return seed_submission(
            svc.db, partner_id, created_at=at, confirmed_at=at, completed_at=at + timedelta(seconds=seconds),  # type: ignore[operator]
            status=status, result=result, reason_code=reason, similarity=0.8 if result == "VALID" else 0.1,
        )  # fmt: skip

    seed(partner, now, "COMPLETED", "VALID", "", 0.2)
    seed(partner, now, "COMPLETED", "INVALID", "INVALID_DOCUMENT", 0.4)
    seed(partner, yesterday, "COMPLETED", "INVALID", "FACE_MATCH_FAILED", 1.0)
    seed(partner, yesterday, "ERROR", None, "VERIFICATION_FAILED", 3.0)
    seed(other, now, "COMPLETED", "VALID", "", 0.1)
    held = seed_submission(
        svc.db, partner, status="IN_REVIEW", result="INVALID", reason_code="FACE_MATCH_FAILED",
        similarity=0.33, details={},
    )  # fmt: skip # the engine's verdict, not given to the partner yet
    review.set_policy(svc, partner, Band(0.3, 0.363), actor="t")
    with svc.db.session() as session:
        session.add(
            ReviewItem(
                submission_id=held, partner_id=partner, similarity=0.33, threshold=0.363, band_low=0.3,
                band_high=0.363, default_outcome="REJECT", created_at=now - timedelta(hours=2), due_at=now,
            )
        )  # fmt: skip
    user = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    dash = console_reports.dashboard(svc, user, partner_id=partner)
    assert user.time_zone == "Asia/Jakarta"  # the console's default: days are WIB days
    today = zones.local(now, user.time_zone).date().isoformat()
    before = zones.local(yesterday, user.time_zone).date().isoformat()
    assert len(dash.days) == 14 and dash.days[-1] == today
    counted = dash.per_day[today]
    assert (counted.valid, counted.invalid, counted.in_review, counted.open) == (1, 1, 1, 0)
    assert (dash.per_day[today].fta, dash.per_day[before].invalid, dash.per_day[before].error) == (1, 1, 1)
    assert dash.totals.submissions == 5 and dash.totals.fta_rate == pytest.approx(1 / 4)
    # as the partners received them: the held attempt's FACE_MATCH_FAILED is not an outcome yet
    assert dict(dash.reasons) == {"INVALID_DOCUMENT": 1, "FACE_MATCH_FAILED": 1, "VERIFICATION_FAILED": 1}
    assert (
        dash.latency.n == 4
        and dash.latency.p50 == pytest.approx(0.4)
        and dash.latency.p95 == pytest.approx(3.0)
    )
    assert dash.queue_open == 1 and dash.queue_oldest is not None
    assert dash.band == Band(0.3, 0.363) and sum(c for _, _, c in dash.histogram) == 5
    assert [p.partner_id for p in dash.partners] == [partner]
    everyone = console_reports.dashboard(svc, user)
    assert {p.partner_id for p in everyone.partners} >= {partner, other}


def test_days_are_the_operators_and_ranges_are_bounded(svc: Services) -> None:
    partner = create_partner(svc.db).partner_id
    # 20:30 UTC yesterday is 03:30 WIB today
    late = (utcnow() - timedelta(days=1)).replace(hour=20, minute=30, second=0, microsecond=0)
    seed_submission(svc.db, partner, created_at=late, status="COMPLETED", result="VALID", reason_code="")
    creds = make_operator(svc, OperatorRole.VIEWER)
    jakarta = console_user(svc, creds)
    in_wib = console_reports.dashboard(svc, jakarta, partner_id=partner)
    assert in_wib.per_day[(late + timedelta(hours=7)).date().isoformat()].valid == 1
    operators.set_time_zone(svc, jakarta, "UTC")
    in_utc = console_reports.dashboard(svc, console_user(svc, creds), partner_id=partner)
    assert in_utc.zone == "UTC" and in_utc.per_day[late.date().isoformat()].valid == 1
    longest = svc.settings.console.max_range_days
    for since, until in (
        ("2020-01-01", "2024-12-31"),  # longer than the longest range
        ("2025-01-01", "9999-12-31"),  # a date nobody can mean
        ("2025-02-30", ""),  # no such day
        ("1999-12-31", "2000-01-02"),
        ("2025-03-02", "2025-03-01"),  # backwards
        ("2025-1-1", ""),
    ):
        with pytest.raises(InvalidFieldError):
            console_reports.dashboard(svc, jakarta, since=since, until=until)
    widest = console_reports.dashboard(svc, jakarta, since="2024-01-01")
    assert len(widest.days) == longest
