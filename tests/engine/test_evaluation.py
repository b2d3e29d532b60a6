"""Verification metrics on hand-checkable score sets."""

from __future__ import annotations

import pytest

from facematch.engine.evaluation import PairScore, auc, eer, rates_at, tar_at_far


def _pairs(genuine: list[float | None], impostor: list[float | None]) -> list[PairScore]:
    return [PairScore(True, s) for s in genuine] + [PairScore(False, s) for s in impostor]


def test_perfect_separation() -> None:
    pairs = _pairs([0.8, 0.7, 0.9], [0.1, 0.2, 0.0, -0.1])
    assert auc(pairs) == 1.0
    assert eer(pairs) == 0.0
    point = tar_at_far(pairs, 0.01)
    assert point.tar == 1.0
    assert point.false_accepts == 0


def test_failed_pairs_count_as_non_matches() -> None:
    pairs = _pairs([0.8, None], [None, 0.1])
    tar, far, accepted = rates_at(pairs, 0.5)
    assert tar == 0.5  # the failed genuine pair is a false reject
    assert far == 0.0
    assert accepted == 0


def test_tar_at_far_respects_the_allowed_false_accepts() -> None:
    impostor = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    genuine = [0.5, 0.95, 0.985, 0.999]
    point = tar_at_far(_pairs(genuine, impostor), 0.02)  # 2 of 100 impostors may pass
    assert point.false_accepts == 2
    assert 0.97 < point.threshold < 0.9700001  # just above the first impostor not let through
    assert point.tar == pytest.approx(0.5)


def test_auc_and_eer_with_overlap() -> None:
    pairs = _pairs([0.4, 0.6, 0.8], [0.2, 0.5, 0.7])
    assert auc(pairs) == pytest.approx(6 / 9)
    assert 0.0 < eer(pairs) < 0.5
