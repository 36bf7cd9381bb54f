"""Recording audit events inside the caller's transaction (if the event fails, so does the act)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import ColumnElement, Select, String, cast, select
from sqlalchemy.orm import Session

from vigil.access.models import Organisation, User
from vigil.audit.chain import Signer, append, append_many, verify
from vigil.audit.models import AuditEvent
from vigil.audit.schemas import AuditEventOut, AuditFilter, AuditPage, ChainVerdict
from vigil.db import utcnow

if TYPE_CHECKING:
    from vigil.access.services import StaffUser
    from vigil.web.runtime import Runtime


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, the public (never identified), or the system/CLI."""

    label: str
    user_id: int | None = None
    org_id: int | None = None
    client_address: str | None = None


PUBLIC = Actor(label="public")
SYSTEM = Actor(label="system")


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    record_type: str | None = None,
    record_ids: Iterable[str | int] = (),
    outcome: str = "success",
    purpose: str | None = None,
) -> AuditEvent:
    return append(session, _event(actor, action, record_type, record_ids, outcome, purpose))


def record_each(
    session: Session,
    items: Sequence[tuple[Actor, str | int]],
    action: str,
    *,
    record_type: str,
) -> None:
    """One event per (actor, record), linked in order and written in one statement: what a
    writer batch of separate acts (public reports committed together) records."""
    append_many(
        session,
        [_event(actor, action, record_type, [record], "success", None) for actor, record in items],
    )


def _event(
    actor: Actor,
    action: str,
    record_type: str | None,
    record_ids: Iterable[str | int],
    outcome: str,
    purpose: str | None,
) -> AuditEvent:
    return AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor_org_id=actor.org_id,
        actor_label=actor.label,
        action=action,
        record_type=record_type,
        record_ids=[str(r) for r in record_ids],
        outcome=outcome,
        purpose=_fitted(purpose),
        client_address=actor.client_address,
    )


PURPOSE_MAX = 500  # the column's length (AuditEvent.purpose)


def _fitted(purpose: str | None) -> str | None:
    """A purpose or justification as the log keeps it: whole up to the column's length, else
    cut there with an ellipsis. A long reason (a referral's may run to thousands of
    characters, kept whole on its record) must never make the action fail for want of room;
    the event still says who, what and that a reason was given."""
    if purpose is None or len(purpose) <= PURPOSE_MAX:
        return purpose
    return purpose[: PURPOSE_MAX - 1] + "…"


def receiving_org_id(session: Session, rt: Runtime) -> int | None:
    """The organisation that receives public reports (``VIGIL_RECEIVING_ORG``), which runs
    the platform: as the app found or made it at start, else looked up by name (None while
    it does not exist yet)."""
    if rt.receiving_unit is not None:
        return rt.receiving_unit[0]
    return session.scalar(
        select(Organisation.id).where(Organisation.name == rt.settings.receiving_org)
    )


def auditor_scope(session: Session, rt: Runtime, user: StaffUser) -> ColumnElement[bool]:
    """The part of the log ``user`` may read (:func:`vigil.access.policy.audit_events`)."""
    from vigil.access import policy  # policy -> access.services -> this module

    return policy.audit_events(user, receiving_org_id(session, rt))


def event_query(criteria: AuditFilter, scope: ColumnElement[bool]) -> Select[AuditEvent]:
    """Events within the reader's ``scope`` (always given: every read of the log is
    need-to-know) matching the auditor's filter, oldest first (the chain's order)."""
    query = select(AuditEvent).where(scope).order_by(AuditEvent.seq)
    if criteria.user_id is not None:
        query = query.where(AuditEvent.actor_user_id == criteria.user_id)
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    if criteria.since is not None:
        query = query.where(AuditEvent.occurred_at >= criteria.since)
    if criteria.until is not None:
        query = query.where(AuditEvent.occurred_at < criteria.until)
    if criteria.record:
        quoted = orjson.dumps(criteria.record).decode()
        escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(cast(AuditEvent.record_ids, String).like(f"%{escaped}%", escape="\\"))
    return query


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut.model_validate(event, from_attributes=True)


@dataclass(frozen=True)
class ActorNames:
    """Who the actors of some events are, looked up when the log is read: each user's
    e-mail address and each organisation's name.

    An event holds only the numbers of its user and organisation (never an e-mail address),
    and a row of the chained log can never change, so the names come from the users and
    organisations tables at the time of reading: a user's current address, the name of the
    organisation the event was recorded against.
    """

    emails: dict[int, str]
    organisations: dict[int, str]

    def email(self, event: AuditEventOut) -> str | None:
        return self.emails.get(event.actor_user_id) if event.actor_user_id else None

    def organisation(self, event: AuditEventOut) -> str | None:
        return self.organisations.get(event.actor_org_id) if event.actor_org_id else None


ACTOR_FIELDS = ("actor_email", "actor_organisation")
"""The export's columns beyond the log's own: read at export time, never stored."""


def actor_names(session: Session, events: Sequence[AuditEventOut]) -> ActorNames:
    """The e-mail addresses and organisation names of the events' actors (two look-ups
    for a page, whatever its length)."""
    user_ids = sorted({e.actor_user_id for e in events if e.actor_user_id is not None})
    org_ids = sorted({e.actor_org_id for e in events if e.actor_org_id is not None})
    emails: dict[int, str] = {}
    organisations: dict[int, str] = {}
    if user_ids:
        rows = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
        emails = {uid: email for uid, email in rows}
    if org_ids:
        named = session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
        )
        organisations = {oid: name for oid, name in named}
    return ActorNames(emails, organisations)


def _search(
    session: Session,
    rt: Runtime,
    user: StaffUser,
    criteria: AuditFilter,
    after: int | None,
    limit: int,
    client: str | None,
) -> AuditPage:
    query = event_query(criteria, auditor_scope(session, rt, user)).limit(limit + 1)
    if after is not None:
        query = query.where(AuditEvent.seq > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [event_out(r) for r in rows]
    names = actor_names(session, items)
    for item in items:  # who acted, as the console's pages say it
        item.actor_email, item.actor_organisation = names.email(item), names.organisation(item)
    page = AuditPage(items=items, next_cursor=rows[-1].seq if more and rows else None)
    record_event(
        session,
        user.actor(client),
        "audit.searched",
        record_type="audit_event",
        record_ids=[r.seq for r in rows],
        purpose=_describe(criteria),
    )
    return page


def search_events(
    rt: Runtime,
    user: StaffUser,
    criteria: AuditFilter,
    *,
    after: int | None,
    limit: int,
    client: str | None,
) -> AuditPage:
    """A page of the part of the log the auditor may read (``auditor_scope``), each event
    with its actor's e-mail address and organisation (read now, never stored); the search
    itself is audited."""
    return rt.db.write_sync(
        lambda session: _search(session, rt, user, criteria, after, limit, client),
        as_user=user.id,
    )


def export_events(
    rt: Runtime, user: StaffUser, criteria: AuditFilter, client: str | None
) -> list[dict[str, Any]]:
    """Every matching event the auditor may read (the search's ``auditor_scope``), each as
    the log holds it plus its actor's e-mail address and organisation name
    (``ACTOR_FIELDS``, read now); recorded as a disclosure to the auditor."""

    def work(session: Session) -> list[dict[str, Any]]:
        scope = auditor_scope(session, rt, user)
        rows = [event_out(r) for r in session.scalars(event_query(criteria, scope))]
        names = actor_names(session, rows)
        record_event(
            session,
            user.actor(client),
            "audit.exported",
            record_type="audit_event",
            record_ids=[r.seq for r in rows],
            purpose=_describe(criteria),
        )
        return [
            {
                **r.model_dump(mode="json"),
                "actor_email": names.email(r),
                "actor_organisation": names.organisation(r),
            }
            for r in rows
        ]

    return rt.db.write_sync(work, as_user=user.id)


def verify_chain(rt: Runtime, user: StaffUser, client: str | None) -> ChainVerdict:
    with rt.db.session() as session:
        verdict = verify(session, Signer(rt.settings.audit_seed).public_key)
    rt.db.write_sync(
        lambda s: record_event(
            s,
            user.actor(client),
            "audit.verified",
            record_type="audit_event",
            outcome="success" if verdict.ok else "failure",
        )
    )
    return ChainVerdict(
        ok=verdict.ok,
        checked=verdict.checked,
        checkpoints=verdict.checkpoints,
        first_bad_seq=verdict.first_bad_seq,
        suspect_from=verdict.suspect_from,
        suspect_to=verdict.suspect_to,
        reason=verdict.reason,
    )


def _describe(criteria: AuditFilter) -> str:
    given = criteria.model_dump(exclude_none=True)
    return "filter: " + (", ".join(f"{k}={v}" for k, v in given.items()) or "none")
