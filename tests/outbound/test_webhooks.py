"""Standard Webhooks signing, one delivery attempt against a real receiver, and the retry schedule."""

from __future__ import annotations

import base64
import email.utils
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from facematch.outbound.safe_http import FetchPolicy
from facematch.outbound.urls import UrlPolicy
from facematch.outbound.webhooks import (
    MAX_RETRY_AFTER_SECONDS,
    RETRY_SCHEDULE,
    DeliveryOutcome,
    Outcome,
    build_headers,
    callback_policy,
    deliver_once,
    generate_secret,
    next_attempt_delay,
    parse_retry_after,
    sign,
)

#: plain http and loopback allowed, as on a developer's machine
LOCAL_URLS = UrlPolicy(allow_http=True, allow_loopback=True)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's example secret
BODY = json.dumps({"submissionId": "sub_1", "status": "COMPLETED", "result": "VALID"}).encode()
LOCAL = callback_policy(UrlPolicy(allow_http=True, allow_loopback=True))


def verify(body: bytes, headers: dict[str, str], secret: str = SECRET) -> object:
    return Webhook(secret).verify(body, headers)


# --- signing ----------------------------------------------------------------------------------


def test_signature_matches_the_reference_implementation() -> None:
    timestamp = 1_614_265_330
    ours = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp, b'{"test": 2432232314}')
    theirs = Webhook(SECRET).sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.fromtimestamp(timestamp, UTC), '{"test": 2432232314}'
    )
    assert ours == theirs == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_an_off_the_shelf_verifier() -> None:
    headers = build_headers(secret=SECRET, msg_id="msg_1", timestamp=int(time.time()), body=BODY)
    assert verify(BODY, headers) == json.loads(BODY)
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("field", ["body", "webhook-id", "webhook-timestamp", "secret"])
def test_tampering_fails_verification(field: str) -> None:
    now = int(time.time())
    headers = build_headers(secret=SECRET, msg_id="msg_1", timestamp=now, body=BODY)
    body, secret = BODY, SECRET
    if field == "body":
        body = BODY.replace(b"VALID", b"INVALID")
    elif field == "webhook-id":
        headers["webhook-id"] = "msg_2"
    elif field == "webhook-timestamp":
        headers["webhook-timestamp"] = str(now - 1)
    else:
        secret = generate_secret()
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, secret)


def test_generated_secrets_are_standard_and_unique() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        headers = build_headers(secret=secret, msg_id="msg_x", timestamp=int(time.time()), body=b"{}")
        verify(b"{}", headers, secret)


@pytest.mark.parametrize("msg_id", ["", "msg 1", "msg\r\nX: y", "a" * 129, "msg.1"])
def test_bad_message_ids_are_refused(msg_id: str) -> None:
    with pytest.raises(ValueError):
        sign(SECRET, msg_id, 1, b"{}")


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!", "whsec_c2hvcnQ="])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError):
        sign(secret, "msg_1", 1, b"{}")


def test_partner_auth_header_is_added_but_cannot_replace_webhook_headers() -> None:
    headers = build_headers(
        secret=SECRET, msg_id="msg_1", timestamp=1, body=b"{}", extra_headers={"Authorization": "Bearer t"}
    )
    assert headers["Authorization"] == "Bearer t"
    for name in ("webhook-signature", "Webhook-Id", "content-type"):
        with pytest.raises(ValueError):
            build_headers(secret=SECRET, msg_id="msg_1", timestamp=1, body=b"{}", extra_headers={name: "x"})


# --- one delivery against a real receiver -----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_delivered_with_verifiable_signature_and_unchanged_body(server, method: str) -> None:
    url = server.route("/hook", lambda h: h.reply(200, b"ok"))
    outcome = deliver_once(
        url, method, BODY, "msg_abc", SECRET, policy=LOCAL, extra_headers={"Authorization": "Bearer partner"}
    )
    assert outcome == DeliveryOutcome(Outcome.DELIVERED, 200, None, None, outcome.timestamp)
    received = server.requests[0]
    assert (received.method, received.body) == (method, BODY)
    assert received.headers["authorization"] == "Bearer partner"
    assert received.headers["webhook-id"] == "msg_abc"
    assert verify(received.body, received.headers) == json.loads(BODY)


def test_the_clock_sets_the_signed_timestamp(server) -> None:
    url = server.route("/hook", lambda h: h.reply(204))
    outcome = deliver_once(url, "POST", BODY, "msg_t", SECRET, policy=LOCAL, now=lambda: 1_700_000_000.7)
    assert outcome.outcome is Outcome.DELIVERED
    assert outcome.timestamp == 1_700_000_000
    assert server.requests[0].headers["webhook-timestamp"] == "1700000000"
    # The verifier refuses a timestamp that old: receivers see fresh ones because we re-sign per attempt.
    with pytest.raises(WebhookVerificationError):
        verify(BODY, server.requests[0].headers)


def test_410_is_gone(server) -> None:
    url = server.route("/hook", lambda h: h.reply(410, b"unsubscribed"))
    outcome = deliver_once(url, "POST", BODY, "msg_g", SECRET, policy=LOCAL)
    assert (outcome.outcome, outcome.status_code) == (Outcome.GONE, 410)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_3xx_is_a_failed_attempt_and_not_followed(server, status: int) -> None:
    server.route("/elsewhere", lambda h: h.reply(200))
    url = server.route("/hook", lambda h: h.reply(status, b"", {"Location": server.url("/elsewhere")}))
    outcome = deliver_once(url, "POST", BODY, "msg_r", SECRET, policy=LOCAL)
    assert (outcome.outcome, outcome.status_code) == (Outcome.RETRY, status)
    assert server.calls("/elsewhere") == 0


@pytest.mark.parametrize("status", [400, 401, 404, 408, 429, 500, 502, 503])
def test_other_failures_are_retried(server, status: int) -> None:
    url = server.route("/hook", lambda h: h.reply(status, b"{}"))
    outcome = deliver_once(url, "POST", BODY, "msg_f", SECRET, policy=LOCAL)
    assert (outcome.outcome, outcome.status_code, outcome.error) == (Outcome.RETRY, status, f"HTTP {status}")


def test_retry_after_seconds_is_reported(server) -> None:
    url = server.route("/hook", lambda h: h.reply(429, b"", {"Retry-After": "120"}))
    outcome = deliver_once(url, "POST", BODY, "msg_ra", SECRET, policy=LOCAL)
    assert (outcome.outcome, outcome.retry_after_seconds) == (Outcome.RETRY, 120.0)
    assert next_attempt_delay(1, outcome.retry_after_seconds) == 120.0


def test_retry_after_http_date_is_reported(server) -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 3600, usegmt=True)
    url = server.route("/hook", lambda h: h.reply(503, b"", {"Retry-After": date}))
    outcome = deliver_once(url, "POST", BODY, "msg_rd", SECRET, policy=LOCAL, now=lambda: now)
    assert outcome.retry_after_seconds == 3600.0


def test_timeout_is_retried(server) -> None:
    url = server.route("/hook", lambda h: h.server.local.stop.wait(3))
    policy = FetchPolicy(None, urls=LOCAL_URLS, connect_timeout=0.3, total_timeout=0.5)
    outcome = deliver_once(url, "POST", BODY, "msg_to", SECRET, policy=policy)
    assert (outcome.outcome, outcome.status_code, outcome.error) == (Outcome.RETRY, None, "timeout")


def test_unreachable_receiver_is_retried(closed_port: int) -> None:
    outcome = deliver_once(
        f"http://127.0.0.1:{closed_port}/hook", "POST", BODY, "msg_c", SECRET, policy=LOCAL
    )
    assert (outcome.outcome, outcome.error) == (Outcome.RETRY, "connection failed")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://169.254.169.254/", "ftp://partner.example/", "http://127.0.0.1/"]
)
def test_refused_destination_fails_without_sending(url: str) -> None:
    policy = callback_policy(UrlPolicy(allow_http=True))
    outcome = deliver_once(url, "POST", BODY, "msg_p", SECRET, policy=policy)
    assert (outcome.outcome, outcome.status_code) == (Outcome.FAILED, None)


def test_callbacks_are_https_only_by_default() -> None:
    outcome = deliver_once(
        "http://partner.example/hook", "POST", BODY, "msg_h", SECRET, policy=callback_policy(UrlPolicy())
    )
    assert outcome.outcome is Outcome.FAILED


def test_large_receiver_response_does_not_spoil_a_delivery(server) -> None:
    url = server.route("/hook", lambda h: h.reply(200, b"x" * (1024 * 1024)))
    assert deliver_once(url, "POST", BODY, "msg_big", SECRET, policy=LOCAL).outcome is Outcome.DELIVERED


def test_get_is_not_a_callback_method() -> None:
    with pytest.raises(ValueError):
        deliver_once("https://partner.example/", "GET", BODY, "msg_1", SECRET, policy=LOCAL)


def test_three_failures_then_success_is_four_attempts_with_one_id(server) -> None:
    answers = iter([500, 503, 502, 200])
    url = server.route("/hook", lambda h: h.reply(next(answers)))
    waited: list[float] = []
    attempts = 0
    while True:
        outcome = deliver_once(url, "POST", BODY, "msg_same", SECRET, policy=LOCAL)
        attempts += 1
        if outcome.outcome is not Outcome.RETRY:
            break
        delay = next_attempt_delay(attempts, outcome.retry_after_seconds)
        assert delay is not None
        waited.append(delay)
    assert outcome.outcome is Outcome.DELIVERED
    assert attempts == server.calls("/hook") == 4
    assert {r.headers["webhook-id"] for r in server.requests} == {"msg_same"}
    assert waited == [5.0, 300.0, 1800.0]
    for received in server.requests:
        verify(received.body, received.headers)


# --- schedule and Retry-After -----------------------------------------------------------------


def test_schedule_runs_about_a_day_then_dead_letters() -> None:
    delays = [next_attempt_delay(n) for n in range(len(RETRY_SCHEDULE))]
    assert delays == [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    assert 20 * 3600 <= sum(RETRY_SCHEDULE) <= 30 * 3600
    assert next_attempt_delay(len(RETRY_SCHEDULE)) is None
    assert next_attempt_delay(100, retry_after=5) is None


def test_retry_after_can_only_delay_and_is_capped() -> None:
    assert next_attempt_delay(2, retry_after=10) == 300.0
    assert next_attempt_delay(2, retry_after=900) == 900.0
    assert next_attempt_delay(2, retry_after=10**9) == MAX_RETRY_AFTER_SECONDS
    assert next_attempt_delay(2, retry_after=-5) == 300.0
    with pytest.raises(ValueError):
        next_attempt_delay(-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Tue, 14 Nov 2023 23:13:20 GMT", 3600.0),  # NOW + 1 h
        ("Tue, 14 Nov 2023 21:13:20 GMT", 0.0),  # NOW - 1 h: already due
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1_700_000_000.0) == expected
