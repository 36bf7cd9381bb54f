"""The shortest connection between two entities, as a console page.

``/console/entities/{id}/path?to=OTHER`` asks :func:`vigil.linkage.graph_api.entity_path`
(the API's own reader: policy-filtered, audited) and shows the chain of records, each
linked to its page, with the relation between each pair. When there is no connection the
page says only "no connection through records you may see": the same words whether none
exists or one exists only through records the reader may not see. An other entity the
reader may not see is answered as one that does not exist, never as "hidden".
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage.graph_api import MAX_HOPS, entity_connection
from vigil.linkage.pages import _client, _not_found, node_url
from vigil.web.problems import Problem
from vigil.web.templating import Page, page, page_router

router: APIRouter = page_router()
PATH = "/console/entities/{entity_id}/path"

_reader = staff_session(Permission.linkage_read)


@router.get(PATH)
def path_page(
    entity_id: int, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    raw = (p.request.query_params.get("to") or "").strip().removeprefix("entity:")
    number = raw.isdecimal() and len(raw) <= 18
    try:
        found = entity_connection(
            p.rt, user, entity_id, int(raw) if number else None, _client(p.request, p.rt)
        )
    except Problem as problem:
        if problem.status == 404:
            return _not_found(p)
        raise
    trouble = None
    if raw and not number:
        trouble = "number"
    elif raw and found.other is None:
        trouble = "unknown"
    return render_staff(
        p,
        "linkage/path.html",
        status=400 if trouble == "number" else 200,
        found=found,
        entity_id=entity_id,
        to=raw,
        trouble=trouble,
        max_hops=MAX_HOPS,
        node_url=node_url,
    )
