"""Operators, console logins and sessions: argon2id, TOTP enrolment and replay, throttles, timeouts,
logout everywhere, CSRF; all state in the database (a second set of services sees the same)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import update

from consolekit import OperatorCreds, login, make_operator
from facematch.errors import (
    ConsoleSessionError,
    ConsoleSessionExpiredError,
    CsrfError,
    InvalidFieldError,
    LoginFailedError,
    LoginThrottledError,
    OperatorExistsError,
)
from facematch.flows import operators
from facematch.flows.console import auth as console_auth
from facematch.flows.context import Services
from facematch.flows.operators import Permission, Role
from facematch.services import build_services
from facematch.storage.models import Operator, OperatorSession, utcnow


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def stored(svc: Services, creds: OperatorCreds) -> Operator:
    with svc.db.session() as session:
        operator = session.get(Operator, creds.operator_id)
        assert operator is not None
        session.expunge(operator)
    return operator


def test_passwords_are_argon2id_and_totp_secrets_are_sealed(svc: Services) -> None:
    creds = make_operator(svc, Role.ADMIN)
    operator = stored(svc, creds)
    assert operator.password_hash.startswith("$argon2id$") and creds.password not in operator.password_hash
    assert creds.totp_secret and operator.totp_secret and creds.totp_secret not in operator.totp_secret
    assert operator.totp_enabled_at is not None


def test_policy_and_duplicates(svc: Services) -> None:
    with pytest.raises(InvalidFieldError):
        operators.create_operator(svc, "a@ops.example", Role.VIEWER, actor="t", password="short")
    with pytest.raises(InvalidFieldError):
        operators.create_operator(svc, "not-an-email", Role.VIEWER, actor="t")
    created = operators.create_operator(svc, "Dup@Ops.example", Role.VIEWER, actor="t")
    assert (
        created.password
        and created.operator.must_change_password
        and created.operator.email == "dup@ops.example"
    )
    with pytest.raises(OperatorExistsError):
        operators.create_operator(svc, "dup@ops.example", Role.ADMIN, actor="t")


def test_viewer_logs_in_with_a_password_reviewer_must_enrol_then_use_the_code(svc: Services) -> None:
    viewer = make_operator(svc, Role.VIEWER)
    step = console_auth.password_step(svc, viewer.email, viewer.password, "10.0.0.1")
    assert step.stage == console_auth.ACTIVE
    user = console_auth.resolve(svc, step.token)
    assert user.role is Role.VIEWER and user.can(Permission.READ) and not user.can(Permission.VIEW_IMAGES)

    reviewer = make_operator(svc, Role.REVIEWER, enrol=False)
    step = console_auth.password_step(svc, reviewer.email, reviewer.password, "10.0.0.1")
    assert step.stage == console_auth.ENROL
    with pytest.raises(ConsoleSessionError):
        console_auth.resolve(svc, step.token)  # a pending login is not a console session
    enrolment = console_auth.enrolment(svc, step.token)
    assert enrolment.uri.startswith("otpauth://totp/facematch:") and "<svg" in enrolment.qr_svg
    with pytest.raises(LoginFailedError):
        console_auth.finish_enrolment(svc, step.token, "000000", "10.0.0.1")
    code = pyotp.TOTP(enrolment.secret).now()
    done = console_auth.finish_enrolment(svc, step.token, code, "10.0.0.1")
    assert done.token != step.token and console_auth.resolve(svc, done.token).role is Role.REVIEWER
    with pytest.raises(ConsoleSessionError):
        console_auth.finish_enrolment(svc, step.token, code, "10.0.0.1")  # the pending login is gone

    again = console_auth.password_step(svc, reviewer.email, reviewer.password, "10.0.0.1")
    assert again.stage == console_auth.SECOND_FACTOR
    with pytest.raises(LoginFailedError):
        console_auth.second_factor_step(svc, again.token, code, "10.0.0.1")  # a used code is refused
    reviewer.totp_secret = enrolment.secret
    assert (
        console_auth.second_factor_step(svc, again.token, reviewer.code(ahead=1), "10.0.0.1").stage
        == "active"
    )


def test_wrong_passwords_are_throttled_per_account_and_source(svc: Services) -> None:
    creds = make_operator(svc, Role.VIEWER)
    limit = svc.settings.console.login_failures_per_account
    for _ in range(limit):
        with pytest.raises(LoginFailedError):
            console_auth.password_step(svc, creds.email, "wrong password!!", "10.0.0.2")
    with pytest.raises(LoginThrottledError) as throttled:
        console_auth.password_step(svc, creds.email, creds.password, "10.0.0.2")
    assert throttled.value.retry_after_s > 0
    # another source (the real operator elsewhere) is not locked out
    assert console_auth.password_step(svc, creds.email, creds.password, "10.0.0.3").stage == "active"
    # and the count lives in the database: another process sees it
    other = build_services(svc.settings)
    try:
        with pytest.raises(LoginThrottledError):
            console_auth.password_step(other, creds.email, creds.password, "10.0.0.2")
    finally:
        other.db.dispose()


def test_unknown_accounts_fail_the_same_way(svc: Services) -> None:
    with pytest.raises(LoginFailedError, match="wrong e-mail or password"):
        console_auth.password_step(svc, "nobody@ops.example", "whatever password", "10.0.0.4")


def age_session(svc: Services, token: str, **values: object) -> None:
    with svc.db.session() as session:
        session.execute(
            update(OperatorSession)
            .where(OperatorSession.id == console_auth.token_hash(token))
            .values(**values)
        )


def test_idle_and_absolute_timeouts(svc: Services) -> None:
    creds = make_operator(svc, Role.VIEWER)
    token = login(svc, creds)
    idle = svc.settings.console.session_idle_s
    age_session(svc, token, last_seen_at=utcnow() - timedelta(seconds=idle + 1))
    with pytest.raises(ConsoleSessionExpiredError):
        console_auth.resolve(svc, token)
    token = login(svc, creds)
    age_session(svc, token, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(ConsoleSessionExpiredError):
        console_auth.resolve(svc, token)
    token = login(svc, creds)
    console_auth.resolve(svc, token)
    # a session seen again stays alive: last_seen_at moves (at most every few seconds)
    age_session(svc, token, last_seen_at=utcnow() - timedelta(seconds=idle - 5))
    console_auth.resolve(svc, token)
    console_auth.resolve(svc, token)


def test_logout_everywhere_disable_and_password_reset_end_sessions(svc: Services) -> None:
    creds = make_operator(svc, Role.VIEWER)
    first, second = login(svc, creds), login(svc, creds)
    console_auth.logout_everywhere(svc, console_auth.resolve(svc, first), source="t")
    for token in (first, second):
        with pytest.raises(ConsoleSessionError):
            console_auth.resolve(svc, token)
    token = login(svc, creds)
    operators.set_disabled(svc, creds.email, True, actor="t")
    with pytest.raises(ConsoleSessionError):
        console_auth.resolve(svc, token)
    with pytest.raises(LoginFailedError):
        console_auth.password_step(svc, creds.email, creds.password, "10.0.0.5")
    operators.set_disabled(svc, creds.email, False, actor="t")
    token = login(svc, creds)
    new_password = operators.reset_password(svc, creds.email, actor="t")
    with pytest.raises(ConsoleSessionError):
        console_auth.resolve(svc, token)
    with pytest.raises(LoginFailedError):
        console_auth.password_step(svc, creds.email, creds.password, "10.0.0.5")
    step = console_auth.password_step(svc, creds.email, new_password, "10.0.0.5")
    assert step.must_change_password
    user = console_auth.resolve(svc, step.token)
    operators.change_password(svc, user, new_password, "a brand new passphrase")
    assert not console_auth.resolve(svc, step.token).must_change_password  # this session survives


def test_reset_totp_makes_the_operator_enrol_again(svc: Services) -> None:
    creds = make_operator(svc, Role.ADMIN)
    password = operators.reset_password(svc, creds.email, actor="t", reset_totp=True)
    assert console_auth.password_step(svc, creds.email, password, "10.0.0.6").stage == console_auth.ENROL


def test_csrf_tokens(svc: Services) -> None:
    user = console_auth.resolve(svc, login(svc, make_operator(svc, Role.VIEWER)))
    console_auth.check_csrf(user.csrf_token, user.csrf_token)
    for bad in (None, "", "x" * 43):
        with pytest.raises(CsrfError):
            console_auth.check_csrf(user.csrf_token, bad)
    nonce, token = console_auth.login_form(svc)
    console_auth.check_login_form(svc, nonce, token)
    other_nonce, _ = console_auth.login_form(svc)
    for cookie, form in ((other_nonce, token), (None, token), (nonce, None), (nonce, "forged")):
        with pytest.raises(CsrfError):
            console_auth.check_login_form(svc, cookie, form)
