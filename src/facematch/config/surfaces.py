"""Settings groups of what people use: the hosted web flow, the admin endpoints and the operator
console (see :class:`facematch.config.Settings`)."""

from __future__ import annotations

import zoneinfo

from pydantic import BaseModel, Field, SecretStr, field_validator


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


class LivenessSettings(BaseModel):
    """The head-move challenge of sessions that ask for liveness (docs/liveness.md)."""

    same_person_far: float = Field(
        default=1e-3,
        gt=0,
        lt=1,
        description="False-accept rate of the threshold at which every challenge frame must match the "
        "final selfie (SAME_PERSON).",
    )
    move_within_s: float = Field(default=6.0, gt=0, description="Time for each move of a challenge.")
    start_s: float = Field(
        default=10.0, gt=0, description="Time from a challenge's issue to its first move (camera start)."
    )
    finish_s: float = Field(
        default=10.0, gt=0, description="Time after a challenge's last move for the selfie (and the upload)."
    )
    clip_max_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="Largest challenge clip a backend partner may upload."
    )
    clip_max_s: float = Field(default=10.0, gt=0, description="Longest challenge clip accepted, in seconds.")
    frame_max_bytes: int = Field(
        default=96_000, gt=0, description="Largest challenge frame the hosted flow's page may send."
    )
    challenge_max_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Bytes of frames one hosted challenge may upload in all (past it, frames are refused).",
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
        description="Failed logins (password or code) an account may have from any address before each "
        "further try waits a growing delay; a browser that logged in to the account before is not held.",
    )
    login_failures_per_source: int = Field(
        default=30, gt=0, description="Failed logins allowed per source address per login_window_s."
    )
    login_window_s: int = Field(
        default=900, gt=0, description="Window of the per-address count of failed logins."
    )
    login_codes_per_pending: int = Field(
        default=5,
        gt=0,
        description="Second-factor codes one pending login may try; then the password is needed again.",
    )
    login_delay_s: float = Field(
        default=30.0,
        gt=0,
        description="Delay after an account's free failures; it doubles with each further failure.",
    )
    login_max_delay_s: float = Field(
        default=900.0, gt=0, description="Longest delay between two tries of an account from a new browser."
    )
    login_memory_s: int = Field(
        default=86_400,
        gt=0,
        description="How long an account's failed logins are remembered (an admin can unlock it sooner).",
    )
    known_browser_s: int = Field(
        default=30 * 86_400,
        gt=0,
        description="How long a browser that logged in stays known to its account (not held by its delay).",
    )
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
    review_claim_s: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="How long opening a review item reserves it for its reviewer; renewed while the page "
        "is in use, released when they decide or leave.",
    )
    max_range_days: int = Field(
        default=366, ge=1, le=3660, description="Longest date range of a console chart, list or export."
    )
    export_max_rows: int = Field(
        default=100_000,
        ge=1,
        le=5_000_000,
        description="Most rows of one CSV export; a larger result is cut there (and the export says so).",
    )
    time_zone: str = Field(
        default="Asia/Jakarta",
        description="Time zone (IANA name) of console times for operators who have not chosen their own.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
