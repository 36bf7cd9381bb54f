"""Auditors search, export and verify the log through the API; nobody else can."""

from __future__ import annotations

import csv
import io

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, minimal_report, staff_token
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.web.runtime import Runtime


def auditor(rt: Runtime) -> str:
    return staff_token(rt, email="auditor@example.org", role=Role.auditor)


def test_auditor_searches_by_record_action_and_user(client: TestClient, rt: Runtime) -> None:
    reference = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    client.post("/api/v1/reports", json=minimal_report())
    analyst = staff_token(rt)
    client.get(f"/api/v1/reports/{reference}", headers=auth(analyst))
    token = auditor(rt)

    by_record = client.get(
        "/api/v1/audit/events", params={"record": reference}, headers=auth(token)
    )
    assert by_record.status_code == 200
    assert {e["action"] for e in by_record.json()["items"]} == {"report.collected", "report.viewed"}

    viewed = client.get(
        "/api/v1/audit/events", params={"action": "report.viewed"}, headers=auth(token)
    )
    (event,) = viewed.json()["items"]
    assert event["record_ids"] == [reference] and event["actor_user_id"] is not None

    by_user = client.get(
        "/api/v1/audit/events", params={"user_id": event["actor_user_id"]}, headers=auth(token)
    ).json()["items"]
    assert [e["action"] for e in by_user] == ["report.viewed"]


def test_search_pages_in_chain_order_and_is_itself_audited(client: TestClient, rt: Runtime) -> None:
    for _ in range(5):
        client.post("/api/v1/reports", json=minimal_report())
    token = auditor(rt)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"action": "report.collected", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/v1/audit/events", params=params, headers=auth(token)).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)
    with rt.db.session() as session:
        searches = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.searched")
        ).all()
        assert len(searches) == 3 and "action=report.collected" in (searches[0].purpose or "")


def test_export_as_json_lines_and_csv(client: TestClient, rt: Runtime) -> None:
    reference = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    token = auditor(rt)
    lines = client.get("/api/v1/audit/export", params={"record": reference}, headers=auth(token))
    events = [orjson.loads(line) for line in lines.content.splitlines()]
    assert [e["action"] for e in events] == ["report.collected"]
    table = client.get(
        "/api/v1/audit/export", params={"record": reference, "format": "csv"}, headers=auth(token)
    )
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert rows[0]["record_ids"] == reference


def test_verify_reports_an_intact_chain(client: TestClient, rt: Runtime) -> None:
    client.post("/api/v1/reports", json=minimal_report())
    verdict = client.get("/api/v1/audit/verify", headers=auth(auditor(rt))).json()
    assert verdict["ok"] is True and verdict["checked"] >= 1


def test_only_auditors_may_read_the_log(client: TestClient, rt: Runtime) -> None:
    assert client.get("/api/v1/audit/events").status_code == 401
    analyst = staff_token(rt)
    for path in ("/api/v1/audit/events", "/api/v1/audit/export", "/api/v1/audit/verify"):
        assert client.get(path, headers=auth(analyst)).status_code == 403


def test_audit_rows_never_hold_report_text_or_identity(client: TestClient, rt: Runtime) -> None:
    client.post(
        "/api/v1/reports",
        json=minimal_report(
            description="Marker-text-4471 about a parked lorry near the depot.",
            reporter={"anonymous": False, "name": "Quentin Marker", "email": "qm@example.org"},
        ),
    )
    export = client.get("/api/v1/audit/export", headers=auth(auditor(rt))).text
    assert (
        "Marker-text-4471" not in export
        and "Quentin" not in export
        and "qm@example.org" not in export
    )


def test_permission_failures_are_audited(client: TestClient, rt: Runtime) -> None:
    client.get("/api/v1/audit/events", headers=auth(staff_token(rt)))
    with rt.db.session() as session:
        denied = session.scalar(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        assert denied is not None and denied.outcome == "denied"
        assert "audit:event:read" in (denied.purpose or "")
