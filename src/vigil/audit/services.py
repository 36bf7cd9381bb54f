"""Recording audit events inside the caller's transaction (if the event fails, so does the act)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Select, String, cast, select
from sqlalchemy.orm import Session

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
        purpose=purpose,
        client_address=actor.client_address,
    )


def event_query(criteria: AuditFilter) -> Select[AuditEvent]:
    """Events matching the auditor's filter, oldest first (the chain's order)."""
    query = select(AuditEvent).order_by(AuditEvent.seq)
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


def search_events(
    rt: Runtime,
    user: StaffUser,
    criteria: AuditFilter,
    *,
    after: int | None,
    limit: int,
    client: str | None,
) -> AuditPage:
    """A page of the log for an auditor; the search itself is audited."""

    def work(session: Session) -> AuditPage:
        query = event_query(criteria).limit(limit + 1)
        if after is not None:
            query = query.where(AuditEvent.seq > after)
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        page = AuditPage(
            items=[event_out(r) for r in rows], next_cursor=rows[-1].seq if more and rows else None
        )
        record_event(
            session,
            user.actor(client),
            "audit.searched",
            record_type="audit_event",
            record_ids=[r.seq for r in rows],
            purpose=_describe(criteria),
        )
        return page

    return rt.db.write_sync(work, as_user=user.id)


def export_events(
    rt: Runtime, user: StaffUser, criteria: AuditFilter, client: str | None
) -> list[AuditEventOut]:
    """Every matching event (for an export); recorded as a disclosure to the auditor."""

    def work(session: Session) -> list[AuditEventOut]:
        rows = [event_out(r) for r in session.scalars(event_query(criteria))]
        record_event(
            session,
            user.actor(client),
            "audit.exported",
            record_type="audit_event",
            record_ids=[r.seq for r in rows],
            purpose=_describe(criteria),
        )
        return rows

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
        reason=verdict.reason,
    )


def _describe(criteria: AuditFilter) -> str:
    given = criteria.model_dump(exclude_none=True)
    return "filter: " + (", ".join(f"{k}={v}" for k, v in given.items()) or "none")
