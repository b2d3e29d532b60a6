"""A session's head-move challenge (docs/liveness.md): issued with an attempt, answered by a backend
partner's clip or by the hosted flow's frames, and judged with the selfie in the attempt's job,
before any face match (:func:`facematch.flows.processing.decide`).

The challenge lives on its attempt (``Submission.liveness_challenge``): its nonce, moves, window,
issue time and deadline (seconds on the service's clock), and what answered it when: ``clip``
(the nonce a backend partner sent its clip with, and when the clip arrived) and ``selfie`` (when
the selfie arrived, and for the hosted flow under which nonce). Issuing a new challenge on the
same open attempt forgets the old one's clip, frames and selfie.

Frames are biometric data: a clip is decoded under byte, duration, pixel and frame caps
(:func:`facematch.engine.clips.decode_clip`) and kept encrypted in the blob store; a hosted-flow
frame is observed on arrival and only its geometry (table ``liveness_frames``) and its face's
template and patch (encrypted, in the blob store) are kept. All of it is deleted once the
attempt's verdict is recorded (:func:`discard_evidence`), and none of it is ever logged.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from facematch.config import Settings
from facematch.engine.clips import DecodedClip, decode_clip
from facematch.engine.liveness import (
    VERSION,
    Challenge,
    ChallengeFrame,
    ChallengePlan,
    Move,
    Step,
    Tolerances,
    Verdict,
    clip_frames,
    judge,
    random_challenge,
)
from facematch.engine.liveness.observe import observation_of
from facematch.engine.types import Box, FaceAnalysis, FrameObservation
from facematch.errors import (
    BlobNotFoundError,
    ClipError,
    InvalidUploadArtifactError,
    MissingFieldError,
    SubmissionNotFoundError,
    SubmissionStateConflictError,
)
from facematch.flows.context import Services
from facematch.rules.states import SubmissionStatus
from facematch.storage import liveness_repo, submission_repo
from facematch.storage.blobs import discard
from facematch.storage.db import on_commit
from facematch.storage.models import LivenessFrame, Submission, utcnow

#: the clip kinds a backend partner may send (:data:`facematch.engine.clips.DEMUXERS`)
CLIP_FORMATS = ("webm", "mp4", "mjpeg")
#: the content types a clip upload may declare (besides none and application/octet-stream)
CLIP_CONTENT_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/x-motion-jpeg", "image/jpeg")


def plan(settings: Settings) -> ChallengePlan:
    live = settings.liveness
    return ChallengePlan(within_s=live.move_within_s, start_s=live.start_s, finish_s=live.finish_s)


def tolerances(svc: Services) -> Tolerances:
    """The verdict's tolerances: the engine's defaults, with the selfie threshold of this deployment."""
    return Tolerances(same_person=svc.require_engine().threshold_at(svc.settings.liveness.same_person_far))


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_s(svc: Services) -> float:
    return svc.clock.now().timestamp()


# ---------------------------------------------------------------- the challenge


def challenge_of(submission: Submission) -> Challenge | None:
    """The attempt's challenge (None: its session asks for no liveness)."""
    record = submission.liveness_challenge
    if not record:
        return None
    steps = tuple(Step(Move(move), float(record["withinS"])) for move in record["moves"])
    return Challenge(record["nonce"], steps, float(record["issuedAt"]), float(record["deadline"]))


def issue(svc: Services, submission: Submission, *, session: Session) -> Challenge:
    """A fresh challenge for an open attempt. An earlier challenge's clip and frames are dropped
    (their blobs deleted once this transaction commits): they answered another nonce."""
    challenge = random_challenge(svc.rng, now=now_s(svc), plan=plan(svc.settings))
    stale = liveness_repo.delete_frames(submission.id, session=session)
    if submission.liveness_blob:
        stale.append(submission.liveness_blob)
        submission.liveness_blob = None
    submission.liveness_challenge = {
        "version": VERSION,
        "nonce": challenge.nonce,
        "moves": [move.value for move in challenge.moves],
        "withinS": challenge.steps[0].within_s,
        "issuedAt": challenge.issued_at,
        "deadline": challenge.deadline,
    }
    if stale:

        def forget() -> None:
            for blob in stale:
                discard(svc.blobs, blob)

        on_commit(session, forget)
    return challenge


def _noted(submission: Submission, key: str, value: dict[str, Any]) -> None:
    record = dict(submission.liveness_challenge or {})
    record[key] = value
    submission.liveness_challenge = record  # a new dict: the JSON column sees the change


def note_selfie(submission: Submission, *, at: float, nonce: str | None = None) -> None:
    """Record when the attempt's selfie arrived (and for the hosted flow, under which nonce)."""
    challenge = challenge_of(submission)
    if challenge is not None:
        _noted(submission, "selfie", {"nonce": nonce or challenge.nonce, "at": at})


def evidence_blobs(submission: Submission, *, session: Session) -> list[str]:
    """Every blob of the attempt's liveness evidence (its clip, its frames)."""
    blobs = liveness_repo.frame_blobs(submission.id, session=session)
    return [submission.liveness_blob, *blobs] if submission.liveness_blob else blobs


def discard_evidence(svc: Services, submission_id: str) -> None:
    """Delete the attempt's clip and frames (its verdict is recorded: they are not kept)."""
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None or (not submission.liveness_blob and not submission.liveness_challenge):
            return
        blobs = liveness_repo.delete_frames(submission_id, session=session)
        if submission.liveness_blob:
            blobs.append(submission.liveness_blob)
            submission.liveness_blob = None
    for blob in blobs:
        discard(svc.blobs, blob)


# ---------------------------------------------------------------- a backend partner's clip


def decode(data: bytes, settings: Settings) -> DecodedClip:
    """A clip decoded under this deployment's caps (ClipError when it cannot be used)."""
    live = settings.liveness
    return decode_clip(data, max_bytes=live.clip_max_bytes, max_duration_s=live.clip_max_s)


def attach_clip(svc: Services, partner_id: str, submission_id: str, nonce: str | None, data: bytes) -> str:
    """Store a backend partner's challenge clip (checked under the caps first, then kept encrypted
    until the verdict) with the nonce it was sent under; returns its document reference. A clip
    for an attempt that asks for no liveness is refused."""
    if not nonce:
        raise MissingFieldError("x-liveness-nonce")
    if len(nonce) > 64:
        raise InvalidUploadArtifactError("x-liveness-nonce is not a challenge nonce")
    svc.analysis.run(lambda: decode(data, svc.settings))
    received = now_s(svc)
    blob = svc.blobs.put(data)
    try:
        with svc.db.session() as session:
            submission = submission_repo.submission_of_partner(partner_id, submission_id, session=session)
            if submission is None:
                raise SubmissionNotFoundError()
            if submission.status != SubmissionStatus.INITIATED:
                raise SubmissionStateConflictError("the submission was already confirmed")
            if challenge_of(submission) is None:
                raise InvalidUploadArtifactError("this attempt asks for no liveness clip")
            replaced, submission.liveness_blob = submission.liveness_blob, blob
            _noted(submission, "clip", {"nonce": nonce, "receivedAt": received})
            submission.uploaded_at = utcnow()
    except BaseException:
        discard(svc.blobs, blob)
        raise
    if replaced:
        discard(svc.blobs, replaced)
    return f"{submission_id}/LIVENESS"


# ---------------------------------------------------------------- the hosted flow's frames


def pack(observation: FrameObservation) -> tuple[dict[str, Any], bytes | None]:
    """A frame's observation as kept until the verdict: its geometry (a row) and its face's
    template and patch (a blob, encrypted by the store)."""
    box = observation.box
    seen: dict[str, Any] = {
        "faces": observation.face_count,
        "w": observation.frame_width,
        "h": observation.frame_height,
        "box": None if box is None else [box.x, box.y, box.width, box.height],
        "landmarks": [list(point) for point in observation.landmarks],
        "yaw": observation.yaw,
        "size": observation.size,
        "score": observation.detector_score,
    }
    if observation.template is None:
        return seen, None
    out = io.BytesIO()
    arrays: dict[str, Any] = {"template": observation.template}
    if observation.face_patch is not None:
        arrays["patch"] = observation.face_patch
    np.savez(out, allow_pickle=False, **arrays)
    return seen, out.getvalue()


def unpack(seen: dict[str, Any], face: bytes | None) -> FrameObservation:
    template = patch = None
    if face is not None:
        with np.load(io.BytesIO(face), allow_pickle=False) as arrays:
            template = np.asarray(arrays["template"], dtype=np.float32)
            patch = np.asarray(arrays["patch"], dtype=np.uint8) if "patch" in arrays else None
    box = seen.get("box")
    return FrameObservation(
        face_count=int(seen["faces"]),
        frame_width=int(seen["w"]),
        frame_height=int(seen["h"]),
        box=None if box is None else Box(*(float(v) for v in box)),
        landmarks=tuple((float(x), float(y)) for x, y in seen["landmarks"]),
        yaw=float(seen["yaw"]),
        size=float(seen["size"]),
        detector_score=float(seen["score"]),
        template=template,
        face_patch=patch,
    )


def geometry(row: LivenessFrame) -> ChallengeFrame:
    """A stored frame as guidance reads it (no template: the moves need none)."""
    return ChallengeFrame(row.nonce, row.at, unpack(row.seen, None))


# ---------------------------------------------------------------- the verdict


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an attempt's verdict is judged from, loaded in its job (outside any transaction)."""

    challenge: Challenge
    record: dict[str, Any]
    clip: bytes | None
    stored: tuple[tuple[LivenessFrame, bytes | None], ...]


def evidence_of(svc: Services, submission: Submission) -> Evidence | None:
    """The attempt's challenge and what answered it (None: the attempt asks for no liveness).
    A clip or frame blob that cannot be read counts as not sent."""
    challenge = challenge_of(submission)
    if challenge is None:
        return None
    clip = _read(svc, submission.liveness_blob)
    with svc.db.session() as session:
        rows = liveness_repo.frames_of(submission.id, session=session)
        session.expunge_all()
    stored = tuple((row, _read(svc, row.blob)) for row in rows)
    return Evidence(challenge, dict(submission.liveness_challenge or {}), clip, stored)


def _read(svc: Services, blob: str | None) -> bytes | None:
    if not blob:
        return None
    try:
        return svc.blobs.get(blob)
    except BlobNotFoundError:
        return None


def judge_evidence(svc: Services, evidence: Evidence, selfie: FaceAnalysis) -> Verdict:
    """The verdict on ``evidence`` and the attempt's selfie (CPU: run it in an analysis slot). A
    clip that no longer decodes answers with no frames at all."""
    frames = _frames(svc, evidence)
    noted = evidence.record.get("selfie") or {}
    at = float(noted.get("at", evidence.challenge.issued_at - 1.0))
    if frames and evidence.clip is not None:
        at = max(at, frames[-1].at)  # a backend partner's selfie closes the clip it came with
    nonce = str(noted.get("nonce", evidence.challenge.nonce))
    return judge(
        evidence.challenge, frames, ChallengeFrame(nonce, at, observation_of(selfie)), tolerances(svc)
    )


def _frames(svc: Services, evidence: Evidence) -> Sequence[ChallengeFrame]:
    engine = svc.require_engine()
    if evidence.clip is not None:
        answered = evidence.record.get("clip") or {}
        try:
            clip = decode(evidence.clip, svc.settings)
        except ClipError:
            return ()
        observed = [(frame.t, engine.observe(frame.image)) for frame in clip.frames]
        return clip_frames(
            observed, nonce=str(answered.get("nonce", "")), received_at=float(answered.get("receivedAt", 0.0))
        )
    return tuple(ChallengeFrame(row.nonce, row.at, unpack(row.seen, face)) for row, face in evidence.stored)
