"""The partner-visible faceMatch object carries the decision's band and that band's FAR."""

from __future__ import annotations

import dataclasses

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.rules.decisions import matched


def test_face_match_reports_the_calibration_band_and_its_far() -> None:
    result = FakeEngine().compare(fake_face_image(3), fake_face_image(3))
    banded = dataclasses.replace(result, band="tiny", far_at_threshold=2.5e-4, threshold=0.41)
    face_match = matched(banded).details["verificationResults"]["faceMatch"]
    assert face_match["calibrationBand"] == "tiny"
    assert face_match["far"] == 2.5e-4
    assert face_match["threshold"] == 0.41
    assert {"score", "result", "version"} <= set(face_match)
    assert matched(result).details["verificationResults"]["faceMatch"]["calibrationBand"] == "general"
