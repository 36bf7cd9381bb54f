"""The job queue for supervisors and administrators: what is waiting, running or stuck."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.jobs.models import JobStatus
from vigil.jobs.queue import job_summary
from vigil.jobs.schemas import JobOut, JobsPage
from vigil.jobs.services import list_jobs_audited
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
    actor = user.actor(client_address(request))

    def work(session: Session) -> JobsPage:
        rows = list_jobs_audited(session, actor, status=status, kind=kind, limit=limit)
        return JobsPage(
            summary=job_summary(session),
            items=[JobOut.model_validate(row) for row in rows],
        )

    return rt.db.write_sync(work, as_user=user.id)
