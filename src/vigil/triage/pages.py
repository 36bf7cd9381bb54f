"""The analysts' console pages: the triage queue and the report page.

Server-rendered and usable without JavaScript: every read goes through the same service
functions as the JSON API (so the policy filter and the audit trail are the API's), and
every change is an ordinary form POST carrying the CSRF token, answered with a redirect
(POST-redirect-GET) so that reloading never repeats a decision. A report the user may not
see answers the same "not found" page as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access import policy
from vigil.access.markings import GRADING_SCHEMES
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.linkage.alerts import live_alert_reports
from vigil.linkage.models import Alert
from vigil.linkage.pages import waterfall
from vigil.triage import labels, map_pages, report_pages, services, sharing_pages
from vigil.triage.categories import load_rules
from vigil.triage.queue import SORTS, STATES, QueueFilter, list_queue
from vigil.triage.report_pages import (
    FORM_ERRORS,
    REPORT,
    decision,
    highlighted,
    not_found,
)
from vigil.triage.report_pages import text as _text
from vigil.triage.report_view import ReportView, read_report_page
from vigil.triage.schemas import GradeIn, Outcome, OutcomeIn, QueueItem
from vigil.web.problems import Problem, field_error
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime
from vigil.web.said import Gettext, Said, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
QUEUE = "/console/queue"
QUEUE_PAGE_SIZE = 50
PRIORITY_ORDER = ("P1", "P2", "P3", "P4", "pending")
PRIORITY_COLOURS = {"P1": "red", "P2": "orange", "P3": "yellow", "P4": "blue"}
STATE_ORDER = ("open", "new", "claimed", "decided")

_queue_reader = staff_session(Permission.triage_queue_read)
_report_reader = staff_session(Permission.report_read)
_decider = staff_session(Permission.triage_decide)


def _client(request: Request, rt: Runtime) -> str:
    return client_key(request, rt.settings.trust_forwarded_for)


# --- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One queue row as the page shows it: the service's item plus what the page derives."""

    item: QueueItem
    age: str
    due: str
    alert: bool


def _criteria(request: Request) -> tuple[QueueFilter, str | None]:
    query = request.query_params
    category = (query.get("category") or "").strip()[:40] or None
    cluster = query.get("cluster", "")
    criteria = QueueFilter(
        priorities=frozenset(p[:10] for p in query.getlist("priority")[:5]),
        category=category,
        state=(query.get("state") or "open")[:10],
        mine=query.get("mine") in {"1", "true", "on"},
        overdue=query.get("overdue") in {"1", "true", "on"},
        cluster_id=int(cluster) if cluster.isdecimal() and len(cluster) <= 18 else None,
        sort=(query.get("sort") or "priority")[:10],
    )
    cursor = (query.get("cursor") or "")[:200] or None
    return criteria, cursor


def _filter_query(criteria: QueueFilter) -> list[tuple[str, str]]:
    """The filters as query parameters, for the next-page link."""
    pairs = [("priority", p) for p in PRIORITY_ORDER if p in criteria.priorities]
    if criteria.category:
        pairs.append(("category", criteria.category))
    pairs.append(("state", criteria.state))
    if criteria.mine:
        pairs.append(("mine", "1"))
    if criteria.overdue:
        pairs.append(("overdue", "1"))
    if criteria.cluster_id is not None:
        pairs.append(("cluster", str(criteria.cluster_id)))
    if criteria.sort != "priority":
        pairs.append(("sort", criteria.sort))
    return pairs


def _span(seconds: float, _: Gettext) -> str:
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return _("%(minutes)d min", minutes=minutes)
    hours = minutes // 60
    if hours < 48:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes % 60)
    return _("%(days)d days", days=hours // 24)


def age_text(received_at: datetime, now: datetime, _: Gettext) -> str:
    return _span((now - received_at).total_seconds(), _)


def due_text(due_at: datetime | None, overdue: bool, state: str, now: datetime, _: Gettext) -> str:
    """Time against the service level, in words a person reads at a glance."""
    if state == "decided":
        return _("Decided")
    if due_at is None:
        return _("Not set until triaged")
    left = (due_at - now).total_seconds()
    if overdue or left < 0:
        return _("Overdue by %(span)s", span=_span(left, _))
    return _("Due in %(span)s", span=_span(left, _))


def alert_references(rt: Runtime, user: StaffUser, references: list[str]) -> set[str]:
    """Which of these (already visible) reports have a live linkage alert this user may see.

    Only alerts the policy shows this user count (as row-level security does on PostgreSQL),
    so a badge never hints at another team's subject.
    """
    if not references:
        return set()
    with rt.db.session(as_user=user.id) as session:
        ids = dict(
            session.execute(
                select(Report.id, Report.reference).where(Report.reference.in_(references))
            ).all()
        )
        live = live_alert_reports(session, ids)
        seen = session.scalars(
            select(Alert.record_id).where(
                Alert.record_type == "report",
                Alert.record_id.in_(sorted(live)),
                policy.visible(user, Alert, "alert"),
            )
        )
        return {ids[i] for i in seen if i in ids}


@router.get(QUEUE)
def queue_page(user: StaffUser = Depends(_queue_reader), p: Page = Depends(page)) -> Response:
    criteria, cursor = _criteria(p.request)
    rows: list[QueueRow] = []
    next_url = None
    errors: list[dict[str, str]] = []
    status = 200
    try:
        found = list_queue(
            p.rt,
            user,
            criteria,
            cursor=cursor,
            limit=QUEUE_PAGE_SIZE,
            client=_client(p.request, p.rt),
        )
    except Problem as refused:
        if refused.status != 422:
            raise
        problem = p.told(refused)
        errors = [{"text": e["detail"], "href": "#filters"} for e in problem.errors] or [
            {"text": problem.detail or problem.title, "href": "#filters"}
        ]
        status = 400
    else:
        now = utcnow()
        alerts = alert_references(p.rt, user, [i.reference for i in found.items])
        rows = [
            QueueRow(
                item=i,
                age=age_text(i.received_at, now, p._),
                due=due_text(i.due_at, i.overdue, i.state, now, p._),
                alert=i.reference in alerts,
            )
            for i in found.items
        ]
        if found.next_cursor:
            pairs = [*_filter_query(criteria), ("cursor", found.next_cursor)]
            next_url = f"{QUEUE}?{urlencode(pairs)}"
    return render_staff(
        p,
        "triage/queue.html",
        status=status,
        rows=rows,
        criteria=criteria,
        next_url=next_url,
        error_list=errors,
        errors=bool(errors),
        categories=[(c.code, c.label) for c in load_rules().categories],
        category_labels={c.code: c.label for c in load_rules().categories},
        priorities=PRIORITY_ORDER,
        states=[s for s in STATE_ORDER if s in STATES],
        sorts=list(SORTS),
        colours=PRIORITY_COLOURS,
        may_claim=Permission.triage_decide in user.permissions,
    )


# --- the report page -----------------------------------------------------------------------


def _report_or_none(p: Page, user: StaffUser, reference: str) -> ReportView | None:
    try:
        return read_report_page(p.rt, user, reference, _client(p.request, p.rt))
    except Problem as problem:
        if problem.status == 404:
            return None
        raise


@router.get(REPORT)
def report_page(
    reference: str, user: StaffUser = Depends(_report_reader), p: Page = Depends(page)
) -> Response:
    view = _report_or_none(p, user, reference)
    if view is None:
        return not_found(p)
    report, entities = view.report, view.entities
    # Only touch the session when a refused form waits in it (a pop would save it each time).
    refused: dict[str, Any] = p.session.pop(FORM_ERRORS) if FORM_ERRORS in p.session.data else {}
    if refused.get("reference") != report.reference:
        refused = {}
    triage = report.triage
    now = utcnow()
    return render_staff(
        p,
        "triage/report.html",
        report=report,
        triage=triage,
        segments=highlighted(report.description or "", triage.entities if triage else []),
        due=due_text(triage.due_at, triage.overdue, triage.state, now, p._) if triage else None,
        age=age_text(report.received_at, now, p._),
        entities=entities,
        waterfall=waterfall,
        colours=PRIORITY_COLOURS,
        may_decide=Permission.triage_decide in user.permissions and view.owned,
        may_read_queue=Permission.triage_queue_read in user.permissions,
        me=user.email,
        scheme=GRADING_SCHEMES["3x5x2"],
        outcomes=list(Outcome),
        outcome_labels={code: spoken(p._, label) for code, label in labels.OUTCOMES.items()},
        kind_labels={kind: spoken(p._, label) for kind, label in labels.ITEM_KINDS.items()},
        form_errors=refused.get("errors", {}),
        form_values=refused.get("values", {}),
        refused_form=refused.get("form"),
        errors=bool(refused),
        error_list=[
            {"text": text, "href": f"#{field}"} for field, text in refused.get("errors", {}).items()
        ],
        **report_pages.page_context(user, view),
    )


@router.post(REPORT + "/claim")
def claim(reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)) -> Response:
    client = _client(p.request, p.rt)
    return decision(
        p,
        reference,
        "claim",
        {"reason": "claim"},
        lambda: services.claim(p.rt, user, reference, client),
    )


@router.post(REPORT + "/release")
def release(
    reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)
) -> Response:
    client = _client(p.request, p.rt)
    return decision(
        p,
        reference,
        "claim",
        {"reason": "claim"},
        lambda: services.release(p.rt, user, reference, client),
    )


# A set of radio buttons left unanswered is asked for by name, as GOV.UK forms do, before
# the model would say it in its own words ("String should have at least 1 character").
GRADE_CHOICES = {
    "source": said("choose the source evaluation"),
    "intelligence": said("choose the intelligence assessment"),
    "handling": said("choose the handling code"),
}


def _chosen(form: FormData, choices: dict[str, Said]) -> None:
    missing = [
        field_error(f"#/{name}", ask) for name, ask in choices.items() if not _text(form, name)
    ]
    if missing:
        raise Problem(
            422,
            said("Invalid request"),
            said("Check the form."),
            errors=missing,
            kind="invalid-request",
        )


@router.post(REPORT + "/grade")
def grade(reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)) -> Response:
    form: FormData = p.request.state.form
    client = _client(p.request, p.rt)
    fields = {
        "source": "grade-source",
        "intelligence": "grade-intelligence",
        "handling": "grade-handling",
        "conditions": "grade-conditions",
        "reason": "grade-reason",
        "scheme": "grade-reason",
    }

    def act() -> None:
        _chosen(form, GRADE_CHOICES)
        body = GradeIn(
            source=_text(form, "source"),
            intelligence=_text(form, "intelligence"),
            handling=_text(form, "handling"),
            conditions=_text(form, "conditions") or None,
            reason=_text(form, "reason"),
        )
        services.grade(p.rt, user, reference, body, client)

    return decision(p, reference, "grading", fields, act)


@router.post(REPORT + "/outcome")
def outcome(
    reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    client = _client(p.request, p.rt)
    fields = {
        "outcome": "outcome-outcome",
        "detail": "outcome-detail",
        "reason": "outcome-reason",
        "whole_cluster": "outcome-reason",
        "conditions_accepted": "outcome-conditions",
    }

    def act() -> None:
        _chosen(form, {"outcome": said("choose the outcome")})
        body = OutcomeIn.model_validate(
            {
                "outcome": _text(form, "outcome"),
                "reason": _text(form, "reason"),
                "detail": _text(form, "detail") or None,
                "whole_cluster": _text(form, "whole_cluster") == "yes",
                "conditions_accepted": _text(form, "conditions_accepted") == "yes",
            }
        )
        services.decide(p.rt, user, reference, body, client)

    return decision(p, reference, "outcome", fields, act)


# Corrections, files and the reporter thread live in their own module and router.
router.include_router(report_pages.router)
router.include_router(map_pages.router)
router.include_router(sharing_pages.router)
