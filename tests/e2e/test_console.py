"""The operator console in Chromium against a real facematch (real engine) and database: TOTP
enrolment, partner creation, audited image views, a borderline match decided by a reviewer with one
signed callback, the second reviewer's conflict, a viewer's limits, CSRF and cross-origin refusals,
session expiry, the dashboard against the database, and resending a dead-lettered callback.

One server, one browser and one logged-in context per operator for the whole module; each test
walks its own part. Screenshots of every page go to test-artifacts/ (docs/screenshots/ with
FACEMATCH_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from PIL import Image
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from consolekit import OperatorCreds, make_operator
from facematch.engine.types import Engine
from facematch.flows import review
from facematch.flows.console import zones
from facematch.flows.console.operators import OperatorRole
from facematch.flows.console.reports import histogram as bin_similarities
from facematch.flows.retention import purge_images
from facematch.rules.review_band import Band
from facematch.storage.models import (
    AuditEvent,
    DeliveryAttempt,
    Operator,
    OperatorSession,
    OutboxMessage,
    Partner,
    ReviewItem,
    ReviewPolicy,
    Submission,
    utcnow,
)
from imagekit import decode_qr
from partner_client import Api
from servicekit import (
    SECRETS,
    LiveServer,
    PartnerCreds,
    ReceivedRequest,
    Receiver,
    create_partner,
    live_app,
    wait_for,
)

from .browser import CHROMIUM, launch_chromium, new_page
from .clips import empty_frame
from .conftest import shot

pytestmark = pytest.mark.e2e
BORDERLINE = ("p_img21.jpg", "p_img13.jpg")  # two people; the closest non-match of ../shared/faces
SAME = ("obama.jpg", "obama2.jpg")
OTHER = ("obama.jpg", "biden.jpg")
NO_FACE = ("", "obama2.jpg")  # a selfie without a face (a plain wall, made here)


class Answers:
    """A receiver's answer, switchable by the test."""

    def __init__(self, status: int) -> None:
        self.status = status

    def __call__(self, _: Receiver, __: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        return self.status, {}, b"ok"


@dataclass
class Console:
    server: LiveServer
    faces: Path
    hooks: Receiver
    flaky: Receiver
    flaky_answers: Answers
    review_partner: PartnerCreds
    plain_partner: PartnerCreds
    flaky_partner: PartnerCreds
    plain: list[str] = field(default_factory=list)
    dead_message: str = ""

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def svc(self) -> Any:
        return self.server.services

    def api(self, creds: PartnerCreds) -> Api:
        return Api(self.server, creds, httpx.Client(base_url=self.url, timeout=30))

    def submit(self, creds: PartnerCreds, pair: tuple[str, str], psid: str | None = None) -> tuple[str, str]:
        """A backend-to-backend attempt with two photos; returns (partner session id, submission id)."""
        client = self.api(creds)
        images = self.faces / "images"
        selfie = (images / pair[0]).read_bytes() if pair[0] else _wall()
        _, psid, submission_id = client.run_be_flow(selfie, (images / pair[1]).read_bytes(), psid=psid)
        client.http.close()

        def decided() -> bool:
            with self.svc.db.session() as session:
                row = session.get(Submission, submission_id)
                return row is not None and row.status in ("COMPLETED", "ERROR", "IN_REVIEW")

        wait_for(decided, timeout=60)
        return psid, submission_id

    def login(self, page: Any, creds: OperatorCreds, *, path: str = "/console/dashboard") -> None:
        """Password, then the TOTP code where the role has one (a later step's code when the
        current one was used already: each code is good once)."""
        page.goto(self.url + path)
        page.fill("#email", creds.email)
        page.fill("#password", creds.password)
        page.click("#login")
        if creds.totp_secret:
            for ahead in (0, 1, 2):
                page.fill("#code", creds.code(ahead))
                page.click("#verify")
                page.wait_for_load_state()
                if "/login/code" not in page.url:
                    break
        page.wait_for_url(f"{self.url}{path}*")

    def csrf(self, page: Any) -> str:
        return str(page.locator("input[name=csrf]").first.get_attribute("value"))

    def session_id(self, page: Any) -> str:
        [cookie] = [c for c in page.context.cookies() if c["name"].endswith("facematch-console")]
        return hashlib.sha256(cookie["value"].encode()).hexdigest()


def _wall() -> bytes:
    """A lit, faceless JPEG: what a camera pointed at a wall sends."""
    out = io.BytesIO()
    Image.fromarray(empty_frame()[:, :, ::-1]).save(out, format="JPEG")
    return out.getvalue()


def _rename(console: Console, partner_id: str, name: str) -> None:
    with console.svc.db.session() as session:
        partner = session.get(Partner, partner_id)
        assert partner is not None
        partner.name = name


def _backdate(console: Console, submission_id: str, days: int) -> None:
    """Spread the seeded history over the past days (the dashboard's charts are per day)."""
    shift = timedelta(days=days)
    with console.svc.db.session() as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        row.created_at -= shift
        row.confirmed_at = row.confirmed_at - shift if row.confirmed_at else None
        row.completed_at = row.completed_at - shift if row.completed_at else None


@pytest.fixture(scope="module")
def console(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, real_engine: Engine, faces_dir: Path
) -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is required for the e2e tests (make test installs it)")
    hooks = Receiver(Answers(200)).start()
    flaky_answers = Answers(500)
    flaky = Receiver(flaky_answers).start()
    with live_app(module_database_url, tmp_path_factory.mktemp("console"), engine=real_engine) as server:
        db = server.services.db
        stack = Console(
            server=server,
            faces=faces_dir,
            hooks=hooks,
            flaky=flaky,
            flaky_answers=flaky_answers,
            review_partner=create_partner(db, callback_url=hooks.url + "/hook"),
            plain_partner=create_partner(db, callback_url=hooks.url + "/plain"),
            flaky_partner=create_partner(db, callback_url=flaky.url + "/hook"),
        )
        # the band holds the borderline pair whatever its exact similarity with this engine
        similarity = real_engine.compare(
            *((faces_dir / "images" / name).read_bytes() for name in BORDERLINE)
        ).similarity
        assert similarity < 0.363
        band = Band(min(0.30, round(similarity - 0.02, 3)), 0.363, deadline_s=4 * 3600)
        review.set_policy(stack.svc, stack.review_partner.partner_id, band, actor="system:test")
        for partner, name in (
            (stack.review_partner, "Bank Contoh"),
            (stack.plain_partner, "Toko Contoh"),
            (stack.flaky_partner, "Pinjam Cepat"),
        ):
            _rename(stack, partner.partner_id, name)
        for days, pair in enumerate([SAME, OTHER, SAME, NO_FACE, SAME, OTHER, SAME, SAME, OTHER, SAME]):
            _, plain_id = stack.submit(stack.plain_partner, pair)
            if days:
                _backdate(stack, plain_id, days % 6)
            stack.plain.append(plain_id)
        _, dead_id = stack.submit(stack.flaky_partner, SAME)
        stack.dead_message = _dead_letter(stack, dead_id)
        yield stack
    hooks.stop()
    flaky.stop()


def _dead_letter(console: Console, submission_id: str) -> str:
    """Let the failing receiver exhaust the whole retry schedule, skipping each wait."""
    svc = console.svc

    def message() -> OutboxMessage | None:
        with svc.db.session() as session:
            return session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))

    found = wait_for(message)
    while True:
        with svc.db.session() as session:
            row = session.get(OutboxMessage, found.id)
            assert row is not None
            if row.status == "dead":
                return found.id
            made = row.attempts
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == found.id, OutboxMessage.status == "pending")
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )

        def moved(previous: int = made) -> bool:
            with svc.db.session() as session:
                row = session.get(OutboxMessage, found.id)
                return row is not None and (row.attempts > previous or row.status == "dead")

        wait_for(moved, timeout=30)


@pytest.fixture
def held(console: Console) -> tuple[str, str]:
    """A borderline match of this test's own, held in the review queue: (partner session id, id)."""
    return console.submit(console.review_partner, BORDERLINE, f"order-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def chromium(playwright_driver: Any) -> Iterator[Any]:
    browser = launch_chromium(playwright_driver, None)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def admin(console: Console, chromium: Any) -> Iterator[tuple[Any, OperatorCreds]]:
    """An admin's browser, logged in (with a second factor enrolled beforehand)."""
    creds = make_operator(console.svc, OperatorRole.ADMIN)
    page = new_page(chromium)
    page.on("dialog", lambda dialog: dialog.accept())
    console.login(page, creds)
    yield page, creds
    page.context.close()


@pytest.fixture(scope="module")
def reviewers(console: Console, chromium: Any) -> Iterator[list[tuple[Any, OperatorCreds]]]:
    pages = []
    for _ in range(2):
        creds = make_operator(console.svc, OperatorRole.REVIEWER)
        page = new_page(chromium)
        console.login(page, creds)
        pages.append((page, creds))
    yield pages
    for page, _ in pages:
        page.context.close()


@pytest.fixture(scope="module")
def viewer(console: Console, chromium: Any) -> Iterator[tuple[Any, OperatorCreds]]:
    creds = make_operator(console.svc, OperatorRole.VIEWER)
    page = new_page(chromium)
    console.login(page, creds)
    yield page, creds
    page.context.close()


def test_an_admin_enrols_totp_and_logs_in(console: Console, chromium: Any) -> None:
    creds = make_operator(console.svc, OperatorRole.ADMIN, enrol=False)
    page = new_page(chromium)
    page.goto(console.url + "/console/")
    page.wait_for_url("**/console/login?next=*")
    shot(page, "console-login", docs=True, full_page=True)
    page.fill("#email", creds.email)
    page.fill("#password", creds.password)
    page.click("#login")
    page.wait_for_url("**/console/enrol*")
    uri = decode_qr(page.locator("#totp-qr svg").screenshot())
    assert uri.startswith("otpauth://totp/facematch:") and creds.email.replace("@", "%40") in uri
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    page.click("details summary")
    assert page.locator("#totp-secret").inner_text().strip() == secret
    SECRETS.add(secret)
    shot(page, "console-enrol", docs=True, full_page=True)
    page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.click("#verify")
    assert "wrong" in page.locator("#login-error").inner_text()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#verify")
    page.wait_for_url("**/console/dashboard")
    creds.totp_secret = secret
    with console.svc.db.session() as session:
        operator = session.get(Operator, creds.operator_id)
        assert operator is not None and operator.totp_enabled_at is not None
        assert operator.totp_secret is not None and secret not in operator.totp_secret
        actions = set(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.actor == f"operator:{creds.operator_id}")
            )
        )
    assert {"login", "totp_enrol"} <= actions
    page.context.close()


def test_an_admin_creates_a_partner_and_sees_its_pass_key_once(
    console: Console, admin: tuple[Any, OperatorCreds]
) -> None:
    page, _ = admin
    page.goto(console.url + "/console/partners")
    page.click("#new-partner")
    name = f"Toko {uuid.uuid4().hex[:6]}"
    page.fill("#p-name", name)
    page.fill("#p-onboarding", "TOKO-WEB_SDK-FACE_MATCH\nTOKO-BE-FACE_MATCH")
    page.fill("#p-hosts", "img.toko.example")
    page.fill("#p-origins", "https://toko.example")
    page.fill("input[name=callback_url]", console.hooks.url + "/toko")
    shot(page, "console-partner-new", docs=True, full_page=True)
    page.click("#save-partner")
    client_id = page.locator("#client-id").inner_text().strip()
    passkey = page.locator("#pass-key").inner_text().strip()
    SECRETS.update({passkey, page.locator("#webhook-secret").inner_text().strip()})
    shot(page, "console-partner-created", docs=True, full_page=True)
    token = httpx.get(
        console.url + "/v1/coe/partner/authentication", headers={"client-id": client_id, "pass-key": passkey}
    )
    assert token.status_code == 200, token.text  # the pass-key shown is the partner's
    page.click("#done")
    assert passkey not in page.content()
    page.fill("#p-band", "0.30:0.363")
    page.click("#save-band")
    assert page.locator("#notice").inner_text() == "Review band saved."
    shot(page, "console-partner", docs=True, full_page=True)
    page.goto(console.url + "/console/partners")
    assert name in page.content() and passkey not in page.content()
    shot(page, "console-partners", docs=True, full_page=True)
    with console.svc.db.session() as session:
        partner_id = page.locator(f"tr:has-text('{name}')").get_attribute("data-partner")
        policy = session.get(ReviewPolicy, partner_id)
        assert policy is not None and (policy.band_low, policy.band_high) == (0.30, 0.363)
        actions = set(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.actor == f"operator:{_admin_id(admin)}")
            )
        )
    assert {"login", "partner_create", "review_band_set"} <= actions


def _admin_id(admin: tuple[Any, OperatorCreds]) -> str:
    return admin[1].operator_id


def test_a_reviewer_finds_a_submission_and_opens_its_images_with_a_reason(
    console: Console, reviewers: list[tuple[Any, OperatorCreds]], held: tuple[str, str]
) -> None:
    page, creds = reviewers[0]
    psid, submission_id = held
    page.goto(console.url + "/console/submissions")
    page.fill("#f-psid", psid)
    page.click("#search-button")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1 and "IN_REVIEW" in rows.first.inner_text()
    shot(page, "console-submissions", docs=True, full_page=True)
    rows.first.locator("a").click()
    assert page.locator("#psid").inner_text() == psid
    assert page.locator("svg.face").count() == 0  # no image before a reason is given
    served = []
    page.on("response", lambda r: served.append(r) if "/console/images/" in r.url else None)
    page.fill("#view-reason", "customer disputes the result (ticket 4711)")
    page.click("#view-images")
    page.locator("svg.face").nth(1).wait_for()
    for _ in range(600):  # Playwright delivers events while it is called: wait through it
        if len([r for r in served if r.status == 200]) >= 2:
            break
        page.wait_for_timeout(50)
    assert len([r for r in served if r.status == 200]) == 2
    assert all(r.headers["cache-control"] == "no-store" for r in served)
    assert (
        page.locator("svg.face rect.box").count() == 2 and page.locator("svg.face circle.mark").count() == 10
    )
    shot(page, "console-submission", docs=True, full_page=True)
    with console.svc.db.session() as session:
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "view_images", AuditEvent.submission_id == submission_id
            )
        )
        assert event is not None and event.actor == f"operator:{creds.operator_id}"
        assert event.reason == "customer disputes the result (ticket 4711)"
    # a copied image URL does not work in another session
    url = page.locator("svg.face image").first.get_attribute("href")
    other = reviewers[1][0].request.get(console.url + str(url))
    assert other.status == 403


def test_two_reviewers_race_for_one_item_and_one_decides_it_with_the_keyboard(
    console: Console, reviewers: list[tuple[Any, OperatorCreds]], held: tuple[str, str]
) -> None:
    (first, first_creds), (second, second_creds) = reviewers
    _, submission_id = held
    for page in (first, second):
        page.goto(console.url + "/console/review")
    row = f"#queue tr[data-submission='{submission_id}']"
    assert first.locator(row).count() == 1
    shot(first, "console-review-queue", docs=True, full_page=True)
    # both press "Review" at the same moment, each in a browser context of their own
    first.locator(f"{row} button[data-open]").evaluate("b => b.form.requestSubmit()")
    second.locator(f"{row} button[data-open]").evaluate("b => b.form.requestSubmit()")
    for page in (first, second):
        page.wait_for_url(f"**/console/review/{submission_id}")
        page.wait_for_load_state()
    holders = [page for page in (first, second) if page.locator("#decision-form").count() == 1]
    assert len(holders) == 1  # exactly one of them has the item
    winner = holders[0]
    loser = second if winner is first else first
    winner_creds = first_creds if winner is first else second_creds
    assert loser.locator("svg.face").count() == 0 and loser.locator("#decision-form").count() == 0
    notice = loser.locator("#claimed-by-other").inner_text()
    assert f"In review by {winner_creds.email} until" in notice and "WIB" in notice
    shot(loser, "console-review-claimed", docs=True, full_page=True)
    loser.goto(console.url + "/console/review")
    assert winner_creds.email in loser.locator(f"{row} .claim").inner_text()
    winner.locator("svg.face").nth(1).wait_for()
    assert winner.locator("#claim-left").inner_text().count(":") == 1  # the countdown runs
    shot(winner, "console-review-item", docs=True, full_page=True)
    # the keyboard: r rejects and shows the reasons, 2 picks the second, a approves and hides them
    winner.locator("h1").click()
    winner.keyboard.press("r")
    assert winner.locator("#reason-row").is_visible()
    winner.locator("h1").click()
    winner.keyboard.press("2")
    assert winner.locator("#reason-code").input_value() == "FRAUD_REJECT"
    winner.locator("h1").click()
    winner.keyboard.press("a")  # approve: the reasons go away, the focus moves to the note
    assert not winner.locator("#reason-row").is_visible()
    winner.keyboard.type("same person; the card photo is older and lit from the side")
    winner.keyboard.press("Control+Enter")  # decide and open the next item
    winner.wait_for_url(lambda url: "/console/review" in url and "decided=approve" in url)
    # the loser can no longer take it: it is decided
    denied = loser.request.post(
        f"{console.url}/console/review/{submission_id}/decision",
        form={
            "csrf": console.csrf(loser),
            "outcome": "reject",
            "reason_code": "FACE_MATCH_FAILED",
            "note": "no",
        },
    )
    assert denied.status == 409 and f"by {winner_creds.email}" in denied.text()

    def callbacks() -> list[ReceivedRequest]:
        return [r for r in console.hooks.requests if json.loads(r.body)["submissionId"] == submission_id]

    [hook] = wait_for(callbacks, timeout=30)
    time.sleep(2)
    assert len(callbacks()) == 1  # exactly one, the manual decision
    secret = console.review_partner.webhook_secret
    payload = Webhook(secret).verify(
        hook.body, {k: v for k, v in hook.headers.items() if k.startswith("webhook-")}
    )
    assert (payload["status"], payload["result"], payload["reasonCode"]) == ("COMPLETED", "VALID", "")
    face_match = payload["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face_match["decidedBy"] == "REVIEW" and face_match["reviewerId"] == winner_creds.operator_id
    client = console.api(console.review_partner)
    details = client.details(x_submission_id=submission_id).json()["data"]
    client.http.close()
    assert (
        details["status"] == "COMPLETED" and details["result"] == "VALID" and "reviewRequired" not in details
    )


def test_a_claim_is_released_when_its_reviewer_leaves_and_an_admin_can_release_one(
    console: Console,
    reviewers: list[tuple[Any, OperatorCreds]],
    admin: tuple[Any, OperatorCreds],
    held: tuple[str, str],
) -> None:
    (first, first_creds), (second, _) = reviewers
    admin_page, admin_creds = admin
    _, submission_id = held
    first.goto(console.url + "/console/review")
    first.locator(f"#queue tr[data-submission='{submission_id}'] button[data-open]").click()
    first.locator("#decision-form").wait_for()
    first.goto(console.url + "/console/dashboard")  # leaves without deciding: the page releases it

    def released() -> bool:
        with console.svc.db.session() as session:
            item = session.get(ReviewItem, submission_id)
            return item is not None and item.claimed_by is None

    wait_for(released, timeout=30)
    second.goto(f"{console.url}/console/review/{submission_id}")
    second.click("#take")
    second.locator("#decision-form").wait_for()
    admin_page.goto(f"{console.url}/console/review/{submission_id}")
    assert "In review by" in admin_page.locator("#claimed-by-other").inner_text()
    admin_page.click("#release-claim")
    admin_page.locator("#take").wait_for()  # free again: an admin may take it too
    with console.svc.db.session() as session:
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "review_release", AuditEvent.submission_id == submission_id
            )
        )
    assert event is not None and event.actor == f"operator:{admin_creds.operator_id}"
    assert first_creds.email != event.details["claimedBy"]


def test_a_viewer_reads_metadata_only(console: Console, viewer: tuple[Any, OperatorCreds]) -> None:
    page, _ = viewer
    target = console.plain[0]
    page.goto(f"{console.url}/console/submissions/{target}")
    assert (
        page.locator("#no-image-permission").is_visible() and page.locator("#view-images-form").count() == 0
    )
    csrf = console.csrf(page)
    refused = page.request.post(
        f"{console.url}/console/submissions/{target}/images", form={"csrf": csrf, "reason": "curious"}
    )
    assert refused.status == 403 and "PERMISSION_DENIED" in refused.text()
    _, held = console.submit(console.review_partner, BORDERLINE)
    page.goto(console.url + "/console/review")
    assert page.locator(f"#queue tr[data-submission='{held}']").count() == 1
    assert page.locator("button[data-open]").count() == 0 and page.locator("#open-next").count() == 0
    for path, form in (
        (f"/console/review/{held}/open", {"csrf": csrf}),
        (f"/console/review/{held}/decision", {"csrf": csrf, "outcome": "approve", "note": "fine"}),
        ("/console/partners", {"csrf": csrf, "name": "Sneaky"}),
    ):
        assert page.request.post(console.url + path, form=form).status == 403
    assert page.request.get(console.url + "/console/partners").status == 403
    with console.svc.db.session() as session:
        row = session.get(Submission, held)
        assert row is not None and row.status == "IN_REVIEW"


def test_csrf_less_and_cross_origin_posts_are_refused(
    console: Console, viewer: tuple[Any, OperatorCreds]
) -> None:
    page, creds = viewer
    page.goto(console.url + "/console/account")
    csrf = console.csrf(page)
    target = console.url + "/console/logout-everywhere"
    assert page.request.post(target, form={}).status == 403
    assert page.request.post(target, form={"csrf": "not-the-token"}).status == 403
    foreign = page.request.post(target, form={"csrf": csrf}, headers={"origin": "http://evil.example"})
    assert foreign.status == 403 and "CSRF_REJECTED" in foreign.text()
    # a page of another origin that posts a form to the console (the browser sends the cookie:
    # 127.0.0.1 on another port is the same site)
    form = (
        f'<form id="f" method="post" action="{target}"><input name="csrf" value="guess"></form>'
        '<script>document.getElementById("f").submit()</script>'
    ).encode()
    attacker = Receiver(lambda _r, _q: (200, {"content-type": "text/html"}, form)).start()
    try:
        with page.expect_response(target) as answer:
            page.goto(attacker.url + "/")
        assert answer.value.status == 403
    finally:
        attacker.stop()
    page.goto(console.url + "/console/dashboard")
    assert page.url.endswith("/console/dashboard")  # still logged in: nothing was done
    with console.svc.db.session() as session:
        live = session.scalar(
            select(func.count()).where(
                OperatorSession.operator_id == creds.operator_id, OperatorSession.revoked_at.is_(None)
            )
        )
    assert live and live >= 1


def test_an_expired_session_redirects_to_login(console: Console, chromium: Any) -> None:
    creds = make_operator(console.svc, OperatorRole.VIEWER)
    page = new_page(chromium)
    try:
        console.login(page, creds)
        with console.svc.db.session() as session:
            session.execute(
                update(OperatorSession)
                .where(OperatorSession.id == console.session_id(page))
                .values(
                    last_seen_at=utcnow() - timedelta(seconds=console.svc.settings.console.session_idle_s + 1)
                )
            )
        page.goto(console.url + "/console/callbacks")
        page.wait_for_url("**/console/login?next=%2Fconsole%2Fcallbacks&expired=1")
        assert page.locator("#expired").is_visible()
        page.fill("#email", creds.email)
        page.fill("#password", creds.password)
        page.click("#login")
        page.wait_for_url("**/console/callbacks")  # back where the operator was
    finally:
        page.context.close()


def _bars(page: Any, chart: str) -> dict[tuple[str, str], int]:
    marks = page.eval_on_selector_all(
        f"#{chart} rect[data-series]",
        "els => els.map(e => [e.dataset.day || '', e.dataset.series, Number(e.dataset.value)])",
    )
    return {(day, series): value for day, series, value in marks if value}


def test_the_dashboard_charts_match_the_database(console: Console, viewer: tuple[Any, OperatorCreds]) -> None:
    page, _ = viewer
    page.goto(console.url + "/console/dashboard")
    shot(page, "console-dashboard", docs=True, full_page=True)
    # one partner's view: other tests' rows in this database cannot move under it meanwhile
    partner = console.plain_partner.partner_id
    page.goto(f"{console.url}/console/dashboard?partner={partner}")
    zone = "Asia/Jakarta"  # the console's default: days are WIB days
    since = zones.day_start(zones.today(zone) - timedelta(days=13), zone)
    expected = _expected_charts(console, partner, since, zone)
    for chart in ("chart-outcomes", "chart-fta", "chart-reasons", "chart-callbacks"):
        assert _bars(page, chart) == expected[chart], chart
    with console.svc.db.session() as session:
        similarities = list(
            session.scalars(
                select(Submission.similarity).where(
                    Submission.created_at >= since,
                    Submission.similarity.is_not(None),
                    Submission.partner_id == partner,
                )
            )
        )
    bins = page.eval_on_selector_all(
        "#chart-scores rect[data-lo]", "els => els.map(e => [Number(e.dataset.lo), Number(e.dataset.value)])"
    )
    assert [count for _, count in bins] == [count for _, _, count in bin_similarities(similarities)]
    assert sum(count for _, count in bins) == len(similarities) > 0
    assert page.locator("#chart-scores line[data-threshold]").get_attribute("data-threshold") == "0.3630"
    total = sum(expected["chart-outcomes"].values())
    assert page.locator("#tiles [data-k=submissions]").inner_text() == str(total)
    reviewed = console.review_partner.partner_id
    page.goto(f"{console.url}/console/dashboard?partner={reviewed}")
    assert page.locator("#chart-scores rect.band").count() == 1  # the partner's band is drawn
    expected = _expected_charts(console, reviewed, since, zone)
    in_review = sum(v for (_, series), v in expected["chart-outcomes"].items() if series == "IN_REVIEW")
    assert page.locator("#tiles [data-k=in_review]").inner_text() == str(in_review)
    assert _bars(page, "chart-reasons") == expected["chart-reasons"]  # none of a held attempt's
    assert page.locator("#band-label").inner_text().endswith("0.363")  # the band as it really ends


def _expected_charts(
    console: Console, partner: str, since: datetime, zone: str
) -> dict[str, dict[tuple[str, str], int]]:
    """What the dashboard's bars must say, counted here from the rows, by day of ``zone``."""
    with console.svc.db.session() as session:
        rows = session.execute(
            select(Submission.created_at, Submission.status, Submission.result, Submission.reason_code).where(
                Submission.created_at >= since, Submission.partner_id == partner
            )
        ).all()
        attempts = session.execute(
            select(DeliveryAttempt.at, DeliveryAttempt.outcome)
            .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
            .where(DeliveryAttempt.at >= since, OutboxMessage.partner_id == partner)
        ).all()
    charts: dict[str, Counter[tuple[str, str]]] = {
        name: Counter() for name in ("chart-outcomes", "chart-fta", "chart-reasons", "chart-callbacks")
    }
    for created, status, result, reason in rows:
        day = zones.local(created, zone).date().isoformat()
        if status == "COMPLETED":
            series = "VALID" if result == "VALID" else "INVALID"
        else:
            series = status if status in ("ERROR", "IN_REVIEW") else "OPEN"
        charts["chart-outcomes"][(day, series)] += 1
        if status == "IN_REVIEW":
            continue  # not an outcome the partner has yet
        if reason in ("INVALID_DOCUMENT", "REFERENCE_IMAGE_VALIDATION_FAILED"):
            charts["chart-fta"][(day, "FTA")] += 1
        if reason:
            charts["chart-reasons"][("", reason)] += 1
    for at, outcome in attempts:
        day = zones.local(at, zone).date().isoformat()
        charts["chart-callbacks"][(day, "DELIVERED" if outcome == "DELIVERED" else "FAILED")] += 1
    return {name: dict(counts) for name, counts in charts.items()}


def test_a_dead_lettered_callback_is_resent_from_the_console(
    console: Console, admin: tuple[Any, OperatorCreds]
) -> None:
    page, _ = admin
    message_id = console.dead_message
    page.goto(console.url + "/console/callbacks")
    page.click("#dead-letters")
    row = page.locator(f"#callbacks tr[data-message='{message_id}']")
    assert row.get_attribute("data-status") == "dead"
    row.locator("details summary").click()
    assert "HTTP 500" in row.inner_text()
    shot(page, "console-callbacks", docs=True, full_page=True)
    console.flaky_answers.status = 200
    before = console.flaky.count()
    row.locator("input[name=message]").check()
    page.click("#resend")
    assert "1 callback queued" in page.locator("#notice").inner_text()

    def delivered() -> bool:
        with console.svc.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            return message is not None and message.status == "delivered"

    wait_for(delivered, timeout=30)
    [hook] = console.flaky.requests[before:]
    assert hook.headers["webhook-id"] == message_id  # the same id as every earlier attempt
    Webhook(console.flaky_partner.webhook_secret).verify(
        hook.body, {k: v for k, v in hook.headers.items() if k.startswith("webhook-")}
    )
    with console.svc.db.session() as session:
        assert (
            session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "callback_resend",
                    AuditEvent.details["messageId"].as_string() == message_id,
                )
            )
            == 1
        )


def test_the_other_admin_pages_and_purged_images(
    console: Console, admin: tuple[Any, OperatorCreds], held: tuple[str, str]
) -> None:
    page, _ = admin
    page.goto(console.url + "/console/operators")
    page.fill("#new-operator input[name=email]", f"new-{uuid.uuid4().hex[:6]}@ops.example")
    page.select_option("#new-operator select[name=role]", "reviewer")
    page.click("#new-operator button")
    password = page.locator("#new-password").inner_text().strip()
    SECRETS.add(password)
    assert len(password) >= 12
    shot(page, "console-operators", docs=True, full_page=True)
    # what an admin (a reviewer too) does to a held match shows in the audit log filtered by submission
    _, submission_id = held
    base = f"{console.url}/console"
    page.goto(f"{base}/submissions/{submission_id}")
    served: list[Any] = []
    page.on("response", lambda r: served.append(r) if "/console/images/" in r.url else None)
    page.fill("#view-reason", "audit trail check")
    page.click("#view-images")
    page.locator("svg.face").nth(1).wait_for()
    for _ in range(600):  # the browser reads both images (read_image): wait for their answers
        if len([r for r in served if r.status == 200]) >= 2:
            break
        page.wait_for_timeout(50)
    csrf = console.csrf(page)
    assert page.request.post(f"{base}/review/{submission_id}/open", form={"csrf": csrf}).ok
    decision = {"csrf": csrf, "outcome": "approve", "note": "the same person"}
    assert page.request.post(f"{base}/review/{submission_id}/decision", form=decision).ok
    page.goto(f"{base}/audit?submission={submission_id}")
    actions = page.eval_on_selector_all("#audit tr[data-action]", "els => els.map(e => e.dataset.action)")
    assert {"view_images", "review_open", "review_decide", "read_image"} <= set(actions)
    shot(page, "console-audit", docs=True, full_page=True)
    purged = console.plain[1]
    with console.svc.db.session() as session:
        session.execute(
            update(Submission).where(Submission.id == purged).values(created_at=utcnow() - timedelta(days=40))
        )
    assert purge_images(console.svc, days=30).decided >= 1
    page.goto(f"{console.url}/console/submissions/{purged}")
    assert "deleted" in page.locator("#images-deleted").inner_text()
    assert page.locator("#view-images-form").count() == 0
    page.goto(console.url + "/console/account")
    shot(page, "console-account", docs=True, full_page=True)


def _fits(page: Any) -> None:
    """No sideways scrolling: the page is no wider than the screen."""
    scroll, screen = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= screen, f"{page.url} is {scroll} px wide on a {screen} px screen"


def _phone(chromium: Any, like: Any | None = None) -> tuple[Any, list[str]]:
    """A 390 px wide page (with ``like``'s session cookies) and the JavaScript errors it reports."""
    page = new_page(chromium, width=390, height=844, phone=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None,
    )
    page.on("dialog", lambda dialog: dialog.accept())
    if like is not None:
        page.context.add_cookies(like.context.cookies())
    return page, errors


def test_every_console_screen_fits_a_390_px_phone_without_script_errors(
    console: Console,
    chromium: Any,
    admin: tuple[Any, OperatorCreds],
    reviewers: list[tuple[Any, OperatorCreds]],
    held: tuple[str, str],
) -> None:
    _, submission_id = held
    base = console.url + "/console"
    seen: list[str] = []

    def visit(page: Any, path: str, name: str | None = None) -> None:
        if path:
            page.goto(base + path)
        page.wait_for_load_state()
        _fits(page)
        seen.append(page.url)
        if name:
            shot(page, name, docs=True, full_page=True)

    # before a session: the login, code and enrolment pages
    page, errors = _phone(chromium)
    visit(page, "/login")
    totp_user = make_operator(console.svc, OperatorRole.REVIEWER)
    page.fill("#email", totp_user.email)
    page.fill("#password", totp_user.password)
    page.click("#login")
    page.wait_for_url("**/console/login/code*")
    visit(page, "")
    page.context.close()
    page, more = _phone(chromium)
    errors += more
    newcomer = make_operator(console.svc, OperatorRole.REVIEWER, enrol=False)
    page.goto(base + "/login")
    page.fill("#email", newcomer.email)
    page.fill("#password", newcomer.password)
    page.click("#login")
    page.wait_for_url("**/console/enrol*")
    visit(page, "")
    page.context.close()
    # an admin's every page
    page, more = _phone(chromium, like=admin[0])
    errors += more
    for path in (
        "/dashboard", "/submissions", f"/submissions?q={submission_id[:8]}", f"/submissions/{submission_id}",
        "/callbacks", "/callbacks?status=dead", "/partners", "/partners/new",
        f"/partners/{console.review_partner.partner_id}", "/operators", "/audit", "/account", "/no-such-page",
    ):  # fmt: skip
        visit(page, path, "console-phone-dashboard" if path == "/dashboard" else None)
    page.goto(f"{base}/submissions/{submission_id}")
    page.fill("#view-reason", "layout check on a phone")
    page.click("#view-images")
    page.locator("svg.face").first.wait_for()
    visit(page, "")
    visit(page, "/review", "console-phone-review-queue")
    page.locator(f"#queue tr[data-submission='{submission_id}'] button[data-open]").click()
    page.locator("#decision-form").wait_for()
    visit(page, "", "console-phone-review-item")
    # a reviewer's view of the item the admin has open: read-only
    other, more = _phone(chromium, like=reviewers[0][0])
    errors += more
    visit(other, f"/review/{submission_id}")
    assert other.locator("#claimed-by-other").is_visible()
    visit(other, "/review")
    other.context.close()
    page.goto(base + "/partners/new")
    page.fill("#p-name", f"Phone {uuid.uuid4().hex[:6]}")
    page.click("#save-partner")
    page.locator("#credentials").wait_for()
    SECRETS.update(s.strip() for s in page.locator(".secret").all_inner_texts())
    visit(page, "")
    page.context.close()
    assert not errors, errors
    assert len(seen) >= 22


def test_a_generated_password_opens_only_its_change_and_the_operator_goes_on_afterwards(
    console: Console, admin: tuple[Any, OperatorCreds], chromium: Any
) -> None:
    page, _ = admin
    page.goto(console.url + "/console/operators")
    email = f"viewer-{uuid.uuid4().hex[:6]}@ops.example"
    page.fill("#new-operator input[name=email]", email)
    page.select_option("#new-operator select[name=role]", "viewer")
    page.click("#new-operator button")
    password = page.locator("#new-password").inner_text().strip()
    SECRETS.add(password)
    newcomer = new_page(chromium)
    try:
        newcomer.goto(console.url + "/console/callbacks")
        newcomer.fill("#email", email)
        newcomer.fill("#password", password)
        newcomer.click("#login")
        newcomer.wait_for_url("**/console/account?required=1*")
        assert newcomer.locator("#password-required").is_visible()
        assert newcomer.locator("header nav").count() == 0
        shot(newcomer, "console-account-password", docs=True, full_page=True)
        newcomer.goto(console.url + "/console/dashboard")
        newcomer.wait_for_url("**/console/account?required=1*")  # nothing else opens
        newcomer.fill("#current-password", password)
        newcomer.fill("#new-password", "a phrase of my very own")
        newcomer.click("#change-password")
        newcomer.wait_for_url("**/console/dashboard")  # where the operator was going
        assert newcomer.locator("header nav").is_visible()
    finally:
        newcomer.context.close()


def test_one_search_box_finds_any_id_and_lists_export_as_csv(
    console: Console, viewer: tuple[Any, OperatorCreds], held: tuple[str, str]
) -> None:
    page, creds = viewer
    psid, submission_id = held
    page.goto(console.url + "/console/callbacks")
    page.fill("#find-any-id", psid)
    page.press("#find-any-id", "Enter")
    page.wait_for_url(f"**/console/submissions/{submission_id}")
    page.goto(console.url + "/console/submissions")
    with page.expect_download() as download:
        page.click("#export")
    saved = Path(download.value.path()).read_text()
    header = saved.splitlines()[0]
    assert header.startswith("submission_id,created_at,completed_at,partner,")
    assert download.value.suggested_filename.startswith("facematch-submissions-")
    with console.svc.db.session() as session:
        exported = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "export_submissions", AuditEvent.actor == f"operator:{creds.operator_id}"
            )
        )
    assert exported == 1


def test_times_are_in_the_operators_zone_and_named(console: Console, chromium: Any) -> None:
    creds = make_operator(console.svc, OperatorRole.VIEWER)
    page = new_page(chromium)
    try:
        console.login(page, creds, path="/console/audit")
        assert page.locator("header .zone").inner_text() == "WIB"  # the default, Asia/Jakarta
        first = page.locator("#audit tbody tr td").first.inner_text()
        assert first.endswith(" WIB")
        page.goto(console.url + "/console/account")
        page.select_option("#zone", "Asia/Makassar")
        page.click("#save-zone")
        assert page.locator("header .zone").inner_text() == "WITA"
        page.goto(console.url + "/console/audit")
        assert page.locator("#audit tbody tr td").first.inner_text().endswith(" WITA")
    finally:
        page.context.close()
