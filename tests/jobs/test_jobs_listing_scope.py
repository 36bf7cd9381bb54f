"""The job queue is the platform's, shared by every organisation: its counts cover every
organisation's reports and its keys name records and follow-ups. Only administrators of the
receiving organisation (the platform's operators) list it; a supervisor, or an administrator
of another organisation, is refused like any role without the permission (403), learns
nothing about the queue, and the refusal is audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, staff_token
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.audit.models import AuditEvent
from vigil.jobs import NewJob, enqueue_many
from vigil.web.runtime import Runtime

FORCE = "Westshire Police"
FOLLOWUP_KEY = "triage.report:201:followup:2"


def seed(rt: Runtime) -> None:
    """Jobs about reports of every organisation, one naming a follow-up."""
    rows = [NewJob("linkage.report", f"linkage.report:{n}", {"report_id": n}) for n in (7, 201)]
    rows.append(NewJob("triage.report", FOLLOWUP_KEY, {"report_id": 201}))
    rt.db.write_sync(lambda s: enqueue_many(s, rows))


def force_staff(rt: Runtime, email: str, role: Role) -> str:
    return staff_token(rt, email, role=role, org=FORCE, org_kind=OrganisationKind.police)


def events(rt: Runtime, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_only_administrators_hold_the_jobs_permission() -> None:
    holders = {role for role in Role if Permission.jobs_read in permissions_for(role)}
    assert holders == {Role.administrator}


@pytest.mark.parametrize(
    "who",
    [
        ("supervisor@westshire.example.org", Role.supervisor, FORCE),
        ("admin@westshire.example.org", Role.administrator, FORCE),
        ("supervisor@example.org", Role.supervisor, None),  # even the hub's supervisors
    ],
    ids=["force supervisor", "force administrator", "hub supervisor"],
)
def test_anyone_but_the_platforms_operators_is_refused_and_learns_nothing(
    client: TestClient, rt: Runtime, who: tuple[str, Role, str | None]
) -> None:
    seed(rt)
    email, role, org = who
    kind = OrganisationKind.police if org else OrganisationKind.ct_policing
    token = staff_token(rt, email, role=role, org=org, org_kind=kind)
    response = client.get("/api/v1/jobs", headers=auth(token))
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role does not allow this."
    for leak in ("201", "followup", "linkage.report", "done", "queued", "summary"):
        assert leak not in response.text, leak
    assert events(rt, "jobs.listed") == []
    (denied,) = events(rt, "access.denied")
    assert denied.outcome == "denied" and "jobs:job:read" in (denied.purpose or "")


def test_the_refusal_is_the_same_for_the_wrong_organisation_as_for_the_wrong_role(
    client: TestClient, rt: Runtime
) -> None:
    seed(rt)
    admin = client.get(
        "/api/v1/jobs",
        headers=auth(force_staff(rt, "admin@westshire.example.org", Role.administrator)),
    )
    supervisor = client.get(
        "/api/v1/jobs",
        headers=auth(force_staff(rt, "supervisor@westshire.example.org", Role.supervisor)),
    )
    assert admin.status_code == supervisor.status_code == 403
    assert admin.json() == supervisor.json()
    assert admin.headers["content-type"] == supervisor.headers["content-type"]


def test_the_receiving_organisations_administrator_sees_every_job(
    client: TestClient, rt: Runtime
) -> None:
    seed(rt)
    operator = staff_token(rt, "operator@example.org", role=Role.administrator)
    response = client.get("/api/v1/jobs", headers=auth(operator))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"]["linkage.report"]["queued"] == 2
    assert FOLLOWUP_KEY in [item["key"] for item in body["items"]]
    (listed,) = events(rt, "jobs.listed")
    assert listed.actor_user_id is not None
