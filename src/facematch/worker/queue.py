"""The in-process queue: worker threads over the durable job table.

Jobs are rows written by the confirming transaction; threads lease them (``lease_until``) and keep
the lease alive with a heartbeat while they work. A process that dies leaves leases to expire, and
the next process (or another thread) takes those jobs over: processing is at-least-once and the job
function is idempotent. A Celery/Redis queue can replace this class: it only has to call
:func:`facematch.flows.processing.process_submission` with the submission id.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import timedelta

from facematch.flows import decisions, processing
from facematch.flows.context import Services
from facematch.storage import repo
from facematch.storage.models import utcnow

log = logging.getLogger(__name__)


class _Heartbeat:
    """Extends a job's lease every third of its length until stopped."""

    def __init__(self, svc: Services, job_id: int, owner: str) -> None:
        self._svc = svc
        self._job_id = job_id
        self._owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        lease = self._svc.settings.submissions.job_lease_s
        while not self._stop.wait(lease / 3):
            try:
                with self._svc.db.session() as session:
                    repo.extend_job_lease(self._job_id, self._owner, lease, session=session)
            except Exception:
                log.warning("job heartbeat failed", exc_info=True)


def run_one(
    svc: Services, owner: str, job: Callable[[Services, str], None] = processing.process_submission
) -> bool:
    """Lease and run one due job; False when none was due."""
    settings = svc.settings.submissions
    with svc.db.session() as session:
        claimed = repo.claim_job(owner, settings.job_lease_s, session=session)
        if claimed is None:
            return False
        job_id, submission_id, tries = claimed.id, claimed.submission_id, claimed.tries
    if tries > settings.job_max_tries:
        # every try so far ended without reaching the except below (the process was killed while
        # running it): running it again would only kill the next process too
        log.error("job for submission %s abandoned after %d tries", submission_id, tries - 1)
        processing.record_decision(svc, submission_id, decisions.unexpected_failure())
        return True
    with _Heartbeat(svc, job_id, owner):
        try:
            job(svc, submission_id)
        except Exception as error:
            log.exception("job for submission %s failed (try %d)", submission_id, tries)
            if tries >= settings.job_max_tries:
                processing.record_decision(svc, submission_id, decisions.unexpected_failure())
            else:
                with svc.db.session() as session:
                    repo.release_job(job_id, f"{type(error).__name__}: {error}", 2.0**tries, session=session)
    return True


class InProcessQueue:
    """``workers`` threads polling the job table, woken early by :meth:`submit`."""

    def __init__(self, svc: Services, workers: int) -> None:
        self._svc = svc
        self._workers = workers
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.owner = f"{secrets.token_hex(6)}"

    def submit(self, submission_id: str) -> None:
        self._wake.set()

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"facematch-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        poll = self._svc.settings.submissions.poll_interval_s
        while not self._stop.is_set():
            try:
                worked = run_one(self._svc, self.owner)
            except Exception:
                log.exception("worker loop error")
                worked = False
            if not worked:
                self._wake.wait(poll)
                self._wake.clear()


def sweep_abandoned(svc: Services, batch: int = 100) -> int:
    """Finish the flow sessions whose user was offered a retry and then stayed away longer than a
    web session lives: the last decided attempt becomes final, with its callback. Safe to run in
    several workers at once (:func:`~facematch.flows.processing.finish_session` moves an attempt to
    final with a conditional UPDATE, so only one of them writes the callback). Returns how many
    sessions this call finished."""
    idle_before = utcnow() - timedelta(seconds=svc.settings.web.session_ttl_s)
    with svc.db.session() as session:
        candidates = repo.abandoned_retry_sessions(idle_before, batch, session=session)
    return sum(1 for flow_session_id in candidates if processing.finish_session(svc, flow_session_id))


class Sweeper:
    """One thread calling ``sweep(svc)`` every ``interval`` seconds; a failing pass is logged and the
    next one runs as planned. ``done`` is the log line of a pass that did something (``%d``)."""

    def __init__(
        self, svc: Services, sweep: Callable[[Services], int], *, name: str, interval: float, done: str
    ) -> None:
        self._svc = svc
        self._sweep = sweep
        self._name = name
        self._interval = interval
        self._done = done
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                count = self._sweep(self._svc)
            except Exception:
                log.exception("%s error", self._name)
            else:
                if count:
                    log.info(self._done, count)


class AbandonedSweeper(Sweeper):
    """:func:`sweep_abandoned` every ``submissions.sweep_interval_s``."""

    def __init__(self, svc: Services) -> None:
        super().__init__(
            svc,
            sweep_abandoned,
            name="facematch-sweeper",
            interval=svc.settings.submissions.sweep_interval_s,
            done="finished %d abandoned sessions",
        )
