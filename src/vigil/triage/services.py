"""The analyst's decisions on a report: claim, assign, grade, outcome, corrections.

Automation advises, people decide (domain-facts §6): every decision names who made it and
why, lands in the report's triage history and in the audit chain in the same transaction,
and a correction keeps what the automation said so that its accuracy can be measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.markings import Grading
from vigil.access.models import User
from vigil.access.permissions import Permission, Role
from vigil.access.services import StaffUser, staff_user
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.intake.reading import NOT_TRIAGER, owned_report
from vigil.triage import outcomes
from vigil.triage.categories import load_rules
from vigil.triage.items import ItemKind
from vigil.triage.models import TriageDecision, TriageItem, TriageResult
from vigil.triage.normalise import analyst_value
from vigil.triage.schemas import (
    AssignIn,
    CategoryCorrectionIn,
    DecisionResult,
    GradeIn,
    ItemAddIn,
    ItemCorrectionIn,
    ItemOut,
    Outcome,
    OutcomeIn,
)
from vigil.triage.tasks import enter_queue, retriage
from vigil.triage.views import item_out
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

T = TypeVar("T")


def _decision(
    session: Session,
    user: StaffUser,
    report: Report,
    action: str,
    reason: str | None,
    **detail: Any,
) -> None:
    session.add(
        TriageDecision(
            report_id=report.id,
            user_id=user.id,
            action=action,
            detail=detail,
            reason=reason,
            made_at=utcnow(),
        )
    )


def _result(session: Session, report: Report) -> TriageResult:
    result = session.get(TriageResult, report.id, with_for_update=True)
    if result is None:  # reports accepted before triage existed
        enter_queue(session, report.id, report.received_at, job=False)
        result = session.get(TriageResult, report.id)
        assert result is not None
    return result


def _on_report(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    client: str | None,
    action: str,
    change: Callable[[Session, Report, TriageResult], T],
) -> T:
    """Find the report through the policy, apply ``change``, audit it, in one transaction.
    Only its owning organisation triages it: a partner it was shared with reads it (403)."""

    def work(session: Session) -> T:
        report = owned_report(session, user, reference, NOT_TRIAGER)
        answer = change(session, report, _result(session, report))
        record_event(
            session, user.actor(client), action, record_type="report", record_ids=[reference]
        )
        return answer

    return rt.db.write_sync(work, as_user=user.id)


def _conflict(detail: str) -> Problem:
    return Problem(409, said("Conflict"), detail, kind="conflict")


def _supervises(user: StaffUser) -> bool:
    """A supervisor may act on any analyst's claim (to take over work left half done). No
    permission names that yet, so the role does."""
    return user.role is Role.supervisor


def _may_act_on_claim(user: StaffUser, result: TriageResult) -> None:
    """A claim protects the claimant's work: on a report another analyst has claimed, only
    they or a supervisor may grade, decide or release it (409 for anyone else)."""
    held_by_another = result.state == "claimed" and result.claimed_by_user_id not in (
        None,
        user.id,
    )
    if held_by_another and not _supervises(user):
        raise _conflict(
            said("This report is claimed by another analyst; they or a supervisor can release it.")
        )


def _value_refused(message: str) -> Problem:
    return Problem(
        422,
        said("Invalid request"),
        said("Some fields are missing or invalid; see errors."),
        errors=[field_error("#/value", message)],
        kind="invalid-request",
    )


def _normalised(kind: ItemKind, typed: str) -> tuple[str, str | None]:
    """An analyst's value as the extractors would store it, or a 422 on ``#/value``."""
    try:
        return analyst_value(kind, typed)
    except ValueError as refused:
        raise _value_refused(refused.args[0]) from None


def claim(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> DecisionResult:
    def change(session: Session, report: Report, result: TriageResult) -> DecisionResult:
        if result.state == "decided":
            raise _conflict(said("This report has already been decided."))
        if result.claimed_by_user_id not in (None, user.id):
            raise _conflict(
                said("Another analyst has claimed this report; ask them to release it.")
            )
        if result.state == "claimed" and result.claimed_by_user_id == user.id:
            return DecisionResult(references=[report.reference], state=result.state)  # held
        result.state, result.claimed_by_user_id, result.claimed_at = "claimed", user.id, utcnow()
        _decision(session, user, report, "claimed", None)
        return DecisionResult(references=[report.reference], state=result.state)

    return _on_report(rt, user, reference, client, "triage.claimed", change)


def release(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> DecisionResult:
    def change(session: Session, report: Report, result: TriageResult) -> DecisionResult:
        if result.state != "claimed":
            raise _conflict(said("This report is not claimed."))
        _may_act_on_claim(user, result)
        result.state, result.claimed_by_user_id, result.claimed_at = "new", None, None
        _decision(session, user, report, "released", None)
        return DecisionResult(references=[report.reference], state=result.state)

    return _on_report(rt, user, reference, client, "triage.released", change)


def assign(
    rt: Runtime, user: StaffUser, reference: str, body: AssignIn, client: str | None
) -> DecisionResult:
    """Give the report to another analyst, who must be able to see it and decide on it."""

    def change(session: Session, report: Report, result: TriageResult) -> DecisionResult:
        if result.state == "decided":
            raise _conflict(said("This report has already been decided."))
        row = session.scalar(select(User).where(User.email == body.assignee.strip().lower()))
        assignee = staff_user(session, row) if row is not None and not row.disabled_at else None
        may_see = assignee is not None and session.scalar(
            select(Report.id).where(Report.id == report.id, policy.reports(assignee))
        )
        if assignee is None or not may_see or Permission.triage_decide not in assignee.permissions:
            raise Problem(
                422,
                said("Invalid request"),
                said("That person cannot take this report."),
                errors=[field_error("#/assignee", said("no analyst with that e-mail may see it"))],
                kind="invalid-request",
            )
        result.state, result.claimed_by_user_id, result.claimed_at = (
            "claimed",
            assignee.id,
            utcnow(),
        )
        _decision(session, user, report, "assigned", body.reason, to=assignee.email)
        return DecisionResult(references=[report.reference], state=result.state)

    return _on_report(rt, user, reference, client, "triage.assigned", change)


def grade(
    rt: Runtime, user: StaffUser, reference: str, body: GradeIn, client: str | None
) -> DecisionResult:
    grading = Grading(
        source=body.source,
        intelligence=body.intelligence,
        handling=body.handling,
        conditions=body.conditions,
        scheme=body.scheme,
    )
    problems = grading.problems()
    if problems:
        raise Problem(
            422,
            said("Invalid request"),
            said("Check the grading."),
            errors=[field_error(f"#/{f}", m) for f, m in problems],
            kind="invalid-request",
        )

    def change(session: Session, report: Report, result: TriageResult) -> DecisionResult:
        _may_act_on_claim(user, result)
        report.grading_scheme = grading.scheme
        report.source_evaluation = grading.source
        report.intelligence_assessment = grading.intelligence
        report.handling_code = grading.handling
        report.handling_conditions = grading.conditions
        code = f"{grading.source}/{grading.intelligence}/{grading.handling}"
        _decision(session, user, report, "graded", body.reason, grading=code)
        return DecisionResult(references=[report.reference], state=result.state)

    return _on_report(rt, user, reference, client, "report.graded", change)


def decide(
    rt: Runtime, user: StaffUser, reference: str, body: OutcomeIn, client: str | None
) -> DecisionResult:
    """Record the outcome, for this report or every undecided report of its cluster that
    this user may see and their organisation owns."""

    def work(session: Session) -> DecisionResult:
        report = owned_report(session, user, reference, NOT_TRIAGER)
        result = _result(session, report)
        if result.state == "decided":
            raise _conflict(said("This report has already been decided."))
        _may_act_on_claim(user, result)
        targets = [(report, result)]
        if body.whole_cluster and result.cluster_id is not None:
            targets += [
                (r, t)
                for t, r in session.execute(
                    select(TriageResult, Report)
                    .join(Report, Report.id == TriageResult.report_id)
                    .where(
                        TriageResult.cluster_id == result.cluster_id,
                        TriageResult.report_id != report.id,
                        TriageResult.state != "decided",
                        Report.owning_org_id == user.org_id,
                        policy.reports(user),
                    )
                    .order_by(TriageResult.report_id)
                    .with_for_update()
                ).all()
            ]
        detail = outcomes.carry_out(session, user, body, [rep for rep, _ in targets], client)
        now = utcnow()
        for rep, res in targets:
            res.state, res.outcome, res.outcome_reason = "decided", body.outcome.value, body.reason
            res.outcome_detail = detail
            res.decided_by_user_id, res.decided_at = user.id, now
            extra = {"cluster_of": report.reference} if rep is not report else {}
            _decision(
                session,
                user,
                rep,
                "decided",
                body.reason,
                outcome=body.outcome.value,
                detail=detail,
                **extra,
            )
        references = [rep.reference for rep, _ in targets]
        record_event(
            session,
            user.actor(client),
            "triage.escalated" if body.outcome is Outcome.escalate else "triage.decided",
            record_type="report",
            record_ids=references,
            purpose=body.reason,
        )
        return DecisionResult(references=references, state="decided")

    return rt.db.write_sync(work, as_user=user.id)


def correct_item(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    item_id: int,
    body: ItemCorrectionIn,
    client: str | None,
) -> ItemOut:
    """Reject an extracted item or replace it; the original stays, marked rejected."""

    def change(session: Session, report: Report, result: TriageResult) -> ItemOut:
        item = session.scalar(
            select(TriageItem).where(TriageItem.id == item_id, TriageItem.report_id == report.id)
        )
        if item is None:
            raise Problem(
                404, said("Not found"), said("No such item on this report."), kind="not-found"
            )
        if item.status == "rejected":
            raise _conflict(said("This item has already been corrected."))
        kind = ItemKind(body.kind or item.kind)
        value, detail = item.value, item.detail
        if body.action == "replace":  # the schema makes a replacement name its value
            value, platform = _normalised(kind, body.value or item.value)
            if kind is ItemKind.url or kind != item.kind:
                detail = platform  # a web address's platform; no other kind's detail holds
        item.status = "rejected"
        before = {"kind": item.kind, "value": item.value}
        answer = item
        if body.action == "replace":
            answer = TriageItem(
                report_id=report.id,
                followup_id=item.followup_id,
                kind=kind.value,
                value=value,
                text=item.text,
                start=item.start,
                end=item.end,
                confidence=1.0,
                source="analyst",
                detail=detail,
                status="active",
                corrects_item_id=item.id,
            )
            session.add(answer)
        session.flush()
        after = {"kind": answer.kind, "value": answer.value} if answer is not item else None
        _decision(session, user, report, "item_corrected", body.reason, before=before, after=after)
        # What the report signals changed: score it again without the rejected item (and
        # with its replacement), which links it again, withdrawing what only it supported.
        retriage(session, report.id, f"item{item.id}corrected")
        return item_out(answer)

    answer = _on_report(rt, user, reference, client, "triage.item.corrected", change)
    rt.wake_worker()
    return answer


def add_item(
    rt: Runtime, user: StaffUser, reference: str, body: ItemAddIn, client: str | None
) -> ItemOut:
    """An item the automation missed (counted as a miss when measuring it)."""
    value, detail = _normalised(body.kind, body.value)

    def change(session: Session, report: Report, result: TriageResult) -> ItemOut:
        text = body.text or body.value
        start = report.description.find(text) if body.text else -1
        item = TriageItem(
            report_id=report.id,
            kind=body.kind.value,
            value=value,
            text=text,
            start=start,
            end=start + len(text) if start >= 0 else -1,
            confidence=1.0,
            source="analyst",
            detail=detail,
            status="active",
        )
        session.add(item)
        session.flush()
        _decision(
            session,
            user,
            report,
            "item_added",
            body.reason,
            after={"kind": item.kind, "value": item.value},
        )
        retriage(session, report.id, f"item{item.id}added")  # a new signal: score and link it
        return item_out(item)

    answer = _on_report(rt, user, reference, client, "triage.item.added", change)
    rt.wake_worker()
    return answer


def correct_categories(
    rt: Runtime, user: StaffUser, reference: str, body: CategoryCorrectionIn, client: str | None
) -> DecisionResult:
    labels = {c.code: c.label for c in load_rules().categories}
    unknown = [c for c in [*body.add, *body.remove] if c not in labels]
    if unknown:
        raise Problem(
            422,
            said("Invalid request"),
            said("Unknown category."),
            errors=[
                field_error("#/add", said("unknown category %(category)s", category=repr(c)))
                for c in unknown
            ],
            kind="invalid-request",
        )

    def change(session: Session, report: Report, result: TriageResult) -> DecisionResult:
        categories = [dict(c) for c in result.categories]
        by_code = {c["code"]: c for c in categories}
        for code in body.remove:
            if code in by_code:
                by_code[code]["status"] = "rejected"
        for code in body.add:
            if code in by_code:
                by_code[code]["status"] = "active"
                by_code[code]["source"] = "analyst"
            else:
                categories.append(
                    {
                        "code": code,
                        "label": labels[code],
                        "source": "analyst",
                        "status": "active",
                        "evidence": [],
                    }
                )
        result.categories = categories
        result.category_codes = category_codes(categories)
        _decision(
            session,
            user,
            report,
            "categories_corrected",
            body.reason,
            added=list(body.add),
            removed=list(body.remove),
        )
        return DecisionResult(references=[report.reference], state=result.state)

    return _on_report(rt, user, reference, client, "triage.categories.corrected", change)


def category_codes(categories: list[dict[str, Any]]) -> str:
    active = sorted(c["code"] for c in categories if c.get("status", "active") == "active")
    return "," + "".join(f"{c}," for c in active)
