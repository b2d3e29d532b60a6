"""Score ↔ false-accept-rate calibration.

A calibration describes, for one recognizer, how often impostor pairs reach a cosine similarity:
a monotone curve of (similarity, log10 FAR) knots. From it follow

* the decision threshold for a target FAR (the similarity where the curve reaches that FAR);
* the FAR at any similarity (log-linear interpolation between knots, linear extrapolation beyond);
* the reported ``score`` in [0, 1]: ``sigmoid(-log10(FAR) - 3)``, so a score of 0.5 means
  "impostors reach this similarity once in a thousand comparisons", 0.73 once in 10,000,
  0.27 once in 100. The score is monotone in the similarity and means the same thing for
  every model that has a calibration.

The impostor tail depends on the faces: a 24 px grey card portrait against a selfie is not two
clean photos. So a calibration may carry **quality bands**: each a curve of its own for pairs whose
poorer face has fewer than ``max_interocular_px`` native pixels between the eyes (and, where a
band says so, is grey or colour). :meth:`Calibration.curve_for` picks the first band a pair falls
in; pairs in no band use the calibration's own curve.

:func:`calibrate_from_scores` builds a calibration from labelled scores (``facematch eval
--calibrate``), recording how many impostor pairs stand behind each operating point;
:func:`calibrate_bands` adds the bands from impostor pairs labelled with their conditions.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facematch.errors import ModelError

STANDARD_FARS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A threshold with the false-accept rate it stands for and the evidence behind it."""

    far: float
    threshold: float
    impostor_pairs: int
    far_upper_95: float | None
    source: str


GENERAL_BAND = "general"
#: default band edges (native eye distance of the poorer face): ~24-30 px faces, ~30-48 px faces
DEFAULT_BAND_EDGES: tuple[tuple[str, float], ...] = (("tiny", 12.5), ("small", 20.0))
#: a band's curve needs at least this many impostor pairs
MIN_BAND_IMPOSTORS = 1000


@dataclass(frozen=True)
class Band:
    """The calibration of one kind of pair: those whose poorer face is this small (and grey or not)."""

    name: str
    max_interocular_px: float
    curve: Calibration
    greyscale: bool | None = None
    """True: only pairs with a grey face; False: only colour pairs; None: either."""

    def holds(self, interocular_px: float, greyscale: bool) -> bool:
        return interocular_px < self.max_interocular_px and (
            self.greyscale is None or self.greyscale == greyscale
        )

    def to_dict(self) -> dict[str, Any]:
        curve = self.curve.to_dict()
        for key in ("bands", "model_sha256", "model_version", "similarity"):
            curve.pop(key, None)
        return {
            "name": self.name,
            "max_interocular_px": self.max_interocular_px,
            "greyscale": self.greyscale,
            **curve,
        }


@dataclass(frozen=True)
class Calibration:
    """A recognizer's similarity → FAR curve and its named operating points (and quality bands)."""

    similarity: str
    knots: tuple[tuple[float, float], ...]
    operating_points: tuple[OperatingPoint, ...]
    model_sha256: str = ""
    model_version: str = ""
    method: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    bands: tuple[Band, ...] = ()

    def __post_init__(self) -> None:
        sims = [k[0] for k in self.knots]
        logs = [k[1] for k in self.knots]
        if len(self.knots) < 2 or sims != sorted(sims) or len(set(sims)) != len(sims):
            raise ModelError("calibration knots must be at least two, with strictly increasing similarity")
        if any(b > a for a, b in itertools.pairwise(logs)):
            raise ModelError("calibration knots must have non-increasing log10 FAR")

    @classmethod
    def from_file(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"cannot read calibration {path}: {error}") from error

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        bands = []
        for entry in data.get("bands", ()):
            greyscale = entry.get("greyscale")
            bands.append(
                Band(
                    name=str(entry["name"]),
                    max_interocular_px=float(entry["max_interocular_px"]),
                    greyscale=None if greyscale is None else bool(greyscale),
                    curve=cls.from_dict(
                        {**entry, "bands": (), "similarity": data.get("similarity", "cosine")}
                    ),
                )
            )
        names = [b.name for b in bands]
        if len(set(names)) != len(names) or GENERAL_BAND in names:
            raise ModelError(f"calibration band names must be unique and not {GENERAL_BAND!r}")
        return cls(
            similarity=str(data.get("similarity", "cosine")),
            knots=tuple((float(s), float(f)) for s, f in data["knots"]),
            operating_points=tuple(OperatingPoint(**p) for p in data.get("operating_points", ())),
            model_sha256=str(data.get("model_sha256", "")),
            model_version=str(data.get("model_version", "")),
            method=str(data.get("method", "")),
            notes=tuple(data.get("notes", ())),
            bands=tuple(bands),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["knots"] = [list(k) for k in self.knots]
        data["notes"] = list(self.notes)
        data["bands"] = [band.to_dict() for band in self.bands]
        return data

    def curve_for(self, interocular_px: float, greyscale: bool) -> tuple[str, Calibration]:
        """The band a pair falls in (by its poorer face) and that band's curve."""
        for band in self.bands:
            if band.holds(interocular_px, greyscale):
                return band.name, band.curve
        return GENERAL_BAND, self

    def with_bands(self, bands: Sequence[Band]) -> Calibration:
        return replace(self, bands=tuple(bands))

    def log10_far(self, similarity: float) -> float:
        """log10 of the false-accept rate at ``similarity`` (never above 0)."""
        sims = np.array([k[0] for k in self.knots])
        logs = np.array([k[1] for k in self.knots])
        if similarity <= sims[0]:
            slope = (logs[1] - logs[0]) / (sims[1] - sims[0])
            value = logs[0] + slope * (similarity - sims[0])
        elif similarity >= sims[-1]:
            slope = (logs[-1] - logs[-2]) / (sims[-1] - sims[-2])
            value = logs[-1] + slope * (similarity - sims[-1])
        else:
            value = float(np.interp(similarity, sims, logs))
        return min(0.0, float(value))

    def far(self, similarity: float) -> float:
        return float(10.0 ** self.log10_far(similarity))

    def threshold_for(self, target_far: float) -> float:
        """The similarity at which the curve reaches ``target_far`` (named points win)."""
        for point in self.operating_points:
            if math.isclose(point.far, target_far, rel_tol=1e-9):
                return point.threshold
        target = math.log10(target_far)
        sims = [k[0] for k in self.knots]
        logs = [k[1] for k in self.knots]
        for (s0, l0), (s1, l1) in zip(
            zip(sims, logs, strict=True), zip(sims[1:], logs[1:], strict=True), strict=True
        ):
            if l1 <= target <= l0 and l0 != l1:
                return s0 + (target - l0) * (s1 - s0) / (l1 - l0)
        # beyond the knots: extrapolate along the end segment
        (s0, l0), (s1, l1) = (
            (self.knots[-2], self.knots[-1]) if target < logs[-1] else (self.knots[0], self.knots[1])
        )
        return s0 + (target - l0) * (s1 - s0) / (l1 - l0)

    def score(self, similarity: float) -> float:
        """The reported 0–1 score: ``sigmoid(-log10 FAR - 3)``; 0.5 at FAR 1e-3."""
        z = -self.log10_far(similarity) - 3.0
        if similarity < self.knots[0][0]:
            # below the first knot FAR is ~1; keep the score strictly monotone there
            z -= (self.knots[0][0] - similarity) * 4.0
        return float(1.0 / (1.0 + math.exp(-z)))


def far_upper_bound(false_accepts: int, impostors: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper bound on the FAR (3/N for zero errors)."""
    if impostors <= 0:
        return 1.0
    if false_accepts >= impostors:
        return 1.0
    alpha = 1.0 - confidence
    if false_accepts == 0:
        return float(1.0 - alpha ** (1.0 / impostors))
    # bisection on the binomial tail: P(X <= k | p) = alpha
    low, high = false_accepts / impostors, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if _binom_cdf(false_accepts, impostors, mid) > alpha:
            low = mid
        else:
            high = mid
    return high


def _binom_cdf(k: int, n: int, p: float) -> float:
    log_terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in range(k + 1)
    ]
    top = max(log_terms)
    return float(math.exp(top) * sum(math.exp(t - top) for t in log_terms))


def calibrate_from_scores(
    impostor_scores: Sequence[float],
    *,
    model_sha256: str = "",
    model_version: str = "",
    source: str = "facematch eval --calibrate",
    fars: Sequence[float] = STANDARD_FARS,
) -> Calibration:
    """An empirical calibration from impostor similarities.

    The curve is the empirical impostor tail; an operating point is only written for a FAR the
    data can resolve (at least 3/FAR impostor pairs, so that zero errors beyond it still bound
    the rate); the others are left out rather than guessed.
    """
    scores = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
    n = len(scores)
    if n < 10:
        raise ModelError(f"{n} impostor pairs are too few to calibrate")
    points: list[OperatingPoint] = []
    for far in sorted(fars, reverse=True):
        if n < 3.0 / far:
            continue
        k = math.floor(far * n)  # impostors allowed at or above the threshold
        threshold = float(scores[k]) + 1e-6 if k < n else float(scores[-1])
        accepted = int(np.sum(scores >= threshold))
        points.append(
            OperatingPoint(
                far=far,
                threshold=round(threshold, 6),
                impostor_pairs=n,
                far_upper_95=round(far_upper_bound(accepted, n), 8),
                source=source,
            )
        )
    # knots on the empirical tail: at similarity scores[r-1], r of the n impostors reach it
    reached: dict[float, int] = {}
    for rank in np.unique(np.geomspace(1, n, num=min(n, 24)).astype(int)):
        raw = float(scores[rank - 1])
        sim = round(raw, 6)
        reached[sim] = max(reached.get(sim, 0), int(np.sum(scores >= raw)))
    cleaned = [(sim, round(math.log10(count / n), 6)) for sim, count in sorted(reached.items())]
    if len(cleaned) < 2:
        raise ModelError("impostor scores do not spread enough to calibrate")
    return Calibration(
        similarity="cosine",
        knots=tuple(cleaned),
        operating_points=tuple(points),
        model_sha256=model_sha256,
        model_version=model_version,
        method=f"empirical impostor tail from {n} impostor pairs",
    )


@dataclass(frozen=True, slots=True)
class BandedImpostor:
    """One impostor pair's similarity and the conditions of its poorer face."""

    similarity: float
    interocular_px: float
    greyscale: bool


def calibrate_bands(
    impostors: Sequence[BandedImpostor],
    *,
    edges: Sequence[tuple[str, float]] = DEFAULT_BAND_EDGES,
    source: str = "facematch eval --calibrate",
    fars: Sequence[float] = STANDARD_FARS,
    min_impostors: int = MIN_BAND_IMPOSTORS,
) -> tuple[list[Band], dict[str, int], list[float]]:
    """Size bands from impostor pairs: a pair belongs to the first band (edges ascending) its
    poorer face is under. A band with fewer than ``min_impostors`` pairs gets no curve (its pairs
    then use the general one). Returns the bands, the impostor pairs counted per band name
    (``general``: pairs in no band), and the similarities left for the general curve."""
    ordered = sorted(edges, key=lambda e: e[1])
    groups: dict[str, list[float]] = {name: [] for name, _ in ordered}
    groups[GENERAL_BAND] = []
    for pair in impostors:
        name = next((n for n, edge in ordered if pair.interocular_px < edge), GENERAL_BAND)
        groups[name].append(pair.similarity)
    bands = []
    general = list(groups[GENERAL_BAND])
    for name, edge in ordered:
        scores = groups[name]
        if len(scores) < min_impostors:
            general += scores
            continue
        curve = calibrate_from_scores(scores, source=f"{source}, band {name}", fars=fars)
        bands.append(Band(name=name, max_interocular_px=edge, curve=curve))
    return bands, {name: len(scores) for name, scores in groups.items()}, general
