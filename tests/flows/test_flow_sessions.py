"""Finishing a session: what each state of its attempts leads to, and that two finishers write one
callback."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import func, select

from facematch.flows import flow_sessions
from facematch.flows.context import Services
from facematch.flows.flow_sessions import Finished
from facematch.storage.models import OutboxMessage, Submission, utcnow
from servicekit import create_partner, seed_session


def interactive_session(svc: Services, *attempts: dict[str, Any]) -> str:
    """A session started with Initiate Flow holding ``attempts`` (decided ones decided just now)."""
    decided = [{"completed_at": utcnow(), **a} if a.get("status") != "INITIATED" else a for a in attempts]
    return seed_session(svc.db, create_partner(svc.db).partner_id, *decided, interactive=True)


RETRY = {
    "status": "COMPLETED",
    "result": "INVALID",
    "reason_code": "FACE_MATCH_FAILED",
    "next_action": "RETRY",
}


def callbacks(svc: Services, flow_id: str) -> int:
    with svc.db.session() as session:
        query = (
            select(func.count())
            .select_from(OutboxMessage)
            .join(Submission, Submission.id == OutboxMessage.submission_id)
            .where(Submission.session_id == flow_id)
        )
        return int(session.scalar(query) or 0)


def test_nothing_to_finish_without_a_verdict(fake_services: Services) -> None:
    assert flow_sessions.finish_session(fake_services, interactive_session(fake_services)) is Finished.NOTHING
    opened = interactive_session(fake_services, {"status": "INITIATED"})
    assert flow_sessions.finish_session(fake_services, opened) is Finished.NOTHING
    assert flow_sessions.finish_session(fake_services, str(uuid.uuid4())) is Finished.NOTHING


def test_an_attempt_being_processed_comes_first(fake_services: Services) -> None:
    flow_id = interactive_session(fake_services, RETRY, {"status": "IN_PROGRESS"})
    assert flow_sessions.finish_session(fake_services, flow_id) is Finished.PROCESSING
    assert callbacks(fake_services, flow_id) == 0


def test_the_last_verdict_becomes_final_and_an_open_attempt_is_dropped(fake_services: Services) -> None:
    blob = fake_services.blobs.put(b"\x89PNG not really")
    flow_id = interactive_session(fake_services, RETRY, RETRY, {"status": "INITIATED", "selfie_blob": blob})
    assert flow_sessions.finish_session(fake_services, flow_id) is Finished.FINISHED
    with fake_services.db.session() as session:
        rows = list(session.scalars(select(Submission).where(Submission.session_id == flow_id)))
        assert [
            (row.attempt, row.final, row.next_action) for row in sorted(rows, key=lambda r: r.attempt)
        ] == [
            (1, False, "RETRY"),
            (2, True, "STATUS"),
        ]
    assert callbacks(fake_services, flow_id) == 1
    assert flow_sessions.finish_session(fake_services, flow_id) is Finished.ALREADY_FINAL
    assert callbacks(fake_services, flow_id) == 1


def test_two_finishers_at_once_write_one_callback(fake_services: Services) -> None:
    flow_id = interactive_session(fake_services, RETRY)
    outcomes: list[Finished] = []
    barrier = threading.Barrier(4)

    def finisher() -> None:
        barrier.wait()
        outcomes.append(flow_sessions.finish_session(fake_services, flow_id))

    threads = [threading.Thread(target=finisher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(Finished.FINISHED) == 1 and callbacks(fake_services, flow_id) == 1
