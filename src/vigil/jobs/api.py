"""The job queue for the platform's operators (administrators of the receiving organisation):
what is waiting, running or stuck."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.jobs.models import JobStatus
from vigil.jobs.schemas import JobsPage
from vigil.jobs.services import jobs_page
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
    """Platform-wide, so only for administrators of the receiving organisation; anyone else
    gets 403. Each listing is audited, in the same transaction as the read that it records."""
    return jobs_page(
        rt, user, status=status, kind=kind, limit=limit, client=client_address(request)
    )
