"""The public website: report suspicious activity, report online material, follow up."""

from __future__ import annotations

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.web.templating import Page, page, page_router

router = page_router()
_view = Depends(public(Permission.public_pages_view))


@router.get("/", dependencies=[_view])
def start(p: Page = Depends(page)) -> Response:
    return p.render("intake/start.html")
