"""What auditors see of the audit log, and how they filter it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_org_id: int | None
    actor_label: str
    action: str
    record_type: str | None
    record_ids: list[str]
    outcome: str
    purpose: str | None
    client_address: str | None
    hash: str
    actor_email: str | None = Field(
        None, description="The acting user's e-mail address now (read, never stored in the log)"
    )
    actor_organisation: str | None = Field(
        None, description="The name of the organisation the event was recorded against"
    )


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: int | None


class AuditFilter(BaseModel):
    user_id: int | None = None
    record: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ChainVerdict(BaseModel):
    ok: bool
    checked: int
    checkpoints: int
    first_bad_seq: int | None
    # When the chain links up but differs from a signed checkpoint or its head, the changed
    # entry cannot be told from those re-hashed after it: it lies in this range.
    suspect_from: int | None = None
    suspect_to: int | None = None
    reason: str
