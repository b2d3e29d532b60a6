"""What a request may cost: body caps per endpoint, image bombs through the API, the base64 forms the
compare accepts, and the operator endpoints outside development."""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from facematch.engine.fake import fake_face_image
from partner_client import Api
from servicekit import live_app


def webp_bomb() -> bytes:
    """The campaign's 1.9 KB lossless WebP of 7000×7000."""
    out = io.BytesIO()
    Image.new("RGB", (7000, 7000), (128, 128, 128)).save(out, "WEBP", lossless=True, method=0)
    return out.getvalue()


def png_bomb() -> bytes:
    """The campaign's 47.7 KB PNG of 7000×7000 (8-bit grey, all black)."""
    out = io.BytesIO()
    Image.new("L", (7000, 7000), 0).save(out, "PNG", compress_level=9)
    return out.getvalue()


def face_match(api: Api, extra_headers: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
    headers = {
        "x-onekyc-token": api.partner_token(),
        "x-partner-session-id": str(uuid.uuid4()),
        **api.user_headers(),
        **(extra_headers or {}),
    }
    return api.http.post("/coe-partner/v1/face-match", headers=headers, **kwargs)  # type: ignore[arg-type]


def chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * 65536
        sent += 65536


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_json_endpoints_refuse_a_large_body_with_413(api: Api, chunked: bool) -> None:
    body = b'{"flow": "FACE_MATCH", "source": "SDK", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {
        "x-onekyc-token": api.partner_token(),
        "x-partner-session-id": str(uuid.uuid4()),
        "content-type": "application/json",
        **api.user_headers(),
    }
    content = (
        (part for part in [body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    )
    initiate = api.http.post("/coe-partner/v1/initiate-flow", headers=headers, content=content)
    assert initiate.status_code == 413, initiate.text
    assert initiate.json()["errors"][0]["cause"] == "PAYLOAD_TOO_LARGE"
    confirm = api.http.put(
        "/coe/v1/submissions/urls",
        headers={
            **api.submission_headers(api.user_token(), str(uuid.uuid4())),
            "content-type": "application/json",
        },
        content=chunks(2 * 1024 * 1024) if chunked else b" " * (2 * 1024 * 1024),
    )
    assert confirm.status_code == 413 and confirm.json()["errors"][0]["cause"] == "PAYLOAD_TOO_LARGE"


def multipart(parts: dict[str, bytes], boundary: str = "fm-boundary") -> bytes:
    body = b""
    for name, data in parts.items():
        body += (
            (
                f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n'
                "content-type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("as_field", [False, True], ids=["file-parts", "text-parts"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_oversized_multipart_compare_gets_413(api: Api, chunked: bool, as_field: bool) -> None:
    cap = api.server.services.settings.engine.max_image_bytes
    big = fake_face_image(1) + b"\0" * (cap + 1024)  # one image past the cap, the body under its own
    body = multipart({"selfie": big, "reference": fake_face_image(1)})
    if as_field:
        body = body.replace(b'; filename="selfie.jpg"', b"").replace(b'; filename="reference.jpg"', b"")
    content = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    answer = face_match(api, {"content-type": "multipart/form-data; boundary=fm-boundary"}, content=content)
    assert answer.status_code == 413, answer.text
    assert answer.json()["errors"][0]["cause"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("make", "media", "size"), [(webp_bomb, "image/webp", 2_000), (png_bomb, "image/png", 48_000)]
)
def test_an_image_bomb_costs_milliseconds_through_the_api(
    api: Api, make: Callable[[], bytes], media: str, size: int
) -> None:
    bomb = make()
    assert len(bomb) < size
    token = api.user_token()
    psid = str(uuid.uuid4())
    presigned = api.presign(token, psid).json()["data"]
    started = time.perf_counter()
    upload = api.upload(presigned["documents"]["SELFIE"]["documentUrl"], bomb, media)
    assert time.perf_counter() - started < 1.0
    assert upload.status_code == 422 and upload.json()["errors"][0]["cause"] == "INVALID_UPLOAD_ARTIFACT"
    started = time.perf_counter()
    compared = face_match(
        api,
        files={
            "selfie": ("s.img", bomb, media),
            "reference": ("r.png", fake_face_image(2), "image/png"),
        },
    )
    assert time.perf_counter() - started < 1.5
    data = compared.json()["data"]
    assert (data["result"], data["reasonCode"]) == ("INVALID", "INVALID_DOCUMENT")
    assert data["submissionDetails"]["selfieValidation"]["verificationReasonCode"] == "IMAGE_TOO_LARGE"


def test_the_compare_takes_base64_as_the_reference_fetch_does(api: Api) -> None:
    image = fake_face_image(6)
    standard = base64.b64encode(image).decode()
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
    urlsafe = base64.urlsafe_b64encode(image).decode().rstrip("=")
    for selfie in (wrapped, urlsafe, "data:image/png;base64," + urlsafe):
        answer = face_match(api, json={"selfie": selfie, "reference": standard})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["result"] == "VALID"


@pytest.fixture
def production(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A server in production mode with an admin token; yields its URL."""
    with live_app(
        database_url,
        tmp_path,
        FACEMATCH_ENVIRONMENT="production",
        FACEMATCH_REFERENCE__ALLOW_LOOPBACK="false",
        FACEMATCH_REFERENCE__ALLOW_HTTP="false",
        FACEMATCH_ADMIN__TOKEN="admin-token-for-the-test-0123456789",
    ) as server:
        yield server.url


def test_metrics_and_documents_need_the_admin_token_in_production(production: str) -> None:
    token = "admin-token-for-the-test-0123456789"
    basic = base64.b64encode(f"ops:{token}".encode()).decode()
    for path in ("/metrics", "/docs", "/openapi.json"):
        assert httpx.get(production + path).status_code == 401
        assert httpx.get(production + path, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(production + path, headers={"authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(production + path, headers={"authorization": f"Basic {basic}"}).status_code == 200
    assert httpx.get(production + "/healthz").status_code == 200  # health stays open for probes


def test_without_a_token_production_does_not_publish_them(database_url: str, tmp_path: Path) -> None:
    with live_app(
        database_url,
        tmp_path,
        FACEMATCH_ENVIRONMENT="production",
        FACEMATCH_REFERENCE__ALLOW_LOOPBACK="false",
        FACEMATCH_REFERENCE__ALLOW_HTTP="false",
    ) as server:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert httpx.get(server.url + path).status_code == 404
