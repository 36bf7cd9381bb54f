"""Linkage records as their readers may see them.

A match is shown only when the reader may see both of its entities; an alert always shows
its subject (the reader owns it) but the record that raised it only when the policy lets
them see that record — otherwise they learn that a record exists and which organisation
to ask. Blind review hides every number so a reviewer judges the records, not the score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.models import Organisation
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Report
from vigil.linkage.models import Alert, Entity, Match, Subject, SubjectEntity
from vigil.linkage.records import MATCHABLE, EntityKind, EntityRecord
from vigil.linkage.schemas import AlertOut, EntityOut, EntityPage, MatchOut, SubjectOut


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
    return SubjectOut(
        id=subject.id,
        reference=subject.reference,
        external_ref=subject.external_ref,
        name=subject.name,
        status=subject.status,
        classification=subject.classification,
        alert_threshold=subject.alert_threshold,
        entity_ids=ids,
        created_at=subject.created_at,
        closed_at=subject.closed_at,
    )


def visible_matches(
    session: Session, user: StaffUser, match_ids: Sequence[int], *, blind: bool
) -> list[MatchOut]:
    if not match_ids:
        return []
    matches = list(session.scalars(select(Match).where(Match.id.in_(sorted(set(match_ids))))))
    wanted = {m.entity_id for m in matches} | {m.other_entity_id for m in matches}
    entities = {
        e.id: e
        for e in session.scalars(
            select(Entity).where(
                Entity.id.in_(sorted(wanted)), policy.visible(user, Entity, "entity")
            )
        )
    }
    refs = report_references(session, user, entities.values())
    order = {mid: i for i, mid in enumerate(match_ids)}
    out = []
    for m in sorted(matches, key=lambda m: order.get(m.id, 0)):
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
                explanation=None if blind else list(m.explanation or []),
                state=m.state,
                review_reason=m.review_reason,
                reviewed_at=m.reviewed_at,
            )
        )
    return out


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
            .limit(100)
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


def alert_out(session: Session, user: StaffUser, alert: Alert) -> AlertOut:
    subject = session.get(Subject, alert.subject_id)
    assert subject is not None
    reference: str | None = None
    if alert.record_type == "report":
        reference = session.scalar(
            select(Report.reference).where(Report.id == alert.record_id, policy.reports(user))
        )
        seen = reference is not None
    else:
        seen = (
            session.scalar(
                select(Entity.id).where(
                    Entity.id == alert.record_id, policy.visible(user, Entity, "entity")
                )
            )
            is not None
        )
        reference = f"entity:{alert.record_id}" if seen else None
    ask = None
    if not seen:
        org = session.scalar(
            select(Organisation.name).where(Organisation.id == alert.record_org_id)
        )
        ask = f"A record held by {org or 'another organisation'} matched; ask them to share it."
    return AlertOut(
        id=alert.id,
        subject=subject_out(session, subject, user),
        state=alert.state,
        reappeared=alert.reappeared,
        subject_status=alert.subject_status,
        best_probability=alert.best_probability,
        record_type=alert.record_type,
        record_visible=seen,
        record_reference=reference,
        ask=ask,
        evidence=list(alert.evidence) if seen else [],
        reason=alert.reason,
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
    if entities:
        record_event(
            session,
            user.actor(client),
            "entity.viewed",
            record_type="entity",
            record_ids=[e.id for e in entities],
            purpose=f"report {report.reference}",
        )
    return [entity_page(session, user, e, with_identity=False) for e in entities]
