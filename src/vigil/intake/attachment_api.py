"""Staff JSON API for a report's files: the display copy, and the original with a reason.

The same service functions as the console, so the policy, the permission and the audit trail
are one: a report the caller may not see, or a file not on it, is 404; the original needs
``intake:attachment:download`` and a justification of at least 20 characters, recorded as
the audit event's purpose. Files are sent with ``nosniff``, ``no-store`` and a sandboxing
CSP, so nothing in an uploaded file can act in Vigil's origin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake import attachment_access
from vigil.intake.attachment_access import MAX_JUSTIFICATION, OpenedFile
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
FILE = "/{reference}/attachments/{attachment_id}"
Rt = Annotated[Runtime, Depends(runtime)]

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_TYPE: {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such file on a report you may see", **_PROBLEM}
}
_ORIGINAL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    403: {"description": "Your role may not download originals", **_PROBLEM},
    422: {"description": "Justification missing or too short; see `errors`", **_PROBLEM},
}


class OriginalIn(BaseModel):
    """Why the original (with its metadata) is needed; recorded as the audit purpose."""

    model_config = ConfigDict(extra="forbid")
    justification: Annotated[str, Field(max_length=MAX_JUSTIFICATION * 2)]


def file_response(opened: OpenedFile) -> StreamingResponse:
    return StreamingResponse(
        opened.chunks(), media_type=opened.media_type, headers=opened.headers()
    )


@router.get(
    FILE + "/display",
    response_class=StreamingResponse,
    responses={**_NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
    summary="An image's display copy (re-encoded, no metadata); audited",
)
def display_copy(
    reference: str,
    attachment_id: int,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.report_read))],
) -> StreamingResponse:
    opened = attachment_access.open_display_copy(
        rt, user, reference, attachment_id, client_address(request)
    )
    return file_response(opened)


@router.post(
    FILE + "/original",
    response_class=StreamingResponse,
    responses={**_ORIGINAL_PROBLEMS, 200: {"content": {"application/octet-stream": {}}}},
    summary="Download the original file as received, with a justification; audited",
)
def original(
    reference: str,
    attachment_id: int,
    body: OriginalIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.attachment_original_download))],
) -> StreamingResponse:
    opened = attachment_access.open_original(
        rt, user, reference, attachment_id, body.justification, client_address(request)
    )
    return file_response(opened)
