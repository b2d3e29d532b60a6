"""What a liveness challenge asks for, and the frames that answer it.

A challenge is a random order of head moves with a nonce, the time it was issued and a deadline.
Every challenge asks for both turns (left and right): each turn shows the face from another side,
and the verdict's depth check needs a view from each side of a frontal one. ``COME_CLOSER``
joins them at random. Nod and tilt are not used: the development set holds no nods to measure a
nod's tolerance on, and a tilt (roll) is a 2D rotation that any print makes (docs/liveness.md).

Times are seconds on the server's clock (e.g. ``time.time()``): the issue time, the deadline and
each frame's ``at`` (the time the server received it; the page's word is never taken).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from facematch.engine.types import FrameObservation


class Move(StrEnum):
    """A head move the landmarks measure reliably (directions are the subject's own)."""

    TURN_LEFT = "TURN_LEFT"
    TURN_RIGHT = "TURN_RIGHT"
    COME_CLOSER = "COME_CLOSER"


TURNS = (Move.TURN_LEFT, Move.TURN_RIGHT)


@dataclass(frozen=True, slots=True)
class Step:
    """One requested move, to be completed within ``within_s`` seconds of the previous step's
    completion (the first step: of the first frame)."""

    move: Move
    within_s: float


@dataclass(frozen=True, slots=True)
class Challenge:
    """The moves asked for, in order, bound to a nonce and a time window."""

    nonce: str
    steps: tuple[Step, ...]
    issued_at: float
    deadline: float

    @property
    def moves(self) -> tuple[Move, ...]:
        return tuple(step.move for step in self.steps)


@dataclass(frozen=True, slots=True)
class ChallengeFrame:
    """One frame as the server received it: for which challenge (the nonce it was sent with),
    when (the server's receive time), and what the engine saw in it."""

    nonce: str
    at: float
    observation: FrameObservation


def clip_frames(
    observed: Sequence[tuple[float, FrameObservation]], *, nonce: str, received_at: float
) -> tuple[ChallengeFrame, ...]:
    """A clip's observed frames (its own times, in seconds from its first frame) as challenge
    frames. A clip's clock is the recorder's, so it is anchored to the server's: its last frame
    is taken to have arrived when the clip did (``received_at``), the others that much earlier;
    the verdict's ``TIMING`` then checks that the whole clip fits between issue and deadline."""
    if not observed:
        return ()
    last = max(t for t, _ in observed)
    return tuple(ChallengeFrame(nonce, received_at - (last - t), obs) for t, obs in observed)


@dataclass(frozen=True, slots=True)
class ChallengePlan:
    """How challenges are made: the time for each move, and the time to start and to finish."""

    within_s: float = 6.0
    """For one move (guidance, a turn and its way back at a comfortable pace)."""
    start_s: float = 10.0
    """From the issue to the first move: camera start-up and a frontal look."""
    finish_s: float = 10.0
    """After the last move: the final selfie."""


def random_challenge(
    rng: random.Random, *, now: float, plan: ChallengePlan | None = None, nonce: str | None = None
) -> Challenge:
    """A new challenge issued at ``now``: both turns and, half the time, ``COME_CLOSER``, in a
    random order without the same move twice in a row (2–3 moves).

    ``rng``: the random source (``secrets.SystemRandom()`` in service; a seeded ``random.Random``
    in tests). ``nonce``: 128 random bits from ``rng`` unless given.
    """
    plan = plan or ChallengePlan()
    moves = list(TURNS)
    if rng.random() < 0.5:
        moves.append(Move.COME_CLOSER)
    rng.shuffle(moves)
    steps = tuple(Step(move, plan.within_s) for move in moves)
    deadline = now + plan.start_s + plan.within_s * len(steps) + plan.finish_s
    return Challenge(
        nonce=nonce if nonce is not None else f"{rng.getrandbits(128):032x}",
        steps=steps,
        issued_at=now,
        deadline=deadline,
    )
