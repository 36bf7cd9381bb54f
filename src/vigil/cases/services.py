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

from vigil.access import policy, sharing
from vigil.access.markings import Classification, most_restrictive
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


# Handling codes from least to most restrictive (3x5x2): none given, P (lawful sharing
# permitted), C (permitted with conditions). A code outside the scheme ranks as none.
HANDLING_RANK = {None: 0, "P": 1, "C": 2}


@dataclass(frozen=True)
class Marking:
    """A record's marking: its classification, handling code and handling conditions."""

    classification: Classification
    handling_code: str | None = None
    conditions: str | None = None

    def audit_text(self) -> str:
        return f"{self.classification.value} handling {self.handling_code or 'none'}"


def combined_marking(base: Marking, others: list[Marking]) -> Marking:
    """``base`` (a case's marking) combined with ``others`` (its records'): the most
    restrictive wins (domain-facts §4). The highest classification, the most restrictive
    handling code (C over P), and ``base``'s conditions as written followed by each line of
    a C-coded record's conditions that they do not already hold, so that a case keeps every
    condition of what it combines and a marking already combined is not changed again."""
    classification = most_restrictive([base.classification, *(m.classification for m in others)])
    code = max(
        [base.handling_code, *(m.handling_code for m in others)],
        key=lambda c: HANDLING_RANK.get(c, 0),
    )
    if HANDLING_RANK.get(code, 0) == 0:
        code = base.handling_code
    held = {line.strip() for line in (base.conditions or "").splitlines()}
    added: list[str] = []
    for m in others:
        for line in (m.conditions or "").splitlines() if m.handling_code == "C" else []:
            if line.strip() and line.strip() not in held:
                held.add(line.strip())
                added.append(line.strip())
    conditions = "\n".join(c for c in (base.conditions, *added) if c) or base.conditions
    return Marking(classification, code, conditions)


def record_markings(session: Session, records: list[Linkable]) -> list[Marking]:
    """The markings of ``records``, read as they stand (entities carry no handling code,
    subjects no conditions)."""
    ids: dict[str, list[int]] = {}
    for record in records:
        ids.setdefault(record.record_type, []).append(record.record_id)
    found: list[Marking] = []
    if ids.get("report"):
        reports = session.execute(
            select(Report.classification, Report.handling_code, Report.handling_conditions).where(
                Report.id.in_(ids["report"])
            )
        )
        found += [Marking(Classification(c), code, text) for c, code, text in reports]
    if ids.get("entity"):
        entities = session.scalars(
            select(Entity.classification).where(Entity.id.in_(ids["entity"]))
        )
        found += [Marking(Classification(c)) for c in entities]
    if ids.get("subject"):
        subjects = session.execute(
            select(Subject.classification, Subject.handling_code).where(
                Subject.id.in_(ids["subject"])
            )
        )
        found += [Marking(Classification(c), code) for c, code in subjects]
    return found


@dataclass(frozen=True)
class Linked:
    """What :func:`link` did: the audit names of the records newly linked and, when combining
    them raised the case's marking, the marking before and after (for the audit event)."""

    records: list[str]
    raised: tuple[Marking, Marking] | None = None


def _raise_marking(
    session: Session, user: StaffUser, case: Case, records: list[Linkable]
) -> tuple[Marking, Marking] | None:
    """Raise the case's marking to the most restrictive of its own and ``records``'; the
    marking before and after, or None when it already was. A raise above the user's own
    clearance is refused (they could not have found such a record through the policy, so
    this only guards against a path that forgot to look)."""
    before = Marking(
        Classification(case.classification), case.handling_code, case.handling_conditions
    )
    after = combined_marking(before, record_markings(session, records))
    if after == before:
        return None
    if after.classification.rank > user.clearance.rank:
        raise Problem(
            403,
            said("Forbidden"),
            said(
                "Combining these records would mark the case %(marking)s, above your own "
                "clearance; nothing was linked.",
                marking=after.classification.value,
            ),
            kind="above-clearance",
        )
    case.classification = after.classification.value
    case.handling_code = after.handling_code
    case.handling_conditions = after.conditions
    add_event(
        session,
        case,
        user,
        "marking_raised",
        f"Marking raised from {before.audit_text()} to {after.audit_text()} "
        "by the records combined into the case",
        before=before.classification.value,
        after=after.classification.value,
        handling_before=before.handling_code,
        handling_after=after.handling_code,
    )
    if after.classification.rank > before.classification.rank:
        for ended in sharing.end_shares_beyond(session, user, case, "case", after.classification):
            add_event(
                session,
                case,
                user,
                "share_ended",
                f"Sharing with {ended.team or ended.organisation} ended: no agreement covers "
                f"a {after.classification.value} case",
            )
    return before, after


def link(session: Session, user: StaffUser, case: Case, records: list[Linkable]) -> Linked:
    """Link the records not yet linked, raising the case's marking to the most restrictive
    of its own and theirs; what was linked and how the marking changed, for the audit."""
    already = {
        (kind, rid)
        for kind, rid in session.execute(
            select(CaseLink.record_type, CaseLink.record_id).where(CaseLink.case_id == case.id)
        )
    }
    new = [r for r in records if (r.record_type, r.record_id) not in already]
    raised = _raise_marking(session, user, case, new) if new else None
    added = []
    for record in new:
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
    return Linked(added, raised)


def audit_links(
    session: Session,
    user: StaffUser,
    case: Case,
    linked: Linked,
    client: str | None,
    *,
    always: bool = False,
) -> None:
    """Combining records is logged in its own right (DPA 2018 s.62), naming each record, and
    with the case's marking before and after when combining them raised it."""
    if linked.records or always:
        raised = None
        if linked.raised is not None:
            before, after = linked.raised
            raised = f"marking raised: {before.audit_text()} -> {after.audit_text()}"
        record_event(
            session,
            user.actor(client),
            "case.linked",
            record_type="case",
            record_ids=[case.reference, *linked.records],
            purpose=raised,
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
    visible to the opener. The case is marked at least as restrictively as every record
    combined into it (:func:`link`; domain-facts §4: when markings combine, the most
    restrictive wins, though aggregation alone adds none), and the answer shows that marking."""
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
        add_event(session, case, user, "opened", f"Case opened at level {case.level}")
        linked = link(session, user, case, records)
        # After linking: the lead must be able to see the case as marked by its records.
        case.lead_user_id = _lead(session, case, body.lead).id if body.lead else user.id
        record_event(
            session,
            user.actor(client),
            "case.opened",
            record_type="case",
            record_ids=[case.reference],
        )
        audit_links(session, user, case, linked, client)
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
