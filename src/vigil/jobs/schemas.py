"""What staff see of the job queue: counts and job metadata, never payloads.

Payloads hold identifiers only, but they are the handlers' business; operators need to know
what is stuck and why, not what it was about.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vigil.jobs.models import JobStatus


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    key: str
    status: JobStatus
    attempts: int
    max_attempts: int
    run_after: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class JobsPage(BaseModel):
    summary: dict[str, dict[str, int]] = Field(
        description="Counts by kind, then by status (queued, running, done, failed)"
    )
    items: list[JobOut] = Field(description="The newest matching jobs first")
