"""The public report API: acceptance, validation, limits, staff reading."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import auth, minimal_report, report_payload, staff_token
from vigil.audit.models import AuditEvent
from vigil.db import utcnow
from vigil.intake.models import IdempotencyRecord, Report, ReporterIdentity
from vigil.intake.services import purge_expired_idempotency
from vigil.web.runtime import Runtime

REFERENCE = re.compile(r"^VGL-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")


def report_count(rt: Runtime) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def test_accepts_full_report_and_answers_reference_code_and_time(
    client: TestClient, rt: Runtime
) -> None:
    response = client.post("/api/v1/reports", json=report_payload())
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"reference", "followup_code", "received_at"}
    assert REFERENCE.match(body["reference"])
    assert len(body["followup_code"].replace("-", "")) == 20
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == body["reference"]))
        assert row is not None
        assert row.where_postcode == "LS6 2QT"
        assert row.vehicles[0].registration_normalised == "AB12CDE"
        assert row.channel == "api" and not row.anonymous
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.collected")
        ).all()
        assert [e.record_ids for e in events] == [[body["reference"]]]


def test_accepts_minimal_anonymous_report_without_identity_row(
    client: TestClient, rt: Runtime
) -> None:
    response = client.post("/api/v1/reports", json=minimal_report())
    assert response.status_code == 201
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ReporterIdentity)) == 0
        row = session.scalar(select(Report))
        assert row is not None and row.anonymous


def test_missing_and_invalid_fields_give_one_problem_entry_each_and_store_nothing(
    client: TestClient, rt: Runtime
) -> None:
    bad = {
        "kind": "spaceship",
        "description": "short",
        "where": {"lat": 100},
        "vehicles": [{"registration": "!!"}],
        "unexpected": 1,
    }
    response = client.post("/api/v1/reports", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {
        "#/kind",
        "#/description",
        "#/where/lat",
        "#/vehicles/0/registration",
        "#/unexpected",
    } <= pointers
    assert report_count(rt) == 0


def test_description_limits_are_10_to_20000_characters(client: TestClient) -> None:
    assert (
        client.post("/api/v1/reports", json=minimal_report(description="x" * 9)).status_code == 422
    )
    assert (
        client.post("/api/v1/reports", json=minimal_report(description="x" * 10)).status_code == 201
    )
    assert (
        client.post("/api/v1/reports", json=minimal_report(description="x" * 20_000)).status_code
        == 201
    )
    assert (
        client.post("/api/v1/reports", json=minimal_report(description="x" * 20_001)).status_code
        == 422
    )


def test_control_characters_are_refused_and_text_is_nfc_normalised(
    client: TestClient, rt: Runtime
) -> None:
    response = client.post(
        "/api/v1/reports", json=minimal_report(description="bad\x00text here ok")
    )
    assert response.status_code == 422
    assert "control character" in response.json()["errors"][0]["detail"]
    decomposed = "Cafe\u0301 owner taking photos of the gates"
    response = client.post("/api/v1/reports", json=minimal_report(description=decomposed))
    assert response.status_code == 201
    with rt.db.session() as session:
        assert (
            session.scalar(select(Report.description))
            == "Caf\u00e9 owner taking photos of the gates"
        )


def test_anonymous_reporter_with_contact_details_is_contradictory(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reports",
        json=minimal_report(reporter={"anonymous": True, "email": "jo@example.org"}),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/reporter"


def test_wrong_media_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reports", content=b"kind=other", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["status"] == 415


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reports", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_oversized_json_body_is_413_and_stores_nothing(client: TestClient, rt: Runtime) -> None:
    huge = orjson.dumps(minimal_report(description="y" * (rt.settings.max_json_bytes + 10)))
    response = client.post(
        "/api/v1/reports", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert report_count(rt) == 0


def test_too_many_people_is_refused_with_the_limit(client: TestClient, rt: Runtime) -> None:
    people = [{"age": "40"}] * (rt.settings.max_people + 1)
    response = client.post("/api/v1/reports", json=minimal_report(people=people))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"pointer": "#/people", "detail": f"at most {rt.settings.max_people} items"}
    ]


def test_idempotency_key_returns_the_same_answer_and_never_a_duplicate(
    client: TestClient, rt: Runtime
) -> None:
    headers = {"Idempotency-Key": "3f1c-retry-key"}
    first = client.post("/api/v1/reports", json=minimal_report(), headers=headers)
    second = client.post("/api/v1/reports", json=minimal_report(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert report_count(rt) == 1


def test_idempotency_key_reused_for_different_content_is_409(
    client: TestClient, rt: Runtime
) -> None:
    headers = {"Idempotency-Key": "reused"}
    assert client.post("/api/v1/reports", json=minimal_report(), headers=headers).status_code == 201
    other = minimal_report(description="A different report about a parked lorry.")
    response = client.post("/api/v1/reports", json=other, headers=headers)
    assert response.status_code == 409
    assert report_count(rt) == 1


def test_staff_need_a_valid_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/reports").status_code == 401
    response = client.get("/api/v1/reports", headers=auth("vgl_not-a-real-token"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_staff_read_a_report_without_reporter_identity_and_the_view_is_audited(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=report_payload()).json()["reference"]
    token = staff_token(rt)
    response = client.get(f"/api/v1/reports/{reference}", headers=auth(token))
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == reference and body["kind"] == "vehicle"
    text = response.text
    assert "Jo Bloggs" not in text and "900123" not in text and "jo@example.org" not in text
    assert "reporter" not in body
    with rt.db.session() as session:
        viewed = session.scalar(select(AuditEvent).where(AuditEvent.action == "report.viewed"))
        assert viewed is not None and viewed.record_ids == [reference]


def test_unknown_reference_is_404_problem(client: TestClient, rt: Runtime) -> None:
    response = client.get("/api/v1/reports/VGL-2222-2222", headers=auth(staff_token(rt)))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_staff_of_another_organisation_cannot_see_the_report(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    outsider = staff_token(rt, email="nurse@example.org", org="Synthetic Health Trust")
    assert client.get(f"/api/v1/reports/{reference}", headers=auth(outsider)).status_code == 404
    listing = client.get("/api/v1/reports", headers=auth(outsider)).json()
    assert listing == {"items": [], "next_cursor": None}


def test_list_is_newest_first_and_cursor_paginated(client: TestClient, rt: Runtime) -> None:
    made = [
        client.post("/api/v1/reports", json=minimal_report()).json()["reference"] for _ in range(5)
    ]
    token = staff_token(rt)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/reports", params=params, headers=auth(token)).json()
        seen += [item["reference"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))


def test_bad_cursor_is_422(client: TestClient, rt: Runtime) -> None:
    response = client.get(
        "/api/v1/reports", params={"cursor": "!!!"}, headers=auth(staff_token(rt))
    )
    assert response.status_code == 422


def test_rate_limit_answers_429_with_retry_after(client: TestClient, rt: Runtime) -> None:
    rt.public_limiter.per_minute = 2
    codes = [client.post("/api/v1/reports", json=minimal_report()).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    blocked = client.post("/api/v1/reports", json=minimal_report())
    assert int(blocked.headers["retry-after"]) >= 1
    assert report_count(rt) == 2


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/api/v1/reports", json=minimal_report())
    metrics = client.get("/metrics").text
    assert "vigil_reports_received_total" in metrics
    assert "vigil_http_request_duration_seconds" in metrics


def test_responses_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_api_answers_are_never_cached_but_static_assets_may_be(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    token = staff_token(rt)
    for url in (f"/api/v1/reports/{reference}", "/api/v1/reports", "/api/v1/triage/queue"):
        answer = client.get(url, headers=auth(token))
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", url
    asset = client.get("/static/vigil.css")
    assert asset.status_code == 200 and asset.headers.get("cache-control") != "no-store"


def test_api_docs_are_served_from_vigil_itself(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Vigil"


def test_expired_idempotency_keys_are_forgotten(client: TestClient, rt: Runtime) -> None:
    headers = {"Idempotency-Key": "old-key"}
    first = client.post("/api/v1/reports", json=minimal_report(), headers=headers).json()
    rt.db.write_sync(
        lambda s: s.execute(
            IdempotencyRecord.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
        )
    )
    assert purge_expired_idempotency(rt) == 1
    again = client.post("/api/v1/reports", json=minimal_report(), headers=headers).json()
    assert again["reference"] != first["reference"]


def test_a_report_is_not_shown_when_its_viewing_cannot_be_audited(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = client.post("/api/v1/reports", json=report_payload()).json()["reference"]
    token = staff_token(rt)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit log cannot be written")

    monkeypatch.setattr("vigil.audit.services.append", refuse)
    response = client.get(f"/api/v1/reports/{reference}", headers=auth(token))
    assert response.status_code == 500
    assert "gas cylinders" not in response.text and '"kind"' not in response.text
    with rt.db.session() as session:
        viewed = session.scalar(select(AuditEvent).where(AuditEvent.action == "report.viewed"))
    assert viewed is None


def test_an_unknown_query_parameter_is_refused_not_ignored(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    listed = client.get("/api/v1/reports?limit=5", headers=auth(token))
    assert listed.status_code == 200  # a parameter the route reads
    typo = client.get("/api/v1/reports?limt=5&cursorr=x", headers=auth(token))
    assert typo.status_code == 422
    assert typo.headers["content-type"].startswith("application/problem+json")
    assert [e["pointer"] for e in typo.json()["errors"]] == ["#/query/cursorr", "#/query/limt"]
    page = client.get("/?lang=cy&utm=anything")  # a page's address may carry anything
    assert page.status_code == 200
