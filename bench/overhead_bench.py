"""Service overhead: the CPU the service spends around the engine's own work, two trees side by side.

What is measured (CPU time of the server's process tree from /proc, never wall time; the machine
may be busy with other work):

* **per backend submission** (``embedded``: ``facematch serve`` with its job workers and callback
  sender, SQLite and local files, as ``make run`` has it; ``cluster``: one ``facematch serve`` with
  no background work and one ``facematch worker``, on PostgreSQL, SeaweedFS (S3) and Redis, both
  processes summed): ``--clients`` partner backends run ``--submissions`` submissions in all, each a
  user token, Get Presigned URLs, the SELFIE and REFERENCE uploads, Confirm Upload and status polls
  until the decision (every ``--poll-s``); the callback goes to a receiver in this process. The
  server's CPU over the run, less the client's polls (their count × the CPU of one poll, measured
  on the same server), divided by the submissions, against **the engine's own work** on the same
  images: ``analyze(selfie) + analyze(reference) + compare`` in this process (real engine, one
  thread, as the service runs it). Also: the server's CPU per second while idle (its loops).
* **per request**, on an API process with no background work (``submissions.workers`` 0, so no job
  runs behind a confirm): partner token, user token, presign, upload, confirm, status poll, and
  the hosted flow's preview frame (240x320, as the app sends it, and 1280x960) and capture (1280 px).
* **start-up**: CPU of ``facematch --help`` and of importing what ``facematch worker`` imports.

The two trees (``--baseline SRC_ROOT``, e.g. ``git archive <rev> src | tar -x -C /tmp/before``,
and this checkout) run with the same interpreter and dependencies, each with its own ``src`` first
on ``PYTHONPATH``; they take turns round by round, so the machine's load falls on both. The decisions
(status, result, reason, score) of every pair are compared across the trees.

    git archive main src | tar -x -C /tmp/before
    .venv/bin/python bench/overhead_bench.py --shared ../shared --baseline /tmp/before \\
        --json bench/out/overhead.json
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import io
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from servers import free_port  # noqa: E402

#: genuine pairs of ordinary colour photos from ../shared/faces (selfie, reference)
PAIRS = (
    ("p_img20.jpg", "p_img21.jpg"),
    ("p_img16.jpg", "p_img17.jpg"),
    ("p_img22.jpg", "p_img23.jpg"),
    ("p_img24.jpg", "p_img25.jpg"),
    ("p_img13.jpg", "p_img14.jpg"),
    ("p_img18.jpg", "p_img19.jpg"),
    ("p_img8.jpg", "p_img9.jpg"),
    ("obama.jpg", "obama4.jpg"),
    ("biden2.jpg", "biden.jpg"),
    ("harington3.jpg", "harington.jpg"),
)
CAPTURES = ("p_img21.jpg", "obama.jpg", "p_img20.jpg", "harington3.jpg")
TICK = os.sysconf("SC_CLK_TCK")
SHORT_TEST_SETTINGS = (
    "FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S",
    "FACEMATCH_SUBMISSIONS__JOB_LEASE_S",
    "FACEMATCH_CALLBACKS__POLL_INTERVAL_S",
    "FACEMATCH_CALLBACKS__LEASE_S",
)
HIGH_LIMITS = {  # the bench measures CPU, not the limits: none of them may answer 429 here
    "FACEMATCH_SERVER__PARTNER_RATE_PER_S": "100000",
    "FACEMATCH_SERVER__PARTNER_BURST": "100000",
    "FACEMATCH_WEB__PREVIEWS_PER_SESSION_PER_S": "100000",
    "FACEMATCH_WEB__PREVIEWS_PER_PARTNER_PER_S": "100000",
    "FACEMATCH_WEB__CAPTURES_PER_SESSION_PER_MINUTE": "100000",
    "FACEMATCH_WEB__CAPTURES_PER_PARTNER_PER_MINUTE": "100000",
}


# ------------------------------------------------------------------------------------ CPU from /proc


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree_cpu_s(roots: list[int]) -> float:
    """User + system CPU seconds of ``roots`` and all their descendants (reaped children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    members = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    ticks = 0
    for pid in members:
        fields = _stat(pid)
        if fields is not None:  # fields[11:15]: utime stime cutime cstime
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / TICK


# ------------------------------------------------------------------------------------ servers


@dataclass
class Server:
    """One setup of one tree: its processes, its API URL, its database and its partner."""

    tree: str
    processes: list[subprocess.Popen[bytes]]
    url: str
    db_url: str
    creds: Any = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def cpu(self) -> float:
        return tree_cpu_s([p.pid for p in self.processes])

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(40)
        for step in self.cleanup:
            step()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        if process.poll() is not None:
            raise SystemExit(log.read_text()[-3000:])
        time.sleep(0.3)
    raise SystemExit(f"{url} did not become ready")


def _spawn(root: Path, args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**env, "PYTHONPATH": str(root / "src")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "facematch.cli.main", *args],
            env=env,
            stdout=out,
            stderr=out,
            cwd=log.parent,
        )
    _wait_ready(f"http://127.0.0.1:{port}", process, log)
    return process


def start_embedded(tree: str, root: Path, workdir: Path, *, background: bool, callback: str) -> Server:
    """``facematch serve`` on SQLite and local files; ``background`` False: no job workers and no
    callback sender (an API process of a cluster)."""
    from facematch.storage.db import Database, migrate
    from servicekit import SECRET_BOX, create_partner, service_env

    db_url = f"sqlite:///{workdir / 'facematch.db'}"
    migrate(db_url, secret_box=SECRET_BOX)
    port = free_port()
    env = {**os.environ, **service_env(db_url, workdir), **HIGH_LIMITS}
    env["FACEMATCH_SERVER__PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    for key in SHORT_TEST_SETTINGS:
        env.pop(key)
    env.pop("FACEMATCH_SUBMISSIONS__WORKERS")  # the default, as make run has it
    if not background:
        env.update({"FACEMATCH_SUBMISSIONS__WORKERS": "0", "FACEMATCH_CALLBACKS__WORKERS": "0"})
    process = _spawn(root, ["serve", "--no-migrate", "--port", str(port)], env, port, workdir / "serve.log")
    db = Database(db_url)
    creds = create_partner(db, callback_url=callback)
    db.dispose()
    return Server(tree, [process], f"http://127.0.0.1:{port}", db_url, creds)


def start_cluster(tree: str, root: Path, workdir: Path, args: argparse.Namespace, callback: str) -> Server:
    """One ``facematch serve`` (no background work) and one ``facematch worker`` on PostgreSQL,
    SeaweedFS and Redis."""
    from cluster_bench import drop_pg, fresh_pg
    from facematch.storage.db import Database, migrate
    from s3kit import SeaweedFS
    from servicekit import SECRET_BOX, create_partner, service_env

    db_url, name = fresh_pg(args.postgres)
    seaweed = SeaweedFS(workdir / "s3").start()
    server = Server(tree, [], "", db_url)
    server.cleanup = [seaweed.stop, lambda: drop_pg(args.postgres, name)]
    try:
        migrate(db_url, secret_box=SECRET_BOX)
        common = {**os.environ, **service_env(db_url, workdir), **seaweed.env(f"bench-{name}"), **HIGH_LIMITS}
        common["FACEMATCH_LIMITS__STORAGE_URI"] = args.redis
        common["FACEMATCH_LIMITS__KEY_PREFIX"] = name
        for key in (
            *SHORT_TEST_SETTINGS,
            "FACEMATCH_SUBMISSIONS__WORKERS",
            "FACEMATCH_BLOBS__S3__CONNECT_TIMEOUT_S",
            "FACEMATCH_BLOBS__S3__READ_TIMEOUT_S",
            "FACEMATCH_BLOBS__S3__RETRIES",
        ):
            common.pop(key, None)
        port = free_port()
        api_env = {**common, "FACEMATCH_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}"}
        api_env.update({"FACEMATCH_SUBMISSIONS__WORKERS": "0", "FACEMATCH_CALLBACKS__WORKERS": "0"})
        server.processes.append(
            _spawn(root, ["serve", "--no-migrate", "--port", str(port)], api_env, port, workdir / "serve.log")
        )
        worker_port = free_port()
        server.processes.append(
            _spawn(
                root,
                ["worker", "--no-migrate", "--port", str(worker_port)],
                common,
                worker_port,
                workdir / "worker.log",
            )
        )
        server.url = f"http://127.0.0.1:{port}"
        db = Database(db_url)
        server.creds = create_partner(db, callback_url=callback)
        db.dispose()
    except BaseException:
        server.stop()
        raise
    return server


class Receiver:
    """A callback receiver in this process (its CPU is not the server's): answers 204, counts."""

    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# ------------------------------------------------------------------------------------ the client


class Client:
    """A partner backend (and, for the hosted flow, the web app) calling one server."""

    def __init__(self, server: Server) -> None:
        from servicekit import ONBOARDING

        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=120)
        creds = server.creds
        self.auth = {"client-id": creds.client_id, "pass-key": creds.passkey}
        self.user_auth = {
            **self.auth,
            "x-onboarding-partner": ONBOARDING,
            "x-partner-user-id": "bench",
            "x-partner-user-id-type": "BENCH",
        }

    def close(self) -> None:
        self.http.close()

    def partner_token(self) -> str:
        response = self.http.get("/v1/coe/partner/authentication", headers=self.auth)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["token"])

    def user_token(self) -> str:
        response = self.http.get("/v2/coe/authentication", headers=self.user_auth)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["token"])

    def headers(self, token: str, psid: str) -> dict[str, str]:
        return {"x-onekyc-token": token, "x-partner-session-id": psid, "x-sdk-session-id": "bench"}

    def presign(self, token: str, psid: str) -> dict[str, Any]:
        response = self.http.get(
            "/coe/v1/submissions/urls",
            params={"submissionType": "FACE_MATCH"},
            headers=self.headers(token, psid),
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    def upload(self, presigned: dict[str, Any], document: str, data: bytes) -> None:
        url = presigned["documents"][document]["documentUrl"]
        response = self.http.put(url, content=data, headers={"content-type": "image/jpeg"})
        assert response.status_code == 200, response.text

    def confirm(self, token: str, psid: str, submission_id: str) -> None:
        body = {"submissionId": submission_id, "metadata": {}}
        response = self.http.put("/coe/v1/submissions/urls", headers=self.headers(token, psid), json=body)
        assert response.status_code == 200, response.text

    def status(self, token: str, psid: str, submission_id: str) -> str:
        response = self.http.get(
            f"/coe/v1/submissions/{submission_id}/status", headers=self.headers(token, psid)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["status"])

    def web_session(self, partner_token: str) -> str:
        """A new hosted flow (Initiate Flow, the launch token exchanged): its web session token."""
        from servicekit import ONBOARDING

        response = self.http.post(
            "/coe-partner/v1/initiate-flow",
            headers={
                "x-onekyc-token": partner_token,
                "x-partner-session-id": str(uuid.uuid4()),
                "x-partner-user-id": "bench",
                "x-partner-user-id-type": "BENCH",
                "x-onboarding-partner": ONBOARDING,
            },
            json={
                "flow": "FACE_MATCH",
                "source": "WEB_SDK",
                "successRedirectionUrl": "https://partner.test/ok",
                "failureRedirectionUrl": "https://partner.test/fail",
            },
        )
        assert response.status_code == 200, response.text
        launch = response.json()["data"]["launchUrl"].split("token=", 1)[1]
        opened = self.http.post("/web/api/session", json={"launchToken": launch})
        assert opened.status_code == 200, opened.text
        return str(opened.json()["sessionToken"])

    def preview(self, session: str, frame: bytes) -> str:
        response = self.http.post(
            "/web/api/preview",
            content=frame,
            headers={"x-web-session": session, "content-type": "image/jpeg"},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["hint"])

    def capture(self, session: str, image: bytes) -> None:
        response = self.http.post(
            "/web/api/capture",
            content=image,
            headers={"x-web-session": session, "content-type": "image/jpeg"},
        )
        assert response.status_code == 200, response.text


def per_call_ms(server: Server, calls: list[Callable[[], Any]]) -> float:
    """The server's CPU per call, the calls made one after the other."""
    before = server.cpu()
    for call in calls:
        call()
    return 1000 * (server.cpu() - before) / len(calls)


def summed_ms(server: Server, prepare: Callable[[], Any], call: Callable[[Any], Any], count: int) -> float:
    """The server's CPU per ``call(prepared)``, with what ``prepare`` does left out."""
    spent = 0.0
    for _ in range(count):
        prepared = prepare()
        before = server.cpu()
        call(prepared)
        spent += server.cpu() - before
    return 1000 * spent / count


# ------------------------------------------------------------------------------------ images


def jpeg(image: Any, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def frame(path: Path, width: int, height: int, quality: int) -> bytes:
    """A camera frame: the photo's centre crop at ``width``:``height``, scaled to that size."""
    from PIL import Image

    photo = Image.open(path).convert("RGB")
    aspect = width / height
    w, h = photo.size
    if w / h > aspect:
        crop_w, crop_h = round(h * aspect), h
    else:
        crop_w, crop_h = w, round(w / aspect)
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    cropped = photo.crop((left, top, left + crop_w, top + crop_h))
    return jpeg(cropped.resize((width, height), Image.Resampling.BILINEAR), quality)


def capture_image(path: Path) -> bytes:
    from PIL import Image

    photo = Image.open(path).convert("RGB")
    scale = 1280 / photo.width
    return jpeg(photo.resize((1280, round(photo.height * scale)), Image.Resampling.BILINEAR), 92)


# ------------------------------------------------------------------------------------ measurements


def measure_requests(
    server: Server,
    images: dict[str, bytes],
    frames: dict[str, list[bytes]],
    captures: list[bytes],
    count: int,
) -> dict[str, float]:
    """CPU per request kind on an API process with no background work."""
    client = Client(server)
    out: dict[str, float] = {}
    try:
        for _ in range(3):  # warm-up: every route once
            client.partner_token()
            token = client.user_token()
        time.sleep(2)
        before = server.cpu()
        time.sleep(5)
        out["idle_per_s"] = 1000 * (server.cpu() - before) / 5
        out["partner_token"] = per_call_ms(server, [client.partner_token] * count)
        out["user_token"] = per_call_ms(server, [client.user_token] * count)
        psids = [str(uuid.uuid4()) for _ in range(count)]
        presigned: list[dict[str, Any]] = []
        out["presign"] = per_call_ms(
            server, [lambda p=p: presigned.append(client.presign(token, p)) for p in psids]
        )
        selfie, reference = images[PAIRS[0][0]], images[PAIRS[0][1]]
        uploads = [lambda p=p: client.upload(p, "SELFIE", selfie) for p in presigned]
        uploads += [lambda p=p: client.upload(p, "REFERENCE", reference) for p in presigned]
        out["upload"] = per_call_ms(server, uploads)
        out["confirm"] = per_call_ms(
            server,
            [
                lambda p=p, s=s: client.confirm(token, s, p["submissionId"])
                for p, s in zip(presigned, psids, strict=True)
            ],
        )
        first, psid = presigned[0]["submissionId"], psids[0]
        out["status_poll"] = per_call_ms(server, [lambda: client.status(token, psid, first)] * count * 2)
        ptoken = client.partner_token()
        sessions = [client.web_session(ptoken) for _ in range(4)]
        for name, sized in frames.items():
            client.preview(sessions[0], sized[0])
            calls = [
                lambda n=n, f=f: client.preview(sessions[n % len(sessions)], f)
                for n, f in enumerate(sized * (count // len(sized) + 1))
            ][:count]
            out[f"preview_{name}"] = per_call_ms(server, calls)
        shots = iter(captures * (count // len(captures) + 2))
        client.capture(client.web_session(ptoken), next(shots))
        out["capture"] = summed_ms(
            server, lambda: client.web_session(ptoken), lambda s: client.capture(s, next(shots)), count // 2
        )
    finally:
        client.close()
    return {key: round(value, 2) for key, value in out.items()}


def run_submissions(
    server: Server,
    images: dict[str, bytes],
    pairs: list[tuple[str, str]],
    clients: int,
    poll_s: float,
    receiver: Receiver,
) -> dict[str, Any]:
    """``pairs`` submitted by ``clients`` backends at once; the server's CPU per submission with
    the client's polls left out."""
    left = iter(enumerate(pairs))
    lock = threading.Lock()
    polls = 0
    done: dict[int, str] = {}
    failures: list[BaseException] = []

    def backend() -> None:
        nonlocal polls
        client = Client(server)
        try:
            while True:
                with lock:
                    item = next(left, None)
                if item is None:
                    return
                number, (selfie, reference) = item
                token = client.user_token()
                psid = str(uuid.uuid4())
                presigned = client.presign(token, psid)
                client.upload(presigned, "SELFIE", images[selfie])
                client.upload(presigned, "REFERENCE", images[reference])
                sid = presigned["submissionId"]
                client.confirm(token, psid, sid)
                mine = 0
                while True:
                    time.sleep(poll_s)
                    mine += 1
                    if client.status(token, psid, sid) in ("COMPLETED", "ERROR"):
                        break
                with lock:
                    polls += mine
                    done[number] = sid
        except BaseException as error:
            failures.append(error)
        finally:
            client.close()

    callbacks_before = receiver.count
    started_wall = time.monotonic()
    before = server.cpu()
    threads = [threading.Thread(target=backend) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 60
    while receiver.count - callbacks_before < len(pairs) and time.monotonic() < deadline:
        time.sleep(0.05)
    spent = server.cpu() - before
    wall = time.monotonic() - started_wall
    if failures:
        raise failures[0]
    # one poll's CPU, on this server, on a decided submission
    client = Client(server)
    try:
        token = client.user_token()
        psid = str(uuid.uuid4())
        presigned = client.presign(token, psid)
        client.upload(presigned, "SELFIE", images[pairs[0][0]])
        client.upload(presigned, "REFERENCE", images[pairs[0][1]])
        client.confirm(token, psid, presigned["submissionId"])
        while client.status(token, psid, presigned["submissionId"]) not in ("COMPLETED", "ERROR"):
            time.sleep(0.2)
        time.sleep(1)
        poll_ms = per_call_ms(server, [lambda: client.status(token, psid, presigned["submissionId"])] * 200)
    finally:
        client.close()
    return {
        "submissions": len(pairs),
        "seconds": round(wall, 1),
        "server_cpu_s": round(spent, 2),
        "polls": polls,
        "poll_ms": round(poll_ms, 2),
        "per_submission_ms": round(1000 * (spent - polls * poll_ms / 1000) / len(pairs), 1),
        "decisions": decisions(server.db_url, [done[n] for n in range(len(pairs))]),
        "callbacks": receiver.count - callbacks_before,
    }


def decisions(db_url: str, ids: list[str]) -> list[list[Any]]:
    from sqlalchemy import select

    from facematch.storage.db import Database
    from facematch.storage.models import Submission

    db = Database(db_url)
    try:
        with db.session() as session:
            rows = {
                row.id: [str(row.status), str(row.result), str(row.reason_code), row.score, row.similarity]
                for row in session.execute(
                    select(
                        Submission.id,
                        Submission.status,
                        Submission.result,
                        Submission.reason_code,
                        Submission.score,
                        Submission.similarity,
                    ).where(Submission.id.in_(ids))
                )
            }
    finally:
        db.dispose()
    return [rows[i] for i in ids]


def engine_cpu_ms(images: dict[str, bytes], pairs: list[tuple[str, str]]) -> float:
    """The engine's own CPU per pair: analyze + analyze + compare, in this process, one thread."""
    from facematch.engine.facade import EngineOptions, FaceEngine
    from facematch.engine.types import ImageRole

    engine = _engine(FaceEngine, EngineOptions)
    engine.compare(images[pairs[0][0]], images[pairs[0][1]])  # warm-up
    started = time.process_time()
    for selfie, reference in pairs:
        engine.compare_analyses(
            engine.analyze(images[selfie], ImageRole.SELFIE),
            engine.analyze(images[reference], ImageRole.REFERENCE),
        )
    return 1000 * (time.process_time() - started) / len(pairs)


_ENGINE: list[Any] = []


def _engine(face_engine: Any, options: Any) -> Any:
    if not _ENGINE:
        _ENGINE.append(face_engine.load(options(threads=1)))
    return _ENGINE[0]


def startup_cpu_ms(root: Path, rounds: int = 3) -> dict[str, float]:
    """CPU of ``facematch --help`` and of importing what a worker process imports, in a fresh
    interpreter (children's CPU from getrusage)."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    commands = {
        "cli_help": [sys.executable, "-m", "facematch.cli.main", "--help"],
        "worker_imports": [
            sys.executable,
            "-c",
            "import facematch.cli.worker, facematch.config, facematch.services, facematch.worker.process",
        ],
    }
    out: dict[str, float] = {}
    for name, command in commands.items():
        spent = []
        for _ in range(rounds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, env=env, check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        out[name] = round(1000 * statistics.median(spent), 1)
    return out


# ------------------------------------------------------------------------------------ the run


@contextlib.contextmanager
def setup(kind: str, tree: str, root: Path, args: argparse.Namespace, receiver: Receiver) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if kind == "cluster":
            server = start_cluster(tree, root, workdir, args, receiver.url)
        else:
            server = start_embedded(tree, root, workdir, background=kind == "embedded", callback=receiver.url)
        try:
            yield server
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    parser.add_argument(
        "--baseline", type=Path, help="another facematch tree (its src/) to run beside this one"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--submissions", type=int, default=20, help="submissions per setup, tree and round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--poll-s", type=float, default=0.25)
    parser.add_argument("--requests", type=int, default=40, help="calls per request kind, tree and round")
    parser.add_argument("--setups", default="requests,embedded", help="requests,embedded,cluster,startup")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from benchio import save_json

    folder = args.shared / "faces" / "images"
    images = {name: (folder / name).read_bytes() for pair in PAIRS for name in pair}
    pairs = [PAIRS[n % len(PAIRS)] for n in range(args.submissions)]
    frames = {
        "240x320": [frame(folder / name, 240, 320, 60) for name in CAPTURES],
        "1280x960": [frame(folder / name, 1280, 960, 60) for name in CAPTURES],
    }
    captures = [capture_image(folder / name) for name in CAPTURES]
    trees = {"this tree": HERE.parents[1]}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    receiver = Receiver()
    kinds = args.setups.split(",")
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "trees": {name: str(root) for name, root in trees.items()},
        "pairs": pairs,
        "rounds": [],
    }
    for number in range(args.rounds):
        order = list(trees.items())
        if number % 2:
            order.reverse()
        measured: dict[str, Any] = {}
        for kind in kinds:
            for tree, root in order:
                if kind == "startup":
                    value: Any = startup_cpu_ms(root)
                elif kind == "requests":
                    with setup("api", tree, root, args, receiver) as server:
                        value = measure_requests(server, images, frames, captures, args.requests)
                else:
                    with setup(kind, tree, root, args, receiver) as server:
                        time.sleep(2)
                        before = server.cpu()
                        time.sleep(5)
                        idle = 1000 * (server.cpu() - before) / 5
                        value = run_submissions(server, images, pairs, args.clients, args.poll_s, receiver)
                        value["idle_per_s_ms"] = round(idle, 1)
                        value["engine_ms"] = round(engine_cpu_ms(images, pairs), 1)
                        value["ratio"] = round(value["per_submission_ms"] / value["engine_ms"], 2)
                measured.setdefault(kind, {})[tree] = value
                shown = {k: v for k, v in value.items() if k != "decisions"}
                print(f"round {number + 1} {kind} {tree}: {json.dumps(shown)}", flush=True)
        result["rounds"].append(measured)
        save_json(args.json, result)
    report(result, kinds)
    save_json(args.json, result)


def report(result: dict[str, Any], kinds: list[str]) -> None:
    rounds = result["rounds"]
    trees = list(result["trees"])
    print()
    for kind in kinds:
        keys = [
            k
            for k in rounds[0][kind][trees[0]]
            if k != "decisions" and not isinstance(rounds[0][kind][trees[0]][k], list)
        ]
        print(f"== {kind} (median over {len(rounds)} rounds)")
        for key in keys:
            values = [statistics.median(r[kind][t][key] for r in rounds) for t in trees]
            line = f"  {key:22s} " + "  ".join(f"{t}: {v:9.2f}" for t, v in zip(trees, values, strict=True))
            if len(values) == 2 and values[0]:
                line += f"   ratio {values[1] / values[0]:.2f}"
            print(line)
        if kind in ("embedded", "cluster") and len(trees) == 2:
            same = all(r[kind][trees[0]]["decisions"] == r[kind][trees[1]]["decisions"] for r in rounds)
            print(f"  decisions and scores identical across trees: {same}")


if __name__ == "__main__":
    main()
