"""What users are told of a final attempt: never blamed for what the partner's side did."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from facematch.rules.states import ReasonCode, Result, SubmissionStatus, WebOutcome
from facematch.rules.views import web_outcome

I18N = Path(__file__).resolve().parents[2] / "src" / "facematch" / "web" / "static" / "i18n.js"


@dataclass
class _Attempt:
    status: str
    result: str | None
    reason_code: str | None


@pytest.mark.parametrize(
    ("status", "result", "reason", "outcome"),
    [
        (SubmissionStatus.COMPLETED, Result.VALID, ReasonCode.NONE, WebOutcome.APPROVED),
        (SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.FACE_MATCH_FAILED, WebOutcome.REJECTED),
        (SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.FRAUD_REJECT, WebOutcome.REJECTED),
        (SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.INVALID_DOCUMENT, WebOutcome.PHOTO_UNUSABLE),
        (SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.DOCUMENT_NOT_FOUND, WebOutcome.NOT_COMPARED),
        (
            SubmissionStatus.COMPLETED,
            Result.INVALID,
            ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED,
            WebOutcome.NOT_COMPARED,
        ),
        (SubmissionStatus.ERROR, None, ReasonCode.VERIFICATION_FAILED, WebOutcome.ERROR),
    ],
)
def test_each_final_attempt_has_its_word(status: str, result: str, reason: str, outcome: WebOutcome) -> None:
    assert web_outcome(_Attempt(status, result, reason)) == outcome  # type: ignore[arg-type]


def test_a_failure_on_the_documents_side_is_not_told_as_the_users_face() -> None:
    text = I18N.read_text()
    for locale in ("id_ID", "en_ID"):
        block = text.split(f"{locale}: {{", 1)[1]
        strings = dict(re.findall(r'^\s+"([\w.]+)": ("(?:[^"\\]|\\.)*")', block, re.M))
        message = json.loads(strings["status.NOT_COMPARED.text"]).lower()
        assert "wajah" not in message and "face" not in message  # nothing about the user's face
