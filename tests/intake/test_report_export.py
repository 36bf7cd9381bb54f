"""Staff export of reports through the API: only the reports the user may see, in the CLI's
formats, bounded in size, refused with a named error on bad input, and recorded as one
audit event naming every exported reference and the stated purpose."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, minimal_report, staff_token
from tests.search import OTHER_FORCE, move_report
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.export import CSV_FIELDS
from vigil.web.runtime import Runtime

PURPOSE = "Monthly return to the regional board"


def submit(client: TestClient, n: int) -> list[str]:
    return [
        client.post(
            "/api/v1/reports",
            json=minimal_report(description=f"Report number {i} about a van by the depot."),
        ).json()["reference"]
        for i in range(n)
    ]


def export(client: TestClient, token: str, **params: str) -> tuple[int, str]:
    answer = client.get(
        "/api/v1/reports/export", params={"purpose": PURPOSE, **params}, headers=auth(token)
    )
    return answer.status_code, answer.text


def exported_events(rt: Runtime) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "report.exported"))
        )


def test_export_holds_only_the_reports_the_user_may_see_oldest_first(
    client: TestClient, rt: Runtime
) -> None:
    mine = submit(client, 3)
    theirs = submit(client, 1)[0]
    move_report(rt, theirs, OTHER_FORCE)
    status, text = export(client, staff_token(rt, role=Role.supervisor))
    assert status == 200
    rows = [json.loads(line) for line in text.splitlines()]
    assert [row["reference"] for row in rows] == mine
    assert rows[0]["description"] == "Report number 0 about a van by the depot."
    assert all("identity" not in row and "reporter" not in row for row in rows)


def test_export_as_csv_has_the_clis_columns(client: TestClient, rt: Runtime) -> None:
    refs = submit(client, 2)
    status, text = export(client, staff_token(rt, role=Role.supervisor), format="csv")
    assert status == 200
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames == CSV_FIELDS
    assert [row["reference"] for row in rows] == refs
    assert json.loads(rows[0]["people"]) == []


def test_export_is_one_audit_event_with_the_purpose_and_every_reference(
    client: TestClient, rt: Runtime
) -> None:
    refs = submit(client, 3)
    status, _ = export(client, staff_token(rt, role=Role.supervisor))
    assert status == 200
    [event] = exported_events(rt)
    assert event.purpose == PURPOSE and sorted(event.record_ids) == sorted(refs)
    assert event.actor_user_id is not None


def test_dates_narrow_the_export(client: TestClient, rt: Runtime) -> None:
    submit(client, 2)
    token = staff_token(rt, role=Role.supervisor)
    status, text = export(client, token, since="2999-01-01T00:00:00")
    assert (status, text) == (200, "")
    status, text = export(client, token, until="2000-01-01T00:00:00Z")
    assert (status, text) == (200, "")


def test_more_reports_than_the_limit_is_refused_and_nothing_is_exported(
    client: TestClient, rt: Runtime
) -> None:
    rt.settings.export_max_reports = 2
    submit(client, 3)
    status, text = export(client, staff_token(rt, role=Role.supervisor))
    assert status == 422
    assert "More than 2 reports you may see match" in json.loads(text)["detail"]
    assert exported_events(rt) == []


def test_bad_input_is_refused_naming_the_field(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt, role=Role.supervisor)
    answer = client.get("/api/v1/reports/export", headers=auth(token))
    assert answer.status_code == 422 and "purpose" in answer.text
    status, text = export(client, token, purpose="short")
    assert status == 422 and "purpose" in text
    status, text = export(client, token, since="2026-02-01T00:00:00Z", until="2026-01-01T00:00:00Z")
    assert status == 422 and "#/query/until" in text
    status, text = export(client, token, format="xml")
    assert status == 422 and "format" in text
    assert exported_events(rt) == []


def test_a_role_without_the_export_permission_is_refused(client: TestClient, rt: Runtime) -> None:
    submit(client, 1)
    status, _ = export(client, staff_token(rt, email="p@example.org", role=Role.auditor))
    assert status == 403
    assert exported_events(rt) == []
