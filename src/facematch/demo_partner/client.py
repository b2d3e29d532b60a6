"""The demo partner's backend side: facematch's public partner API over HTTP, and webhook checks.

Nothing here imports facematch internals: this is what any partner would write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

#: A partner should refresh its token when fewer than this many seconds remain (OneKYC's advice).
REFRESH_MARGIN_S = 300
#: Standard Webhooks: refuse messages whose timestamp is further than this from now.
WEBHOOK_TOLERANCE_S = 300


class PartnerApiError(Exception):
    """facematch answered with an error envelope (or not at all)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"facematch answered HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class PartnerCredentials:
    client_id: str
    pass_key: str
    onboarding_partner: str
    webhook_secret: str


@dataclass(slots=True)
class PartnerClient:
    """Calls Generate Partner Token, Initiate Flow and Get Submission Details, caching the token."""

    base_url: str
    credentials: PartnerCredentials
    timeout_s: float = 15.0
    _token: str | None = None
    _token_expires_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _call(self, method: str, path: str, *, headers: dict[str, str], json: Any = None) -> dict[str, Any]:
        try:
            response = httpx.request(
                method, self.base_url.rstrip("/") + path, headers=headers, json=json, timeout=self.timeout_s
            )
        except httpx.HTTPError as error:
            raise PartnerApiError(0, str(error)) from error
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"raw": response.text[:500]}
        if response.status_code != 200 or not body.get("success"):
            raise PartnerApiError(response.status_code, body)
        return body

    def partner_token(self) -> str:
        with self._lock:
            if self._token is None or self._token_expires_at - time.time() < REFRESH_MARGIN_S:
                body = self._call(
                    "GET",
                    "/v1/coe/partner/authentication",
                    headers={"client-id": self.credentials.client_id, "pass-key": self.credentials.pass_key},
                )
                self._token = str(body["data"]["token"])
                self._token_expires_at = float(body["data"]["expires_at"])
            return self._token

    def initiate_web_flow(
        self,
        *,
        partner_session_id: str,
        user_id: str,
        success_url: str,
        failure_url: str,
        theme: str,
        additional_details: dict[str, Any],
    ) -> str:
        """Initiate Flow with ``source=WEB_SDK``; returns the launch URL."""
        body = self._call(
            "POST",
            "/coe-partner/v1/initiate-flow",
            headers={
                "x-onekyc-token": self.partner_token(),
                "x-onboarding-partner": self.credentials.onboarding_partner,
                "x-partner-user-id": user_id,
                "x-partner-user-id-type": "DEMO_USER_ID",
                "x-partner-session-id": partner_session_id,
            },
            json={
                "flow": "FACE_MATCH",
                "source": "WEB_SDK",
                "successRedirectionUrl": success_url,
                "failureRedirectionUrl": failure_url,
                "theme": theme,
                "additionalDetails": additional_details,
            },
        )
        return str(body["data"]["launchUrl"])

    def submission_details(self, partner_session_id: str) -> dict[str, Any]:
        """Get Submission Details by partner session; the error envelope when there is none yet."""
        try:
            body = self._call(
                "GET",
                "/coe/v1/submissions",
                headers={"x-onekyc-token": self.partner_token(), "x-partner-session-id": partner_session_id},
            )
        except PartnerApiError as error:
            return error.body if isinstance(error.body, dict) else {"error": str(error)}
        return body


def _secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def verify_webhook(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> bool:
    """Standard Webhooks: ``v1,<base64 HMAC-SHA256(id.timestamp.body)>``, timestamp within 5 minutes."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp.isdigit() and signatures):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > WEBHOOK_TOLERANCE_S:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False
