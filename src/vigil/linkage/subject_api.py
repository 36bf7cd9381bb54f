"""The subject list API (``GET /api/v1/linkage/subjects``), apart from the long linkage API.

Included from :mod:`vigil.linkage.api` under its ``/api/v1/linkage`` prefix. Only subjects
the caller may see are listed or counted, newest first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage import subject_views
from vigil.linkage.schemas import SubjectList
from vigil.web.runtime import Runtime, runtime

router = APIRouter()


@router.get("/subjects", response_model=SubjectList, summary="Subjects")
def subjects(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    user: Annotated[StaffUser, Depends(require(Permission.linkage_read))],
    status: Annotated[str | None, Query(pattern="^(open|closed|never)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SubjectList:
    """Subjects you may see, newest first, each with its owner, marking and the number of
    its entities and open alerts you may see; ``total`` counts every one you may see."""
    return subject_views.list_subjects(rt, user, status, limit, client_address(request))
