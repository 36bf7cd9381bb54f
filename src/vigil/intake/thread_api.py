"""Staff JSON API for a report's thread: read it, and ask the reporter a question.

The question's body is read only after the bearer token has been checked, and never past
``max_json_bytes``, so an anonymous caller cannot make the server hold a large body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake import thread
from vigil.intake.thread import MessageIn, MessageOut
from vigil.intake.uploads import (
    JSON_TYPES,
    media_type_of,
    parse_json_document,
    read_capped,
    too_large,
)
from vigil.web.problems import PROBLEM_TYPE, Problem, validation_problem
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_TYPE: {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No report with that reference that you may see", **_PROBLEM}
}
_ASK_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    413: {"description": "Body too large", **_PROBLEM},
    415: {"description": "Send application/json", **_PROBLEM},
    422: {"description": "Invalid text; one entry per field in `errors`", **_PROBLEM},
}
_ASK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": MessageIn.model_json_schema()}},
    }
}


@router.get(
    "/{reference}/messages",
    response_model=list[MessageOut],
    responses=_NOT_FOUND,
    summary="The report's thread: the reporter's follow-ups and staff questions, oldest first",
)
def list_messages(
    reference: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.report_read)),
) -> list[MessageOut]:
    return thread.list_messages(rt, user, reference, client=client_address(request))


@router.post(
    "/{reference}/messages",
    status_code=201,
    response_model=MessageOut,
    responses=_ASK_PROBLEMS,
    openapi_extra=_ASK_BODY,
    summary="Ask the reporter a question; they see it when they follow up on the website",
)
async def ask_question(
    reference: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.report_message_send)),
) -> MessageOut:
    media, _ = media_type_of(request.headers.get("content-type"))
    if media not in JSON_TYPES:
        raise Problem(415, said("Unsupported media type"), said("Send application/json."))
    length = request.headers.get("content-length", "")
    if length.isdecimal() and int(length) > rt.settings.max_json_bytes:
        raise too_large(rt.settings.max_json_bytes)
    raw = await read_capped(request.stream(), rt.settings.max_json_bytes)
    try:
        message = MessageIn.model_validate(parse_json_document(raw))
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    return await thread.ask_question(
        rt, user, reference, message.text, client=client_address(request)
    )
