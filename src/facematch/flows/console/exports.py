"""CSV exports of the console's lists: submissions (the search's filter), the audit log and
callbacks.

An export is audited before its first byte (who, when, which filter, how many rows), streamed in
chunks read newest first by keyset (one short database session per chunk, so a large export holds
neither a transaction nor the whole result in memory), and capped at ``console.export_max_rows``
rows (the headers and the file name say when it was cut). Times are ISO 8601 in UTC. No image,
template, face geometry or callback body is in any export: each column is chosen here. A cell that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) is quoted with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from facematch.flows.console import zones
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.console.records import audit_views
from facematch.flows.context import Services
from facematch.rules.states import DeliveryState, SubmissionStatus
from facematch.storage import audit_repo, console_queries
from facematch.storage.console_queries import AuditFilter, CallbackFilter, SubmissionFilter

CHUNK = 500
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    rows: int
    """Rows in the file."""
    total: int
    """Rows the filter matched (more than ``rows`` when the export was cut)."""
    chunks: Iterator[str]
    """The CSV text: the header line, then the rows."""

    @property
    def cut(self) -> bool:
        return self.rows < self.total


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return zones.iso_utc(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, bool | int):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return "'" + text if text.startswith(_FORMULA) else text


def _line(values: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return out.getvalue()


def _stream(
    header: Sequence[str], rows: int, page: Callable[[Any, int], tuple[list[Sequence[Any]], Any]]
) -> Iterator[str]:
    """The header, then up to ``rows`` rows from ``page(cursor, limit) -> (rows, next cursor)``."""
    yield _line(header)
    sent, cursor = 0, None
    while sent < rows:
        chunk, cursor = page(cursor, min(CHUNK, rows - sent))
        if not chunk:
            return
        yield "".join(_line(row) for row in chunk)
        sent += len(chunk)


def _start(
    svc: Services, user: ConsoleUser, kind: str, f: Any, total: int, *, source: str
) -> tuple[int, str]:
    """Audit the export (its filter and size); (rows it will hold, file name)."""
    user.require(Permission.READ)
    rows = min(total, svc.settings.console.export_max_rows)
    chosen = {k: zones.iso_utc(v) if isinstance(v, datetime) else v for k, v in asdict(f).items() if v}
    with svc.db.session() as session:
        audit_repo.audit(
            user.actor,
            f"export_{kind}",
            None,
            session=session,
            details={"filter": chosen, "rows": rows, "total": total},
            source=source,
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cut = f"-first-{rows}" if rows < total else ""
    return rows, f"facematch-{kind}-{stamp}{cut}.csv"


SUBMISSION_COLUMNS = (
    "submission_id", "created_at", "completed_at", "partner", "partner_id", "partner_session_id",
    "user_id", "attempt", "status", "result", "reason_code", "similarity",
)  # fmt: skip


def submissions(svc: Services, user: ConsoleUser, f: SubmissionFilter, *, source: str) -> Export:
    """The search's rows, as the partners received them (an attempt in review has no result yet)."""
    user.require(Permission.READ)
    with svc.db.session() as session:
        total = console_queries.count_submissions(f, session=session)
    rows, name = _start(svc, user, "submissions", f, total, source=source)

    def page(cursor: Any, limit: int) -> tuple[list[Sequence[Any]], Any]:
        with svc.db.session() as session:
            found = console_queries.search_submissions(f, session=session, limit=limit, before=cursor)
        out: list[Sequence[Any]] = []
        for submission, flow, partner_name in found:
            held = submission.status == SubmissionStatus.IN_REVIEW
            out.append(
                (
                    submission.id, submission.created_at, submission.completed_at, partner_name,
                    submission.partner_id, flow.partner_session_id, flow.partner_user_id,
                    submission.attempt, submission.status, None if held else submission.result,
                    None if held else submission.reason_code, submission.similarity,
                )
            )  # fmt: skip
        last = found[-1][0] if found else None
        return out, (last.created_at, last.id) if last else None

    return Export(name, rows, total, _stream(SUBMISSION_COLUMNS, rows, page))


AUDIT_COLUMNS = (
    "id", "at", "actor", "who", "action", "submission_id", "partner", "reason", "details", "source",
)  # fmt: skip


def audit(svc: Services, user: ConsoleUser, f: AuditFilter, *, source: str) -> Export:
    """The audit log, newest first, with operators' e-mails and partners' names."""
    user.require(Permission.READ)
    with svc.db.session() as session:
        total = console_queries.count_audit(f, session=session)
    rows, name = _start(svc, user, "audit", f, total, source=source)

    def page(cursor: Any, limit: int) -> tuple[list[Sequence[Any]], Any]:
        with svc.db.session() as session:
            found = audit_views(
                console_queries.list_audit(f, session=session, limit=limit, before=cursor), session=session
            )
        out: list[Sequence[Any]] = [
            (
                a.id, a.at, a.actor, a.actor_label, a.action, a.submission_id, a.partner_name, a.reason,
                a.details or None, a.source,
            )
            for a in found
        ]  # fmt: skip
        return out, found[-1].id if found else None

    return Export(name, rows, total, _stream(AUDIT_COLUMNS, rows, page))


CALLBACK_COLUMNS = (
    "webhook_id", "created_at", "partner", "partner_id", "submission_id", "status", "attempts",
    "last_attempt_at", "last_http_status", "last_error", "next_attempt_at", "delivered_at",
)  # fmt: skip


def callbacks(svc: Services, user: ConsoleUser, f: CallbackFilter, *, source: str) -> Export:
    """The callback log: each message with its delivery attempts counted (no body: it carries the
    submission's details)."""
    user.require(Permission.READ)
    with svc.db.session() as session:
        total = console_queries.count_callbacks(f, session=session)
    rows, name = _start(svc, user, "callbacks", f, total, source=source)

    def page(cursor: Any, limit: int) -> tuple[list[Sequence[Any]], Any]:
        with svc.db.session() as session:
            found = console_queries.list_callbacks(f, session=session, limit=limit, before=cursor)
            log = console_queries.attempts_of([m.id for m, _ in found], session=session)
        out: list[Sequence[Any]] = []
        for message, partner_name in found:
            tried = log.get(message.id, [])
            last = tried[-1] if tried else None
            out.append(
                (
                    message.id, message.created_at, partner_name, message.partner_id, message.submission_id,
                    message.status, len(tried), last.at if last else None,
                    last.http_status if last else None, message.last_error,
                    message.next_attempt_at if message.status == DeliveryState.PENDING else None,
                    message.delivered_at,
                )
            )  # fmt: skip
        last_message = found[-1][0] if found else None
        return out, (last_message.created_at, last_message.id) if last_message else None

    return Export(name, rows, total, _stream(CALLBACK_COLUMNS, rows, page))
