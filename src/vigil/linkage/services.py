"""What people do with linkage: import known people, refer, manage subjects, decide.

Every verb takes the acting user, runs in one transaction with its audit event, and reads
through the access policy: an entity, subject or alert a user may not see does not exist
for them. Automation proposes matches and alerts; a named person confirms, rejects or
dismisses them with a reason (domain-facts §6), and labels are kept, never fed back into
the model by themselves.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from vigil.access import policy
from vigil.access.models import Organisation, User
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
    MatchPage,
    MatchQuery,
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
    any subject it touches alerted in the same transaction.

    The answer counts only the new alerts the caller may see: an alert goes to the team that
    owns the subject, and a count of alerts the caller may not see would tell them whether
    the person is a subject they are not cleared or sharing to know about."""
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
        # Matching and alerting run as the system: a referral is matched against every known
        # person and the team owning any subject it touches is alerted, whoever refers (as
        # the referrer, PostgreSQL's row-level security would hide the subjects they may not
        # see, and those teams would never hear of it). The answer is read as them again.
        rt.db.act_as(session, None)
        outcome = link_as_configured(session, [entity], scorer, rt.settings)
        raised = raise_alerts(
            session,
            outcome.match_ids,
            record_type="entity",
            record_id=entity.id,
            record_org_id=user.org_id,
        )
        rt.db.act_as(session, user.id)
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
            alerts_raised=_visible_alerts(session, user, raised),
        )

    return rt.db.write_sync(work, as_user=user.id)


def _visible_alerts(session: Session, user: StaffUser, alert_ids: list[int]) -> int:
    """How many of these alerts the user may see (through the policy, like every count)."""
    if not alert_ids:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.id.in_(sorted(alert_ids)), policy.visible(user, Alert, "alert"))
        )
        or 0
    )


# --- matches -----------------------------------------------------------------------------


def list_matches(rt: Runtime, user: StaffUser, query: MatchQuery, client: str | None) -> MatchPage:
    """Matches the reader may see (both entities; the policy's filter, in SQL), best first
    by probability then id, keyset-paginated, with how many there are in all.

    The cursor names the last match of the page, not its score: a blind reviewer must not
    be able to read scores out of it. The next page starts after that match's current
    place in the order, and the match must still be one the reader may see (a cursor
    naming any other match would place it among theirs)."""
    after = _match_cursor(query.cursor) if query.cursor else None

    def work(session: Session) -> MatchPage:
        seen = [policy.linkage_matches(user)]
        if query.state:
            seen.append(Match.state == query.state)
        rows = select(Match.id, Match.match_probability).where(*seen)
        if after is not None:
            last = session.execute(
                select(Match.id, Match.match_probability).where(Match.id == after, *seen[:1])
            ).first()
            if last is None:
                raise _bad_cursor()
            rows = rows.where(
                or_(
                    Match.match_probability < last.match_probability,
                    and_(Match.match_probability == last.match_probability, Match.id > last.id),
                )
            )
        found = session.execute(
            rows.order_by(Match.match_probability.desc(), Match.id).limit(query.limit + 1)
        ).all()
        more = len(found) > query.limit
        ids = [row.id for row in found[: query.limit]]
        total = session.scalar(select(func.count()).select_from(Match).where(*seen)) or 0
        items = views.visible_matches(session, user, ids, blind=query.blind)
        record_event(
            session,
            user.actor(client),
            "matches.listed",
            record_type="match",
            record_ids=[m.id for m in items],
            purpose=f"state={query.state}" if query.state else None,
        )
        next_cursor = _encode_match_cursor(ids[-1]) if more and ids else None
        return MatchPage(items=items, next_cursor=next_cursor, total=int(total))

    return rt.db.write_sync(work, as_user=user.id)


def _encode_match_cursor(match_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["match", match_id])).decode().rstrip("=")


def _bad_cursor() -> Problem:
    return Problem(
        422,
        said("Invalid request"),
        said("The cursor is not valid."),
        errors=[field_error("#/query/cursor", said("is not a valid cursor"))],
    )


def _match_cursor(cursor: str) -> int:
    try:
        kind, match_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind != "match" or not isinstance(match_id, int) or isinstance(match_id, bool):
            raise ValueError(cursor)
    except (ValueError, TypeError) as exc:
        raise _bad_cursor() from exc
    return match_id


DECIDED = ("positive", "negative")  # a match's final labels: changed only on purpose
_LABEL_WORDS = {
    "positive": said("Same (positive)"),
    "negative": said("Different (negative)"),
    "unsure": said("Unsure"),
}


def _review_refusal(was: str, body: MatchReviewIn) -> Problem | None:
    """Why this label may not be recorded now (None: it may).

    Pending and unsure matches take any label (unsure asks for a second opinion). A
    positive or negative match is decided: labelling it again is a change of decision,
    which must be asked for (``change``) with its own reason; relabelling it the same
    is refused too, so that nobody believes they changed something."""
    if was not in DECIDED:
        return None
    if body.label.value == was:
        detail = said("This match is already labelled %(label)s.", label=_LABEL_WORDS[was])
    elif not body.change:
        detail = said(
            "This match is already labelled %(label)s. To change that decision, ask for a "
            "change and give the reason for it.",
            label=_LABEL_WORDS[was],
        )
    else:
        return None
    return Problem(409, said("Conflict"), detail)


def review_match(
    rt: Runtime, user: StaffUser, match_id: int, body: MatchReviewIn, client: str | None
) -> MatchOut:
    """A person's label. Positive merges the two identities (the older id survives) and
    alerts any subject it now touches; negative is remembered so the pair is not raised
    again; unsure keeps it open for a second opinion.

    A decided match (positive or negative) is labelled again only as an explicit change
    (see :func:`_review_refusal`). Taking a positive label back undoes its merge: the
    identity is recomputed from the positive links that remain (:func:`_split_identity`).
    The match keeps the latest label, reviewer and reason; every label, with who gave it
    and why, stays in the audit log (``match.positive|negative|unsure``, the reason as its
    purpose), in order."""

    def work(session: Session) -> MatchOut:
        if not views.visible_matches(session, user, [match_id], blind=False):
            raise _not_found(said("No match with that id, or not one you may see."))
        match = session.get(Match, match_id)
        assert match is not None
        was = match.state
        refused = _review_refusal(was, body)
        if refused is not None:
            raise refused
        match.state = body.label.value
        match.reviewed_by_user_id, match.reviewed_at = user.id, utcnow()
        match.review_reason, match.blind = body.reason, body.blind
        session.flush()
        # The reviewer may label this pair (both of its entities are theirs to see); what the
        # label sets off reaches further, and runs as the system, as a referral's matching
        # does: an identity holds entities, and subjects, the reviewer may not see, and as
        # the reviewer PostgreSQL's row-level security would leave those out of the merge,
        # the split and the alerts (a subject's team would never hear of the confirmation).
        rt.db.act_as(session, None)
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
        elif was == "positive":
            entity = session.get(Entity, match.entity_id)
            assert entity is not None
            _split_identity(session, entity.identity_id)
        rt.db.act_as(session, user.id)
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


def _split_identity(session: Session, identity_id: int) -> None:
    """Recompute an identity after one of its positive links was taken back.

    Its entities are grouped by the positive matches that remain among them (entities
    still linked to each other, directly or through others, stay together); only positive
    matches merge identities, so no such link leaves the identity's own entities. Each
    group gets back the id it would have had had only its own links been confirmed: every
    entity came with an identity of its own, made just before it, so the identities merged
    into this one, in id order, are its entities' own, in id order, and a group keeps the
    oldest of its members'. The group of the oldest entity keeps this identity's id. (When
    the counts differ — an entity since deleted — the other groups get new identities.)"""
    members = list(
        session.scalars(
            select(Entity.id).where(Entity.identity_id == identity_id).order_by(Entity.id)
        )
    )
    root = {m: m for m in members}

    def find(entity_id: int) -> int:
        while root[entity_id] != entity_id:
            root[entity_id] = root[root[entity_id]]
            entity_id = root[entity_id]
        return entity_id

    links = session.execute(
        select(Match.entity_id, Match.other_entity_id).where(
            Match.state == "positive",
            Match.entity_id.in_(members),
            Match.other_entity_id.in_(members),
        )
    )
    for one, other in links:
        a, b = find(one), find(other)
        if a != b:
            root[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for member in members:
        groups.setdefault(find(member), []).append(member)
    if len(groups) < 2:
        return
    merged = _merged_identities(session, identity_id)
    own = dict(zip(members, merged, strict=True)) if len(merged) == len(members) else None
    kind = session.scalar(select(Identity.kind).where(Identity.id == identity_id)) or "person"
    for first, group in sorted(groups.items()):
        if own is not None:
            keep = min(own[m] for m in group)
            session.execute(update(Identity).where(Identity.id == keep).values(merged_into_id=None))
            gone = sorted(own[m] for m in group if own[m] != keep)
            if gone:
                session.execute(
                    update(Identity).where(Identity.id.in_(gone)).values(merged_into_id=keep)
                )
        elif first == members[0]:
            continue  # the oldest entity's group keeps the identity
        else:
            identity = Identity(kind=kind, created_at=utcnow())
            session.add(identity)
            session.flush()
            keep = identity.id
        if keep != identity_id:
            session.execute(update(Entity).where(Entity.id.in_(group)).values(identity_id=keep))


def _merged_identities(session: Session, identity_id: int) -> list[int]:
    """This identity and every identity merged into it, directly or through others."""
    found, frontier = {identity_id}, [identity_id]
    while frontier:
        frontier = [
            i
            for i in session.scalars(
                select(Identity.id).where(Identity.merged_into_id.in_(frontier))
            )
            if i not in found
        ]
        found.update(frontier)
    return sorted(found)


# --- alerts ------------------------------------------------------------------------------


# What may follow each state: forward only (reviewing may be skipped: actioning or
# dismissing an alert is itself a review); actioned and dismissed are final, except that a
# decided alert may be re-opened as reviewed with a reason (a mistaken dismissal would
# otherwise hide a subject's re-appearance for good, and its report's priority with it).
ALERT_NEXT: dict[str, tuple[str, ...]] = {
    "new": ("reviewed", "actioned", "dismissed"),
    "reviewed": ("actioned", "dismissed"),
    "actioned": ("reviewed",),
    "dismissed": ("reviewed",),
}
ALERT_FINAL = ("actioned", "dismissed")
_STATE_WORDS = {
    "new": said("new"),
    "reviewed": said("reviewed"),
    "actioned": said("actioned"),
    "dismissed": said("dismissed"),
}


def _alert_refusal(was: str, body: AlertDecisionIn) -> Problem | None:
    """Why this decision may not follow the alert's state (None: it may)."""
    wanted = body.state.value
    if wanted == was:
        return Problem(
            409,
            said("Conflict"),
            said("This alert is already %(state)s.", state=_STATE_WORDS[was]),
        )
    if wanted not in ALERT_NEXT.get(was, ()):
        return Problem(
            409,
            said("Conflict"),
            said(
                "This alert was %(state)s, which is final. To decide it again, re-open it "
                "first (reviewed, with the reason for re-opening it).",
                state=_STATE_WORDS[was],
            ),
        )
    if was in ALERT_FINAL and not (body.reason or "").strip():
        return Problem(
            422,
            said("Invalid request"),
            errors=[
                field_error("#/body/reason", said("re-opening a decided alert needs its reason"))
            ],
        )
    return None


def _alerts_out(session: Session, user: StaffUser, alerts: list[Alert]) -> list[AlertOut]:
    """The alerts as their reader may see them, each with who made its latest decision."""
    deciders = {a.decided_by_user_id for a in alerts if a.decided_by_user_id is not None}
    emails = (
        dict(
            session.execute(select(User.id, User.email).where(User.id.in_(sorted(deciders)))).all()
        )
        if deciders
        else {}
    )
    return [views.alert_out(session, user, a, emails) for a in alerts]


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
        return _alerts_out(session, user, rows)

    return rt.db.write_sync(work, as_user=user.id)


def decide_alert(
    rt: Runtime, user: StaffUser, alert_id: int, body: AlertDecisionIn, client: str | None
) -> AlertOut:
    """Record a decision that may follow the alert's state (:data:`ALERT_NEXT`), else 409.

    The alert keeps its latest decision: state, reason (None when that decision gave none;
    a dismissal always has one), who and when. Every decision, with its reason, is in the
    audit log (``alert.<state>``); the subject and entity timelines list them all."""

    def work(session: Session) -> AlertOut:
        alert = session.scalar(
            select(Alert).where(Alert.id == alert_id, policy.visible(user, Alert, "alert"))
        )
        if alert is None:
            raise _not_found(said("No alert with that id, or not one you may see."))
        refused = _alert_refusal(alert.state, body)
        if refused is not None:
            raise refused
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
        return _alerts_out(session, user, [alert])[0]

    answer = rt.db.write_sync(work, as_user=user.id)
    rt.wake_worker()
    return answer


# --- known-benign values, accuracy ---------------------------------------------------------


def add_benign(rt: Runtime, user: StaffUser, body: BenignIn, client: str | None) -> BenignOut:
    """Add a known-benign value, stored as entities of its kind are compared; a value that
    is no valid identifier of its kind is refused (422 on ``/value``), never stored empty."""
    from vigil.linkage.entities import normalise_benign

    try:
        value = normalise_benign(body.kind, body.value, strict=True)
    except ValueError as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("Some fields are missing or invalid; see errors."),
            errors=[field_error("#/body/value", exc.args[0])],
        ) from None

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
        return _benign_out(row, user.email)

    return rt.db.write_sync(work, as_user=user.id)


def _benign_out(row: BenignValue, added_by: str | None) -> BenignOut:
    return BenignOut(
        id=row.id,
        kind=row.kind,
        value=row.value,
        reason=row.reason,
        added_by=added_by,
        added_at=row.added_at,
    )


def list_benign(rt: Runtime, user: StaffUser, client: str | None) -> list[BenignOut]:
    """Every known-benign value (the list is the platform's, not an organisation's), with
    who added it and when."""

    def work(session: Session) -> list[BenignOut]:
        rows = session.execute(
            select(BenignValue, User.email)
            .outerjoin(User, User.id == BenignValue.added_by_user_id)
            .order_by(BenignValue.kind, BenignValue.value)
        ).all()
        record_event(session, user.actor(client), "benign.listed", record_type="benign")
        return [_benign_out(row, email) for row, email in rows]

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
