"""The console's second factor: TOTP (RFC 6238, 6 digits, 30 s; ``pyotp``), each code good once,
one time step of clock drift either way, and the enrolment's otpauth:// QR code."""

from __future__ import annotations

import hmac

import pyotp
import segno

ISSUER = "facematch"


def new_secret() -> str:
    return pyotp.random_base32()


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code this is (the current one or a neighbour, for clock drift)."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            return int(at // totp.interval)
    return None


def provisioning(secret: str, email: str) -> tuple[str, str]:
    """The otpauth:// URI of ``secret`` and its QR code as inline SVG."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_inline(scale=5, light="#ffffff", title="TOTP enrolment QR code")
    return uri, qr
