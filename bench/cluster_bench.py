"""Asynchronous backend-to-backend throughput: the embedded default beside the cluster, in one run.

Three setups take the same load, one after the other, on this machine:

* ``embedded``: ``facematch serve`` as ``make run`` runs it (SQLite, local files, in-process job
  workers and callback sender);
* ``cluster-1``: one ``facematch serve`` with no background work and one ``facematch worker``,
  on PostgreSQL, SeaweedFS (S3) and Redis;
* ``cluster-2``: the same with two ``facematch worker`` processes.

Load: first ``--paced`` submissions one at a time (one client waiting for each decision: the
pipeline's own latency), then a burst of ``--clients`` partners' backends each running presign →
upload selfie and reference → confirm, ``--submissions`` in all (two ~1 MP JPEGs of one person, the
real engine). Reported per setup and load: submissions/s from the first confirm to the last
decision, p50/p95 of confirm → COMPLETED (the server's own timestamps), and the RSS of each process
at the end.

Usage: python bench/cluster_bench.py --shared ../shared [--json bench/out/cluster.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from facematch.storage.db import Database, migrate
from facematch.storage.models import Submission
from servers import free_port, rss_mib

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from s3kit import SeaweedFS
from servicekit import ONBOARDING, SECRET_BOX, create_partner, service_env

FACEMATCH = Path(sys.executable).with_name("facematch")
SELFIE, REFERENCE = "obama.jpg", "obama2.jpg"


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        if process.poll() is not None:
            raise SystemExit(log.read_text()[-3000:])
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


@contextlib.contextmanager
def processes(
    specs: list[tuple[list[str], dict[str, str], int]], workdir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        for number, (args, env, port) in enumerate(specs):
            log = workdir / f"process{number}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(FACEMATCH), *args], env=env, stdout=out, stderr=out, cwd=workdir
                )
            started.append(process)
            _wait_ready(f"http://127.0.0.1:{port}", process, log)
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(40)


def run_load(
    api: str, db_url: str, clients: int, submissions: int, images: tuple[bytes, bytes], *, each: bool = False
) -> dict[str, Any]:
    """``each``: every client waits for a submission's decision before it sends the next."""
    db = Database(db_url)
    creds = create_partner(db)
    left = iter(range(submissions))
    lock = threading.Lock()
    ids: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=api, timeout=120) as http:
            auth = {
                "client-id": creds.client_id,
                "pass-key": creds.passkey,
                "x-onboarding-partner": ONBOARDING,
                "x-partner-user-id": "bench",
                "x-partner-user-id-type": "BENCH",
            }
            token = http.get("/v2/coe/authentication", headers=auth).json()["data"]["token"]
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                psid = str(uuid.uuid4())
                headers = {"x-onekyc-token": token, "x-partner-session-id": psid, "x-sdk-session-id": "bench"}
                presigned = http.get(
                    "/coe/v1/submissions/urls", params={"submissionType": "FACE_MATCH"}, headers=headers
                ).json()["data"]
                for document, data in zip(("SELFIE", "REFERENCE"), images, strict=True):
                    url = presigned["documents"][document]["documentUrl"]
                    assert (
                        httpx.put(url, content=data, headers={"content-type": "image/jpeg"}).status_code
                        == 200
                    )
                body = {"submissionId": presigned["submissionId"], "metadata": {}}
                assert http.put("/coe/v1/submissions/urls", headers=headers, json=body).status_code == 200
                with lock:
                    ids.append(presigned["submissionId"])
                while each:
                    status = http.get(
                        f"/coe/v1/submissions/{presigned['submissionId']}/status", headers=headers
                    )
                    if status.json()["data"]["status"] in ("COMPLETED", "ERROR"):
                        break
                    time.sleep(0.01)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        with db.session() as session:
            rows = session.execute(
                select(Submission.confirmed_at, Submission.completed_at, Submission.status).where(
                    Submission.id.in_(ids)
                )
            ).all()
        if len(rows) == len(ids) and all(status in ("COMPLETED", "ERROR") for *_, status in rows):
            break
        time.sleep(0.5)
    db.dispose()
    latencies = sorted((done - confirmed).total_seconds() for confirmed, done, _ in rows)
    span = (max(done for _, done, _ in rows) - min(confirmed for confirmed, _, _ in rows)).total_seconds()
    return {
        "submissions": len(rows),
        "errors": sum(status == "ERROR" for *_, status in rows),
        "per_second": round(len(rows) / span, 2),
        "confirm_to_decision_p50_ms": round(1000 * statistics.median(latencies)),
        "confirm_to_decision_p95_ms": round(
            1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        ),
    }


def measure(api: str, db_url: str, args: argparse.Namespace, images: tuple[bytes, bytes]) -> dict[str, Any]:
    """One client one submission at a time (the pipeline's own latency), then the burst."""
    return {
        "one_at_a_time": run_load(api, db_url, 1, args.paced, images, each=True),
        "burst": run_load(api, db_url, args.clients, args.submissions, images),
    }


def fresh_pg(base: str) -> tuple[str, str]:
    parsed = make_url(base)
    name = f"fm_bench_{uuid.uuid4().hex[:8]}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False), name


def drop_pg(base: str, name: str) -> None:
    admin = (
        make_url(base).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--submissions", type=int, default=200, help="submissions of the burst")
    parser.add_argument("--paced", type=int, default=20, help="submissions sent one at a time first")
    parser.add_argument("--setups", default="embedded,cluster-1,cluster-2")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.shared / "faces" / "images"
    images = ((folder / SELFIE).read_bytes(), (folder / REFERENCE).read_bytes())
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "clients": args.clients,
        "images": [SELFIE, REFERENCE],
        "setups": {},
    }
    for setup in args.setups.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            if setup == "embedded":
                db_url = f"sqlite:///{workdir / 'facematch.db'}"
                migrate(db_url, secret_box=SECRET_BOX)
                port = free_port()
                env = {
                    **os.environ,
                    **service_env(db_url, workdir),
                    "FACEMATCH_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
                }
                env.pop("FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S")  # the defaults, as make run has them
                env.pop("FACEMATCH_SUBMISSIONS__JOB_LEASE_S")
                with processes([(["serve", "--port", str(port)], env, port)], workdir) as started:
                    measured = measure(f"http://127.0.0.1:{port}", db_url, args, images)
                    measured["rss_mib"] = {"serve": round(rss_mib(started[0].pid), 1)}
            else:
                workers = int(setup.split("-")[1])
                db_url, name = fresh_pg(args.postgres)
                seaweed = SeaweedFS(workdir / "s3").start()
                try:
                    migrate(db_url, secret_box=SECRET_BOX)
                    common = {**os.environ, **service_env(db_url, workdir), **seaweed.env(f"bench-{setup}")}
                    common["FACEMATCH_LIMITS__STORAGE_URI"] = args.redis
                    common["FACEMATCH_LIMITS__KEY_PREFIX"] = name
                    for key in (  # the defaults, not the tests' short ones
                        "FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S",
                        "FACEMATCH_SUBMISSIONS__JOB_LEASE_S",
                        "FACEMATCH_BLOBS__S3__CONNECT_TIMEOUT_S",
                        "FACEMATCH_BLOBS__S3__READ_TIMEOUT_S",
                        "FACEMATCH_BLOBS__S3__RETRIES",
                    ):
                        common.pop(key)
                    port = free_port()
                    api_env = {**common, "FACEMATCH_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}"}
                    api_env.update(
                        {"FACEMATCH_SUBMISSIONS__WORKERS": "0", "FACEMATCH_CALLBACKS__WORKERS": "0"}
                    )
                    specs = [(["serve", "--no-migrate", "--port", str(port)], api_env, port)]
                    for _ in range(workers):
                        worker_port = free_port()
                        specs.append(
                            (["worker", "--no-migrate", "--port", str(worker_port)], common, worker_port)
                        )
                    with processes(specs, workdir) as started:
                        measured = measure(f"http://127.0.0.1:{port}", db_url, args, images)
                        measured["rss_mib"] = {
                            ("serve" if n == 0 else f"worker{n}"): round(rss_mib(p.pid), 1)
                            for n, p in enumerate(started)
                        }
                finally:
                    seaweed.stop()
                    drop_pg(args.postgres, name)
            result["setups"][setup] = measured
            print(setup, json.dumps(measured), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
