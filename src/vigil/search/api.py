"""Search JSON API: one read, through the policy filter, audited.

The handler only parses and calls :func:`vigil.search.query.search`; what the reader may
not see is neither returned nor counted, so the answer is the same as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.db import as_utc
from vigil.search.criteria import SearchCriteria
from vigil.search.query import search
from vigil.search.schemas import RecordType, SearchPage
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

Q_MAX = 200
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {PROBLEM_TYPE: {}}}
    for code, text in {
        403: "Your role may not search for this type of record",
        422: "Invalid input; one entry per field in `errors`",
    }.items()
}
router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=_PROBLEMS)


@router.get(
    "",
    response_model=SearchPage,
    summary="Search reports, entities and cases you may see, newest first, with facets",
    description=(
        'Words and "quoted phrases" must all match (stemmed); `name:Word` or '
        '`name:"Two Words"` finds names by variants, sound and near-misses. '
        "`snippet` is escaped HTML with matches in `<mark>`."
    ),
)
def search_records(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    user: Annotated[StaffUser, Depends(require(Permission.search_read))],
    q: Annotated[str, Query(min_length=1, max_length=Q_MAX)],
    type: Annotated[list[RecordType] | None, Query(max_length=3)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    priority: Annotated[list[str] | None, Query(max_length=5)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchPage:
    criteria = SearchCriteria(
        q=q,
        types=frozenset(type or ()),
        category=category,
        priorities=frozenset(priority or ()),
        since=as_utc(since),
        until=as_utc(until),
    )
    return search(rt, user, criteria, cursor=cursor, limit=limit, client=client_address(request))
