"""The contract's request and response bodies as pydantic models, with the published names and casing.

Responses go through these models (``response_model`` with ``exclude_unset``), so a field that an
answer leaves out stays out and the bytes are what the flows produced; every model allows extra
fields, as the contract's schemas do. Request models only document: the flows validate requests
themselves, so that a bad value gets the contract's own code and cause.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facematch.rules.states import Flow, Locale, Source, Theme


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- envelopes of errors


class ErrorItem(Model):
    code: str = Field(description="The contract's error code, a string (e.g. `1539`).")
    cause: str = Field(description="UPPER_SNAKE cause, e.g. `X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY`.")
    entity: str | None = Field(default=None, description="`ONEKYC_TOKEN_SERVICE` on the token gateway.")


class ErrorItemIntegerCode(Model):
    code: int = Field(description="The contract's error code; an integer on this endpoint, as published.")
    cause: str
    entity: str | None = None


class ErrorEnvelope(Model):
    success: Literal[False]
    errors: list[ErrorItem]
    data: None = None


class ErrorEnvelopeIntegerCode(Model):
    success: Literal[False]
    errors: list[ErrorItemIntegerCode]
    data: None = None


# ---------------------------------------------------------------- token gateway


class TokenData(Model):
    token: str = Field(description="The JWT, sent as `x-onekyc-token` (no `Bearer` prefix).")
    expiry_seconds: str = Field(description="Lifetime in seconds, as a string.")
    expires_at: str = Field(description="Expiry, epoch seconds, as a string.")


class TokenResponse(Model):
    success: bool
    data: TokenData


# ---------------------------------------------------------------- initiate flow


class AdditionalDetails(Model):
    referenceImageUrl: str | None = Field(
        default=None, description="Where facematch GETs the reference image at processing time."
    )
    userLocale: Locale = Locale.ID
    allowQr: bool | None = Field(default=None, description="Smart QR when the device has no camera.")
    forceQr: bool | None = Field(default=None, description="Smart QR always.")
    portraitOnly: bool = True
    liveness: Literal["off", "active"] | None = Field(
        default=None,
        description="Our extension: `active` asks this session for a head-move challenge before each "
        "selfie (docs/liveness.md); `off` (or absent) leaves the partner's setting, which a session "
        "cannot turn off.",
    )


class InitiateFlowRequest(Model):
    flow: Flow
    source: Literal[Source.SDK, Source.WEB_SDK]
    successRedirectionUrl: str | None = Field(default=None, description="Required for `WEB_SDK`.")
    failureRedirectionUrl: str | None = Field(default=None, description="Required for `WEB_SDK`.")
    theme: Theme = Theme.NO_PREFERENCE
    additionalDetails: AdditionalDetails | None = None


class InitiateFlowData(Model):
    expirySeconds: str
    expiresAt: str
    token: str | None = Field(default=None, description="`source: SDK` only: a user token for this session.")
    launchUrl: str | None = Field(default=None, description="`source: WEB_SDK` only: open it for the user.")


class InitiateFlowResponse(Model):
    success: bool
    data: InitiateFlowData


# ---------------------------------------------------------------- submissions (user token)


class DocumentSlot(Model):
    documentUrl: str = Field(description="Signed PUT URL for the raw image bytes.")
    documentReference: str
    expiryInSeconds: str
    method: str = Field(description="Always `PUT` (our addition).")
    maxBytes: str = Field(description="Largest accepted upload (our addition).")


class PresignedDocuments(Model):
    SELFIE: DocumentSlot
    REFERENCE: DocumentSlot
    LIVENESS: DocumentSlot | None = Field(
        default=None,
        description="Our addition, only when the session asks for liveness: the challenge clip (WebM, "
        "MP4 or MJPEG, at most 10 s and 5 MB), sent with the challenge's nonce in `x-liveness-nonce`.",
    )


class LivenessClip(Model):
    formats: list[Literal["webm", "mp4", "mjpeg"]]
    maxBytes: int
    maxSeconds: float


class LivenessChallenge(Model):
    """Our addition: the head-move challenge the clip must show, in order."""

    version: str = Field(description="The verdict's algorithm, e.g. `active-1`.")
    nonce: str = Field(description="Send it with the clip (`x-liveness-nonce`).")
    moves: list[Literal["TURN_LEFT", "TURN_RIGHT", "COME_CLOSER"]] = Field(
        description="In order; directions are the user's own (`TURN_LEFT`: the user turns to their left)."
    )
    moveWithinSeconds: float = Field(description="Each move within this long of the one before.")
    issuedAt: str
    deadline: str = Field(description="The clip (and the selfie) must arrive by then.")
    clip: LivenessClip


class PresignedData(Model):
    submissionId: str
    status: str
    documents: PresignedDocuments
    liveness: LivenessChallenge | None = Field(
        default=None, description="Our addition, only when the session asks for liveness."
    )


class PresignedResponse(Model):
    success: bool
    data: PresignedData


class UploadData(Model):
    documentReference: str
    status: str


class UploadResponse(Model):
    success: bool
    data: UploadData


class ConfirmRequest(Model):
    submissionId: str
    metadata: dict[str, object] | None = None


class UiMessage(Model):
    title: str
    message: str


class ConfirmData(Model):
    submissionId: str
    uiMessages: dict[str, UiMessage] | None = None


class ConfirmResponse(Model):
    success: bool
    data: ConfirmData


class Attempt(Model):
    """One decided attempt of a session that is between attempts (our addition)."""

    attempt: int
    submissionId: str
    result: str | None
    reasonCode: str
    processedAt: str | None


class VerificationResult(Model):
    isApproved: bool
    riskLevel: Literal["LOW", "MEDIUM", "HIGH"]


class DocumentStatus(Model):
    status: Literal["PENDING", "UPLOADED", "VERIFIED", "INVALID", "REJECTED"]
    documentReference: str | None


class StatusDocuments(Model):
    SELFIE: DocumentStatus
    REFERENCE: DocumentStatus


class StatusData(Model):
    submissionId: str
    status: Literal["INITIATED", "IN_PROGRESS", "PARTIALLY_COMPLETED", "COMPLETED", "ERROR"]
    reviewRequired: bool = Field(
        description="Our addition: true while the attempt waits for a reviewer (status IN_PROGRESS)."
    )
    submissionType: str
    createdAt: str | None
    completedAt: str | None
    verificationResult: VerificationResult | None
    result: str | None
    reasonCode: str | None
    errorMessage: str | None
    documents: StatusDocuments
    nextAction: Literal["RETRY", "STATUS", "EXIT"] | None = Field(description="Our addition.")
    attemptsUsed: int
    attemptsRemaining: int
    attempts: list[Attempt] | None = Field(
        default=None, description="While the session is between attempts: each decided attempt."
    )
    environment: Literal["sandbox"] | None = Field(default=None, description="Only for a sandbox partner.")


class StatusResponse(Model):
    success: bool
    data: StatusData


# ---------------------------------------------------------------- submission details (partner token)


class FaceMatch(Model):
    score: float
    result: bool
    version: str
    threshold: float | None = Field(default=None, description="Our addition: the decision threshold.")
    far: float | None = Field(default=None, description="Our addition: the false-accept rate at it.")
    calibrationBand: str | None = Field(
        default=None,
        description="Our addition: the calibration band (by the poorer face's size) whose threshold "
        "and false-accept rate apply to this pair (`general`, or a small-face band).",
    )
    decidedBy: Literal["ENGINE", "REVIEW", "REVIEW_DEADLINE"] | None = Field(
        default=None,
        description="Our addition: who decided: the engine, a reviewer (review band), or the review "
        "deadline's default outcome.",
    )
    engineResult: bool | None = Field(
        default=None, description="Our addition, after a review: what the engine alone had said."
    )
    reviewerId: str | None = Field(
        default=None, description="Our addition, after a review: the reviewer's id (null for a deadline)."
    )
    reviewedAt: str | None = Field(default=None, description="Our addition, after a review: when.")


class DocumentValidation(Model):
    verificationResult: bool
    verificationReasonCode: str


class ReferenceImageValidation(Model):
    ktp: DocumentValidation


class LivenessCheck(Model):
    name: Literal["NONCE", "TIMING", "CADENCE", "ONE_FACE", "MOVES", "DEPTH", "SAME_PERSON", "FLAT_TEXTURE"]
    passed: bool
    value: float = Field(description="What the check measured (docs/liveness.md, The verdict).")


class Liveness(Model):
    result: bool = Field(description="Whether the head-move challenge showed a live person.")
    version: str = Field(description="The verdict's algorithm, e.g. `active-1`.")
    checks: list[LivenessCheck] = Field(description="Our addition: each check of the verdict.")


class VerificationResults(Model):
    faceMatch: FaceMatch | None = None
    liveness: Liveness | None = Field(
        default=None,
        description="Only when the session asked for liveness (the partner's setting or Initiate Flow's "
        "`additionalDetails.liveness`); with `NOT_LIVE` it comes without `faceMatch`.",
    )
    referenceImageValidation: ReferenceImageValidation | None = None


class ReferenceImage(Model):
    found: bool
    failureKind: str


class Forced(Model):
    forcedOutcome: str


class ImageUrls(Model):
    selfie: str = Field(description="Signed URL of the stored selfie, valid for a few minutes.")


class SubmissionDetails(Model):
    verificationResults: VerificationResults | None = None
    selfieValidation: DocumentValidation | None = None
    referenceImage: ReferenceImage | None = None
    sandbox: Forced | None = None
    imageUrls: ImageUrls | None = None


class DetailsData(Model):
    status: Literal["COMPLETED", "ERROR", "IN_PROGRESS"]
    submissionId: str
    flow: str
    partnerSessionId: str
    userId: str
    userIdType: str
    environment: Literal["sandbox"] | None = Field(default=None, description="Only for a sandbox partner.")
    result: Literal["VALID", "INVALID"] | None = None
    reasonCode: str | None = None
    processedAt: str | None = None
    reviewRequired: bool | None = Field(
        default=None,
        description="Our addition: true while a final non-match in the partner's review band waits for "
        "a reviewer (status IN_PROGRESS).",
    )
    submissionDetails: SubmissionDetails | None = None
    attempts: list[Attempt] | None = Field(
        default=None, description="While the session is between attempts: each decided attempt."
    )


class DetailsResponse(Model):
    success: bool
    data: DetailsData


class FaceMatchJson(Model):
    selfie: str = Field(description="The selfie, base64 (a `data:` URI prefix is allowed).")
    reference: str = Field(description="The reference image, base64.")


# ---------------------------------------------------------------- operations


class Health(Model):
    status: str


class Readiness(Model):
    status: str
    database: bool
    engine: bool | None = Field(description="null: the process analyses no images and needs no engine")
    blobs: bool = Field(description="whether the image store answers (does not decide readiness)")
