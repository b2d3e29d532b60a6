"""Partner headers (callback auth, reference fetch) are checked when set, and a stored one that
cannot be sent dead-letters its callback instead of jamming the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from facematch.errors import InvalidFieldError
from facematch.flows import outbox, partners, processing
from facematch.flows.context import Services
from facematch.outbound import webhooks
from facematch.rules import decisions
from facematch.storage import outbox_repo
from facematch.storage.models import OutboxMessage, Partner
from servicekit import CALLBACK_POLICY, SECRET_BOX, create_partner, seed_submission

BAD_HEADERS = [
    ("content-type", "text/plain"),
    ("Webhook-Id", "x"),
    ("webhook-signature", "v1,x"),
    ("Host", "evil.example"),
    ("Transfer-Encoding", "chunked"),
    ("X Api Key", "x"),
    ("X-Api-Key", "a\r\nX-Evil: 1"),
    ("X-Api-Key", "a\nb"),
    ("", "x"),
]


def make_partner() -> Partner:
    return partners.create_partner(
        "p", partners.PartnerOptions(), session=_NoSession(), box=SECRET_BOX
    ).partner


def set_callback(partner: Partner, url: str, **options: str) -> None:
    partners.set_callback(partner, url, box=SECRET_BOX, policy=CALLBACK_POLICY, **options)


class _NoSession:
    def add(self, _: object) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
def test_a_callback_auth_header_that_cannot_be_sent_is_refused(name: str, value: str) -> None:
    partner = make_partner()
    with pytest.raises(InvalidFieldError):
        set_callback(partner, "https://partner.example/hook", auth_header=f"{name}: {value}")
    assert partner.callback_auth_name is None and partner.callback_auth_sealed is None


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
def test_a_reference_header_that_cannot_be_sent_is_refused(name: str, value: str) -> None:
    partner = make_partner()
    if name.lower().startswith("webhook-") or name.lower() == "content-type":
        return  # only the callback's own headers are reserved there
    with pytest.raises(InvalidFieldError):
        partners.apply_options(
            partner, partners.PartnerOptions(reference_headers={name: value}), box=SECRET_BOX
        )
    assert partners.reference_headers(partner, box=SECRET_BOX) == {}


def test_good_headers_are_kept() -> None:
    partner = make_partner()
    set_callback(partner, "https://partner.example/hook", auth_header="Authorization: Bearer abc")
    partners.apply_options(
        partner, partners.PartnerOptions(reference_headers={"X-Api-Key": "k 1"}), box=SECRET_BOX
    )
    assert partners.callback_auth(partner, box=SECRET_BOX) == ("Authorization", "Bearer abc")
    assert partners.reference_headers(partner, box=SECRET_BOX) == {"X-Api-Key": "k 1"}
    with pytest.raises(InvalidFieldError):
        set_callback(partner, "https://partner.example/hook", auth_header="no colon")


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def test_a_stored_header_that_cannot_be_sent_dead_letters_the_callback(svc: Services) -> None:
    creds = create_partner(svc.db, callback_url="https://partner.example/hook")
    with svc.db.session() as session:  # the header was stored before headers were checked
        session.execute(
            update(Partner)
            .where(Partner.id == creds.partner_id)
            .values(
                callback_auth_name="content-type",
                callback_auth_sealed=SECRET_BOX.seal(
                    "text/plain", context=f"partner:{creds.partner_id}:callback_auth"
                ),
            )
        )
    submission_id = seed_submission(svc.db, creds.partner_id)
    assert processing.record_decision(svc, submission_id, decisions.unexpected_failure())
    with svc.db.session() as session:
        message_id = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.submission_id == submission_id)
        ).one()

    def settled() -> bool:
        with svc.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            return message is not None and message.status != "pending"

    assert outbox.deliver_next(svc, "w")  # the test's database holds this one message only
    assert settled()
    with svc.db.session() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == "dead"
        log = outbox_repo.delivery_attempts(message_id, session=session)
        assert [entry.outcome for entry in log] == ["FAILED"]
        assert "callback settings unusable" in (log[0].error or "")


@pytest.mark.parametrize("url", ["http://[::1", "https://partner.example:99999/hook"])
def test_an_unparsable_partner_url_is_an_invalid_field(url: str) -> None:
    partner = make_partner()
    with pytest.raises(InvalidFieldError):
        set_callback(partner, url)
    with pytest.raises(InvalidFieldError):
        partners.apply_options(partner, partners.PartnerOptions(frame_origins=[url]))


def test_callback_methods_are_the_ones_deliveries_accept() -> None:
    partner = make_partner()
    for method in sorted(webhooks.CALLBACK_METHODS):
        set_callback(partner, "https://partner.example/hook", method=method.lower())
        assert partner.callback_method == method
    for method in ("GET", "DELETE"):
        with pytest.raises(InvalidFieldError):
            set_callback(partner, "https://partner.example/hook", method=method)
