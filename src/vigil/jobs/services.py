"""Reading the job queue on someone's behalf: the listing and its audit event together."""

from __future__ import annotations

from sqlalchemy.orm import Session

from vigil.audit.services import Actor, record_event
from vigil.jobs.models import Job, JobStatus
from vigil.jobs.queue import list_jobs


def list_jobs_audited(
    session: Session,
    actor: Actor,
    *,
    status: JobStatus | None,
    kind: str | None,
    limit: int,
) -> list[Job]:
    """The newest jobs matching the filters; the listing is audited in the caller's
    transaction, naming the filters (the API and the CLI share this)."""
    rows = list_jobs(session, status=status, kind=kind, limit=limit)
    filters = {"status": status, "kind": kind, "limit": limit}
    record_event(
        session,
        actor,
        "jobs.listed",
        record_type="job",
        record_ids=[row.id for row in rows],
        purpose="filter: " + ", ".join(f"{k}={v}" for k, v in filters.items() if v),
    )
    return rows
