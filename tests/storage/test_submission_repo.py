"""Queries of attempts whose races matter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from facematch.flows.context import Services
from facematch.rules.states import JobState, SubmissionStatus
from facematch.storage import job_repo, submission_repo
from facematch.storage.models import FlowSession, Job, Submission, utcnow
from servicekit import create_partner, seed_submission


def _direct_attempt(svc: Services, owner: str) -> tuple[str, str]:
    partner_id = create_partner(svc.db).partner_id
    submission_id = seed_submission(svc.db, partner_id)
    with svc.db.session() as session:
        job_repo.enqueue_leased_job(submission_id, partner_id, owner, 30, session=session)
        flow_id = session.scalar(select(Submission.session_id).where(Submission.id == submission_id))
    assert flow_id is not None
    return submission_id, flow_id


def test_a_compare_past_its_deadline_removes_what_it_still_holds(fake_services: Services) -> None:
    submission_id, flow_id = _direct_attempt(fake_services, "sync-a")
    with fake_services.db.session() as session:
        assert submission_repo.delete_direct_attempt(submission_id, flow_id, "sync-a", session=session)
    with fake_services.db.session() as session:
        assert session.get(Submission, submission_id) is None and session.get(FlowSession, flow_id) is None


def test_a_compare_whose_job_a_worker_retook_leaves_the_safety_nets_verdict(fake_services: Services) -> None:
    submission_id, flow_id = _direct_attempt(fake_services, "sync-b")
    later = utcnow() + timedelta(seconds=60)  # the request stopped heart-beating past its lease
    with fake_services.db.session() as session:
        job = job_repo.claim_job("worker-1", 30, session=session, now=later)
        assert job is not None and job.submission_id == submission_id
    with fake_services.db.session() as session:
        assert not submission_repo.delete_direct_attempt(submission_id, flow_id, "sync-b", session=session)
    with fake_services.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.status == SubmissionStatus.IN_PROGRESS
        held = session.scalar(select(Job).where(Job.submission_id == submission_id))
        assert held is not None and held.lease_owner == "worker-1" and held.state == JobState.RUNNING
