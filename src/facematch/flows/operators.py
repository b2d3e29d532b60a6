"""Operators of the console: roles, accounts and passwords (argon2id).

Roles: ``viewer`` reads metadata; ``reviewer`` also views images and decides reviews; ``admin`` also
manages partners and operators and resends callbacks. Admins and reviewers must use a TOTP second
factor (:mod:`facematch.flows.console.auth`). Passwords are hashed with argon2id (RFC 9106 low-memory
parameters: 64 MiB, 3 passes); at most :data:`MAX_CONCURRENT_HASHES` hashes run at once in a process,
so a burst of logins cannot take the machine's memory.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import argon2
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facematch.errors import (
    InvalidFieldError,
    LoginFailedError,
    OperatorExistsError,
    OperatorNotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from facematch.flows.context import Services
from facematch.storage import audit_repo, operator_repo
from facematch.storage.models import Operator, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    """Metadata: dashboards, submissions, callbacks, the audit log."""
    VIEW_IMAGES = "view_images"
    DECIDE = "decide"
    MANAGE_PARTNERS = "manage_partners"
    MANAGE_OPERATORS = "manage_operators"
    RESEND_CALLBACKS = "resend_callbacks"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.REVIEWER: frozenset({Permission.READ, Permission.VIEW_IMAGES, Permission.DECIDE}),
    Role.ADMIN: frozenset(Permission),
}
#: Roles that must log in with a second factor.
TOTP_REQUIRED = frozenset({Role.ADMIN, Role.REVIEWER})

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MAX_CONCURRENT_HASHES = 2
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{1,63}$")
_HASHER = argon2.PasswordHasher()
_hash_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
#: verified against when the e-mail is unknown, so both cases cost the same
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The operator behind one request, with the session it came with."""

    operator_id: str
    email: str
    role: Role
    session_id: str
    csrf_token: str
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        return f"operator:{self.operator_id}"

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(
                f"the {self.role.value} role may not {permission.value.replace('_', ' ')}"
            )


@dataclass(frozen=True, slots=True)
class OperatorView:
    id: str
    email: str
    role: Role
    disabled: bool
    totp_enabled: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewOperator:
    operator: OperatorView
    password: str | None
    """The generated first password (shown once); None when the caller chose it."""


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise InvalidFieldError("email", "not an e-mail address")
    return value


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidFieldError("role", "the role must be admin, reviewer or viewer") from None


def check_password_policy(password: str, email: str) -> None:
    """NIST SP 800-63B style: long enough, not the e-mail; no composition rules."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidFieldError(
            "password", f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long"
        )
    if password.strip().lower() in (email, email.split("@", 1)[0]):
        raise InvalidFieldError("password", "the password may not be the e-mail address")


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def hash_password(password: str) -> str:
    with _slot():
        return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-shape check: an unknown operator (``stored_hash`` None) costs one hash too."""
    with _slot():
        try:
            return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


@contextmanager
def _slot() -> Iterator[None]:
    if not _hash_slots.acquire(timeout=15):
        raise ServiceUnavailableError("too many logins at once; try again")
    try:
        yield
    finally:
        _hash_slots.release()


def view(operator: Operator) -> OperatorView:
    return OperatorView(
        id=operator.id,
        email=operator.email,
        role=Role(operator.role),
        disabled=operator.disabled,
        totp_enabled=operator.totp_enabled_at is not None,
        must_change_password=operator.must_change_password,
        created_at=operator.created_at,
        last_login_at=operator.last_login_at,
    )


def create_operator(
    svc: Services,
    email: str,
    role: Role,
    *,
    actor: str,
    password: str | None = None,
    source: str | None = None,
) -> NewOperator:
    """A new operator. Without ``password`` one is generated, shown once, and must be changed at
    the first login."""
    email = normalize_email(email)
    generated = password is None
    chosen = generate_password() if password is None else password
    check_password_policy(chosen, email)
    operator = Operator(
        id=str(uuid.uuid4()),
        email=email,
        role=role.value,
        password_hash=hash_password(chosen),
        must_change_password=generated,
    )
    try:
        with svc.db.session() as session:
            session.add(operator)
            session.flush()
            audit_repo.audit(
                actor,
                "operator_create",
                None,
                session=session,
                details={"operator": email, "role": role.value},
                source=source,
            )
    except IntegrityError:
        raise OperatorExistsError() from None
    return NewOperator(view(operator), chosen if generated else None)


def list_operators(svc: Services) -> list[OperatorView]:
    with svc.db.session() as session:
        return [view(operator) for operator in operator_repo.list_operators(session=session)]


def _find(session: Session, key: str) -> Operator:
    operator = session.get(Operator, key) if "@" not in key else None
    if operator is None and "@" in key:
        operator = operator_repo.operator_by_email(normalize_email(key), session=session)
    if operator is None:
        raise OperatorNotFoundError()
    return operator


def set_disabled(
    svc: Services, key: str, disabled: bool, *, actor: str, source: str | None = None
) -> OperatorView:
    """Disable (every session ends at once) or enable an operator, by id or e-mail."""
    with svc.db.session() as session:
        operator = _find(session, key)
        if disabled and actor == f"operator:{operator.id}":
            raise InvalidFieldError("operator", "you cannot disable yourself")
        operator.disabled = disabled
        if disabled:
            operator_repo.revoke_sessions(operator.id, utcnow(), session=session)
        action = "operator_disable" if disabled else "operator_enable"
        audit_repo.audit(
            actor, action, None, session=session, details={"operator": operator.email}, source=source
        )
        return view(operator)


def reset_password(
    svc: Services, key: str, *, actor: str, reset_totp: bool = False, source: str | None = None
) -> str:
    """A new generated password (shown once, to be changed at the next login); ends every session.
    ``reset_totp``: the operator enrols a new second factor at the next login (a lost phone)."""
    password = generate_password()
    hashed = hash_password(password)
    with svc.db.session() as session:
        operator = _find(session, key)
        operator.password_hash = hashed
        operator.must_change_password = True
        if reset_totp:
            operator.totp_secret = None
            operator.totp_enabled_at = None
            operator.totp_last_step = None
        operator_repo.revoke_sessions(operator.id, utcnow(), session=session)
        audit_repo.audit(
            actor,
            "operator_reset_password",
            None,
            session=session,
            details={"operator": operator.email, "resetTotp": reset_totp},
            source=source,
        )
    return password


def change_password(
    svc: Services, user: ConsoleUser, current: str, new: str, *, source: str | None = None
) -> None:
    """The operator's own new password; every other session of theirs ends."""
    with svc.db.session() as session:
        operator = session.get(Operator, user.operator_id)
        assert operator is not None
        stored = operator.password_hash
        email = operator.email
    if not verify_password(stored, current):
        raise LoginFailedError("the current password is wrong")
    check_password_policy(new, email)
    if new == current:
        raise InvalidFieldError("password", "choose a password you have not used here")
    hashed = hash_password(new)
    with svc.db.session() as session:
        operator = session.get(Operator, user.operator_id)
        assert operator is not None
        operator.password_hash = hashed
        operator.must_change_password = False
        operator_repo.revoke_sessions(operator.id, utcnow(), session=session, keep=user.session_id)
        audit_repo.audit(user.actor, "password_change", None, session=session, source=source)
