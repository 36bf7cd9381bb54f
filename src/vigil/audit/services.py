"""Recording audit events inside the caller's transaction (if the event fails, so does the act)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from vigil.audit.chain import append
from vigil.audit.models import AuditEvent
from vigil.db import utcnow


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
    event = AuditEvent(
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
    return append(session, event)
