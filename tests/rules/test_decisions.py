"""The result rules: the faceMatch object partners see, and the next action after an attempt."""

from __future__ import annotations

import dataclasses

import pytest

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.rules.decisions import attempts_remaining, matched, next_action
from facematch.rules.states import RETRYABLE_REASONS, NextAction, ReasonCode, SubmissionStatus


def test_face_match_reports_the_calibration_band_and_its_far() -> None:
    result = FakeEngine().compare(fake_face_image(3), fake_face_image(3))
    banded = dataclasses.replace(result, band="tiny", far_at_threshold=2.5e-4, threshold=0.41)
    face_match = matched(banded).details["verificationResults"]["faceMatch"]
    assert face_match["calibrationBand"] == "tiny"
    assert face_match["far"] == 2.5e-4
    assert face_match["threshold"] == 0.41
    assert {"score", "result", "version"} <= set(face_match)
    assert matched(result).details["verificationResults"]["faceMatch"]["calibrationBand"] == "general"


_DONE = (SubmissionStatus.COMPLETED, SubmissionStatus.ERROR)
_REASONS = (
    ReasonCode.NONE,
    ReasonCode.FACE_MATCH_FAILED,
    ReasonCode.INVALID_DOCUMENT,
    ReasonCode.DOCUMENT_NOT_FOUND,
    ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED,
    ReasonCode.VERIFICATION_FAILED,
)


#: (status, reason, interactive, attempts used of 3, status screen shown) → next action
NEXT_ACTION_TABLE = [
    # a user in the loop may retry what a new selfie can fix, while attempts remain
    (SubmissionStatus.COMPLETED, ReasonCode.FACE_MATCH_FAILED, True, 1, True, NextAction.RETRY),
    (SubmissionStatus.COMPLETED, ReasonCode.INVALID_DOCUMENT, True, 2, False, NextAction.RETRY),
    # the last attempt is final: the status screen, or straight back to the partner
    (SubmissionStatus.COMPLETED, ReasonCode.FACE_MATCH_FAILED, True, 3, True, NextAction.STATUS),
    (SubmissionStatus.COMPLETED, ReasonCode.INVALID_DOCUMENT, True, 3, False, NextAction.EXIT),
    # what another selfie cannot fix is final at once
    (SubmissionStatus.COMPLETED, ReasonCode.NONE, True, 1, True, NextAction.STATUS),
    (SubmissionStatus.COMPLETED, ReasonCode.DOCUMENT_NOT_FOUND, True, 1, True, NextAction.STATUS),
    (
        SubmissionStatus.COMPLETED,
        ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED,
        True,
        1,
        False,
        NextAction.EXIT,
    ),
    (SubmissionStatus.ERROR, ReasonCode.VERIFICATION_FAILED, True, 1, True, NextAction.STATUS),
    (SubmissionStatus.ERROR, ReasonCode.VERIFICATION_FAILED, True, 1, False, NextAction.EXIT),
    # backend to backend: every attempt is final
    (SubmissionStatus.COMPLETED, ReasonCode.FACE_MATCH_FAILED, False, 1, True, NextAction.STATUS),
    (SubmissionStatus.COMPLETED, ReasonCode.INVALID_DOCUMENT, False, 1, False, NextAction.EXIT),
]


@pytest.mark.parametrize(("status", "reason", "interactive", "used", "screen", "expected"), NEXT_ACTION_TABLE)
def test_next_action_table(
    status: SubmissionStatus,
    reason: ReasonCode,
    interactive: bool,
    used: int,
    screen: bool,
    expected: NextAction,
) -> None:
    action = next_action(
        status=status,
        reason_code=reason,
        interactive=interactive,
        attempts_used=used,
        max_attempts=3,
        show_status_screen=screen,
    )
    assert action is expected


@pytest.mark.parametrize("status", _DONE)
@pytest.mark.parametrize("reason", _REASONS)
@pytest.mark.parametrize("interactive", [True, False])
@pytest.mark.parametrize("used", [1, 2, 3])
@pytest.mark.parametrize("screen", [True, False])
def test_next_action_in_every_case(
    status: SubmissionStatus, reason: ReasonCode, interactive: bool, used: int, screen: bool
) -> None:
    """RETRY exactly when a user in the loop can fix it and has attempts left; otherwise the partner's
    choice of final screen."""
    action = next_action(
        status=status,
        reason_code=reason,
        interactive=interactive,
        attempts_used=used,
        max_attempts=3,
        show_status_screen=screen,
    )
    fixable = status is SubmissionStatus.COMPLETED and reason in RETRYABLE_REASONS
    if interactive and fixable and used < 3:
        assert action is NextAction.RETRY
    else:
        assert action is (NextAction.STATUS if screen else NextAction.EXIT)


@pytest.mark.parametrize(
    ("used", "final", "remaining"), [(0, False, 3), (1, False, 2), (3, False, 0), (5, False, 0), (1, True, 0)]
)
def test_attempts_remaining_are_none_once_the_session_is_final(
    used: int, final: bool, remaining: int
) -> None:
    assert attempts_remaining(3, used, session_final=final) == remaining
