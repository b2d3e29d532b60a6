"""Sandbox partners: the whole pipeline, with outcomes a partner can force to test its integration.

A sandbox partner's sessions are marked ``sandbox`` when they are made, and every result of theirs
carries ``"environment": "sandbox"``. In such a session the ``x-partner-user-id`` values below force
an outcome (no face is compared); any other user id gets the real engine's verdict. A production
partner's sessions are never forced, whatever their user ids, and a session never changes
environment: an attempt in a session of the other environment is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from facematch.errors import (
    ForbiddenError,
    MultipleFacesError,
    NoFaceError,
    ReferenceStatusError,
)
from facematch.rules import decisions
from facematch.rules.decisions import Decision

ENVIRONMENT = "sandbox"


class SandboxSession(Protocol):
    """What the sandbox reads of a partner session."""

    @property
    def sandbox(self) -> bool: ...
    @property
    def partner_user_id(self) -> str: ...


class SandboxPartner(Protocol):
    @property
    def sandbox(self) -> bool: ...


SLOW_USER_ID = "sandbox-slow"
#: How long ``sandbox-slow`` holds back the decision (jobs) or the answer (synchronous compare).
SLOW_DELAY_S = 10.0
#: The version a forced faceMatch block names (no model ran).
FORCED_VERSION = "sandbox"


def _valid() -> Decision:
    return decisions.compared(0.95, True, FORCED_VERSION, 0.5, 0.001)


def _mismatch() -> Decision:
    return decisions.compared(0.05, False, FORCED_VERSION, 0.5, 0.001)


#: ``x-partner-user-id`` → the decision it forces (see the README's sandbox table).
FORCED: dict[str, Callable[[], Decision]] = {
    "sandbox-valid": _valid,
    "sandbox-face-mismatch": _mismatch,
    "sandbox-invalid-selfie": lambda: decisions.selfie_unusable(NoFaceError()),
    "sandbox-reference-not-found": lambda: decisions.reference_missing(ReferenceStatusError(404).kind),
    "sandbox-reference-invalid": lambda: decisions.reference_unusable(MultipleFacesError()),
    "sandbox-error": lambda: decisions.unexpected_failure("sandbox: forced system error"),
}


def forced_decision(flow_session: SandboxSession) -> Decision | None:
    """The outcome a sandbox session's user id forces, or None (decide for real)."""
    if not flow_session.sandbox:
        return None
    make = FORCED.get(flow_session.partner_user_id)
    if make is None:
        return None
    decision = make()
    decision.details["sandbox"] = {"forcedOutcome": flow_session.partner_user_id}
    return decision


def processing_delay_s(flow_session: SandboxSession) -> float:
    """How long a confirmed attempt waits before it is processed (``sandbox-slow`` only)."""
    return SLOW_DELAY_S if is_slow(flow_session.sandbox, flow_session.partner_user_id) else 0.0


def is_slow(sandbox: bool, partner_user_id: str | None) -> bool:
    return sandbox and partner_user_id == SLOW_USER_ID


def check_environment(flow_session: SandboxSession, partner: SandboxPartner) -> None:
    """Refuse a new attempt in a session made while the partner was in the other environment."""
    if flow_session.sandbox != partner.sandbox:
        raise ForbiddenError("the session belongs to the other environment (sandbox or production)")
