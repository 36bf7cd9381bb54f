"""Statistics JSON API: the supervisors' dashboard figures, policy-filtered and audited.

The handler only parses and calls one service function; the console's dashboard page draws
its charts and tables from the same answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.stats import services
from vigil.stats.schemas import Bucket, StatsSummary
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Invalid period or bucket; one entry per parameter in `errors`",
        "content": {PROBLEM_TYPE: {}},
    }
}
router = APIRouter(prefix="/api/v1/stats", tags=["stats"], responses=_PROBLEMS)


@router.get(
    "/summary",
    response_model=StatsSummary,
    summary="Dashboard figures over the reports and alerts you may see",
)
def show_summary(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    user: Annotated[StaffUser, Depends(require(Permission.stats_read))],
    since: Annotated[
        datetime | None, Query(description="Start, inclusive (default: 90 days before until)")
    ] = None,
    until: Annotated[datetime | None, Query(description="End, exclusive (default: now)")] = None,
    bucket: Annotated[Bucket, Query(description="Grouping of reports over time")] = Bucket.week,
) -> StatsSummary:
    return services.summary(rt, user, since, until, bucket, client_address(request))
