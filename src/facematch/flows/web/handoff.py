"""Smart QR handoff: a single-use link that moves one web flow from a desktop to a phone.

The desktop asks for a code; the QR holds ``<public_url>/web/h/<code>``. The code is 192 random bits,
stored only as its SHA-256, valid for at most ``web.handoff_ttl_s`` (≤ 10 minutes) and redeemed at
most once: one ``UPDATE ... WHERE used_at IS NULL AND expires_at > now`` decides, so of many parallel
opens exactly one wins. A new code supersedes the unused ones of the same flow.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import segno

from facematch.errors import HandoffLinkError
from facematch.flows import partners
from facematch.flows.context import Services
from facematch.storage import handoff_repo, partner_repo
from facematch.storage.models import FlowSession, Handoff


class HandoffState(StrEnum):
    """What the desktop shows: no code yet, waiting for the phone, phone took over, code expired."""

    NONE = "NONE"
    WAITING = "WAITING"
    REDEEMED = "REDEEMED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class IssuedHandoff:
    link: str
    expires_at: datetime
    qr_image: str  # a data: URI of the QR image (PNG)

    @property
    def expires_at_epoch(self) -> int:
        return int(self.expires_at.timestamp())


@dataclass(frozen=True, slots=True)
class RedeemedHandoff:
    flow_session_id: str
    token_generation: int


@dataclass(frozen=True, slots=True)
class HandoffStatus:
    state: HandoffState
    expires_at: datetime | None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def qr_data_uri(link: str) -> str:
    """The link as a QR code (error correction M, quiet zone 4): a PNG ``data:`` URI."""
    qr = segno.make(link, error="m", micro=False)
    return str(qr.png_data_uri(scale=6, border=4, dark="#000000", light="#ffffff"))


def create_handoff(svc: Services, flow_session_id: str, *, generation: int) -> IssuedHandoff:
    """A fresh code for ``flow_session_id``; unused older codes of that flow stop working.
    ``generation``: the partner token generation of the desktop session asking for it."""
    now = svc.clock.now()
    code = secrets.token_urlsafe(24)
    expires_at = now + timedelta(seconds=svc.settings.web.handoff_ttl_s)
    with svc.db.session() as session:
        handoff_repo.expire_unused(flow_session_id, now, session=session)
        session.add(
            Handoff(
                id=str(uuid.uuid4()),
                session_id=flow_session_id,
                token_hash=_digest(code),
                token_generation=generation,
                created_at=now,
                expires_at=expires_at,
            )
        )
    link = svc.links.handoff(code)
    return IssuedHandoff(link=link, expires_at=expires_at, qr_image=qr_data_uri(link))


def redeem_handoff(svc: Services, code: str) -> RedeemedHandoff:
    """Use the code once. Used, expired or unknown: HandoffLinkError; likewise a code minted under
    a token generation the partner has revoked since (a pass-key rotation, a disable), like every
    token of that generation."""
    now = svc.clock.now()
    if not code or len(code) > 100:
        raise HandoffLinkError()
    with svc.db.session() as session:
        claimed = handoff_repo.redeem(_digest(code), now, session=session)
        if claimed is None:
            raise HandoffLinkError()
        flow_session_id, generation = claimed
        flow_session = session.get(FlowSession, flow_session_id)
        partner = (
            partner_repo.partner_by_id(flow_session.partner_id, session=session) if flow_session else None
        )
        if partner is None or partner.disabled or not partners.token_is_current(partner, {"gen": generation}):
            raise HandoffLinkError()
    return RedeemedHandoff(flow_session_id, generation)


def flow_of_code(svc: Services, code: str) -> str | None:
    """The flow session a code was made for, used, expired or not (only to pick a language)."""
    if not code or len(code) > 100:
        return None
    with svc.db.session() as session:
        return handoff_repo.flow_of(_digest(code), session=session)


def cancel_handoffs(svc: Services, flow_session_id: str) -> None:
    """The desktop takes the flow back: the flow's unused codes stop working."""
    with svc.db.session() as session:
        handoff_repo.expire_unused(flow_session_id, svc.clock.now(), session=session)


def handoff_status(svc: Services, flow_session_id: str) -> HandoffStatus:
    """The state of the flow's newest code."""
    now = svc.clock.now()
    with svc.db.session() as session:
        latest = handoff_repo.latest(flow_session_id, session=session)
        if latest is None:
            return HandoffStatus(HandoffState.NONE, None)
        used = handoff_repo.any_used(flow_session_id, session=session)
    if used:
        return HandoffStatus(HandoffState.REDEEMED, latest.expires_at)
    if latest.expires_at <= now:
        return HandoffStatus(HandoffState.EXPIRED, latest.expires_at)
    return HandoffStatus(HandoffState.WAITING, latest.expires_at)
