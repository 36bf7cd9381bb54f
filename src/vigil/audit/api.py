"""The audit log for auditors: search, export and chain verification over the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit import services
from vigil.audit.schemas import AuditEventOut, AuditFilter, AuditPage, ChainVerdict
from vigil.web.runtime import Runtime, runtime

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def criteria(
    user_id: Annotated[int | None, Query(ge=1, description="Who acted")] = None,
    record: Annotated[
        str | None, Query(max_length=100, description="A record id or reference")
    ] = None,
    action: Annotated[str | None, Query(max_length=60, description="e.g. report.viewed")] = None,
    since: Annotated[datetime | None, Query(description="From this time (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (UTC)")] = None,
) -> AuditFilter:
    return AuditFilter(user_id=user_id, record=record, action=action, since=since, until=until)


@router.get("/events", response_model=AuditPage, summary="Search the audit log (oldest first)")
def search(
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.audit_read)),
    where: AuditFilter = Depends(criteria),
    cursor: Annotated[
        int | None, Query(ge=0, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Need-to-know applies to the log too: the events of the auditor's own organisation's
    staff; auditors of the receiving organisation also see events with no staff actor (the
    public, the system). The export and the console's pages read the same part."""
    return services.search_events(
        rt, user, where, after=cursor, limit=limit, client=client_address(request)
    )


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@router.get("/export", summary="Export matching audit events (JSON lines or CSV)")
def export(
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.audit_export)),
    where: AuditFilter = Depends(criteria),
    format: ExportFormat = ExportFormat.jsonl,
) -> StreamingResponse:
    """The same events as the search would list, every page of them."""
    rows = services.export_events(rt, user, where, client_address(request))
    if format is ExportFormat.jsonl:
        body: Iterator[bytes] = (orjson.dumps(r) + b"\n" for r in rows)
        return StreamingResponse(body, media_type="application/x-ndjson")
    return StreamingResponse(_csv(rows), media_type="text/csv")


def _csv(rows: list[dict[str, Any]]) -> Iterator[bytes]:
    """The log's own columns, then who the actor is (``services.ACTOR_FIELDS``)."""
    fields = [*AuditEventOut.model_fields, *services.ACTOR_FIELDS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "record_ids": " ".join(row["record_ids"])})
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


@router.get("/verify", response_model=ChainVerdict, summary="Prove the audit chain now")
def verify(
    request: Request,
    rt: Runtime = Depends(runtime),
    user: StaffUser = Depends(require(Permission.audit_read)),
) -> ChainVerdict:
    return services.verify_chain(rt, user, client_address(request))
