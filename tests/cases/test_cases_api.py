"""The cases API: opening a case from reports, need-to-know on every answer, levels, leads,
the timeline, listing. Partner agencies' view of a shared case is in test_partner_view.py."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cases.world import ELSEWHERE, build_world
from tests.factories import auth, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.cases.models import Case, CaseLink
from vigil.cases.views import today
from vigil.web.runtime import Runtime


def audit_actions(rt: Runtime) -> list[tuple[str, list[str]]]:
    rows = rt.db.write_sync(
        lambda s: s.execute(
            select(AuditEvent.action, AuditEvent.record_ids).order_by(AuditEvent.seq)
        ).all()
    )
    return [(action, list(ids)) for action, ids in rows]


def test_an_analyst_opens_a_case_from_a_report_they_can_see(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    case = world.open_case(reports=[report.lower()], summary="Two sightings at the depot")

    assert re.fullmatch(r"CASE-[2-9B-DF-HJ-NP-TV-Z]{8}", case["reference"])
    assert (case["status"], case["level"], case["lead"]) == ("open", 1, "analyst@example.org")
    assert [r["reference"] for r in case["reports"]] == [report]
    assert case["team"] == rt.settings.receiving_team and case["may_manage"] is True
    assert [e["kind"] for e in case["timeline"]] == ["linked", "opened"]
    assert report in case["timeline"][0]["summary"]
    # Reading it back (with a reference typed loosely) gives the same case, and is audited.
    again = world.case(case["reference"].lower().replace("case-", "case "))
    assert again["reference"] == case["reference"]
    logged = audit_actions(rt)
    assert ("case.opened", [case["reference"]]) in logged
    assert ("case.linked", [case["reference"], report]) in logged
    # consulting the case consults the report it shows
    assert ("case.viewed", [case["reference"], report]) in logged


def test_a_report_the_user_may_not_see_cannot_be_linked_and_reads_like_a_missing_one(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    hidden = world.submit()
    outsider = staff_token(rt, "outsider@example.org", org=ELSEWHERE, teams=("North",))
    missing = "VGL-2222-2222"

    answers = [
        world.post("", outsider, {"title": "Mine", "reports": [ref]}) for ref in (hidden, missing)
    ]
    assert [a.status_code for a in answers] == [422, 422]
    assert (
        answers[0].json()["errors"]
        == answers[1].json()["errors"]
        == [{"pointer": "#/reports/0", "detail": "no report with that reference that you may see"}]
    )
    # Nothing was created by the refused request.
    assert world.get("", outsider).json()["items"] == []

    own = world.open_case(outsider, title="Their own case")
    refused = world.post(f"/{own['reference']}/links", outsider, {"reports": [hidden]})
    assert refused.status_code == 422
    assert world.case(own["reference"], outsider)["reports"] == []
    links = rt.db.write_sync(lambda s: s.scalars(select(CaseLink.id)).all())
    assert links == []


def test_management_levels_outside_one_to_three_are_refused(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    for level in (0, 4):
        response = world.post("", world.analyst, {"title": "Out of range", "level": level})
        assert response.status_code == 422
        assert [e["pointer"] for e in response.json()["errors"]] == ["#/body/level"]
    case = world.open_case(level=2)
    url = f"/{case['reference']}"
    bad = world.patch(url, world.analyst, {"level": 4, "reason": "Escalating"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "#/body/level"
    no_reason = world.patch(url, world.analyst, {"level": 3})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"] == [
        {"pointer": "#/reason", "detail": "a change of status or level needs a reason"}
    ]
    assert world.case(case["reference"])["level"] == 2
    raised = world.patch(url, world.analyst, {"level": 3, "reason": "Threat now imminent"})
    assert raised.status_code == 200 and raised.json()["level"] == 3
    (decision,) = raised.json()["decisions"]
    assert decision["decision"] == "Management level changed from 2 to 3"
    assert (decision["reason"], decision["decided_by"]) == (
        "Threat now imminent",
        "analyst@example.org",
    )


def test_the_timeline_lists_every_change_newest_first(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    first, second = world.submit(), world.submit("A drone flown over the depot at dusk.")
    staff_token(rt, "colleague@example.org")
    case = world.open_case(reports=[first])
    ref, token = case["reference"], world.analyst
    review = (today() + timedelta(days=28)).isoformat()
    steps = [
        world.patch(f"/{ref}", token, {"level": 2, "reason": "Two agencies involved"}),
        world.patch(f"/{ref}", token, {"lead": "colleague@example.org"}),
        world.patch(f"/{ref}", token, {"review_date": review}),
        world.post(f"/{ref}/links", token, {"reports": [second, first]}),
        world.post(f"/{ref}/actions", token, {"title": "Visit the depot manager"}),
        world.post(
            f"/{ref}/meetings",
            token,
            {"held_on": today().isoformat(), "attendees": "DS Example, PC Sample", "minutes": "…"},
        ),
        world.post(f"/{ref}/decisions", token, {"decision": "Keep open", "reason": "New sighting"}),
        world.patch(f"/{ref}", token, {"status": "closed", "reason": "Risk managed"}),
    ]
    assert [s.status_code for s in steps] == [200, 200, 200, 200, 201, 201, 201, 200]
    action_id = steps[4].json()["id"]
    closed = world.patch(f"/{ref}/actions/{action_id}", token, {"state": "done"})
    assert closed.status_code == 409  # a closed case no longer changes
    assert world.post(f"/{ref}/actions", token, {"title": "Another"}).status_code == 409

    view = world.case(ref)
    assert [e["kind"] for e in view["timeline"]] == [
        "decided",  # closed
        "decided",
        "meeting_recorded",
        "action_added",
        "linked",  # only the second report: the first was already linked
        "review_date_changed",
        "lead_changed",
        "decided",  # level 1 -> 2
        "linked",
        "opened",
    ]
    times = [e["at"] for e in view["timeline"]]
    assert times == sorted(times, reverse=True)
    assert view["timeline"][0]["summary"] == "Case closed: Risk managed"
    assert (view["lead"], view["review_date"], view["status"]) == (
        "colleague@example.org",
        review,
        "closed",
    )
    assert view["closed_at"] is not None
    assert [d["decision"] for d in view["decisions"]] == [
        "Case closed",
        "Keep open",
        "Management level changed from 1 to 2",
    ]
    reopened = world.patch(f"/{ref}", token, {"status": "open", "reason": "Fresh report"})
    assert reopened.status_code == 200 and reopened.json()["closed_at"] is None


def test_the_lead_must_be_a_colleague_who_may_see_the_case(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    staff_token(rt, "outsider@example.org", org=ELSEWHERE, teams=("North",))
    staff_token(rt, "auditor@example.org", role=Role.auditor)
    for email in ("outsider@example.org", "auditor@example.org", "nobody@example.org"):
        response = world.post("", world.analyst, {"title": "Led elsewhere", "lead": email})
        assert response.status_code == 422, email
        assert response.json()["errors"][0]["pointer"] == "#/lead"
    case = world.open_case()
    refused = world.patch(f"/{case['reference']}", world.analyst, {"lead": "outsider@example.org"})
    assert refused.status_code == 422
    assert world.case(case["reference"])["lead"] == "analyst@example.org"


def test_other_organisations_neither_list_nor_read_an_unshared_case(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    case = world.open_case(reports=[world.submit()])
    action = world.add_action(case["reference"], "Speak to the depot manager")
    outsider = staff_token(rt, "outsider@example.org", org=ELSEWHERE, teams=("North",))
    partner = world.partner("nurse@example.org")

    for token in (outsider, partner):
        listing = world.get("", token)
        assert listing.status_code == 200 and listing.json()["items"] == []
        hidden = world.get(f"/{case['reference']}", token)
        absent = world.get("/CASE-BBBBBBBB", token)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["detail"] == absent.json()["detail"]
        update = world.patch(f"/{case['reference']}/actions/{action}", token, {"state": "done"})
        assert update.status_code == 404
    assert world.get("", world.analyst).json()["items"][0]["reference"] == case["reference"]


def test_a_secret_case_is_hidden_from_staff_without_the_clearance(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    too_high = world.post("", world.analyst, {"title": "Too high", "classification": "SECRET"})
    assert too_high.status_code == 422 and too_high.json()["errors"][0]["pointer"] == (
        "#/classification"
    )
    cleared = staff_token(rt, "cleared@example.org", clearance=Classification.secret)
    case = world.open_case(cleared, classification="SECRET")
    assert world.get(f"/{case['reference']}", world.analyst).status_code == 404
    assert world.get(f"/{case['reference']}", cleared).status_code == 200


def test_the_list_filters_by_status_level_and_lead_and_pages_newest_first(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    other = staff_token(rt, "colleague@example.org")
    a = world.open_case(level=1)["reference"]
    b = world.open_case(level=2)["reference"]
    c = world.open_case(other, level=2)["reference"]
    world.patch(f"/{a}", world.analyst, {"status": "closed", "reason": "Done"})

    def refs(query: str) -> list[str]:
        response = world.get(query, world.analyst)
        assert response.status_code == 200, response.text
        return [i["reference"] for i in response.json()["items"]]

    assert refs("") == [c, b, a]
    assert refs("?status=open") == [c, b]
    assert refs("?status=closed") == [a]
    assert refs("?level=2") == [c, b]
    assert refs("?lead=COLLEAGUE@example.org") == [c]
    page = world.get("?limit=2", world.analyst).json()
    assert [i["reference"] for i in page["items"]] == [c, b]
    assert refs(f"?limit=2&cursor={page['next_cursor']}") == [a]
    bad = world.get("?level=5", world.analyst)
    assert bad.status_code == 422 and "level" in bad.json()["errors"][0]["pointer"]
    assert world.get("?cursor=@@", world.analyst).status_code == 422
    assert ("case.listed", [c, b]) in audit_actions(rt)


def test_cases_need_their_permissions(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    case = world.open_case()
    auditor = staff_token(rt, "auditor@example.org", role=Role.auditor)
    partner = world.partner("nurse@example.org")
    assert world.get("", auditor).status_code == 403
    assert world.post("", partner, {"title": "Partner case"}).status_code == 403
    assert client.get("/api/v1/cases").status_code == 401
    refused = client.post(
        f"/api/v1/cases/{case['reference']}/meetings",
        json={"held_on": today().isoformat(), "attendees": "x", "minutes": "y"},
        headers=auth(partner),
    )
    assert refused.status_code == 403
    stored = rt.db.write_sync(lambda s: s.scalars(select(Case.reference)).all())
    assert stored == [case["reference"]]
