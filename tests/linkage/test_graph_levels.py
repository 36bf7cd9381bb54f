"""The link graph is expanded a whole breadth-first level at a time (a few queries per level,
so a phone shared by hundreds of reports costs no more queries than one); on both databases
it must give exactly the graph of expanding one node at a time: the same nodes, edges and
truncation, in the same order, for every start and depth."""

from __future__ import annotations

from collections import deque

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.linkage.test_linkage_flow import investigator, run_pipeline, subject, submit
from vigil.access.models import ApiToken
from vigil.access.services import StaffUser, hash_token, staff_user
from vigil.linkage import graph
from vigil.linkage.models import Entity
from vigil.web.runtime import Runtime

REPORTS = [
    "He rang 07700 900123 from the white van AB12 CDE parked by the depot gates.",
    "The van AB12 CDE was back at night; the driver gave 07700 900456 to the guard.",
    "Someone on 07700 900456 asked about the fuel tanks and the shift times.",
    "A grey car XY65 ZZT followed the tanker; the passenger rang 07700 900123 twice.",
]


def one_node_at_a_time(walker: graph._Walker, first: graph.Node, depth: int) -> graph.Graph:
    """The reference: breadth-first, asking ``_Walker.neighbours`` node by node."""
    out = graph.Graph()
    out.add(first)
    frontier = deque([(first.id, 0)])
    seen = {first.id}
    while frontier:
        node_id, hops = frontier.popleft()
        if hops >= depth:
            continue
        for node, edge in walker.neighbours(node_id):
            out.link(edge)
            if node.id in seen:
                continue
            if len(out.nodes) >= graph.MAX_NODES:
                out.truncated = True
                out.edges = {
                    k: e for k, e in out.edges.items() if {e.source, e.target} <= set(out.nodes)
                }
                return out
            seen.add(node.id)
            out.add(node)
            frontier.append((node.id, hops + 1))
    return out


def one_identity_of_four(session: Session) -> None:
    """The pipeline makes an identity per record here; put four records in one, as matching
    confirmed by analysts would, so an identity has more members than a small cap."""
    first, *others = session.scalars(select(Entity).order_by(Entity.id).limit(4))
    session.execute(
        update(Entity)
        .where(Entity.id.in_([e.id for e in others]))
        .values(identity_id=first.identity_id)
    )


def reader(session: Session, token: str) -> StaffUser:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    assert row is not None
    return staff_user(session, row.user)


@pytest.mark.parametrize(
    ("cap", "same_identity"), [(graph.MAX_NODES, graph.MAX_SAME_IDENTITY), (4, 1)]
)
def test_level_at_a_time_gives_the_same_graph_as_node_at_a_time(
    client: TestClient,
    rt: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    cap: int,
    same_identity: int,
) -> None:
    token = investigator(rt)
    subject(client, token, person={"first_name": "Karl", "phone": "07700900123"})
    for text in REPORTS:
        submit(client, text)
    run_pipeline(rt)
    rt.db.write_sync(one_identity_of_four)
    monkeypatch.setattr(graph, "MAX_NODES", cap)  # a small cap exercises the truncation
    monkeypatch.setattr(graph, "MAX_SAME_IDENTITY", same_identity)  # and the identity cap

    with rt.db.session() as session:
        user = reader(session, token)
        starts = list(session.scalars(select(Entity).order_by(Entity.id)))
        assert len(starts) >= 6
        sizes, truncated, capped = [], [], []
        for start in starts:
            for depth in (1, 2, 3):
                walker = graph._Walker(session, user, same_identity)
                expected = one_node_at_a_time(walker, walker.entity_node(start), depth)
                got = graph.neighbourhood(session, user, start, depth)
                assert list(got.nodes) == list(expected.nodes), (start.id, depth)
                assert list(got.edges) == list(expected.edges), (start.id, depth)
                assert got.truncated == expected.truncated, (start.id, depth)
                assert got.identity_capped == walker.identity_capped, (start.id, depth)
                sizes.append(len(got.nodes))
                truncated.append(got.truncated)
                capped.append(got.identity_capped)
    # The reports share phones and a van: real networks, not pairs (or cut at the small cap).
    assert max(sizes) == 4 if cap == 4 else max(sizes) >= 5
    assert any(truncated) == (cap == 4)
    assert any(capped) == (same_identity == 1)  # the largest identity holds four records
