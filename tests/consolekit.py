"""Operators for the console tests: created and enrolled through the flows, as the CLI and the
enrolment page do, and logged in without a browser; and attempts held for review (fake engine)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import httpx
import pyotp
from sqlalchemy import select

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.types import ImageRole
from facematch.errors import LoginFailedError
from facematch.flows import processing, review
from facematch.flows.console import auth as console_auth
from facematch.flows.console import operators
from facematch.flows.console.operators import ConsoleUser, OperatorRole
from facematch.flows.context import Services
from facematch.rules import decisions
from facematch.rules.review_band import Band
from facematch.storage.models import OutboxMessage, ReviewItem, Submission
from servicekit import SECRETS, LiveServer, ServerProcess, create_partner, seed_submission


@dataclass
class OperatorCreds:
    email: str
    password: str
    role: OperatorRole
    totp_secret: str | None
    operator_id: str

    def code(self, ahead: int = 0) -> str:
        """The TOTP code of the current time step (``ahead`` steps later: a code not yet used)."""
        assert self.totp_secret is not None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.at(time.time() + ahead * totp.interval)


def make_operator(
    svc: Services, role: OperatorRole, *, enrol: bool = True, email: str | None = None
) -> OperatorCreds:
    """A new operator with a password of its own; admins and reviewers also get their TOTP set up."""
    email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@ops.example"
    password = "correct horse " + uuid.uuid4().hex[:10]
    created = operators.create_operator(svc, email, role, actor="system:test", password=password)
    SECRETS.add(password)
    creds = OperatorCreds(email, password, role, None, created.operator.id)
    if enrol and role in operators.TOTP_REQUIRED:
        step = console_auth.password_step(svc, email, password, "127.0.0.1")
        assert step.stage == console_auth.ENROL
        creds.totp_secret = console_auth.enrolment(svc, step.token).secret
        SECRETS.add(creds.totp_secret)
        console_auth.finish_enrolment(svc, step.token, creds.code(), "127.0.0.1")
    return creds


def login(svc: Services, creds: OperatorCreds, source: str = "127.0.0.1") -> str:
    """An active session token (each TOTP code is good once: a later step's code if needed)."""
    step = console_auth.password_step(svc, creds.email, creds.password, source)
    if step.stage == console_auth.ACTIVE:
        return step.token
    for ahead in (0, 1, 2):
        try:
            return console_auth.second_factor_step(svc, step.token, creds.code(ahead), source).token
        except LoginFailedError:  # the code of this step was used already: try the next one
            continue
    raise AssertionError("no TOTP code was accepted")


def console_user(svc: Services, creds: OperatorCreds) -> ConsoleUser:
    return console_auth.resolve(svc, login(svc, creds))


ENGINE = FakeEngine()


def compared(selfie_person: int, reference_person: int) -> decisions.Decision:
    selfie = ENGINE.analyze(fake_face_image(selfie_person), ImageRole.SELFIE)
    reference = ENGINE.analyze(fake_face_image(reference_person), ImageRole.REFERENCE)
    return decisions.matched(ENGINE.compare_analyses(selfie, reference))


def partner_with_band(svc: Services, band: Band | None) -> str:
    creds = create_partner(svc.db)
    if band is not None:
        review.set_policy(svc, creds.partner_id, band, actor="system:test")
    return creds.partner_id


def submit(svc: Services, partner_id: str, decision: decisions.Decision) -> str:
    """A decided attempt of ``partner_id`` (held for review when its band says so)."""
    submission_id = seed_submission(svc.db, partner_id)
    assert processing.record_decision(svc, submission_id, decision)
    return submission_id


def held(svc: Services, band: Band | None = None) -> str:
    """An attempt of a new partner held in its review band (fake engine: similarity 0.1), its
    selfie stored (a reviewer sees it)."""
    submission_id = seed_submission(
        svc.db, partner_with_band(svc, band or Band(0.05, 0.5)), selfie_blob=svc.blobs.put(fake_face_image(1))
    )
    assert processing.record_decision(svc, submission_id, compared(1, 2))
    return submission_id


def review_state(
    svc: Services, submission_id: str
) -> tuple[Submission, ReviewItem | None, list[OutboxMessage]]:
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        item = session.get(ReviewItem, submission_id)
        messages = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))
        )
        session.expunge_all()
    assert submission is not None
    return submission, item, messages


# ---------------------------------------------------------------- over HTTP

COOKIE = "__Secure-facematch-console"


def browser(live: LiveServer | ServerProcess, token: str | None = None) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=30, follow_redirects=False)
    if token:
        client.cookies.set(COOKIE, token)
    return client


def login_form(client: httpx.Client) -> str:
    """Load the login page like a browser: keep its nonce cookie (httpx sends Secure cookies only
    over https, the test server is http) and return the form's token."""
    page = client.get("/console/login")
    for header in page.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        client.cookies.set(name, rest.split(";", 1)[0])
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)
