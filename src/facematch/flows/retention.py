"""Retention: images are deleted after their time; decisions and scores stay for audit."""

from __future__ import annotations

from datetime import timedelta

from facematch.flows.context import Services
from facematch.flows.decisions import IN_REVIEW
from facematch.storage import repo
from facematch.storage.models import utcnow


def purge_images(svc: Services, *, days: int) -> int:
    """Delete the stored images of submissions older than ``days``; returns how many were purged."""
    cutoff = utcnow() - timedelta(days=days)
    purged = 0
    with svc.db.session() as session:
        for submission in repo.submissions_with_images_before(cutoff, session=session):
            if submission.status in ("INITIATED", "IN_PROGRESS", IN_REVIEW):
                continue
            for blob in (submission.selfie_blob, submission.reference_blob):
                if blob:
                    svc.blobs.delete(blob)
            submission.selfie_blob = None
            submission.reference_blob = None
            submission.analysis = {}  # face boxes and landmarks go with the images
            submission.images_purged_at = utcnow()
            repo.audit("operator", "purge_images", submission.id, session=session)
            purged += 1
    return purged
