"""The link graph: what is connected to an entity, only through records the reader may see.

Nodes are entities, the reports they came from, the subjects they belong to and the cases
that hold them; edges are a source, a proposed or confirmed match, a confirmed identity, a
subject's membership, a case link. The graph is expanded breadth-first from the start and
every expansion goes through the access policy, so a path never runs through a record the
reader may not see (and never hints that one exists). Rejected matches are not edges.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.cases.models import Case, CaseLink
from vigil.intake.models import Report
from vigil.linkage.models import Entity, Match, Subject, SubjectEntity

MAX_NODES = 500
# Records of one identity drawn from each of its members. An identity can hold hundreds of
# records (one per sighting of the same phone, say), and drawing each member's link to every
# other one is a clique: 200 members make 19,900 edges that say one thing and cost seconds to
# build, send and draw. Each member shows its first MAX_SAME_IDENTITY others (by id) and the
# graph says that it did; the entity's own page lists every member.
MAX_SAME_IDENTITY = 25


@dataclass(frozen=True, slots=True)
class Node:
    id: str  # "entity:12", "report:VGL-…", "subject:SUB-…", "case:CASE-…"
    type: str
    label: str
    kind: str | None = None  # an entity's kind


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    relation: str  # source | match | confirmed | same_identity | subject | case
    probability: float | None = None


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], Edge] = field(default_factory=dict)
    truncated: bool = False
    identity_capped: bool = False  # some member's same-identity links were cut to the cap

    def add(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def link(self, edge: Edge) -> None:
        a, b = sorted((edge.source, edge.target))
        self.edges.setdefault((a, b, edge.relation), edge)


class _Walker:
    """Neighbours of one node, each already filtered by the policy."""

    def __init__(
        self, session: Session, user: StaffUser, same_identity_cap: int | None = None
    ) -> None:
        """``same_identity_cap``: links drawn from each member of an identity (None: all,
        as a path search needs them)."""
        self.session, self.user = session, user
        self.cap = same_identity_cap
        self.identity_capped = False

    def _entities(self, ids: Iterable[int]) -> list[Entity]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        return list(
            self.session.scalars(
                select(Entity)
                .where(Entity.id.in_(wanted), policy.visible(self.user, Entity, "entity"))
                .order_by(Entity.id)  # by id, not however the table happens to lie on disk
            )
        )

    def entity_node(self, entity: Entity) -> Node:
        return Node(f"entity:{entity.id}", "entity", entity.label, entity.kind)

    def node_of(self, node_id: str) -> Node | None:
        """The node for "entity:12", "report:VGL-…", "subject:SUB-…" or "case:CASE-…", or
        None when there is no such record or the reader may not see it."""
        kind, _, key = node_id.partition(":")
        if kind == "entity":
            found = self._entities([int(key)]) if key.isdecimal() and len(key) <= 18 else []
            return self.entity_node(found[0]) if found else None
        if kind == "report":
            report = self.session.scalar(
                select(Report).where(Report.reference == key, policy.reports(self.user))
            )
            return Node(node_id, "report", report.reference) if report else None
        if kind == "subject":
            subject = self.session.scalar(
                select(Subject).where(
                    Subject.reference == key, policy.visible(self.user, Subject, "subject")
                )
            )
            return Node(node_id, "subject", subject.name) if subject else None
        if kind == "case":
            case = self.session.scalar(
                select(Case).where(Case.reference == key, policy.visible(self.user, Case, "case"))
            )
            return Node(node_id, "case", case.title) if case else None
        return None

    def neighbours(self, node_id: str) -> list[tuple[Node, Edge]]:
        kind, _, key = node_id.partition(":")
        if kind == "entity":
            return self._of_entity(int(key))
        if kind == "report":
            return self._of_report(key)
        if kind == "subject":
            return self._of_subject(key)
        if kind == "case":
            return self._of_case(key)
        return []

    def _of_entity(self, entity_id: int) -> list[tuple[Node, Edge]]:
        visible = self._entities([entity_id])
        if not visible:
            return []
        entity = visible[0]
        me = f"entity:{entity.id}"
        found: list[tuple[Node, Edge]] = []
        matches = self.session.execute(
            select(Match.entity_id, Match.other_entity_id, Match.state, Match.match_probability)
            .where(
                (Match.entity_id == entity.id) | (Match.other_entity_id == entity.id),
                Match.state != "negative",
            )
            .limit(MAX_NODES)
        ).all()
        others = {(a if b == entity.id else b): (s, p) for a, b, s, p in matches}
        for other in self._entities(others):
            state, probability = others[other.id]
            relation = "confirmed" if state == "positive" else "match"
            node = self.entity_node(other)
            found.append((node, Edge(me, node.id, relation, probability)))
        siblings = self.session.scalars(
            select(Entity.id).where(
                Entity.identity_id == entity.identity_id, Entity.id != entity.id
            )
        ).all()
        shown = sorted(self._entities(siblings), key=lambda e: e.id)
        if self.cap is not None and len(shown) > self.cap:
            self.identity_capped = True
            shown = shown[: self.cap]
        for other in shown:
            node = self.entity_node(other)
            found.append((node, Edge(me, node.id, "same_identity")))
        if entity.source_type == "report" and entity.source_id is not None:
            report = self.session.scalar(
                select(Report).where(Report.id == entity.source_id, policy.reports(self.user))
            )
            if report is not None:
                node = Node(f"report:{report.reference}", "report", report.reference)
                found.append((node, Edge(node.id, me, "source")))
        subjects = self.session.scalars(
            select(Subject)
            .join(SubjectEntity, SubjectEntity.subject_id == Subject.id)
            .where(
                SubjectEntity.entity_id == entity.id,
                policy.visible(self.user, Subject, "subject"),
            )
        )
        for subject in subjects:
            node = Node(f"subject:{subject.reference}", "subject", subject.name)
            found.append((node, Edge(node.id, me, "subject")))
        found += self._cases_of("entity", entity.id, me)
        return found

    def _of_report(self, reference: str) -> list[tuple[Node, Edge]]:
        report = self.session.scalar(
            select(Report).where(Report.reference == reference, policy.reports(self.user))
        )
        if report is None:
            return []
        me = f"report:{report.reference}"
        ids = self.session.scalars(
            select(Entity.id).where(Entity.source_type == "report", Entity.source_id == report.id)
        ).all()
        found = [
            (self.entity_node(e), Edge(me, f"entity:{e.id}", "source")) for e in self._entities(ids)
        ]
        return found + self._cases_of("report", report.id, me)

    def _of_subject(self, reference: str) -> list[tuple[Node, Edge]]:
        subject = self.session.scalar(
            select(Subject).where(
                Subject.reference == reference, policy.visible(self.user, Subject, "subject")
            )
        )
        if subject is None:
            return []
        me = f"subject:{subject.reference}"
        ids = self.session.scalars(
            select(SubjectEntity.entity_id).where(SubjectEntity.subject_id == subject.id)
        ).all()
        found = [
            (self.entity_node(e), Edge(me, f"entity:{e.id}", "subject"))
            for e in self._entities(ids)
        ]
        return found + self._cases_of("subject", subject.id, me)

    def _of_case(self, reference: str) -> list[tuple[Node, Edge]]:
        case = self.session.scalar(
            select(Case).where(Case.reference == reference, policy.visible(self.user, Case, "case"))
        )
        if case is None:
            return []
        me = f"case:{case.reference}"
        links = self.session.execute(
            select(CaseLink.record_type, CaseLink.record_id).where(CaseLink.case_id == case.id)
        ).all()
        found: list[tuple[Node, Edge]] = []
        entity_ids = [rid for rtype, rid in links if rtype == "entity"]
        for entity in self._entities(entity_ids):
            found.append((self.entity_node(entity), Edge(me, f"entity:{entity.id}", "case")))
        report_ids = [rid for rtype, rid in links if rtype == "report"]
        if report_ids:
            for report in self.session.scalars(
                select(Report).where(Report.id.in_(report_ids), policy.reports(self.user))
            ):
                node = Node(f"report:{report.reference}", "report", report.reference)
                found.append((node, Edge(me, node.id, "case")))
        subject_ids = [rid for rtype, rid in links if rtype == "subject"]
        if subject_ids:
            for subject in self.session.scalars(
                select(Subject).where(
                    Subject.id.in_(subject_ids), policy.visible(self.user, Subject, "subject")
                )
            ):
                node = Node(f"subject:{subject.reference}", "subject", subject.name)
                found.append((node, Edge(me, node.id, "case")))
        return found

    def _cases_of(self, rtype: str, rid: int, me: str) -> list[tuple[Node, Edge]]:
        cases = self.session.scalars(
            select(Case)
            .join(CaseLink, CaseLink.case_id == Case.id)
            .where(
                CaseLink.record_type == rtype,
                CaseLink.record_id == rid,
                policy.visible(self.user, Case, "case"),
            )
        )
        return [
            (Node(f"case:{c.reference}", "case", c.title), Edge(f"case:{c.reference}", me, "case"))
            for c in cases
        ]


class _Batch:
    """The neighbours of a whole breadth-first level at once: a handful of queries per
    level instead of five or six per node, with exactly what ``_Walker.neighbours`` gives
    for each node, in the same order. Every record still goes through the policy."""

    def __init__(self, walker: _Walker) -> None:
        self.w = walker
        self.session, self.user = walker.session, walker.user

    def expand(self, level: list[str]) -> dict[str, list[tuple[Node, Edge]]]:
        out: dict[str, list[tuple[Node, Edge]]] = {}
        entity_ids = [int(n.partition(":")[2]) for n in level if n.startswith("entity:")]
        report_refs = [n.partition(":")[2] for n in level if n.startswith("report:")]
        out.update(self._of_entities(entity_ids))
        out.update(self._of_reports(report_refs))
        for node_id in level:  # subjects and cases: few, expanded one by one as before
            if node_id.startswith(("subject:", "case:")):
                out[node_id] = self.w.neighbours(node_id)
        return out

    def _cases_of(self, rtype: str, ids: list[int]) -> dict[int, list[Case]]:
        found: dict[int, list[Case]] = defaultdict(list)
        if not ids:
            return found
        for rid, case in self.session.execute(
            select(CaseLink.record_id, Case)
            .join(Case, CaseLink.case_id == Case.id)
            .where(
                CaseLink.record_type == rtype,
                CaseLink.record_id.in_(sorted(set(ids))),
                policy.visible(self.user, Case, "case"),
            )
        ):
            found[rid].append(case)
        return found

    @staticmethod
    def _case_edges(cases: list[Case], me: str) -> list[tuple[Node, Edge]]:
        return [
            (Node(f"case:{c.reference}", "case", c.title), Edge(f"case:{c.reference}", me, "case"))
            for c in cases
        ]

    def _of_entities(self, ids: list[int]) -> dict[str, list[tuple[Node, Edge]]]:
        if not ids:
            return {}
        entities = {e.id: e for e in self.w._entities(ids)}
        wanted = sorted(entities)
        if not wanted:
            return {}
        matches: dict[int, dict[int, tuple[str, float]]] = defaultdict(dict)
        for a, b, state, probability in self.session.execute(
            select(Match.entity_id, Match.other_entity_id, Match.state, Match.match_probability)
            .where(
                or_(Match.entity_id.in_(wanted), Match.other_entity_id.in_(wanted)),
                Match.state != "negative",
            )
            .order_by(Match.id)
        ):
            for mine, theirs in ((a, b), (b, a)):
                if mine in entities and len(matches[mine]) < MAX_NODES:
                    matches[mine][theirs] = (state, probability)
        identities = {e.identity_id for e in entities.values()}
        members: dict[int, list[int]] = defaultdict(list)
        for eid, identity_id in self.session.execute(
            select(Entity.id, Entity.identity_id)
            .where(Entity.identity_id.in_(sorted(identities)))
            .order_by(Entity.id)
        ):
            members[identity_id].append(eid)
        around = {o for m in matches.values() for o in m}
        around |= {i for e in entities.values() for i in members[e.identity_id] if i != e.id}
        visible = {e.id: e for e in self.w._entities(around)}
        sources = sorted(
            {
                e.source_id
                for e in entities.values()
                if e.source_type == "report" and e.source_id is not None
            }
        )
        reports = {
            r.id: r
            for r in (
                self.session.scalars(
                    select(Report).where(Report.id.in_(sources), policy.reports(self.user))
                )
                if sources
                else []
            )
        }
        subjects: dict[int, list[Subject]] = defaultdict(list)
        for eid, subject in self.session.execute(
            select(SubjectEntity.entity_id, Subject)
            .join(Subject, SubjectEntity.subject_id == Subject.id)
            .where(
                SubjectEntity.entity_id.in_(wanted),
                policy.visible(self.user, Subject, "subject"),
            )
        ):
            subjects[eid].append(subject)
        cases = self._cases_of("entity", wanted)
        out: dict[str, list[tuple[Node, Edge]]] = {}
        for eid in wanted:
            entity = entities[eid]
            me = f"entity:{eid}"
            found: list[tuple[Node, Edge]] = []
            for other_id in sorted(matches[eid]):
                other = visible.get(other_id)
                if other is None:
                    continue
                state, probability = matches[eid][other_id]
                relation = "confirmed" if state == "positive" else "match"
                node = self.w.entity_node(other)
                found.append((node, Edge(me, node.id, relation, probability)))
            shown = 0
            for sibling_id in members[entity.identity_id]:
                sibling = visible.get(sibling_id)
                if sibling_id == eid or sibling is None:
                    continue
                if shown == self.w.cap:
                    self.w.identity_capped = True
                    break
                shown += 1
                node = self.w.entity_node(sibling)
                found.append((node, Edge(me, node.id, "same_identity")))
            report = (
                reports.get(entity.source_id)
                if entity.source_type == "report" and entity.source_id is not None
                else None
            )
            if report is not None:
                node = Node(f"report:{report.reference}", "report", report.reference)
                found.append((node, Edge(node.id, me, "source")))
            for subject in subjects[eid]:
                node = Node(f"subject:{subject.reference}", "subject", subject.name)
                found.append((node, Edge(node.id, me, "subject")))
            found += self._case_edges(cases[eid], me)
            out[me] = found
        return out

    def _of_reports(self, refs: list[str]) -> dict[str, list[tuple[Node, Edge]]]:
        if not refs:
            return {}
        reports = list(
            self.session.scalars(
                select(Report).where(
                    Report.reference.in_(sorted(set(refs))), policy.reports(self.user)
                )
            )
        )
        if not reports:
            return {}
        by_id = {r.id: r for r in reports}
        sourced: dict[int, list[int]] = defaultdict(list)
        for eid, rid in self.session.execute(
            select(Entity.id, Entity.source_id)
            .where(Entity.source_type == "report", Entity.source_id.in_(sorted(by_id)))
            .order_by(Entity.id)
        ):
            if rid is not None:
                sourced[rid].append(eid)
        visible = {e.id: e for e in self.w._entities([i for ids in sourced.values() for i in ids])}
        cases = self._cases_of("report", sorted(by_id))
        out: dict[str, list[tuple[Node, Edge]]] = {}
        for rid, report in by_id.items():
            me = f"report:{report.reference}"
            found = [
                (self.w.entity_node(visible[i]), Edge(me, f"entity:{i}", "source"))
                for i in sourced[rid]
                if i in visible
            ]
            out[me] = found + self._case_edges(cases[rid], me)
        return out


def neighbourhood(session: Session, user: StaffUser, start: Entity, depth: int) -> Graph:
    """Everything within ``depth`` hops of ``start`` that the reader may see."""
    walker = _Walker(session, user, MAX_SAME_IDENTITY)
    return _expand(walker, walker.entity_node(start), depth)


def record_neighbourhood(
    session: Session, user: StaffUser, node_id: str, depth: int
) -> Graph | None:
    """The network of a report, subject or case (``"subject:SUB-…"``); None when the reader
    may not see that record (the same as when there is none)."""
    walker = _Walker(session, user, MAX_SAME_IDENTITY)
    first = walker.node_of(node_id)
    return None if first is None else _expand(walker, first, depth)


def _expand(walker: _Walker, first: Node, depth: int) -> Graph:
    """Breadth-first from ``first``, one whole level at a time (a few queries per level,
    whatever its width), each node's neighbours in the order ``_Walker.neighbours`` gives."""
    graph = _walk(walker, first, depth)
    graph.identity_capped = walker.identity_capped
    return graph


def _walk(walker: _Walker, first: Node, depth: int) -> Graph:
    batch = _Batch(walker)
    graph = Graph()
    graph.add(first)
    seen = {first.id}
    level = [first.id]
    for _hops in range(depth):
        found = batch.expand(level)
        following: list[str] = []
        for node_id in level:
            for node, edge in found.get(node_id, []):
                graph.link(edge)
                if node.id in seen:
                    continue
                if len(graph.nodes) >= MAX_NODES:
                    graph.truncated = True
                    graph.edges = {
                        k: e
                        for k, e in graph.edges.items()
                        if {e.source, e.target} <= set(graph.nodes)
                    }
                    return graph
                seen.add(node.id)
                graph.add(node)
                following.append(node.id)
        level = following
        if not level:
            break
    return graph


def shortest_path(
    session: Session, user: StaffUser, start: Entity, goal: Entity, max_hops: int = 6
) -> list[tuple[Node, Edge | None]] | None:
    """The fewest visible hops from one entity to another, or None within ``max_hops``."""
    walker = _Walker(session, user)
    begin, end = walker.entity_node(start), walker.entity_node(goal)
    came_from: dict[str, tuple[str, Edge] | None] = {begin.id: None}
    nodes = {begin.id: begin}
    frontier = deque([(begin.id, 0)])
    while frontier:
        node_id, hops = frontier.popleft()
        if node_id == end.id:
            path: list[tuple[Node, Edge | None]] = []
            step: str | None = node_id
            while step is not None:
                prev = came_from[step]
                path.append((nodes[step], prev[1] if prev else None))
                step = prev[0] if prev else None
            return list(reversed(path))
        if hops >= max_hops or len(nodes) > MAX_NODES * 4:
            continue
        for node, edge in walker.neighbours(node_id):
            if node.id not in came_from:
                came_from[node.id] = (node_id, edge)
                nodes[node.id] = node
                frontier.append((node.id, hops + 1))
    return None
