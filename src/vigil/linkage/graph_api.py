"""The link graph API: an entity's neighbourhood and the shortest visible connection.

Both answer only through records the caller may see (Cytoscape.js draws them in the
console); an entity the caller may not see answers 404.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.linkage.graph import neighbourhood, shortest_path
from vigil.linkage.schemas import GraphEdge, GraphNode, GraphOut, PathOut
from vigil.linkage.services import visible_entity
from vigil.web.runtime import Runtime, runtime

router = APIRouter(prefix="/api/v1/entities", tags=["linkage"])
Reader = Annotated[StaffUser, Depends(require(Permission.linkage_read))]
Rt = Annotated[Runtime, Depends(runtime)]


@router.get("/{entity_id}/graph", response_model=GraphOut, summary="An entity's network")
def graph(
    entity_id: int,
    request: Request,
    rt: Rt,
    user: Reader,
    depth: Annotated[int, Query(ge=1, le=4, description="Hops from the entity")] = 2,
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
        return GraphOut(
            nodes=[GraphNode(**asdict(n)) for n in found.nodes.values()],
            edges=[GraphEdge(**asdict(e)) for e in found.edges.values()],
            truncated=found.truncated,
        )

    return rt.db.write_sync(work, as_user=user.id)


@router.get("/{entity_id}/path/{other_id}", response_model=PathOut, summary="Connection")
def path(entity_id: int, other_id: int, request: Request, rt: Rt, user: Reader) -> PathOut:
    """The fewest hops between two entities (up to six), through visible records only."""

    def work(session: Session) -> PathOut:
        start = visible_entity(session, user, entity_id)
        goal = visible_entity(session, user, other_id)
        steps = shortest_path(session, user, start, goal)
        record_event(
            session, user.actor(client_address(request)), "entity.path_viewed",
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
