"""ROC and score-histogram figure for ``facematch eval --plot``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from facematch.engine.evaluation import FAILED, PairScore, rates_at
from facematch.errors import FacematchError


def draw_roc_and_histograms(scores: Sequence[PairScore], threshold: float, out: Path) -> None:
    try:
        import matplotlib
    except ImportError as error:
        raise FacematchError(
            "--plot needs matplotlib: pip install 'facematch[plot]'", code="PLOT_UNAVAILABLE"
        ) from error

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    genuine = np.array([s.similarity if s.similarity is not None else FAILED for s in scores if s.genuine])
    impostor = np.array(
        [s.similarity if s.similarity is not None else FAILED for s in scores if not s.genuine]
    )
    thresholds = np.unique(np.concatenate([genuine, impostor, [threshold]]))
    roc = np.array([rates_at(scores, float(t))[:2] for t in thresholds])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    floor = 1.0 / max(len(impostor), 1) / 2
    left.plot(np.maximum(roc[:, 1], floor), roc[:, 0], drawstyle="steps-post")
    tar, far, _ = rates_at(scores, threshold)
    left.scatter([max(far, floor)], [tar], color="red", zorder=3, label=f"default threshold {threshold:.3f}")
    left.set_xscale("log")
    left.set_xlabel("false accept rate")
    left.set_ylabel("true accept rate")
    left.set_title("ROC")
    left.grid(True, which="both", alpha=0.3)
    left.legend(loc="lower right")
    bins = np.linspace(-0.3, 1.0, 53)
    right.hist(impostor[impostor > FAILED], bins=bins, alpha=0.6, label=f"impostor ({len(impostor)})")
    right.hist(genuine[genuine > FAILED], bins=bins, alpha=0.6, label=f"genuine ({len(genuine)})")
    right.axvline(threshold, color="red", linestyle="--", label="threshold")
    right.set_xlabel("cosine similarity")
    right.set_title("score distributions")
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
