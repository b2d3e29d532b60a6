"""The hosted flow's head-move challenge (sessions that ask for liveness): the server issues it
after consent, the page streams downscaled camera frames while the user moves, and the selfie is
taken at the end of the same stream (:func:`facematch.flows.web.capture.capture` with the nonce).

Each frame is checked on arrival: its nonce must be the attempt's current challenge's, it must come
before the deadline, one at a time per session, within the challenge's frame count and byte budget
(``liveness.challenge_max_bytes``, 1 MiB); it is decoded under a small pixel cap and observed, and
only what the verdict needs is kept (:func:`facematch.flows.liveness.pack`). The answer is
guidance only (:func:`facematch.engine.liveness.progress`): the verdict is the job's, from the
frames the server kept, never from what the page says.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from facematch.engine.images import decode_image
from facematch.engine.liveness import Challenge, Move, progress
from facematch.errors import ImageError, LivenessChallengeError, RateLimitedError
from facematch.flows import liveness, submissions
from facematch.flows.context import Services
from facematch.flows.web.session import WebSession, load, load_in
from facematch.rules import sandbox
from facematch.rules.states import LivenessMode, SubmissionStatus
from facematch.storage import liveness_repo, submission_repo
from facematch.storage.blobs import discard
from facematch.storage.models import Submission

#: the ``x-sdk-session-id`` of the hosted flow's attempts (as :mod:`facematch.flows.web.capture`'s)
SDK_SESSION_ID = "web-sdk"
#: a challenge frame's pixels: the page sends 320 px frames, a phone may send a little more
FRAME_MAX_PIXELS = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Issued:
    challenge: Challenge
    expires_in_s: float


@dataclass(frozen=True, slots=True)
class Guidance:
    """Where the user stands (never a verdict): steps done, the next move, and whether the
    challenge can no longer pass (a move not asked for, or a window missed)."""

    completed: int
    next_move: Move | None
    off_track: bool
    faces: int
    """Faces in this frame (the page asks for one)."""
    expires_in_s: float


def start(svc: Services, web: WebSession) -> Issued:
    """A new challenge on the flow's open attempt (opened now if needed, by the attempt rules of a
    capture); an earlier challenge of that attempt, and its frames, are dropped."""
    flow_session, partner = load(svc, web)
    if flow_session.liveness != LivenessMode.ACTIVE:
        raise LivenessChallengeError("this flow asks for no challenge")
    svc.web_limits.captures_per_session.take(flow_session.id)
    with svc.db.session() as session:
        flow_session, partner = load_in(web, session=session)
        sandbox.check_environment(flow_session, partner)
        submission = submissions.open_attempt(flow_session, partner, SDK_SESSION_ID, session=session)
        challenge = liveness.issue(svc, submission, session=session)
    return Issued(challenge, max(0.0, challenge.deadline - liveness.now_s(svc)))


def _open_challenge(svc: Services, web: WebSession, nonce: str | None) -> tuple[Submission, Challenge]:
    """The flow's open attempt and its challenge, if ``nonce`` is that challenge's; refused otherwise."""
    with svc.db.session() as session:
        flow_session, _ = load_in(web, session=session)
        latest = submission_repo.latest_submission(flow_session.id, session=session)
        if latest is None or latest.status != SubmissionStatus.INITIATED:
            raise LivenessChallengeError("no challenge is open")
        challenge = liveness.challenge_of(latest)
        if challenge is None or not hmac.compare_digest(challenge.nonce, nonce or ""):
            raise LivenessChallengeError("the frame is for another challenge")
        session.expunge(latest)
    return latest, challenge


def receive_frame(svc: Services, web: WebSession, nonce: str | None, frame: bytes) -> Guidance:
    """Observe and keep one challenge frame; answer with guidance (see the module docstring)."""
    live = svc.settings.liveness
    if len(frame) > live.frame_max_bytes:
        raise LivenessChallengeError("the frame is too large")
    submission, challenge = _open_challenge(svc, web, nonce)
    now = liveness.now_s(svc)
    if now > challenge.deadline:
        raise LivenessChallengeError("the challenge is over")
    tolerances = liveness.tolerances(svc)
    with svc.web_limits.previews_at_once.slot(submission.session_id) as got:
        if not got:
            raise RateLimitedError(1)
        with svc.db.session() as session:
            count, size = liveness_repo.received(submission.id, session=session)
        if count >= tolerances.max_frames or size + len(frame) > live.challenge_max_bytes:
            raise LivenessChallengeError("the challenge has all the frames it takes")
        engine = svc.require_engine()

        def observe() -> tuple[dict[str, Any], bytes | None] | None:
            try:
                decoded = decode_image(
                    frame,
                    max_bytes=live.frame_max_bytes,
                    max_pixels=FRAME_MAX_PIXELS,
                    max_full_decode_pixels=FRAME_MAX_PIXELS,
                )
            except ImageError:
                return None
            return liveness.pack(engine.observe(decoded))

        packed = svc.analysis.run(observe)
        if packed is None:
            raise LivenessChallengeError("the frame is not an image")
        seen, face = packed
        blob = svc.blobs.put(face) if face is not None else None
        try:
            with svc.db.session() as session:
                current = session.get(Submission, submission.id)
                if (
                    current is None
                    or current.status != SubmissionStatus.INITIATED
                    or current.liveness_challenge is None
                ):
                    raise LivenessChallengeError("the challenge is over")  # its selfie came meanwhile
                if current.liveness_challenge.get("nonce") != challenge.nonce:
                    raise LivenessChallengeError("the frame is for another challenge")  # a new one began
                liveness_repo.add_frame(
                    current.id, challenge.nonce, now, len(frame), seen, blob, session=session
                )
                rows = liveness_repo.frames_of(current.id, session=session)
                frames = [liveness.geometry(row) for row in rows]
        except BaseException:
            if blob:
                discard(svc.blobs, blob)
            raise
    done = progress(challenge, frames, tolerances, now=now)
    return Guidance(
        completed=done.completed,
        next_move=done.next_move,
        off_track=done.off_track,
        faces=int(seen["faces"]),
        expires_in_s=max(0.0, challenge.deadline - now),
    )
