"""Background jobs: a queue kept in the database, and a worker that runs it in batches.

Why in the database rather than a broker: a job is enqueued in the same transaction as the
report, follow-up or attachment it is about, so it exists exactly when that record does. A
crash loses nothing acknowledged and leaves no job for a record that was never stored.

Using it::

    registry = Registry()

    @registry.register("triage.report")
    def triage_reports(rt: Runtime, payloads: list[dict[str, Any]]) -> None:
        ...  # idempotent, writes through rt.db.write_sync

    # inside the transaction that stores report 42:
    enqueue(session, "triage.report", "triage.report:42", {"report_id": 42})
    # after the commit, so the worker does not wait for its next poll:
    worker.wake()

Payloads and keys carry identifiers only, never report content. Handler rules are in
:mod:`vigil.jobs.registry`; delivery guarantees in :mod:`vigil.jobs.worker`. The HTTP view
(:mod:`vigil.jobs.api`) and the commands (:mod:`vigil.jobs.commands`) are imported by the
app and the CLI, not here, so that areas can enqueue without importing the web layer.
"""

from __future__ import annotations

from vigil.jobs.models import Job, JobStatus
from vigil.jobs.queue import (
    Claimed,
    Failure,
    NewJob,
    claim,
    enqueue,
    enqueue_many,
    job_summary,
    list_jobs,
    mark_done,
    mark_failed,
    purge_done,
    renew,
    requeue,
)
from vigil.jobs.registry import Handler, PartialFailure, Registry
from vigil.jobs.worker import Worker

__all__ = [
    "Claimed",
    "Failure",
    "Handler",
    "Job",
    "JobStatus",
    "NewJob",
    "PartialFailure",
    "Registry",
    "Worker",
    "claim",
    "enqueue",
    "enqueue_many",
    "job_summary",
    "list_jobs",
    "mark_done",
    "mark_failed",
    "purge_done",
    "renew",
    "requeue",
]
