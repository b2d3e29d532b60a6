"""Health, readiness, metrics, request ids, JSON logs, and no secrets in the logs."""

from __future__ import annotations

import json
import logging

import httpx

from facematch.engine.fake import fake_face_image
from partner_client import Api
from servicekit import CAPTURED_LOGS, SECRETS, leaked_secrets


def test_health_ready_and_metrics(api: Api) -> None:
    assert api.http.get("/healthz").json() == {"status": "ok"}
    ready = api.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "database": True,
        "engine": True,
        "blobs": True,
    }
    token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    api.wait_decided(token, psid, submission_id)
    metrics = api.http.get("/metrics").text
    assert (
        'facematch_http_requests_total{method="PUT",route="/coe/v1/submissions/urls",status="200"}' in metrics
    )
    assert "facematch_http_request_duration_seconds_bucket" in metrics
    assert 'facematch_submissions_total{reason="",result="VALID",status="COMPLETED"}' in metrics
    assert "facematch_callback_deliveries_total" in metrics
    docs = api.http.get("/openapi.json").json()
    assert "/coe-partner/v1/initiate-flow" in docs["paths"] and "/coe/v1/submissions/urls" in docs["paths"]


def test_request_id_is_returned_and_logged(api: Api) -> None:
    response = api.http.get("/healthz", headers={"x-request-id": "req-abcdef123"})
    assert response.headers["x-request-id"] == "req-abcdef123"
    generated = api.http.get("/healthz").headers["x-request-id"]
    assert len(generated) == 16
    assert any(
        '"request_id": "req-abcdef123"' in line and "GET /healthz 200" in line for line in CAPTURED_LOGS
    )
    hostile = api.http.get("/healthz", headers={"x-request-id": "a\\nb" * 40}).headers["x-request-id"]
    assert hostile != "a\\nb" * 40


def test_access_log_is_json_without_query_strings_or_headers(api: Api, caplog: object) -> None:
    token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    api.wait_decided(token, psid, submission_id)
    url = api.details(x_submission_id=submission_id).json()["data"]["submissionDetails"]["imageUrls"][
        "selfie"
    ]
    assert httpx.get(url).status_code == 200
    SECRETS.update({token, url.split("signature=")[1]})
    lines = [json.loads(line) for line in CAPTURED_LOGS if '"facematch.access"' in line]
    uploads = [line for line in lines if "/documents/SELFIE" in line["msg"]]
    assert uploads and all("signature" not in line["msg"] for line in uploads)
    assert all(
        {"ts", "level", "msg", "request_id", "status", "duration_ms"} <= set(line) for line in lines[-5:]
    )


def test_no_credential_or_token_in_the_logs_so_far(api: Api) -> None:
    # a failing request logs too; the pass-key it carried must not appear
    SECRETS.add("guess-123456")
    api.http.get(
        "/v1/coe/partner/authentication",
        headers={"client-id": api.creds.client_id, "pass-key": "guess-123456"},
    )
    assert api.partner_token() and api.user_token()  # tokens too: none may be logged
    logging.getLogger("facematch.test").info("probe")
    leaks = leaked_secrets()
    assert SECRETS and not leaks, leaks[:3]
