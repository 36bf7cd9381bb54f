"""Cases JSON API: open, list, read and change cases; links, actions, meetings, decisions
and sharing.

Handlers only parse, call one service function and answer. A case the caller may not see
answers 404 as if it did not exist; so does an action of another agency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.sharing import ShareOut
from vigil.cases import actions, pack, services
from vigil.cases.schemas import (
    ActionIn,
    ActionOut,
    ActionUpdateIn,
    CaseChangeIn,
    CaseIn,
    CaseOut,
    CasePage,
    CaseShareIn,
    CaseStatus,
    DecisionIn,
    DecisionOut,
    LinkIn,
    MeetingIn,
    MeetingOut,
)
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {PROBLEM_TYPE: {}}}
    for code, text in {
        403: "Your role or organisation may not do this to the case",
        404: "No such case or action (or not one you may see)",
        409: "The case is closed",
        422: "Invalid input; one entry per field in `errors`",
    }.items()
}
router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=_PROBLEMS)
Rt = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[StaffUser, Depends(require(Permission.cases_read))]
Writer = Annotated[StaffUser, Depends(require(Permission.cases_write))]
Sharer = Annotated[StaffUser, Depends(require(Permission.record_share))]


@router.get("", response_model=CasePage, summary="Cases you may see, newest first")
def list_cases(
    request: Request,
    rt: Rt,
    user: Reader,
    status: CaseStatus | None = None,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    lead: Annotated[str | None, Query(max_length=320, description="lead's e-mail")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    return services.list_cases(
        rt,
        user,
        status=status,
        level=level,
        lead=lead,
        cursor=cursor,
        limit=limit,
        client=client_address(request),
    )


@router.post("", status_code=201, response_model=CaseOut, summary="Open a case from reports")
def open_case(body: CaseIn, request: Request, rt: Rt, user: Writer) -> CaseOut:
    return services.open_case(rt, user, body, client_address(request))


@router.get("/{reference}", response_model=CaseOut, summary="A case, as you may see it")
def get_case(reference: str, request: Request, rt: Rt, user: Reader) -> CaseOut:
    return services.get_case(rt, user, reference, client_address(request))


@router.get(
    "/{reference}/pack.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
    summary="The case as a PDF meeting pack, its marking on every page (audited)",
)
def meeting_pack(
    reference: str,
    request: Request,
    rt: Rt,
    user: Reader,
    purpose: Annotated[str | None, Query(max_length=500, description="why it is made")] = None,
) -> Response:
    return pack.export_pack(rt, user, reference, purpose, client_address(request)).response()


@router.patch(
    "/{reference}",
    response_model=CaseOut,
    summary="Change level, lead, review date or status (with a reason)",
)
def change_case(
    reference: str, body: CaseChangeIn, request: Request, rt: Rt, user: Writer
) -> CaseOut:
    return services.change_case(rt, user, reference, body, client_address(request))


@router.post(
    "/{reference}/links", response_model=CaseOut, summary="Link reports, entities, subjects"
)
def link_records(reference: str, body: LinkIn, request: Request, rt: Rt, user: Writer) -> CaseOut:
    return actions.link_records(rt, user, reference, body, client_address(request))


@router.post(
    "/{reference}/actions",
    status_code=201,
    response_model=ActionOut,
    summary="Set an action for an agency the case is shared with (or your own)",
)
def add_action(reference: str, body: ActionIn, request: Request, rt: Rt, user: Writer) -> ActionOut:
    return actions.add_action(rt, user, reference, body, client_address(request))


@router.patch(
    "/{reference}/actions/{action_id}",
    response_model=ActionOut,
    summary="Update an action of your agency (state and/or a note)",
)
def update_action(
    reference: str,
    action_id: int,
    body: ActionUpdateIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.case_actions_update))],
) -> ActionOut:
    return actions.update_action(rt, user, reference, action_id, body, client_address(request))


@router.post(
    "/{reference}/meetings", status_code=201, response_model=MeetingOut, summary="Minute a meeting"
)
def record_meeting(
    reference: str, body: MeetingIn, request: Request, rt: Rt, user: Writer
) -> MeetingOut:
    return actions.record_meeting(rt, user, reference, body, client_address(request))


@router.post(
    "/{reference}/decisions",
    status_code=201,
    response_model=DecisionOut,
    summary="Record a decision and its reason",
)
def record_decision(
    reference: str, body: DecisionIn, request: Request, rt: Rt, user: Writer
) -> DecisionOut:
    return actions.record_decision(rt, user, reference, body, client_address(request))


@router.get(
    "/{reference}/shares",
    response_model=list[ShareOut],
    summary="Whom the case is shared with (managing organisation only)",
)
def list_shares(reference: str, request: Request, rt: Rt, user: Reader) -> list[ShareOut]:
    return actions.case_shares(rt, user, reference, client_address(request))


@router.post(
    "/{reference}/shares",
    status_code=201,
    response_model=ShareOut,
    summary="Share the case with a team or another organisation (under an agreement)",
)
def share_case(
    reference: str, body: CaseShareIn, request: Request, rt: Rt, user: Sharer
) -> ShareOut:
    return actions.share_case(rt, user, reference, body, client_address(request))


@router.delete(
    "/{reference}/shares/{share_id}",
    response_model=ShareOut,
    summary="Stop sharing the case (effective immediately)",
)
def revoke_share(reference: str, share_id: int, request: Request, rt: Rt, user: Sharer) -> ShareOut:
    return actions.revoke_case_share(rt, user, reference, share_id, client_address(request))
