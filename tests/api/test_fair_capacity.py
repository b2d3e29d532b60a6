"""Fair capacity over real HTTP: one partner flooding synchronous compares and its end users' web
captures gets 429 PARTNER_CAPACITY_EXCEEDED, while another partner's compares are served at once
and never refused, in one process and over two API processes sharing their counts in Redis."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.images import DecodedImage
from facematch.engine.types import FaceAnalysis, ImageRole
from facematch.storage.db import Database
from partner_client import Api, make_api
from servicekit import (
    ONBOARDING,
    LiveServer,
    api_processes,
    create_partner,
    live_app,
    require_redis,
    wait_for,
)
from webkit import WebWorld

FLOOD_PERSON, OTHER_PERSON = 11, 5
WEB_ONBOARDING = "DEMO-WEB_SDK-FACE_MATCH"


class FloodGatedEngine(FakeEngine):
    """The fake engine, held while the gate is closed for images of ``FLOOD_PERSON`` only."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.held = 0
        self._flood = FakeEngine().analyze(fake_face_image(FLOOD_PERSON), ImageRole.SELFIE).template
        self._lock = threading.Lock()

    def analyze_decoded(self, decoded: DecodedImage, role: ImageRole) -> FaceAnalysis:
        analysis = super().analyze_decoded(decoded, role)
        if np.array_equal(analysis.template, self._flood) and not self.gate.is_set():
            with self._lock:
                self.held += 1
            assert self.gate.wait(60)
        return analysis


USER = {"x-partner-user-id": "u", "x-partner-user-id-type": "TEST_ID", "x-onboarding-partner": ONBOARDING}


def compare(http: httpx.Client, person: int, token: str) -> httpx.Response:
    headers = {"x-onekyc-token": token, "x-partner-session-id": str(uuid.uuid4()), **USER}
    image = fake_face_image(person)
    files = {"selfie": ("s.png", image, "image/png"), "reference": ("r.png", image, "image/png")}
    return http.post("/coe-partner/v1/face-match", headers=headers, files=files)


def in_background(
    calls: list[Callable[[], httpx.Response]],
) -> tuple[list[httpx.Response], Callable[[], None]]:
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda c=call: answers.append(c())) for call in calls]
    for thread in threads:
        thread.start()

    def join() -> None:
        for thread in threads:
            thread.join(60)

    return answers, join


def web_capture(live: LiveServer, partner_id: str) -> Callable[[], httpx.Response]:
    """An end user of ``partner_id`` taking the photo of a new web flow (over HTTP)."""
    launch = WebWorld(live.services).start(partner_id).launch_token
    with httpx.Client(base_url=live.url, timeout=60) as client:
        token = client.post("/web/api/session", json={"launchToken": launch}).json()["sessionToken"]

    def shoot() -> httpx.Response:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            return client.post(
                "/web/api/capture", content=fake_face_image(FLOOD_PERSON), headers={"x-web-session": token}
            )

    return shoot


@pytest.fixture
def apis() -> Iterator[list[Api]]:
    """Partners' clients made in a test, closed after it."""
    made: list[Api] = []
    yield made
    for api in made:
        api.http.close()


@pytest.fixture
def gated(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, FloodGatedEngine]]:
    engine = FloodGatedEngine()
    with live_app(
        database_url,
        tmp_path,
        engine=engine,
        FACEMATCH_LIMITS__ANALYSIS_SLOTS="2",
        FACEMATCH_LIMITS__PARTNER_SHARE="0.5",  # one slot and four waiting places per partner
        FACEMATCH_LIMITS__ANALYSIS_QUEUE="8",
        # a request that waited for a slot would hang until the gate opens: an answer while it is
        # closed shows it was not queued behind the flood, whatever the machine's speed
        FACEMATCH_LIMITS__ANALYSIS_WAIT_S="600",
        FACEMATCH_SUBMISSIONS__WORKERS="0",
    ) as live:
        try:
            yield live, engine
        finally:
            engine.gate.set()


def test_a_flooding_partner_gets_429_while_another_is_served_at_once(
    gated: tuple[LiveServer, FloodGatedEngine], apis: list[Api]
) -> None:
    live, engine = gated
    pool = live.services.analysis
    # the flooding partner runs both a backend integration and the hosted flow
    flood = make_api(
        live,
        callback_url=None,
        onboarding_partners=[ONBOARDING, WEB_ONBOARDING],
        reference_hosts=["127.0.0.1", "partner.test"],
        frame_origins=["https://partner.test"],
    )
    other = make_api(live, callback_url=None)
    apis += [flood, other]
    # one of its end users holds the partner's one slot with a photo ...
    captured, join_capture = in_background([web_capture(live, flood.creds.partner_id)])
    wait_for(lambda: engine.held == 1)
    # ... so that its compares wait in its four places, and the rest are refused at once
    token = flood.partner_token()
    answers, join_flood = in_background([lambda: compare(flood.http, FLOOD_PERSON, token)] * 12)
    wait_for(lambda: len(answers) == 8)
    assert pool.running(flood.creds.partner_id) == 1 and pool.waiting == 4
    for refused in answers:
        assert refused.status_code == 429, refused.text
        assert refused.json()["errors"][0] == {"code": "429", "cause": "PARTNER_CAPACITY_EXCEEDED"}
        assert int(refused.headers["retry-after"]) >= 1
    # the other partner is served at once, again and again, while the flood holds on
    other_token = other.partner_token()
    for _ in range(3):
        served = compare(other.http, OTHER_PERSON, other_token)
        assert served.status_code == 200 and served.json()["data"]["result"] == "VALID"
    engine.gate.set()
    join_flood()
    join_capture()
    assert sorted(answer.status_code for answer in answers) == [200] * 4 + [429] * 8
    assert captured[0].status_code == 200
    assert pool.busy == 0 and pool.waiting == 0


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()


def partner_token(database_url: str, url: str) -> str:
    db = Database(database_url)
    try:
        creds = create_partner(db)
    finally:
        db.dispose()
    auth = {"client-id": creds.client_id, "pass-key": creds.passkey}
    return str(httpx.get(url + "/v1/coe/partner/authentication", headers=auth).json()["data"]["token"])


def test_a_partners_share_holds_over_two_api_processes(
    database_url: str, tmp_path: Path, clients: list[httpx.Client]
) -> None:
    require_redis()
    gate = tmp_path / "gate"
    gate.touch()
    with api_processes(
        database_url,
        tmp_path,
        2,
        FM_TEST_GATE_FILE=str(gate),
        FM_TEST_GATE_PERSON=str(FLOOD_PERSON),
        FACEMATCH_LIMITS__ANALYSIS_SLOTS="4",
        FACEMATCH_LIMITS__PARTNER_SHARE="0.75",  # three slots per process: six over both ...
        FACEMATCH_LIMITS__PARTNER_ANALYSES_AT_ONCE="2",  # ... but two at once over both
        FACEMATCH_LIMITS__ANALYSIS_WAIT_S="600",
    ) as servers:
        clients += [httpx.Client(base_url=server.url, timeout=60) for server in servers]
        flood, other = (partner_token(database_url, servers[0].url) for _ in range(2))
        calls = [lambda n=n: compare(clients[n % 2], FLOOD_PERSON, flood) for n in range(12)]
        answers, join = in_background(calls)
        wait_for(lambda: len(answers) == 10)  # two are held by the gate, over both processes
        for refused in answers:
            assert refused.status_code == 429
            assert refused.json()["errors"][0]["cause"] == "PARTNER_CAPACITY_EXCEEDED"
        for n in range(4):  # served by either process meanwhile, never refused
            served = compare(clients[n % 2], OTHER_PERSON, other)
            assert served.status_code == 200 and served.json()["data"]["result"] == "VALID"
        gate.unlink()
        join()
    assert sorted(answer.status_code for answer in answers) == [200] * 2 + [429] * 10
