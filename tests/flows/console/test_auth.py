"""Operators, console logins and sessions: argon2id, TOTP enrolment and replay, throttles, timeouts,
logout everywhere, CSRF; all state in the database (a second set of services sees the same)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select, update

from consolekit import OperatorCreds, console_user, login, make_operator
from facematch.errors import (
    ConsoleSessionError,
    ConsoleSessionExpiredError,
    CsrfError,
    InvalidFieldError,
    LoginFailedError,
    LoginThrottledError,
    OperatorExistsError,
)
from facematch.flows.console import auth as console_auth
from facematch.flows.console import operators
from facematch.flows.console.operators import OperatorRole, Permission
from facematch.flows.context import Services
from facematch.services import build_services
from facematch.storage.models import AuditEvent, Operator, OperatorSession, utcnow
from servicekit import make_settings


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
    creds = make_operator(svc, OperatorRole.ADMIN)
    operator = stored(svc, creds)
    assert operator.password_hash.startswith("$argon2id$") and creds.password not in operator.password_hash
    assert creds.totp_secret and operator.totp_secret and creds.totp_secret not in operator.totp_secret
    assert operator.totp_enabled_at is not None


def test_policy_and_duplicates(svc: Services) -> None:
    with pytest.raises(InvalidFieldError):
        operators.create_operator(svc, "a@ops.example", OperatorRole.VIEWER, actor="t", password="short")
    with pytest.raises(InvalidFieldError):
        operators.create_operator(svc, "not-an-email", OperatorRole.VIEWER, actor="t")
    created = operators.create_operator(svc, "Dup@Ops.example", OperatorRole.VIEWER, actor="t")
    assert (
        created.password
        and created.operator.must_change_password
        and created.operator.email == "dup@ops.example"
    )
    with pytest.raises(OperatorExistsError):
        operators.create_operator(svc, "dup@ops.example", OperatorRole.ADMIN, actor="t")


def test_viewer_logs_in_with_a_password_reviewer_must_enrol_then_use_the_code(svc: Services) -> None:
    viewer = make_operator(svc, OperatorRole.VIEWER)
    step = console_auth.password_step(svc, viewer.email, viewer.password, "10.0.0.1")
    assert step.stage == console_auth.ACTIVE
    user = console_auth.resolve(svc, step.token)
    assert (
        user.role is OperatorRole.VIEWER
        and user.can(Permission.READ)
        and not user.can(Permission.VIEW_IMAGES)
    )

    reviewer = make_operator(svc, OperatorRole.REVIEWER, enrol=False)
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
    assert done.token != step.token and console_auth.resolve(svc, done.token).role is OperatorRole.REVIEWER
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


def test_guessing_is_counted_per_account_from_any_address_in_the_shared_counters(
    database_url: str, tmp_path: Path
) -> None:
    """Two sets of services on one Redis (two API processes): failures from many addresses hold
    the account for a new browser; the operator's own browser is not held; an admin's unlock
    (audited) frees it."""
    env = {
        "FACEMATCH_LIMITS__STORAGE_URI": "redis://127.0.0.1:6379/0",
        "FACEMATCH_LIMITS__KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}",
    }
    settings = make_settings(database_url, tmp_path, **env)
    first, second = build_services(settings), build_services(settings)
    try:
        creds = make_operator(first, OperatorRole.VIEWER)
        known = console_auth.password_step(first, creds.email, creds.password, "10.0.0.1")
        limit = first.settings.console.login_failures_per_account
        for n in range(limit):  # each from another address, alternating processes
            with pytest.raises(LoginFailedError):
                console_auth.password_step(
                    (first, second)[n % 2], creds.email, "wrong password!!", f"10.0.1.{n}"
                )
        with pytest.raises(LoginThrottledError) as throttled:  # the right one, from yet another
            console_auth.password_step(second, creds.email, creds.password, "10.0.2.1")
        assert 0 < throttled.value.retry_after_s <= first.settings.console.login_delay_s + 1
        step = console_auth.password_step(
            second, creds.email, creds.password, "10.0.2.1", device_token=known.device_token
        )
        assert step.stage == console_auth.ACTIVE  # the operator's own browser
        admin = console_user(first, make_operator(first, OperatorRole.ADMIN))
        assert next(o for o in operators.list_operators(first) if o.email == creds.email).blocked_for_s > 0
        operators.unlock(first, creds.email, actor=admin.actor, source="10.0.0.9")
        assert console_auth.password_step(second, creds.email, creds.password, "10.0.2.1").stage == "active"
        with first.db.session() as session:
            unlock = session.scalar(select(AuditEvent).where(AuditEvent.action == "operator_unlock"))
            failed = session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "login_failed",
                    AuditEvent.details["email"].as_string() == creds.email,
                )
            )
        assert unlock is not None and unlock.details["failedLogins"] == limit and failed == limit
    finally:
        first.db.dispose()
        second.db.dispose()


def test_a_pending_login_ends_after_a_few_wrong_codes(svc: Services) -> None:
    creds = make_operator(svc, OperatorRole.REVIEWER)
    step = console_auth.password_step(svc, creds.email, creds.password, "10.0.3.1")
    for _ in range(svc.settings.console.login_codes_per_pending - 1):
        with pytest.raises(LoginFailedError, match="wrong"):
            console_auth.second_factor_step(svc, step.token, "000000", "10.0.3.1")
    with pytest.raises(LoginFailedError, match="log in again"):
        console_auth.second_factor_step(svc, step.token, "000000", "10.0.3.1")
    with pytest.raises(ConsoleSessionError):  # the pending login is over, even with the right code
        console_auth.second_factor_step(svc, step.token, creds.code(), "10.0.3.1")


def test_a_long_forged_client_address_is_stored_and_audited(svc: Services) -> None:
    creds = make_operator(svc, OperatorRole.VIEWER)
    forged = "2001:db8::" + "f" * 300
    with pytest.raises(LoginFailedError):
        console_auth.password_step(svc, creds.email, "wrong password!!", forged)
    token = console_auth.password_step(svc, creds.email, creds.password, forged).token
    assert console_auth.resolve(svc, token).email == creds.email
    with svc.db.session() as session:
        sources = set(
            session.scalars(select(AuditEvent.source).where(AuditEvent.action.in_(("login_failed", "login"))))
        )
    [stored] = [s for s in sources if s and s.startswith("2001:db8::")]
    assert len(stored) <= 64 and stored != forged[:64]


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
    creds = make_operator(svc, OperatorRole.VIEWER)
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
    creds = make_operator(svc, OperatorRole.VIEWER)
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
    creds = make_operator(svc, OperatorRole.ADMIN)
    password = operators.reset_password(svc, creds.email, actor="t", reset_totp=True)
    assert console_auth.password_step(svc, creds.email, password, "10.0.0.6").stage == console_auth.ENROL


def test_csrf_tokens(svc: Services) -> None:
    user = console_auth.resolve(svc, login(svc, make_operator(svc, OperatorRole.VIEWER)))
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
