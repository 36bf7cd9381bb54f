"""What the cases API accepts (strict, with limits) and answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.access.markings import Classification
from vigil.access.sharing import ShareOut
from vigil.web.said import said

Reason = Annotated[str, Field(min_length=3, max_length=2000)]
ReportRef = Annotated[str, Field(min_length=1, max_length=40)]
SubjectRef = Annotated[str, Field(min_length=1, max_length=40)]
MAX_LINKS = 100  # per request: a case is opened from a handful of reports, not a bulk load


class CaseStatus(StrEnum):
    open = "open"
    closed = "closed"


class ActionState(StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LinksIn(_In):
    """Records to link: reports by reference, entities by id, subjects by reference."""

    reports: list[ReportRef] = Field(default_factory=list, max_length=MAX_LINKS)
    entities: list[int] = Field(default_factory=list, max_length=MAX_LINKS)
    subjects: list[SubjectRef] = Field(default_factory=list, max_length=MAX_LINKS)

    def is_empty(self) -> bool:
        return not (self.reports or self.entities or self.subjects)


class LinkIn(LinksIn):
    @model_validator(mode="after")
    def _something(self) -> LinkIn:
        if self.is_empty():
            raise ValueError(said("give at least one report, entity or subject to link"))
        return self


class CaseIn(LinksIn):
    """Opening a case, usually from the reports that prompted it."""

    title: Annotated[str, Field(min_length=3, max_length=200)]
    summary: Annotated[str, Field(max_length=20000)] = ""
    level: Annotated[int, Field(ge=1, le=3, description="MAPPA management level 1–3")] = 1
    lead: Annotated[
        str | None, Field(min_length=3, max_length=320, description="e-mail; default: you")
    ] = None
    review_date: date | None = None
    team: Annotated[
        str | None, Field(max_length=200, description="one of your teams; default: your team")
    ] = None
    classification: Classification = Classification.official_sensitive
    handling_code: Annotated[str | None, Field(pattern="^(P|C)$")] = None
    handling_conditions: Annotated[str | None, Field(max_length=2000)] = None

    @model_validator(mode="after")
    def _conditions_given(self) -> CaseIn:
        if self.handling_code == "C" and not (self.handling_conditions or "").strip():
            raise ValueError(said("handling code C needs the conditions written down"))
        return self


class CaseChangeIn(_In):
    """Changing a case; a change of status or level needs a reason (it is a decision)."""

    title: Annotated[str | None, Field(min_length=3, max_length=200)] = None
    summary: Annotated[str | None, Field(max_length=20000)] = None
    level: Annotated[int | None, Field(ge=1, le=3, description="MAPPA level 1–3")] = None
    lead: Annotated[str | None, Field(min_length=3, max_length=320, description="e-mail")] = None
    review_date: date | None = None
    status: CaseStatus | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _something(self) -> CaseChangeIn:
        if not (self.model_fields_set - {"reason"}):
            raise ValueError(
                said("change at least one of %(fields)s", fields=", ".join(CHANGEABLE))
            )
        return self


CHANGEABLE = ("title", "summary", "level", "lead", "review_date", "status")


class ActionIn(_In):
    title: Annotated[str, Field(min_length=3, max_length=200)]
    detail: Annotated[str, Field(max_length=5000)] = ""
    due_date: date | None = None
    organisation: Annotated[
        str | None, Field(max_length=200, description="owning agency; default: the case's")
    ] = None
    team: Annotated[str | None, Field(max_length=200)] = None


class ActionUpdateIn(_In):
    state: ActionState | None = None
    text: Annotated[str | None, Field(min_length=1, max_length=5000)] = None

    @model_validator(mode="after")
    def _something(self) -> ActionUpdateIn:
        if self.state is None and self.text is None:
            raise ValueError(said("give a new state, a text, or both"))
        return self


class MeetingIn(_In):
    held_on: date
    attendees: Annotated[str, Field(min_length=1, max_length=2000)]
    minutes: Annotated[str, Field(min_length=1, max_length=50000)]


class DecisionIn(_In):
    decision: Annotated[str, Field(min_length=3, max_length=2000)]
    reason: Annotated[str, Field(min_length=3, max_length=5000)]


class CaseShareIn(_In):
    organisation: Annotated[str | None, Field(max_length=200)] = None
    team: Annotated[str | None, Field(max_length=200)] = None
    purpose: Annotated[str, Field(min_length=1, max_length=1000)]
    conditions_accepted: bool = False


class LinkedReport(BaseModel):
    reference: str
    kind: str
    received_at: datetime
    classification: str
    handling_code: str | None = None
    handling_conditions: str | None = Field(
        None, description="The conditions anyone it is shared with must follow (handling code C)"
    )
    excerpt: str
    linked_at: datetime


class LinkedEntity(BaseModel):
    id: int
    kind: str
    label: str
    classification: str
    linked_at: datetime


class LinkedSubject(BaseModel):
    reference: str
    name: str
    status: str
    classification: str
    linked_at: datetime


class ActionUpdateOut(BaseModel):
    by: str | None
    at: datetime
    state: str | None  # None: the state did not change
    text: str | None
    text_withheld: bool = Field(
        False, description="A health or social-care note not shown to your role (text is null)"
    )


class ActionOut(BaseModel):
    id: int
    title: str
    detail: str
    due_date: date | None
    overdue: bool
    state: str
    organisation: str
    team: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    may_update: bool  # whether the reader may change it
    updates: list[ActionUpdateOut]
    detail_withheld: bool = Field(
        False,
        description="Detail a health or social-care agency wrote, not shown to your role (no "
        "sharing agreement names it): detail is empty",
    )


class MeetingOut(BaseModel):
    id: int
    held_on: date
    attendees: str
    minutes: str
    recorded_by: str | None
    recorded_at: datetime


class DecisionOut(BaseModel):
    id: int
    decision: str
    reason: str
    decided_by: str | None
    decided_at: datetime


class EventOut(BaseModel):
    at: datetime
    by: str | None
    kind: str
    summary: str


class CaseSummary(BaseModel):
    reference: str
    title: str
    status: str
    level: int
    lead: str | None
    review_date: date | None
    review_overdue: bool
    classification: str
    organisation: str
    created_at: datetime
    updated_at: datetime


class CaseOut(CaseSummary):
    summary: str
    team: str | None
    handling_code: str | None
    handling_conditions: str | None
    created_by: str | None
    closed_at: datetime | None
    may_manage: bool  # the reader's organisation (or the lead) runs this case
    reports: list[LinkedReport]  # only those the reader may see
    entities: list[LinkedEntity]
    subjects: list[LinkedSubject]
    actions: list[ActionOut]  # a partner sees only its own organisation's
    meetings: list[MeetingOut]
    decisions: list[DecisionOut]
    timeline: list[EventOut]  # newest first


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None


class CaseSharing(BaseModel):
    """Whom a case is shared with, and with whom the agreements in force let it be shared:
    for the managing organisation (and the lead) only."""

    case: CaseSummary
    handling_code: str | None
    handling_conditions: str | None
    shares: list[ShareOut]  # live and revoked, oldest first
    partners: list[str]  # organisations an agreement covers this case for, not yet shared with
    teams: list[str] = []  # the managing organisation's other teams, not yet shared with
    may_share: bool  # the reader may share and revoke (manages the case, may share records)
