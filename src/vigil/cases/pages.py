"""Case pages of the staff console: the list, opening a case from reports, and the case page
with its linked records, agency actions, meetings, decisions and timeline.

Handlers only parse the form, call one service function of :mod:`vigil.cases.services` or
:mod:`vigil.cases.actions` and render, so the page shows exactly what the JSON API answers
to the same reader: a partner sees and updates only its own agency's actions, and a linked
record the reader may not see is neither shown nor counted. A case the reader may not see is
the same "Page not found" as a case that does not exist. Every form posts back and, once it
has worked, redirects to the case page (POST-redirect-GET), so a refresh never repeats it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.cases import actions, services, views
from vigil.cases.forms import (
    LINK_FIELDS,
    entity_ids,
    error_list,
    field_errors,
    lines,
    link_errors,
    parsed,
    visible,
)
from vigil.cases.forms import optional as _optional
from vigil.cases.forms import text as _text
from vigil.cases.manage_pages import router as manage_router
from vigil.cases.pack_pages import router as pack_router
from vigil.cases.schemas import (
    ActionIn,
    ActionState,
    ActionUpdateIn,
    CaseIn,
    CaseOut,
    CaseStatus,
    DecisionIn,
    MeetingIn,
)
from vigil.web.problems import Problem
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router

router = page_router()
LIST = "/console/cases"
NEW = "/console/cases/new"
CASE = "/console/cases/{reference}"
PAGE_SIZE = 25
_reader = staff_session(Permission.cases_read)
_writer = staff_session(Permission.cases_write)
_updater = staff_session(Permission.case_actions_update)

# --- the list -----------------------------------------------------------------------------


@router.get(LIST)
def case_list(user: StaffUser = Depends(_reader), p: Page = Depends(page)) -> Response:
    query = p.request.query_params
    status_text = query.get("status", "open")
    status = CaseStatus(status_text) if status_text in {s.value for s in CaseStatus} else None
    level_text = query.get("level", "")
    level = int(level_text) if level_text in {"1", "2", "3"} else None
    cursor = query.get("cursor") or None
    listed = visible(
        lambda: services.list_cases(
            p.rt,
            user,
            status=status,
            level=level,
            lead=None,
            cursor=cursor[:200] if cursor else None,
            limit=PAGE_SIZE,
            client=client_address(p.request),
        )
    )
    filters = {"status": status.value if status else "all", "level": level_text if level else ""}
    next_href = None
    if listed.next_cursor:
        next_href = LIST + "?" + urlencode({**filters, "cursor": listed.next_cursor})
    return render_staff(
        p,
        "cases/list.html",
        cases=listed.items,
        filters=filters,
        next_href=next_href,
        may_open=Permission.cases_write in user.permissions,
    )


# --- opening a case from reports ----------------------------------------------------------

OPEN_FIELDS = ("title", "summary", "level", "review_date", *LINK_FIELDS)
# What a link to the form may pre-fill: ?report=REF (from a report page), ?entity=ID, ?subject=REF
PREFILL = {"reports": "report", "entities": "entity", "subjects": "subject"}


def _new_page(
    p: Page, values: Mapping[str, str], errors: Mapping[str, str], status: int = 200
) -> Response:
    levels = [(str(n), views.level_meaning(n, p._)) for n in (1, 2, 3)]
    return render_staff(
        p,
        "cases/new.html",
        status=status,
        values=values,
        levels=levels,
        errors=errors,
        error_list=error_list(errors),
    )


@router.get(NEW)
def open_case_form(user: StaffUser = Depends(_writer), p: Page = Depends(page)) -> Response:
    query = p.request.query_params
    values = {"title": "", "summary": "", "level": "1", "review_date": ""}
    for field, name in PREFILL.items():
        given = [r.strip() for r in query.getlist(name) if r.strip()]
        values[field] = "\n".join(given[:20])
    return _new_page(p, values, {})


@router.post(NEW)
def open_case(user: StaffUser = Depends(_writer), p: Page = Depends(page)) -> Response:
    form: FormData = p.request.state.form
    values = {name: _text(form, name) for name in OPEN_FIELDS}
    items = {name: lines(values[name]) for name in LINK_FIELDS}
    data: dict[str, Any] = {
        "title": values["title"],
        "summary": values["summary"],
        "level": values["level"] or "1",
        **items,
    }
    if values["review_date"]:
        data["review_date"] = values["review_date"]
    try:
        data["entities"] = entity_ids(items["entities"], said("an entity id is a number"))
        body: CaseIn = parsed(CaseIn, data)
        opened = services.open_case(p.rt, user, body, client_address(p.request))
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = field_errors(problem, OPEN_FIELDS, p._)
        errors.update(link_errors(problem, items, p._, everything=False))
        return _new_page(p, values, errors, status=400)
    return p.redirect(CASE.format(reference=opened.reference))


# --- the case page ------------------------------------------------------------------------


@router.get(CASE)
def case_page(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    found = visible(lambda: services.get_case(p.rt, user, reference, client_address(p.request)))
    return _case(p, user, found)


def _case(
    p: Page,
    user: StaffUser,
    found: CaseOut,
    *,
    status: int = 200,
    form: str | None = None,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> Response:
    """The case page; after a refused form, with that form's errors and what was typed."""
    prefix = f"{form}-" if form else ""
    return render_staff(
        p,
        "cases/case.html",
        status=status,
        case=found,
        path=CASE.format(reference=found.reference),
        may_update=Permission.case_actions_update in user.permissions
        or Permission.cases_write in user.permissions,
        may_open_reports=Permission.report_read in user.permissions,
        action_states=[s.value for s in ActionState],
        form=form,
        errors=dict(errors or {}),
        error_list=error_list(errors or {}, prefix),
        values=dict(values or {}),
        today=views.today().isoformat(),
    )


def _refused(
    p: Page,
    user: StaffUser,
    reference: str,
    form: str,
    problem: Problem,
    fields: tuple[str, ...],
    values: Mapping[str, str],
) -> Response:
    """A form on the case page did not fit: the page again, with the errors, status 400."""
    if problem.status not in (409, 422):  # 403 and the like stay refusals, not form errors
        raise problem
    found = visible(lambda: services.get_case(p.rt, user, reference, client_address(p.request)))
    errors = field_errors(problem, fields, p._)
    return _case(p, user, found, status=400, form=form, errors=errors, values=values)


ACTION_FIELDS = ("title", "detail", "due_date", "organisation")


@router.post(CASE + "/actions")
def add_action(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    values = {name: _text(form, name) for name in ACTION_FIELDS}
    data: dict[str, Any] = {"title": values["title"], "detail": values["detail"]}
    data["organisation"] = values["organisation"] or None
    data["due_date"] = values["due_date"] or None
    try:
        body: ActionIn = parsed(ActionIn, data)
        made = visible(
            lambda: actions.add_action(p.rt, user, reference, body, client_address(p.request))
        )
    except Problem as problem:
        return _refused(p, user, reference, "action", problem, ACTION_FIELDS, values)
    return p.redirect(CASE.format(reference=reference) + f"#action-{made.id}")


UPDATE_FIELDS = ("state", "text")


@router.post(CASE + "/actions/{action_id}")
def update_action(
    reference: str,
    action_id: int,
    user: StaffUser = Depends(_updater),
    p: Page = Depends(page),
) -> Response:
    form: FormData = p.request.state.form
    values = {name: _text(form, name) for name in UPDATE_FIELDS}
    data = {"state": _optional(form, "state"), "text": _optional(form, "text")}
    try:
        body: ActionUpdateIn = parsed(ActionUpdateIn, data)
        visible(
            lambda: actions.update_action(
                p.rt, user, reference, action_id, body, client_address(p.request)
            )
        )
    except Problem as problem:
        return _refused(p, user, reference, f"update-{action_id}", problem, UPDATE_FIELDS, values)
    return p.redirect(CASE.format(reference=reference) + f"#action-{action_id}")


MEETING_FIELDS = ("held_on", "attendees", "minutes")


@router.post(CASE + "/meetings")
def record_meeting(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    values = {name: _text(form, name) for name in MEETING_FIELDS}
    try:
        body: MeetingIn = parsed(MeetingIn, {k: v or None for k, v in values.items()})
        visible(
            lambda: actions.record_meeting(p.rt, user, reference, body, client_address(p.request))
        )
    except Problem as problem:
        return _refused(p, user, reference, "meeting", problem, MEETING_FIELDS, values)
    return p.redirect(CASE.format(reference=reference) + "#meetings")


DECISION_FIELDS = ("decision", "reason")


@router.post(CASE + "/decisions")
def record_decision(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    values = {name: _text(form, name) for name in DECISION_FIELDS}
    try:
        body: DecisionIn = parsed(DecisionIn, values)
        visible(
            lambda: actions.record_decision(p.rt, user, reference, body, client_address(p.request))
        )
    except Problem as problem:
        return _refused(p, user, reference, "decision", problem, DECISION_FIELDS, values)
    return p.redirect(CASE.format(reference=reference) + "#decisions")


router.include_router(manage_router)
router.include_router(pack_router)
