"""One URL policy, one table: Initiate Flow, partner configuration and the fetcher (and the callback
sender) give the same verdict on every URL."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from facematch.errors import DestinationNotAllowedError, InvalidFieldError
from facematch.flows import initiate, partners
from facematch.flows.context import Services
from facematch.outbound.safe_http import FetchPolicy
from facematch.outbound.urls import UrlPolicy
from facematch.security.tokens import TokenKind
from servicekit import ONBOARDING, SECRET_BOX, create_partner

PRODUCTION = UrlPolicy()  # https only, public addresses only

#: (referenceImageUrl, the partner's reference hosts, allowed?)
REFERENCE_TABLE: list[tuple[str, tuple[str, ...], bool]] = [
    ("https://cdn.partner.example/ref.jpg", ("*.partner.example",), True),  # a subdomain of the pattern
    ("https://a.b.partner.example/ref.jpg", ("*.partner.example",), True),
    ("https://partner.example/ref.jpg", ("*.partner.example",), False),  # the pattern's domain itself
    ("https://evilpartner.example/ref.jpg", ("*.partner.example",), False),
    ("https://partner.example/ref.jpg", ("partner.example",), True),
    ("https://PARTNER.example./ref.jpg", ("partner.example",), True),  # case and the root dot
    ("https://other.example/ref.jpg", ("partner.example",), False),  # not in the allowlist
    ("http://partner.example/ref.jpg", ("partner.example",), False),  # plain http
    ("ftp://partner.example/ref.jpg", ("partner.example",), False),
    ("https://user@partner.example/ref.jpg", ("partner.example",), False),  # credentials
    ("https://partner.example\\@evil.example/", ("partner.example",), False),  # parser confusion
    ("https://127.0.0.1/ref.jpg", ("127.0.0.1",), False),  # loopback
    ("https://localhost/ref.jpg", ("localhost",), False),  # the machine itself, by name (RFC 6761)
    ("https://api.localhost/ref.jpg", ("api.localhost",), False),
    ("https://LOCALHOST./ref.jpg", ("localhost",), False),
    ("https://10.0.0.1/ref.jpg", ("10.0.0.1",), False),  # private
    ("https://169.254.169.254/latest", ("169.254.169.254",), False),  # cloud metadata
    ("https://[::ffff:10.0.0.1]/ref.jpg", ("::ffff:10.0.0.1",), False),  # IPv4 in disguise
    ("https://2130706433/ref.jpg", ("partner.example",), False),  # a numeric host form
    ("https://8.8.8.8/ref.jpg", ("8.8.8.8",), True),  # a public address literal
    ("https://partner.example/" + "a" * 2100, ("partner.example",), False),  # too long
]


def _initiate(svc: Services, partner_id: str, reference_url: str) -> None:
    token = svc.tokens.issue(TokenKind.PARTNER, partner_id, 3600).token
    initiate.initiate_flow(
        svc,
        initiate.InitiateRequest(
            token=token,
            onboarding_partner=ONBOARDING,
            partner_user_id="u",
            partner_user_id_type="T",
            partner_session_id=secrets.token_hex(8),
            body={
                "flow": "FACE_MATCH",
                "source": "SDK",
                "additionalDetails": {"referenceImageUrl": reference_url},
            },
        ),
    )


@pytest.mark.parametrize(("url", "hosts", "allowed"), REFERENCE_TABLE)
def test_initiate_flow_and_the_fetcher_agree(
    fake_services: Services, url: str, hosts: tuple[str, ...], allowed: bool
) -> None:
    svc = dataclasses.replace(fake_services, urls=PRODUCTION)
    partner_id = create_partner(svc.db, reference_hosts=list(hosts)).partner_id

    def fetcher_allows() -> bool:
        try:
            UrlPolicy().destination(url, allowed_hosts=hosts)
        except DestinationNotAllowedError:
            return False
        return True

    def initiate_allows() -> bool:
        try:
            _initiate(svc, partner_id, url)
        except InvalidFieldError as error:
            assert error.field == "referenceImageUrl"
            return False
        return True

    assert (fetcher_allows(), initiate_allows()) == (allowed, allowed)


@pytest.mark.parametrize(("url", "hosts", "allowed"), REFERENCE_TABLE)
def test_a_callback_url_is_judged_by_the_same_rules(
    fake_services: Services, url: str, hosts: tuple[str, ...], allowed: bool
) -> None:
    """The callback URL has no allowlist (it is our configuration): every row that fails for another
    reason than the allowlist fails here too, and the sender would refuse what configuration refuses."""
    partner = partners.create_partner(
        "p", partners.PartnerOptions(), session=_Nowhere(), box=SECRET_BOX
    ).partner
    callback_policy = FetchPolicy(allowed_hosts=None)
    try:
        partners.set_callback(partner, url, box=SECRET_BOX, policy=callback_policy)
        configured = True
    except InvalidFieldError:
        configured = False
    try:
        PRODUCTION.destination(url)
        sendable = True
    except DestinationNotAllowedError:
        sendable = False
    assert configured == sendable
    if allowed:
        assert configured


class _Nowhere:
    """A session that keeps nothing (the partner above is never stored)."""

    def add(self, _: object) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("*.cdn.example", "*.cdn.example"),
        ("*.CDN.Example.", "*.cdn.example"),
        ("Partner.Example.", "partner.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("*.com", None),  # a whole top-level domain
        ("*", None),
        ("*.", None),
        ("*.10.0.0.1", None),
        ("2130706433", None),
        ("a b.example", None),
        ("https://partner.example", None),
    ],
)
def test_reference_host_patterns_are_checked_when_configured(entry: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(DestinationNotAllowedError):
            UrlPolicy.host_pattern(entry)
        with pytest.raises(InvalidFieldError):
            partners.apply_options(
                partners.create_partner(
                    "p", partners.PartnerOptions(), session=_Nowhere(), box=SECRET_BOX
                ).partner,
                partners.PartnerOptions(reference_hosts=[entry]),
            )
    else:
        assert UrlPolicy.host_pattern(entry) == stored


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://partner.example/done?x=1", True),
        ("http://localhost:3000/done", True),  # a link for the user's browser, not a request of ours
        ("https://user:pw@partner.example/", False),
        ("javascript:alert(1)", False),
        ("https://partner.example/\r\nSet-Cookie: x", False),
        ("https:///nohost", False),
        ("https://partner.example:99999/", False),
    ],
)
def test_links_for_browsers(link: str, ok: bool) -> None:
    if ok:
        assert UrlPolicy.link(link) == link
    else:
        with pytest.raises(DestinationNotAllowedError):
            UrlPolicy.link(link)
