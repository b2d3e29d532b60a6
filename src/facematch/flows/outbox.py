"""The outbox of completion callbacks: the one place that writes them, and their delivery.

:func:`write` stores the callback of a final attempt in the transaction that makes it final (its
body is :func:`facematch.rules.views.callback_body`: add a field there). Delivery is at least once
with the same ``webhook-id``: due messages are leased, sent (:mod:`facematch.outbound.webhooks`
signs and sends one attempt), logged, rescheduled, dead-lettered, and can be resent by hand.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import CallbackNotConfiguredError, SubmissionNotFoundError
from facematch.flows import partners
from facematch.flows.context import Services
from facematch.outbound import webhooks
from facematch.rules import views
from facematch.rules.states import DeliveryState
from facematch.storage import channels, outbox_repo, partner_repo
from facematch.storage.models import DeliveryAttempt, FlowSession, OutboxMessage, Partner, Submission, utcnow
from facematch.storage.sealed import SealedValueError

log = logging.getLogger(__name__)

CALLBACK_EVENT = "submission.completed"


def write(submission: Submission, flow_session: FlowSession, *, session: Session) -> None:
    """The outbox message of a final attempt (the caller's transaction also holds the result, so a
    final attempt and its one callback are stored together or not at all). A partner without a
    callback URL gets it kept UNSENT: nothing is attempted, nothing is dead-lettered, and it can be
    sent by hand once a URL is set."""
    partner = session.get(Partner, submission.partner_id)
    body = views.callback_body(submission, flow_session)
    outbox_repo.add_message(
        "msg_" + secrets.token_hex(16),
        submission.partner_id,
        submission.id,
        CALLBACK_EVENT,
        json.dumps(body, separators=(",", ":"), sort_keys=True),
        session=session,
        deliver=partner is not None and partner.callback_url is not None,
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    message_id: str
    attempt: int
    """Position in the retry schedule (restarts when resent by hand)."""
    body: bytes
    url: str | None
    method: str
    secret: str | None = field(repr=False)
    """None when the partner's sealed secrets cannot be opened with the configured keys."""
    auth_header: tuple[str, str] | None = field(repr=False)
    gone: bool


def claim(svc: Services, owner: str) -> Claimed | None:
    """Lease the next due message (the lease outlives one delivery, so a crash only delays it)."""
    with svc.db.session() as session:
        message = outbox_repo.claim_outbox(owner, svc.settings.callbacks.lease_s, session=session)
        if message is None:
            return None
        partner = session.get(Partner, message.partner_id)
        assert partner is not None
        try:
            secret = partners.webhook_secret(partner, box=svc.secrets)
            auth_header = partners.callback_auth(partner, box=svc.secrets)
        except SealedValueError:
            log.error("the secrets of partner %s do not open with the configured keys", partner.id)
            secret, auth_header = None, None
        return Claimed(
            message_id=message.id,
            attempt=message.attempts + 1,
            body=message.body.encode(),
            url=partner.callback_url,
            method=partner.callback_method,
            secret=secret,
            auth_header=auth_header,
            gone=partner.callback_gone_at is not None,
        )


def send(svc: Services, claimed: Claimed) -> webhooks.DeliveryOutcome:
    """One attempt over the network (no database transaction is held meanwhile).

    Callback settings that cannot make a request (a header or method stored before they were
    validated) are a FAILED attempt, so the message is dead-lettered instead of re-leased forever.
    """
    if claimed.url is None or claimed.gone:
        reason = "no callback URL configured" if claimed.url is None else "endpoint marked gone (HTTP 410)"
        return webhooks.DeliveryOutcome(webhooks.Outcome.FAILED, None, None, reason, int(time.time()))
    if claimed.secret is None:  # a key configuration problem: retried on the schedule, not lost
        reason = "the webhook secret cannot be opened with the configured keys"
        return webhooks.DeliveryOutcome(webhooks.Outcome.RETRY, None, None, reason, int(time.time()))
    policy = svc.callback_policy
    try:
        return webhooks.deliver_once(
            claimed.url,
            claimed.method,
            claimed.body,
            claimed.message_id,
            claimed.secret,
            policy=policy,
            extra_headers=dict([claimed.auth_header]) if claimed.auth_header else None,
        )
    except ValueError as error:
        reason = f"callback settings unusable: {error}"
        return webhooks.DeliveryOutcome(webhooks.Outcome.FAILED, None, None, reason, int(time.time()))


def record(svc: Services, claimed: Claimed, outcome: webhooks.DeliveryOutcome, duration_ms: float) -> str:
    """Log the attempt and move the message on; returns its new status."""
    now = utcnow()
    with svc.db.session() as session:
        message = session.get(OutboxMessage, claimed.message_id)
        assert message is not None
        logged = len(outbox_repo.delivery_attempts(message.id, session=session))
        session.add(
            DeliveryAttempt(
                message_id=message.id,
                attempt=logged + 1,
                outcome=outcome.outcome.value,
                http_status=outcome.status_code,
                error=(outcome.error or "")[:500] or None,
                duration_ms=duration_ms,
            )
        )
        message.attempts = claimed.attempt
        message.lease_owner = None
        message.lease_until = None
        message.last_error = outcome.error
        if outcome.outcome is webhooks.Outcome.DELIVERED:
            message.status = DeliveryState.DELIVERED
            message.delivered_at = now
        elif outcome.outcome is webhooks.Outcome.GONE:
            message.status = DeliveryState.GONE
            partner_repo.set_callback_gone(message.partner_id, now, session=session)
        elif outcome.outcome is webhooks.Outcome.FAILED:
            message.status = DeliveryState.DEAD
        else:
            delay = webhooks.next_attempt_delay(claimed.attempt, outcome.retry_after_seconds)
            if delay is None:
                message.status = DeliveryState.DEAD
            else:
                message.next_attempt_at = now + timedelta(seconds=delay)
        status = message.status
    svc.metrics.callbacks.labels(outcome.outcome.value.lower()).inc()
    if status == DeliveryState.DEAD:
        log.warning("callback %s dead-lettered after %d attempts", claimed.message_id, claimed.attempt)
    return status


def deliver_next(svc: Services, owner: str) -> bool:
    """Claim, send and record one due message; False when nothing was due."""
    claimed = claim(svc, owner)
    if claimed is None:
        return False
    started = time.monotonic()
    outcome = send(svc, claimed)
    record(svc, claimed, outcome, (time.monotonic() - started) * 1000)
    return True


def resend(svc: Services, message_id: str) -> None:
    """Put a message (dead, gone, unsent or delivered) back on a fresh schedule; same ``webhook-id``.
    Refused while its partner has no callback URL (it would only be dead-lettered)."""
    with svc.db.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            raise SubmissionNotFoundError(f"no callback message {message_id}")
        partner = session.get(Partner, message.partner_id) if message.partner_id else None
        if partner is None or partner.callback_url is None:
            raise CallbackNotConfiguredError()
        message.status = DeliveryState.PENDING
        message.attempts = 0
        message.next_attempt_at = utcnow()
        message.lease_owner = None
        message.lease_until = None
        channels.notify(channels.OUTBOX_CHANNEL, session=session)
        if message.partner_id:
            partner_repo.set_callback_gone(message.partner_id, None, session=session)


def describe(
    svc: Services, status: str | None, partner_id: str | None, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Messages (newest first) with their delivery log, for ``facematch callbacks list``."""
    with svc.db.session() as session:
        rows = []
        for message in outbox_repo.list_outbox(status, partner_id, session=session, limit=limit):
            attempts = outbox_repo.delivery_attempts(message.id, session=session)
            rows.append(
                {
                    "id": message.id,
                    "partnerId": message.partner_id,
                    "submissionId": message.submission_id,
                    "status": message.status,
                    "attempts": message.attempts,
                    "nextAttemptAt": message.next_attempt_at.isoformat()
                    if message.status == DeliveryState.PENDING
                    else None,
                    "lastError": message.last_error,
                    "log": [
                        {
                            "attempt": a.attempt,
                            "at": a.at.isoformat(),
                            "outcome": a.outcome,
                            "httpStatus": a.http_status,
                        }
                        for a in attempts
                    ],
                }
            )
        return rows
