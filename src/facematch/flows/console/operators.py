"""Operators of the console: roles, accounts, passwords and time zones.

Roles: ``viewer`` reads metadata; ``reviewer`` also views images and decides reviews; ``admin`` also
manages partners and operators and resends callbacks. Admins and reviewers must use a TOTP second
factor (:mod:`facematch.flows.console.auth`). Passwords are argon2id hashes
(:mod:`facematch.flows.console.passwords`). A generated password (a new operator's, or a reset)
opens nothing but its own change: :meth:`ConsoleUser.require` refuses everything else until then.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facematch.errors import (
    InvalidFieldError,
    LoginFailedError,
    OperatorExistsError,
    OperatorNotFoundError,
    PasswordChangeRequiredError,
    PermissionDeniedError,
)
from facematch.flows.console import passwords
from facematch.flows.console.guard import login_guard
from facematch.flows.context import Services
from facematch.storage import audit_repo, operator_repo
from facematch.storage.models import Operator


class OperatorRole(StrEnum):
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
    RELEASE_CLAIMS = "release_claims"
    """End another reviewer's claim on a review item."""


ROLE_PERMISSIONS: dict[OperatorRole, frozenset[Permission]] = {
    OperatorRole.VIEWER: frozenset({Permission.READ}),
    OperatorRole.REVIEWER: frozenset({Permission.READ, Permission.VIEW_IMAGES, Permission.DECIDE}),
    OperatorRole.ADMIN: frozenset(Permission),
}
#: Roles that must log in with a second factor.
TOTP_REQUIRED = frozenset({OperatorRole.ADMIN, OperatorRole.REVIEWER})
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{1,63}$")


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The operator behind one request, with the session it came with."""

    operator_id: str
    email: str
    role: OperatorRole
    session_id: str
    csrf_token: str
    must_change_password: bool = False
    time_zone: str = "UTC"
    """The zone the console shows this operator's times in (IANA name)."""

    @property
    def actor(self) -> str:
        return f"operator:{self.operator_id}"

    def can(self, permission: Permission) -> bool:
        return not self.must_change_password and permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Refuse what the role may not do, and everything while the password is a generated one."""
        if self.must_change_password:
            raise PasswordChangeRequiredError()
        if not self.can(permission):
            raise PermissionDeniedError(
                f"the {self.role.value} role may not {permission.value.replace('_', ' ')}"
            )


@dataclass(frozen=True, slots=True)
class OperatorView:
    id: str
    email: str
    role: OperatorRole
    disabled: bool
    totp_enabled: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None
    time_zone: str | None = None
    failed_logins: int = 0
    """Failed logins the guard remembers for this account."""
    blocked_for_s: int = 0
    """Seconds until a new browser may try this account again."""


@dataclass(frozen=True, slots=True)
class NewOperator:
    operator: OperatorView
    password: str | None
    """The generated first password (shown once); None when the caller chose it."""


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 254 or not value.isprintable():
        raise InvalidFieldError("email", "not an e-mail address")
    return value


def parse_role(value: str) -> OperatorRole:
    try:
        return OperatorRole(value.strip().lower())
    except ValueError:
        raise InvalidFieldError("role", "the role must be admin, reviewer or viewer") from None


def time_zones() -> list[str]:
    """The zones an operator may choose: Indonesia's three first, then UTC, then every IANA zone."""
    first = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "UTC"]
    rest = sorted(z for z in zoneinfo.available_timezones() if "/" in z and z not in first)
    return first + rest


def parse_zone(value: str) -> str:
    value = value.strip()
    try:
        if (value and "/" in value) or value == "UTC":
            zoneinfo.ZoneInfo(value)
            return value
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    raise InvalidFieldError("time-zone", "choose a time zone from the list (e.g. Asia/Jakarta)")


def view(operator: Operator, failed_logins: int = 0, blocked_for_s: int = 0) -> OperatorView:
    return OperatorView(
        id=operator.id,
        email=operator.email,
        role=OperatorRole(operator.role),
        disabled=operator.disabled,
        totp_enabled=operator.totp_enabled_at is not None,
        must_change_password=operator.must_change_password,
        created_at=operator.created_at,
        last_login_at=operator.last_login_at,
        time_zone=operator.time_zone,
        failed_logins=failed_logins,
        blocked_for_s=blocked_for_s,
    )


def create_operator(
    svc: Services,
    email: str,
    role: OperatorRole,
    *,
    actor: str,
    password: str | None = None,
    source: str | None = None,
) -> NewOperator:
    """A new operator. Without ``password`` one is generated, shown once, and must be changed at
    the first login."""
    email = normalize_email(email)
    generated = password is None
    chosen = passwords.generate() if password is None else password
    passwords.check_policy(chosen, email)
    operator = Operator(
        id=str(uuid.uuid4()),
        email=email,
        role=role.value,
        password_hash=passwords.hash_password(chosen),
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
    """Every operator, with what the login guard remembers of their account."""
    guard = login_guard(svc)
    with svc.db.session() as session:
        found = operator_repo.list_operators(session=session)
        session.expunge_all()
    views = []
    for operator in found:
        state = guard.state(operator.email)
        views.append(view(operator, state.failures, state.blocked_for_s))
    return views


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
            operator_repo.revoke_sessions(operator.id, svc.clock.now(), session=session)
        action = "operator_disable" if disabled else "operator_enable"
        audit_repo.audit(
            actor, action, None, session=session, details={"operator": operator.email}, source=source
        )
        return view(operator)


def unlock(svc: Services, key: str, *, actor: str, source: str | None = None) -> OperatorView:
    """Forget an operator's failed logins and the delay they earned (audited)."""
    with svc.db.session() as session:
        operator = _find(session, key)
        guard = login_guard(svc)
        state = guard.state(operator.email)
        guard.unlock(operator.email)
        audit_repo.audit(
            actor,
            "operator_unlock",
            None,
            session=session,
            details={
                "operator": operator.email,
                "failedLogins": state.failures,
                "blockedForS": state.blocked_for_s,
            },
            source=source,
        )
        return view(operator)


def reset_password(
    svc: Services, key: str, *, actor: str, reset_totp: bool = False, source: str | None = None
) -> str:
    """A new generated password (shown once, to be changed at the next login); ends every session.
    ``reset_totp``: the operator enrols a new second factor at the next login (a lost phone)."""
    password = passwords.generate()
    hashed = passwords.hash_password(password)
    with svc.db.session() as session:
        operator = _find(session, key)
        operator.password_hash = hashed
        operator.must_change_password = True
        if reset_totp:
            operator.totp_secret = None
            operator.totp_enabled_at = None
            operator.totp_last_step = None
        operator_repo.revoke_sessions(operator.id, svc.clock.now(), session=session)
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
    if not passwords.verify(stored, current):
        raise LoginFailedError("the current password is wrong")
    passwords.check_policy(new, email)
    if new == current:
        raise InvalidFieldError("password", "choose a password you have not used here")
    hashed = passwords.hash_password(new)
    with svc.db.session() as session:
        operator = session.get(Operator, user.operator_id)
        assert operator is not None
        operator.password_hash = hashed
        operator.must_change_password = False
        operator_repo.revoke_sessions(operator.id, svc.clock.now(), session=session, keep=user.session_id)
        audit_repo.audit(user.actor, "password_change", None, session=session, source=source)


def set_time_zone(svc: Services, user: ConsoleUser, zone: str, *, source: str | None = None) -> None:
    """The zone the console shows this operator's times in."""
    chosen = parse_zone(zone)
    with svc.db.session() as session:
        operator = session.get(Operator, user.operator_id)
        assert operator is not None
        operator.time_zone = chosen
        audit_repo.audit(
            user.actor, "time_zone_set", None, session=session, details={"zone": chosen}, source=source
        )
