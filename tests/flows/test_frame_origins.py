"""Partner frame origins go verbatim into every page's CSP ``frame-ancestors``: only a bare
``http(s)://host[:port]`` may be stored."""

from __future__ import annotations

import pytest

from facematch.errors import InvalidFieldError
from facematch.flows import partners
from facematch.storage.models import Partner

KEPT = ["https://kept.example"]

REFUSED = [
    "https://x.com *",
    "https://x.com; script-src *",
    "https://x.com;script-src",
    "https://x.com https://evil.example",
    "*",
    "https://*",
    "https://*.x.com",
    "https://x.com/path",
    "https://x.com//",
    "https://x.com?q=1",
    "https://x.com#frag",
    "https://user@x.com",
    "https://user:pw@x.com",
    " https://x.com",
    "https://x.com ",
    "https://x.com\n",
    "https://x.com\t",
    "https://x.com:",
    "https://x.com:0",
    "https://x.com:65536",
    "https://x.com:99999",
    "https://x.com:-1",
    "https://x.com:443x",
    "https://x.com.",
    "https://-x.com",
    "https://x-.com",
    "https://x..com",
    "https://" + "a" * 64 + ".com",
    "https://x_y.com",
    "https://bücher.example",
    "https://127.1",
    "https://300.1.1.1",
    "https://1.2.3",
    "https://[::1",
    "https://[]",
    "https://[::1%25eth0]",
    "https://[x::1]",
    "https://::1",
    "ftp://x.com",
    "javascript://x.com",
    "data:text/html,x",
    "x.com",
    "//x.com",
    "https://",
    "https:x.com",
    "'self'",
    "'unsafe-inline'",
    "",
]


@pytest.mark.parametrize("origin", REFUSED)
def test_anything_but_a_bare_origin_is_refused_and_nothing_is_stored(origin: str) -> None:
    partner = Partner(frame_origins=list(KEPT))
    with pytest.raises(InvalidFieldError):
        partners.apply_options(partner, partners.PartnerOptions(frame_origins=["https://ok.example", origin]))
    assert partner.frame_origins == KEPT


@pytest.mark.parametrize(
    ("origin", "stored"),
    [
        ("https://shop.example", "https://shop.example"),
        ("http://shop.example", "http://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("HTTPS://Shop.Example", "https://shop.example"),
        ("https://a-b.c-d.example:8443", "https://a-b.c-d.example:8443"),
        ("https://localhost:3000", "https://localhost:3000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:08000", "http://127.0.0.1:8000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://x.com:65535", "https://x.com:65535"),
    ],
)
def test_bare_origins_are_accepted_in_canonical_form(origin: str, stored: str) -> None:
    partner = Partner(frame_origins=[])
    partners.apply_options(partner, partners.PartnerOptions(frame_origins=[origin]))
    assert partner.frame_origins == [stored]
