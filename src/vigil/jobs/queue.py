"""The queue's statements: enqueue, claim, finish, and what operators see.

Enqueueing runs inside the caller's transaction, so a job is durable exactly when the record
it is about is: nothing acknowledged is lost, and nothing rolled back leaves a job behind.
Claiming and finishing touch many jobs per statement, because the triage pipeline must keep
up with intake at hundreds of reports a second and per-job round trips would not.

Every time comes from the caller (``now``): SQLite has no time zone aware clock, and tests
move time forward to expire leases and back-offs without sleeping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

import structlog
from sqlalchemy import Insert, Select, Table, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.jobs.models import ERROR_MAX, Job, JobStatus

QUEUED, RUNNING, DONE, FAILED = (s.value for s in JobStatus)
WORKER_LOST = "WorkerLost: its worker stopped during every attempt (lease expired)"
log = structlog.get_logger(__name__)
_table = cast(Table, Job.__table__)


class NewJob(NamedTuple):
    """A job to enqueue. ``key`` makes it idempotent; ``payload`` holds identifiers only."""

    kind: str
    key: str
    payload: dict[str, Any]
    run_after: datetime | None = None
    max_attempts: int = 5


@dataclass(frozen=True)
class Claimed:
    """A job this worker now holds, until ``lease_until`` or until it is finished."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class Failure:
    """How one claimed job failed, and when it may run again."""

    id: int
    error: str
    retry_at: datetime
    final: bool


def enqueue(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    *,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> None:
    """Add a job in the caller's transaction; see :func:`enqueue_many` for the key's rules."""
    enqueue_many(session, [NewJob(kind, key, payload, run_after, max_attempts)])


def enqueue_many(session: Session, rows: Iterable[NewJob]) -> None:
    """Add jobs with one (executemany) statement, in the caller's transaction.

    A key already queued, running or failed is left alone: the work is already asked for,
    and a failed job waits for an operator's :func:`requeue`. A key whose job is done is
    armed again with the new payload, because new work on the same record arrived after the
    last run finished (and done jobs may be purged, which must not change the outcome).
    """
    now = utcnow()
    first: dict[str, NewJob] = {}
    for row in rows:  # one key twice in one statement is an error on PostgreSQL: first wins
        first.setdefault(row.key, row)
    params = [
        {
            "kind": row.kind,
            "key": row.key,
            "payload": row.payload,
            "status": QUEUED,
            "attempts": 0,
            "max_attempts": row.max_attempts,
            "run_after": row.run_after or now,
            "created_at": now,
        }
        for row in first.values()
    ]
    if not params:
        return
    connection = session.connection()
    # Core on the transaction's connection: no autoflush of the caller's pending objects
    # (intake enqueues once per report; a flush each time cost a unit of work per report).
    connection.execute(_upsert(connection.dialect.name), params)


@cache
def _upsert(dialect: str) -> Insert:
    """The enqueue statement, built once per dialect so its compiled form is cached."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_table)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={
            "kind": excluded.kind,
            "payload": excluded.payload,
            "status": QUEUED,
            "attempts": 0,
            "max_attempts": excluded.max_attempts,
            "run_after": excluded.run_after,
            "locked_by": None,
            "lease_until": None,
            "last_error": None,
            "created_at": excluded.created_at,
            "finished_at": None,
        },
        where=_table.c.status == DONE,
    )


def requeue(session: Session, key: str, *, now: datetime | None = None) -> bool:
    """Run a done or failed job again, with a fresh count of attempts. False if none."""
    result = session.execute(
        update(Job)
        .where(Job.key == key, Job.status.in_((DONE, FAILED)))
        .values(
            status=QUEUED,
            attempts=0,
            run_after=now or utcnow(),
            locked_by=None,
            lease_until=None,
            last_error=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _due(kinds: Sequence[str], limit: int, now: datetime) -> tuple[Select[Any], Select[Any]]:
    """Ids whose lease expired (a worker died holding them), and ids queued and due.

    Two queries rather than one with OR, so each walks the ``(status, run_after)`` index in
    order and stops at ``limit`` even behind a long backlog.
    """
    expired = (
        select(Job.id)
        .where(
            Job.status == RUNNING,
            Job.lease_until < now,
            Job.attempts < Job.max_attempts,
            Job.kind.in_(kinds),
        )
        .order_by(Job.lease_until, Job.id)
        .limit(limit)
    )
    queued = (
        select(Job.id)
        .where(Job.status == QUEUED, Job.run_after <= now, Job.kind.in_(kinds))
        .order_by(Job.run_after, Job.id)
        .limit(limit)
    )
    return expired, queued


def claim(
    session: Session,
    worker_id: str,
    kinds: Sequence[str],
    limit: int,
    *,
    now: datetime,
    lease_until: datetime,
) -> list[Claimed]:
    """Take up to ``limit`` due jobs of ``kinds`` for ``worker_id``; counts an attempt each.

    The jobs come back in the order they fell due (jobs whose worker was lost first), which
    is the order a worker taking one job at a time would run them: a handler that acts on
    the batch as if its jobs ran one after another (triage) relies on it.

    The attempt is counted when a job is taken, not when it fails, so a job that kills its
    worker every time runs out of attempts (and is failed here, once its last lease has
    expired) instead of crashing workers forever.
    PostgreSQL: rows are locked with ``FOR UPDATE SKIP LOCKED`` so that workers in several
    processes each take different jobs. SQLite: one ``UPDATE … RETURNING`` per query inside
    the single writer's transaction, which no other writer can interleave with.
    """
    if not kinds or limit <= 0:
        return []
    taken = (Job.id, Job.kind, Job.key, Job.payload, Job.attempts, Job.max_attempts, Job.run_after)
    values = {
        "status": RUNNING,
        "locked_by": worker_id,
        "lease_until": lease_until,
        "attempts": Job.attempts + 1,
    }
    rows: list[Any] = []
    postgres = session.get_bind().dialect.name == "postgresql"
    _give_up_on_lost(session, kinds, now)
    for query in _due(kinds, limit, now):
        wanted = limit - len(rows)
        if wanted <= 0:
            break
        query = query.limit(wanted)
        if postgres:
            ids = list(session.scalars(query.with_for_update(skip_locked=True)))
            if not ids:
                continue
            where = Job.id.in_(ids)
        else:
            where = Job.id.in_(query.scalar_subquery())
        stmt = update(Job).where(where).values(**values).returning(*taken)
        found = session.execute(stmt.execution_options(synchronize_session=False)).all()
        rows += sorted(found, key=lambda row: (row.run_after, row.id))  # RETURNING has no order
    return [Claimed(*row[:-1]) for row in rows]


def _give_up_on_lost(session: Session, kinds: Sequence[str], now: datetime) -> None:
    """Fail jobs whose every attempt ended with their worker gone (lease expired)."""
    lost = session.scalars(
        update(Job)
        .where(
            Job.status == RUNNING,
            Job.lease_until < now,
            Job.attempts >= Job.max_attempts,
            Job.kind.in_(kinds),
        )
        .values(
            status=FAILED,
            finished_at=now,
            locked_by=None,
            lease_until=None,
            last_error=WORKER_LOST,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).all()
    if lost:
        log.error("jobs.worker_lost", job_ids=list(lost), final=True)


def renew(session: Session, worker_id: str, ids: Sequence[int], *, lease_until: datetime) -> int:
    """Extend this worker's lease on jobs it still holds (a slow batch is not taken away)."""
    if not ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.locked_by == worker_id, Job.status == RUNNING)
        .values(lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def mark_done(session: Session, worker_id: str, ids: Sequence[int], *, now: datetime) -> int:
    """Finish jobs with one statement. Only jobs this worker still holds are touched: if a
    lease expired and another worker took a job, that worker's outcome wins."""
    if not ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.locked_by == worker_id, Job.status == RUNNING)
        .values(status=DONE, finished_at=now, locked_by=None, lease_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def mark_failed(
    session: Session, worker_id: str, failures: Sequence[Failure], *, now: datetime
) -> None:
    """Record failures (one executemany): back to the queue after back-off, or failed."""
    if not failures:
        return
    stmt = (
        update(_table)
        .where(
            and_(
                _table.c.id == bindparam("job_id"),
                _table.c.locked_by == worker_id,
                _table.c.status == RUNNING,
            )
        )
        .values(
            status=bindparam("new_status"),
            last_error=bindparam("error"),
            run_after=bindparam("retry_at", type_=_table.c.run_after.type),
            finished_at=bindparam("finished", type_=_table.c.finished_at.type),
            locked_by=None,
            lease_until=None,
        )
    )
    session.connection().execute(
        stmt,
        [
            {
                "job_id": f.id,
                "new_status": FAILED if f.final else QUEUED,
                "error": f.error[:ERROR_MAX],
                "retry_at": f.retry_at,
                "finished": now if f.final else None,
            }
            for f in failures
        ],
    )


def job_summary(session: Session) -> dict[str, dict[str, int]]:
    """Counts by kind, then status (every status present, zero included), for dashboards."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(JobStatus, 0))
    rows = session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    )
    for kind, status, n in rows:
        counts[kind][status] = n
    return {kind: {str(s): n for s, n in by.items()} for kind, by in sorted(counts.items())}


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[Job]:
    """The newest jobs first, optionally of one status and kind."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))


def purge_done(session: Session, *, finished_before: datetime, limit: int = 10_000) -> int:
    """Delete done jobs finished before a cut-off (failed ones stay for an operator).

    Safe for idempotency: a key enqueued again after its job was done runs again anyway.
    """
    doomed = (
        select(Job.id)
        .where(Job.status == DONE, Job.finished_at < finished_before)
        .limit(limit)
        .scalar_subquery()
    )
    result = session.execute(
        delete(Job).where(Job.id.in_(doomed)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
