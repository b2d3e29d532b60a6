"""Start-up rules and the reference fetch as the service configures it."""

from __future__ import annotations

from pathlib import Path

import pytest

from facematch.config import Settings
from facematch.errors import ReferenceFetchError, ReferenceNotAllowedError
from facematch.security.tokens import TokenKeyError, TokenKind
from facematch.services import ReferenceFetcher, build_services, url_policy
from facematch.storage.blobs import BlobKeyError
from servicekit import BLOB_KEY, TOKEN_SECRET


def test_missing_keys_outside_development_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(TokenKeyError):
        build_services(Settings(environment="production", data_dir=tmp_path, blobs={"key": BLOB_KEY}))
    with pytest.raises(BlobKeyError):
        build_services(Settings(environment="production", data_dir=tmp_path, tokens={"secret": TOKEN_SECRET}))
    assert not (tmp_path / "token.key").exists() and not (tmp_path / "blob.key").exists()


def test_development_generates_keys_once(tmp_path: Path) -> None:
    first = build_services(Settings(environment="development", data_dir=tmp_path))
    second = build_services(Settings(environment="development", data_dir=tmp_path))
    blob = first.blobs.put(b"x")
    assert second.blobs.get(blob) == b"x"
    token = first.tokens.issue(TokenKind.PARTNER, "p", 60).token
    assert second.tokens.verify(token, TokenKind.PARTNER)["sub"] == "p"
    first.db.dispose()
    second.db.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/ref",
        "https://127.0.0.1/ref",
        "https://[::1]/ref",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/ref",
        "https://192.168.1.1/ref",
        "https://[::ffff:10.0.0.1]/ref",
        "https://2130706433/ref",
        "file:///etc/passwd",
        "https://good@127.0.0.1/ref",
    ],
)
def test_internal_reference_urls_are_refused_even_when_allowlisted(url: str) -> None:
    settings = Settings(environment="production")
    fetch = ReferenceFetcher(settings, url_policy(settings))
    host = url.split("//", 1)[-1].split("/", 1)[0].split("@")[-1].strip("[]")
    with pytest.raises(ReferenceFetchError) as caught:
        fetch(url, headers={}, allowed_hosts=[host, "127.0.0.1", "localhost"])
    assert isinstance(caught.value, ReferenceNotAllowedError)
