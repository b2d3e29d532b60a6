"""Keeping a job's lease alive while its owner works on it.

A job row is leased (``lease_owner``, ``lease_until``); whatever finishes abandoned work (a worker
retaking an expired lease) only touches jobs whose owner stopped heart-beating. Job workers and the
synchronous compare (which owns the safety-net job behind its request) both hold their lease this way.
"""

from __future__ import annotations

import logging
import threading

from facematch.flows.context import Services
from facematch.storage import job_repo

log = logging.getLogger(__name__)


class LeaseHeartbeat:
    """Extends a job's lease every third of its length until the block ends."""

    def __init__(self, svc: Services, job_id: int, owner: str) -> None:
        self._svc = svc
        self._job_id = job_id
        self._owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
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
                    job_repo.extend_job_lease(
                        self._job_id, self._owner, lease, session=session, now=self._svc.clock.now()
                    )
            except Exception:
                log.warning("job heartbeat failed", exc_info=True)
