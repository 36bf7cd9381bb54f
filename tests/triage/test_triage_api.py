"""The analyst's triage API: the queue, claims, grading, outcomes, corrections, weights."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, minimal_report, staff_token
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.jobs.models import Job
from vigil.jobs.worker import Worker
from vigil.triage.tasks import default_registry
from vigil.web.runtime import Runtime

THREAT = (
    "I heard the man in flat 3 say on the phone he is going to bomb the Arndale Centre "
    "tomorrow night. He has bags of ammonium nitrate in his garage and a white van AB12 CDE. "
    "His number is 07700 900123."
)
VAGUE = "There is something odd about the house on the corner, it just feels wrong to me."


def submit(client: TestClient, description: str, **extra: Any) -> str:
    response = client.post("/api/v1/reports", json=minimal_report(description=description, **extra))
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def run_pipeline(rt: Runtime) -> int:
    return Worker(rt, default_registry(), poll_s=0.01).run_until_idle()


def report(client: TestClient, token: str, reference: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/reports/{reference}", headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_new_report_is_in_the_queue_before_its_pipeline_runs_then_gets_a_priority(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, THREAT)
    queue = client.get("/api/v1/triage/queue", headers=auth(token)).json()
    assert [(i["reference"], i["status"], i["priority"]) for i in queue["items"]] == [
        (ref, "pending", None)
    ]
    assert report(client, token, ref)["triage"]["status"] == "pending"

    assert run_pipeline(rt) == 2  # the triage job, then the linkage job it queued
    triage = report(client, token, ref)["triage"]
    assert triage["status"] == "done"
    assert triage["priority"] == "P1"
    assert triage["due_at"] is not None and triage["config_version"] is None
    assert all({"code", "label", "weight", "evidence"} <= set(f) for f in triage["factors"])
    kinds = {(e["kind"], e["value"]) for e in triage["entities"]}
    assert {("phone", "+447700900123"), ("vrm", "AB12CDE")} <= kinds
    phone = next(e for e in triage["entities"] if e["kind"] == "phone")
    assert THREAT[phone["start"] : phone["end"]] == phone["text"]
    assert any(c["evidence"] for c in triage["categories"])
    assert [h["action"] for h in triage["history"]] == ["triaged"]


def test_queue_puts_the_most_urgent_first_and_filters(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    vague = submit(client, VAGUE)
    urgent = submit(client, THREAT)
    run_pipeline(rt)
    items = client.get("/api/v1/triage/queue", headers=auth(token)).json()["items"]
    assert [i["reference"] for i in items] == [urgent, vague]
    p1 = client.get("/api/v1/triage/queue?priority=P1", headers=auth(token)).json()["items"]
    assert [i["reference"] for i in p1] == [urgent]
    bad = client.get("/api/v1/triage/queue?state=bogus", headers=auth(token))
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "#/state"


def test_queue_shows_nothing_to_a_team_that_may_not_see_the_reports(
    client: TestClient, rt: Runtime
) -> None:
    submit(client, THREAT)
    run_pipeline(rt)
    other = staff_token(rt, "other@example.org", org="Northern CT Unit", teams=("North",))
    response = client.get("/api/v1/triage/queue", headers=auth(other))
    assert response.status_code == 200 and response.json()["items"] == []


def test_queue_needs_the_permission(client: TestClient, rt: Runtime) -> None:
    partner = staff_token(rt, "partner@example.org", role=Role.partner_practitioner)
    assert client.get("/api/v1/triage/queue", headers=auth(partner)).status_code == 403
    assert client.get("/api/v1/triage/queue").status_code == 401


def test_a_claimed_report_cannot_be_claimed_by_another_until_released(
    client: TestClient, rt: Runtime
) -> None:
    first = staff_token(rt)
    second = staff_token(rt, "second@example.org")
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}"
    assert client.post(f"{url}/claim", headers=auth(first)).json()["state"] == "claimed"
    assert client.post(f"{url}/claim", headers=auth(second)).status_code == 409
    mine = client.get("/api/v1/triage/queue?mine=true", headers=auth(first)).json()["items"]
    assert [i["claimed_by"] for i in mine] == ["analyst@example.org"]
    assert client.post(f"{url}/release", headers=auth(first)).status_code == 200
    assert client.post(f"{url}/claim", headers=auth(second)).status_code == 200


def test_assigning_needs_an_analyst_who_may_see_the_report(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    staff_token(rt, "colleague@example.org")
    staff_token(rt, "outsider@example.org", org="Northern CT Unit", teams=("North",))
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}/assign"
    refused = client.post(
        url, json={"assignee": "outsider@example.org", "reason": "cover"}, headers=auth(token)
    )
    assert refused.status_code == 422
    given = client.post(
        url, json={"assignee": "colleague@example.org", "reason": "cover"}, headers=auth(token)
    )
    assert given.status_code == 200
    triage = report(client, token, ref)["triage"]
    assert triage["claimed_by"] == "colleague@example.org"
    assert triage["history"][-1]["detail"] == {"to": "colleague@example.org"}


def test_grading_is_validated_field_by_field_and_recorded(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}/grade"
    bad = client.post(
        url,
        json={"source": "4", "intelligence": "B", "handling": "C", "reason": "seen it"},
        headers=auth(token),
    )
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {"#/source", "#/conditions"}
    good = client.post(
        url,
        json={"source": "2", "intelligence": "B", "handling": "P", "reason": "corroborated"},
        headers=auth(token),
    )
    assert good.status_code == 200
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == ref))
        assert row is not None
        assert (row.source_evaluation, row.intelligence_assessment, row.handling_code) == (
            "2",
            "B",
            "P",
        )
    history = report(client, token, ref)["triage"]["history"]
    assert history[-1]["action"] == "graded" and history[-1]["by"] == "analyst@example.org"


def test_an_outcome_needs_a_reason_and_its_detail_and_can_cover_the_whole_cluster(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    refs = [submit(client, THREAT) for _ in range(3)]
    run_pipeline(rt)
    cluster = report(client, token, refs[0])["triage"]["cluster"]
    assert cluster is not None and cluster["size"] == 3
    url = f"/api/v1/triage/reports/{refs[0]}/outcome"
    missing = client.post(
        url, json={"outcome": "add_to_case", "reason": "same event"}, headers=auth(token)
    )
    assert missing.status_code == 422
    done = client.post(
        url,
        json={"outcome": "escalate", "reason": "threat to life", "whole_cluster": True},
        headers=auth(token),
    )
    assert done.status_code == 200, done.text
    assert sorted(done.json()["references"]) == sorted(refs)
    again = client.post(url, json={"outcome": "escalate", "reason": "twice"}, headers=auth(token))
    assert again.status_code == 409
    left = client.get("/api/v1/triage/queue", headers=auth(token)).json()["items"]
    assert left == []
    with rt.db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "triage.escalated"))
        assert event is not None and sorted(event.record_ids) == sorted(refs)


def test_a_rejected_item_stays_rejected_when_the_pipeline_runs_again_and_is_counted(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, THREAT)
    run_pipeline(rt)
    phone = next(
        e for e in report(client, token, ref)["triage"]["entities"] if e["kind"] == "phone"
    )
    url = f"/api/v1/triage/reports/{ref}/items/{phone['id']}"
    fixed = client.patch(
        url,
        json={"action": "replace", "value": "+447700900124", "reason": "typo in report"},
        headers=auth(token),
    )
    assert fixed.status_code == 200 and fixed.json()["source"] == "analyst"
    assert fixed.json()["corrects_item_id"] == phone["id"]
    with rt.db.session() as session:  # the reporter adds something: the pipeline runs again
        from vigil.triage.tasks import retriage

        retriage(session, session.scalar(select(Report.id)) or 0, "test")
        session.commit()
    run_pipeline(rt)
    phones = [
        (e["value"], e["status"])
        for e in report(client, token, ref)["triage"]["entities"]
        if e["kind"] == "phone"
    ]
    assert sorted(phones) == [("+447700900123", "rejected"), ("+447700900124", "active")]
    measures = client.get("/api/v1/triage/measures", headers=auth(token)).json()
    assert measures["items_corrected"] == {"phone": 1}


def test_category_corrections_are_checked_kept_and_filter_the_queue(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    run_pipeline(rt)
    url = f"/api/v1/triage/reports/{ref}/categories"
    unknown = client.patch(url, json={"add": ["astrology"], "reason": "x" * 5}, headers=auth(token))
    assert unknown.status_code == 422
    added = client.patch(
        url, json={"add": ["photography"], "reason": "photos mentioned"}, headers=auth(token)
    )
    assert added.status_code == 200
    found = client.get("/api/v1/triage/queue?category=photography", headers=auth(token)).json()
    assert [i["reference"] for i in found["items"]] == [ref]
    run_pipeline(rt)
    categories = report(client, token, ref)["triage"]["categories"]
    assert {(c["code"], c["source"]) for c in categories} >= {("photography", "analyst")}


def test_weights_change_only_when_valid_by_an_administrator_and_are_audited(
    client: TestClient, rt: Runtime
) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    analyst = staff_token(rt)
    current = client.get("/api/v1/triage/config", headers=auth(admin)).json()
    assert current["version"] is None
    body = current["body"]
    assert (
        client.put(
            "/api/v1/triage/config",
            json={"body": body, "reason": "no change"},
            headers=auth(analyst),
        ).status_code
        == 403
    )
    broken = client.put(
        "/api/v1/triage/config",
        json={"body": {**body, "unknown_setting": 1}, "reason": "typo"},
        headers=auth(admin),
    )
    assert broken.status_code == 422
    changed = client.put(
        "/api/v1/triage/config", json={"body": body, "reason": "annual review"}, headers=auth(admin)
    )
    assert changed.status_code == 200 and changed.json()["version"] == 1
    assert client.get("/api/v1/triage/config", headers=auth(admin)).json()["version"] == 1
    with rt.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("triage.config%"))
        ).all()
        assert actions.count("triage.config.changed") == 1


def test_a_question_to_the_reporter_shows_in_the_history_and_a_reply_runs_triage_again(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    accepted = client.post("/api/v1/reports", json=minimal_report(description=VAGUE)).json()
    ref, code = accepted["reference"], accepted["followup_code"]
    run_pipeline(rt)
    asked = client.post(
        f"/api/v1/reports/{ref}/messages",
        json={"text": "Which corner do you mean?"},
        headers=auth(token),
    )
    assert asked.status_code == 201, asked.text
    reply = client.post(
        f"/api/v1/reports/{ref}/followups",
        json={"code": code, "text": "Corner of Mill Lane, a van AB12 CDE parks there at night"},
    )
    assert reply.status_code == 201, reply.text
    with rt.db.session() as session:  # triage and linkage of the report, and the reply's
        kinds = session.scalars(select(Job.kind).order_by(Job.id)).all()
        assert kinds == ["triage.report", "linkage.report", "triage.report"]
    run_pipeline(rt)
    triage = report(client, token, ref)["triage"]
    assert "question_asked" in [h["action"] for h in triage["history"]]
    assert any(e["value"] == "AB12CDE" and e["followup_id"] for e in triage["entities"])
