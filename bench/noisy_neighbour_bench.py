"""A noisy neighbour: one partner's reference server hangs; how long do another partner's jobs take?

``facematch serve --dev`` (real engine, SQLite, the default two job workers) on a free port. Partner A
confirms ``--hanging`` submissions whose ``referenceImageUrl`` points at a server that never answers
(each fetch runs into the 10 s deadline and is retried); meanwhile partner B confirms ``--quick``
ordinary submissions one after the other and we time confirm → decided for each. The same run is
made twice, side by side: with the shipped settings (fetches wait on threads of their own, holding
no CPU slot; claims fair across partners) and as jobs ran before (``FETCH_WORKERS=0``: a fetch holds
one of the two job threads; ``MAX_RUNNING_PER_PARTNER=2``: no cap on one partner).

Usage: python bench/noisy_neighbour_bench.py --shared ../shared [--json bench/out/noisy.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from servers import create_partner, start_server

SELFIE, REFERENCE = "obama.jpg", "obama2.jpg"
ONBOARDING = "DEMO-BE-FACE_MATCH"


class Hanging(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(60)

    def log_message(self, format: str, *args: object) -> None:
        pass


def user_token(url: str, client_id: str, passkey: str) -> str:
    headers = {
        "client-id": client_id,
        "pass-key": passkey,
        "x-onboarding-partner": ONBOARDING,
        "x-partner-user-id": "bench",
        "x-partner-user-id-type": "BENCH",
    }
    return str(httpx.get(url + "/v2/coe/authentication", headers=headers).json()["data"]["token"])


def confirm(
    http: httpx.Client, url: str, token: str, psid: str, selfie: bytes, reference: bytes | None
) -> str:
    headers = {"x-onekyc-token": token, "x-partner-session-id": psid, "x-sdk-session-id": "bench"}
    presigned = http.get(
        url + "/coe/v1/submissions/urls", params={"submissionType": "FACE_MATCH"}, headers=headers
    ).json()["data"]
    documents = [("SELFIE", selfie)] + ([("REFERENCE", reference)] if reference else [])
    for document, data in documents:
        put = http.put(presigned["documents"][document]["documentUrl"], content=data)
        assert put.status_code == 200, put.text
    body = {"submissionId": presigned["submissionId"], "metadata": {}}
    assert http.put(url + "/coe/v1/submissions/urls", headers=headers, json=body).status_code == 200
    return str(presigned["submissionId"])


def run(
    workdir: Path, env: dict[str, str], hanging: int, quick: int, images: tuple[bytes, bytes]
) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    process, url, demo = start_server(workdir, env)
    try:
        with httpx.Client(timeout=60) as http:
            partner_headers = {"client-id": demo["clientId"], "pass-key": demo["passKey"]}
            partner_token = http.get(url + "/v1/coe/partner/authentication", headers=partner_headers).json()[
                "data"
            ]["token"]
            for _ in range(hanging):  # partner A: references that never come
                psid = str(uuid.uuid4())
                body = {
                    "flow": "FACE_MATCH",
                    "source": "SDK",
                    "additionalDetails": {
                        "referenceImageUrl": f"http://127.0.0.1:{server.server_address[1]}/reference"
                    },
                }
                headers = {
                    "x-onekyc-token": partner_token,
                    "x-partner-session-id": psid,
                    "x-onboarding-partner": ONBOARDING,
                    "x-partner-user-id": "a",
                    "x-partner-user-id-type": "BENCH",
                }
                token = http.post(url + "/coe-partner/v1/initiate-flow", headers=headers, json=body).json()[
                    "data"
                ]["token"]
                confirm(http, url, token, psid, images[0], None)
            time.sleep(1.0)  # their fetches have started
            quick = create_partner(workdir, "Quick partner", ONBOARDING)
            client_id, passkey = quick["clientId"], quick["passKey"]
            token = user_token(url, client_id, passkey)
            waits = []
            for _ in range(quick):  # partner B, one after the other
                psid = str(uuid.uuid4())
                submission_id = confirm(http, url, token, psid, *images)
                confirmed = time.monotonic()
                headers = {"x-onekyc-token": token, "x-partner-session-id": psid, "x-sdk-session-id": "bench"}
                while True:
                    status = http.get(url + f"/coe/v1/submissions/{submission_id}/status", headers=headers)
                    if status.json()["data"]["status"] in ("COMPLETED", "ERROR"):
                        break
                    time.sleep(0.02)
                waits.append(time.monotonic() - confirmed)
    finally:
        process.terminate()  # it drains: the hung fetches hold it up to drain_timeout_s
        process.wait(120)
        server.shutdown()
    return {
        "quick_confirm_to_decided_p50_s": round(statistics.median(waits), 2),
        "quick_confirm_to_decided_max_s": round(max(waits), 2),
        "quick_submissions": len(waits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--hanging", type=int, default=2)
    parser.add_argument("--quick", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.shared / "faces" / "images"
    images = ((folder / SELFIE).read_bytes(), (folder / REFERENCE).read_bytes())
    result: dict[str, Any] = {"cpus": os.cpu_count(), "machine": platform.machine(), "hanging": args.hanging}
    round_one = {  # two job threads that also wait on fetches, and no cap per partner
        "FACEMATCH_SUBMISSIONS__FETCH_WORKERS": "0",
        "FACEMATCH_SUBMISSIONS__MAX_RUNNING_PER_PARTNER": "2",
    }
    for label, env in (("shipped", {}), ("round_one_queue", round_one)):
        with tempfile.TemporaryDirectory() as tmp:
            result[label] = run(Path(tmp), env, args.hanging, args.quick, images)
        print(label, json.dumps(result[label]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
