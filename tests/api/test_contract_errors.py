"""Every error row the contract lists for our endpoints, through real HTTP, in the contract envelope."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from facematch.security.tokens import TokenKind
from partner_client import Api
from servicekit import ONBOARDING


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False and body["data"] is None, body
    assert len(body["errors"]) == 1
    item: dict[str, Any] = body["errors"][0]
    return item


def expect(response: httpx.Response, status: int, code: str | int, cause: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    item = error_of(response)
    assert (item["code"], item["cause"]) == (code, cause), item
    return item


# --- token gateway ----------------------------------------------------------------------------------


def test_partner_token_success_shape(api: Api) -> None:
    response = api.http.get(
        "/v1/coe/partner/authentication",
        headers={"client-id": api.creds.client_id, "pass-key": api.creds.passkey},
    )
    data = response.json()["data"]
    assert response.json()["success"] is True
    assert data["expiry_seconds"] == "3600" and data["expires_at"].isdigit() and data["token"].count(".") == 2


@pytest.mark.parametrize(
    ("headers", "cause"),
    [({}, "CLIENT_ID_CAN_NOT_BE_EMPTY"), ({"client-id": "x"}, "PASS_KEY_CAN_NOT_BE_EMPTY")],
)
def test_partner_token_missing_headers(api: Api, headers: dict[str, str], cause: str) -> None:
    item = expect(api.http.get("/v1/coe/partner/authentication", headers=headers), 400, "1539", cause)
    assert item["entity"] == "ONEKYC_TOKEN_SERVICE"


def test_partner_token_wrong_passkey(api: Api) -> None:
    response = api.http.get(
        "/v1/coe/partner/authentication", headers={"client-id": api.creds.client_id, "pass-key": "wrong"}
    )
    assert expect(response, 401, "110", "UNAUTHORIZED")["entity"] == "ONEKYC_TOKEN_SERVICE"


def test_user_token_success_and_errors(api: Api) -> None:
    base = {"client-id": api.creds.client_id, "pass-key": api.creds.passkey, **api.user_headers()}
    data = api.http.get("/v2/coe/authentication", headers=base).json()["data"]
    assert data["expiry_seconds"] == "5184000"
    expect(api.http.get("/v2/coe/authentication", headers={}), 400, 1539, "MISSING_CLIENT_ID_OR_PASS_KEY")
    for header, cause in (
        ("x-onboarding-partner", "X_ONBOARDING_PARTNER_CAN_NOT_BE_EMPTY"),
        ("x-partner-user-id", "PARTNER_USER_ID_CAN_NOT_BE_EMPTY"),
        ("x-partner-user-id-type", "PARTNER_USER_ID_TYPE_CAN_NOT_BE_EMPTY"),
    ):
        headers = {k: v for k, v in base.items() if k != header}
        expect(api.http.get("/v2/coe/authentication", headers=headers), 400, 1539, cause)
    for header, cause in (  # longer than the stored columns
        ("x-onboarding-partner", "INVALID_X_ONBOARDING_PARTNER"),
        ("x-partner-user-id", "INVALID_PARTNER_USER_ID"),
        ("x-partner-user-id-type", "INVALID_PARTNER_USER_ID_TYPE"),
    ):
        long = {**base, header: "u" * 201}
        expect(api.http.get("/v2/coe/authentication", headers=long), 400, 1539, cause)
    wrong = {**base, "pass-key": "nope"}
    expect(api.http.get("/v2/coe/authentication", headers=wrong), 401, 110, "UNAUTHORIZED")
    other = {**base, "x-onboarding-partner": "OTHER-SDK-FACE_MATCH"}
    expect(
        api.http.get("/v2/coe/authentication", headers=other),
        403,
        110,
        "ONBOARDING_PARTNER_DOES_NOT_BELONG_TO_CLIENT",
    )


# --- initiate flow ----------------------------------------------------------------------------------

WEB = {
    "flow": "FACE_MATCH",
    "source": "WEB_SDK",
    "successRedirectionUrl": "https://partner.example/ok",
    "failureRedirectionUrl": "https://partner.example/fail",
    "theme": "DARK_MODE",
    "additionalDetails": {"userLocale": "en_ID", "allowQr": True, "forceQr": False, "portraitOnly": True},
}


def test_initiate_sdk_and_web(api: Api) -> None:
    sdk = api.initiate(str(uuid.uuid4()), {"flow": "FACE_MATCH", "source": "SDK"}).json()["data"]
    assert set(sdk) == {"token", "expirySeconds", "expiresAt"} and sdk["expirySeconds"] == "5184000"
    web = api.initiate(str(uuid.uuid4()), WEB).json()["data"]
    assert set(web) == {"launchUrl", "expirySeconds", "expiresAt"}
    assert web["launchUrl"].startswith(api.server.url + "/web/index.html#/launch-v1?token=")


def test_initiate_duplicate_session(api: Api) -> None:
    psid = str(uuid.uuid4())
    assert api.initiate(psid, WEB).status_code == 200
    expect(api.initiate(psid, WEB), 400, "1539", "DUPLICATE_PARTNER_SESSION_ID")


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"flow": "FACE_VERIFICATION"}, "INVALID_FLOW"),
        ({"flow": None}, "FLOW_CAN_NOT_BE_EMPTY"),
        ({"source": "APP"}, "INVALID_SOURCE"),
        ({"source": None}, "SOURCE_CAN_NOT_BE_EMPTY"),
        ({"successRedirectionUrl": None}, "SUCCESS_REDIRECTION_URL_CAN_NOT_BE_EMPTY"),
        ({"failureRedirectionUrl": "javascript:alert(1)"}, "INVALID_FAILURE_REDIRECTION_URL"),
        ({"theme": "PINK"}, "INVALID_THEME"),
        ({"additionalDetails": {"userLocale": "fr_FR"}}, "INVALID_USER_LOCALE"),
        ({"additionalDetails": {"allowQr": "yes"}}, "INVALID_ALLOW_QR"),
        ({"additionalDetails": {"liveness": "passive"}}, "INVALID_LIVENESS"),
        ({"additionalDetails": {"liveness": True}}, "INVALID_LIVENESS"),
        ({"additionalDetails": {"referenceImageUrl": "file:///etc/passwd"}}, "INVALID_REFERENCE_IMAGE_URL"),
        (
            {"additionalDetails": {"referenceImageUrl": "http://169.254.169.254/x"}},
            "INVALID_REFERENCE_IMAGE_URL",
        ),
        ({"additionalDetails": "x"}, "INVALID_ADDITIONAL_DETAILS"),
        ({"successRedirectionUrl": "https://[::1/ok"}, "INVALID_SUCCESS_REDIRECTION_URL"),
        ({"failureRedirectionUrl": "https://partner.example:99999/"}, "INVALID_FAILURE_REDIRECTION_URL"),
        ({"additionalDetails": {"referenceImageUrl": "http://[::1"}}, "INVALID_REFERENCE_IMAGE_URL"),
    ],
)
def test_initiate_invalid_body(api: Api, change: dict[str, Any], cause: str) -> None:
    body = {**WEB, **change}
    body = {k: v for k, v in body.items() if v is not None}
    expect(api.initiate(str(uuid.uuid4()), body), 400, "1539", cause)


def test_initiate_headers(api: Api) -> None:
    token = api.partner_token()
    full = {"x-onekyc-token": token, "x-partner-session-id": str(uuid.uuid4()), **api.user_headers()}
    for header, status, code, cause in (
        ("x-partner-session-id", 400, "1539", "X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY"),
        ("x-onboarding-partner", 400, "1539", "X_ONBOARDING_PARTNER_CAN_NOT_BE_EMPTY"),
        ("x-partner-user-id", 400, "1539", "PARTNER_USER_ID_CAN_NOT_BE_EMPTY"),
        ("x-partner-user-id-type", 400, "1539", "PARTNER_USER_ID_TYPE_CAN_NOT_BE_EMPTY"),
        ("x-onekyc-token", 401, "110", "UNAUTHORIZED"),
    ):
        headers = {k: v for k, v in full.items() if k != header}
        expect(api.http.post("/coe-partner/v1/initiate-flow", headers=headers, json=WEB), status, code, cause)
    wrong = {**full, "x-onboarding-partner": "SOMEONE-ELSE"}
    response = api.http.post("/coe-partner/v1/initiate-flow", headers=wrong, json=WEB)
    expect(response, 403, "110", "ONBOARDING_PARTNER_DOES_NOT_BELONG_TO_CLIENT")
    malformed = api.http.post(
        "/coe-partner/v1/initiate-flow",
        headers={**full, "content-type": "application/json"},
        content=b"{not json",
    )
    assert malformed.status_code == 400 and error_of(malformed)["code"] == "1539"


# --- presign / upload / confirm / status ------------------------------------------------------------


def test_presign_shape_and_errors(api: Api) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    data = api.presign(token, psid).json()["data"]
    assert data["status"] == "INITIATED" and set(data["documents"]) == {"SELFIE", "REFERENCE"}
    slot = data["documents"]["SELFIE"]
    assert slot["expiryInSeconds"] == "600" and slot["documentReference"] == f"{data['submissionId']}/SELFIE"
    assert slot["documentUrl"].startswith(api.server.url + "/coe/v1/submissions/")
    again = api.http.get(
        "/coe-partner/v1/submissions/urls",
        params={"submissionType": "FACE_MATCH"},
        headers=api.submission_headers(token, psid),
    )
    assert again.json()["data"]["submissionId"] == data["submissionId"]  # the open attempt is reused
    bad_type = api.http.get(
        "/coe/v1/submissions/urls",
        params={"submissionType": "KTP_SCAN"},
        headers=api.submission_headers(token, psid),
    )
    expect(bad_type, 400, "1542", "INVALID_SUBMISSION_TYPE")
    headers = api.submission_headers(token, psid)
    del headers["x-sdk-session-id"]
    response = api.http.get(
        "/coe/v1/submissions/urls", params={"submissionType": "FACE_MATCH"}, headers=headers
    )
    expect(response, 400, "1539", "X_SDK_SESSION_ID_CAN_NOT_BE_EMPTY")
    expect(api.presign(api.partner_token(), psid), 401, "110", "UNAUTHORIZED")


def test_upload_rejects_non_images_and_bad_signatures(api: Api, images: dict[str, bytes]) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    data = api.presign(token, psid).json()["data"]
    url = data["documents"]["SELFIE"]["documentUrl"]
    expect(api.upload(url, b"<html>hi</html>", "text/html"), 422, "422", "INVALID_UPLOAD_ARTIFACT")
    expect(api.upload(url, b"GIF89a" + b"\0" * 100, "image/gif"), 422, "422", "INVALID_UPLOAD_ARTIFACT")
    expect(api.upload(url, images["alice"][:40]), 422, "422", "INVALID_UPLOAD_ARTIFACT")
    expect(api.upload(url + "x", images["alice"]), 401, "110", "UNAUTHORIZED")
    reference_url = data["documents"]["REFERENCE"]["documentUrl"]
    signature = reference_url.split("signature=")[1]
    swapped = url.split("?")[0] + "?signature=" + signature
    expect(api.upload(swapped, images["alice"]), 401, "110", "UNAUTHORIZED")
    big = api.upload(url, b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024))
    assert big.status_code == 413 and error_of(big)["cause"] == "PAYLOAD_TOO_LARGE"


def test_confirm_errors(api: Api, images: dict[str, bytes]) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    data = api.presign(token, psid).json()["data"]
    submission_id = data["submissionId"]
    expect(api.confirm(token, psid, submission_id), 422, "422", "INVALID_UPLOAD_ARTIFACT")  # no selfie yet
    api.upload(data["documents"]["SELFIE"]["documentUrl"], images["alice"])
    headers = api.submission_headers(token, psid)
    expect(
        api.http.put("/coe/v1/submissions/urls", headers=headers, json={}),
        400,
        "1542",
        "INVALID_CONFIRM_UPLOAD_REQUEST",
    )
    not_json = api.http.put(
        "/coe/v1/submissions/urls", headers={**headers, "content-type": "application/json"}, content=b"["
    )
    expect(not_json, 400, "1542", "INVALID_CONFIRM_UPLOAD_REQUEST")
    expect(api.confirm(token, psid, str(uuid.uuid4())), 404, "404", "SUBMISSION_DOES_NOT_EXIST")
    expect(api.confirm(token, psid, submission_id, sdk="other-sdk"), 403, "110", "FORBIDDEN")
    no_sdk = {k: v for k, v in headers.items() if k != "x-sdk-session-id"}
    response = api.http.put("/coe/v1/submissions/urls", headers=no_sdk, json={"submissionId": submission_id})
    expect(response, 400, "1539", "X_SDK_SESSION_ID_CAN_NOT_BE_EMPTY")
    expect(api.confirm("not-a-token", psid, submission_id), 401, "110", "UNAUTHORIZED")
    ok = api.confirm(token, psid, submission_id)
    assert ok.status_code == 200 and ok.json()["data"]["submissionId"] == submission_id
    expect(api.confirm(token, psid, submission_id), 409, "409", "SUBMISSION_STATE_CONFLICT")
    late = api.upload(data["documents"]["REFERENCE"]["documentUrl"], images["alice"])
    expect(late, 409, "409", "SUBMISSION_STATE_CONFLICT")


def test_status_errors(api: Api, images: dict[str, bytes]) -> None:
    token, psid, submission_id = api.run_be_flow(images["alice"], images["alice2"])
    expect(api.status(token, psid, "not-an-id"), 400, "1541", "INVALID_SUBMISSION_ID")
    expect(api.status(token, psid, str(uuid.uuid4())), 404, "1543", "SUBMISSION_DOES_NOT_EXIST")
    expect(api.status(token, "other-session", submission_id), 404, "1543", "SUBMISSION_DOES_NOT_EXIST")
    response = api.http.get(
        f"/coe/v1/submissions/{submission_id}/status",
        headers={"x-onekyc-token": token, "x-sdk-session-id": "s"},
    )
    expect(response, 400, "1539", "X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY")


def test_quota_exceeded_after_max_attempts(api: Api, images: dict[str, bytes]) -> None:
    psid = str(uuid.uuid4())
    for _ in range(3):
        token, _, submission_id = api.run_be_flow(images["alice"], images["bob"], psid=psid)
        api.wait_decided(token, psid, submission_id)
    expect(api.presign(api.user_token(), psid), 429, "429", "SUBMISSION_QUOTA_EXCEEDED")


# --- details ------------------------------------------------------------------------------------------


def test_details_errors(api: Api, images: dict[str, bytes]) -> None:
    token, psid, submission_id = api.run_be_flow(images["alice"], images["alice2"])
    api.wait_decided(token, psid, submission_id)
    expect(api.details(), 400, 1550, "PARTNER_SESSION_ID_CANNOT_BE_EMPTY")
    expect(api.details(x_submission_id=str(uuid.uuid4())), 400, 1552, "SUBMISSION_DOES_NOT_EXIST")
    expect(api.details(x_partner_session_id="nope"), 400, 1552, "SUBMISSION_DOES_NOT_EXIST")
    mismatch = api.details(
        x_partner_session_id=psid, x_partner_user_id="someone", x_partner_user_id_type="TEST_ID"
    )
    expect(mismatch, 400, 1553, "PARTNER_SESSION_ID_DOES_NOT_BELONG_TO_THE_USER")
    half = api.details(x_partner_session_id=psid, x_partner_user_id="user-1")
    expect(half, 400, 1550, "PARTNER_USER_ID_TYPE_CAN_NOT_BE_EMPTY")
    match = api.details(
        x_partner_session_id=psid, x_partner_user_id="user-1", x_partner_user_id_type="TEST_ID"
    )
    assert match.status_code == 200
    no_token = api.http.get("/coe/v1/submissions", headers={"x-submission-id": submission_id})
    expect(no_token, 401, 110, "UNAUTHORIZED")
    user_token = api.http.get(
        "/coe/v1/submissions", headers={"x-onekyc-token": token, "x-submission-id": submission_id}
    )
    expect(user_token, 401, 110, "UNAUTHORIZED")


def test_unknown_route_and_method_use_the_envelope(api: Api) -> None:
    expect(api.http.get("/nope"), 404, "404", "NOT_FOUND")
    expect(api.http.delete("/coe/v1/submissions/urls"), 405, "405", "METHOD_NOT_ALLOWED")


def test_onboarding_header_value_shape(api: Api) -> None:
    assert ONBOARDING.count("-") == 2


def test_unexpected_failures_are_500_in_the_envelope(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api.server.services.tokens, "issue", broken)
    expect(api.presign(token, psid), 500, "900", "SOMETHING_WENT_WRONG")
    response = api.http.get(
        "/v1/coe/partner/authentication",
        headers={"client-id": api.creds.client_id, "pass-key": api.creds.passkey},
    )
    item = expect(response, 500, "900", "GENERIC_SERVICE_ERROR")
    assert "disk on fire" not in response.text and item["entity"] == "ONEKYC_TOKEN_SERVICE"


def test_upload_url_expires(api: Api, images: dict[str, bytes]) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    data = api.presign(token, psid).json()["data"]
    submission_id = data["submissionId"]
    tokens = api.server.services.tokens
    # a signature whose lifetime is already over (0 s), as a presigned URL past its 600 s is
    short = tokens.issue(TokenKind.UPLOAD, submission_id, 0, doc="SELFIE", pid=api.creds.partner_id).token
    url = data["documents"]["SELFIE"]["documentUrl"].split("?")[0] + "?signature=" + short
    expect(api.upload(url, images["alice"]), 401, "110", "UNAUTHORIZED")
