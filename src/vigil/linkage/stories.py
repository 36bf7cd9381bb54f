"""What an entity or subject page tells: the sources mentioning it, its alerts, its timeline.

Each piece is read inside the caller's transaction and through the access policy, one
record at a time: a source, an alert, a match or a timeline entry is shown only when the
reader may see the record it is about, and nothing is counted or hinted at otherwise (an
attach event naming an entity the reader may not see is left out, not shown as "an
entity"). The audit log is read only for what the stores do not keep themselves: who
changed a subject's status and why, which entities were attached and when, and every
decision on an alert (the alert row keeps only the last).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.models import User
from vigil.access.services import StaffUser
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.linkage import views
from vigil.linkage.models import Alert, Entity, EntityImport, Match, Subject, SubjectEntity
from vigil.linkage.schemas import AlertOut, MatchOut, SourceOut, TimelineEntry

_NEVER = datetime.min.replace(tzinfo=UTC)
MAX_LINKED = 500  # most linked entities read for a page's sources
MAX_ALERTS = 100
MAX_EVENTS = 500
# How close a link is: a source reached through a closer one is shown once, as that.
_NEARNESS = {"this": 0, "same_identity": 1, "confirmed": 2, "match": 3}
SUBJECT_ACTIONS = ("subject.created", "subject.open", "subject.closed", "subject.never")
ATTACHED = "subject.entity_attached"
ALERT_DECISIONS = ("alert.reviewed", "alert.actioned", "alert.dismissed")


def _visible_entities(session: Session, user: StaffUser, ids: Iterable[int]) -> list[Entity]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Entity)
            .where(Entity.id.in_(wanted), policy.visible(user, Entity, "entity"))
            .order_by(Entity.id)
        )
    )


def linked_entities(
    session: Session, user: StaffUser, entities: Sequence[Entity]
) -> list[tuple[Entity, str]]:
    """The entities themselves, the visible records of their identities, and the visible
    entities matched to them (rejected matches are not links), each with how it is linked."""
    found: dict[int, tuple[Entity, str]] = {e.id: (e, "this") for e in entities}
    ids = [e.id for e in entities]
    if not ids:
        return []
    siblings = session.scalars(
        select(Entity.id)
        .where(Entity.identity_id.in_(sorted({e.identity_id for e in entities})))
        .limit(MAX_LINKED)
    ).all()
    for other in _visible_entities(session, user, siblings):
        found.setdefault(other.id, (other, "same_identity"))
    pairs = session.execute(
        select(Match.entity_id, Match.other_entity_id, Match.state)
        .where(
            or_(Match.entity_id.in_(ids), Match.other_entity_id.in_(ids)),
            Match.state != "negative",
        )
        .limit(MAX_LINKED)
    ).all()
    relation = {
        (b if a in found else a): ("confirmed" if state == "positive" else "match")
        for a, b, state in pairs
    }
    for other in _visible_entities(session, user, relation):
        found.setdefault(other.id, (other, relation[other.id]))
    return list(found.values())


def sources(session: Session, user: StaffUser, entities: Sequence[Entity]) -> list[SourceOut]:
    """Every visible source mentioning these entities or the records linked to them, newest
    first; a source the reader may not see (a report of another agency) is left out."""
    linked = linked_entities(session, user, entities)
    by_type: dict[str, set[int]] = {}
    for entity, _ in linked:
        if entity.source_id is not None:
            by_type.setdefault(entity.source_type, set()).add(entity.source_id)
    reports = _visible_rows(session, user, Report, by_type.get("report"), "report")
    imports = _visible_rows(session, user, EntityImport, by_type.get("import"), "import")
    subjects = _visible_rows(session, user, Subject, by_type.get("analyst"), "subject")
    best: dict[tuple[str, str], SourceOut] = {}
    for entity, via in linked:
        found = _source(entity, via, reports, imports, subjects)
        if found is None:
            continue
        key = (found.type, found.reference or found.label)
        held = best.get(key)
        if held is None or _NEARNESS[via] < _NEARNESS[held.via]:
            best[key] = found
    return sorted(best.values(), key=lambda s: s.at or _NEVER, reverse=True)


def _visible_rows(
    session: Session, user: StaffUser, model: Any, ids: set[int] | None, record_type: str
) -> dict[int, object]:
    if not ids:
        return {}
    visible = policy.visible(user, model, record_type)
    rows = session.scalars(select(model).where(model.id.in_(sorted(ids)), visible))
    return {row.id: row for row in rows}


def _source(
    entity: Entity,
    via: str,
    reports: dict[int, object],
    imports: dict[int, object],
    subjects: dict[int, object],
) -> SourceOut | None:
    common = {"entity_id": entity.id, "entity_label": entity.label, "via": via}
    kind = entity.source_type
    if kind == "report":
        report = reports.get(entity.source_id or 0)
        if not isinstance(report, Report):
            return None
        return SourceOut(
            type="report",
            label=report.reference,
            reference=report.reference,
            at=report.received_at,
            **common,
        )
    if kind == "import":
        batch = imports.get(entity.source_id or 0)
        if not isinstance(batch, EntityImport):
            return None
        return SourceOut(
            type="import", label=batch.filename, reference=None, at=batch.imported_at, **common
        )
    if kind == "analyst":
        subject = subjects.get(entity.source_id or 0)
        if not isinstance(subject, Subject):
            return None
        return SourceOut(
            type="analyst",
            label=subject.name,
            reference=subject.reference,
            at=subject.created_at,
            **common,
        )
    label = entity.source_ref or kind
    return SourceOut(type=kind, label=label, reference=None, at=entity.created_at, **common)


# --- alerts -------------------------------------------------------------------------------


def alerts_about(
    session: Session,
    user: StaffUser,
    *,
    subject_ids: Sequence[int] = (),
    entity: Entity | None = None,
) -> list[AlertOut]:
    """Visible alerts on these subjects, or raised by the entity (or its report), newest
    first; each shows its record only as :func:`views.alert_out` allows."""
    about: list[ColumnElement[bool]] = []
    if subject_ids:
        about.append(Alert.subject_id.in_(sorted(set(subject_ids))))
    if entity is not None:
        about.append((Alert.record_type == "entity") & (Alert.record_id == entity.id))
        if entity.source_type == "report" and entity.source_id is not None:
            about.append((Alert.record_type == "report") & (Alert.record_id == entity.source_id))
    if not about:
        return []
    rows = session.scalars(
        select(Alert)
        .where(or_(*about), policy.visible(user, Alert, "alert"))
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(MAX_ALERTS)
    )
    return [views.alert_out(session, user, a) for a in rows]


# --- timelines ----------------------------------------------------------------------------


def _mentions(values: Sequence[str]) -> ColumnElement[bool]:
    """Audit events whose record ids hold any of these values (exactly, as JSON strings)."""
    clauses = []
    for value in values:
        quoted = orjson.dumps(value).decode()
        escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(cast(AuditEvent.record_ids, String).like(f"%{escaped}%", escape="\\"))
    return or_(*clauses)


def _emails(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _actors(session: Session, events: Sequence[AuditEvent]) -> dict[int, str]:
    return _emails(session, (e.actor_user_id for e in events))


def _events(
    session: Session, actions: Sequence[str], mentions: Sequence[str], since: datetime | None
) -> list[AuditEvent]:
    if not mentions:
        return []
    query = select(AuditEvent).where(
        AuditEvent.action.in_(actions), AuditEvent.outcome == "success", _mentions(mentions)
    )
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    return list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(MAX_EVENTS)))


def alert_entries(
    session: Session, alerts: Sequence[AlertOut], since: datetime | None
) -> list[TimelineEntry]:
    """Raised, then every decision on it (from the audit log: the row keeps only the last)."""
    entries = [
        TimelineEntry(at=a.created_at, what="alert", alert_id=a.id, detail=a.subject.name)
        for a in alerts
    ]
    events = _events(session, ALERT_DECISIONS, [str(a.id) for a in alerts], since)
    wanted = {str(a.id) for a in alerts}
    actors = _actors(session, events)
    for event in events:
        if event.record_type != "alert" or not wanted & set(event.record_ids):
            continue
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                what="decision:" + event.action.removeprefix("alert."),
                detail=event.purpose,
                actor=actors.get(event.actor_user_id or 0),
                alert_id=int(next(i for i in event.record_ids if i in wanted)),
            )
        )
    return entries


def subject_timeline(
    session: Session,
    user: StaffUser,
    subject: Subject,
    entities: Sequence[Entity],
    alerts: Sequence[AlertOut],
) -> list[TimelineEntry]:
    """Created, status changes, entities attached (only visible ones), alerts and their
    decisions, newest first."""
    events = _events(session, (*SUBJECT_ACTIONS, ATTACHED), [subject.reference], subject.created_at)
    actors = _actors(session, events)
    shown = {e.id: e for e in entities}
    creator = next((e for e in events if e.action == "subject.created"), None)
    entries = [
        TimelineEntry(
            at=subject.created_at,
            what="created",
            actor=actors.get(creator.actor_user_id or 0) if creator else None,
        )
    ]
    attached: set[int] = set()
    for event in events:
        actor = actors.get(event.actor_user_id or 0)
        if event.action == ATTACHED:
            ids = [int(i[7:]) for i in event.record_ids if i.startswith("entity:")]
            entity = shown.get(ids[0]) if ids else None
            if entity is None:
                continue  # an entity the reader may not see: not even hinted at
            attached.add(entity.id)
            entries.append(
                TimelineEntry(
                    at=event.occurred_at,
                    what="entity_attached",
                    actor=actor,
                    entity_id=entity.id,
                    entity_label=entity.label,
                )
            )
        elif event.action != "subject.created":
            entries.append(
                TimelineEntry(
                    at=event.occurred_at,
                    what="status:" + event.action.removeprefix("subject."),
                    detail=event.purpose,
                    actor=actor,
                )
            )
    for entity in entities:
        if entity.id not in attached:  # linked when it was recorded (with the subject, import)
            entries.append(
                TimelineEntry(
                    at=entity.created_at,
                    what="entity_recorded",
                    entity_id=entity.id,
                    entity_label=entity.label,
                )
            )
    entries += alert_entries(session, alerts, subject.created_at)
    return sorted(entries, key=lambda e: e.at, reverse=True)


def entity_timeline(
    session: Session,
    user: StaffUser,
    entity: Entity,
    matches: Sequence[MatchOut],
    subjects: Sequence[Subject],
    alerts: Sequence[AlertOut],
) -> list[TimelineEntry]:
    """Recorded, matches proposed and reviewed (by whom: a decision says who made it, as an
    alert's does), attached to subjects, alerts and decisions (``matches`` are the visible
    ones only, as the page shows them)."""
    entries = [TimelineEntry(at=entity.created_at, what="recorded")]
    rows = session.execute(
        select(Match.id, Match.created_at, Match.reviewed_by_user_id).where(
            Match.id.in_([m.id for m in matches])
        )
    ).all()
    created = {row.id: row.created_at for row in rows}
    reviewers = _emails(session, [row.reviewed_by_user_id for row in rows])
    reviewed_by = {row.id: reviewers.get(row.reviewed_by_user_id or 0) for row in rows}
    for match in matches:
        other = match.other if match.entity.id == entity.id else match.entity
        link = {"entity_id": other.id, "entity_label": other.label}
        entries.append(TimelineEntry(at=created[match.id], what="match", **link))
        if match.reviewed_at is not None:
            entries.append(
                TimelineEntry(
                    at=match.reviewed_at,
                    what="review:" + match.state,
                    detail=match.review_reason,
                    actor=reviewed_by[match.id],
                    **link,
                )
            )
    by_reference = {s.reference: s for s in subjects}
    events = _events(session, (ATTACHED,), [f"entity:{entity.id}"], entity.created_at)
    actors = _actors(session, events)
    for event in events:
        subject = next((by_reference[i] for i in event.record_ids if i in by_reference), None)
        if subject is None:
            continue
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                what="attached",
                detail=f"{subject.name} ({subject.reference})",
                actor=actors.get(event.actor_user_id or 0),
            )
        )
    entries += alert_entries(session, alerts, None)
    return sorted(entries, key=lambda e: e.at, reverse=True)


def visible_subjects_of(session: Session, user: StaffUser, entity: Entity) -> list[Subject]:
    return list(
        session.scalars(
            select(Subject)
            .join(SubjectEntity, SubjectEntity.subject_id == Subject.id)
            .where(SubjectEntity.entity_id == entity.id, policy.visible(user, Subject, "subject"))
            .order_by(Subject.id)
        )
    )
