"""Console logins and sessions, all kept in the database so that any API process serves any request.

Login is two steps for admins and reviewers: the password opens a short *pending* session
(``second_factor``, or ``enrol`` when no TOTP is set up yet: a QR code and a first code), and the
code turns it into an *active* session under a fresh token (no session fixation). The cookie
carries a random token; the database keeps only its SHA-256. Sessions end after
``console.session_idle_s`` without a request, ``console.session_absolute_s`` after login, at logout
(this one or every one of the operator), when the operator is disabled or their password changes.

Every state change carries the session's CSRF token (stored with the session); the login form,
which has no session yet, carries a short-lived signed token bound to a nonce cookie. Every try of a
password or code goes through the login guard (:mod:`facematch.security.login_guard`: per address,
per account, per pending login, in the shared counters); a completed login hands the browser a
device token that tells the guard it is the operator's own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from facematch.errors import (
    ConsoleSessionError,
    ConsoleSessionExpiredError,
    CsrfError,
    LoginFailedError,
    UnauthorizedError,
)
from facematch.flows.console import passwords, totp
from facematch.flows.console.guard import login_guard
from facematch.flows.console.operators import TOTP_REQUIRED, ConsoleUser, OperatorRole
from facematch.flows.context import Services
from facematch.security.tokens import TokenKind
from facematch.storage import audit_repo, operator_repo
from facematch.storage.models import Operator, OperatorSession
from facematch.storage.sealed import SecretBox

ACTIVE = "active"
SECOND_FACTOR = "second_factor"
ENROL = "enrol"
#: how often an active session's last_seen_at is written (not on every request)
_TOUCH_EVERY_S = 15
_LOGIN_FORM_TTL_S = 1800


@dataclass(frozen=True, slots=True)
class LoginStep:
    """Where a login stands: the cookie token and the stage it opened."""

    token: str
    stage: str
    must_change_password: bool = False
    enrolled: bool = False
    """This step turned the second factor on."""
    device_token: str | None = None
    """A completed login: the browser's device token (a cookie), which the login guard trusts."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the secret (for typing) and its otpauth:// URI as a QR code."""

    secret: str
    uri: str
    qr_svg: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class PendingLogin:
    email: str
    stage: str
    csrf_token: str


def _box(svc: Services) -> SecretBox:
    """What seals TOTP secrets (the partners' secrets' box: the data key, bound to the operator)."""
    return svc.secrets


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _login_email(email: str) -> str:
    """The e-mail as typed, as the guard and the database see it (no control characters)."""
    return "".join(c for c in email.strip().lower() if c.isprintable())[:254]


def _device(svc: Services, device_token: str | None, operator: Operator | None) -> str | None:
    """The browser's device id when its token names this operator; None otherwise."""
    if operator is None or not device_token:
        return None
    try:
        claims = svc.tokens.verify(device_token, TokenKind.CONSOLE_DEVICE)
    except UnauthorizedError:
        return None
    return str(claims["jti"]) if claims["sub"] == operator.id else None


# ---------------------------------------------------------------- sessions


def _new_session(
    svc: Services,
    operator: Operator,
    stage: str,
    source: str,
    *,
    session: Session,
    pending_secret: str | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    now = svc.clock.now()
    console = svc.settings.console
    ttl = console.session_absolute_s if stage == ACTIVE else console.login_step_ttl_s
    session.add(
        OperatorSession(
            id=token_hash(token),
            operator_id=operator.id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            totp_pending=pending_secret,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=ttl),
            source=audit_repo.fit_source(source),
        )
    )
    if stage == ACTIVE:
        operator.last_login_at = now
        audit_repo.audit(f"operator:{operator.id}", "login", None, session=session, source=source)
    return token


def _live_session(
    svc: Services, token: str | None, stages: tuple[str, ...], *, session: Session
) -> OperatorSession:
    if not token:
        raise ConsoleSessionError()
    row = session.get(OperatorSession, token_hash(token))
    if row is None or row.revoked_at is not None or row.stage not in stages:
        raise ConsoleSessionError()
    now = svc.clock.now()
    idle = timedelta(seconds=svc.settings.console.session_idle_s)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        raise ConsoleSessionExpiredError()
    return row


def _operator(row: OperatorSession, *, session: Session) -> Operator:
    operator = session.get(Operator, row.operator_id)
    if operator is None or operator.disabled:
        raise ConsoleSessionError()
    return operator


def resolve(svc: Services, token: str | None) -> ConsoleUser:
    """The operator of an active session; ConsoleSessionExpiredError / ConsoleSessionError otherwise."""
    with svc.db.session() as session:
        row = _live_session(svc, token, (ACTIVE,), session=session)
        operator = _operator(row, session=session)
        now = svc.clock.now()
        if (now - row.last_seen_at).total_seconds() >= _TOUCH_EVERY_S:
            operator_repo.touch_session(row.id, now, session=session)
        return ConsoleUser(
            operator_id=operator.id,
            email=operator.email,
            role=OperatorRole(operator.role),
            session_id=row.id,
            csrf_token=row.csrf_token,
            must_change_password=operator.must_change_password,
            time_zone=operator.time_zone or svc.settings.console.time_zone,
        )


def pending(svc: Services, token: str | None, stage: str) -> PendingLogin:
    """A login waiting for its second factor (or enrolment)."""
    with svc.db.session() as session:
        row = _live_session(svc, token, (stage,), session=session)
        operator = _operator(row, session=session)
        return PendingLogin(operator.email, row.stage, row.csrf_token)


def logout(svc: Services, token: str | None, *, source: str) -> None:
    with svc.db.session() as session:
        row = session.get(OperatorSession, token_hash(token)) if token else None
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = svc.clock.now()
        audit_repo.audit(f"operator:{row.operator_id}", "logout", None, session=session, source=source)


def logout_everywhere(svc: Services, user: ConsoleUser, *, source: str) -> int:
    """End every session of this operator, this one included."""
    with svc.db.session() as session:
        ended = operator_repo.revoke_sessions(user.operator_id, svc.clock.now(), session=session)
        audit_repo.audit(
            user.actor, "logout_everywhere", None, session=session, details={"sessions": ended}, source=source
        )
    return ended


def check_csrf(expected: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise CsrfError("missing or wrong CSRF token")


def login_form(svc: Services) -> tuple[str, str]:
    """(nonce for a cookie, token for the form): the login form's CSRF pair."""
    nonce = secrets.token_urlsafe(24)
    issued = svc.tokens.issue(TokenKind.CONSOLE_LOGIN, token_hash(nonce), _LOGIN_FORM_TTL_S)
    return nonce, issued.token


def check_login_form(svc: Services, nonce: str | None, token: str | None) -> None:
    try:
        claims = svc.tokens.verify(token, TokenKind.CONSOLE_LOGIN)
    except UnauthorizedError:
        raise CsrfError("the login form expired; load it again") from None
    if not nonce or not hmac.compare_digest(str(claims["sub"]), token_hash(nonce)):
        raise CsrfError("the login form belongs to another browser")


# ---------------------------------------------------------------- login steps


def password_step(
    svc: Services, email: str, password: str, source: str, *, device_token: str | None = None
) -> LoginStep:
    """Check the password; open the next stage (second factor, enrolment, or the console itself)."""
    email = _login_email(email)
    with svc.db.session() as session:
        operator = operator_repo.operator_by_email(email, session=session)
        stored = operator.password_hash if operator is not None and not operator.disabled else None
        device = _device(svc, device_token, operator)
    with login_guard(svc).attempt(email, source, device=device) as attempt:
        # hashed outside any transaction: SQLite's write lock is not held for the ~0.1 s of argon2
        if not passwords.verify(stored, password):
            attempt.failed()
            with svc.db.session() as session:
                audit_repo.audit(
                    "anonymous",
                    "login_failed",
                    None,
                    session=session,
                    details={"email": email},
                    source=source,
                )
            raise LoginFailedError("wrong e-mail or password")
        attempt.passed()
    with svc.db.session() as session:
        operator = operator_repo.operator_by_email(email, session=session)
        assert operator is not None
        if operator.totp_secret is not None:
            return LoginStep(
                _new_session(svc, operator, SECOND_FACTOR, source, session=session), SECOND_FACTOR
            )
        if OperatorRole(operator.role) in TOTP_REQUIRED:
            secret = _box(svc).seal(totp.new_secret(), context=f"enrol:{operator.id}")
            token = _new_session(svc, operator, ENROL, source, session=session, pending_secret=secret)
            return LoginStep(token, ENROL)
        return _complete(svc, operator, source, session=session)


def _complete(
    svc: Services, operator: Operator, source: str, *, session: Session, enrolled: bool = False
) -> LoginStep:
    """The login is done: an active session, and the browser's device token."""
    token = _new_session(svc, operator, ACTIVE, source, session=session)
    device = svc.tokens.issue(TokenKind.CONSOLE_DEVICE, operator.id, svc.settings.console.known_browser_s)
    return LoginStep(token, ACTIVE, operator.must_change_password, enrolled, device.token)


def _finish(
    svc: Services, token: str | None, code: str, source: str, stage: str, device_token: str | None
) -> LoginStep:
    """Check the code of a pending login (the enrolled secret, or the one being enrolled) and open
    an active session under a new token."""
    enrolling = stage == ENROL
    with svc.db.session() as session:
        row = _live_session(svc, token, (stage,), session=session)
        operator = _operator(row, session=session)
        sealer = _box(svc)
        if enrolling:
            assert row.totp_pending is not None
            secret = sealer.open(row.totp_pending, context=f"enrol:{operator.id}")
        else:
            assert operator.totp_secret is not None
            secret = sealer.open(operator.totp_secret, context=operator.id)
        operator_id, email, pending_id = operator.id, operator.email, row.id
        device = _device(svc, device_token, operator)
    with login_guard(svc).attempt(email, source, device=device, pending=pending_id) as attempt:
        step = totp.matching_step(secret, code, time.time())
        with svc.db.session() as session:
            accepted = step is not None and operator_repo.claim_totp_step(operator_id, step, session=session)
        if not accepted:
            attempt.failed()
            with svc.db.session() as session:
                audit_repo.audit(
                    f"operator:{operator_id}", "second_factor_failed", None, session=session, source=source
                )
                if attempt.pending_spent:  # the password is needed again
                    ended = session.get(OperatorSession, pending_id)
                    if ended is not None:
                        ended.revoked_at = svc.clock.now()
            if attempt.pending_spent:
                raise LoginFailedError("too many wrong codes: log in again")
            raise LoginFailedError("the code is wrong or was already used")
        attempt.passed()
    with svc.db.session() as session:
        done = session.get(OperatorSession, pending_id)
        if done is None or done.revoked_at is not None:
            raise ConsoleSessionError()
        operator = _operator(done, session=session)
        session.delete(done)  # the pending session ends; the console gets a fresh token
        if enrolling:
            operator.totp_secret = _box(svc).seal(secret, context=operator.id)
            operator.totp_enabled_at = svc.clock.now()
            audit_repo.audit(f"operator:{operator.id}", "totp_enrol", None, session=session, source=source)
        return _complete(svc, operator, source, session=session, enrolled=enrolling)


def second_factor_step(
    svc: Services, token: str | None, code: str, source: str, *, device_token: str | None = None
) -> LoginStep:
    """The TOTP code of an enrolled operator: each code is accepted once."""
    return _finish(svc, token, code, source, SECOND_FACTOR, device_token)


def enrolment(svc: Services, token: str | None) -> Enrolment:
    """The secret being enrolled, as text and as an otpauth:// QR code."""
    with svc.db.session() as session:
        row = _live_session(svc, token, (ENROL,), session=session)
        operator = _operator(row, session=session)
        assert row.totp_pending is not None
        secret = _box(svc).open(row.totp_pending, context=f"enrol:{operator.id}")
        uri, qr = totp.provisioning(secret, operator.email)
        return Enrolment(secret=secret, uri=uri, qr_svg=qr, csrf_token=row.csrf_token)


def finish_enrolment(
    svc: Services, token: str | None, code: str, source: str, *, device_token: str | None = None
) -> LoginStep:
    """The first code from the new authenticator: it proves the enrolment and logs in."""
    return _finish(svc, token, code, source, ENROL, device_token)


def forget_ended(svc: Services) -> int:
    """Housekeeping: delete sessions that ended a day ago."""
    with svc.db.session() as session:
        return operator_repo.delete_sessions_before(svc.clock.now() - timedelta(days=1), session=session)
