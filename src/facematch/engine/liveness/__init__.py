"""Active liveness: a random head-move challenge, judged on the server from the frames alone.

* :mod:`.challenge`: the moves, a challenge (steps, nonce, issue time, deadline), a received frame,
  and :func:`random_challenge`;
* :mod:`.pose`: yaw, face size and the nose's parallax off the face's plane, from five landmarks;
* :mod:`.moves`: the steps followed through the frames;
* :mod:`.verdict`: :func:`judge` (checks and their tolerances) and :func:`progress` for guidance;
* :mod:`.observe`: what the engine sees in one frame (``FaceEngine.observe``).

Pure: numpy and OpenCV, no settings, storage or HTTP. docs/liveness.md says what it stops and
what it does not.
"""

from facematch.engine.liveness.challenge import (
    Challenge,
    ChallengeFrame,
    ChallengePlan,
    Move,
    Step,
    clip_frames,
    random_challenge,
)
from facematch.engine.liveness.moves import MoveTolerances
from facematch.engine.liveness.verdict import (
    VERSION,
    Check,
    LivenessResult,
    Progress,
    Tolerances,
    Verdict,
    judge,
    progress,
)

__all__ = [
    "VERSION",
    "Challenge",
    "ChallengeFrame",
    "ChallengePlan",
    "Check",
    "LivenessResult",
    "Move",
    "MoveTolerances",
    "Progress",
    "Step",
    "Tolerances",
    "Verdict",
    "clip_frames",
    "judge",
    "progress",
    "random_challenge",
]
