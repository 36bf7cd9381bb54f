"""Reading subjects and entities for their console pages and the subject list API.

Kept apart from :mod:`vigil.linkage.services` (already long). Each function takes the acting
user, runs in one transaction with its audit event and reads through the access policy:
a subject the reader may not see does not exist for them, its counts cover only what they
may see (an entity of another agency attached to their subject is neither listed nor
counted), and the sources, alerts and timeline come from :mod:`vigil.linkage.stories`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.models import Organisation, Team
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.linkage import stories, views
from vigil.linkage.models import Alert, Entity, Subject, SubjectEntity
from vigil.linkage.schemas import EntityDetail, SubjectDetail, SubjectList, SubjectRow
from vigil.linkage.services import _visible_subject, visible_entity
from vigil.web.runtime import Runtime

OPEN_ALERT_STATES = ("new", "reviewed")
SUBJECT_STATUSES = ("open", "closed", "never")


def _names(session: Session, model: type, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(model.id, model.name).where(model.id.in_(sorted(ids))))  # type: ignore[attr-defined]
    return {row[0]: row[1] for row in rows}


def list_subjects(
    rt: Runtime, user: StaffUser, status: str | None, limit: int, client: str | None
) -> SubjectList:
    """Subjects the reader may see, newest first, capped at ``limit`` with the full count."""

    def work(session: Session) -> SubjectList:
        where = [policy.visible(user, Subject, "subject")]
        if status:
            where.append(Subject.status == status)
        total = session.scalar(select(func.count(Subject.id)).where(*where)) or 0
        subjects = list(
            session.scalars(
                select(Subject)
                .where(*where)
                .order_by(Subject.created_at.desc(), Subject.id.desc())
                .limit(limit)
            )
        )
        ids = [s.id for s in subjects]
        entity_counts: dict[int, int] = {}
        alert_counts: dict[int, int] = {}
        if ids:
            entity_counts = dict(
                session.execute(
                    select(SubjectEntity.subject_id, func.count(Entity.id))
                    .join(Entity, Entity.id == SubjectEntity.entity_id)
                    .where(
                        SubjectEntity.subject_id.in_(ids), policy.visible(user, Entity, "entity")
                    )
                    .group_by(SubjectEntity.subject_id)
                ).all()
            )
            alert_counts = dict(
                session.execute(
                    select(Alert.subject_id, func.count(Alert.id))
                    .where(
                        Alert.subject_id.in_(ids),
                        Alert.state.in_(OPEN_ALERT_STATES),
                        policy.visible(user, Alert, "alert"),
                    )
                    .group_by(Alert.subject_id)
                ).all()
            )
        orgs = _names(session, Organisation, {s.owning_org_id for s in subjects})
        teams = _names(session, Team, {s.owning_team_id for s in subjects if s.owning_team_id})
        record_event(
            session,
            user.actor(client),
            "subjects.listed",
            record_type="subject",
            record_ids=[s.reference for s in subjects],
            purpose=f"status={status}" if status else None,
        )
        return SubjectList(
            items=[
                SubjectRow(
                    reference=s.reference,
                    name=s.name,
                    status=s.status,
                    organisation=orgs.get(s.owning_org_id, ""),
                    team=teams.get(s.owning_team_id) if s.owning_team_id else None,
                    classification=s.classification,
                    handling_code=s.handling_code,
                    entities=entity_counts.get(s.id, 0),
                    open_alerts=alert_counts.get(s.id, 0),
                    created_at=s.created_at,
                )
                for s in subjects
            ],
            total=total,
            status=status,
        )

    return rt.db.write_sync(work, as_user=user.id)


def subject_detail(
    rt: Runtime, user: StaffUser, reference: str, client: str | None
) -> SubjectDetail:
    """The subject page: the subject, its visible entities, every visible source mentioning
    them, its alerts (for a reader who may read alerts) and its timeline."""

    def work(session: Session) -> SubjectDetail:
        subject = _visible_subject(session, user, reference)
        entities = list(
            session.scalars(
                select(Entity)
                .join(SubjectEntity, SubjectEntity.entity_id == Entity.id)
                .where(
                    SubjectEntity.subject_id == subject.id,
                    policy.visible(user, Entity, "entity"),
                )
                .order_by(Entity.id)
            )
        )
        alerts = []
        if Permission.alerts_read in user.permissions:
            alerts = stories.alerts_about(session, user, subject_ids=[subject.id])
        team = _names(session, Team, {subject.owning_team_id} if subject.owning_team_id else set())
        record_event(
            session,
            user.actor(client),
            "subject.viewed",
            record_type="subject",
            record_ids=[subject.reference],
        )
        refs = views.report_references(session, user, entities)
        return SubjectDetail(
            subject=views.subject_out(session, subject, user),
            organisation=_names(session, Organisation, {subject.owning_org_id}).get(
                subject.owning_org_id, ""
            ),
            team=team.get(subject.owning_team_id or 0),
            handling_code=subject.handling_code,
            entities=[views.entity_out(e, refs) for e in entities],
            sources=stories.sources(session, user, entities),
            alerts=alerts,
            timeline=stories.subject_timeline(session, user, subject, entities, alerts),
        )

    return rt.db.write_sync(work, as_user=user.id)


def entity_detail(rt: Runtime, user: StaffUser, entity_id: int, client: str | None) -> EntityDetail:
    """The entity page: what :func:`services.get_entity` answers, with every visible source
    mentioning it, its alerts (for a reader who may read alerts) and its timeline."""

    def work(session: Session) -> EntityDetail:
        entity = visible_entity(session, user, entity_id)
        page = views.entity_page(session, user, entity)
        subjects = stories.visible_subjects_of(session, user, entity)
        alerts = []
        if Permission.alerts_read in user.permissions:
            alerts = stories.alerts_about(
                session, user, subject_ids=[s.id for s in subjects], entity=entity
            )
        record_event(
            session,
            user.actor(client),
            "entity.viewed",
            record_type="entity",
            record_ids=[entity.id],
        )
        return EntityDetail(
            **dict(page),
            sources=stories.sources(session, user, [entity]),
            alerts=alerts,
            timeline=stories.entity_timeline(session, user, entity, page.matches, subjects, alerts),
        )

    return rt.db.write_sync(work, as_user=user.id)
