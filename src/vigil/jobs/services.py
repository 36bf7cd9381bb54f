"""Reading the job queue on someone's behalf: the listing and its audit event together.

The queue is the platform's infrastructure, shared by every organisation: its counts cover
every organisation's records and its keys name records (``triage.report:201:followup:2``).
So the staff listing is for the platform's operators only: holders of ``jobs:job:read``
(administrators) of the organisation that receives public reports and runs the platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from vigil.audit.services import Actor, receiving_org_id, record_event
from vigil.jobs.models import Job, JobStatus
from vigil.jobs.queue import job_summary, list_jobs
from vigil.jobs.schemas import JobOut, JobsPage
from vigil.web.problems import Problem
from vigil.web.said import said

if TYPE_CHECKING:
    from vigil.access.services import StaffUser
    from vigil.web.runtime import Runtime


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


def jobs_page(
    rt: Runtime,
    user: StaffUser,
    *,
    status: JobStatus | None,
    kind: str | None,
    limit: int,
    client: str | None,
) -> JobsPage:
    """Counts of jobs and the newest jobs, for a platform operator (see the module).

    Anyone else who holds ``jobs:job:read`` (an administrator of another organisation, or a
    token scoped to it) is refused exactly as the route guard refuses a role without it
    (403, "Your role does not allow this."), and the refusal is audited as
    ``access.denied``: nothing about the queue is read for them."""
    actor = user.actor(client)

    def work(session: Session) -> JobsPage | None:
        if user.org_id != receiving_org_id(session, rt):
            record_event(
                session,
                actor,
                "access.denied",
                outcome="denied",
                purpose="jobs:job:read is for the receiving organisation's administrators",
            )
            return None
        rows = list_jobs_audited(session, actor, status=status, kind=kind, limit=limit)
        return JobsPage(
            summary=job_summary(session),
            items=[JobOut.model_validate(row) for row in rows],
        )

    page = rt.db.write_sync(work, as_user=user.id)
    if page is None:
        raise Problem(403, said("Forbidden"), said("Your role does not allow this."))
    return page
