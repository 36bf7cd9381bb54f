"""What people do with linkage: import known people, refer, manage subjects, decide.

Every verb takes the acting user, runs in one transaction with its audit event, and reads
through the access policy: an entity, subject or alert a user may not see does not exist
for them. Automation proposes matches and alerts; a named person confirms, rejects or
dismisses them with a reason (domain-facts §6), and labels are kept, never fed back into
the model by themselves.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from vigil.access import policy
from vigil.access.models import Organisation
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.linkage import views
from vigil.linkage.alerts import raise_alerts
from vigil.linkage.entities import Marking
from vigil.linkage.linking import link_as_configured, upsert_entities
from vigil.linkage.models import (
    Alert,
    BenignValue,
    Entity,
    Identity,
    Match,
    Subject,
    SubjectEntity,
)
from vigil.linkage.online import scorer_for
from vigil.linkage.records import EntityRecord, person_entity
from vigil.linkage.schemas import (
    AccuracyBand,
    AlertDecisionIn,
    AlertOut,
    BenignIn,
    BenignOut,
    EntityPage,
    MatchOut,
    MatchReviewIn,
    ReferralIn,
    ReferralOut,
    SubjectIn,
    SubjectOut,
    SubjectStatusIn,
)
from vigil.linkage.tasks import link_entity_ids
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

_ALPHABET = "23456789BCDFGHJKLMNPQRSTVWXYZ"


def _not_found(detail: str) -> Problem:
    return Problem(404, said("Not found"), detail)


def visible_entity(session: Session, user: StaffUser, entity_id: int) -> Entity:
    entity = session.scalar(
        select(Entity).where(Entity.id == entity_id, policy.visible(user, Entity, "entity"))
    )
    if entity is None:
        raise _not_found(said("No entity with that id, or not one you may see."))
    return entity


def _visible_subject(session: Session, user: StaffUser, reference: str) -> Subject:
    subject = session.scalar(
        select(Subject).where(
            Subject.reference == reference.upper(), policy.visible(user, Subject, "subject")
        )
    )
    if subject is None:
        raise _not_found(said("No subject with that id, or not one you may see."))
    return subject


def subject_reference() -> str:
    return "SUB-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _scorer(rt: Runtime) -> Any:
    return scorer_for(rt.settings.linkage_model_path)


def _person_record(entity_id: str, body: Any) -> EntityRecord:
    from vigil.linkage.records import PersonRecord

    return person_entity(PersonRecord(id=entity_id, **body.model_dump()))


# --- subjects ---------------------------------------------------------------------------


def create_subject(rt: Runtime, user: StaffUser, body: SubjectIn, client: str | None) -> SubjectOut:
    if body.team_id is not None and body.team_id not in user.team_ids:
        raise Problem(
            422,
            said("Invalid request"),
            errors=[field_error("/team_id", said("you are not in that team"))],
        )
    if body.classification.rank > user.clearance.rank:
        raise Problem(
            422,
            said("Invalid request"),
            errors=[field_error("/classification", said("above your own clearance"))],
        )

    def work(session: Session) -> SubjectOut:
        subject = Subject(
            reference=subject_reference(),
            external_ref=body.external_ref,
            name=body.name,
            status=body.status.value,
            owning_org_id=user.org_id,
            owning_team_id=body.team_id,
            classification=body.classification.value,
            handling_code=body.handling_code,
            alert_threshold=body.alert_threshold or rt.settings.linkage_alert_threshold,
            created_at=utcnow(),
            closed_at=utcnow() if body.status.value == "closed" else None,
        )
        session.add(subject)
        session.flush()
        entity_ids: list[int] = []
        if body.person is not None:
            marking = Marking(user.org_id, body.team_id, body.classification.value)
            entities = upsert_entities(
                session,
                [_person_record(f"subject:{subject.reference}", body.person)],
                source_type="analyst",
                source_id=subject.id,
                marking=marking,
                scorer=_scorer(rt),
            )
            for entity in entities:
                session.add(SubjectEntity(subject_id=subject.id, entity_id=entity.id))
                entity_ids.append(entity.id)
            link_entity_ids(session, entity_ids, f"subject{subject.id}")
        record_event(
            session,
            user.actor(client),
            "subject.created",
            record_type="subject",
            record_ids=[subject.reference],
        )
        return views.subject_out(session, subject, user)

    answer = rt.db.write_sync(work, as_user=user.id)
    rt.wake_worker()
    return answer


def set_subject_status(
    rt: Runtime, user: StaffUser, reference: str, body: SubjectStatusIn, client: str | None
) -> SubjectOut:
    """Open, close or mark never-a-subject; closed subjects stay matchable."""

    def work(session: Session) -> SubjectOut:
        subject = _visible_subject(session, user, reference)
        subject.status = body.status.value
        subject.closed_at = utcnow() if body.status.value == "closed" else None
        record_event(
            session,
            user.actor(client),
            f"subject.{body.status.value}",
            record_type="subject",
            record_ids=[subject.reference],
            purpose=body.reason,
        )
        return views.subject_out(session, subject, user)

    return rt.db.write_sync(work, as_user=user.id)


def attach_entity(
    rt: Runtime, user: StaffUser, reference: str, entity_id: int, client: str | None
) -> SubjectOut:
    def work(session: Session) -> SubjectOut:
        subject = _visible_subject(session, user, reference)
        entity = visible_entity(session, user, entity_id)
        if session.get(SubjectEntity, (subject.id, entity.id)) is None:
            session.add(SubjectEntity(subject_id=subject.id, entity_id=entity.id))
        record_event(
            session,
            user.actor(client),
            "subject.entity_attached",
            record_type="subject",
            record_ids=[subject.reference, f"entity:{entity.id}"],
        )
        session.flush()
        return views.subject_out(session, subject, user)

    return rt.db.write_sync(work, as_user=user.id)


def get_subject(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> SubjectOut:
    def work(session: Session) -> SubjectOut:
        subject = _visible_subject(session, user, reference)
        record_event(
            session,
            user.actor(client),
            "subject.viewed",
            record_type="subject",
            record_ids=[subject.reference],
        )
        return views.subject_out(session, subject, user)

    return rt.db.write_sync(work, as_user=user.id)


# --- entities, referrals, imports --------------------------------------------------------


def get_entity(rt: Runtime, user: StaffUser, entity_id: int, client: str | None) -> EntityPage:
    def work(session: Session) -> EntityPage:
        entity = visible_entity(session, user, entity_id)
        page = views.entity_page(session, user, entity)
        record_event(
            session,
            user.actor(client),
            "entity.viewed",
            record_type="entity",
            record_ids=[entity.id],
        )
        return page

    return rt.db.write_sync(work, as_user=user.id)


def submit_referral(
    rt: Runtime, user: StaffUser, body: ReferralIn, client: str | None
) -> ReferralOut:
    """A partner refers a person: stored under the partner's marking, matched at once, and
    any subject it touches alerted in the same transaction."""
    if body.classification.rank > user.clearance.rank:
        raise Problem(
            422,
            said("Invalid request"),
            errors=[field_error("/classification", said("above your own clearance"))],
        )
    team = min(user.team_ids) if user.team_ids else None
    scorer = _scorer(rt)

    def work(session: Session) -> ReferralOut:
        marking = Marking(user.org_id, team, body.classification.value)
        ref = "referral:" + secrets.token_hex(6)
        (entity,) = upsert_entities(
            session,
            [_person_record(ref, body.person)],
            source_type="referral",
            source_id=None,
            marking=marking,
            scorer=scorer,
        )
        outcome = link_as_configured(session, [entity], scorer, rt.settings)
        alerts = raise_alerts(
            session,
            outcome.match_ids,
            record_type="entity",
            record_id=entity.id,
            record_org_id=user.org_id,
        )
        record_event(
            session,
            user.actor(client),
            "referral.submitted",
            record_type="entity",
            record_ids=[entity.id],
            purpose=body.reason,
        )
        matches = views.visible_matches(session, user, outcome.match_ids, blind=False)
        return ReferralOut(
            entity=views.entity_out(entity, views.report_references(session, user, [entity])),
            matches=matches,
            alerts_raised=len(alerts),
        )

    return rt.db.write_sync(work, as_user=user.id)


# --- matches -----------------------------------------------------------------------------


def list_matches(
    rt: Runtime, user: StaffUser, state: str | None, blind: bool, limit: int, client: str | None
) -> list[MatchOut]:
    def work(session: Session) -> list[MatchOut]:
        query = select(Match.id).order_by(Match.match_probability.desc(), Match.id).limit(limit * 4)
        if state:
            query = query.where(Match.state == state)
        found = views.visible_matches(session, user, list(session.scalars(query)), blind=blind)
        found = found[:limit]
        record_event(
            session,
            user.actor(client),
            "matches.listed",
            record_type="match",
            record_ids=[m.id for m in found],
            purpose=f"state={state}" if state else None,
        )
        return found

    return rt.db.write_sync(work, as_user=user.id)


def review_match(
    rt: Runtime, user: StaffUser, match_id: int, body: MatchReviewIn, client: str | None
) -> MatchOut:
    """A person's label. Positive merges the two identities (the older id survives) and
    alerts any subject it now touches; negative is remembered so the pair is not raised
    again; unsure keeps it open for a second opinion."""

    def work(session: Session) -> MatchOut:
        if not views.visible_matches(session, user, [match_id], blind=False):
            raise _not_found(said("No match with that id, or not one you may see."))
        match = session.get(Match, match_id)
        assert match is not None
        match.state = body.label.value
        match.reviewed_by_user_id, match.reviewed_at = user.id, utcnow()
        match.review_reason, match.blind = body.reason, body.blind
        if body.label.value == "positive":
            _merge(session, match.entity_id, match.other_entity_id)
            entity = session.get(Entity, match.entity_id)
            assert entity is not None
            rtype, rid = (
                ("report", entity.source_id)
                if entity.source_type == "report" and entity.source_id is not None
                else ("entity", entity.id)
            )
            raise_alerts(
                session,
                [match.id],
                record_type=rtype,
                record_id=rid,
                record_org_id=entity.owning_org_id,
                confirmed=True,
            )
        record_event(
            session,
            user.actor(client),
            f"match.{body.label.value}",
            record_type="match",
            record_ids=[match.id],
            purpose=body.reason,
        )
        session.flush()
        return views.visible_matches(session, user, [match_id], blind=False)[0]

    return rt.db.write_sync(work, as_user=user.id)


def _merge(session: Session, left_id: int, right_id: int) -> None:
    left, right = session.get(Entity, left_id), session.get(Entity, right_id)
    assert left is not None and right is not None
    keep, gone = sorted((left.identity_id, right.identity_id))
    if keep == gone:
        return
    session.execute(update(Entity).where(Entity.identity_id == gone).values(identity_id=keep))
    session.execute(update(Identity).where(Identity.id == gone).values(merged_into_id=keep))


# --- alerts ------------------------------------------------------------------------------


def list_alerts(
    rt: Runtime, user: StaffUser, state: str | None, limit: int, client: str | None
) -> list[AlertOut]:
    def work(session: Session) -> list[AlertOut]:
        query = (
            select(Alert)
            .where(policy.visible(user, Alert, "alert"))
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(limit)
        )
        if state:
            query = query.where(Alert.state == state)
        rows = list(session.scalars(query))
        record_event(
            session,
            user.actor(client),
            "alerts.listed",
            record_type="alert",
            record_ids=[a.id for a in rows],
            purpose=f"state={state}" if state else None,
        )
        return [views.alert_out(session, user, a) for a in rows]

    return rt.db.write_sync(work, as_user=user.id)


def decide_alert(
    rt: Runtime, user: StaffUser, alert_id: int, body: AlertDecisionIn, client: str | None
) -> AlertOut:
    def work(session: Session) -> AlertOut:
        alert = session.scalar(
            select(Alert).where(Alert.id == alert_id, policy.visible(user, Alert, "alert"))
        )
        if alert is None:
            raise _not_found(said("No alert with that id, or not one you may see."))
        alert.state, alert.reason = body.state.value, body.reason
        alert.decided_by_user_id, alert.decided_at = user.id, utcnow()
        alert.updated_at = utcnow()
        if alert.record_type == "report":
            from vigil.triage.tasks import retriage

            retriage(session, alert.record_id, f"alert{alert.id}{body.state.value}")
        record_event(
            session,
            user.actor(client),
            f"alert.{body.state.value}",
            record_type="alert",
            record_ids=[alert.id],
            purpose=body.reason,
        )
        return views.alert_out(session, user, alert)

    answer = rt.db.write_sync(work, as_user=user.id)
    rt.wake_worker()
    return answer


# --- known-benign values, accuracy ---------------------------------------------------------


def add_benign(rt: Runtime, user: StaffUser, body: BenignIn, client: str | None) -> BenignOut:
    from vigil.linkage.entities import normalise_benign

    value = normalise_benign(body.kind, body.value)

    def work(session: Session) -> BenignOut:
        if session.scalar(
            select(BenignValue.id).where(BenignValue.kind == body.kind, BenignValue.value == value)
        ):
            raise Problem(
                409, said("Conflict"), said("That value is already on the known-benign list.")
            )
        row = BenignValue(
            kind=body.kind,
            value=value,
            reason=body.reason,
            added_by_user_id=user.id,
            added_at=utcnow(),
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            user.actor(client),
            "benign.added",
            record_type="benign",
            record_ids=[row.id],
            purpose=body.reason,
        )
        return BenignOut.model_validate(row, from_attributes=True)

    return rt.db.write_sync(work, as_user=user.id)


def list_benign(rt: Runtime, user: StaffUser, client: str | None) -> list[BenignOut]:
    def work(session: Session) -> list[BenignOut]:
        rows = list(
            session.scalars(select(BenignValue).order_by(BenignValue.kind, BenignValue.value))
        )
        record_event(session, user.actor(client), "benign.listed", record_type="benign")
        return [BenignOut.model_validate(r, from_attributes=True) for r in rows]

    return rt.db.write_sync(work, as_user=user.id)


def organisation_name(session: Session, org_id: int) -> str:
    return session.scalar(select(Organisation.name).where(Organisation.id == org_id)) or "unknown"


BANDS = (
    (0.99, "≥ 0.99"),
    (0.95, "0.95–0.99"),
    (0.8, "0.80–0.95"),
    (0.5, "0.50–0.80"),
    (0.0, "< 0.50"),
)


def match_accuracy(rt: Runtime, user: StaffUser, client: str | None) -> list[AccuracyBand]:
    """People's labels by the model's probability band: how often each band was right.

    Only matches whose two entities the reader may see are counted (counts are a read path
    too). Exact-identifier links are left out: they are not the model's advice.
    """
    left, right = aliased(Entity), aliased(Entity)

    def work(session: Session) -> list[AccuracyBand]:
        rows = session.execute(
            select(Match.match_probability, Match.state)
            .join(left, left.id == Match.entity_id)
            .join(right, right.id == Match.other_entity_id)
            .where(
                Match.method == "model",
                policy.visible(user, left, "entity"),
                policy.visible(user, right, "entity"),
            )
        )
        counts = {
            label: dict.fromkeys(("positive", "negative", "unsure", "pending"), 0)
            for _, label in BANDS
        }
        for probability, state in rows:
            label = next(name for floor, name in BANDS if probability >= floor)
            counts[label][state] = counts[label].get(state, 0) + 1
        record_event(session, user.actor(client), "matches.accuracy_viewed", record_type="match")
        return [AccuracyBand(band=label, **counts[label]) for _, label in BANDS]

    return rt.db.write_sync(work, as_user=user.id)
