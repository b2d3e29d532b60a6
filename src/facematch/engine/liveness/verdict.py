"""The liveness verdict: from the challenge, the frames the server received and the final selfie
alone (what the page reports is never an input).

Checks, each reported with the value measured (``Check.value``):

* ``NONCE``: every frame and the selfie were sent for this challenge's nonce (value: how many were
  not);
* ``TIMING``: frames and selfie arrived in order, after the issue and by the deadline (value:
  seconds from the issue to the selfie);
* ``CADENCE``: a plausible stream: enough frames, none closer than ``min_interval_s`` to the last,
  no gap longer than ``max_gap_s`` (value: the longest gap, s);
* ``ONE_FACE``: the selfie and all but at most ``max_unclear_frames`` frames show exactly one face
  (no second face at least half as wide) (value: frames without exactly one face);
* ``MOVES``: the moves seen are exactly the steps, in order, each within its window (value: steps
  met in order);
* ``DEPTH``: each turn moved the nose tip off the plane of the eyes and mouth corners by at least
  ``depth`` face sizes, the way a head does and a flat print or screen cannot (value: the
  smaller turn's parallax);
* ``SAME_PERSON``: every frame's face matches the final selfie at ``same_person`` (value: the
  lowest cosine similarity);
* ``FLAT_TEXTURE``: the face's texture between the frontal frames and each turn is not one flat
  surface seen from two angles (:mod:`.texture`; value: the largest share of feature matches one
  homography carries). Off unless ``flat_texture`` is set: it passes, and reports its value.

The verdict is PASSED only when every check passes. Tolerances were chosen on the tune half of
the development set and measured on the report half (BENCHMARKS.md, "Liveness").
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from facematch.engine.liveness import pose, texture
from facematch.engine.liveness.challenge import TURNS, Challenge, ChallengeFrame, Move
from facematch.engine.liveness.moves import MoveSeen, MoveTolerances, MoveTrack, track_moves

#: the verdict's algorithm; a change to a check or a default tolerance changes it
VERSION = "active-1"


class LivenessResult(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    value: float


@dataclass(frozen=True, slots=True)
class Verdict:
    result: LivenessResult
    version: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return self.result is LivenessResult.PASSED

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError when there is none)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Tolerances:
    """Everything the verdict compares against.

    ``same_person`` is a cosine similarity of the recognizer in use: take it from that
    recognizer's calibration at a strict FAR (the service: ``FaceEngine.calibration``).
    """

    same_person: float
    depth: float = 0.07
    """Smallest signed nose parallax (in face sizes) each turn must show."""
    moves: MoveTolerances = field(default_factory=MoveTolerances)
    max_unclear_frames: int = 2
    """Frames that show no face or a second face of comparable size (left out of every other
    check) that a session may hold: motion blur, a passer-by."""
    min_frames: int = 6
    max_frames: int = 120
    min_interval_s: float = 0.05
    max_gap_s: float = 3.0
    flat_texture: float | None = None
    """Refuse a turn whose feature matches with the frontal frames are at least this share one
    homography's. None (default): measured and reported, not applied (its effect on live users
    is not measured yet: BENCHMARKS.md, "Liveness")."""


def _faced(frames: Sequence[ChallengeFrame]) -> list[ChallengeFrame]:
    return [f for f in frames if f.observation.face_count == 1 and len(f.observation.landmarks) == 5]


def _nonce(challenge: Challenge, frames: Sequence[ChallengeFrame], selfie: ChallengeFrame) -> Check:
    foreign = sum(1 for f in (*frames, selfie) if f.nonce != challenge.nonce)
    return Check("NONCE", foreign == 0, float(foreign))


def _timing(challenge: Challenge, frames: Sequence[ChallengeFrame], selfie: ChallengeFrame) -> Check:
    times = [f.at for f in (*frames, selfie)]
    ordered = all(b >= a for a, b in itertools.pairwise(times))
    inside = bool(times) and times[0] >= challenge.issued_at and max(times) <= challenge.deadline
    return Check("TIMING", ordered and inside, round(selfie.at - challenge.issued_at, 3))


def _cadence(frames: Sequence[ChallengeFrame], tolerances: Tolerances) -> Check:
    gaps = [b.at - a.at for a, b in itertools.pairwise(frames)]
    longest = max(gaps, default=0.0)
    ok = (
        tolerances.min_frames <= len(frames) <= tolerances.max_frames
        and all(g >= tolerances.min_interval_s for g in gaps)
        and longest <= tolerances.max_gap_s
    )
    return Check("CADENCE", ok, round(longest, 3))


def _one_face(frames: Sequence[ChallengeFrame], selfie: ChallengeFrame, tolerances: Tolerances) -> Check:
    unclear = sum(1 for f in frames if f.observation.face_count != 1)
    ok = unclear <= tolerances.max_unclear_frames and selfie.observation.face_count == 1
    return Check("ONE_FACE", ok, float(unclear))


def turn_parallax(baseline: Sequence[ChallengeFrame], seen: MoveSeen) -> float:
    """The median nose parallax of a turn's frames against the frontal frames, signed so that a
    real head turned the asked way gives a positive value."""
    sign = 1.0 if seen.move is Move.TURN_LEFT else -1.0
    values = [
        sign
        * pose.parallax(
            pose.as_landmarks(ref.observation.landmarks), pose.as_landmarks(turned.observation.landmarks)
        )
        for ref in baseline
        for turned in seen.turned
    ]
    return statistics.median(values) if values else 0.0


def _depth(track: MoveTrack, tolerances: Tolerances) -> Check:
    turns = [s for s in track.events if s.move in TURNS]
    values = [turn_parallax(track.baseline, s) for s in turns]
    both = {s.move for s in turns} == set(TURNS)
    smallest = min(values, default=0.0)
    return Check("DEPTH", both and smallest >= tolerances.depth, round(smallest, 4))


def _same_person(frames: Sequence[ChallengeFrame], selfie: ChallengeFrame, tolerances: Tolerances) -> Check:
    reference = selfie.observation.template
    templates = [f.observation.template for f in frames if f.observation.template is not None]
    if reference is None or not templates:
        return Check("SAME_PERSON", False, 0.0)
    lowest = float(np.min(np.stack(templates) @ reference))
    return Check("SAME_PERSON", lowest >= tolerances.same_person, round(lowest, 4))


def _flat_texture(track: MoveTrack, tolerances: Tolerances) -> Check:
    refs = [
        texture.features(f.observation.face_patch)
        for f in track.baseline
        if f.observation.face_patch is not None
    ]
    shares = []
    for event in track.events:
        if event.move in TURNS and event.turned:
            per_frame = [
                max(
                    (texture.flat_share(ref, texture.features(f.observation.face_patch)) for ref in refs),
                    default=0.0,
                )
                for f in event.turned
                if f.observation.face_patch is not None
            ]
            shares.append(statistics.median(per_frame) if per_frame else 0.0)
    flattest = max(shares, default=0.0)
    ok = tolerances.flat_texture is None or flattest < tolerances.flat_texture
    return Check("FLAT_TEXTURE", ok, round(flattest, 4))


def judge(
    challenge: Challenge,
    frames: Sequence[ChallengeFrame],
    selfie: ChallengeFrame,
    tolerances: Tolerances,
) -> Verdict:
    """Whether ``frames`` (in the order received) and the final ``selfie`` show a live person
    doing ``challenge``. Pure: the same inputs always give the same verdict."""
    track = track_moves(_faced(frames), tolerances.moves)
    checks = (
        _nonce(challenge, frames, selfie),
        _timing(challenge, frames, selfie),
        _cadence(frames, tolerances),
        _one_face(frames, selfie, tolerances),
        Check("MOVES", track.complete(challenge.steps), float(track.matched(challenge.steps))),
        _depth(track, tolerances),
        _same_person(_faced(frames), selfie, tolerances),
        _flat_texture(track, tolerances),
    )
    result = LivenessResult.PASSED if all(c.passed for c in checks) else LivenessResult.FAILED
    return Verdict(result, VERSION, checks)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a user stands in a challenge, for guidance while frames arrive (never a verdict)."""

    completed: int
    next_move: Move | None
    off_track: bool
    """A move that was not asked for, or one out of its window: the challenge can no longer pass."""


def progress(
    challenge: Challenge,
    frames: Sequence[ChallengeFrame],
    tolerances: Tolerances,
    *,
    now: float | None = None,
) -> Progress:
    """How many steps the frames so far complete, and the move to ask for next. ``now`` (the
    server's clock): an awaited step whose window has passed makes the challenge off track."""
    track = track_moves(_faced(frames), tolerances.moves)
    done = track.matched(challenge.steps)
    moves = challenge.moves
    off_track = len(track.events) > done
    since = track.waiting_since(challenge.steps)
    if now is not None and done < len(moves) and since is not None:
        off_track = off_track or now - since > challenge.steps[done].within_s
    return Progress(done, moves[done] if done < len(moves) else None, off_track)
