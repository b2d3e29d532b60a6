"""The operator console's pages: dashboard, submissions with audited image views, callbacks and the
audit log, and their CSV exports. Login and account pages are in
:mod:`facematch.api.routes.console_login`, the review desk in :mod:`facematch.api.routes.console_review`,
partner and operator management in :mod:`facematch.api.routes.console_admin`. Each route parses its
query or form and calls one flow; the flows check roles, inputs and write the audit trail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from facematch.api.console import charts
from facematch.api.console.deps import Actor, Reader
from facematch.api.console.pages import PREFIX, UrlId, image_urls, redirect, render
from facematch.api.deps import Source, Svc
from facematch.errors import InvalidFieldError
from facematch.flows.console import exports, filters, operators
from facematch.flows.console import images as console_images
from facematch.flows.console import partners as console_partners
from facematch.flows.console import records as console_records
from facematch.flows.console import reports as console_reports
from facematch.flows.console.operators import Permission
from facematch.rules.states import DeliveryState, ReasonCode, Result, SubmissionStatus

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
STATUSES = tuple(SubmissionStatus)
REASONS = tuple(reason for reason in ReasonCode if reason)
Text = Annotated[str, Form()]
Page = Annotated[int, Query(ge=1, le=100_000)]


@dataclass(frozen=True)
class SubmissionQuery:
    """What the submissions list (and its export) is asked for in the query string."""

    partner: str = ""
    psid: str = ""
    user_id: str = ""
    q: str = ""
    status: str = ""
    result: str = ""
    reason: str = ""
    since: str = ""
    until: str = ""


@dataclass(frozen=True)
class CallbackQuery:
    partner: str = ""
    status: str = ""
    submission: str = ""
    since: str = ""
    until: str = ""


@dataclass(frozen=True)
class AuditQuery:
    operator: str = ""
    submission: str = ""
    action: str = ""
    since: str = ""
    until: str = ""


Submissions = Annotated[SubmissionQuery, Depends()]
Callbacks = Annotated[CallbackQuery, Depends()]
Audits = Annotated[AuditQuery, Depends()]


def _listing(svc: Svc, kind: str, asked: Any) -> dict[str, Any]:
    """What a filtered list's template needs besides its rows: the pager's and the export's links."""
    query = _query(**asdict(asked))
    return {
        "since": asked.since,
        "until": asked.until,
        "query": query,
        "export": f"{PREFIX}/{kind}.csv{query.rstrip('&').rstrip('?')}",
        "export_max": svc.settings.console.export_max_rows,
    }


def _partners(svc: Svc) -> list[dict[str, str]]:
    return [{"id": pid, "name": name} for pid, name in console_partners.partner_names(svc)]


def _query(**values: Any) -> str:
    """The current filters as a query string prefix for the pager (``...&page=N``)."""
    kept = {k: v for k, v in values.items() if v}
    return "?" + (urlencode(kept) + "&" if kept else "")


def _csv(export: exports.Export) -> StreamingResponse:
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-Export-Rows": str(export.rows),
        "X-Export-Total": str(export.total),
    }
    return StreamingResponse(export.chunks, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    data = (resources.files("facematch.web") / "console" / "static" / name).read_bytes()
    return Response(data, media_type=_STATIC[name])


@router.get("")
@router.get("/")
def home() -> Response:
    return redirect(PREFIX + "/dashboard")


# ---------------------------------------------------------------- dashboard and submissions


@router.get("/dashboard")
def dashboard(
    request: Request,
    svc: Svc,
    user: Reader,
    partner: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    dash = console_reports.dashboard(svc, user, since=since, until=until, partner_id=partner or None)
    days = dash.days
    day = dash.per_day
    band = (dash.band.low, dash.band.high) if dash.band else None
    delivered = sum(ok for ok, _ in dash.callbacks_by_day.values())
    attempted = delivered + sum(bad for _, bad in dash.callbacks_by_day.values())
    built = {
        "outcomes": charts.stacked_days(
            days,
            [
                (Result.VALID, "bar-valid", [day[d].valid for d in days]),
                (Result.INVALID, "bar-invalid", [day[d].invalid for d in days]),
                (SubmissionStatus.ERROR, "bar-error", [day[d].error for d in days]),
                (SubmissionStatus.IN_REVIEW, "bar-review", [day[d].in_review for d in days]),
                ("OPEN", "bar-open", [day[d].open for d in days]),
            ],
            "attempts per day by outcome",
        ),
        "fta": charts.stacked_days(
            days, [("FTA", "bar-fta", [day[d].fta for d in days])], "failure to acquire"
        ),
        "latency": charts.lines_days(
            days,
            [
                ("p50", "p50", [dash.latency_by_day[d].p50 for d in days]),
                ("p95", "p95", [dash.latency_by_day[d].p95 for d in days]),
            ],
            "confirm to decision",
            " s",
        ),
        "callbacks": charts.stacked_days(
            days,
            [
                ("DELIVERED", "bar-ok", [dash.callbacks_by_day[d][0] for d in days]),
                ("FAILED", "bar-failed", [dash.callbacks_by_day[d][1] for d in days]),
            ],
            "callback attempts per day",
        ),
        "histogram": charts.histogram(dash.histogram, dash.threshold, band, "similarity histogram"),
        "reasons": charts.bars(dash.reasons, "reason codes"),
    }
    return render(
        request,
        "dashboard.html",
        user=user,
        dash=dash,
        charts=built,
        partners=_partners(svc),
        callback_rate=(delivered / attempted) if attempted else None,
    )


@router.get("/submissions")
def submissions(request: Request, svc: Svc, user: Reader, asked: Submissions, page: Page = 1) -> Response:
    f = filters.submission_filter(svc, user, **asdict(asked))
    found = console_records.find_submissions(svc, user, f, page)
    if f.any_id and found.total == 1:  # the one search box found one attempt: open it
        return redirect(f"{PREFIX}/submissions/{found.items[0].id}")
    return render(
        request,
        "submissions.html",
        user=user,
        page=found,
        f=f,
        partners=_partners(svc),
        statuses=STATUSES,
        reasons=REASONS,
        **_listing(svc, "submissions", asked),
    )


@router.get("/submissions.csv")
def submissions_csv(svc: Svc, user: Reader, source: Source, asked: Submissions) -> Response:
    f = filters.submission_filter(svc, user, **asdict(asked))
    return _csv(exports.submissions(svc, user, f, source=source))


def _submission_page(
    request: Request,
    svc: Svc,
    user: operators.ConsoleUser,
    submission_id: str,
    source: str,
    *,
    grant: console_images.ImageGrant | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    detail = console_records.submission_detail(svc, user, submission_id, source=source)
    threshold = detail.face_match.get("threshold")
    similarity = detail.submission.similarity
    gauge = None
    if similarity is not None:
        band = (
            (detail.band.low, detail.band.high) if detail.band else None
        )  # the gauge stops it at the threshold
        gauge = charts.gauge(similarity, float(threshold) if threshold is not None else None, band)
    return render(
        request,
        "submission.html",
        user=user,
        d=detail,
        urls=image_urls(submission_id, grant),
        ttl=grant.ttl_s if grant else 0,
        gauge=gauge,
        error=error,
        status=status,
    )


@router.get("/submissions/{submission_id}")
def submission(request: Request, svc: Svc, user: Reader, source: Source, submission_id: UrlId) -> Response:
    return _submission_page(request, svc, user, submission_id, source)


@router.post("/submissions/{submission_id}/images")
def view_images(
    request: Request, svc: Svc, user: Actor, source: Source, submission_id: UrlId, reason: Text = ""
) -> Response:
    try:
        grant = console_images.grant_images(svc, user, submission_id, reason, source=source)
    except InvalidFieldError as error:
        return _submission_page(request, svc, user, submission_id, source, error=str(error), status=400)
    return _submission_page(request, svc, user, submission_id, source, grant=grant)


@router.get("/images/{submission_id}/{doc}")
def image(svc: Svc, user: Reader, source: Source, submission_id: UrlId, doc: str, t: str = "") -> Response:
    data = console_images.image(svc, user, submission_id, doc, t, source=source)
    media = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return Response(data, media_type=media, headers={"Content-Disposition": "inline"})


# ---------------------------------------------------------------- callbacks and audit


@router.get("/callbacks")
def callbacks(
    request: Request,
    svc: Svc,
    user: Reader,
    asked: Callbacks,
    resent: Annotated[int, Query(ge=0, le=100_000)] = 0,
    page: Page = 1,
) -> Response:
    f = filters.callback_filter(svc, user, **asdict(asked))
    found = console_records.find_callbacks(svc, user, f, page)
    dead = console_records.find_callbacks(
        svc, user, filters.callback_filter(svc, user, partner=asked.partner, status=DeliveryState.DEAD), 1
    )
    return render(
        request,
        "callbacks.html",
        user=user,
        page=found,
        f=f,
        partners=_partners(svc),
        dead=dead.total,
        can_resend=user.can(Permission.RESEND_CALLBACKS),
        notice=f"{resent} callback{'s' if resent != 1 else ''} queued for delivery (same webhook-id)."
        if resent
        else "",
        **_listing(svc, "callbacks", asked),
    )


@router.get("/callbacks.csv")
def callbacks_csv(svc: Svc, user: Reader, source: Source, asked: Callbacks) -> Response:
    f = filters.callback_filter(svc, user, **asdict(asked))
    return _csv(exports.callbacks(svc, user, f, source=source))


@router.post("/callbacks/resend")
async def resend(request: Request, svc: Svc, user: Actor, source: Source) -> Response:
    form = await request.form()
    ids = [value for value in form.getlist("message") if isinstance(value, str)][:500]
    count = await run_in_threadpool(console_records.resend_callbacks, svc, user, ids, source=source)
    return redirect(f"{PREFIX}/callbacks?{urlencode({'resent': count})}")


@router.get("/audit")
def audit(request: Request, svc: Svc, user: Reader, asked: Audits, page: Page = 1) -> Response:
    f = filters.audit_filter(svc, user, **asdict(asked))
    found = console_records.find_audit(svc, user, f, page)
    return render(
        request,
        "audit.html",
        user=user,
        page=found,
        f=f,
        operators=operators.list_operators(svc),
        actions=console_records.audit_actions(svc),
        **_listing(svc, "audit", asked),
    )


@router.get("/audit.csv")
def audit_csv(svc: Svc, user: Reader, source: Source, asked: Audits) -> Response:
    f = filters.audit_filter(svc, user, **asdict(asked))
    return _csv(exports.audit(svc, user, f, source=source))
