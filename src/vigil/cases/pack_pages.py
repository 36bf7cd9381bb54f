"""The meeting pack from the console: the case as a PDF, marked on every page.

A thin handler over :func:`vigil.cases.pack.export_pack` (which reads the case through the
policy, audits the export and builds the PDF): the reader's optional purpose comes from the
case page's small GET form, and the pack's headings come in the reader's language.
"""

from __future__ import annotations

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.cases import pack
from vigil.cases.forms import visible
from vigil.web.templating import Page, page, page_router

router = page_router()
PACK = "/console/cases/{reference}/pack.pdf"
_reader = staff_session(Permission.cases_read)


@router.get(PACK)
def meeting_pack(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    purpose = p.request.query_params.get("purpose", "")
    made = visible(
        lambda: pack.export_pack(p.rt, user, reference, purpose, client_address(p.request), _=p._)
    )
    return p.finish(made.response())
