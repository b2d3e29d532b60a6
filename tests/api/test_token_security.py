"""Security guide §3: token negatives, pass-key rotation and revocation, throttling without lockout."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from facematch.flows import partners
from facematch.storage import partner_repo
from partner_client import Api, make_api
from servicekit import TOKEN_SECRET, live_app

INITIATE = {"flow": "FACE_MATCH", "source": "SDK"}


def initiate_with(api: Api, token: str) -> httpx.Response:
    headers = {"x-onekyc-token": token, "x-partner-session-id": str(uuid.uuid4()), **api.user_headers()}
    return api.http.post("/coe-partner/v1/initiate-flow", headers=headers, json=INITIATE)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(api: Api, **changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": "facematch",
        "aud": "facematch:partner",
        "sub": api.creds.partner_id,
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda api: jwt.encode(claims(api, exp=int(time.time()) - 1), TOKEN_SECRET), id="expired"
        ),
        pytest.param(
            lambda api: _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims(api)) + ".", id="alg-none"
        ),
        pytest.param(
            lambda api: jwt.encode(claims(api, aud="facematch:user"), TOKEN_SECRET), id="wrong-audience"
        ),
        pytest.param(
            lambda api: jwt.encode(claims(api), "another-secret-of-enough-length-000000"), id="wrong-key"
        ),
        pytest.param(lambda api: jwt.encode(claims(api, iss="someone"), TOKEN_SECRET), id="wrong-issuer"),
        pytest.param(
            lambda api: jwt.encode(claims(api), TOKEN_SECRET, algorithm="HS384"), id="other-algorithm"
        ),
        pytest.param(lambda api: api.user_token(), id="user-token-on-partner-endpoint"),
        pytest.param(
            lambda api: jwt.encode(claims(api, aud=["facematch:partner", "facematch:user"]), TOKEN_SECRET),
            id="audience-list",
        ),
        pytest.param(lambda api: api.partner_token()[:-3] + "abc", id="tampered-signature"),
        # signed with the real key, but naming a key or where to fetch one: not a token we made
        pytest.param(lambda api: jwt.encode(claims(api), TOKEN_SECRET, headers={"kid": "1"}), id="kid"),
        pytest.param(
            lambda api: jwt.encode(claims(api), TOKEN_SECRET, headers={"jku": "https://evil.example/k"}),
            id="jku",
        ),
        pytest.param(
            lambda api: jwt.encode(claims(api), TOKEN_SECRET, headers={"jwk": {"kty": "oct", "k": "AA"}}),
            id="jwk",
        ),
        pytest.param(
            lambda api: jwt.encode(claims(api), TOKEN_SECRET, headers={"x5u": "https://evil.example/c"}),
            id="x5u",
        ),
    ],
)
def test_bad_partner_tokens_are_401(api: Api, forge: object) -> None:
    token = forge(api)  # type: ignore[operator]
    response = initiate_with(api, token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["cause"] == "UNAUTHORIZED"


def test_control_a_forged_token_with_the_right_key_works(api: Api) -> None:
    assert initiate_with(api, jwt.encode(claims(api), TOKEN_SECRET)).status_code == 200


def test_partner_token_cannot_call_user_endpoints(api: Api) -> None:
    response = api.presign(api.partner_token(), str(uuid.uuid4()))
    assert response.status_code == 401


def test_passkey_rotation_overlap_and_revocation(api: Api) -> None:
    db = api.server.services.db
    with db.session() as session:
        partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
        assert partner is not None
        new_key = partners.rotate_passkey(partner, overlap_s=3600)
    old_key = api.creds.passkey

    def token_status(passkey: str) -> int:
        headers = {"client-id": api.creds.client_id, "pass-key": passkey}
        return api.http.get("/v1/coe/partner/authentication", headers=headers).status_code

    assert token_status(old_key) == 200 and token_status(new_key) == 200
    with db.session() as session:
        partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
        assert partner is not None
        newest = partners.rotate_passkey(partner, overlap_s=0)
    assert token_status(new_key) == 401 and token_status(old_key) == 401
    assert token_status(newest) == 200


def test_disabled_partner_loses_tokens_and_keys(api: Api) -> None:
    token = api.partner_token()
    with api.server.services.db.session() as session:
        partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
        assert partner is not None
        partners.set_disabled(partner, True)
    assert initiate_with(api, token).status_code == 401
    headers = {"client-id": api.creds.client_id, "pass-key": api.creds.passkey}
    assert api.http.get("/v1/coe/partner/authentication", headers=headers).status_code == 401


def _issued(api: Api) -> dict[str, str]:
    """One token of every kind a partner's credentials lead to."""
    sdk_psid, web_psid = str(uuid.uuid4()), str(uuid.uuid4())
    sdk = api.initiate(sdk_psid, INITIATE).json()["data"]["token"]
    web = api.initiate(
        web_psid,
        {
            "flow": "FACE_MATCH",
            "source": "WEB_SDK",
            "successRedirectionUrl": "https://partner.example/ok",
            "failureRedirectionUrl": "https://partner.example/fail",
        },
    ).json()["data"]["launchUrl"]
    return {
        "partner": api.partner_token(),
        "user": api.user_token(),
        "initiate-sdk": sdk,
        "sdk-psid": sdk_psid,
        "launch": web.split("token=", 1)[1],
    }


def _working(api: Api, tokens: dict[str, str]) -> dict[str, bool]:
    """Which of the tokens still work, each on an endpoint that takes it."""
    presign_psid = str(uuid.uuid4())
    return {
        "partner": initiate_with(api, tokens["partner"]).status_code == 200,
        "user": api.presign(tokens["user"], presign_psid).status_code == 200,
        "initiate-sdk": api.presign(tokens["initiate-sdk"], tokens["sdk-psid"]).status_code == 200,
        "launch": api.http.post("/web/api/session", json={"launchToken": tokens["launch"]}).status_code
        == 200,
    }


def _rotate(api: Api, overlap_s: int) -> str:
    with api.server.services.db.session() as session:
        partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
        assert partner is not None
        return partners.rotate_passkey(partner, overlap_s=overlap_s)


def test_rotation_without_overlap_revokes_every_token_minted_before(api: Api) -> None:
    before = _issued(api)
    assert all(_working(api, before).values())
    api.creds.passkey = _rotate(api, overlap_s=0)
    assert not any(_working(api, before).values())
    assert all(_working(api, _issued(api)).values())  # tokens of the new pass-key work


def test_rotation_with_overlap_keeps_old_tokens_until_the_overlap_ends(api: Api) -> None:
    before = _issued(api)
    old_passkey = api.creds.passkey
    api.creds.passkey = _rotate(api, overlap_s=3600)
    assert all(_working(api, before).values())
    api.creds.passkey = old_passkey  # the old pass-key still mints tokens during the overlap
    during = _issued(api)
    assert all(_working(api, during).values())
    with api.server.services.db.session() as session:  # the overlap ends
        partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
        assert partner is not None
        partner.previous_passkey_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert not any(_working(api, before).values())
    assert not any(_working(api, during).values())


def test_enabling_again_does_not_revive_tokens_minted_before_the_disable(api: Api) -> None:
    before = _issued(api)
    for disabled in (True, False):
        with api.server.services.db.session() as session:
            partner = partner_repo.partner_by_client_id(api.creds.client_id, session=session)
            assert partner is not None
            partners.set_disabled(partner, disabled)
    assert not any(_working(api, before).values())
    assert all(_working(api, _issued(api)).values())  # the pass-key works again


def test_wrong_passkeys_spread_over_many_addresses_are_throttled_for_the_client_id(api: Api) -> None:
    api.partner_token()  # the partner's own address has authenticated: it stays known
    headers = {"client-id": api.creds.client_id, "pass-key": "guess"}
    statuses: list[int] = []
    for host in range(2, 12):  # ten addresses, ten guesses each: none reaches its own limit
        with httpx.Client(
            base_url=api.server.url,
            transport=httpx.HTTPTransport(local_address=f"127.0.0.{host}"),
            timeout=10,
        ) as attacker:
            statuses += [
                attacker.get("/v1/coe/partner/authentication", headers=headers).status_code for _ in range(10)
            ]
    assert statuses[:50] == [401] * 50  # the client-id's limit, 50 a minute from all addresses
    assert set(statuses[50:]) == {429}
    assert api.partner_token()  # the partner, from its known address, is not locked out


def test_wrong_passkeys_are_throttled_without_locking_out_the_partner(api: Api) -> None:
    attacker = httpx.Client(
        base_url=api.server.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10
    )
    headers = {"client-id": api.creds.client_id, "pass-key": "guess"}
    statuses = [
        attacker.get("/v1/coe/partner/authentication", headers=headers).status_code for _ in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    throttled = attacker.get("/v1/coe/partner/authentication", headers=headers)
    assert throttled.json()["errors"][0] == {
        "code": "429",
        "cause": "TOO_MANY_REQUESTS",
        "entity": "ONEKYC_TOKEN_SERVICE",
    }
    assert int(throttled.headers["retry-after"]) > 0
    attacker.close()
    # the real partner, calling from its own address, is not locked out
    assert api.partner_token()


def test_passkey_in_query_string_is_not_accepted(api: Api) -> None:
    response = api.http.get(
        "/v1/coe/partner/authentication",
        params={"client-id": api.creds.client_id, "pass-key": api.creds.passkey},
    )
    assert response.status_code == 400


def test_per_partner_rate_limit_answers_429_with_retry_after(database_url: str, tmp_path: Path) -> None:
    with live_app(
        database_url, tmp_path, FACEMATCH_SERVER__PARTNER_RATE_PER_S="1", FACEMATCH_SERVER__PARTNER_BURST="5"
    ) as server:
        noisy, quiet = make_api(server), make_api(server)
        token = noisy.partner_token()
        statuses = [initiate_with(noisy, token).status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
        limited = initiate_with(noisy, token)
        assert limited.json()["errors"][0] == {"code": "429", "cause": "TOO_MANY_REQUESTS"}
        assert int(limited.headers["retry-after"]) >= 1
        assert initiate_with(quiet, quiet.partner_token()).status_code == 200  # other partners are unaffected
        noisy.http.close()
        quiet.http.close()
