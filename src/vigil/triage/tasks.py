"""How reports enter triage: in the accepting transaction, a queue row and a pipeline job.

Both are written in the same transaction as the report, so a report that was acknowledged is
always in the queue (pending) and always has its pipeline job, whatever crashes afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from vigil.jobs.queue import NewJob, enqueue_many
from vigil.jobs.registry import Registry
from vigil.triage.models import TriageResult

TRIAGE_REPORT = "triage.report"
_ENTER = insert(TriageResult)


def enter_queue(
    session: Session, report_id: int, received_at: datetime, *, job: bool = True
) -> None:
    """A new report: workable in the queue at once, its pipeline queued."""
    enter_queue_many(session, [(report_id, received_at)], job=job)


def enter_queue_many(
    session: Session, reports: Sequence[tuple[int, datetime]], *, job: bool = True
) -> None:
    """New reports (id, received) in one statement per table: intake commits many together."""
    session.connection().execute(
        _ENTER,
        [
            {
                "report_id": report_id,
                "received_at": received_at,
                "status": "pending",
                "pipeline_version": 0,
                "priority_rank": 5,
                "factors": [],
                "categories": [],
                "category_codes": ",",
                "state": "new",
            }
            for report_id, received_at in reports
        ],
    )
    if job:
        enqueue_many(
            session,
            [
                NewJob(TRIAGE_REPORT, f"{TRIAGE_REPORT}:{report_id}", {"report_id": report_id})
                for report_id, _received in reports
            ],
        )


def retriage(session: Session, report_id: int, cause: str) -> None:
    """Something new arrived for a report (a follow-up, a file): run its pipeline again."""
    enqueue_many(session, [retriage_job(report_id, cause)])


def retriage_job(report_id: int, cause: str) -> NewJob:
    """The job that runs a report's pipeline again because of ``cause`` (enqueue many at
    once with :func:`vigil.jobs.queue.enqueue_many`)."""
    return NewJob(TRIAGE_REPORT, f"{TRIAGE_REPORT}:{report_id}:{cause}", {"report_id": report_id})


def default_registry() -> Registry:
    """The handlers a worker runs (imported here, so intake does not load the pipeline)."""
    from vigil.linkage import tasks as linkage_tasks
    from vigil.search import tasks as search_tasks
    from vigil.triage.pipeline import triage_reports, warm_up

    registry = Registry()
    registry.register(TRIAGE_REPORT, triage_reports, urgent=True)  # analysts wait for it
    registry.on_start(warm_up)
    linkage_tasks.register(registry)
    search_tasks.register(registry)
    return registry
