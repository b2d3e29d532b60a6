"""The review desk's pages: the queue with who is on what, opening (claiming) an item, its page
(images for the reviewer who holds it, read-only for everyone else), renewing and releasing the
claim from the page's script, an admin's release, and deciding (then back to the queue or on to
the next item). Each route calls one flow of :mod:`facematch.flows.console.desk`."""

from __future__ import annotations

import contextlib
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from facematch.api.console import charts
from facematch.api.console.deps import Actor, Reader
from facematch.api.console.pages import PREFIX, UrlId, image_urls, redirect, render
from facematch.api.deps import Source, Svc
from facematch.errors import ReviewClaimedError, ReviewConflictError
from facematch.flows.console import desk, zones
from facematch.flows.console.records import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form()]
NOTICES = {
    "approve": "Approved. The partner is being called back.",
    "reject": "Rejected. The partner is being called back.",
}


@router.get("/review")
def review_queue(
    request: Request,
    svc: Svc,
    user: Reader,
    decided: str = "",
    empty: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    rows, total = desk.queue(svc, user, page=page)
    notice = NOTICES.get(decided, "")
    if empty:
        notice = (notice + " " if notice else "") + "Nothing else is waiting for you."
    return render(
        request,
        "review_queue.html",
        user=user,
        rows=rows,
        total=total,
        page=Page(rows, total, page, svc.settings.console.page_size),
        notice=notice,
    )


@router.post("/review/next")
def open_next(svc: Svc, user: Actor, skip: Text = "") -> Response:
    """Claim the oldest item nobody else is reviewing (``skip``: the one being left)."""
    if skip:
        desk.release(svc, user, skip)
    found = desk.open_next(svc, user, skip=skip or None)
    return redirect(f"{PREFIX}/review/{found}" if found else f"{PREFIX}/review?empty=1")


@router.post("/review/{submission_id}/open")
def open_item(svc: Svc, user: Actor, submission_id: UrlId) -> Response:
    """Claim the item; someone else's claim, or a decision, leaves it read-only (the page says so)."""
    with contextlib.suppress(ReviewClaimedError, ReviewConflictError):
        desk.claim(svc, user, submission_id)
    return redirect(f"{PREFIX}/review/{submission_id}")


@router.get("/review/{submission_id}")
def item_page(
    request: Request, svc: Svc, user: Reader, source: Source, submission_id: UrlId, decided: str = ""
) -> Response:
    sheet = desk.sheet(svc, user, submission_id, source=source)
    r = sheet.item.row
    return render(
        request,
        "review_item.html",
        user=user,
        item=sheet.item,
        mine=sheet.grant is not None,
        claim_s=sheet.claim_s,
        renew_every_s=max(10, svc.settings.console.review_claim_s // 4),
        urls=image_urls(submission_id, sheet.grant),
        analysis=sheet.analysis,
        reject_reasons=desk.REJECT_REASONS,
        notice=NOTICES.get(decided, ""),
        gauge=charts.gauge(r.similarity, r.threshold, (r.band_low, r.band_high)),
    )


@router.post("/review/{submission_id}/claim")
def renew(svc: Svc, user: Actor, submission_id: UrlId) -> Response:
    """The page is in use: the claim runs on (409 once someone else has the item)."""
    until = desk.claim(svc, user, submission_id)
    left = svc.settings.console.review_claim_s
    return JSONResponse(
        {"until": zones.iso_utc(until), "seconds": left, "label": zones.clock(until, user.time_zone)}
    )


@router.post("/review/{submission_id}/release")
def release(svc: Svc, user: Actor, submission_id: UrlId) -> Response:
    """The reviewer left the page without deciding."""
    desk.release(svc, user, submission_id)
    return Response(status_code=204)


@router.post("/review/{submission_id}/release-claim")
def release_claim(svc: Svc, user: Actor, source: Source, submission_id: UrlId) -> Response:
    """An admin ends whoever's claim (audited)."""
    desk.release_for_all(svc, user, submission_id, source=source)
    return redirect(f"{PREFIX}/review/{submission_id}")


@router.post("/review/{submission_id}/decision")
def decide(
    svc: Svc,
    user: Actor,
    source: Source,
    submission_id: UrlId,
    outcome: Text = "",
    reason_code: Text = "",
    note: Text = "",
    then: Text = "",
) -> Response:
    desk.decide(svc, user, submission_id, outcome, reason_code or None, note, source=source)
    done = {"decided": outcome.lower()}
    if then == "next":
        found = desk.open_next(svc, user, skip=submission_id)
        if found:
            return redirect(f"{PREFIX}/review/{found}?{urlencode(done)}")
        done["empty"] = "1"
    return redirect(f"{PREFIX}/review?{urlencode(done)}")
