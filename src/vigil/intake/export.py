"""Exporting reports as JSON lines or CSV: one format for the administrators' CLI and the
staff API, so a file from either reads the same.

An export is a consultation of every report in it, so the staff path reads through the
policy filter, builds each row from the role's field allow-list, and records one
``report.exported`` event naming every reference and the stated purpose, in the same
transaction as the read. Exports are bounded (``VIGIL_EXPORT_MAX_REPORTS``): a request
matching more is refused with a clear error instead of building an unbounded file in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.fields import restrict_report
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Report
from vigil.intake.reading import followup_counts
from vigil.intake.schemas import ReportOut
from vigil.intake.views import report_out
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime
from vigil.web.said import said


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


MEDIA_TYPES = {ExportFormat.jsonl: "application/x-ndjson", ExportFormat.csv: "text/csv"}
CSV_FIELDS = [
    "reference",
    "received_at",
    "channel",
    "kind",
    "description",
    "anonymous",
    "when_start",
    "when_end",
    "where_address",
    "where_postcode",
    "where_lat",
    "where_lon",
    "people",
    "vehicles",
    "online",
    "attachments",
    "followups",
]
_NESTED = ("people", "vehicles", "online", "attachments")


class ReportExportWriter:
    """Writes reports to a text stream in one of the export formats (CSV: header first;
    nested lists as JSON in their cell; a field the reader's role may not see is empty)."""

    def __init__(self, out: TextIO, fmt: ExportFormat) -> None:
        self.out = out
        self.csv = csv.DictWriter(out, fieldnames=CSV_FIELDS) if fmt is ExportFormat.csv else None
        if self.csv is not None:
            self.csv.writeheader()

    def write(self, reports: Iterable[ReportOut]) -> None:
        for report in reports:
            data = report.model_dump(mode="json")
            if self.csv is None:
                self.out.write(orjson.dumps(data).decode() + "\n")
            else:
                self.csv.writerow(_flat(data))


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    when, where = data.get("when") or {}, data.get("where") or {}
    flat = {key: data.get(key) for key in CSV_FIELDS}
    flat.update(
        when_start=when.get("start"),
        when_end=when.get("end"),
        where_address=where.get("address"),
        where_postcode=where.get("postcode"),
        where_lat=where.get("lat"),
        where_lon=where.get("lon"),
    )
    for key in _NESTED:
        flat[key] = orjson.dumps(data[key]).decode() if data.get(key) is not None else None
    return flat


def report_rows(session: Session, rows: list[Report]) -> list[ReportOut]:
    """The full export row of each report (the CLI's; the API narrows it per role)."""
    counts = followup_counts(session, [r.id for r in rows])
    return [report_out(row, counts.get(row.id, 0)) for row in rows]


def export_reports(
    rt: Runtime,
    user: StaffUser,
    *,
    since: datetime | None,
    until: datetime | None,
    fmt: ExportFormat,
    purpose: str,
    client: str | None = None,
) -> str:
    """The reports this user may see received in [since, until), oldest first, as one file."""
    limit = rt.settings.export_max_reports

    def work(session: Session) -> str:
        query = select(Report).where(policy.reports(user))
        if since is not None:
            query = query.where(Report.received_at >= since)
        if until is not None:
            query = query.where(Report.received_at < until)
        rows = list(session.scalars(query.order_by(Report.received_at, Report.id).limit(limit + 1)))
        if len(rows) > limit:
            raise Problem(
                422,
                said("Too many reports to export"),
                said(
                    "More than %(limit)s reports you may see match. Narrow the dates with "
                    "'since' and 'until'.",
                    limit=format(limit, ","),
                ),
                kind="export-too-large",
            )
        record_event(
            session,
            user.actor(client),
            "report.exported",
            record_type="report",
            record_ids=[row.reference for row in rows],
            purpose=purpose,
        )
        out = io.StringIO()
        ReportExportWriter(out, fmt).write(
            restrict_report(report, user.role) for report in report_rows(session, rows)
        )
        return out.getvalue()

    return rt.db.write_sync(work, as_user=user.id)
