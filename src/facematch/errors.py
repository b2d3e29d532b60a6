"""The one exception tree of facematch. Nothing here knows about HTTP.

::

    FacematchError
    ├── ImageError                      an input image cannot be used as an image
    │   ├── EmptyImageError             zero bytes
    │   ├── ImageTooLargeError          byte or pixel cap exceeded (incl. decompression bombs)
    │   ├── UnsupportedImageFormatError not JPEG / PNG / WebP / HEIC
    │   ├── CorruptImageError           truncated, bit-flipped, undecodable
    │   ├── AnimatedImageError          more than one frame
    │   └── ImageTooSmallError          fewer pixels than any face could use
    ├── ClipError                       a liveness clip cannot be used as a video
    │   ├── EmptyClipError              zero bytes
    │   ├── ClipTooLargeError           byte, pixel or frame-count cap exceeded
    │   ├── ClipTooLongError            longer than the duration cap
    │   ├── UnsupportedClipFormatError  not WebM / MP4 / MJPEG, or a codec we do not decode
    │   └── CorruptClipError            truncated, bit-flipped, undecodable
    ├── FaceError                       the image decodes but holds no usable subject face
    │   ├── NoFaceError                 no face found
    │   ├── MultipleFacesError          a selfie with a second face of comparable size
    │   └── FaceQualityError            a face was found but fails a quality gate (reasons attached)
    ├── ModelError                      a model file is missing, altered, or cannot be loaded
    ├── RequestError                    a partner/SDK request is incomplete or invalid
    │   ├── MissingFieldError           a required header or field is empty (<NAME>_CAN_NOT_BE_EMPTY)
    │   ├── InvalidFieldError           a field has a value we do not accept (INVALID_<NAME>)
    │   ├── DuplicatePartnerSessionError  x-partner-session-id was used before
    │   ├── InvalidSubmissionTypeError  submissionType is not FACE_MATCH
    │   ├── InvalidConfirmRequestError  the confirm body is malformed
    │   ├── InvalidSubmissionIdError    a submission id that cannot be one
    │   ├── SessionUserMismatchError    the session belongs to another partner user
    │   └── LivenessRequiredError       the session asks for liveness: this path cannot give it
    │       └── LivenessClipRequiredError  a confirm before the challenge clip was uploaded
    ├── AuthError                       who is calling may not do this
    │   ├── UnauthorizedError           no, bad, expired or wrong-kind credentials or token
    │   │   └── TokenExpiredError       a token we signed, of the right kind, past its expiry
    │   ├── ForbiddenError              authenticated, but not allowed to touch this object
    │   ├── OnboardingPartnerMismatchError  x-onboarding-partner not registered for this client
    │   └── AuthThrottledError          too many wrong pass-keys from one source (retry_after)
    ├── SubmissionError                 a submission cannot do what was asked
    │   ├── SubmissionNotFoundError     unknown, or not visible to the caller
    │   ├── SubmissionStateConflictError  e.g. a second confirm
    │   ├── SubmissionQuotaExceededError  the session's attempts are used up
    │   ├── InvalidUploadArtifactError  an upload is missing or is not an acceptable image
    │   ├── UploadTooLargeError         an upload exceeds the byte cap
    │   └── CallbackNotConfiguredError  a callback to resend, but its partner has no callback URL
    ├── OutboundRequestError            an outbound HTTP request (reference fetch, callback) failed
    │   ├── DestinationNotAllowedError  refused by policy before any connection (scheme, host, address)
    │   ├── FetchTimeoutError           the connect timeout or the total deadline passed
    │   ├── FetchConnectionError        no connection, or the peer broke HTTP
    │   ├── ResponseTooLargeError       the decoded body exceeds the byte cap
    │   └── UpstreamStatusError         an unexpected HTTP status (any 3xx: redirects are never followed)
    ├── ReferenceFetchError             the partner's reference image could not be obtained (``kind``)
    │   ├── ReferenceNotAllowedError    NOT_ALLOWED
    │   ├── ReferenceTimeoutError       TIMEOUT
    │   ├── ReferenceConnectionError    CONNECTION
    │   ├── ReferenceTooLargeError      TOO_LARGE
    │   ├── ReferenceStatusError        HTTP_STATUS
    │   └── ReferenceNotAnImageError    NOT_AN_IMAGE
    ├── BlobKeyError                    the image-store key is missing or malformed
    ├── BlobNotFoundError               no stored image with this id (or it does not decrypt)
    ├── ServiceUnavailableError         the engine or database is not ready
    │   ├── ServiceBusyError            no analysis slot freed up in time (retry_after)
    │   ├── DeadlineExceededError       a synchronous compare ran past its deadline
    │   └── BlobStoreUnavailableError   the image store is unreachable, slow or failing (retry_after)
    │       └── BlobStoreRefusedError   it answers but refuses: no such bucket, credentials refused
    ├── RateLimitedError                a partner sends more requests than its rate allows (retry_after)
    │   └── PartnerBusyError            a partner holds its whole share of the image analyses (retry_after)
    ├── WebError                        the hosted web flow (H5 app) cannot go on
    │   ├── WebSessionError             no, invalid, or wrong-flow web session (INVALID_SESSION)
    │   │   └── WebSessionExpiredError  the web session or launch link ran out (SESSION_EXPIRED)
    │   ├── HandoffLinkError            a Smart QR link that is used, expired or unknown (LINK_EXPIRED)
    │   ├── CaptureRejectedError        a capture without a usable face; no submission made (hint attached)
    │   ├── LivenessChallengeError      a frame or selfie for no, another or a spent challenge (refused)
    │   └── CaptureLimitError           the session sent too many photos without a usable face
    └── ConsoleError                    the operator console refuses a request
        ├── LoginFailedError            wrong e-mail, password or second-factor code (never says which)
        ├── LoginThrottledError         too many failed logins from a source or for an account (retry_after)
        ├── ConsoleSessionError         no operator session, or one that ended (SESSION_REQUIRED)
        │   └── ConsoleSessionExpiredError  the session ran past its idle or absolute timeout
        ├── CsrfError                   a state change without the session's CSRF token, or cross-origin
        ├── PermissionDeniedError       the operator's role does not allow this
        ├── PasswordChangeRequiredError a generated password opens nothing but its own change
        ├── OperatorExistsError         an operator with this e-mail exists
        ├── OperatorNotFoundError       no such operator
        ├── PartnerNotFoundError        no such partner
        ├── ReviewNotFoundError         no such review-queue item
        ├── ReviewConflictError         the item was already decided (by someone else, or by its deadline)
        └── ReviewClaimedError          another reviewer has the item open (their claim is live)

Every class carries a stable UPPER_SNAKE ``code``; the API maps classes to HTTP and to the
OneKYC code/cause pairs in one table, the CLI prints ``code: message``.
Later layers add their own branches (authentication, submissions, ...) under ``FacematchError``.
"""

from __future__ import annotations


class FacematchError(Exception):
    """Root of every error facematch raises on purpose."""

    code: str = "FACEMATCH_ERROR"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ImageError(FacematchError):
    """The input cannot be used as an image."""

    code = "INVALID_IMAGE"
    #: which input failed ("selfie" / "reference"), set by whoever knows it
    role: str | None = None


class EmptyImageError(ImageError):
    """The image is empty (zero bytes)."""

    code = "EMPTY_IMAGE"


class ImageTooLargeError(ImageError):
    """The image exceeds the byte or pixel limit."""

    code = "IMAGE_TOO_LARGE"


class UnsupportedImageFormatError(ImageError):
    """The image format is not supported (JPEG, PNG, WebP and HEIC are)."""

    code = "UNSUPPORTED_IMAGE_FORMAT"


class CorruptImageError(ImageError):
    """The image is truncated or corrupt and cannot be decoded."""

    code = "CORRUPT_IMAGE"


class AnimatedImageError(ImageError):
    """The image has more than one frame; a single still image is required."""

    code = "ANIMATED_IMAGE"


class ImageTooSmallError(ImageError):
    """The image is too small to hold a usable face."""

    code = "IMAGE_TOO_SMALL"


class ClipError(FacematchError):
    """The liveness clip cannot be used as a video."""

    code = "INVALID_CLIP"


class EmptyClipError(ClipError):
    """The clip is empty (zero bytes)."""

    code = "EMPTY_CLIP"


class ClipTooLargeError(ClipError):
    """The clip exceeds the byte, pixel or frame-count limit."""

    code = "CLIP_TOO_LARGE"


class ClipTooLongError(ClipError):
    """The clip lasts longer than the limit."""

    code = "CLIP_TOO_LONG"


class UnsupportedClipFormatError(ClipError):
    """The clip format is not supported (WebM, MP4 and MJPEG with VP8, VP9, AV1, H.264, HEVC or
    MJPEG video are)."""

    code = "UNSUPPORTED_CLIP_FORMAT"


class CorruptClipError(ClipError):
    """The clip is truncated or corrupt and cannot be decoded."""

    code = "CORRUPT_CLIP"


class FaceError(FacematchError):
    """The image holds no usable subject face."""

    code = "FACE_ERROR"
    #: which input failed ("selfie" / "reference"), set by whoever knows it
    role: str | None = None


class NoFaceError(FaceError):
    """No face was found in the image."""

    code = "NO_FACE"


class MultipleFacesError(FaceError):
    """More than one face of comparable size was found; a selfie must show one person."""

    code = "MULTIPLE_FACES"


class FaceQualityError(FaceError):
    """A face was found but its quality is too low to compare reliably."""

    code = "FACE_QUALITY"

    def __init__(self, message: str = "", *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message or f"face quality too low: {', '.join(reasons)}")
        self.reasons = reasons
        if reasons:
            self.code = reasons[0]


class ModelError(FacematchError):
    """A model file is missing, does not match its manifest, or cannot be loaded."""

    code = "MODEL_ERROR"


def _upper_snake(name: str) -> str:
    """``successRedirectionUrl`` → ``SUCCESS_REDIRECTION_URL``, ``x-sdk-session-id`` → ``X_SDK_SESSION_ID``"""
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and name[i - 1].islower():
            out.append("_")
        out.append("_" if char in "- " else char.upper())
    return "".join(out)


class RequestError(FacematchError):
    """The request is incomplete or invalid."""

    code = "INVALID_REQUEST"


class MissingFieldError(RequestError):
    """A required header or field is missing or empty; ``code`` is ``<NAME>_CAN_NOT_BE_EMPTY``."""

    def __init__(self, name: str, *, code: str | None = None) -> None:
        self.field = name
        cause = code or f"{_upper_snake(name)}_CAN_NOT_BE_EMPTY"
        super().__init__(f"{name} is required", code=cause)


class InvalidFieldError(RequestError):
    """A field has a value we do not accept; ``code`` is ``INVALID_<NAME>``."""

    def __init__(self, name: str, message: str = "", *, code: str | None = None) -> None:
        self.field = name
        cause = code or f"INVALID_{_upper_snake(name)}"
        super().__init__(message or f"{name} is invalid", code=cause)


class DuplicatePartnerSessionError(RequestError):
    """This x-partner-session-id was already used by the partner."""

    code = "DUPLICATE_PARTNER_SESSION_ID"


class InvalidSubmissionTypeError(RequestError):
    """submissionType must be FACE_MATCH."""

    code = "INVALID_SUBMISSION_TYPE"


class InvalidConfirmRequestError(RequestError):
    """The confirm-upload body is malformed."""

    code = "INVALID_CONFIRM_UPLOAD_REQUEST"


class InvalidSubmissionIdError(RequestError):
    """The submission id is not well formed."""

    code = "INVALID_SUBMISSION_ID"


class SessionUserMismatchError(RequestError):
    """The partner session belongs to another partner user."""

    code = "PARTNER_SESSION_ID_DOES_NOT_BELONG_TO_THE_USER"


class LivenessRequiredError(RequestError):
    """The session asks for liveness (its partner's setting or Initiate Flow's
    ``additionalDetails.liveness``): use the presigned uploads with the challenge clip."""

    code = "LIVENESS_REQUIRED"


class LivenessClipRequiredError(LivenessRequiredError):
    """The session asks for liveness: upload the challenge clip (the LIVENESS document) with its
    nonce before confirming."""

    code = "LIVENESS_CLIP_REQUIRED"


class AuthError(FacematchError):
    """The caller may not do this."""

    code = "UNAUTHORIZED"


class UnauthorizedError(AuthError):
    """Missing, wrong, expired or wrong-kind credentials or token."""

    code = "UNAUTHORIZED"


class TokenExpiredError(UnauthorizedError):
    """A token we signed, of the right kind, that has expired."""

    code = "TOKEN_EXPIRED"


class ForbiddenError(AuthError):
    """Authenticated, but not allowed to act on this object."""

    code = "FORBIDDEN"


class OnboardingPartnerMismatchError(AuthError):
    """The x-onboarding-partner value is not registered for this client."""

    code = "ONBOARDING_PARTNER_DOES_NOT_BELONG_TO_CLIENT"


class AuthThrottledError(AuthError):
    """Too many wrong pass-keys from this source; try again later."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SubmissionError(FacematchError):
    """The submission cannot do what was asked."""

    code = "SUBMISSION_ERROR"


class SubmissionNotFoundError(SubmissionError):
    """The submission does not exist or is not visible to the caller."""

    code = "SUBMISSION_DOES_NOT_EXIST"


class SubmissionStateConflictError(SubmissionError):
    """The submission is not in a state that allows this (e.g. a second confirm)."""

    code = "SUBMISSION_STATE_CONFLICT"


class CallbackNotConfiguredError(SubmissionError):
    """The partner has no callback URL: set one before sending its callbacks."""

    code = "CALLBACK_NOT_CONFIGURED"


class SubmissionQuotaExceededError(SubmissionError):
    """The partner session has used all its attempts."""

    code = "SUBMISSION_QUOTA_EXCEEDED"


class InvalidUploadArtifactError(SubmissionError):
    """An upload is missing, or it is not an acceptable image."""

    code = "INVALID_UPLOAD_ARTIFACT"


class UploadTooLargeError(SubmissionError):
    """The upload exceeds the byte cap."""

    code = "PAYLOAD_TOO_LARGE"


class RateLimitedError(FacematchError):
    """Too many requests from this partner; try again later."""

    code = "TOO_MANY_REQUESTS"

    def __init__(self, retry_after_s: int, message: str = "") -> None:
        super().__init__(message or f"rate limit exceeded; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class PartnerBusyError(RateLimitedError):
    """This partner already holds its whole share of the service's image analyses; try again shortly.

    Other partners are not affected: their requests have a share of their own."""

    code = "PARTNER_CAPACITY_EXCEEDED"

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__(
            retry_after_s, f"this partner's share of image analyses is in use; retry after {retry_after_s} s"
        )


class ServiceUnavailableError(FacematchError):
    """The service is not ready (engine not loaded, database unreachable)."""

    code = "SERVICE_UNAVAILABLE"


class ServiceBusyError(ServiceUnavailableError):
    """The service is at its limit of image analyses; try again shortly."""

    code = "SERVICE_BUSY"

    def __init__(self, message: str = "", *, retry_after_s: int = 1) -> None:
        super().__init__(message or "the service is busy; retry shortly")
        self.retry_after_s = retry_after_s


class DeadlineExceededError(ServiceUnavailableError):
    """A synchronous compare did not finish within its deadline; nothing was recorded."""

    code = "DEADLINE_EXCEEDED"

    def __init__(self, message: str = "", *, retry_after_s: int = 1) -> None:
        super().__init__(message or "the compare did not finish in time; nothing was recorded, retry")
        self.retry_after_s = retry_after_s


class BlobKeyError(FacematchError):
    """The blob encryption key is missing or malformed."""

    code = "BLOB_KEY_ERROR"


class BlobNotFoundError(FacematchError):
    """No blob with this id (or it cannot be decrypted with the configured keys)."""

    code = "BLOB_NOT_FOUND"


class BlobStoreUnavailableError(ServiceUnavailableError):
    """The image store could not be used: unreachable, too slow, or failing (after its retries).

    The message says which operation failed and why in words safe to show a partner (no endpoint,
    bucket or credential); the underlying client error is chained for the logs.
    """

    code = "BLOB_STORE_UNAVAILABLE"

    def __init__(self, message: str = "", *, retry_after_s: int = 5) -> None:
        super().__init__(message or "the image store is unavailable")
        self.retry_after_s = retry_after_s


class BlobStoreRefusedError(BlobStoreUnavailableError):
    """The image store answers but refuses the request: the bucket does not exist, or the
    credentials or their permissions are not accepted (a configuration problem, not an outage)."""

    code = "BLOB_STORE_REFUSED"


class OutboundRequestError(FacematchError):
    """An outbound HTTP request (reference image fetch, callback delivery) failed.

    Messages are safe to show a partner: they never say whether an internal address or port answered.
    """

    code = "OUTBOUND_REQUEST_FAILED"


class DestinationNotAllowedError(OutboundRequestError):
    """The destination was refused by policy before any connection was attempted."""

    code = "DESTINATION_NOT_ALLOWED"


class FetchTimeoutError(OutboundRequestError):
    """The remote server did not answer within the connect timeout or the total deadline."""

    code = "FETCH_TIMEOUT"


class FetchConnectionError(OutboundRequestError):
    """The remote server could not be reached, or its response was not valid HTTP."""

    code = "FETCH_CONNECTION_FAILED"


class ResponseTooLargeError(OutboundRequestError):
    """The response body exceeds the byte cap (counted after decompression)."""

    code = "RESPONSE_TOO_LARGE"


class UpstreamStatusError(OutboundRequestError):
    """The remote server answered with an HTTP status we cannot use (redirects are never followed)."""

    code = "UPSTREAM_STATUS"

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"the remote server answered HTTP {status}")
        self.status = status


class ReferenceFetchError(FacematchError):
    """The partner's reference image could not be obtained.

    ``kind`` is a stable UPPER_SNAKE word reported with ``DOCUMENT_NOT_FOUND``; the partner's own
    response body is never carried.
    """

    code = "REFERENCE_FETCH_FAILED"
    kind: str = "UNKNOWN"


class ReferenceNotAllowedError(ReferenceFetchError):
    """The reference image URL is not allowed (scheme, host allowlist, or a non-public address)."""

    code = "REFERENCE_NOT_ALLOWED"
    kind = "NOT_ALLOWED"


class ReferenceTimeoutError(ReferenceFetchError):
    """The reference image server did not answer in time."""

    code = "REFERENCE_TIMEOUT"
    kind = "TIMEOUT"


class ReferenceConnectionError(ReferenceFetchError):
    """The reference image server could not be reached or broke HTTP."""

    code = "REFERENCE_CONNECTION_FAILED"
    kind = "CONNECTION"


class ReferenceTooLargeError(ReferenceFetchError):
    """The reference image response exceeds the byte cap."""

    code = "REFERENCE_TOO_LARGE"
    kind = "TOO_LARGE"


class ReferenceStatusError(ReferenceFetchError):
    """The reference image server answered with a non-success HTTP status."""

    code = "REFERENCE_HTTP_STATUS"
    kind = "HTTP_STATUS"

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"the reference image server answered HTTP {status}")
        self.status = status


class ReferenceNotAnImageError(ReferenceFetchError):
    """The reference image response is neither an image nor JSON holding a base64 image."""

    code = "REFERENCE_NOT_AN_IMAGE"
    kind = "NOT_AN_IMAGE"


class WebError(FacematchError):
    """The hosted web flow cannot go on."""

    code = "WEB_ERROR"


class WebSessionError(WebError):
    """The web session is missing, invalid, or not for this flow."""

    code = "INVALID_SESSION"


class WebSessionExpiredError(WebSessionError):
    """The web session or the launch link has expired."""

    code = "SESSION_EXPIRED"


class HandoffLinkError(WebError):
    """This QR link was already used, has expired, or does not exist."""

    code = "LINK_EXPIRED"


class CaptureRejectedError(WebError):
    """The captured photo holds no usable face; nothing was submitted."""

    code = "CAPTURE_REJECTED"

    def __init__(self, hint: str) -> None:
        super().__init__(f"no usable face in the capture: {hint}")
        self.hint = hint


class LivenessChallengeError(WebError):
    """A challenge frame or selfie that answers no challenge of this session, another one, or one
    that is over (past its deadline, its frames or its bytes); nothing was stored."""

    code = "LIVENESS_CHALLENGE_REFUSED"


class CaptureLimitError(WebError):
    """This web session sent too many photos without a usable face; it takes no more."""

    code = "TOO_MANY_CAPTURES"


class ConsoleError(FacematchError):
    """The operator console refuses this request."""

    code = "CONSOLE_ERROR"


class LoginFailedError(ConsoleError):
    """The e-mail, password or code is wrong, or the account is disabled."""

    code = "LOGIN_FAILED"


class LoginThrottledError(ConsoleError):
    """Too many failed logins; try again later."""

    code = "TOO_MANY_LOGIN_ATTEMPTS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ConsoleSessionError(ConsoleError):
    """Log in to use the console."""

    code = "SESSION_REQUIRED"


class ConsoleSessionExpiredError(ConsoleSessionError):
    """The session has ended; log in again."""

    code = "SESSION_EXPIRED"


class CsrfError(ConsoleError):
    """The request was refused: it did not come from a console page of this session."""

    code = "CSRF_REJECTED"


class PermissionDeniedError(ConsoleError):
    """Your role does not allow this."""

    code = "PERMISSION_DENIED"


class OperatorExistsError(ConsoleError):
    """An operator with this e-mail already exists."""

    code = "OPERATOR_EXISTS"


class OperatorNotFoundError(ConsoleError):
    """No such operator."""

    code = "OPERATOR_NOT_FOUND"


class PartnerNotFoundError(ConsoleError):
    """No such partner."""

    code = "PARTNER_NOT_FOUND"


class ReviewNotFoundError(ConsoleError):
    """No such review-queue item."""

    code = "REVIEW_NOT_FOUND"


class ReviewConflictError(ConsoleError):
    """This item has already been decided."""

    code = "REVIEW_ALREADY_DECIDED"

    def __init__(self, message: str = "", *, decided_by: str | None = None) -> None:
        super().__init__(message)
        self.decided_by = decided_by


class PasswordChangeRequiredError(ConsoleError):
    """The password was generated for you: choose your own before you use the console."""

    code = "PASSWORD_CHANGE_REQUIRED"


class ReviewClaimedError(ConsoleError):
    """Another reviewer has this item open; it is theirs until their claim ends."""

    code = "REVIEW_CLAIMED"
