"""Queries of the hosted flow's liveness frames (the challenge itself is a column of its attempt).
Every function takes the session keyword-only; none commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facematch.storage.models import LivenessFrame


def add_frame(
    submission_id: str,
    nonce: str,
    at: float,
    size: int,
    seen: dict[str, Any],
    blob: str | None,
    *,
    session: Session,
) -> None:
    session.add(
        LivenessFrame(submission_id=submission_id, nonce=nonce, at=at, size=size, seen=seen, blob=blob)
    )


def frames_of(submission_id: str, *, session: Session) -> list[LivenessFrame]:
    """The attempt's frames in the order they arrived."""
    return list(
        session.scalars(
            select(LivenessFrame)
            .where(LivenessFrame.submission_id == submission_id)
            .order_by(LivenessFrame.id)
        )
    )


def received(submission_id: str, *, session: Session) -> tuple[int, int]:
    """How many frames the attempt holds, and their bytes."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(LivenessFrame.size), 0)).where(
            LivenessFrame.submission_id == submission_id
        )
    ).one()
    return int(row[0]), int(row[1])


def frame_blobs(submission_id: str, *, session: Session) -> list[str]:
    return [
        blob
        for blob in session.scalars(
            select(LivenessFrame.blob).where(LivenessFrame.submission_id == submission_id)
        )
        if blob
    ]


def delete_frames(submission_id: str, *, session: Session) -> list[str]:
    """Remove the attempt's frames; returns their blobs (to delete once this commits)."""
    blobs = frame_blobs(submission_id, session=session)
    session.execute(
        delete(LivenessFrame)
        .where(LivenessFrame.submission_id == submission_id)
        .execution_options(synchronize_session=False)
    )
    return blobs


def referenced_frame_blobs(blob_ids: list[str], *, session: Session) -> set[str]:
    """Which of ``blob_ids`` a frame still refers to."""
    return set(session.scalars(select(LivenessFrame.blob).where(LivenessFrame.blob.in_(blob_ids))))
