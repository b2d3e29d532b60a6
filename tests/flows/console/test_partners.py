"""Partner management from the console: only admins, every change audited, and the same rules as the
CLI (a disable revokes the tokens minted before it, for good)."""

from __future__ import annotations

import pytest

from consolekit import console_user, make_operator
from facematch.errors import PermissionDeniedError, UnauthorizedError
from facematch.flows import gateway, partners
from facematch.flows.console import partners as console_partners
from facematch.flows.console.operators import ConsoleUser, OperatorRole
from facematch.flows.context import Services
from facematch.storage.models import AuditEvent
from servicekit import ONBOARDING


def _admin_and_partner(svc: Services) -> tuple[ConsoleUser, console_partners.Credentials]:
    admin = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    options = partners.PartnerOptions(onboarding_partners=[ONBOARDING], reference_hosts=["*.toko.example"])
    created = console_partners.create(
        svc, admin, "Toko", options, console_partners.Callback("https://hooks.toko.example/cb"), source="t"
    )
    return admin, created


def _token(svc: Services, client_id: str, passkey: str) -> str:
    return gateway.partner_token(svc, client_id=client_id, pass_key=passkey, source="t").token


def test_reviewers_and_viewers_cannot_manage_partners(fake_services: Services) -> None:
    svc = fake_services
    _, created = _admin_and_partner(svc)
    for role in (OperatorRole.REVIEWER, OperatorRole.VIEWER):
        user = console_user(svc, make_operator(svc, role))
        with pytest.raises(PermissionDeniedError):
            console_partners.list_partners(svc, user)
        with pytest.raises(PermissionDeniedError):
            console_partners.rotate(svc, user, created.partner_id, 0, source="t")
        with pytest.raises(PermissionDeniedError):
            console_partners.set_disabled(svc, user, created.partner_id, True, source="t")


def test_rotate_callback_and_disable_from_the_console(fake_services: Services) -> None:
    svc = fake_services
    admin, created = _admin_and_partner(svc)
    assert created.passkey and created.webhook_secret
    token = gateway.partner_token(
        svc, client_id=created.client_id, pass_key=created.passkey, source="t"
    ).token

    rotated = console_partners.rotate(svc, admin, created.partner_id, 0, source="t")
    with pytest.raises(UnauthorizedError):  # no overlap: the old pass-key and its tokens stop now
        gateway.partner_token(svc, client_id=created.client_id, pass_key=created.passkey, source="t")
    with svc.db.session() as session, pytest.raises(UnauthorizedError):
        gateway.require_partner(svc, token, session=session)
    fresh = gateway.partner_token(
        svc, client_id=created.client_id, pass_key=rotated.passkey, source="t"
    ).token

    console_partners.set_callback(
        svc,
        admin,
        created.partner_id,
        console_partners.Callback("https://hooks.toko.example/v2", "PUT"),
        source="t",
    )
    described, _ = console_partners.get(svc, admin, created.partner_id)
    assert described["callback"]["url"] == "https://hooks.toko.example/v2"

    console_partners.set_disabled(svc, admin, created.partner_id, True, source="t")
    console_partners.set_disabled(svc, admin, created.partner_id, False, source="t")
    with svc.db.session() as session, pytest.raises(UnauthorizedError):  # enabling again revives nothing
        gateway.require_partner(svc, fresh, session=session)
    gateway.partner_token(
        svc, client_id=created.client_id, pass_key=rotated.passkey, source="t"
    )  # a new one works
    with svc.db.session() as session:
        actions = [
            row.action
            for row in session.query(AuditEvent)
            .filter(AuditEvent.actor == admin.actor)
            .order_by(AuditEvent.id)  # type: ignore[attr-defined]
        ]
    assert actions[-5:] == [
        "partner_create",
        "partner_rotate_passkey",
        "partner_callback",
        "partner_disable",
        "partner_enable",
    ]
