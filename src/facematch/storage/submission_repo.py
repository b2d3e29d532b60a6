"""Queries of partner sessions and their attempts (submissions). Every function takes the session
keyword-only; none commits (the caller's unit of work does).

The state changes that race (a confirm against the purge, a decision against a retried job, a
reviewer against the deadline, a finish against a new attempt) are conditional UPDATEs or DELETEs
that report whether they won: exactly one of two racers moves an attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from facematch.rules.states import JobState, NextAction, SubmissionStatus
from facematch.storage import liveness_repo
from facematch.storage.models import FlowSession, Job, Submission


def flow_session_by_psid(partner_id: str, partner_session_id: str, *, session: Session) -> FlowSession | None:
    return session.scalar(
        select(FlowSession).where(
            FlowSession.partner_id == partner_id, FlowSession.partner_session_id == partner_session_id
        )
    )


def submission_of_partner(partner_id: str, submission_id: str, *, session: Session) -> Submission | None:
    """The submission, only if it belongs to ``partner_id`` (tenant isolation lives in the query)."""
    return session.scalar(
        select(Submission).where(Submission.id == submission_id, Submission.partner_id == partner_id)
    )


def submission_and_session(
    partner_id: str, submission_id: str, *, session: Session
) -> tuple[Submission, FlowSession] | None:
    """The submission with its flow session (one query), only if it belongs to ``partner_id``."""
    row = session.execute(
        select(Submission, FlowSession)
        .join(FlowSession, FlowSession.id == Submission.session_id)
        .where(Submission.id == submission_id, Submission.partner_id == partner_id)
    ).first()
    return None if row is None else (row[0], row[1])


def latest_submission(session_id: str, *, session: Session) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(Submission.session_id == session_id)
        .order_by(Submission.attempt.desc())
        .limit(1)
    )


def session_attempts(session_id: str, *, session: Session) -> list[Submission]:
    """Every attempt of a flow session, oldest first."""
    return list(
        session.scalars(
            select(Submission).where(Submission.session_id == session_id).order_by(Submission.attempt)
        )
    )


def idle_retry_sessions(partner_id: str, idle_before: datetime, limit: int, *, session: Session) -> list[str]:
    """The partner's flow sessions whose latest decided attempt offered a retry (not final, next
    action RETRY) before ``idle_before`` and that nothing happened in since: no later attempt was
    confirmed, and none was started after ``idle_before``."""
    later = aliased(Submission)
    return list(
        session.scalars(
            select(Submission.session_id)
            .where(
                Submission.partner_id == partner_id,
                Submission.final.is_(False),
                Submission.next_action == NextAction.RETRY,
                Submission.completed_at < idle_before,
                ~select(later.id)
                .where(
                    later.session_id == Submission.session_id,
                    later.attempt > Submission.attempt,
                    or_(later.status != SubmissionStatus.INITIATED, later.created_at >= idle_before),
                )
                .exists(),
            )
            .order_by(Submission.completed_at)
            .limit(limit)
        )
    )


def count_refused_capture(flow_session_id: str, *, session: Session) -> None:
    session.execute(
        update(FlowSession)
        .where(FlowSession.id == flow_session_id)
        .values(refused_captures=FlowSession.refused_captures + 1)
        .execution_options(synchronize_session=False)
    )


def count_attempts(session_id: str, *, session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Submission.session_id == session_id)) or 0)


def move_attempt(
    submission_id: str, expected: SubmissionStatus, values: dict[str, Any], *, session: Session
) -> bool:
    """Set ``values`` on the attempt if it is still in state ``expected`` and not final (a
    conditional UPDATE); False when another request or worker moved it first."""
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == expected, Submission.final.is_(False))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def latest_engine_details(partner_id: str | None, *, session: Session) -> dict[str, Any] | None:
    """The details of the newest attempt the engine compared (of one partner, or of any)."""
    query = select(Submission.details).where(Submission.similarity.is_not(None))
    if partner_id:
        query = query.where(Submission.partner_id == partner_id)
    details: dict[str, Any] | None = session.scalar(query.order_by(Submission.created_at.desc()).limit(1))
    return details


def delete_direct_attempt(submission_id: str, flow_session_id: str, owner: str, *, session: Session) -> bool:
    """Remove a synchronous compare's rows (its job, its submission, its partner session) while
    ``owner`` (the request) still holds its safety-net job. False, and nothing removed, when a
    worker retook the job meanwhile (the request stopped heart-beating long enough): then the
    safety net's verdict is the attempt's."""
    held = session.execute(
        delete(Job).where(
            Job.submission_id == submission_id, Job.lease_owner == owner, Job.state == JobState.RUNNING
        )
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(delete(Submission).where(Submission.id == submission_id))
    session.execute(delete(FlowSession).where(FlowSession.id == flow_session_id))
    return True


def submissions_with_images_before(cutoff: datetime, *, session: Session) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission).where(
                Submission.created_at < cutoff,
                Submission.images_purged_at.is_(None),
                or_(Submission.selfie_blob.is_not(None), Submission.reference_blob.is_not(None)),
            )
        )
    )


def unconfirmed_attempts_before(cutoff: datetime, *, session: Session) -> list[Submission]:
    """Attempts created before ``cutoff`` that were never confirmed."""
    return list(
        session.scalars(
            select(Submission).where(
                Submission.status == SubmissionStatus.INITIATED, Submission.created_at < cutoff
            )
        )
    )


def delete_unconfirmed_attempt(submission_id: str, *, session: Session) -> bool:
    """Delete an attempt that is still unconfirmed (a conditional DELETE: a confirm that commits
    first wins). True when it was deleted."""
    result = session.execute(
        delete(Submission)
        .where(Submission.id == submission_id, Submission.status == SubmissionStatus.INITIATED)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def referenced_blobs(blob_ids: list[str], *, session: Session) -> set[str]:
    """Which of ``blob_ids`` an attempt (its images, its liveness clip or frames) still refers to."""
    rows = session.execute(
        select(Submission.selfie_blob, Submission.reference_blob, Submission.liveness_blob).where(
            or_(
                Submission.selfie_blob.in_(blob_ids),
                Submission.reference_blob.in_(blob_ids),
                Submission.liveness_blob.in_(blob_ids),
            )
        )
    )
    wanted = set(blob_ids)
    found = {blob for row in rows for blob in row if blob in wanted}
    return found | liveness_repo.referenced_frame_blobs(blob_ids, session=session)
