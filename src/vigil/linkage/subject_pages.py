"""Subject pages of the console: the list, one subject, its forms, and its network.

Handlers only parse, call one function of :mod:`vigil.linkage.subject_views`,
:mod:`vigil.linkage.services` or :mod:`vigil.linkage.graph_api` and render. A subject the
reader may not see is the same "Page not found" as one that does not exist, and the counts
in the list cover only records the reader may see. The two forms (status, attach an
entity) need the permission the API declares for them and redirect back to the subject
(POST-redirect-GET); a refused form comes back with its errors, as on the entity page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage import services, subject_views
from vigil.linkage.graph_pages import record_graph_page
from vigil.linkage.pages import (
    _act,
    _client,
    _error_list,
    _not_found,
    _refused,
    _text,
)
from vigil.linkage.schemas import SubjectStatusIn
from vigil.web.problems import Problem, field_error
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router

router: APIRouter = page_router()
SUBJECTS = "/console/subjects"
SUBJECT = "/console/subjects/{reference}"
SUBJECTS_SHOWN = 200
STATUSES = ("open", "closed", "never")

_reader = staff_session(Permission.linkage_read)
_manager = staff_session(Permission.subjects_manage)


def subject_url(reference: str) -> str:
    return SUBJECT.format(reference=reference)


@router.get(SUBJECTS)
def subjects_page(user: StaffUser = Depends(_reader), p: Page = Depends(page)) -> Response:
    status = p.request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    found = subject_views.list_subjects(
        p.rt, user, status, SUBJECTS_SHOWN, _client(p.request, p.rt)
    )
    return render_staff(p, "linkage/subjects.html", listed=found, chosen=status, statuses=STATUSES)


@router.get(SUBJECT)
def subject_page(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    try:
        found = subject_views.subject_detail(p.rt, user, reference, _client(p.request, p.rt))
    except Problem as problem:
        if problem.status == 404:
            return _not_found(p)
        raise
    refused = _refused(p, f"subject:{found.subject.reference}")
    return render_staff(
        p,
        "linkage/subject.html",
        found=found,
        subject=found.subject,
        statuses=STATUSES,
        may_manage=Permission.subjects_manage in user.permissions,
        may_read_alerts=Permission.alerts_read in user.permissions,
        errors=bool(refused),
        error_list=_error_list(refused),
        form_errors=refused.get("errors", {}),
        form_values=refused.get("values", {}),
    )


@router.post(SUBJECT + "/status")
def change_status(
    reference: str, user: StaffUser = Depends(_manager), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    client = _client(p.request, p.rt)
    ref = reference.upper()

    def act() -> None:
        body = SubjectStatusIn.model_validate(
            {"status": _text(form, "status"), "reason": _text(form, "reason")}
        )
        services.set_subject_status(p.rt, user, ref, body, client)

    return _act(
        p,
        act,
        where=f"subject:{ref}",
        field_ids={"status": "status", "reason": "reason"},
        back=subject_url(ref) + "#status-form",
    )


@router.post(SUBJECT + "/entities")
def attach(
    reference: str, user: StaffUser = Depends(_manager), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    client = _client(p.request, p.rt)
    ref = reference.upper()
    raw = _text(form, "entity_id").removeprefix("entity:")

    def act() -> None:
        if not raw.isdecimal() or len(raw) > 18:
            raise Problem(
                422,
                said("Invalid request"),
                errors=[field_error("/entity_id", said("enter the entity's number, like 1234"))],
            )
        try:
            services.attach_entity(p.rt, user, ref, int(raw), client)
        except Problem as problem:
            # The subject was found (else this is its 404): the entity is one the reader
            # may not see or that does not exist — the same answer for both.
            if problem.status == 404 and "entity" in (problem.detail or ""):
                raise Problem(
                    422,
                    said("Invalid request"),
                    errors=[
                        field_error("/entity_id", said("no entity you may see has that number"))
                    ],
                ) from None
            raise

    return _act(
        p,
        act,
        where=f"subject:{ref}",
        field_ids={"entity_id": "entity_id"},
        back=subject_url(ref) + "#entities",
    )


@router.get(SUBJECT + "/graph")
def subject_graph(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    """The subject's network, drawn and tabled as an entity's is."""
    return record_graph_page(p, user, "subject", reference)
