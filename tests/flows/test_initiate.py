"""Initiate Flow's liveness option: a session asks for the challenge, and cannot turn off what its
partner requires."""

from __future__ import annotations

import uuid

import pytest

from facematch.flows import gateway
from facematch.flows.context import Services
from facematch.flows.initiate import InitiateRequest, initiate_flow
from facematch.rules.states import LivenessMode
from facematch.storage import submission_repo
from servicekit import ONBOARDING, create_partner


def _session_liveness(svc: Services, partner_liveness: str, asked: str | None) -> LivenessMode:
    creds = create_partner(svc.db, liveness=partner_liveness)
    token = gateway.partner_token(
        svc, client_id=creds.client_id, pass_key=creds.passkey, source="127.0.0.1"
    ).token
    psid = str(uuid.uuid4())
    details = {} if asked is None else {"liveness": asked}
    initiate_flow(
        svc,
        InitiateRequest(
            token,
            ONBOARDING,
            "u",
            "T",
            psid,
            {"flow": "FACE_MATCH", "source": "SDK", "additionalDetails": details},
        ),
    )
    with svc.db.session() as session:
        flow_session = submission_repo.flow_session_by_psid(creds.partner_id, psid, session=session)
        assert flow_session is not None
        return flow_session.liveness


@pytest.mark.parametrize(
    ("partner", "asked", "expected"),
    [
        ("off", None, LivenessMode.OFF),
        ("off", "off", LivenessMode.OFF),
        ("off", "active", LivenessMode.ACTIVE),
        ("active", None, LivenessMode.ACTIVE),
        ("active", "off", LivenessMode.ACTIVE),
    ],
)
def test_a_session_asks_for_liveness_and_cannot_turn_off_its_partners(
    fake_services: Services, partner: str, asked: str | None, expected: LivenessMode
) -> None:
    assert _session_liveness(fake_services, partner, asked) is expected
