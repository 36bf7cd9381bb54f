"""An outcome that names where the report goes takes it there, on both databases: "add to a
case" links the report to an open case the analyst runs (and the case's timeline and audit
say so), "refer to a partner" shares it under a data-sharing agreement. A case that does not
exist, is hidden, run by another organisation or closed, and a partner without an agreement,
are refused on the form's field, and nothing is decided, linked or shared."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.cases.world import COUNCIL, ELSEWHERE, HEALTH, World, build_world
from tests.console_more import Staff, post_form, session_cookie
from tests.console_more import web as web  # fixture
from tests.factories import auth, staff_token
from tests.triage.test_triage_api import run_pipeline
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime


def decide(world: World, reference: str, token: str | None = None, **body: Any) -> Response:
    return world.client.post(
        f"/api/v1/triage/reports/{reference}/outcome",
        json={"reason": "Same depot, same people", **body},
        headers=auth(token or world.analyst),
    )


def state(rt: Runtime, reference: str) -> tuple[str, str | None, str | None]:
    with rt.db.session() as session:
        row = session.execute(
            select(TriageResult.state, TriageResult.outcome, TriageResult.outcome_detail)
            .join(Report, Report.id == TriageResult.report_id)
            .where(Report.reference == reference)
        ).one()
    return row[0], row[1], row[2]


def shares_of(world: World, reference: str) -> list[dict[str, Any]]:
    response = world.client.get(f"/api/v1/reports/{reference}/shares", headers=auth(world.analyst))
    assert response.status_code == 200, response.text
    return list(response.json())


def events(rt: Runtime, action: str) -> list[list[str]]:
    rows = rt.db.write_sync(
        lambda s: s.scalars(
            select(AuditEvent.record_ids)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()
    )
    return [list(ids) for ids in rows]


def test_adding_to_a_case_links_the_report_to_it(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    report = world.submit()
    case = world.open_case()["reference"]
    run_pipeline(rt)
    done = decide(world, report, outcome="add_to_case", detail=case.lower())
    assert done.status_code == 200, done.text
    assert state(rt, report) == ("decided", "add_to_case", case)  # as the case service spells it
    linked = world.case(case)
    assert [r["reference"] for r in linked["reports"]] == [report]
    assert f"Linked report {report}" in [e["summary"] for e in linked["timeline"]]
    assert [case, report] in events(rt, "case.linked")


def test_a_case_that_cannot_take_the_report_is_refused_and_nothing_is_decided(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    elsewhere = staff_token(rt, "north@example.org", org=ELSEWHERE, teams=("North",))
    theirs = world.open_case(elsewhere)["reference"]  # exists, but not the analyst's to see
    closed = world.open_case()["reference"]
    shut = world.patch(f"/{closed}", world.analyst, {"status": "closed", "reason": "Risk managed"})
    assert shut.status_code == 200, shut.text
    run_pipeline(rt)
    for detail, said in (
        ("CASE-ZZZZZZZZ", "no open case with that reference that you run"),
        (theirs, "no open case with that reference that you run"),
        (closed, "that case is closed; reopen it first"),
    ):
        refused = decide(world, report, outcome="add_to_case", detail=detail)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"pointer": "#/detail", "detail": said}]
        assert state(rt, report)[0] != "decided"
    assert world.case(closed)["reports"] == []
    assert events(rt, "triage.decided") == []


def test_referring_to_a_partner_shares_the_report_under_the_agreement(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    run_pipeline(rt)
    done = decide(world, report, outcome="refer_to_partner", detail=HEALTH.upper())
    assert done.status_code == 200, done.text
    assert state(rt, report) == ("decided", "refer_to_partner", HEALTH)
    (share,) = shares_of(world, report)
    assert share["organisation"] == HEALTH
    assert share["purpose"] == "referral: Same depot, same people"
    assert [report] in events(rt, "record.disclosed")


def test_a_referral_no_agreement_covers_is_refused_and_shares_nothing(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    run_pipeline(rt)
    for detail, said in (
        (COUNCIL, "no agreement in force lets this report be shared with it"),  # cases only
        (ELSEWHERE, "no agreement in force lets this report be shared with it"),
        ("Nowhere Trust", "no organisation by that name"),
        (rt.settings.receiving_org, "refer it to a partner, not to its own organisation"),
    ):
        refused = decide(world, report, outcome="refer_to_partner", detail=detail)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"pointer": "#/detail", "detail": said}]
    assert shares_of(world, report) == []
    assert state(rt, report)[0] != "decided"


def test_a_referral_of_handling_code_c_needs_the_conditions_accepted(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    run_pipeline(rt)
    world.grade_handling_c(report)
    refused = decide(world, report, outcome="refer_to_partner", detail=HEALTH)
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.json()["errors"]] == ["#/conditions_accepted"]
    assert shares_of(world, report) == []
    done = decide(
        world, report, outcome="refer_to_partner", detail=HEALTH, conditions_accepted=True
    )
    assert done.status_code == 200, done.text
    assert [s["organisation"] for s in shares_of(world, report)] == [HEALTH]


def test_the_console_form_says_a_refused_case_on_its_field_and_adds_to_a_real_one(
    web: TestClient, rt: Runtime
) -> None:
    world = build_world(web, rt)
    analyst = Staff("analyst@example.org", world.analyst, session_cookie(rt, "analyst@example.org"))
    report = world.submit()
    case = world.open_case()["reference"]
    run_pipeline(rt)
    page = f"/console/reports/{report}"
    form = {"outcome": "add_to_case", "detail": "CASE-ZZZZZZZZ", "reason": "Same depot"}
    refused = post_form(web, analyst, page, f"{page}/outcome", form)
    assert refused.status_code == 303
    shown = web.get(refused.headers["location"]).text
    assert "no open case with that reference that you run" in shown
    assert 'href="#outcome-detail"' in shown
    done = post_form(web, analyst, page, f"{page}/outcome", {**form, "detail": case})
    assert done.status_code == 303
    assert [r["reference"] for r in world.case(case)["reports"]] == [report]
