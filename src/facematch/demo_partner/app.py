"""A small partner site and backend that integrates facematch's Web SDK through the public API only.

Pages: ``/`` (upload a reference photo, pick redirect or iframe and the flow options), ``/frame/<id>``
(the launch URL inside an iframe, listening for the postMessage), ``/result/<outcome>`` (the front-end
callback landing, showing Get Submission Details and the webhooks received). Partner endpoints:
``POST /reference-image`` (keep a document portrait, answer its URL), ``/reference-image/<id>``
(what facematch fetches) and ``/webhook`` (the signed completion callback).
State lives in memory: this is a demo, not a product.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from facematch.demo_partner.client import PartnerApiError, PartnerClient, PartnerCredentials, verify_webhook
from facematch.demo_partner.pages import frame_page, home_page, result_page

MAX_REFERENCE_BYTES = 10 * 1024 * 1024
_IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp"}


@dataclass(frozen=True, slots=True)
class DemoConfig:
    facematch_url: str
    public_url: str
    credentials: PartnerCredentials
    partner_name: str = "Demo Partner"


@dataclass(slots=True)
class DemoSession:
    partner_session_id: str
    mode: str
    launch_url: str
    callbacks: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class DemoState:
    references: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    sessions: dict[str, DemoSession] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _sniff(data: bytes) -> str | None:
    for magic, mime in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return mime
    return None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_demo_app(config: DemoConfig) -> FastAPI:
    """The demo partner as an ASGI app."""
    app = FastAPI(title="facematch demo partner", docs_url=None, redoc_url=None, openapi_url=None)
    client = PartnerClient(config.facematch_url, config.credentials)
    state = DemoState()
    app.state.demo = state
    public = config.public_url.rstrip("/")

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return home_page(config.partner_name)

    def keep_reference(data: bytes) -> str:
        mime = _sniff(data)
        if len(data) > MAX_REFERENCE_BYTES or mime is None:
            raise HTTPException(400, "the reference must be a JPEG, PNG or WebP image under 10 MB")
        reference_id = secrets.token_urlsafe(16)
        with state.lock:
            state.references[reference_id] = (data, mime)
        return reference_id

    @app.post("/reference-image")
    async def add_reference(request: Request) -> dict[str, str]:
        """The partner's backend keeps a user's document portrait (the raw image as the body) and
        answers the URL facematch will fetch it from (the walk-through's Initiate Flow uses it)."""
        reference_id = keep_reference(await read_capped(request, MAX_REFERENCE_BYTES + 1))
        return {"referenceImageUrl": f"{public}/reference-image/{reference_id}"}

    @app.get("/favicon.ico")
    def favicon() -> Response:
        icon = (resources.files("facematch.web") / "static" / "favicon.ico").read_bytes()
        return Response(icon, media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})

    @app.post("/start")
    def start(
        reference: Annotated[UploadFile, File()],
        mode: Annotated[str, Form()] = "redirect",
        locale: Annotated[str, Form()] = "id_ID",
        theme: Annotated[str, Form()] = "NO_PREFERENCE",
        allow_qr: Annotated[bool, Form()] = False,
        force_qr: Annotated[bool, Form()] = False,
        portrait_only: Annotated[bool, Form()] = False,
    ) -> Response:
        reference_id = keep_reference(reference.file.read(MAX_REFERENCE_BYTES + 1))
        psid = str(uuid.uuid4())
        try:
            launch_url = client.initiate_web_flow(
                partner_session_id=psid,
                user_id="demo-user-1",
                success_url=f"{public}/result/success",
                failure_url=f"{public}/result/failure",
                theme=theme,
                additional_details={
                    "referenceImageUrl": f"{public}/reference-image/{reference_id}",
                    "userLocale": locale,
                    "allowQr": allow_qr,
                    "forceQr": force_qr,
                    "portraitOnly": portrait_only,
                },
            )
        except PartnerApiError as error:
            return JSONResponse({"initiateFlowFailed": error.body}, status_code=502)
        with state.lock:
            state.sessions[psid] = DemoSession(psid, "iframe" if mode == "iframe" else "redirect", launch_url)
        if mode == "iframe":
            return RedirectResponse(f"/frame/{psid}", status_code=303)
        return RedirectResponse(launch_url, status_code=303)

    @app.get("/frame/{psid}", response_class=HTMLResponse)
    def frame(psid: str) -> str:
        session = state.sessions.get(psid)
        if session is None:
            raise HTTPException(404)
        return frame_page(config.partner_name, session.launch_url, origin_of(session.launch_url))

    @app.get("/result/{outcome}", response_class=HTMLResponse)
    def result(outcome: str, request: Request) -> str:
        params = {
            k: v
            for k, v in request.query_params.items()
            if k in ("status", "partner_session_id", "error_code")
        }
        psid = params.get("partner_session_id", "")
        session = state.sessions.get(psid)
        if session is not None:
            landed = {"outcome": outcome, **params}
            with state.lock:
                if landed not in session.callbacks:
                    session.callbacks.append(landed)
        details = client.submission_details(psid) if session is not None else {"error": "unknown session"}
        return result_page(config.partner_name, outcome, params, details, _webhooks_of(state, psid))

    @app.get("/reference-image/{reference_id}")
    def reference_image(reference_id: str) -> Response:
        stored = state.references.get(reference_id)
        if stored is None:
            raise HTTPException(404)
        return Response(stored[0], media_type=stored[1], headers={"Cache-Control": "no-store"})

    @app.api_route("/webhook", methods=["POST", "PUT", "PATCH"])
    async def webhook(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not verify_webhook(config.credentials.webhook_secret, headers, body):
            return Response(status_code=401)
        payload = json.loads(body)
        with state.lock:
            # Deliveries are at least once: the same webhook-id may come again; keep it once.
            if all(hook["id"] != headers["webhook-id"] for hook in state.webhooks):
                state.webhooks.append({"id": headers["webhook-id"], "verified": True, "payload": payload})
        return Response(status_code=200)

    @app.get("/api/sessions/{psid}")
    def session_api(psid: str) -> dict[str, Any]:
        """For tests and curious humans: what the partner knows about one session."""
        session = state.sessions.get(psid)
        if session is None:
            raise HTTPException(404)
        return {
            "partnerSessionId": psid,
            "mode": session.mode,
            "launchUrl": session.launch_url,
            "frontEndCallbacks": session.callbacks,
            "webhooks": _webhooks_of(state, psid),
            "details": client.submission_details(psid),
        }

    @app.get("/api/sessions")
    def sessions_api() -> list[str]:
        return list(state.sessions)

    @app.get("/api/webhooks")
    def webhooks_api() -> list[dict[str, Any]]:
        """Every verified webhook received so far, of any session (a cluster's smoke test reads it)."""
        with state.lock:
            return list(state.webhooks)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, read only up to ``limit`` bytes (what lies beyond is left unread)."""
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


def _webhooks_of(state: DemoState, psid: str) -> list[dict[str, Any]]:
    with state.lock:
        return [w for w in state.webhooks if w["payload"].get("partnerSessionId") == psid]
