"""The job queue: worker threads over the durable job table.

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
import time
from collections.abc import Callable
from datetime import datetime

from facematch.errors import ServiceUnavailableError
from facematch.flows import flow_sessions, processing
from facematch.flows.context import Services
from facematch.flows.leases import LeaseHeartbeat
from facematch.rules import decisions
from facematch.security.capacity import AnalysisPool, release_memory
from facematch.storage import job_repo
from facematch.storage.db import is_unreachable

log = logging.getLogger(__name__)


#: the longest wait between two tries of a job that waits out an outage
TRANSIENT_MAX_DELAY_S = 30.0


def is_transient(error: BaseException) -> bool:
    """Whether a try failed because something the job needs is unreachable for now (the image
    store, the database, the engine still loading): waited out, not counted as a failure."""
    return isinstance(error, ServiceUnavailableError) or is_unreachable(error)


def transient_delay(waited_s: float, budget_s: float) -> float:
    """The wait before the next try of a job that has waited out an outage for ``waited_s``: 1 s,
    growing by half each time up to 30 s, and never past the end of the budget."""
    return max(0.0, min(TRANSIENT_MAX_DELAY_S, max(1.0, waited_s / 2), budget_s - waited_s))


def run_one(
    svc: Services,
    owner: str,
    job: Callable[[Services, str], None] = processing.process_submission,
    *,
    per_partner: int | None = None,
    running: set[int] | None = None,
) -> bool:
    """Lease and run one due job; False when none was due. ``per_partner``: the claim's cap on a
    partner's running jobs; ``running``: the set of job ids this process is working on.

    A try that fails is judged by why: the image store or the database unreachable (the job waits
    it out, retrying with backoff, for ``transient_budget_s`` from the outage's first failure),
    anything else (a failure, ``job_max_tries`` of them end the job ERROR). A worker that died
    running the job (its lease lapsed) is counted apart: ``job_max_crashes`` such deaths end it."""
    settings = svc.settings.submissions
    with svc.db.session() as session:
        claimed = job_repo.claim_job(
            owner, settings.job_lease_s, session=session, per_partner=per_partner, now=svc.clock.now()
        )
        if claimed is None:
            return False
        job_id, submission_id, crashes = claimed.id, claimed.submission_id, claimed.crashes
        failures, transient_since = claimed.failures, claimed.transient_since
    if crashes >= settings.job_max_crashes:
        # the job's worker died that many times (no except below ran): running it again would only
        # kill the next one too
        log.error("job for submission %s abandoned after %d crashes of its worker", submission_id, crashes)
        processing.record_decision(svc, submission_id, decisions.unexpected_failure())
        return True
    if running is not None:
        running.add(job_id)
    try:
        with LeaseHeartbeat(svc, job_id, owner):
            try:
                job(svc, submission_id)
            except Exception as error:
                _failed(svc, owner, job_id, submission_id, error, failures, transient_since)
    finally:
        if running is not None:
            running.discard(job_id)
    return True


def _failed(
    svc: Services,
    owner: str,
    job_id: int,
    submission_id: str,
    error: Exception,
    failures: int,
    transient_since: datetime | None,
) -> None:
    """Decide what a failed try leaves: a later try (with backoff) or the job's end as ERROR."""
    settings = svc.settings.submissions
    now = svc.clock.now()
    reason = f"{type(error).__name__}: {error}"
    if is_transient(error):
        since = transient_since or now
        waited = (now - since).total_seconds()
        if waited >= settings.transient_budget_s:
            log.error("job for submission %s gave up after waiting %.0f s: %s", submission_id, waited, reason)
            processing.record_decision(svc, submission_id, decisions.failed_every_try(error))
            return
        log.warning(
            "job for submission %s waits out an outage (%.0f s so far): %s", submission_id, waited, reason
        )
        delay = transient_delay(waited, settings.transient_budget_s)
        _release(svc, owner, job_id, reason, delay, failures, since)
        return
    failures += 1
    log.error("job for submission %s failed (failure %d)", submission_id, failures, exc_info=error)
    if failures >= settings.job_max_tries:
        processing.record_decision(svc, submission_id, decisions.failed_every_try(error))
    else:
        _release(svc, owner, job_id, reason, 2.0**failures, failures, None)


def _release(
    svc: Services,
    owner: str,
    job_id: int,
    reason: str,
    delay_s: float,
    failures: int,
    transient_since: datetime | None,
) -> None:
    """Hand the try back; while the database is unreachable keep trying for as long as the lease
    lasts (past it another worker takes the job over, counting a crash, and nothing is lost)."""
    give_up_at = time.monotonic() + svc.settings.submissions.job_lease_s
    pause = 0.5
    while True:
        try:
            with svc.db.session() as session:
                job_repo.release_job(
                    job_id,
                    owner,
                    reason,
                    delay_s,
                    failures=failures,
                    transient_since=transient_since,
                    session=session,
                    now=svc.clock.now(),
                )
            return
        except Exception as error:
            if not is_unreachable(error) or time.monotonic() + pause > give_up_at:
                raise
            time.sleep(pause)
            pause = min(4.0, pause * 2)


class JobRunners:
    """The job workers of one process: threads polling the job table, woken early by the process's
    doorbell (``svc.doorbell``: a confirm in this process, or a NOTIFY from another).

    ``cpu`` analyses run at once, on ``cpu`` threads of their own (see
    :class:`~facematch.security.capacity.AnalysisPool`); ``fetchers`` more job threads may be waiting
    on partners' reference servers at the same time (a job holds a CPU slot only while it
    analyses), so a partner whose server hangs cannot take the CPU from the others. Claims are fair
    across partners (see :func:`~facematch.storage.repo.claim_job`).
    """

    def __init__(self, svc: Services, cpu: int, fetchers: int) -> None:
        self._svc = svc
        self._threads_wanted = cpu + fetchers if cpu else 0
        trim = release_memory if svc.settings.limits.release_memory else lambda: None
        # every job thread may wait for a CPU slot, for as long as the one ahead of it takes
        self._cpu = AnalysisPool(max(1, cpu), queue=self._threads_wanted, wait_s=86_400, trim=trim)
        configured = svc.settings.submissions.max_running_per_partner
        self.per_partner = configured or max(1, self._threads_wanted // 2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running: set[int] = set()
        self.owner = f"{secrets.token_hex(6)}"

    def start(self) -> None:
        for number in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, name=f"facematch-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; wait up to ``timeout`` for the jobs in hand, then hand back the leases of
        the ones still running (another worker takes them at once; a try is not counted)."""
        self._stop.set()
        self._svc.doorbell.ring()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        unfinished = sorted(self.running)
        if unfinished:
            with self._svc.db.session() as session:
                released = job_repo.hand_back_jobs(unfinished, self.owner, session=session)
            log.warning("handed back %d unfinished jobs at shutdown", released)
        self._threads.clear()
        self._cpu.close(wait=False)  # an analysis past the drain must not hold the shutdown

    def _job(self, svc: Services, submission_id: str) -> None:
        processing.process_submission(svc, submission_id, cpu=self._cpu)

    def _loop(self) -> None:
        poll = self._svc.settings.submissions.poll_interval_s
        while not self._stop.is_set():
            try:
                worked = run_one(
                    self._svc, self.owner, self._job, per_partner=self.per_partner, running=self.running
                )
            except Exception:
                log.exception("worker loop error")
                worked = False
            if not worked:
                self._svc.doorbell.wait(poll)


def sweep_abandoned(svc: Services, batch: int = 100) -> int:
    """Finish the flow sessions whose user was offered a retry and then stayed away longer than the
    partner's retry window: the last decided attempt becomes final, with its callback. Safe to run in
    several workers at once (see :func:`~facematch.flows.flow_sessions.finish_session`). Returns how many
    sessions this call finished."""
    return flow_sessions.finish_idle_sessions(svc, batch)


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
