"""JSON API for reports: public submission and follow-ups, staff reading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.access.api import client_address, public, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.sharing import ShareOut
from vigil.audit.services import PUBLIC
from vigil.db import as_utc
from vigil.intake import export, reading, services, thread
from vigil.intake.export import ExportFormat
from vigil.intake.metrics import FOLLOWUPS
from vigil.intake.schemas import (
    FollowupAccepted,
    FollowupIn,
    ReportAccepted,
    ReportIn,
    ReportOut,
    ReportPage,
)
from vigil.intake.storage import StagedFile
from vigil.intake.uploads import read_submission
from vigil.web.problems import PROBLEM_TYPE, Problem, validation_problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

Doc = TypeVar("Doc", bound=BaseModel)

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {PROBLEM_TYPE: {}}}
    for code, text in {
        404: "Unknown reference (or wrong code)",
        409: "Idempotency-Key reused with other content",
        413: "Body or file too large",
        415: "Wrong media type",
        422: "Invalid input; one entry per field in `errors`",
        429: "Too many requests; see Retry-After",
    }.items()
}


def _body_doc(schema: str, json_part: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [json_part],
                        "properties": {
                            json_part: {"type": "string", "description": f"{schema} as JSON"},
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                },
            },
        }
    }


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


@asynccontextmanager
async def _received(
    request: Request, rt: Runtime, schema: type[Doc], json_part: str
) -> AsyncIterator[tuple[Doc, list[StagedFile]]]:
    """The validated document and staged files of a public submission; the staged files are
    discarded if anything inside fails, so a refused submission leaves nothing on disk."""
    body = await read_submission(
        request.headers.get("content-type"),
        _content_length(request),
        request.stream(),
        rt.settings,
        rt.store,
        json_part=json_part,
    )
    try:
        try:
            document = schema.model_validate(body.document)
        except ValidationError as exc:
            problem = validation_problem(exc)
            if schema is ReportIn and isinstance(body.document, dict):
                # every invalid field at once: the configured list limits too
                raw = {k: len(v) for k, v in body.document.items() if isinstance(v, list)}
                shown = {e["pointer"] for e in problem.errors}
                problem.errors += [
                    e for e in services.limit_errors(rt, raw) if e["pointer"] not in shown
                ]
            raise problem from exc
        yield document, body.files
    except BaseException:
        body.discard(rt.store)
        raise


@router.post(
    "",
    status_code=201,
    response_model=ReportAccepted,
    responses=_PROBLEMS,
    openapi_extra=_body_doc("ReportIn", "report"),
    summary="Submit a report (JSON, or multipart with a `report` part and files)",
)
async def submit_report(
    request: Request,
    rt: Runtime = Depends(runtime),
    _: None = Depends(public(Permission.public_report_submit)),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> ReportAccepted:
    rt.public_limiter.check(client_key(request, rt.settings.trust_forwarded_for))
    async with _received(request, rt, ReportIn, "report") as (report, files):
        return await services.submit_report(
            rt, PUBLIC, report, files, channel="api", idempotency_key=idempotency_key
        )


@router.post(
    "/{reference}/followups",
    status_code=201,
    response_model=FollowupAccepted,
    responses=_PROBLEMS,
    openapi_extra=_body_doc("FollowupIn", "followup"),
    summary="Add information or files to a report with its follow-up code",
)
async def submit_followup(
    reference: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _: None = Depends(public(Permission.public_followup_submit)),
) -> FollowupAccepted:
    client = client_key(request, rt.settings.trust_forwarded_for)
    rt.public_limiter.check(client)
    async with _received(request, rt, FollowupIn, "followup") as (followup, files):
        accepted = await thread.add_followup(
            rt, client, reference, followup.code, followup.text, files, channel="api"
        )
    FOLLOWUPS.labels("api").inc()
    return accepted


@router.get("", response_model=ReportPage, summary="Reports you may see, newest first")
def list_reports(
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.report_read)),
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReportPage:
    return reading.list_reports(
        rt, user, cursor=cursor, limit=limit, client=client_address(request)
    )


@router.get(
    "/export",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
        422: _PROBLEMS[422],
    },
    summary="Export the reports you may see, oldest first, as JSON lines or CSV; audited",
)
def export_reports(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    user: Annotated[StaffUser, Depends(require(Permission.report_export))],
    purpose: Annotated[str, Query(min_length=10, max_length=500, description="Why (audited)")],
    since: Annotated[datetime | None, Query(description="Received at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="Received before (UTC)")] = None,
    format: ExportFormat = ExportFormat.jsonl,
) -> PlainTextResponse:
    since, until = as_utc(since), as_utc(until)
    if since is not None and until is not None and since >= until:
        raise Problem(
            422,
            said("Invalid input"),
            said("'until' must be after 'since'."),
            errors=[{"pointer": "#/query/until", "detail": said("must be after since")}],
        )
    text = export.export_reports(
        rt,
        user,
        since=since,
        until=until,
        fmt=format,
        purpose=purpose,
        client=client_address(request),
    )
    return PlainTextResponse(
        text,
        media_type=export.MEDIA_TYPES[format],
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="vigil-reports.{format.value}"',
        },
    )


@router.get(
    "/{reference}",
    response_model=ReportOut,
    responses={404: _PROBLEMS[404]},
    summary="One report (never the reporter's identity)",
)
def get_report(
    reference: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.report_read)),
) -> ReportOut:
    return reading.get_report(rt, user, reference, client=client_address(request))


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation: Annotated[str | None, Field(max_length=200)] = None
    team: Annotated[str | None, Field(max_length=200)] = None
    purpose: Annotated[str, Field(min_length=1, max_length=1000)]
    conditions_accepted: bool = False


@router.get(
    "/{reference}/shares",
    response_model=list[ShareOut],
    responses={404: _PROBLEMS[404]},
    summary="Who this report is shared with",
)
def list_shares(
    reference: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.report_read)),
) -> list[ShareOut]:
    return reading.report_shares(rt, user, reference, client_address(request))


@router.post(
    "/{reference}/shares",
    status_code=201,
    response_model=ShareOut,
    responses={404: _PROBLEMS[404], 403: {"description": "No agreement covers it"}},
    summary="Share this report with a team or another organisation (under an agreement)",
)
def share_report(
    reference: str,
    body: ShareIn,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.record_share)),
) -> ShareOut:
    return reading.share_report(rt, user, reference, body, client_address(request))


@router.delete(
    "/{reference}/shares/{share_id}",
    response_model=ShareOut,
    responses={404: _PROBLEMS[404]},
    summary="Stop sharing (effective immediately)",
)
def revoke_share(
    reference: str,
    share_id: int,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.record_share)),
) -> ShareOut:
    return reading.revoke_report_share(rt, user, reference, share_id, client_address(request))


__all__ = ["Problem", "router"]
