"""The link graph API: the network of an entity, report, subject or case, and the shortest
visible connection between two entities.

All answer only through records the caller may see (Cytoscape.js draws them in the
console); a starting record the caller may not see answers 404, as one that does not exist.
The router has no prefix because its paths sit under each record's own path.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.codes import normalise_reference
from vigil.linkage.graph import Graph, neighbourhood, record_neighbourhood, shortest_path
from vigil.linkage.models import Entity
from vigil.linkage.schemas import ConnectionOut, GraphEdge, GraphNode, GraphOut, PathOut
from vigil.linkage.services import visible_entity
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

router = APIRouter(tags=["linkage"])
ENTITIES = "/api/v1/entities"
DEPTH_HELP = "Hops from the record"
# A record type's node prefix and how its references are written.
MAX_HOPS = 6  # the longest connection searched for
Reader = Annotated[StaffUser, Depends(require(Permission.linkage_read))]
Rt = Annotated[Runtime, Depends(runtime)]


@router.get(ENTITIES + "/{entity_id}/graph", response_model=GraphOut, summary="An entity's network")
def graph(
    entity_id: int,
    request: Request,
    rt: Rt,
    user: Reader,
    depth: Annotated[int, Query(ge=1, le=4, description=DEPTH_HELP)] = 2,
) -> GraphOut:
    """Entities, reports, subjects and cases within ``depth`` hops (at most 500 nodes)."""
    return entity_graph(rt, user, entity_id, depth, client_address(request))


def entity_graph(
    rt: Runtime, user: StaffUser, entity_id: int, depth: int, client: str | None
) -> GraphOut:
    """The neighbourhood as the API and the console page both show it, read and audited."""

    def work(session: Session) -> GraphOut:
        start = visible_entity(session, user, entity_id)
        found = neighbourhood(session, user, start, depth)
        record_event(
            session, user.actor(client), "entity.graph_viewed",
            record_type="entity", record_ids=[entity_id], purpose=f"depth={depth}",
        )  # fmt: skip
        return _graph_out(found)

    return rt.db.write_sync(work, as_user=user.id)


def _graph_out(found: Graph) -> GraphOut:
    return GraphOut(
        nodes=[GraphNode(**asdict(n)) for n in found.nodes.values()],
        edges=[GraphEdge(**asdict(e)) for e in found.edges.values()],
        truncated=found.truncated,
        identity_capped=found.identity_capped,
    )


# Whole sentences per kind of record, so that each reads naturally in Welsh too.
_NONE_YOU_MAY_SEE = {
    "report": said("No report with that reference you may see."),
    "case": said("No case with that reference you may see."),
    "subject": said("No subject with that reference you may see."),
}


def record_graph(
    rt: Runtime, user: StaffUser, record_type: str, reference: str, depth: int, client: str | None
) -> GraphOut:
    """The network of a report, subject or case, read and audited like an entity's; 404
    when the reader may not see the record (the same as when there is none)."""
    key = reference.strip().upper()
    if record_type == "report":
        key = normalise_reference(reference) or key

    def work(session: Session) -> GraphOut:
        found = record_neighbourhood(session, user, f"{record_type}:{key}", depth)
        if found is None:
            raise Problem(404, said("Not found"), _NONE_YOU_MAY_SEE[record_type])
        record_event(
            session, user.actor(client), f"{record_type}.graph_viewed",
            record_type=record_type, record_ids=[key], purpose=f"depth={depth}",
        )  # fmt: skip
        return _graph_out(found)

    return rt.db.write_sync(work, as_user=user.id)


def _record_route(record_type: str, summary: str) -> None:
    @router.get(
        f"/api/v1/{record_type}s/{{reference}}/graph",
        response_model=GraphOut,
        summary=summary,
        name=f"{record_type}_graph",
    )
    def graph_of(
        reference: str,
        request: Request,
        rt: Rt,
        user: Reader,
        depth: Annotated[int, Query(ge=1, le=4, description=DEPTH_HELP)] = 2,
    ) -> GraphOut:
        """Entities, reports, subjects and cases within ``depth`` hops (at most 500 nodes)."""
        return record_graph(rt, user, record_type, reference, depth, client_address(request))


for _type, _summary in (
    ("report", "A report's network"),
    ("subject", "A subject's network"),
    ("case", "A case's network"),
):
    _record_route(_type, _summary)


@router.get(ENTITIES + "/{entity_id}/path/{other_id}", response_model=PathOut, summary="Connection")
def path(entity_id: int, other_id: int, request: Request, rt: Rt, user: Reader) -> PathOut:
    """The fewest hops between two entities (up to six), through visible records only."""
    return entity_path(rt, user, entity_id, other_id, client_address(request))


def entity_path(
    rt: Runtime, user: StaffUser, entity_id: int, other_id: int, client: str | None
) -> PathOut:
    """The shortest visible connection as the API and the console page both show it; 404
    when either entity is one the reader may not see."""

    def work(session: Session) -> PathOut:
        start = visible_entity(session, user, entity_id)
        goal = visible_entity(session, user, other_id)
        steps = shortest_path(session, user, start, goal, max_hops=MAX_HOPS)
        record_event(
            session, user.actor(client), "entity.path_viewed",
            record_type="entity", record_ids=[entity_id, other_id],
        )  # fmt: skip
        if steps is None:
            return PathOut(found=False, steps=[], edges=[])
        return PathOut(
            found=True,
            steps=[GraphNode(**asdict(node)) for node, _ in steps],
            edges=[GraphEdge(**asdict(edge)) for _, edge in steps if edge is not None],
        )

    return rt.db.write_sync(work, as_user=user.id)


def entity_connection(
    rt: Runtime, user: StaffUser, entity_id: int, other_id: int | None, client: str | None
) -> ConnectionOut:
    """The console's connection page: 404 for a start the reader may not see; an other
    entity they may not see is answered as one that does not exist (``other`` None)."""

    def work(session: Session) -> ConnectionOut:
        start = visible_entity(session, user, entity_id)
        begin = GraphNode(
            id=f"entity:{start.id}", type="entity", label=start.label, kind=start.kind
        )
        goal = None
        if other_id is not None:
            goal = session.scalar(
                select(Entity).where(Entity.id == other_id, policy.visible(user, Entity, "entity"))
            )
        if goal is None:
            record_event(
                session, user.actor(client), "entity.viewed",
                record_type="entity", record_ids=[entity_id], purpose="connection",
            )  # fmt: skip
            return ConnectionOut(start=begin, other=None, path=None)
        steps = shortest_path(session, user, start, goal, max_hops=MAX_HOPS)
        record_event(
            session, user.actor(client), "entity.path_viewed",
            record_type="entity", record_ids=[entity_id, goal.id],
        )  # fmt: skip
        other = GraphNode(id=f"entity:{goal.id}", type="entity", label=goal.label, kind=goal.kind)
        if steps is None:
            return ConnectionOut(
                start=begin, other=other, path=PathOut(found=False, steps=[], edges=[])
            )
        path = PathOut(
            found=True,
            steps=[GraphNode(**asdict(node)) for node, _ in steps],
            edges=[GraphEdge(**asdict(edge)) for _, edge in steps if edge is not None],
        )
        return ConnectionOut(start=begin, other=other, path=path)

    return rt.db.write_sync(work, as_user=user.id)
