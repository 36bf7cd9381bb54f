"""Exporting reports as JSON lines or CSV: one format for the administrators' CLI and the
staff API, so a file from either reads the same.

An export is a consultation of every report in it, so the staff path reads through the
policy filter, builds each row from the role's field allow-list, and records one
``report.exported`` event naming every reference and the stated purpose, in the same
transaction as the read. Exports are bounded (``VIGIL_EXPORT_MAX_REPORTS``): a request
matching more is refused with a clear error instead of building an unbounded file in memory.

The CSV carries every field of the JSON lines, so choosing a format never loses information:
``when`` and ``where`` are spread over ``when_*`` and ``where_*`` columns (columns added
later come last, so a script that reads columns by position keeps working). Reports are
written by the public, so a CSV cell a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``) is written with a leading apostrophe by the same guard as the linkage
exports; the JSON lines keep every value exactly as stored, as evidence.
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
from vigil.linkage.formats import guard_cell
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
    "when_ongoing",
    "when_unsure",
    "when_description",
    "where_description",
    "withheld",
    "triage",
]
"""CSV columns: the report's top-level fields by name, ``when.x`` as ``when_x`` and
``where.x`` as ``where_x``."""
_SPREAD = ("when", "where")
_NESTED = ("people", "vehicles", "online", "attachments", "withheld", "triage")


class ReportExportWriter:
    """Writes reports to a text stream in one of the export formats (CSV: header first;
    nested lists as JSON in their cell; a field the reader's role may not see is empty and
    named in ``withheld``; text that would start a spreadsheet formula is guarded)."""

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
    """One CSV row: ``when`` and ``where`` spread over their columns, nested values as JSON,
    and every text cell guarded against being run as a spreadsheet formula.

    A field with no column reaches the writer, which refuses it (ValueError) rather than
    leave it out: the CSV must not silently hold less than the JSON lines.
    """
    flat = {key: value for key, value in data.items() if key not in _SPREAD}
    for part in _SPREAD:
        flat.update({f"{part}_{name}": value for name, value in (data.get(part) or {}).items()})
    for key in _NESTED:
        flat[key] = orjson.dumps(flat[key]).decode() if flat.get(key) is not None else None
    return {
        key: guard_cell(value) if isinstance(value, str) else value for key, value in flat.items()
    }


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
