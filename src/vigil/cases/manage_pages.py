"""Running a case from the console: changing its level, lead, review date and status, linking
more records to it, and sharing it with partner agencies under the agreements.

Each page is a thin handler over the service verbs the JSON API uses
(:func:`services.change_case`, :func:`actions.link_records`, :func:`actions.case_sharing`,
:func:`actions.share_case`, :func:`actions.revoke_case_share`), so a page cannot do what the
API would refuse, and every change is audited and lands in the case's timeline there. A case
the reader may not see is the same "Page not found" as one that does not exist; a record to
link that the reader may not see gets the same error as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    text,
    visible,
)
from vigil.cases.schemas import CaseChangeIn, CaseOut, CaseShareIn, LinkIn
from vigil.cases.sharing_form import share_form, share_from_form
from vigil.web.problems import Problem
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router

router = page_router()
CASE = "/console/cases/{reference}"
CHANGE = CASE + "/change"
LINKS = CASE + "/links"
SHARING = CASE + "/sharing"
REVOKE = SHARING + "/{share_id}/revoke"
_reader = staff_session(Permission.cases_read)
_writer = staff_session(Permission.cases_write)
_sharer = staff_session(Permission.record_share)


def _managed(p: Page, user: StaffUser, reference: str) -> CaseOut:
    """The case for a form that changes it: a partner reading a shared case gets 403."""
    found = visible(lambda: services.get_case(p.rt, user, reference, client_address(p.request)))
    if not found.may_manage:
        refusal = said("Only the organisation managing this case, or its lead, may change it.")
        raise Problem(403, said("Forbidden"), refusal)
    return found


# --- level, lead, review date, status -----------------------------------------------------

CHANGE_FIELDS = ("level", "lead", "review_date", "status", "reason")


def _change_page(
    p: Page,
    found: CaseOut,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render_staff(
        p,
        "cases/change.html",
        status=status,
        case=found,
        path=CHANGE.format(reference=found.reference),
        levels=[(str(n), views.level_meaning(n, p._)) for n in (1, 2, 3)],
        values=dict(values),
        errors=dict(errors or {}),
        error_list=error_list(errors or {}),
        today=views.today().isoformat(),
    )


@router.get(CHANGE)
def change_form(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    found = _managed(p, user, reference)
    values = {
        "level": str(found.level),
        "lead": found.lead or "",
        "review_date": found.review_date.isoformat() if found.review_date else "",
        "status": found.status,
        "reason": "",
    }
    return _change_page(p, found, values)


def changes(values: Mapping[str, str], form: FormData) -> dict[str, Any]:
    """Only what the person changed on the form, against the values it was shown with (the
    hidden ``was_`` fields): an untouched level or status needs no reason."""
    data: dict[str, Any] = {}
    for name in ("level", "lead", "review_date", "status"):
        if values[name] != text(form, f"was_{name}"):
            data[name] = values[name] or None
    if values["reason"]:
        data["reason"] = values["reason"]
    return data


@router.post(CHANGE)
def change_case(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    values = {name: text(form, name) for name in CHANGE_FIELDS}
    data = changes(values, form)
    try:
        if not set(data) - {"reason"}:
            raise Problem(
                422,
                said("Invalid request"),
                said(
                    "Change the management level, lead officer, review date or status, "
                    "or go back to the case."
                ),
            )
        body: CaseChangeIn = parsed(CaseChangeIn, data)
        visible(
            lambda: services.change_case(p.rt, user, reference, body, client_address(p.request))
        )
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        found = _managed(p, user, reference)
        errors = field_errors(problem, CHANGE_FIELDS, p._)
        return _change_page(p, found, values, errors, status=400)
    return p.redirect(CASE.format(reference=reference))


# --- linking records ----------------------------------------------------------------------


def _links_page(
    p: Page,
    found: CaseOut,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render_staff(
        p,
        "cases/links.html",
        status=status,
        case=found,
        path=LINKS.format(reference=found.reference),
        values=dict(values),
        errors=dict(errors or {}),
        error_list=error_list(errors or {}),
    )


@router.get(LINKS)
def links_form(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    found = _managed(p, user, reference)
    query = p.request.query_params
    values = {name: "\n".join(query.getlist(name)[:20]) for name in LINK_FIELDS}
    return _links_page(p, found, values)


@router.post(LINKS)
def link_records(
    reference: str, user: StaffUser = Depends(_writer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    values = {name: text(form, name) for name in LINK_FIELDS}
    items = {name: lines(values[name]) for name in LINK_FIELDS}
    try:
        data = {
            **items,
            "entities": entity_ids(items["entities"], said("an entity id is a number")),
        }
        body: LinkIn = parsed(LinkIn, data)
        visible(
            lambda: actions.link_records(p.rt, user, reference, body, client_address(p.request))
        )
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        found = _managed(p, user, reference)
        return _links_page(p, found, values, link_errors(problem, items, p._), status=400)
    return p.redirect(CASE.format(reference=reference) + "#linked")


# --- sharing ------------------------------------------------------------------------------


def _sharing_page(
    p: Page,
    user: StaffUser,
    reference: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    found = visible(lambda: actions.case_sharing(p.rt, user, reference, client_address(p.request)))
    return render_staff(
        p,
        "cases/sharing.html",
        status=status,
        sharing=found,
        case=found.case,
        path=SHARING.format(reference=found.case.reference),
        **share_form(values, errors, bool(found.partners)),
    )


@router.get(SHARING)
def sharing_page(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    return _sharing_page(p, user, reference)


@router.post(SHARING)
def share_case(
    reference: str, user: StaffUser = Depends(_sharer), p: Page = Depends(page)
) -> Response:
    values, errors = share_from_form(
        p,
        CaseShareIn,
        lambda body: visible(
            lambda: actions.share_case(p.rt, user, reference, body, client_address(p.request))
        ),
        choose=said("choose the organisation to share the case with"),
        no_agreement=said("no agreement in force lets this case be shared with it"),
    )
    if errors:
        return _sharing_page(p, user, reference, values, errors, status=400)
    return p.redirect(SHARING.format(reference=reference) + "#shares")


@router.post(REVOKE)
def revoke_share(
    reference: str,
    share_id: int,
    user: StaffUser = Depends(_sharer),
    p: Page = Depends(page),
) -> Response:
    visible(
        lambda: actions.revoke_case_share(
            p.rt, user, reference, share_id, client_address(p.request)
        )
    )
    return p.redirect(SHARING.format(reference=reference) + "#shares")
