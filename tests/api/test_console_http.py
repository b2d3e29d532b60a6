"""The console over real HTTP (fake engine): security headers on every answer, cookie flags, image
URLs bound to one session, open-redirect and throttling refusals, the switch that turns the console
off, and what a partner sees while a person reviews."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consolekit import COOKIE, OperatorCreds, browser, csrf_of, login, login_form, make_operator
from facematch.api.app import create_app
from facematch.flows import review
from facematch.flows.console import desk
from facematch.flows.console.operators import OperatorRole
from facematch.rules.review_band import Band
from facematch.security.tokens import TokenKind
from partner_client import Api, make_api
from servicekit import LiveServer, live_app, make_settings, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def assert_console_headers(response: httpx.Response) -> None:
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def borderline(live: LiveServer, images: dict[str, bytes]) -> Iterator[tuple[Api, str, str, str]]:
    """A partner with a band and one held attempt: (api, user token, psid, submission id)."""
    api = make_api(live)
    review.set_policy(live.services, api.creds.partner_id, Band(0.05, 0.5), actor="system:test")
    token, psid, submission_id = api.run_be_flow(images["alice"], images["bob"])  # fake engine: 0.1
    wait_for(lambda: api.status(token, psid, submission_id).json()["data"]["reviewRequired"])
    yield api, token, psid, submission_id
    api.http.close()


def test_every_console_answer_carries_the_headers(live: LiveServer) -> None:
    with browser(live) as client:
        for path, status in (
            ("/console/login", 200),
            ("/console/dashboard", 303),
            ("/console/no-such-page", 404),
            ("/console/static/console.css", 200),
            ("/console/images/x/selfie?t=bad", 303),
        ):
            response = client.get(path)
            assert response.status_code == status, path
            assert_console_headers(response)
        assert client.post("/console/logout", data={"csrf": "x"}).status_code == 401
        assert "text/html" in client.get("/console/no-such-page").headers["content-type"]


def test_session_cookies_are_httponly_secure_strict_and_scoped(live: LiveServer) -> None:
    creds = make_operator(live.services, OperatorRole.VIEWER)
    with browser(live) as client:
        page = client.get("/console/login")
        assert re.search(r"__Secure-facematch-console-login=[^;]+;.*HttpOnly", page.headers["set-cookie"])
        done = client.post(
            "/console/login",
            data={"email": creds.email, "password": creds.password, "form_token": login_form(client)},
        )
        assert done.status_code == 303 and done.headers["location"] == "/console/dashboard"
        cookie = next(
            v for k, v in done.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE + "=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags


def test_login_refuses_open_redirects_and_forms_of_another_browser(live: LiveServer) -> None:
    creds = make_operator(live.services, OperatorRole.VIEWER)
    with browser(live) as client, browser(live) as other:
        token = login_form(client)
        login_form(other)  # a nonce cookie of its own
        stolen = other.post(
            "/console/login", data={"email": creds.email, "password": creds.password, "form_token": token}
        )
        assert stolen.status_code == 403
        done = client.post(
            "/console/login",
            data={
                "email": creds.email,
                "password": creds.password,
                "form_token": token,
                "next": "https://evil.example/console/x",
            },
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/console/dashboard"


def test_wrong_passwords_get_429_with_retry_after(live: LiveServer) -> None:
    creds = make_operator(live.services, OperatorRole.VIEWER)
    with browser(live) as client:
        statuses = []
        for _ in range(live.services.settings.console.login_failures_per_account + 1):
            response = client.post(
                "/console/login",
                data={"email": creds.email, "password": "not it at all", "form_token": login_form(client)},
            )
            statuses.append(response.status_code)
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
        assert int(response.headers["retry-after"]) > 0 and "TOO_MANY_LOGIN_ATTEMPTS" in response.text


def image_url(page: str, doc: str) -> str:
    match = re.search(rf'href="(/console/images/[^"]+/{doc}\?t=[^"]+)"', page)
    assert match, f"no {doc} image on the page"
    return match.group(1).replace("&amp;", "&")


def test_image_urls_work_only_for_their_session_and_role(live: LiveServer, borderline: Any) -> None:
    _, _, _, submission_id = borderline
    reviewer, colleague = (make_operator(live.services, OperatorRole.REVIEWER) for _ in range(2))
    viewer = make_operator(live.services, OperatorRole.VIEWER)
    with (
        browser(live, login(live.services, reviewer)) as mine,
        browser(live, login(live.services, colleague)) as again,
    ):
        detail = mine.get(f"/console/submissions/{submission_id}")
        assert 'id="view-images-form"' in detail.text and "/console/images/" not in detail.text
        no_reason = mine.post(
            f"/console/submissions/{submission_id}/images", data={"csrf": csrf_of(detail.text)}
        )
        assert no_reason.status_code == 400 and "/console/images/" not in no_reason.text
        shown = mine.post(
            f"/console/submissions/{submission_id}/images",
            data={"csrf": csrf_of(detail.text), "reason": "checking the pair"},
        )
        assert shown.status_code == 200
        url = image_url(shown.text, "selfie")
        served = mine.get(url)
        assert served.status_code == 200 and served.content[:4] == b"\x89PNG"
        assert_console_headers(served)
        assert again.get(url).status_code == 403  # another session, even of the same role
        assert mine.get(url.replace("/selfie?", "/reference?")).status_code == 401  # another image
        with browser(live) as anonymous:
            assert anonymous.get(url).status_code == 303  # no session: to the login page
    with browser(live, login(live.services, viewer)) as metadata_only:
        assert metadata_only.get(url).status_code == 403
        expired = live.services.tokens.issue(
            TokenKind.CONSOLE_IMAGE, submission_id, -1, doc="selfie", ses="x"
        )
        assert (
            metadata_only.get(f"/console/images/{submission_id}/selfie?t={expired.token}").status_code == 403
        )


def test_while_a_person_reviews_the_partner_and_the_user_see_in_progress(borderline: Any) -> None:
    api, token, psid, submission_id = borderline
    status = api.status(token, psid, submission_id).json()["data"]
    assert status["status"] == "IN_PROGRESS" and status["reviewRequired"] is True
    assert status["verificationResult"] is None and status["result"] is None
    details = api.details(x_submission_id=submission_id).json()["data"]
    assert details["status"] == "IN_PROGRESS" and details["reviewRequired"] is True
    assert "result" not in details and "verificationResults" not in details["submissionDetails"]
    again = api.presign(token, psid)
    assert again.status_code == 409  # no new attempt while this one waits for a reviewer


def test_a_decision_without_the_session_csrf_token_changes_nothing(live: LiveServer, borderline: Any) -> None:
    _, _, _, submission_id = borderline
    reviewer: OperatorCreds = make_operator(live.services, OperatorRole.REVIEWER)
    with browser(live, login(live.services, reviewer)) as client:
        page = client.get("/console/review").text
        body = {"outcome": "approve", "note": "fine"}
        assert client.post(f"/console/review/{submission_id}/decision", data=body).status_code == 403
        foreign = client.post(
            f"/console/review/{submission_id}/decision",
            data={**body, "csrf": csrf_of(page)},
            headers={"origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        null_origin = client.post(
            f"/console/review/{submission_id}/decision",
            data={**body, "csrf": csrf_of(page)},
            headers={"origin": "null", "sec-fetch-site": "cross-site"},
        )
        assert null_origin.status_code == 403
        assert desk.item(live.services, submission_id).state == "open"  # type: ignore[union-attr]
        same_site = client.post(
            f"/console/review/{submission_id}/decision",
            data={**body, "csrf": csrf_of(page)},
            headers={"origin": "null", "sec-fetch-site": "same-origin"},  # a form under no-referrer
        )
        assert same_site.status_code == 303


def test_the_console_can_be_switched_off(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, FACEMATCH_CONSOLE__ENABLED="false")
    app = create_app(settings, background=False)
    with TestClient(app, base_url="https://facematch.test") as client:
        response = client.get("/console/login")
        assert response.status_code == 404 and response.headers["content-type"] == "application/json"
        assert client.get("/healthz").status_code == 200


def test_after_login_only_console_pages_are_destinations() -> None:
    from facematch.api.console.pages import safe_next

    assert safe_next("/console/submissions?psid=a") == "/console/submissions?psid=a"
    outside = (
        None,
        "",
        "https://evil.example/",
        "//evil.example/console/",
        "/console\\..\\x",
        "/web/index.html",
    )
    login_pages = ("/console/login/code", "/console/enrol?next=/console/x", "/console/logout")
    for bad in (*outside, *login_pages):
        assert safe_next(bad) == "/console/dashboard", bad


def test_a_console_session_is_good_on_every_api_process_until_it_ends(
    live: LiveServer, tmp_path: Path
) -> None:
    """Sessions, CSRF tokens and logouts live in the database: a second API process on the same
    database serves the operator's next request, and a logout on it ends the session everywhere."""
    creds = make_operator(live.services, OperatorRole.VIEWER)
    token = login(live.services, creds)
    with (
        live_app(live.services.settings.database.url, tmp_path) as other,
        browser(live, token) as first,
        browser(other, token) as second,
    ):
        assert first.get("/console/dashboard").status_code == 200
        account = second.get("/console/account")
        assert account.status_code == 200
        ended = second.post("/console/logout", data={"csrf": csrf_of(account.text)})
        assert ended.status_code == 303
        assert first.get("/console/dashboard").status_code == 303  # back to the login page
