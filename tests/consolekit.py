"""Operators for the console tests: created and enrolled through the flows, as the CLI and the
enrolment page do, and logged in without a browser."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pyotp

from facematch.errors import LoginFailedError
from facematch.flows import operators
from facematch.flows.console import auth as console_auth
from facematch.flows.context import Services
from facematch.flows.operators import ConsoleUser, Role
from servicekit import SECRETS


@dataclass
class OperatorCreds:
    email: str
    password: str
    role: Role
    totp_secret: str | None
    operator_id: str

    def code(self, ahead: int = 0) -> str:
        """The TOTP code of the current time step (``ahead`` steps later: a code not yet used)."""
        assert self.totp_secret is not None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.at(time.time() + ahead * totp.interval)


def make_operator(
    svc: Services, role: Role, *, enrol: bool = True, email: str | None = None
) -> OperatorCreds:
    """A new operator with a password of its own; admins and reviewers also get their TOTP set up."""
    email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@ops.example"
    password = "correct horse " + uuid.uuid4().hex[:10]
    created = operators.create_operator(svc, email, role, actor="system:test", password=password)
    SECRETS.add(password)
    creds = OperatorCreds(email, password, role, None, created.operator.id)
    if enrol and role in operators.TOTP_REQUIRED:
        step = console_auth.password_step(svc, email, password, "127.0.0.1")
        assert step.stage == console_auth.ENROL
        creds.totp_secret = console_auth.enrolment(svc, step.token).secret
        SECRETS.add(creds.totp_secret)
        console_auth.finish_enrolment(svc, step.token, creds.code(), "127.0.0.1")
    return creds


def login(svc: Services, creds: OperatorCreds, source: str = "127.0.0.1") -> str:
    """An active session token (each TOTP code is good once: a later step's code if needed)."""
    step = console_auth.password_step(svc, creds.email, creds.password, source)
    if step.stage == console_auth.ACTIVE:
        return step.token
    for ahead in (0, 1, 2):
        try:
            return console_auth.second_factor_step(svc, step.token, creds.code(ahead), source).token
        except LoginFailedError:  # the code of this step was used already: try the next one
            continue
    raise AssertionError("no TOTP code was accepted")


def console_user(svc: Services, creds: OperatorCreds) -> ConsoleUser:
    return console_auth.resolve(svc, login(svc, creds))
