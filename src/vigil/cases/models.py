"""Cases: multi-agency work on a risk, with its links, actions, meetings, decisions, timeline.

A case is a marked record like a report (owning organisation and team, classification), so
the one access policy filters it and it is shared through the same record shares (record
type ``case``). Everything else here is a child of a case and is seen only with it; an
action is further owned by an agency, and a partner who sees the case through a share sees
only the actions of its own organisation (MAPPA model, domain-facts §8). Linked records keep
their own markings: a reader of the case sees only the linked records they may see.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime, utcnow


class Case(Base):
    """One case, managed by its owning organisation under a named lead officer."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_listing", "owning_org_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|closed
    # MAPPA management level: 1 single-agency, 2 multi-agency, 3 senior multi-agency.
    level: Mapped[int] = mapped_column(Integer, default=1)
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    review_date: Mapped[date | None] = mapped_column(Date)
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    classification: Mapped[str] = mapped_column(String(20), default="OFFICIAL-SENSITIVE")
    handling_code: Mapped[str | None] = mapped_column(String(4))
    handling_conditions: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseLink(Base):
    """A report, entity or subject linked to a case (combining records is logged: s.62)."""

    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("case_id", "record_type", "record_id"),
        Index("ix_case_links_record", "record_type", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(10))  # report|entity|subject
    record_id: Mapped[int] = mapped_column(Integer)
    linked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseAction(Base):
    """A task owned by one agency (optionally one of its teams), with a due date and state."""

    __tablename__ = "case_actions"
    __table_args__ = (Index("ix_case_actions_case", "case_id", "owning_org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open|in_progress|done|…
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseActionUpdate(Base):
    """One entry of an action's history: who, when, the new state and/or what they wrote."""

    __tablename__ = "case_action_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("case_actions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str | None] = mapped_column(String(12))  # None: the state did not change
    text: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseMeeting(Base):
    """A minuted meeting about the case (attendees as written, not as user accounts)."""

    __tablename__ = "case_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(Text)
    minutes: Mapped[str] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseDecision(Base):
    """A decision on the case with its reason and the named person who made it (§6)."""

    __tablename__ = "case_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseEvent(Base):
    """The timeline: every change to a case, one row each, in one table.

    An event about an action or a linked record names it, so a reader who may not see that
    action or record does not see the event either (no hint that it exists). ``about_type``
    is ``report``, ``entity``, ``subject`` or ``share``; share events are for the managing
    organisation only.
    """

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_timeline", "case_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(String(500))
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_actions.id", ondelete="CASCADE"), index=True
    )
    about_type: Mapped[str | None] = mapped_column(String(10))
    about_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
