"""Verification metrics over labelled pairs (ISO/IEC 19795-1 style, generalised FRR).

A pair whose images yield no usable face is a non-match: a false reject when genuine, a
correct reject when impostor; it is counted in ``failed_pairs`` either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facematch.engine.calibrate import BandedImpostor, far_upper_bound
from facematch.engine.types import MatchResult

FAILED = -2.0  # below any cosine similarity


@dataclass(frozen=True, slots=True)
class PairScore:
    genuine: bool
    similarity: float | None  # None: a side yielded no usable face


@dataclass(frozen=True, slots=True)
class OperatingPointResult:
    far_target: float
    threshold: float
    tar: float
    far: float
    false_accepts: int
    far_upper_95: float


def _scores(pairs: Sequence[PairScore], genuine: bool) -> np.ndarray:
    return np.array([FAILED if p.similarity is None else p.similarity for p in pairs if p.genuine is genuine])


def auc(pairs: Sequence[PairScore]) -> float:
    """Probability that a genuine pair outscores an impostor pair (ties count half)."""
    g, i = _scores(pairs, True), _scores(pairs, False)
    if not len(g) or not len(i):
        return math.nan
    ranks = np.concatenate([g, i]).argsort().argsort().astype(np.float64) + 1
    # average ranks for ties
    values = np.concatenate([g, i])
    for v in np.unique(values):
        mask = values == v
        if mask.sum() > 1:
            ranks[mask] = ranks[mask].mean()
    rank_sum = ranks[: len(g)].sum()
    return float((rank_sum - len(g) * (len(g) + 1) / 2) / (len(g) * len(i)))


def rates_at(pairs: Sequence[PairScore], threshold: float) -> tuple[float, float, int]:
    """(TAR, FAR, false accepts) when accepting similarity >= threshold."""
    g, i = _scores(pairs, True), _scores(pairs, False)
    tar = float((g >= threshold).mean()) if len(g) else math.nan
    false_accepts = int((i >= threshold).sum())
    far = false_accepts / len(i) if len(i) else math.nan
    return tar, far, false_accepts


def tar_at_far(pairs: Sequence[PairScore], far_target: float) -> OperatingPointResult:
    """The best TAR whose empirical FAR is at most ``far_target`` (lowest such threshold)."""
    i = np.sort(_scores(pairs, False))[::-1]
    allowed = math.floor(far_target * len(i))
    # just above the first impostor that is not allowed through
    threshold = FAILED + 1e-9 if allowed >= len(i) else float(np.nextafter(i[allowed], np.inf))
    tar, far, false_accepts = rates_at(pairs, threshold)
    return OperatingPointResult(
        far_target, threshold, tar, far, false_accepts, far_upper_bound(false_accepts, len(i))
    )


def eer(pairs: Sequence[PairScore]) -> float:
    """Equal error rate: where FAR and FRR cross (linear interpolation between candidates)."""
    values = np.unique(np.concatenate([_scores(pairs, True), _scores(pairs, False)]))
    best = (math.inf, math.nan)
    previous: tuple[float, float] | None = None
    for t in np.concatenate([values, [values[-1] + 1e-6]]):
        tar, far, _ = rates_at(pairs, float(t))
        frr = 1.0 - tar
        if previous is not None and (previous[0] - previous[1]) * (far - frr) <= 0:
            # crossed between previous and here
            d0, d1 = previous[0] - previous[1], far - frr
            w = d0 / (d0 - d1) if d0 != d1 else 0.5
            return float(previous[0] + w * (far - previous[0]))
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
        previous = (far, frr)
    return float(best[1])


@dataclass
class BandTally:
    """Verdicts counted per calibration band (pairs, and accepts at each band's threshold), and
    the impostor pairs with their poorer face's conditions (what ``calibrate_bands`` needs)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    impostors: list[BandedImpostor] = field(default_factory=list)

    def add(self, result: MatchResult, genuine: bool) -> None:
        counts = self.counts.setdefault(
            result.band, {"genuine": 0, "impostor": 0, "true_accepts": 0, "false_accepts": 0}
        )
        counts["genuine" if genuine else "impostor"] += 1
        if result.match:
            counts["true_accepts" if genuine else "false_accepts"] += 1
        if not genuine:
            selfie, reference = result.selfie, result.reference
            poorer = min(selfie.quality.interocular_px, reference.quality.interocular_px)
            self.impostors.append(
                BandedImpostor(result.similarity, poorer, selfie.greyscale or reference.greyscale)
            )
