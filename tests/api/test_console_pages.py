"""The console's pages over real HTTP (fake engine): every page for every role, a generated password
that opens nothing but its own change, the one search box, CSV exports (streamed, capped, audited,
no image data), bounded ranges, a property test that no query string makes a 5xx, client
addresses of any length, and parallel logins from one client that leave everyone else's alone."""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from consolekit import COOKIE, OperatorCreds, browser, csrf_of, held, login, login_form, make_operator
from facematch.flows import processing
from facematch.flows.console import auth as console_auth
from facematch.flows.console import operators, zones
from facematch.flows.console.guard import login_guard
from facematch.flows.console.operators import OperatorRole
from facematch.rules import decisions
from facematch.storage.models import (
    AuditEvent,
    FlowSession,
    OutboxMessage,
    Partner,
    ReviewItem,
    Submission,
    utcnow,
)
from servicekit import SECRETS, LiveServer, create_partner, live_app, seed_session, seed_submission

EXPORT_CAP = 3
READ_PAGES = (
    "/console/dashboard",
    "/console/submissions",
    "/console/review",
    "/console/callbacks",
    "/console/callbacks?status=dead",
    "/console/audit",
    "/console/account",
)
ADMIN_PAGES = ("/console/partners", "/console/partners/new", "/console/operators")
EXPORTS = ("/console/submissions.csv", "/console/audit.csv", "/console/callbacks.csv")


@pytest.fixture(scope="module")
def console(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_app(
        module_database_url,
        tmp_path_factory.mktemp("console"),
        FACEMATCH_CONSOLE__EXPORT_MAX_ROWS=str(EXPORT_CAP),
        FACEMATCH_SERVER__PROXY_HEADERS="true",  # the tests speak for many client addresses
        FACEMATCH_CALLBACKS__WORKERS="0",
    ) as server:
        yield server


def signed_in(console: LiveServer, role: OperatorRole) -> tuple[httpx.Client, OperatorCreds]:
    creds = make_operator(console.services, role)
    return browser(console, login(console.services, creds)), creds


def cookies_of(response: httpx.Response) -> dict[str, str]:
    """The cookies an answer sets (httpx keeps no Secure cookie over plain http)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def test_every_page_answers_every_role(console: LiveServer) -> None:
    submission_id = held(console.services)
    with console.services.db.session() as session:
        item = session.get(ReviewItem, submission_id)
        assert item is not None
        partner_id = item.partner_id
    own = (f"/console/submissions/{submission_id}", f"/console/review/{submission_id}")
    for role, allowed_admin in (
        (OperatorRole.ADMIN, True),
        (OperatorRole.REVIEWER, False),
        (OperatorRole.VIEWER, False),
    ):
        client, _ = signed_in(console, role)
        with client:
            for path in (*READ_PAGES, *own, f"/console/dashboard?partner={partner_id}"):
                answer = client.get(path)
                assert answer.status_code == 200, (role, path, answer.text[:300])
                assert "Traceback" not in answer.text
            for path in (*ADMIN_PAGES, f"/console/partners/{partner_id}"):
                assert client.get(path).status_code == (200 if allowed_admin else 403), (role, path)
            for path in EXPORTS:
                answer = client.get(path)
                assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")


def test_a_generated_password_opens_only_its_own_change(console: LiveServer) -> None:
    svc = console.services
    email = f"temp-{uuid.uuid4().hex[:8]}@ops.example"
    created = operators.create_operator(svc, email, OperatorRole.VIEWER, actor="system:test")
    assert created.password
    SECRETS.add(created.password)
    with browser(console) as client:
        done = client.post(
            "/console/login",
            data={
                "email": email,
                "password": created.password,
                "form_token": login_form(client),
                "next": "/console/submissions",
            },
        )
        assert done.status_code == 303
        landing = urlsplit(done.headers["location"])
        assert landing.path == "/console/account"
        assert parse_qs(landing.query) == {"required": ["1"], "next": ["/console/submissions"]}
        client.cookies.set(COOKIE, cookies_of(done)[COOKIE])
        account = client.get(done.headers["location"])
        assert account.status_code == 200 and 'id="password-required"' in account.text
        assert "<nav" not in account.text  # nothing else is offered
        csrf = csrf_of(account.text)
        for path in (*READ_PAGES[:-1], *EXPORTS, "/console/images/x/selfie?t=x"):
            refused = client.get(path)
            assert refused.status_code == 303, path
            assert refused.headers["location"].startswith("/console/account?required=1&next=")
        for path, form in (
            ("/console/account/time-zone", {"zone": "UTC"}),
            ("/console/callbacks/resend", {"message": "x"}),
            ("/console/review/next", {}),
        ):
            refused = client.post(path, data={"csrf": csrf, **form})
            assert refused.status_code == 403 and "PASSWORD_CHANGE_REQUIRED" in refused.text, path
        changed = client.post(
            "/console/account/password",
            data={
                "csrf": csrf,
                "current": created.password,
                "new": "my own long passphrase",
                "next": "/console/submissions",
            },
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/console/submissions"
        assert client.get("/console/submissions").status_code == 200


def test_after_enrolment_a_generated_password_says_why_the_account_page_opens(console: LiveServer) -> None:
    svc = console.services
    email = f"temp-{uuid.uuid4().hex[:8]}@ops.example"
    created = operators.create_operator(svc, email, OperatorRole.REVIEWER, actor="system:test")
    assert created.password
    SECRETS.add(created.password)
    with browser(console) as client:
        done = client.post(
            "/console/login",
            data={"email": email, "password": created.password, "form_token": login_form(client)},
        )
        assert done.headers["location"].startswith("/console/enrol")
        pending = cookies_of(done)[COOKIE]
        client.cookies.set(COOKIE, pending)
        page = client.get(done.headers["location"])
        secret = console_auth.enrolment(svc, pending).secret
        SECRETS.add(secret)
        enrolled = client.post(
            "/console/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf": csrf_of(page.text)}
        )
        assert enrolled.status_code == 303
        assert parse_qs(urlsplit(enrolled.headers["location"]).query)["enrolled"] == ["1"]
        client.cookies.set(COOKIE, cookies_of(enrolled)[COOKIE])
        account = client.get(enrolled.headers["location"])
        assert 'id="enrolled"' in account.text and 'id="password-required"' in account.text


def test_one_search_box_finds_a_submission_by_any_id_it_carries(console: LiveServer) -> None:
    svc = console.services
    partner = create_partner(svc.db, callback_url="https://hooks.bank.example/cb").partner_id
    submission_id = seed_submission(svc.db, partner)
    assert processing.record_decision(svc, submission_id, decisions.compared(0.9, True, "m", 0.5, 0.001))
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    flow_id = seed_session(svc.db, partner, {"status": "COMPLETED"}, {"status": "IN_PROGRESS"})
    with svc.db.session() as session:
        webhook_id = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.submission_id == submission_id)
        )
        submission = session.get(Submission, submission_id)
        assert submission is not None and webhook_id
        psid = submission.session_id  # seeded sessions use their id as the partner session id
        flow = session.get(FlowSession, flow_id)
        assert flow is not None
        flow.partner_user_id = user_id
    client, _ = signed_in(console, OperatorRole.VIEWER)
    with client:
        for value in (submission_id, psid, webhook_id, f"  {webhook_id} "):
            found = client.get("/console/submissions", params={"q": value})
            assert found.status_code == 303 and found.headers["location"].endswith(submission_id), value
        both = client.get("/console/submissions", params={"q": user_id})
        assert both.status_code == 200 and both.text.count("data-submission=") == 2
        none = client.get("/console/submissions", params={"q": "no-such-id"})
        assert none.status_code == 200 and "No submission matches." in none.text


def test_exports_are_capped_audited_and_hold_no_image_data(console: LiveServer) -> None:
    svc = console.services
    partner = create_partner(svc.db).partner_id
    blob = svc.blobs.put(b"\x89PNG not really")
    formula = '=HYPERLINK("https://evil.example")'
    for _ in range(5):
        seed_submission(
            svc.db,
            partner,
            status="COMPLETED",
            result="VALID",
            reason_code="",
            similarity=0.8,
            selfie_blob=blob,
            analysis={"selfie": {"box": [1, 2, 3, 4], "landmarks": [[1, 2]]}},
            details={"verificationResults": {"faceMatch": {"template": "secret-template"}}},
        )
    held_id = held(svc)
    client, creds = signed_in(console, OperatorRole.VIEWER)
    with client:
        answer = client.get("/console/submissions.csv", params={"partner": partner})
        assert answer.status_code == 200
        assert (answer.headers["x-export-rows"], answer.headers["x-export-total"]) == ("3", "5")
        assert re.search(
            r'filename="facematch-submissions-\d{8}T\d{6}Z-first-3\.csv"',
            answer.headers["content-disposition"],
        )
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == EXPORT_CAP and all(row["partner_id"] == partner for row in rows)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["created_at"]) for row in rows)
        for leak in (blob, "landmarks", "template", "box"):
            assert leak not in answer.text
        audit_csv = client.get("/console/audit.csv", params={"action": "export_submissions"})
        assert audit_csv.status_code == 200
        # a partner session id a spreadsheet would run is quoted
        with svc.db.session() as session:
            item = session.get(Submission, held_id)
            assert item is not None
            flow_session = session.get(FlowSession, item.session_id)
            assert flow_session is not None
            flow_session.partner_session_id = formula
        quoted = client.get("/console/submissions.csv", params={"q": formula})
        [row] = list(csv.DictReader(io.StringIO(quoted.text)))
        assert row["partner_session_id"] == "'" + formula
        assert row["status"] == "IN_REVIEW" and row["result"] == "" and row["reason_code"] == ""
    with svc.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.actor == f"operator:{creds.operator_id}", AuditEvent.action.like("export_%")
            )
        ).all()
    first = next(e for e in events if e.details["filter"].get("partner_id") == partner)
    assert first.action == "export_submissions" and (first.details["rows"], first.details["total"]) == (3, 5)
    assert {e.action for e in events} >= {"export_submissions", "export_audit"}


def test_the_audit_log_has_a_date_range_and_partner_names(console: LiveServer) -> None:
    client, creds = signed_in(console, OperatorRole.ADMIN)
    admin = console_auth.resolve(console.services, client.cookies[COOKIE])
    with client:
        page = client.get("/console/partners/new")
        name = f"Bank {uuid.uuid4().hex[:6]}"
        made = client.post("/console/partners", data={"csrf": csrf_of(page.text), "name": name})
        assert made.status_code == 200
        for secret in re.findall(r'class="secret" id="[^"]+">([^<]+)<', made.text):
            SECRETS.add(secret)
        today = client.get(
            "/console/audit", params={"action": "partner_create", "operator": creds.operator_id}
        )
        assert name in today.text  # the partner's name, not its id
        day = zones.today(admin.time_zone).isoformat()
        inside = client.get("/console/audit", params={"since": day, "until": day, "action": "partner_create"})
        outside = client.get("/console/audit", params={"since": "2020-01-01", "until": "2020-01-31"})
        assert name in inside.text and name not in outside.text
        exported = client.get("/console/audit.csv", params={"since": day, "action": "partner_create"})
        assert name in exported.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/console/dashboard", {"until": "9999-12-31"}, "INVALID_UNTIL"),
        ("/console/dashboard", {"since": "2000-01-01", "until": "2024-12-31"}, "INVALID_UNTIL"),
        ("/console/dashboard", {"since": "2025-02-30"}, "INVALID_SINCE"),
        ("/console/submissions", {"until": "9999-12-31"}, "INVALID_UNTIL"),
        ("/console/submissions", {"psid": "a\x00b"}, "INVALID_PSID"),
        ("/console/submissions", {"status": "NOPE"}, "INVALID_STATUS"),
        ("/console/audit", {"since": "0001-01-01"}, "INVALID_SINCE"),
        ("/console/callbacks.csv", {"until": "99999-01-01"}, "INVALID_UNTIL"),
        ("/console/submissions", {"page": "0"}, "INVALID"),
        ("/console/audit", {"page": "100001"}, "INVALID"),
    ],
)
def test_impossible_ranges_and_values_get_a_clear_400(
    console: LiveServer, path: str, params: dict[str, str], field: str
) -> None:
    client, _ = signed_in(console, OperatorRole.VIEWER)
    with client:
        answer = client.get(path, params=params)
    assert answer.status_code == 400 and field in answer.text, answer.text[:500]


GET_PAGES = (
    "/console/dashboard", "/console/submissions", "/console/review", "/console/callbacks", "/console/audit",
    "/console/submissions.csv", "/console/audit.csv", "/console/callbacks.csv", "/console/account",
    "/console/login",
)  # fmt: skip
PARAMS = (
    "partner", "since", "until", "psid", "user_id", "q", "status", "result", "reason", "page", "operator",
    "submission", "action", "decided", "empty", "resent", "next", "expired",
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "9999-12-31", "0001-01-01", "2024-02-30", "2024-13-01", "-1", "0", "1e9", "99999999999999999999",
            "COMPLETED", "VALID", "dead", "\x00", "' OR 1=1 --", "%00", "😀" * 30, "x" * 5000,
        ]
    ),
    st.dates().map(lambda d: d.isoformat()),
    st.integers().map(str),
)  # fmt: skip


@pytest.fixture(scope="module")
def admin_client(console: LiveServer) -> Iterator[httpx.Client]:
    client, _ = signed_in(console, OperatorRole.ADMIN)
    with client:
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.sampled_from(GET_PAGES), params=st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=5))
def test_no_console_query_makes_a_5xx(admin_client: httpx.Client, page: str, params: dict[str, Any]) -> None:
    answer = admin_client.get(page, params=params)
    assert answer.status_code < 500, (page, params, answer.text[:500])


def test_client_addresses_of_any_length_are_counted_and_audited(console: LiveServer) -> None:
    creds = make_operator(console.services, OperatorRole.VIEWER)
    forged = "2001:db8::" + "a" * 300
    with browser(console) as client:
        answer = client.post(
            "/console/login",
            data={"email": creds.email, "password": "not it at all", "form_token": login_form(client)},
            headers={"x-forwarded-for": forged},
        )
    assert answer.status_code == 401
    with console.services.db.session() as session:
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "login_failed", AuditEvent.details["email"].as_string() == creds.email
            )
        )
    assert event is not None and event.source is not None and event.source.startswith("2001:db8::aaaa")
    assert len(event.source) <= 64
    assert login_guard(console.services).state(creds.email).failures == 1


def test_parallel_logins_from_one_client_leave_other_clients_alone(console: LiveServer) -> None:
    """30 logins at once from one address: that address is told to slow down (429), nobody gets
    503, and a real operator logging in from elsewhere meanwhile gets in."""
    operator = make_operator(console.services, OperatorRole.VIEWER)
    statuses: list[int] = []
    barrier = threading.Barrier(31)

    def flood(n: int) -> None:
        with browser(console) as client:
            form = login_form(client)
            barrier.wait()
            answer = client.post(
                "/console/login",
                data={"email": f"nobody{n}@ops.example", "password": "guess guess guess", "form_token": form},
                headers={"x-forwarded-for": "203.0.113.7"},
            )
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    with browser(console) as client:
        form = login_form(client)
        barrier.wait()
        mine = client.post(
            "/console/login",
            data={"email": operator.email, "password": operator.password, "form_token": form},
            headers={"x-forwarded-for": "198.51.100.20"},
        )
    for thread in threads:
        thread.join(120)
    assert mine.status_code == 303 and mine.headers["location"] == "/console/dashboard"
    assert len(statuses) == 30 and set(statuses) <= {401, 429} and 429 in statuses
    with console.services.db.session() as session:
        checked = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "login_failed", AuditEvent.source == "203.0.113.7"
            )
        )
    assert checked == statuses.count(401)  # every password that was checked is audited


def test_control_characters_in_forms_get_a_400_or_are_kept_readable(
    console: LiveServer, admin_client: httpx.Client
) -> None:
    submission_id = held(console.services)
    page = admin_client.get("/console/operators")
    csrf = csrf_of(page.text)
    for path, form in (
        ("/console/partners", {"name": "Bank\x00Contoh"}),
        ("/console/operators", {"email": "a\x00b@ops.example", "role": "viewer"}),
    ):
        answer = admin_client.post(path, data={"csrf": csrf, **form})
        assert answer.status_code == 400, (path, answer.text[:300])
    shown = admin_client.post(
        f"/console/submissions/{submission_id}/images", data={"csrf": csrf, "reason": "ticket\x00 4711"}
    )
    assert shown.status_code == 200
    admin_client.post(f"/console/review/{submission_id}/open", data={"csrf": csrf})
    decided = admin_client.post(
        f"/console/review/{submission_id}/decision",
        data={"csrf": csrf, "outcome": "approve", "note": "same\x00 person"},
    )
    assert decided.status_code == 303
    with console.services.db.session() as session:
        reasons = session.scalars(
            select(AuditEvent.reason).where(
                AuditEvent.submission_id == submission_id,
                AuditEvent.action.in_(("view_images", "review_decide")),
            )
        ).all()
    assert sorted(reasons) == ["same\ufffd person", "ticket\ufffd 4711"]


def test_the_partner_form_switches_liveness(console: LiveServer) -> None:
    client, _ = signed_in(console, OperatorRole.ADMIN)
    with client:
        page = client.get("/console/partners/new")
        assert 'name="liveness"' in page.text and '<option value="off" selected>' in page.text
        name = f"Bank {uuid.uuid4().hex[:6]}"
        form = {"csrf": csrf_of(page.text), "name": name, "liveness": "active"}
        made = client.post("/console/partners", data=form)
        assert made.status_code == 200
        for secret in re.findall(r'class="secret" id="[^"]+">([^<]+)<', made.text):
            SECRETS.add(secret)
        with console.services.db.session() as session:
            partner = session.scalars(select(Partner).where(Partner.name == name)).one()
            assert partner.liveness == "active"
            partner_id = partner.id
        shown = client.get(f"/console/partners/{partner_id}")
        assert '<option value="active" selected>' in shown.text
        refused = client.post(
            f"/console/partners/{partner_id}", data={"csrf": csrf_of(shown.text), "liveness": "passive"}
        )
        assert refused.status_code == 400 and "liveness" in refused.text


def test_a_submission_shows_its_liveness_challenge_and_verdict(console: LiveServer) -> None:
    partner_id = create_partner(console.services.db, liveness="active").partner_id
    issued = utcnow().timestamp() - 60
    checks = [
        {"name": "MOVES", "passed": True, "value": 2.0},
        {"name": "DEPTH", "passed": False, "value": 0.0},
    ]
    submission_id = seed_submission(
        console.services.db,
        partner_id,
        status="COMPLETED",
        result="INVALID",
        reason_code="NOT_LIVE",
        final=True,
        completed_at=utcnow(),
        liveness_challenge={"nonce": "n" * 32, "moves": ["TURN_LEFT", "TURN_RIGHT"], "issuedAt": issued},
        details={
            "verificationResults": {"liveness": {"result": False, "version": "active-1", "checks": checks}}
        },
    )
    client, _ = signed_in(console, OperatorRole.VIEWER)
    with client:
        page = client.get(f"/console/submissions/{submission_id}")
    assert page.status_code == 200
    assert "Liveness challenge issued" in page.text and "TURN_LEFT → TURN_RIGHT" in page.text
    assert '<p id="liveness">failed' in page.text and "<code>DEPTH</code> failed: 0.0" in page.text
