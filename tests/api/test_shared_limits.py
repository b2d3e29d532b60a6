"""Limits shared by API processes through Redis: a partner's rate and the wrong-pass-key throttle
count the same over one process or two, and a Redis outage leaves every process limiting on its own."""

from __future__ import annotations

import time
import uuid
from itertools import cycle
from pathlib import Path

import httpx
import pytest

from facematch.errors import AuthThrottledError
from facematch.security.throttle import AuthThrottle, Counters
from facematch.storage.db import Database
from servicekit import ServerProcess, api_processes, create_partner, require_redis

RATE_PER_S, BURST = 0.2, 10
RATE = {
    "FACEMATCH_SERVER__PARTNER_RATE_PER_S": str(RATE_PER_S),
    "FACEMATCH_SERVER__PARTNER_BURST": str(BURST),
}


@pytest.fixture(scope="module")
def redis_up() -> None:
    require_redis()


def _partner(database_url: str) -> tuple[str, str]:
    db = Database(database_url)
    try:
        creds = create_partner(db)
    finally:
        db.dispose()
    return creds.client_id, creds.passkey


def _until_limited(servers: list[ServerProcess], client_id: str, passkey: str) -> tuple[int, float]:
    """Hammer the servers in turn until one answers 429: how many were served before it, and over
    how many seconds (the bucket refills meanwhile, so a slow machine is served a little more)."""
    auth = {"client-id": client_id, "pass-key": passkey}
    token = httpx.get(servers[0].url + "/v1/coe/partner/authentication", headers=auth).json()["data"]["token"]
    served = 0
    clients = {server.url: httpx.Client(base_url=server.url, timeout=30) for server in servers}
    try:
        started = time.monotonic()
        for url in cycle(clients):
            answer = clients[url].get(
                "/coe/v1/submissions", headers={"x-onekyc-token": token, "x-partner-session-id": "none"}
            )
            if answer.status_code == 429:
                return served, time.monotonic() - started
            served += 1
            assert served < 10 * BURST, "the rate limit never engaged"
    finally:
        for client in clients.values():
            client.close()
    raise AssertionError("unreachable")


def test_a_partner_gets_the_same_rate_from_one_process_or_two(
    redis_up: None, database_url: str, tmp_path: Path
) -> None:
    with api_processes(database_url, tmp_path, 2, **RATE) as servers:
        for group in (servers[:1], servers):
            served, seconds = _until_limited(group, *_partner(database_url))
            # one bucket, whichever process answers: its burst, plus what it refilled meanwhile
            # (two buckets of their own would serve twice the burst before the first 429)
            assert BURST <= served <= BURST + RATE_PER_S * seconds + 1


def test_wrong_passkeys_over_two_processes_are_throttled_as_if_sent_to_one(
    redis_up: None, database_url: str, tmp_path: Path
) -> None:
    client_id, _ = _partner(database_url)
    headers = {"client-id": client_id, "pass-key": "guess"}
    with api_processes(database_url, tmp_path, 2) as servers:
        statuses = [
            httpx.get(servers[n % 2].url + "/v1/coe/partner/authentication", headers=headers).status_code
            for n in range(12)
        ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_without_redis_each_process_still_throttles_on_its_own() -> None:
    started = time.monotonic()
    counters = Counters("redis://127.0.0.1:1/0", prefix=f"test-{uuid.uuid4().hex[:8]}")  # nothing listens
    throttle = AuthThrottle(counters, per_source_per_minute=3, per_client_per_minute=50)
    for _ in range(3):
        throttle.check("client", "10.0.0.9")
        throttle.failed("client", "10.0.0.9")
    with pytest.raises(AuthThrottledError):  # guessing is not opened by the outage
        throttle.check("client", "10.0.0.9")
    throttle.succeeded("client", "10.0.0.1")
    throttle.check("client", "10.0.0.1")  # and the partner is not locked out
    assert not counters.shared
    assert time.monotonic() - started < 5  # a dead Redis costs one short timeout, not one per call
