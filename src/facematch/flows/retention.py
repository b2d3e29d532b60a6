"""Retention: images are deleted after their time; decisions and scores stay for audit.

Three kinds of stored image are reached:

* decided attempts (COMPLETED, ERROR) older than the retention: their images are deleted, the
  attempt and its result stay;
* attempts never confirmed (INITIATED) older than the retention: the attempt goes with its images
  (it never produced a result), so its upload URLs and a confirm with the user token find nothing;
* orphan blobs: stored, but no attempt refers to them (a process died between storing an image and
  committing its row), once older than ``blobs.orphan_grace_s``.

Attempts still being processed (IN_PROGRESS) are left to their job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from facematch.flows import liveness
from facematch.flows.context import Services
from facematch.rules.states import DECIDED
from facematch.storage import audit_repo, submission_repo

log = logging.getLogger(__name__)

_BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    decided: int
    """Decided attempts whose images were (or, with dry_run, would be) deleted."""
    unconfirmed: int
    """Never-confirmed attempts deleted with their images."""
    orphans: int
    """Stored images no attempt refers to, deleted."""
    dry_run: bool


def purge_images(svc: Services, *, days: int, dry_run: bool = False) -> PurgeReport:
    """Delete what is past its time (see the module docstring); ``dry_run`` only counts."""
    now = svc.clock.now()
    cutoff = now - timedelta(days=days)
    grace = now - timedelta(seconds=svc.settings.blobs.orphan_grace_s)
    decided = unconfirmed = 0
    released: list[str | None] = []  # deleted once the rows no longer name them (else: orphans)
    with svc.db.session() as session:
        for submission in submission_repo.submissions_with_images_before(cutoff, session=session):
            if submission.status not in DECIDED:
                continue
            decided += 1
            if dry_run:
                continue
            released += [submission.selfie_blob, submission.reference_blob]
            submission.selfie_blob = None
            submission.reference_blob = None
            submission.analysis = {}  # face boxes and landmarks go with the images
            submission.images_purged_at = now
            audit_repo.audit("operator", "purge_images", submission.id, session=session)
        # an unconfirmed attempt may be in the middle of its uploads: never younger than the grace
        for submission in submission_repo.unconfirmed_attempts_before(min(cutoff, grace), session=session):
            if dry_run:
                unconfirmed += 1
                continue
            evidence = liveness.evidence_blobs(submission, session=session)
            if submission_repo.delete_unconfirmed_attempt(submission.id, session=session):
                unconfirmed += 1
                released += [submission.selfie_blob, submission.reference_blob, *evidence]
                audit_repo.audit("operator", "expire_unconfirmed", submission.id, session=session)
    for blob in released:
        if blob:
            svc.blobs.delete(blob)
    orphans = purge_orphans(svc, before=grace, dry_run=dry_run)
    return PurgeReport(decided, unconfirmed, orphans, dry_run)


def purge_orphans(svc: Services, *, before: datetime, dry_run: bool = False) -> int:
    """Delete stored images written before ``before`` that no attempt refers to."""
    candidates = svc.blobs.ids_older_than(before)
    deleted = 0
    while batch := list(islice(candidates, _BATCH)):
        with svc.db.session() as session:
            referenced = submission_repo.referenced_blobs(batch, session=session)
        for blob_id in batch:
            if blob_id in referenced:
                continue
            deleted += 1
            if not dry_run:
                svc.blobs.delete(blob_id)
    if deleted and not dry_run:
        log.info("deleted %d orphan images", deleted)
    return deleted
