"""The web app's HTTP surface: page, headers, session exchange, capture, status and the QR link."""

from __future__ import annotations

import base64
import json
import re
from importlib import resources

import pytest

from facematch.engine.fake import fake_face_image
from facematch.flows import partners, processing
from facematch.flows.web import session as web_session
from facematch.flows.web.guidance import Hint
from facematch.rules.states import WebOutcome
from facematch.storage.models import FlowSession, Partner
from imagekit import decode_qr
from servicekit import CAPTURED_LOGS
from webkit import REFERENCE_PERSON, TestClient, WebWorld

STATIC = resources.files("facematch.web") / "static"


def _launch(client: TestClient, world: WebWorld, **details: object) -> tuple[str, dict[str, object]]:
    created = world.partner()
    started = world.start(created.partner.id, **details)
    response = client.post("/web/api/session", json={"launchToken": started.launch_token})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["sessionToken"], body


def test_page_headers_follow_the_security_guide(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    world.partner()
    response = client.get("/web/index.html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    ancestors = next(d for d in csp.split("; ") if d.startswith("frame-ancestors"))
    assert ancestors.split()[1] == "'self'" and "https://partner.test" in ancestors.split()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["permissions-policy"].startswith("camera=(self)")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    for name in ("app.js", "app.css", "i18n.js"):
        asset = client.get(f"/web/static/{name}")
        assert asset.status_code == 200 and asset.headers["cache-control"] == "no-store"
    assert client.get("/web/static/../app.py").status_code == 404
    missing = client.get("/web/static/secret.txt")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    error = client.get("/web/api/status")  # the error envelope gets the headers too
    assert error.status_code == 401 and error.headers["referrer-policy"] == "no-referrer"
    assert error.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_the_pages_own_js_and_css_stay_under_100_kb() -> None:
    weight = sum(len((STATIC / name).read_bytes()) for name in ("app.js", "app.css", "i18n.js"))
    assert weight < 100_000


def test_every_string_exists_in_both_locales() -> None:
    i18n = (STATIC / "i18n.js").read_text()
    id_part, en_part = i18n.split("en_ID: {", 1)
    keys = [set(re.findall(r'^\s+"([\w.]+)":', part, re.M)) for part in (id_part, en_part)]
    assert keys[0] == keys[1] and len(keys[0]) > 80
    html = (STATIC / "index.html").read_text()
    used = set(re.findall(r'data-i18n(?:-alt)?="([\w.]+)"', html))
    js = (STATIC / "app.js").read_text()
    used |= {k for k in re.findall(r"(?<![\w.])t\('([\w.]+)'", js) if not k.endswith(".")}
    hints = [hint.value for hint in Hint if hint is not Hint.BUSY] + ["WAIT", "OFFLINE"]
    moves = ["TURN_LEFT", "TURN_RIGHT", "COME_CLOSER"]
    retries = ["FACE_MATCH_FAILED", "QUALITY", "FACE", "NOT_LIVE"]
    for prefix, values in (("hint.", hints), ("retry.", retries), ("move.", moves)):
        used |= {prefix + v for v in values}
    for code in (
        "CAMERA_PERMISSION_DENIED",
        "CAMERA_UNAVAILABLE",
        "SESSION_TIMEOUT",
        "LINK_EXPIRED",
        "NETWORK_ERROR",
        "INVALID_SESSION",
        "UNSUPPORTED_BROWSER",
    ):
        used |= {f"error.{code}.title", f"error.{code}.text"}
    for outcome in WebOutcome:
        used |= {f"status.{outcome}.title", f"status.{outcome}.text"}
    assert used <= keys[0], sorted(used - keys[0])


def test_the_pages_fallback_text_is_the_indonesian_text() -> None:
    # what a browser shows before the script runs (or without it) is what i18n.js says in id_ID
    i18n = (STATIC / "i18n.js").read_text().split("en_ID: {", 1)[0]
    strings = {
        k: json.loads(f'"{v}"') for k, v in re.findall(r'^\s+"([\w.]+)": "((?:[^"\\]|\\.)*)"', i18n, re.M)
    }
    html = (STATIC / "index.html").read_text()
    fallbacks = re.findall(r'data-i18n="([\w.]+)"[^>]*>([^<]*)<', html)
    assert len(fallbacks) > 40
    for key, text in fallbacks:
        assert text == strings[key], key


def test_favicon(app_world: tuple[TestClient, WebWorld]) -> None:
    client, _ = app_world
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory


def test_an_expired_launch_link_still_says_where_to_go_back(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    created = world.partner(privacy_url="https://partner.test/privacy", auto_capture=False)
    started = world.start(created.partner.id, userLocale="en_ID")
    svc = world.svc
    claims = svc.tokens.verify(started.launch_token, web_session.TokenKind.LAUNCH)
    expired = svc.tokens.issue(web_session.TokenKind.LAUNCH, claims["sub"], -10, sid=claims["sid"]).token
    refused = client.post("/web/api/session", json={"launchToken": expired})
    assert refused.status_code == 401
    body = refused.json()
    assert body["success"] is False and body["errors"] == [{"code": "110", "cause": "SESSION_EXPIRED"}]
    way = body["data"]["exit"]
    assert (way["locale"], way["partnerName"], way["status"], way["errorCode"]) == (
        "en_ID",
        "Toko Contoh",
        "ERROR",
        "SESSION_TIMEOUT",
    )
    assert way["callback"]["failureUrl"] == "https://partner.test/fail"
    forged = expired[:-4] + ("AAAA" if not expired.endswith("AAAA") else "BBBB")
    nothing = client.post("/web/api/session", json={"launchToken": forged}).json()
    assert nothing["data"] is None  # not our signature: no way back is named
    # once the flow is final, the way back reports its final status
    token = client.post("/web/api/session", json={"launchToken": started.launch_token}).json()["sessionToken"]
    config = client.get("/web/api/session", headers={"x-web-session": token}).json()["config"]
    assert (config["privacyUrl"], config["autoCapture"], config["retentionDays"]) == (
        "https://partner.test/privacy",
        False,
        30,
    )
    assert config["environment"] == "production"
    shot = client.post(
        "/web/api/capture", content=fake_face_image(REFERENCE_PERSON), headers={"x-web-session": token}
    )
    processing.process_submission(world.svc, shot.json()["submissionId"])
    final = client.post("/web/api/session", json={"launchToken": expired}).json()["data"]["exit"]
    assert (final["status"], final["errorCode"]) == ("COMPLETED", None)
    stale = svc.tokens.issue(
        web_session.TokenKind.USER, claims["sub"], -5, sid=claims["sid"], web="desktop", uid="u", uidt="t"
    ).token
    again = client.get("/web/api/session", headers={"x-web-session": stale})
    assert again.status_code == 401 and again.json()["data"]["exit"]["status"] == "COMPLETED"
    phone = svc.tokens.issue(
        web_session.TokenKind.USER, claims["sub"], -5, sid=claims["sid"], web="phone", uid="u", uidt="t"
    ).token
    assert client.get("/web/api/session", headers={"x-web-session": phone}).json()["data"] is None


def test_launch_exchange_capture_and_status(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    token, body = _launch(client, world, userLocale="en_ID")
    config = body["config"]
    assert (
        config["locale"] == "en_ID" and config["role"] == "desktop" and config["partnerName"] == "Toko Contoh"
    )
    assert config["callback"]["successUrl"] == "https://partner.test/ok"
    headers = {"x-web-session": token}
    assert client.get("/web/api/session", headers=headers).json()["state"]["phase"] == "CAPTURE"
    preview = client.post("/web/api/preview", content=fake_face_image(1, faces=2), headers=headers)
    assert preview.json() == {"hint": "MULTIPLE_FACES", "ready": False}
    empty = client.post("/web/api/capture", content=fake_face_image(1, faces=0), headers=headers)
    assert empty.status_code == 422 and empty.json() == {"hint": "NO_FACE"}
    assert client.get("/web/api/status", headers=headers).json()["submissionId"] is None
    shot = client.post("/web/api/capture", content=fake_face_image(REFERENCE_PERSON), headers=headers)
    assert shot.status_code == 200
    assert client.get("/web/api/status", headers=headers).json()["phase"] == "PROCESSING"
    processing.process_submission(world.svc, shot.json()["submissionId"])
    state = client.get("/web/api/status", headers=headers).json()
    assert state["final"] and state["outcome"] == "APPROVED" and state["nextAction"] == "STATUS"
    assert state["callback"] == {"status": "COMPLETED", "errorCode": None}
    assert "score" not in str(state).lower()
    again = client.post("/web/api/capture", content=fake_face_image(REFERENCE_PERSON), headers=headers)
    assert again.status_code == 409


def test_bad_sessions_get_the_envelope(app_world: tuple[TestClient, WebWorld]) -> None:
    client, _ = app_world
    bad = client.post("/web/api/session", json={"launchToken": "nope"})
    assert bad.status_code == 401 and bad.json()["errors"][0]["cause"] == "INVALID_SESSION"
    assert client.get("/web/api/status").json()["errors"][0]["cause"] == "INVALID_SESSION"
    assert client.get("/web/api/status", headers={"x-web-session": "x.y.z"}).status_code == 401
    for path in ("/web/api/handoff", "/web/api/preview", "/web/api/capture"):
        refused = client.post(path, content=b"\xff\xd8\xff")
        assert refused.status_code == 401 and refused.json()["errors"][0]["cause"] == "INVALID_SESSION"


def test_qr_link_handoff(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    token, _ = _launch(client, world, forceQr=True)
    made = client.post("/web/api/handoff", headers={"x-web-session": token})
    assert made.status_code == 200
    link = _decode_qr(made.json()["qrImage"])
    assert made.json()["link"] == link  # the same link as text, for copying
    cancelled = client.post("/web/api/handoff", headers={"x-web-session": token}).json()["link"]
    assert client.delete("/web/api/handoff", headers={"x-web-session": token}).status_code == 204
    refused = client.get("/web/h/" + cancelled.rsplit("/", 1)[1], follow_redirects=False)
    assert refused.headers["location"].endswith(
        "#/link-expired?locale=id_ID"
    )  # taken back: it no longer works
    made = client.post("/web/api/handoff", headers={"x-web-session": token})
    link = made.json()["link"]
    assert link.startswith("http://127.0.0.1:8000/web/h/") and len(link.rsplit("/", 1)[1]) >= 32
    path = "/web/h/" + link.rsplit("/", 1)[1]
    first = client.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/web/index.html"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("__Host-facematch-web=")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    second = client.get(path, follow_redirects=False)
    assert second.status_code == 303 and second.headers["location"].endswith("#/link-expired?locale=id_ID")
    assert "set-cookie" not in second.headers
    phone_token = cookie.split(";", 1)[0].split("=", 1)[1]
    phone = {"cookie": f"__Host-facematch-web={phone_token}"}
    session = client.get("/web/api/session", headers=phone).json()
    assert session["config"]["role"] == "phone" and session["state"]["handoff"] is None
    assert client.post("/web/api/handoff", headers=phone).status_code == 403
    desktop = client.get("/web/api/status", headers={"x-web-session": token}).json()
    assert desktop["handoff"]["state"] == "REDEEMED"


@pytest.mark.parametrize(("overlap_s", "redeems"), [(0, False), (3600, True)])
def test_a_qr_link_minted_before_a_passkey_rotation_dies_with_its_tokens(
    app_world: tuple[TestClient, WebWorld], overlap_s: int, redeems: bool
) -> None:
    client, world = app_world
    token, _ = _launch(client, world, forceQr=True)
    link = client.post("/web/api/handoff", headers={"x-web-session": token}).json()["link"]
    flow_session_id = web_session.resolve_session(world.svc, token).flow_session_id
    with world.svc.db.session() as session:  # the partner rotates its pass-key
        flow = session.get(FlowSession, flow_session_id)
        partner = session.get(Partner, flow.partner_id) if flow else None
        assert partner is not None
        partners.rotate_passkey(partner, overlap_s=overlap_s)
    opened = client.get("/web/h/" + link.rsplit("/", 1)[1], follow_redirects=False)
    if redeems:  # within the overlap the old generation's tokens, and so its links, still work
        assert opened.headers["location"] == "/web/index.html" and "set-cookie" in opened.headers
    else:  # revoked at once: refused as its desktop session is, and no phone session is made
        assert opened.headers["location"].endswith("#/link-expired?locale=id_ID")
        assert "set-cookie" not in opened.headers


def test_the_access_log_never_shows_a_qr_link_code(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    token, _ = _launch(client, world, forceQr=True)
    # the link as POST /web/api/handoff puts it in the QR image (read here without decoding the QR)
    issued = web_session.new_handoff(world.svc, web_session.resolve_session(world.svc, token))
    code = issued.link.rsplit("/", 1)[1]
    logged_before = len(CAPTURED_LOGS)
    redeemed = client.get("/web/h/" + code, follow_redirects=False)
    assert redeemed.status_code == 303 and "set-cookie" in redeemed.headers
    assert client.get("/web/h/" + code, follow_redirects=False).status_code == 303  # used: refused
    assert client.get(f"/web/h/{code}/extra", follow_redirects=False).status_code == 404  # unmatched
    lines = CAPTURED_LOGS[logged_before:]
    access = [json.loads(line) for line in lines if '"facematch.access"' in line]
    assert [line["msg"] for line in access] == [
        "GET /web/h/{code} 303",
        "GET /web/h/{code} 303",
        "GET /web/h/{code} 404",
    ]
    assert not [line for line in lines if code in line]


def test_a_plain_user_token_is_not_a_web_session(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    created = world.partner()
    started = world.start(created.partner.id)
    from facematch.flows import gateway

    launched = gateway.redeem_launch_token(world.svc, started.launch_token)
    user = gateway.user_token_for_session(
        world.svc, launched.flow_session, generation=launched.token_generation
    )
    assert client.get("/web/api/status", headers={"x-web-session": user.token}).status_code == 401
    launch = {"x-web-session": started.launch_token}
    assert client.get("/web/api/status", headers=launch).status_code == 401


def test_qr_is_refused_when_the_flow_does_not_allow_it(app_world: tuple[TestClient, WebWorld]) -> None:
    client, world = app_world
    token, _ = _launch(client, world)
    assert client.post("/web/api/handoff", headers={"x-web-session": token}).status_code == 403


def _decode_qr(data_uri: str) -> str:
    header, payload = data_uri.split(",", 1)
    assert header == "data:image/png;base64"
    return decode_qr(base64.b64decode(payload))
