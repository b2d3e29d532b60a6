"""Settings groups of what people use: the hosted web flow, the admin endpoints and the operator
console (see :class:`facematch.config.Settings`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class WebSettings(BaseModel):
    """The hosted H5 app (Web SDK) and its Smart QR handoff."""

    session_ttl_s: int = Field(
        default=3600,
        gt=0,
        description="Lifetime of a web session (after the launch token or QR link is used).",
    )
    handoff_ttl_s: int = Field(
        default=600, gt=0, le=600, description="Lifetime of a Smart QR link (at most 10 minutes)."
    )
    preview_max_bytes: int = Field(
        default=400_000, gt=0, description="Largest guidance preview frame accepted from the app."
    )
    capture_max_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest selfie capture accepted."
    )
    previews_per_session_per_s: float = Field(
        default=4.0, gt=0, description="Guidance preview frames one web session may send per second."
    )
    previews_per_partner_per_s: float = Field(
        default=100.0,
        gt=0,
        description="Guidance preview frames all of one partner's sessions may send per second.",
    )
    captures_per_session_per_minute: int = Field(
        default=10, gt=0, description="Photos one web session may send per minute."
    )
    captures_per_partner_per_minute: int = Field(
        default=600, gt=0, description="Photos all of one partner's web sessions may send per minute."
    )
    max_refused_captures: int = Field(
        default=30,
        gt=0,
        description="Photos without a usable face a web session may send (they use no attempt); "
        "past it the session's photos are refused with 429.",
    )


class AdminSettings(BaseModel):
    """Operator endpoints: /metrics and the OpenAPI documents (/docs, /redoc, /openapi.json)."""

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token required for /metrics and the API documents. Outside development and "
        "test they answer 404 while no token is set.",
    )


class ConsoleSettings(BaseModel):
    """The operator console under /console: operators, sessions, the review queue."""

    enabled: bool = Field(default=True, description="Serve the operator console under /console.")
    session_idle_s: int = Field(
        default=1800, gt=0, description="An operator session ends after this long without a request."
    )
    session_absolute_s: int = Field(
        default=43_200, gt=0, description="An operator session ends this long after login, however busy."
    )
    login_step_ttl_s: int = Field(
        default=300, gt=0, description="Time to enter the second factor (or enrol it) after the password."
    )
    login_failures_per_account: int = Field(
        default=5,
        gt=0,
        description="Failed logins allowed per e-mail and source address per login_window_s before 429.",
    )
    login_failures_per_source: int = Field(
        default=30, gt=0, description="Failed logins allowed per source address per login_window_s."
    )
    login_window_s: int = Field(default=900, gt=0, description="Window of the login throttles.")
    image_url_ttl_s: int = Field(
        default=120,
        gt=0,
        le=600,
        description="Lifetime of a console image URL (bound to the operator session).",
    )
    review_deadline_s: int = Field(
        default=86_400,
        gt=0,
        description="Default time a review-queue item may wait before its partner's default outcome applies.",
    )
    review_sweep_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often a worker applies the default outcome to overdue review items.",
    )
    page_size: int = Field(default=50, ge=10, le=500, description="Rows per page in console lists.")
