"""A partner's client for the live test server: every call goes through real HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from servicekit import ONBOARDING, LiveServer, PartnerCreds, create_partner, wait_for


@dataclass
class Api:
    """A partner's view of the live server."""

    server: LiveServer
    creds: PartnerCreds
    http: httpx.Client

    def partner_token(self) -> str:
        response = self.http.get(
            "/v1/coe/partner/authentication",
            headers={"client-id": self.creds.client_id, "pass-key": self.creds.passkey},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["token"])

    def user_headers(self, user: str = "user-1") -> dict[str, str]:
        return {
            "x-partner-user-id": user,
            "x-partner-user-id-type": "TEST_ID",
            "x-onboarding-partner": ONBOARDING,
        }

    def user_token(self, user: str = "user-1") -> str:
        headers = {
            "client-id": self.creds.client_id,
            "pass-key": self.creds.passkey,
            **self.user_headers(user),
        }
        response = self.http.get("/v2/coe/authentication", headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["token"])

    def initiate(self, psid: str, body: dict[str, Any], user: str = "user-1") -> httpx.Response:
        headers = {
            "x-onekyc-token": self.partner_token(),
            "x-partner-session-id": psid,
            **self.user_headers(user),
        }
        return self.http.post("/coe-partner/v1/initiate-flow", headers=headers, json=body)

    def submission_headers(self, token: str, psid: str, sdk: str = "sdk-1") -> dict[str, str]:
        return {"x-onekyc-token": token, "x-partner-session-id": psid, "x-sdk-session-id": sdk}

    def presign(self, token: str, psid: str, sdk: str = "sdk-1") -> httpx.Response:
        return self.http.get(
            "/coe/v1/submissions/urls",
            params={"submissionType": "FACE_MATCH"},
            headers=self.submission_headers(token, psid, sdk),
        )

    def upload(self, url: str, data: bytes, content_type: str = "image/png") -> httpx.Response:
        return httpx.put(url, content=data, headers={"content-type": content_type})

    def confirm(
        self, token: str, psid: str, submission_id: str, sdk: str = "sdk-1", **extra: Any
    ) -> httpx.Response:
        return self.http.put(
            "/coe/v1/submissions/urls",
            headers=self.submission_headers(token, psid, sdk),
            json={"submissionId": submission_id, "metadata": {"app": "test"}, **extra},
        )

    def status(self, token: str, psid: str, submission_id: str, sdk: str = "sdk-1") -> httpx.Response:
        return self.http.get(
            f"/coe/v1/submissions/{submission_id}/status", headers=self.submission_headers(token, psid, sdk)
        )

    def details(self, **headers: str) -> httpx.Response:
        named = {k.replace("_", "-"): v for k, v in headers.items()}
        return self.http.get("/coe/v1/submissions", headers={"x-onekyc-token": self.partner_token(), **named})

    def run_be_flow(
        self,
        selfie: bytes,
        reference: bytes | None,
        psid: str | None = None,
        user: str = "user-1",
        token: str | None = None,
    ) -> tuple[str, str, str]:
        """Backend-to-backend: user token (or ``token``, e.g. an Initiate Flow one) → presign →
        upload → confirm; returns (token, psid, id)."""
        psid = psid or str(uuid.uuid4())
        token = token or self.user_token(user)
        presigned = self.presign(token, psid).json()["data"]
        assert self.upload(presigned["documents"]["SELFIE"]["documentUrl"], selfie).status_code == 200
        if reference is not None:
            assert (
                self.upload(presigned["documents"]["REFERENCE"]["documentUrl"], reference).status_code == 200
            )
        assert self.confirm(token, psid, presigned["submissionId"]).status_code == 200
        return token, psid, presigned["submissionId"]

    def wait_decided(self, token: str, psid: str, submission_id: str) -> dict[str, Any]:
        def decided() -> dict[str, Any] | None:
            data: dict[str, Any] = self.status(token, psid, submission_id).json()["data"]
            return data if data["status"] in ("COMPLETED", "ERROR") else None

        result: dict[str, Any] = wait_for(decided)
        return result


def make_api(live: LiveServer, **options: Any) -> Api:
    return Api(live, create_partner(live.services.db, **options), httpx.Client(base_url=live.url, timeout=30))
