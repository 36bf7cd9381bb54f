"""``GET /api/v1/jobs``: counts and job metadata for the platform's operators (jobs:job:read
holders of the receiving organisation), audited. Who else is refused: test_jobs_listing_scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, staff_token
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.jobs import NewJob, enqueue_many
from vigil.jobs.api import router
from vigil.web.app import create_app
from vigil.web.routes import iter_api_routes
from vigil.web.runtime import Runtime


@pytest.fixture
def jobs_client(rt: Runtime) -> Iterator[TestClient]:
    app = create_app(rt=rt)
    if all(path != "/api/v1/jobs" for path, _route in iter_api_routes(app.routes)):
        app.include_router(router)  # until the app factory lists the jobs area
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def operator(rt: Runtime) -> str:
    """An administrator of the receiving organisation (the platform's operators)."""
    return staff_token(rt, email="operator@example.org", role=Role.administrator)


def seed(rt: Runtime) -> None:
    rows = [NewJob("triage.report", f"triage.report:{n}", {"report_id": n}) for n in (1, 2, 3)]
    rows.append(NewJob("triage.attachment", "triage.attachment:9", {"attachment_id": 9}))
    rt.db.write_sync(lambda s: enqueue_many(s, rows))


def test_an_operator_sees_counts_and_jobs_without_payloads(
    jobs_client: TestClient, rt: Runtime
) -> None:
    seed(rt)
    response = jobs_client.get("/api/v1/jobs", headers=auth(operator(rt)))
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {
        "triage.attachment": {"queued": 1, "running": 0, "done": 0, "failed": 0},
        "triage.report": {"queued": 3, "running": 0, "done": 0, "failed": 0},
    }
    keys = [item["key"] for item in body["items"]]
    assert keys == ["triage.attachment:9", "triage.report:3", "triage.report:2", "triage.report:1"]
    assert set(body["items"][0]) == {
        "id",
        "kind",
        "key",
        "status",
        "attempts",
        "max_attempts",
        "run_after",
        "last_error",
        "created_at",
        "finished_at",
    }
    assert "report_id" not in response.text and "payload" not in response.text


def test_listing_filters_by_kind_and_status_and_is_audited(
    jobs_client: TestClient, rt: Runtime
) -> None:
    seed(rt)
    token = operator(rt)
    response = jobs_client.get(
        "/api/v1/jobs",
        params={"kind": "triage.report", "status": "queued", "limit": 2},
        headers=auth(token),
    )
    items = response.json()["items"]
    assert [i["key"] for i in items] == ["triage.report:3", "triage.report:2"]
    with rt.db.session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "jobs.listed"))
    assert event.actor_user_id is not None and event.record_type == "job"
    assert event.record_ids == [str(i["id"]) for i in items]
    assert event.purpose == "filter: status=queued, kind=triage.report, limit=2"


def test_bad_filters_are_refused(jobs_client: TestClient, rt: Runtime) -> None:
    token = operator(rt)
    for params in ({"limit": 501}, {"limit": 0}, {"status": "stuck"}):
        response = jobs_client.get("/api/v1/jobs", params=params, headers=auth(token))
        assert response.status_code == 422, params


def test_the_job_list_needs_the_jobs_read_permission(jobs_client: TestClient, rt: Runtime) -> None:
    assert jobs_client.get("/api/v1/jobs").status_code == 401
    analyst = staff_token(rt)  # triage analysts do not hold jobs:job:read
    assert jobs_client.get("/api/v1/jobs", headers=auth(analyst)).status_code == 403
    admin = staff_token(rt, email="admin@example.org", role=Role.administrator)
    assert jobs_client.get("/api/v1/jobs", headers=auth(admin)).status_code == 200
    with rt.db.session() as session:
        denied = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.denied")
        ).all()
    assert [e.purpose for e in denied] == ["GET /api/v1/jobs needs jobs:job:read"]
