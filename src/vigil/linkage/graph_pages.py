"""The network pages of reports and cases, and the one renderer every network page (entity,
report, subject, case) shares.

The tables are the page: they need no JavaScript and are what a screen reader hears; the
drawing (/static/js/graph.mjs) shows the same JSON. Expanding a node "on demand" fetches
the graph API one step out (``/api/v1/entities/{id}/graph?depth=1`` and its report,
subject and case twins), which accepts the signed-in staff session for reads. Every read
goes through :mod:`vigil.linkage.graph_api` (policy-filtered and audited); a record the
reader may not see is "Page not found", as one that does not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage.graph import MAX_SAME_IDENTITY
from vigil.linkage.graph_api import record_graph
from vigil.linkage.pages import GRAPH_DEPTHS, _client, _depth, _not_found, node_url
from vigil.linkage.schemas import GraphOut
from vigil.web.problems import Problem
from vigil.web.templating import Page, page, page_router

router: APIRouter = page_router()
REPORT_GRAPH = "/console/reports/{reference}/graph"
CASE_GRAPH = "/console/cases/{reference}/graph"
BACK = {
    "report": "/console/reports/{}",
    "case": "/console/cases/{}",
    "subject": "/console/subjects/{}",
    "entity": "/console/entities/{}",
}

_reader = staff_session(Permission.linkage_read)


def graph_json(found: GraphOut, start: str) -> dict[str, object]:
    """What the drawing reads: the nodes (each with its page), the edges, where it starts."""
    return {
        "start": start,
        "nodes": [{**n.model_dump(), "url": node_url(n)} for n in found.nodes],
        "edges": [e.model_dump() for e in found.edges],
        "truncated": found.truncated,
        "identity_capped": found.identity_capped,
    }


def render_graph(
    p: Page,
    found: GraphOut | None,
    *,
    kind: str,
    base: str,
    back: str,
    depth: int,
    start: str | None = None,
) -> Response:
    """A network page; ``found`` None is a depth that is not 1 to 4 (400, nothing read)."""
    if found is None or start is None:
        return render_staff(
            p, "linkage/graph.html", status=400, bad_depth=True, kind=kind, base=base, back=back
        )
    nodes = {n.id: n for n in found.nodes}
    return render_staff(
        p,
        "linkage/graph.html",
        bad_depth=False,
        kind=kind,
        base=base,
        back=back,
        start=nodes[start],  # the walk always holds where it started
        entity_id=int(start.split(":", 1)[1]) if kind == "entity" else None,
        depth=depth,
        depths=list(GRAPH_DEPTHS),
        graph=found,
        same_identity_cap=MAX_SAME_IDENTITY,
        nodes=nodes,
        node_url=node_url,
        graph_data=graph_json(found, start),
    )


def record_graph_page(p: Page, user: StaffUser, kind: str, reference: str) -> Response:
    ref = reference.strip().upper()
    back = BACK[kind].format(ref)
    base = back + "/graph"
    depth = _depth(p.request.query_params.get("depth"))
    if depth is None:
        return render_graph(p, None, kind=kind, base=base, back=back, depth=2)
    try:
        found = record_graph(p.rt, user, kind, ref, depth, _client(p.request, p.rt))
    except Problem as problem:
        if problem.status == 404:
            return _not_found(p)
        raise
    start = found.nodes[0].id  # the walk's first node is where it started
    return render_graph(p, found, kind=kind, base=base, back=back, depth=depth, start=start)


@router.get(REPORT_GRAPH)
def report_graph(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    """The network of the entities found in a report."""
    return record_graph_page(p, user, "report", reference)


@router.get(CASE_GRAPH)
def case_graph(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    """The network of a case's linked records (only those the reader may see)."""
    return record_graph_page(p, user, "case", reference)
