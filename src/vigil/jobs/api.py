"""The job queue for supervisors and administrators: what is waiting, running or stuck."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from vigil.access.api import require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.jobs.models import JobStatus
from vigil.jobs.queue import job_summary, list_jobs
from vigil.jobs.schemas import JobOut, JobsPage
from vigil.web.runtime import Runtime, runtime

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("", response_model=JobsPage, summary="Counts of jobs, and the newest jobs")
def jobs(
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.jobs_read)),
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state")] = None,
    kind: Annotated[str | None, Query(max_length=60, description="Only this kind")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobsPage:
    """Each listing is audited, in the same transaction as the read that it records."""
    client = request.client.host if request.client else None

    def work(session: Session) -> JobsPage:
        rows = list_jobs(session, status=status, kind=kind, limit=limit)
        page = JobsPage(
            summary=job_summary(session),
            items=[JobOut.model_validate(row) for row in rows],
        )
        filters = {"status": status, "kind": kind, "limit": limit}
        record_event(
            session,
            user.actor(client),
            "jobs.listed",
            record_type="job",
            record_ids=[row.id for row in rows],
            purpose="filter: " + ", ".join(f"{k}={v}" for k, v in filters.items() if v),
        )
        return page

    return rt.db.write_sync(work, as_user=user.id)
