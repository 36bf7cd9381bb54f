"""``GET /api/v1/map``: the map page's reports as GeoJSON, through the same service.

Its own router, because the path sits beside ``/api/v1/reports`` rather than under
``/api/v1/triage``; the handler only parses the filters and calls one service function.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.triage.map import MapCollection, MapFilter, map_geojson
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Invalid filter; one entry per parameter in `errors`",
        "content": {PROBLEM_TYPE: {}},
    }
}
router = APIRouter(prefix="/api/v1", tags=["map"], responses=_PROBLEMS)


@router.get(
    "/map",
    response_model=MapCollection,
    summary="Reports you may see that have coordinates, newest first, as GeoJSON",
)
def show_map(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    user: Annotated[StaffUser, Depends(require(Permission.report_read))],
    since: Annotated[date | None, Query(description="Received on or after this day (UTC)")] = None,
    category: Annotated[str | None, Query(max_length=40, description="A category code")] = None,
    priority: Annotated[str | None, Query(max_length=10, description="P1..P4 or pending")] = None,
) -> MapCollection:
    criteria = MapFilter(since=since, category=category or None, priority=priority or None)
    return map_geojson(
        rt, user, criteria, limit=rt.settings.map_max_points, client=client_address(request)
    )
