"""Guessing console logins over real HTTP against two API processes that count in one Redis:
wrong passwords from many addresses hold the account, codes are counted per pending login and per
account, parallel guesses are counted exactly, the operator's own browser is never held, and an
admin's unlock (audited) frees the account. Delays are set far longer than any test run, so that
no result depends on how fast the machine is."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from consolekit import COOKIE, OperatorCreds, browser, csrf_of, login, login_form, make_operator
from facematch.flows.console.operators import OperatorRole
from facematch.flows.context import Services
from facematch.security.tokens import TokenKind
from facematch.storage.models import AuditEvent
from servicekit import ServerProcess, api_processes, require_redis

DEVICE = "__Secure-facematch-console-device"
GUARD = {
    "FACEMATCH_SERVER__PROXY_HEADERS": "true",  # the tests speak for many addresses
    "FACEMATCH_CONSOLE__LOGIN_DELAY_S": "3600",
    "FACEMATCH_CONSOLE__LOGIN_MAX_DELAY_S": "3600",
}


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    require_redis()
    with api_processes(database_url, tmp_path, 2, **GUARD) as started:
        yield started


def cookies_of(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def password(
    server: ServerProcess, email: str, secret: str, address: str, device: str | None = None
) -> httpx.Response:
    """One try at the login form, from ``address`` (a new browser unless ``device``)."""
    with browser(server) as client:
        form = login_form(client)
        if device:
            client.cookies.set(DEVICE, device)
        return client.post(
            "/console/login",
            data={"email": email, "password": secret, "form_token": form},
            headers={"x-forwarded-for": address},
        )


def audited(svc: Services, action: str, email: str | None = None, actor: str | None = None) -> int:
    query = select(func.count()).where(AuditEvent.action == action)
    if email:
        query = query.where(AuditEvent.details["email"].as_string() == email)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    with svc.db.session() as session:
        return int(session.scalar(query) or 0)


def test_wrong_passwords_from_twenty_addresses_and_two_processes_hold_the_account(
    servers: list[ServerProcess], fake_services: Services
) -> None:
    svc = fake_services
    creds = make_operator(svc, OperatorRole.VIEWER)
    own = password(servers[0], creds.email, creds.password, "198.51.100.1")
    assert own.status_code == 303
    device = cookies_of(own)[DEVICE]
    statuses = [
        password(servers[n % 2], creds.email, "not the password", f"203.0.113.{n % 20}").status_code
        for n in range(100)
    ]
    limit = svc.settings.console.login_failures_per_account
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    assert audited(svc, "login_failed", creds.email) == limit  # each checked password, no more
    held = password(servers[1], creds.email, creds.password, "203.0.113.77")
    assert held.status_code == 429 and int(held.headers["retry-after"]) > 60
    mine = password(servers[1], creds.email, creds.password, "198.51.100.1", device=device)
    assert mine.status_code == 303  # the operator's own browser is not held
    # an admin unlocks the account (audited); then a new browser may try again
    admin = make_operator(svc, OperatorRole.ADMIN)
    with browser(servers[0], login(svc, admin)) as client:
        page = client.get("/console/operators")
        assert page.status_code == 200 and f'data-unlock="{creds.email}"' in page.text
        unlock = client.post(
            f"/console/operators/{creds.operator_id}/unlock", data={"csrf": csrf_of(page.text)}
        )
        assert unlock.status_code == 303
    assert audited(svc, "operator_unlock", actor=f"operator:{admin.operator_id}") == 1
    assert password(servers[1], creds.email, creds.password, "203.0.113.78").status_code == 303


def with_code(
    server: ServerProcess, creds: OperatorCreds, address: str, device: str | None = None
) -> httpx.Response:
    """Password, then the code (a later step's when the current one was used): a whole login."""
    step = password(server, creds.email, creds.password, address, device)
    assert step.status_code == 303, step.text[:300]
    with browser(server, cookies_of(step)[COOKIE]) as client:
        if device:
            client.cookies.set(DEVICE, device)
        page = client.get(step.headers["location"])
        for ahead in (0, 1, 2):
            answer = client.post(
                "/console/login/code",
                data={"code": creds.code(ahead), "csrf": csrf_of(page.text)},
                headers={"x-forwarded-for": address},
            )
            if answer.status_code != 401:
                return answer
    return answer


def test_codes_are_counted_per_pending_login_and_per_account(
    servers: list[ServerProcess], fake_services: Services
) -> None:
    """Someone who has the password guesses the code from many addresses: a pending login takes a
    few codes, then the account's count holds every new browser; the operator's own does not."""
    svc = fake_services
    creds = make_operator(svc, OperatorRole.REVIEWER)
    # the operator's browser logged in before (its device cookie; a TOTP code is good once, so a
    # second whole login within one 30 s step would not be possible here)
    device = svc.tokens.issue(TokenKind.CONSOLE_DEVICE, creds.operator_id, 3600).token
    actor = f"operator:{creds.operator_id}"
    own_failures = audited(svc, "second_factor_failed", actor=actor)
    wrong = "000000" if pyotp.TOTP(str(creds.totp_secret)).now() != "000000" else "111111"
    statuses = []
    for n in range(6):
        server, address = servers[n % 2], f"203.0.114.{n}"
        step = password(server, creds.email, creds.password, address)
        statuses.append(step.status_code)
        if step.status_code != 303:
            continue
        with browser(server, cookies_of(step)[COOKIE]) as client:
            page = client.get(step.headers["location"])
            for _ in range(10):
                answer = client.post(
                    "/console/login/code",
                    data={"code": wrong, "csrf": csrf_of(page.text)},
                    headers={"x-forwarded-for": address},
                )
                statuses.append(answer.status_code)
                if answer.status_code != 401 or "log in again" in answer.text:
                    break
    console = svc.settings.console
    codes = min(console.login_codes_per_pending, console.login_failures_per_account - own_failures)
    assert statuses == [303] + [401] * codes + [429] * (len(statuses) - 1 - codes)
    assert len(statuses) - 1 - codes >= 5  # every later try, password or code, is held
    assert audited(svc, "second_factor_failed", actor=actor) == own_failures + codes
    last = with_code(servers[1], creds, "198.51.100.2", device=device)
    assert last.status_code == 303, last.text[-800:]
    assert last.headers["location"] == ("/console/dashboard")


def test_parallel_guesses_on_two_processes_are_counted_exactly(
    servers: list[ServerProcess], fake_services: Services
) -> None:
    svc = fake_services
    creds: OperatorCreds = make_operator(
        svc, OperatorRole.VIEWER, email=f"target-{uuid.uuid4().hex[:6]}@ops.example"
    )
    barrier = threading.Barrier(40)
    statuses: list[int] = []

    def guess(n: int) -> None:
        with browser(servers[n % 2]) as client:
            form = login_form(client)
            barrier.wait()
            answer = client.post(
                "/console/login",
                data={"email": creds.email, "password": f"guess number {n}", "form_token": form},
                headers={"x-forwarded-for": f"192.0.2.{n}"},
            )
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(statuses) == 40 and set(statuses) <= {401, 429}
    limit = svc.settings.console.login_failures_per_account
    burst = statuses.count(401)
    assert 1 <= burst <= limit  # never more checks than the account allows, whatever the timing
    later = [
        password(servers[n % 2], creds.email, "still guessing", f"192.0.3.{n}").status_code for n in range(10)
    ]
    assert later == [401] * (limit - burst) + [429] * (10 - limit + burst)
    assert audited(svc, "login_failed", creds.email) == limit


def test_thirty_parallel_logins_from_one_client_leave_everyone_elses_login_working(
    servers: list[ServerProcess], fake_services: Services
) -> None:
    """The campaign's burst: 30 logins at once from one client made every login answer 503 (they
    queued for the password hashes all clients share). The client's tries beyond its own one at a
    time are answered 429 at once; other operators, on either process, log in meanwhile."""
    svc = fake_services
    target = make_operator(svc, OperatorRole.VIEWER)
    others = [make_operator(svc, OperatorRole.VIEWER) for _ in range(2)]
    barrier = threading.Barrier(30 + len(others))
    burst: list[int] = []
    theirs: list[int] = []

    def one(n: int) -> None:
        with browser(servers[n % 2]) as client:
            form = login_form(client)
            email, secret, address, out = (
                (target.email, f"guess {n}", "203.0.113.50", burst)
                if n < 30
                else (others[n - 30].email, others[n - 30].password, f"198.51.100.{n}", theirs)
            )
            barrier.wait()
            answer = client.post(
                "/console/login",
                data={"email": email, "password": secret, "form_token": form},
                headers={"x-forwarded-for": address},
            )
            out.append(answer.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(30 + len(others))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(burst) == 30 and set(burst) <= {401, 429} and 429 in burst  # never 503
    assert theirs == [303] * len(others)  # the others logged in during the burst
