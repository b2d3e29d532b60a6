"""The web flow's use cases on a temporary database with the fake engine."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from facematch.clock import ManualClock
from facematch.engine.fake import fake_face_image
from facematch.errors import (
    CaptureLimitError,
    CaptureRejectedError,
    HandoffLinkError,
    RateLimitedError,
    SubmissionStateConflictError,
    WebSessionError,
    WebSessionExpiredError,
)
from facematch.flows import flow_sessions, processing, review
from facematch.flows.console import desk
from facematch.flows.console.operators import ConsoleUser, OperatorRole
from facematch.flows.context import Services
from facematch.flows.web import capture as web_capture
from facematch.flows.web import exit as web_exit
from facematch.flows.web import handoff
from facematch.flows.web import session as web_session
from facematch.flows.web.guidance import Hint
from facematch.flows.web.session import Device, Phase
from facematch.rules import decisions
from facematch.rules.review_band import Band
from facematch.security.tokens import TokenKind
from facematch.storage.models import utcnow
from servicekit import occupy
from webkit import REFERENCE_PERSON, WebWorld, web_services


def _open(world: WebWorld, **details: object) -> web_session.OpenedSession:
    created = world.partner()
    started = world.start(created.partner.id, **details)
    return web_session.open_session(world.svc, started.launch_token)


def _process(svc: Services, submission_id: str) -> None:
    processing.process_submission(svc, submission_id)


def test_launch_token_opens_a_desktop_session_with_the_flow_options(world: WebWorld) -> None:
    opened = _open(world, userLocale="en_ID", forceQr=True, portraitOnly=False)
    config = opened.config
    assert config.role is Device.DESKTOP
    assert (config.partner_name, config.locale, config.force_qr, config.portrait_only) == (
        "Toko Contoh",
        "en_ID",
        True,
        False,
    )
    assert config.success_url == "https://partner.test/ok"
    assert config.frame_origins == ("https://partner.test",)
    assert opened.state.phase is Phase.CAPTURE and opened.state.attempts_left == 3
    web = web_session.resolve_session(world.svc, opened.token)
    assert web.role is Device.DESKTOP


def test_bad_and_expired_sessions_are_told_apart(world: WebWorld, svc: Services) -> None:
    with pytest.raises(WebSessionError):
        web_session.open_session(svc, "not-a-token")
    with pytest.raises(WebSessionError):
        web_session.resolve_session(svc, None)
    opened = _open(world)
    flow_id = web_session.resolve_session(svc, opened.token).flow_session_id
    svc.settings.web.session_ttl_s = 1
    from facematch.storage.models import FlowSession

    with svc.db.session() as session:
        flow = session.get(FlowSession, flow_id)
        assert flow is not None
        session.expunge(flow)
    stale = svc.tokens.issue(
        web_session.TokenKind.USER, flow.partner_id, -5, sid=flow_id, web="desktop", uid="u", uidt="t"
    ).token
    with pytest.raises(WebSessionExpiredError):
        web_session.resolve_session(svc, stale)


def test_same_person_completes_valid(world: WebWorld, svc: Services) -> None:
    opened = _open(world)
    web = web_session.resolve_session(svc, opened.token)
    submission_id = web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
    assert web_session.web_state(svc, web).phase is Phase.PROCESSING
    _process(svc, submission_id)
    state = web_session.web_state(svc, web)
    assert state.final and state.outcome == "APPROVED"
    assert (state.callback_status, state.callback_error_code, state.next_action) == (
        "COMPLETED",
        None,
        "STATUS",
    )
    with pytest.raises(SubmissionStateConflictError):
        web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))


def test_another_person_retries_until_attempts_run_out(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    for attempt in (1, 2, 3):
        submission_id = web_capture.capture(svc, web, fake_face_image(99))
        _process(svc, submission_id)
        state = web_session.web_state(svc, web)
        if attempt < 3:
            assert state.phase is Phase.RETRY and state.retry_reason == "FACE_MATCH_FAILED"
            assert state.attempts_left == 3 - attempt
    assert state.final and state.outcome == "REJECTED" and state.callback_status == "COMPLETED"


def test_a_session_finished_on_demand_leaves_no_attempts(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    _process(svc, web_capture.capture(svc, web, fake_face_image(99)))
    assert web_session.web_state(svc, web).attempts_left == 2
    assert flow_sessions.finish_session(svc, web.flow_session_id) is flow_sessions.Finished.FINISHED
    state = web_session.web_state(svc, web)
    assert state.final and state.attempts_left == 0  # as presign now says: no new attempt


def test_a_borderline_final_attempt_waits_for_a_reviewer_then_ends(world: WebWorld, svc: Services) -> None:
    created = world.partner(max_attempts=1)
    review.set_policy(svc, created.partner.id, Band(0.05, 0.5), actor="system:test")
    web = web_session.resolve_session(
        svc, web_session.open_session(svc, world.start(created.partner.id).launch_token).token
    )
    submission_id = web_capture.capture(svc, web, fake_face_image(99))  # fake engine: similarity 0.1
    _process(svc, submission_id)
    state = web_session.web_state(svc, web)
    assert state.phase is Phase.REVIEW and not state.final and state.callback_status is None
    with pytest.raises(SubmissionStateConflictError):
        web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
    reviewer = ConsoleUser("op-1", "reviewer@ops.example", OperatorRole.REVIEWER, "session", "csrf")
    desk.decide(svc, reviewer, submission_id, "approve", None, "same person")
    state = web_session.web_state(svc, web)
    assert state.final and state.outcome == "APPROVED" and state.callback_status == "COMPLETED"


def test_a_capture_without_a_face_makes_no_submission(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    for image, hint in (
        (fake_face_image(1, faces=0), Hint.NO_FACE),
        (fake_face_image(1, faces=2), Hint.MULTIPLE_FACES),
        (fake_face_image(1, quality_issue="FACE_TOO_DARK"), Hint.MORE_LIGHT),
        (b"not an image", Hint.NO_FACE),
    ):
        with pytest.raises(CaptureRejectedError) as caught:
            web_capture.capture(svc, web, image)
        assert caught.value.hint == hint
    state = web_session.web_state(svc, web)
    assert state.phase is Phase.CAPTURE and state.submission_id is None and state.attempts_used == 0


def test_preview_guidance(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    assert (
        web_capture.check_preview(svc, web, fake_face_image(1, quality_issue="FACE_BLURRED")).hint
        is Hint.HOLD_STILL
    )
    assert web_capture.check_preview(svc, web, fake_face_image(1)).ready  # the fake face sits centred
    assert web_capture.check_preview(svc, web, b"junk").hint is Hint.NO_FACE


def test_handoff_link_is_single_use_and_bound_to_its_flow(world: WebWorld, svc: Services) -> None:
    first = _open(world)
    other = _open(world)
    desktop = web_session.resolve_session(svc, first.token)
    issued = handoff.create_handoff(svc, desktop.flow_session_id, generation=1)
    code = issued.link.rsplit("/", 1)[1]
    assert len(code) >= 32 and issued.qr_image.startswith("data:image/png;base64,")
    assert issued.expires_at - utcnow() <= timedelta(seconds=600)
    assert web_session.web_state(svc, desktop).handoff.state is handoff.HandoffState.WAITING  # type: ignore[union-attr]
    phone_token = web_session.redeem_handoff(svc, code)
    phone = web_session.resolve_session(svc, phone_token)
    assert phone.role is Device.PHONE and phone.flow_session_id == desktop.flow_session_id
    assert phone.flow_session_id != web_session.resolve_session(svc, other.token).flow_session_id
    with pytest.raises(HandoffLinkError):
        web_session.redeem_handoff(svc, code)
    assert web_session.web_state(svc, desktop).handoff.state is handoff.HandoffState.REDEEMED  # type: ignore[union-attr]
    assert web_session.web_state(svc, phone).handoff is None
    # The phone captures; the desktop sees the final state.
    _process(svc, web_capture.capture(svc, phone, fake_face_image(REFERENCE_PERSON)))
    assert web_session.web_state(svc, desktop).outcome == "APPROVED"


def test_expired_and_superseded_codes_are_refused(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    earlier = dataclasses.replace(svc, clock=ManualClock(utcnow() - timedelta(minutes=11)))
    old = handoff.create_handoff(earlier, web.flow_session_id, generation=1)
    with pytest.raises(HandoffLinkError):
        web_session.redeem_handoff(svc, old.link.rsplit("/", 1)[1])
    assert web_session.web_state(svc, web).handoff.state is handoff.HandoffState.EXPIRED  # type: ignore[union-attr]
    first = handoff.create_handoff(svc, web.flow_session_id, generation=1)
    second = handoff.create_handoff(svc, web.flow_session_id, generation=1)
    with pytest.raises(HandoffLinkError):
        web_session.redeem_handoff(svc, first.link.rsplit("/", 1)[1])
    web_session.redeem_handoff(svc, second.link.rsplit("/", 1)[1])
    for junk in ("", "x" * 500, "nope"):
        with pytest.raises(HandoffLinkError):
            web_session.redeem_handoff(svc, junk)


def test_parallel_opens_of_one_link_let_exactly_one_through(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    code = handoff.create_handoff(svc, web.flow_session_id, generation=1).link.rsplit("/", 1)[1]
    wins: list[str] = []
    losses: list[Exception] = []
    barrier = threading.Barrier(100)

    def open_link() -> None:
        barrier.wait()
        try:
            wins.append(web_session.redeem_handoff(svc, code))
        except HandoffLinkError as error:
            losses.append(error)

    threads = [threading.Thread(target=open_link) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1 and len(losses) == 99


def test_previews_past_the_concurrency_limit_are_answered_busy(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    release = threading.Event()
    joins = [occupy(svc.analysis, release) for _ in range(svc.analysis.slots)]  # every slot is taken
    try:
        assert web_capture.check_preview(svc, web, fake_face_image(1)).hint is Hint.BUSY
    finally:
        release.set()
        for join in joins:
            join()
    with svc.web_limits.previews_at_once.slot(web.flow_session_id):  # this session's frame is running
        assert web_capture.check_preview(svc, web, fake_face_image(1)).hint is Hint.BUSY
    assert web_capture.check_preview(svc, web, fake_face_image(1)).ready


def test_photos_are_rate_limited_per_session(database_url: str, tmp_path: Path) -> None:
    svc = web_services(database_url, tmp_path, web={"captures_per_session_per_minute": 2})
    try:
        web = web_session.resolve_session(svc, _open(WebWorld(svc)).token)
        for _ in range(2):
            with pytest.raises(CaptureRejectedError):
                web_capture.capture(svc, web, fake_face_image(1, faces=0))
        with pytest.raises(RateLimitedError) as limited:
            web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
        assert limited.value.retry_after_s >= 1
        other = web_session.resolve_session(svc, _open(WebWorld(svc)).token)  # another user is not held
        _process(svc, web_capture.capture(svc, other, fake_face_image(REFERENCE_PERSON)))
    finally:
        svc.db.dispose()


def test_photos_without_a_face_are_counted_and_capped(database_url: str, tmp_path: Path) -> None:
    svc = web_services(database_url, tmp_path, web={"max_refused_captures": 3})
    try:
        web = web_session.resolve_session(svc, _open(WebWorld(svc)).token)
        for _ in range(3):
            with pytest.raises(CaptureRejectedError):
                web_capture.capture(svc, web, fake_face_image(1, faces=0))
        with pytest.raises(CaptureLimitError):  # refused before any analysis
            web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
        assert web_session.web_state(svc, web).attempts_used == 0  # none of them used an attempt
    finally:
        svc.db.dispose()


def test_one_photo_at_a_time_per_session(world: WebWorld, svc: Services) -> None:
    web = web_session.resolve_session(svc, _open(world).token)
    with svc.web_limits.captures_at_once.slot(web.flow_session_id), pytest.raises(RateLimitedError):
        web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
    _process(svc, web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON)))


def test_preview_frames_past_the_session_rate_are_answered_busy(database_url: str, tmp_path: Path) -> None:
    svc = web_services(database_url, tmp_path, web={"previews_per_session_per_s": 1.0})
    try:
        web = web_session.resolve_session(svc, _open(WebWorld(svc)).token)
        hints = [web_capture.check_preview(svc, web, fake_face_image(1)).hint for _ in range(4)]
        assert hints[:2] == [Hint.READY, Hint.READY] and Hint.BUSY in hints[2:]
    finally:
        svc.db.dispose()


def test_a_capture_decodes_once_and_becomes_an_attempt_in_one_transaction(
    world: WebWorld, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import facematch.engine.fake
    import facematch.flows.derivatives

    opened = _open(world)
    web = web_session.resolve_session(svc, opened.token)
    decodes: list[int] = []
    for module in (facematch.flows.derivatives, facematch.engine.fake):
        real = module.decode_image

        def counted(*args: object, _real: object = real, **kwargs: object) -> object:
            decodes.append(1)
            return _real(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(module, "decode_image", counted)
    transactions: list[int] = []
    real_session = svc.db.session

    def counted_session() -> object:
        transactions.append(1)
        return real_session()

    monkeypatch.setattr(svc.db, "session", counted_session)
    minted: list[object] = []
    real_issue = svc.tokens.issue
    monkeypatch.setattr(svc.tokens, "issue", lambda *a, **k: minted.append(a) or real_issue(*a, **k))

    submission_id = web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))

    assert len(decodes) == 1  # the engine's check and the stored selfie share one decode
    assert len(transactions) == 2  # loading the session; the attempt, its selfie and its confirm
    assert minted == []  # no upload URL is minted (or parsed) on the way
    monkeypatch.undo()
    with svc.db.session() as session:
        from facematch.storage.models import Job, Submission

        stored = session.get(Submission, submission_id)
        assert stored is not None and stored.status == "IN_PROGRESS" and stored.selfie_blob
        assert stored.metadata_json == {"channel": "WEB_SDK", "device": "desktop"}
        assert session.query(Job).filter(Job.submission_id == submission_id).count() == 1


def test_photos_are_rate_limited_per_partner_across_its_sessions(database_url: str, tmp_path: Path) -> None:
    svc = web_services(database_url, tmp_path, web={"captures_per_partner_per_minute": 2})
    try:
        world = WebWorld(svc)
        partner_id = world.partner().partner.id
        sessions = [world.session(partner_id) for _ in range(3)]
        for web in sessions[:2]:  # one photo each from two users: the partner's two a minute
            with pytest.raises(CaptureRejectedError):
                web_capture.capture(svc, web, fake_face_image(1, faces=0))
        with pytest.raises(RateLimitedError):  # a third user of the same partner waits
            web_capture.capture(svc, sessions[2], fake_face_image(REFERENCE_PERSON))
        other = web_session.resolve_session(svc, _open(world).token)  # another partner is not held
        _process(svc, web_capture.capture(svc, other, fake_face_image(REFERENCE_PERSON)))
    finally:
        svc.db.dispose()


def test_preview_frames_past_the_partner_rate_are_answered_busy(database_url: str, tmp_path: Path) -> None:
    svc = web_services(database_url, tmp_path, web={"previews_per_partner_per_s": 1.0})
    try:
        world = WebWorld(svc)
        partner_id = world.partner().partner.id
        first, second = (world.session(partner_id) for _ in range(2))
        hints = [
            web_capture.check_preview(svc, web, fake_face_image(1)).hint for web in (first, second, second)
        ]
        assert hints[:2] == [Hint.READY, Hint.READY] and hints[2] is Hint.BUSY  # the partner's burst is 2
        other = web_session.resolve_session(svc, _open(world).token)
        assert web_capture.check_preview(svc, other, fake_face_image(1)).ready
    finally:
        svc.db.dispose()


def test_a_flow_that_ended_in_error_reports_error_on_every_way_out(world: WebWorld, svc: Services) -> None:
    """Once final, the flow reports its final status whichever way the user leaves or comes back:
    ERROR (with VERIFICATION_FAILED) for a system error, never PENDING (which means "left early")."""
    created = world.partner()
    started = world.start(created.partner.id)
    web = web_session.resolve_session(svc, web_session.open_session(svc, started.launch_token).token)
    submission_id = web_capture.capture(svc, web, fake_face_image(REFERENCE_PERSON))
    assert processing.record_decision(svc, submission_id, decisions.unexpected_failure())
    state = web_session.web_state(svc, web)
    assert state.final and state.outcome == "ERROR"
    assert (state.callback_status, state.callback_error_code) == ("ERROR", "VERIFICATION_FAILED")
    way_back = web_exit.exit_for_token(svc, started.launch_token, TokenKind.LAUNCH)  # the launch URL again
    assert way_back is not None
    assert (way_back.status, way_back.error_code) == ("ERROR", "VERIFICATION_FAILED")
