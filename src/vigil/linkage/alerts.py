"""Alerts: new information touched a subject — tell the team that owns the subject.

One alert per (subject, record): a second match from the same record adds evidence to the
alert instead of raising another. An alert a team dismissed stays dismissed when the same
record is re-run. A closed subject re-appearing is marked as such, because that is the case
the issue exists for. Alerts feed the triage priority of the report that raised them
(``live_alert_reports``), and the pipeline re-scores a report when its first alert arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.linkage.models import Alert, Entity, Match, Subject, SubjectEntity


def subjects_of_entities(session: Session, entity_ids: Iterable[int]) -> dict[int, list[Subject]]:
    """Subjects each entity belongs to, directly or through its confirmed identity."""
    ids = sorted(set(entity_ids))
    if not ids:
        return {}
    identity_of = dict(
        session.execute(select(Entity.id, Entity.identity_id).where(Entity.id.in_(ids))).all()
    )
    same_identity = session.execute(
        select(Entity.identity_id, SubjectEntity.subject_id)
        .join(SubjectEntity, SubjectEntity.entity_id == Entity.id)
        .where(Entity.identity_id.in_(sorted(set(identity_of.values()))))
    )
    subject_ids_by_identity: dict[int, set[int]] = {}
    for identity_id, subject_id in same_identity:
        subject_ids_by_identity.setdefault(identity_id, set()).add(subject_id)
    all_ids = sorted({s for group in subject_ids_by_identity.values() for s in group})
    subjects = {s.id: s for s in session.scalars(select(Subject).where(Subject.id.in_(all_ids)))}
    return {
        entity_id: [
            subjects[s]
            for s in sorted(subject_ids_by_identity.get(identity_id, ()))
            if s in subjects
        ]
        for entity_id, identity_id in identity_of.items()
    }


def raise_alerts(
    session: Session,
    match_ids: Sequence[int],
    *,
    record_type: str,
    record_id: int,
    record_org_id: int,
    confirmed: bool = False,
) -> list[int]:
    """Create or refresh alerts for the subjects these matches touch; returns new alert ids.

    A model match alerts when its probability reaches the subject's threshold; an exact
    identifier always does; ``confirmed`` (a person marked the match positive) always does.
    """
    if not match_ids:
        return []
    matches = list(session.scalars(select(Match).where(Match.id.in_(sorted(set(match_ids))))))
    # Only the known side's subjects are told: ``other_entity_id`` is the known entity.
    subjects = subjects_of_entities(session, {m.other_entity_id for m in matches})
    new_ids: list[int] = []
    for match in matches:
        if match.state == "negative":
            continue
        for subject in subjects.get(match.other_entity_id, []):
            strong = (
                confirmed
                or match.method == "exact"
                or match.state == "positive"
                or match.match_probability >= subject.alert_threshold
            )
            if not strong:
                continue
            alert_id, new = _upsert(session, subject, match, record_type, record_id, record_org_id)
            if new:
                new_ids.append(alert_id)
    return new_ids


def _upsert(
    session: Session,
    subject: Subject,
    match: Match,
    record_type: str,
    record_id: int,
    record_org_id: int,
) -> tuple[int, bool]:
    evidence: dict[str, Any] = {
        "match_id": match.id,
        "entity_id": match.entity_id,
        "subject_entity_id": match.other_entity_id,
        "method": match.method,
        "probability": round(match.match_probability, 6),
    }
    alert = session.scalar(
        select(Alert).where(
            Alert.subject_id == subject.id,
            Alert.record_type == record_type,
            Alert.record_id == record_id,
        )
    )
    now = utcnow()
    if alert is not None:
        kept = [e for e in alert.evidence if e.get("match_id") != match.id]
        alert.evidence = [*kept, evidence]
        alert.best_probability = max(alert.best_probability, match.match_probability)
        alert.updated_at = now
        return alert.id, False
    alert = Alert(
        subject_id=subject.id,
        record_type=record_type,
        record_id=record_id,
        record_org_id=record_org_id,
        record_ref=_reference(session, record_type, record_id),
        evidence=[evidence],
        subject_status=subject.status,
        reappeared=subject.status == "closed",
        best_probability=match.match_probability,
        state="new",
        owning_org_id=subject.owning_org_id,
        owning_team_id=subject.owning_team_id,
        classification=subject.classification,
        created_at=now,
        updated_at=now,
    )
    session.add(alert)
    session.flush()
    return alert.id, True


def live_alert_reports(session: Session, report_ids: Iterable[int]) -> set[int]:
    """Reports with an alert that nobody has dismissed (a triage priority factor)."""
    ids = sorted(set(report_ids))
    if not ids:
        return set()
    rows = session.scalars(
        select(Alert.record_id).where(
            Alert.record_type == "report", Alert.record_id.in_(ids), Alert.state != "dismissed"
        )
    )
    return set(rows)


def _reference(session: Session, record_type: str, record_id: int) -> str:
    """What the record's holder knows it by: a report's reference, else ``entity:N``."""
    if record_type == "report":
        found = session.scalar(select(Report.reference).where(Report.id == record_id))
        if found is not None:
            return str(found)
    return f"{record_type}:{record_id}"
