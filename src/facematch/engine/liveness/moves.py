"""The moves the frames show, in order, and whether they are the challenge's steps.

The first frames with one face set the frontal pose (``baseline_frames``). From there the frames
are read as a sequence of move *events*: a turn begins when the yaw has moved ``turn_yaw`` from
the frontal one (to the subject's left or right) after being less than half that far round, and
``COME_CLOSER`` when the face, facing the camera, becomes ``closer_ratio`` times its frontal size
after being less than halfway there. Holding a pose or going back to the front is no new event.

The steps are met when the events are exactly the steps, in order, each within its window: a
move that was not asked for, a missing one, a head shaken both ways or moves played in another
order all fail, so a recording made for one challenge does not answer another.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from facematch.engine.liveness.challenge import ChallengeFrame, Move, Step


@dataclass(frozen=True, slots=True)
class MoveTolerances:
    """What counts as a move (chosen on the tune half: BENCHMARKS.md, "Liveness")."""

    turn_yaw: float = 0.15
    """Yaw change (eye distances) that makes a turn; about 17° of head turn."""
    closer_ratio: float = 1.2
    """Face size, relative to the frontal frames', that makes ``COME_CLOSER``."""
    baseline_frames: int = 2
    """How many first frames with one face define the frontal pose."""


@dataclass(frozen=True, slots=True)
class MoveSeen:
    """A move event: which move, when it began, and (for a turn) the frames held at the turn."""

    move: Move
    at: float
    turned: tuple[ChallengeFrame, ...] = ()


@dataclass(frozen=True, slots=True)
class MoveTrack:
    """The frontal frames and the move events after them, in order."""

    baseline: tuple[ChallengeFrame, ...]
    events: tuple[MoveSeen, ...]

    def matched(self, steps: Sequence[Step]) -> int:
        """How many steps, from the first, the events meet in order and within their windows."""
        since = self.baseline[-1].at if self.baseline else 0.0
        done = 0
        for step, event in zip(steps, self.events, strict=False):
            if event.move is not step.move or event.at - since > step.within_s:
                break
            since = event.at
            done += 1
        return done

    def waiting_since(self, steps: Sequence[Step]) -> float | None:
        """When the window of the first step not yet met opened (None: no frontal frames yet)."""
        if not self.baseline:
            return None
        done = self.matched(steps)
        return self.events[done - 1].at if done else self.baseline[-1].at

    def complete(self, steps: Sequence[Step]) -> bool:
        return len(self.events) == len(steps) and self.matched(steps) == len(steps)


def _turn_state(turn: float, tolerances: MoveTolerances, previous: Move | None) -> Move | None:
    """The turn held at yaw change ``turn``, with hysteresis: a turn begins at ``turn_yaw`` and
    lasts until the face is back within half of it."""
    if turn >= tolerances.turn_yaw:
        return Move.TURN_LEFT
    if turn <= -tolerances.turn_yaw:
        return Move.TURN_RIGHT
    if previous is Move.TURN_LEFT and turn >= tolerances.turn_yaw / 2:
        return previous
    if previous is Move.TURN_RIGHT and turn <= -tolerances.turn_yaw / 2:
        return previous
    return None


def track_moves(frames: Sequence[ChallengeFrame], tolerances: MoveTolerances) -> MoveTrack:
    """The move events of ``frames`` (frames with exactly one face, in time order)."""
    count = max(1, tolerances.baseline_frames)
    if len(frames) <= count:
        return MoveTrack(baseline=tuple(frames[:count]), events=())
    baseline = tuple(frames[:count])
    base_yaw = statistics.median(f.observation.yaw for f in baseline)
    base_size = statistics.median(f.observation.size for f in baseline) or 1e-9
    halfway = 1.0 + (tolerances.closer_ratio - 1.0) / 2
    events: list[tuple[Move, float]] = []
    held: dict[int, list[ChallengeFrame]] = {}
    turn: Move | None = None
    turn_event = -1
    close = False
    for frame in frames[count:]:
        obs = frame.observation
        change = obs.yaw - base_yaw
        state = _turn_state(change, tolerances, turn)
        if state is not None and state is not turn:
            turn_event = len(events)
            events.append((state, frame.at))
        if state is not None and abs(change) >= tolerances.turn_yaw:
            held.setdefault(turn_event, []).append(frame)
        turn = state
        if state is not None:
            continue  # the size is judged facing the camera: a turned face's landmarks shift
        ratio = obs.size / base_size
        if not close and ratio >= tolerances.closer_ratio:
            events.append((Move.COME_CLOSER, frame.at))
            close = True
        elif close and ratio < halfway:
            close = False
    seen = tuple(MoveSeen(move, at, tuple(held.get(i, ()))) for i, (move, at) in enumerate(events))
    return MoveTrack(baseline, seen)
