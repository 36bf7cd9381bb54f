"""Linkage records as their readers may see them.

A match is shown only when the reader may see both of its entities; an alert always shows
its subject (the reader owns it) but the record that raised it only when the policy lets
them see that record — otherwise they learn that a record exists and which organisation
to ask. Blind review hides every number so a reviewer judges the records, not the score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.models import Organisation, User
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Report
from vigil.linkage.matching.model import readable_level
from vigil.linkage.models import Alert, Entity, Match, Subject, SubjectEntity
from vigil.linkage.records import MATCHABLE, EntityKind, EntityRecord
from vigil.linkage.schemas import AlertOut, EntityOut, EntityPage, MatchOut, SubjectOut
from vigil.web.said import said

MATCHES_SHOWN = 100  # an entity's strongest matches, listed with it


def report_references(
    session: Session, user: StaffUser, entities: Iterable[Entity]
) -> dict[int, str]:
    """The references of the reports some entities came from, in one query, and only of
    reports the reader may see: an entity shared on its own does not reveal its report."""
    ids = sorted(
        {e.source_id for e in entities if e.source_type == "report" and e.source_id is not None}
    )
    if not ids:
        return {}
    rows = session.execute(
        select(Report.id, Report.reference).where(Report.id.in_(ids), policy.reports(user))
    )
    return {rid: ref for rid, ref in rows}


def entity_out(entity: Entity, references: Mapping[int, str]) -> EntityOut:
    """``references`` comes from :func:`report_references` for the same reader."""
    reference = None
    if entity.source_type == "report" and entity.source_id is not None:
        reference = references.get(entity.source_id)
    return EntityOut(
        id=entity.id,
        kind=entity.kind,
        identity_id=entity.identity_id,
        label=entity.label,
        properties=dict(entity.properties or {}),
        matchable=sorted(
            MATCHABLE.get(EntityKind(entity.kind), frozenset()) & set(entity.properties or {})
        ),
        source_type=entity.source_type,
        source_ref=entity.source_ref,
        report_reference=reference,
        classification=entity.classification,
        benign=entity.benign,
        created_at=entity.created_at,
    )


def subject_out(session: Session, subject: Subject, user: StaffUser | None = None) -> SubjectOut:
    """The subject; with a reader, its entity ids are only those they may see (an entity of
    another agency on the subject is neither listed nor counted)."""
    query = select(SubjectEntity.entity_id).where(SubjectEntity.subject_id == subject.id)
    if user is not None:
        query = query.join(Entity, Entity.id == SubjectEntity.entity_id).where(
            policy.visible(user, Entity, "entity")
        )
    ids = list(session.scalars(query.order_by(SubjectEntity.entity_id)))
    return _subject_out(subject, ids)


def _subject_out(subject: Subject, entity_ids: list[int]) -> SubjectOut:
    return SubjectOut(
        id=subject.id,
        reference=subject.reference,
        external_ref=subject.external_ref,
        name=subject.name,
        status=subject.status,
        classification=subject.classification,
        alert_threshold=subject.alert_threshold,
        entity_ids=entity_ids,
        created_at=subject.created_at,
        closed_at=subject.closed_at,
    )


def visible_matches(
    session: Session, user: StaffUser, match_ids: Sequence[int], *, blind: bool
) -> list[MatchOut]:
    if not match_ids:
        return []
    seen = _MatchesSeen.read(session, user, match_ids)
    return seen.listed(match_ids, blind=blind)


class _MatchesSeen:
    """Some matches with those of their entities the reader may see and those entities'
    report references: read once, listed for one entity or several."""

    def __init__(
        self, matches: dict[int, Match], entities: dict[int, Entity], refs: Mapping[int, str]
    ) -> None:
        self.matches, self.entities, self.refs = matches, entities, refs

    @classmethod
    def read(
        cls,
        session: Session,
        user: StaffUser,
        match_ids: Iterable[int],
        known: Mapping[int, str] | None = None,
    ) -> _MatchesSeen:
        """``known``: report references already found visible (not looked up again)."""
        wanted_matches = sorted(set(match_ids))
        if not wanted_matches:
            return cls({}, {}, dict(known or {}))
        matches = {
            m.id: m for m in session.scalars(select(Match).where(Match.id.in_(wanted_matches)))
        }
        wanted = {m.entity_id for m in matches.values()} | {
            m.other_entity_id for m in matches.values()
        }
        entities = {
            e.id: e
            for e in session.scalars(
                select(Entity).where(
                    Entity.id.in_(sorted(wanted)), policy.visible(user, Entity, "entity")
                )
            )
        }
        known = dict(known or {})
        unknown = [e for e in entities.values() if e.source_id not in known]
        return cls(matches, entities, {**known, **report_references(session, user, unknown)})

    def listed(self, match_ids: Sequence[int], *, blind: bool) -> list[MatchOut]:
        """The matches of ``match_ids`` whose two entities the reader may see, in that
        order (the order in which they were asked for)."""
        order = {mid: i for i, mid in enumerate(match_ids)}
        chosen = [self.matches[mid] for mid in dict.fromkeys(match_ids) if mid in self.matches]
        entities, refs = self.entities, self.refs
        out = []
        for m in sorted(chosen, key=lambda m: order.get(m.id, 0)):
            if m.entity_id not in entities or m.other_entity_id not in entities:
                continue
            out.append(
                MatchOut(
                    id=m.id,
                    entity=entity_out(entities[m.entity_id], refs),
                    other=entity_out(entities[m.other_entity_id], refs),
                    method=m.method,
                    match_probability=None if blind else m.match_probability,
                    match_weight=None if blind else m.match_weight,
                    is_match=None if blind else m.is_match,
                    model_version=m.model_version,
                    explanation=None if blind else readable_explanation(m.explanation),
                    state=m.state,
                    review_reason=m.review_reason,
                    reviewed_at=m.reviewed_at,
                )
            )
        return out


def readable_explanation(explanation: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """A stored explanation with every level in plain words (older matches kept Splink's
    SQL for a missing value: "phone is NULL")."""
    return [
        {**step, "level": readable_level(str(step.get("comparison", "")), str(step["level"]))}
        if step.get("step") == "comparison" and isinstance(step.get("level"), str)
        else dict(step)
        for step in explanation or []
    ]


def entity_page(
    session: Session, user: StaffUser, entity: Entity, *, with_identity: bool = True
) -> EntityPage:
    """An entity with its matches and subjects, and (``with_identity``) the other records of
    its identity, which can number hundreds: a page that does not list them skips them."""
    identity: list[Entity] = []
    if with_identity:
        identity = list(
            session.scalars(
                select(Entity)
                .where(
                    Entity.identity_id == entity.identity_id,
                    Entity.id != entity.id,
                    policy.visible(user, Entity, "entity"),
                )
                .order_by(Entity.id)
            )
        )
    match_ids = list(
        session.scalars(
            select(Match.id)
            .where((Match.entity_id == entity.id) | (Match.other_entity_id == entity.id))
            .order_by(Match.match_probability.desc())
            .limit(MATCHES_SHOWN)
        )
    )
    subjects = list(
        session.scalars(
            select(Subject)
            .join(SubjectEntity, SubjectEntity.subject_id == Subject.id)
            .where(SubjectEntity.entity_id == entity.id, policy.visible(user, Subject, "subject"))
        )
    )
    refs = report_references(session, user, [entity, *identity])
    return EntityPage(
        entity=entity_out(entity, refs),
        identity=[entity_out(e, refs) for e in identity],
        matches=visible_matches(session, user, match_ids, blind=False),
        subjects=[subject_out(session, s, user) for s in subjects],
    )


def alert_out(
    session: Session, user: StaffUser, alert: Alert, deciders: dict[int, str] | None = None
) -> AlertOut:
    """An alert as ``user`` may see it. On a record they may not see it says only that one
    exists, who holds it and what to ask that organisation for: the record's reference (or
    entity number), which tells nothing of what it holds but lets its holder find it.
    ``deciders`` (user id to e-mail) saves a lookup per alert in a list."""
    subject = session.get(Subject, alert.subject_id)
    assert subject is not None
    held = alert.record_ref or f"{alert.record_type}:{alert.record_id}"
    if alert.record_type == "report":
        seen = (
            session.scalar(
                select(Report.id).where(Report.id == alert.record_id, policy.reports(user))
            )
            is not None
        )
    else:
        seen = (
            session.scalar(
                select(Entity.id).where(
                    Entity.id == alert.record_id, policy.visible(user, Entity, "entity")
                )
            )
            is not None
        )
    ask = org = ask_for = None
    if not seen:
        ask_for = held
        org = session.scalar(
            select(Organisation.name).where(Organisation.id == alert.record_org_id)
        )
        ask = (
            said(
                "Record %(ref)s, held by %(org)s, matched; ask them to share it.",
                ref=ask_for,
                org=org,
            )
            if org
            else said(
                "Record %(ref)s, held by another organisation, matched; ask them to share it.",
                ref=ask_for,
            )
        )
    decided_by = None
    if alert.decided_by_user_id is not None:
        decided_by = (
            deciders.get(alert.decided_by_user_id)
            if deciders is not None
            else session.scalar(select(User.email).where(User.id == alert.decided_by_user_id))
        )
    return AlertOut(
        id=alert.id,
        subject=subject_out(session, subject, user),
        state=alert.state,
        reappeared=alert.reappeared,
        subject_status=alert.subject_status,
        best_probability=alert.best_probability,
        record_type=alert.record_type,
        record_visible=seen,
        record_reference=held if seen else None,
        ask=ask,
        ask_org=org,
        ask_for=ask_for,
        evidence=list(alert.evidence) if seen else [],
        reason=alert.reason,
        decided_by=decided_by,
        decided_at=alert.decided_at,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
    )


def entity_record(entity: Entity) -> EntityRecord:
    """The stored entity in the import/export shape (its source ref as the record id)."""
    return EntityRecord(
        EntityKind(entity.kind),
        entity.source_ref or f"entity:{entity.id}",
        {k: tuple(v) for k, v in (entity.properties or {}).items()},
    )


def read_report_entities(
    session: Session, user: StaffUser, report: Report, client: str | None
) -> list[EntityPage]:
    """The entities taken from a visible report with their matches and subjects (only what
    the policy allows; the report page lists no identities); the viewing is audited in
    ``session``'s transaction."""
    pages = report_entities(session, user, report)
    record_entities_viewed(session, user, report.reference, pages, client)
    return pages


def report_entities(session: Session, user: StaffUser, report: Report) -> list[EntityPage]:
    """:func:`read_report_entities` unaudited: the caller records the viewing
    (:func:`record_entities_viewed`) before the entities reach the reader.

    What :func:`entity_page` (without the identity) shows for each entity, read for all of
    them together: a statement per kind of thing rather than five or six per entity, each of
    which PostgreSQL plans with the policy's row-level security. The entities' own report is
    the one the caller found visible, so its reference is not looked up again.
    """
    entities = list(
        session.scalars(
            select(Entity)
            .where(
                Entity.source_type == "report",
                Entity.source_id == report.id,
                policy.visible(user, Entity, "entity"),
            )
            .order_by(Entity.id)
        )
    )
    if not entities:
        return []
    ids = [e.id for e in entities]
    strongest = strongest_matches(session, ids)
    own = {report.id: report.reference}
    seen = _MatchesSeen.read(session, user, (m for ms in strongest.values() for m in ms), own)
    subjects = _subjects_of(session, user, ids)
    return [
        EntityPage(
            entity=entity_out(e, own),
            identity=[],
            matches=seen.listed(strongest.get(e.id, []), blind=False),
            subjects=subjects.get(e.id, []),
        )
        for e in entities
    ]


def strongest_matches(session: Session, entity_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each entity's ``MATCHES_SHOWN`` strongest matches (either side of the pair), best
    first, as :func:`entity_page` lists them, for several entities in one statement (equal
    probabilities in id order)."""
    sides = [
        select(Match.id.label("id"), side.label("owner"), Match.match_probability.label("p")).where(
            side.in_(sorted(entity_ids))
        )
        for side in (Match.entity_id, Match.other_entity_id)
    ]
    pairs = union(*sides).subquery()
    rank = func.row_number().over(
        partition_by=pairs.c.owner, order_by=(pairs.c.p.desc(), pairs.c.id)
    )
    ranked = select(pairs.c.owner, pairs.c.id, rank.label("rank")).subquery()
    rows = session.execute(
        select(ranked.c.owner, ranked.c.id)
        .where(ranked.c.rank <= MATCHES_SHOWN)
        .order_by(ranked.c.owner, ranked.c.rank)
    )
    out: dict[int, list[int]] = {}
    for owner, match_id in rows:
        out.setdefault(owner, []).append(match_id)
    return out


def _subjects_of(
    session: Session, user: StaffUser, entity_ids: Sequence[int]
) -> dict[int, list[SubjectOut]]:
    """The subjects the reader may see of each of some entities, as :func:`subject_out`
    shows them to that reader, in two statements."""
    found = session.execute(
        select(SubjectEntity.entity_id, Subject)
        .join(Subject, Subject.id == SubjectEntity.subject_id)
        .where(
            SubjectEntity.entity_id.in_(sorted(entity_ids)),
            policy.visible(user, Subject, "subject"),
        )
        .order_by(SubjectEntity.entity_id, Subject.id)
    ).all()
    if not found:
        return {}
    members: dict[int, list[int]] = {}
    listed = session.execute(
        select(SubjectEntity.subject_id, SubjectEntity.entity_id)
        .join(Entity, Entity.id == SubjectEntity.entity_id)
        .where(
            SubjectEntity.subject_id.in_(sorted({s.id for _e, s in found})),
            policy.visible(user, Entity, "entity"),
        )
        .order_by(SubjectEntity.subject_id, SubjectEntity.entity_id)
    )
    for subject_id, entity_id in listed:
        members.setdefault(subject_id, []).append(entity_id)
    out: dict[int, list[SubjectOut]] = {}
    for entity_id, subject in found:
        out.setdefault(entity_id, []).append(_subject_out(subject, members.get(subject.id, [])))
    return out


def record_entities_viewed(
    session: Session,
    user: StaffUser,
    reference: str,
    pages: Sequence[EntityPage],
    client: str | None,
) -> None:
    """The audit event of the viewing of a report's entities (none when it has none)."""
    if pages:
        record_event(
            session,
            user.actor(client),
            "entity.viewed",
            record_type="entity",
            record_ids=[p.entity.id for p in pages],
            purpose=f"report {reference}",
        )
