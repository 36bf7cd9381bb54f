"""The auditor's export and search API name who acted: each event's user by e-mail address
and its organisation by name, looked up when read (the log itself holds only their numbers)."""

from __future__ import annotations

import csv
import io

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, minimal_report, staff_token
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.web.runtime import Runtime

PARTNER_ORG = "Northshire Council Prevent Team"
PARTNER = "practitioner@example.org"


def partner_searched(client: TestClient, rt: Runtime) -> int:
    """A partner agency's practitioner searches cases; their user number."""
    token = staff_token(
        rt,
        PARTNER,
        role=Role.partner_practitioner,
        org=PARTNER_ORG,
        org_kind=OrganisationKind.local_authority,
        teams=(),
    )
    searched = client.get("/api/v1/search", params={"q": "depot"}, headers=auth(token))
    assert searched.status_code == 200, searched.text
    found = rt.db.write_sync(lambda s: s.scalar(select(User.id).where(User.email == PARTNER)))
    assert found is not None
    return int(found)


def partner_auditor(rt: Runtime) -> str:
    """An auditor of the partner agency: the one who may read its staff's events."""
    return staff_token(
        rt,
        "auditor@northshire.example.org",
        role=Role.auditor,
        org=PARTNER_ORG,
        org_kind=OrganisationKind.local_authority,
        teams=(),
    )


def test_the_export_names_each_actor_by_e_mail_and_organisation(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    partner_id = partner_searched(client, rt)
    token = partner_auditor(rt)

    lines = client.get(
        "/api/v1/audit/export", params={"action": "search.performed"}, headers=auth(token)
    )
    (event,) = [orjson.loads(line) for line in lines.content.splitlines()]
    assert (event["actor_user_id"], event["actor_label"]) == (partner_id, f"user:{partner_id}")
    assert (event["actor_email"], event["actor_organisation"]) == (PARTNER, PARTNER_ORG)

    table = client.get(
        "/api/v1/audit/export",
        params={"action": "search.performed", "format": "csv"},
        headers=auth(token),
    )
    (row,) = list(csv.DictReader(io.StringIO(table.text)))
    assert (row["actor_email"], row["actor_organisation"]) == (PARTNER, PARTNER_ORG)
    assert row["actor_user_id"] == str(partner_id)

    # The public, who are never identified, have neither (their events are the receiving
    # organisation's auditors' to read).
    token = staff_token(rt, email="auditor@example.org", role=Role.auditor)
    public = client.get("/api/v1/audit/export", params={"record": reference}, headers=auth(token))
    (collected,) = [orjson.loads(line) for line in public.content.splitlines()]
    assert collected["actor_label"] == "public"
    assert (collected["actor_email"], collected["actor_organisation"]) == (None, None)
    public_csv = client.get(
        "/api/v1/audit/export", params={"record": reference, "format": "csv"}, headers=auth(token)
    )
    (collected_row,) = list(csv.DictReader(io.StringIO(public_csv.text)))
    assert (collected_row["actor_email"], collected_row["actor_organisation"]) == ("", "")
    assert collected_row["record_ids"] == reference


def test_the_search_api_names_each_actor_too(client: TestClient, rt: Runtime) -> None:
    partner_id = partner_searched(client, rt)
    token = partner_auditor(rt)
    found = client.get(
        "/api/v1/audit/events", params={"action": "search.performed"}, headers=auth(token)
    )
    assert found.status_code == 200, found.text
    (event,) = found.json()["items"]
    assert event["actor_user_id"] == partner_id
    assert (event["actor_email"], event["actor_organisation"]) == (PARTNER, PARTNER_ORG)
