"""Opening, reading and changing cases, and what every case verb shares: finding the case
through the policy, linking records, writing the timeline.

Every function is a verb that takes the acting user, finds the case through the one access
policy (a case the user may not see answers 404, exactly like one that does not exist), does
its work in one transaction and writes its audit event in that same transaction. Every change
also lands in the case's timeline. Only the managing organisation (or the case's lead)
changes a case; partners it is shared with read it and work on their own actions
(:mod:`vigil.cases.actions`, which also links records and shares the case).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.models import Team, User
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser, staff_user
from vigil.audit.services import record_event
from vigil.cases import views
from vigil.cases.models import Case, CaseDecision, CaseEvent, CaseLink
from vigil.cases.schemas import (
    CaseChangeIn,
    CaseIn,
    CaseOut,
    CasePage,
    CaseStatus,
    LinksIn,
)
from vigil.db import utcnow
from vigil.intake.codes import normalise_reference
from vigil.intake.models import Report
from vigil.linkage.models import Entity, Subject
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

T = TypeVar("T")
REFERENCE_PREFIX = "CASE-"
# No vowels (no words), no 0/O or 1/I/L: read aloud and typed without mistakes.
REFERENCE_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXYZ"
_NO_CASE = Problem(404, said("Not found"), said("No case with that reference."), kind="not-found")


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def normalise_case_reference(text: str) -> str | None:
    """``case-b7k9 m2xq`` → ``CASE-B7K9M2XQ``; None when it cannot be a case reference."""
    compact = "".join(text.upper().split()).replace("-", "")
    body = compact.removeprefix(REFERENCE_PREFIX.rstrip("-"))
    if len(body) != 8 or any(ch not in REFERENCE_ALPHABET for ch in body):
        return None
    return REFERENCE_PREFIX + body


def invalid(
    *errors: tuple[str, str], detail: str = said("Check the highlighted fields.")
) -> Problem:
    """A form's refusal, one message per field (each marked with ``said`` by the caller)."""
    return Problem(
        422,
        said("Invalid request"),
        detail,
        errors=[field_error(f"#/{field}", message) for field, message in errors],
        kind="invalid-request",
    )


def conflict(detail: str) -> Problem:
    return Problem(409, said("Conflict"), detail, kind="conflict")


def visible_case(session: Session, user: StaffUser, reference: str) -> Case:
    """The case if this user may see it; otherwise the same 404 as for no case at all."""
    normalised = normalise_case_reference(reference)
    case = None
    if normalised is not None:
        case = session.scalar(
            select(Case).where(Case.reference == normalised, views.visible_cases(user))
        )
    if case is None:
        raise _NO_CASE
    return case


def managed_case(session: Session, user: StaffUser, reference: str, *, open_only: bool) -> Case:
    """A visible case this user runs: a partner that reads a shared case does not change it."""
    case = visible_case(session, user, reference)
    if not views.manages(user, case):
        raise Problem(
            403,
            said("Forbidden"),
            said("Only the organisation managing this case, or its lead, may change it."),
        )
    if open_only and case.status != CaseStatus.open:
        raise conflict(said("This case is closed; reopen it first."))
    return case


def add_event(
    session: Session,
    case: Case,
    user: StaffUser,
    kind: str,
    summary: str,
    *,
    action_id: int | None = None,
    about: tuple[str, int] | None = None,
    **detail: Any,
) -> None:
    """One timeline entry; the case's ``updated_at`` moves with it."""
    now = utcnow()
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            user_id=user.id,
            kind=kind,
            summary=summary[:500],
            action_id=action_id,
            about_type=about[0] if about else None,
            about_id=about[1] if about else None,
            detail=detail,
        )
    )
    case.updated_at = now


def on_case(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    client: str | None,
    action: str,
    change: Callable[[Session, Case], T],
    *,
    manage: bool = True,
    open_only: bool = True,
) -> T:
    """Find the case, apply ``change`` and audit it, in one transaction."""

    def work(session: Session) -> T:
        if manage:
            case = managed_case(session, user, reference, open_only=open_only)
        else:
            case = visible_case(session, user, reference)
        answer = change(session, case)
        record_event(
            session, user.actor(client), action, record_type="case", record_ids=[case.reference]
        )
        return answer

    return rt.db.write_sync(work, as_user=user.id)


# --- links --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Linkable:
    record_type: str  # report|entity|subject
    record_id: int
    label: str  # what the timeline calls it

    @property
    def audit_id(self) -> str:
        """How the audit log names it: references are unique, entity ids are typed."""
        return f"entity:{self.record_id}" if self.record_type == "entity" else self.label


def resolve_links(session: Session, user: StaffUser, body: LinksIn) -> list[Linkable]:
    """Every record to link, found through the policy. One that is absent or not visible
    is refused with the same words, so the answer says nothing about hidden records."""
    found: list[Linkable] = []
    errors: list[tuple[str, str]] = []
    for i, text in enumerate(body.reports):
        reference = normalise_reference(text)
        rid = None
        if reference is not None:
            rid = session.scalar(
                select(Report.id).where(Report.reference == reference, policy.reports(user))
            )
        if rid is None:
            errors.append((f"reports/{i}", said("no report with that reference that you may see")))
        else:
            found.append(Linkable("report", rid, str(reference)))
    for i, entity_id in enumerate(body.entities):
        eid = session.scalar(
            select(Entity.id).where(Entity.id == entity_id, policy.visible(user, Entity, "entity"))
        )
        if eid is None:
            errors.append((f"entities/{i}", said("no entity with that id that you may see")))
        else:
            found.append(Linkable("entity", eid, f"entity {eid}"))
    for i, text in enumerate(body.subjects):
        row = session.execute(
            select(Subject.id, Subject.reference).where(
                Subject.reference == text.strip().upper(),
                policy.visible(user, Subject, "subject"),
            )
        ).first()
        if row is None:
            errors.append(
                (f"subjects/{i}", said("no subject with that reference that you may see"))
            )
        else:
            found.append(Linkable("subject", row[0], row[1]))
    if errors:
        raise invalid(*errors, detail=said("Some records cannot be linked; nothing was linked."))
    unique = {(r.record_type, r.record_id): r for r in found}
    return list(unique.values())


def link(session: Session, user: StaffUser, case: Case, records: list[Linkable]) -> list[str]:
    """Link the records not yet linked; the audit names of those newly linked."""
    already = {
        (kind, rid)
        for kind, rid in session.execute(
            select(CaseLink.record_type, CaseLink.record_id).where(CaseLink.case_id == case.id)
        )
    }
    added = []
    for record in records:
        if (record.record_type, record.record_id) in already:
            continue
        session.add(
            CaseLink(
                case_id=case.id,
                record_type=record.record_type,
                record_id=record.record_id,
                linked_by_user_id=user.id,
                linked_at=utcnow(),
            )
        )
        add_event(
            session,
            case,
            user,
            "linked",
            f"Linked {record.record_type} {record.label}"
            if record.record_type != "entity"
            else f"Linked {record.label}",
            about=(record.record_type, record.record_id),
        )
        added.append(record.audit_id)
    return added


def audit_links(
    session: Session,
    user: StaffUser,
    case: Case,
    added: list[str],
    client: str | None,
    *,
    always: bool = False,
) -> None:
    """Combining records is logged in its own right (DPA 2018 s.62), naming each record."""
    if added or always:
        record_event(
            session,
            user.actor(client),
            "case.linked",
            record_type="case",
            record_ids=[case.reference, *added],
        )


# --- opening, reading, changing -------------------------------------------------------------


def _lead(session: Session, case: Case, email: str) -> User:
    """A colleague who may read cases and may see this one (checked as them, not as us)."""
    row = session.scalar(select(User).where(User.email == email.strip().lower()))
    lead = staff_user(session, row) if row is not None and row.disabled_at is None else None
    may_see = lead is not None and session.scalar(
        select(Case.id).where(Case.id == case.id, views.visible_cases(lead))
    )
    if row is None or lead is None or not may_see or Permission.cases_read not in lead.permissions:
        raise invalid(("lead", said("no active colleague with that e-mail may see this case")))
    return row


def _owning_team(session: Session, user: StaffUser, name: str | None) -> int | None:
    if name is None:
        return next(iter(user.team_ids)) if len(user.team_ids) == 1 else None
    team = session.scalar(
        select(Team.id).where(Team.organisation_id == user.org_id, Team.name == name)
    )
    if team is None or team not in user.team_ids:
        raise invalid(("team", said("not one of your teams")))
    return team


def _review_date_problem(value: date | None) -> tuple[str, str] | None:
    if value is not None and value < views.today():
        return ("review_date", said("must be today or later"))
    return None


def open_case(rt: Runtime, user: StaffUser, body: CaseIn, client: str | None) -> CaseOut:
    """Open a case, usually from reports: they (and any entities and subjects) must be
    visible to the opener. Markings are not raised by linking: aggregation alone adds none
    (domain-facts §4), and every linked record keeps its own marking for every reader."""
    problems: list[tuple[str, str]] = []
    if body.classification.rank > user.clearance.rank:
        problems.append(("classification", said("above your own clearance")))
    review = _review_date_problem(body.review_date)
    if review:
        problems.append(review)
    if problems:
        raise invalid(*problems)

    def work(session: Session) -> CaseOut:
        records = resolve_links(session, user, body)
        now = utcnow()
        case = Case(
            reference=new_reference(),
            title=body.title,
            summary=body.summary,
            status=CaseStatus.open.value,
            level=body.level,
            review_date=body.review_date,
            owning_org_id=user.org_id,
            owning_team_id=_owning_team(session, user, body.team),
            classification=body.classification.value,
            handling_code=body.handling_code,
            handling_conditions=body.handling_conditions,
            created_by_user_id=user.id,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        case.lead_user_id = _lead(session, case, body.lead).id if body.lead else user.id
        add_event(session, case, user, "opened", f"Case opened at level {case.level}")
        added = link(session, user, case, records)
        record_event(
            session,
            user.actor(client),
            "case.opened",
            record_type="case",
            record_ids=[case.reference],
        )
        audit_links(session, user, case, added, client)
        return views.case_out(session, user, case)

    return rt.db.write_sync(work, as_user=user.id)


def get_case(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> CaseOut:
    """One case as this reader may see it; the viewing is audited with every linked record
    it shows (:func:`views.records_shown`)."""

    def work(session: Session) -> CaseOut:
        found = views.case_out(session, user, visible_case(session, user, reference))
        record_event(
            session,
            user.actor(client),
            "case.viewed",
            record_type="case",
            record_ids=views.records_shown(found),
        )
        return found

    return rt.db.write_sync(work, as_user=user.id)


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The cursor is not one this service gave out."),
            errors=[field_error("#/cursor", said("not a valid cursor"))],
            kind="invalid-request",
        ) from exc


def _encode(case_id: int) -> str:
    return base64.urlsafe_b64encode(str(case_id).encode()).decode().rstrip("=")


def list_cases(
    rt: Runtime,
    user: StaffUser,
    *,
    status: CaseStatus | None,
    level: int | None,
    lead: str | None,
    cursor: str | None,
    limit: int,
    client: str | None,
) -> CasePage:
    """Cases this user may see, newest first, through the policy filter; audited."""
    before = _decode(cursor) if cursor else None

    def work(session: Session) -> CasePage:
        query = select(Case).where(views.visible_cases(user))
        if status is not None:
            query = query.where(Case.status == status.value)
        if level is not None:
            query = query.where(Case.level == level)
        if lead is not None:
            query = query.join(User, User.id == Case.lead_user_id).where(
                User.email == lead.strip().lower()
            )
        if before is not None:
            query = query.where(Case.id < before)
        rows = list(session.scalars(query.order_by(Case.id.desc()).limit(limit + 1)))
        more, rows = len(rows) > limit, rows[:limit]
        record_event(
            session,
            user.actor(client),
            "case.listed",
            record_type="case",
            record_ids=[c.reference for c in rows],
        )
        return CasePage(
            items=views.summaries(session, rows),
            next_cursor=_encode(rows[-1].id) if more and rows else None,
        )

    return rt.db.write_sync(work, as_user=user.id)


def _change_problems(body: CaseChangeIn) -> list[tuple[str, str]]:
    given = body.model_fields_set
    problems: list[tuple[str, str]] = [
        (name, said("cannot be empty"))
        for name in ("title", "summary", "level", "lead", "status")
        if name in given and getattr(body, name) is None
    ]
    if (body.status is not None or body.level is not None) and body.reason is None:
        problems.append(("reason", said("a change of status or level needs a reason")))
    review = _review_date_problem(body.review_date)
    if review:
        problems.append(review)
    return problems


def change_case(
    rt: Runtime, user: StaffUser, reference: str, body: CaseChangeIn, client: str | None
) -> CaseOut:
    """Change level, lead, review date, status (with a reason) or wording. A change of level
    or status is also recorded as a decision, with who made it and why (domain-facts §6)."""
    problems = _change_problems(body)
    if problems:
        raise invalid(*problems)
    given = body.model_fields_set

    def change(session: Session, case: Case) -> CaseOut:
        if case.status == CaseStatus.closed and body.status != CaseStatus.open:
            raise conflict(said("This case is closed; reopen it first."))
        reason = body.reason or ""

        def decided(decision: str) -> None:
            session.add(
                CaseDecision(
                    case_id=case.id,
                    decision=decision,
                    reason=reason,
                    decided_by_user_id=user.id,
                    decided_at=utcnow(),
                )
            )
            add_event(session, case, user, "decided", f"{decision}: {reason}")

        if body.title is not None and body.title != case.title:
            case.title = body.title
            add_event(session, case, user, "retitled", f"Title changed to {body.title}")
        if body.summary is not None and body.summary != case.summary:
            case.summary = body.summary
            add_event(session, case, user, "summary_changed", "Summary changed")
        if body.level is not None and body.level != case.level:
            decided(f"Management level changed from {case.level} to {body.level}")
            case.level = body.level
        if body.lead is not None:
            lead = _lead(session, case, body.lead)
            if lead.id != case.lead_user_id:
                case.lead_user_id = lead.id
                add_event(session, case, user, "lead_changed", f"Lead officer is now {lead.email}")
        if "review_date" in given and body.review_date != case.review_date:
            case.review_date = body.review_date
            when = body.review_date.isoformat() if body.review_date else "none"
            add_event(session, case, user, "review_date_changed", f"Review date: {when}")
        if body.status is not None and body.status != case.status:
            closing = body.status == CaseStatus.closed
            case.status = body.status.value
            case.closed_at = utcnow() if closing else None
            decided("Case closed" if closing else "Case reopened")
        return views.case_out(session, user, case)

    return on_case(rt, user, reference, client, "case.changed", change, open_only=False)
