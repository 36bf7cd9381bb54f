"""Report exports are safe to open in a spreadsheet and complete whichever format is chosen.

Reports are written by the public, so a CSV cell that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@``) must arrive as text: the export uses the linkage exports' guard,
a leading apostrophe. The JSON lines are evidence and keep every value exactly as sent. The
CSV holds every field of the JSON lines. And the intake counter counts each stored report
once, however often its Idempotency-Key is replayed.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.factories import auth, minimal_report, report_payload, staff_token
from tests.scratch import Cli
from vigil.access.permissions import Role
from vigil.intake.export import CSV_FIELDS, ExportFormat, ReportExportWriter
from vigil.intake.models import Report
from vigil.intake.schemas import ReportOut
from vigil.settings import get_settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

PURPOSE = "Checking the export opens safely in a spreadsheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HYPERLINK = '=HYPERLINK("http://evil.example","click")'
SUM = "@SUM(1+1)"
COMMAND = "+cmd|calc"
MINUS = "-2+3 said the note on the door"
SPREADSHEET_SUM = "=SUM(A1:A9) written on the wall"


def formula_report() -> dict[str, Any]:
    """A synthetic report whose text fields each try to start a spreadsheet formula."""
    return report_payload(
        description=HYPERLINK,
        when={"description": MINUS, "ongoing": True, "unsure": True},
        where={
            "address": COMMAND,
            "description": "\t" + SPREADSHEET_SUM,
            "lat": 53.82,
            "lon": -1.57,
        },
        people=[{"name": SUM, "behaviour": "=1+1"}],
        reporter=None,
    )


def export(client: TestClient, token: str, fmt: str) -> str:
    answer = client.get(
        "/api/v1/reports/export",
        params={"purpose": PURPOSE, "format": fmt},
        headers=auth(token),
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames == CSV_FIELDS
    return rows


def assert_no_live_formula(rows: list[dict[str, str]]) -> None:
    """No cell starts a formula, except plain numbers (a negative longitude)."""
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(FORMULA_START):
                float(cell)  # raises, naming the cell, if it is not a plain number
                assert column in {"where_lat", "where_lon"}, (column, cell)


def assert_formulas_neutralised(row: dict[str, str]) -> None:
    assert row["description"] == "'" + HYPERLINK
    assert row["where_address"] == "'" + COMMAND
    assert row["when_description"] == "'" + MINUS
    # Intake trims the tab that would hide the formula; the guard then catches the formula.
    assert row["where_description"] == "'" + SPREADSHEET_SUM
    # Nested values are a JSON cell (never a formula); inside it the text is as sent.
    assert row["people"].startswith("[")
    [person] = json.loads(row["people"])
    assert (person["name"], person["behaviour"]) == (SUM, "=1+1")


def assert_kept_as_sent(record: dict[str, Any]) -> None:
    assert record["description"] == HYPERLINK
    assert record["where"]["address"] == COMMAND
    assert record["where"]["description"] == SPREADSHEET_SUM
    assert record["when"]["description"] == MINUS
    assert record["people"][0]["name"] == SUM


def test_api_csv_export_writes_formula_text_as_text_and_jsonl_keeps_it_as_sent(
    client: TestClient, rt: Runtime
) -> None:
    sent = client.post("/api/v1/reports", json=formula_report())
    assert sent.status_code == 201, sent.text
    token = staff_token(rt, role=Role.supervisor)

    [row] = csv_rows(export(client, token, "csv"))
    assert_no_live_formula([row])
    assert_formulas_neutralised(row)
    assert row["where_lon"] == "-1.57"  # a number stays a number

    [line] = export(client, token, "jsonl").splitlines()
    assert_kept_as_sent(json.loads(line))


def test_cli_csv_export_writes_formula_text_as_text_and_jsonl_keeps_it_as_sent(
    migrated: Cli,
) -> None:
    with TestClient(create_app(get_settings())) as client:
        sent = client.post("/api/v1/reports", json=formula_report())
        assert sent.status_code == 201, sent.text

    [row] = csv_rows(migrated("reports", "export", "--format", "csv").stdout)
    assert_no_live_formula([row])
    assert_formulas_neutralised(row)

    [line] = migrated("reports", "export", "--format", "jsonl").stdout.splitlines()
    assert_kept_as_sent(json.loads(line))


def _columns_of(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON-lines record keyed by CSV column: ``when.x`` is ``when_x``, and so on."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key in {"when", "where"}:
            flat.update({f"{key}_{name}": part for name, part in (value or {}).items()})
        else:
            flat[key] = value
    return flat


def _cell_holds(cell: str, value: Any) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, list | dict):
        return bool(json.loads(cell) == value)
    if isinstance(value, str):
        return cell.removeprefix("'") == value
    return cell == str(value)


def test_every_jsonl_field_has_its_csv_column_holding_the_same_value(
    client: TestClient, rt: Runtime
) -> None:
    full = report_payload(
        when={"start": "2026-11-26T02:00:00Z", "description": "most nights", "unsure": True},
    )
    for payload in (full, minimal_report(), formula_report()):
        assert client.post("/api/v1/reports", json=payload).status_code == 201
    token = staff_token(rt, role=Role.supervisor)
    records = [json.loads(line) for line in export(client, token, "jsonl").splitlines()]
    rows = csv_rows(export(client, token, "csv"))
    assert len(rows) == len(records) == 3

    for record, row in zip(records, rows, strict=True):
        columns = _columns_of(record)
        assert set(columns) <= set(CSV_FIELDS), set(columns) - set(CSV_FIELDS)
        wrong = {k: (v, row[k]) for k, v in columns.items() if not _cell_holds(row[k], v)}
        assert not wrong, wrong
    first = rows[0]
    assert (first["when_description"], first["when_unsure"]) == ("most nights", "True")
    assert first["when_ongoing"] == "False"
    assert first["where_description"] == "outside the community centre"


def test_a_field_without_a_csv_column_is_refused_rather_than_dropped() -> None:
    class WiderReport(ReportOut):
        new_field: str = "not in the CSV"

    wider = WiderReport.model_validate(
        {
            "reference": "VGL-TEST-2222",
            "received_at": "2026-01-01T00:00:00Z",
            "channel": "api",
            "kind": "other",
            "description": "A synthetic report for the writer.",
            "anonymous": True,
            "when": None,
            "where": None,
            "people": [],
            "vehicles": [],
            "online": [],
            "attachments": [],
            "followups": 0,
        }
    )
    with pytest.raises(ValueError, match="new_field"):
        ReportExportWriter(io.StringIO(), ExportFormat.csv).write([wider])


# --- the intake counter ----------------------------------------------------------------------


def received_total(client: TestClient, channel: str = "api") -> float:
    """vigil_reports_received_total{channel=...}, as /metrics exposes it."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "vigil_reports_received_total" and sample.labels == {
                "channel": channel
            }:
                return sample.value
    return 0.0


def stored_reports(rt: Runtime) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def test_replaying_an_idempotency_key_counts_the_report_once(
    client: TestClient, rt: Runtime
) -> None:
    before = received_total(client)
    headers = {"Idempotency-Key": "synthetic-replay-key"}
    answers = [
        client.post("/api/v1/reports", json=minimal_report(), headers=headers) for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["reference"] for a in answers}) == 1
    assert received_total(client) - before == 1 == stored_reports(rt)

    other = client.post("/api/v1/reports", json=minimal_report())  # no key: always new
    assert other.status_code == 201
    assert received_total(client) - before == 2 == stored_reports(rt)

    different = minimal_report(description="A different report about a parked lorry.")
    refused = client.post("/api/v1/reports", json=different, headers=headers)
    assert refused.status_code == 409
    assert received_total(client) - before == 2 == stored_reports(rt)
