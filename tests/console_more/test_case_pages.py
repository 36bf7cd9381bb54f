"""Case pages, on both databases: opening a case from reports through the form, the case page
with only what the reader may see (a partner sees only its own agency's actions and no
report it may not see), actions updated by their agency, meetings and decisions minuted,
every form with CSRF and POST-redirect-GET, the right role only, unknown cases 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.cases.world import (
    CONDITIONS,
    COUNCIL,
    ELSEWHERE,
    HEALTH,
    World,
    build_world,
    shared_case,
)
from tests.console_more import Staff, be, csrf, html, page, post_form, session_cookie, staff
from tests.console_more import web as web  # fixture
from tests.search import move_report
from vigil.access.permissions import OrganisationKind, Role
from vigil.cases import pages as case_pages
from vigil.web.runtime import Runtime

CASES = "/console/cases"
NEW = "/console/cases/new"


def world_and_analyst(web: TestClient, rt: Runtime) -> tuple[World, Staff]:
    world = build_world(web, rt)
    analyst = Staff("analyst@example.org", world.analyst, session_cookie(rt, "analyst@example.org"))
    return world, analyst


def partner(world: World, email: str, organisation: str = HEALTH) -> Staff:
    token = world.partner(email, organisation)
    return Staff(email, token, session_cookie(world.rt, email))


def case_count(world: World) -> int:
    response = world.get("?status=open", world.analyst)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def test_an_analyst_opens_a_case_from_report_references_and_lands_on_its_page(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    one, two = world.submit(), world.submit("A drone flown over the depot at dusk.")
    form = html(web, analyst, NEW, report=[one, two])
    assert one in form and two in form  # the references arrive pre-filled from a report page
    made = post_form(
        web,
        analyst,
        NEW,
        NEW,
        {"title": "Depot watchers", "summary": "Two reports", "level": "2", "reports": one},
    )
    assert made.status_code == 303, made.text
    path = made.headers["location"]
    assert path.startswith(CASES + "/CASE-")
    shown = html(web, analyst, path)
    assert "Depot watchers" in shown and "Level 2" in shown
    assert one in shown and two not in shown  # only the report that was linked
    assert "Case opened at level 2" in shown  # the timeline
    assert path.removeprefix(CASES + "/") in html(web, analyst, CASES)


def test_a_form_that_does_not_fit_shows_its_errors_and_opens_nothing(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    theirs = world.submit("Keys to the depot left in a van.")
    move_report(rt, theirs, ELSEWHERE)
    before = case_count(world)
    refused = post_form(web, analyst, NEW, NEW, {"title": "x", "level": "1", "reports": ""})
    assert refused.status_code == 400
    assert "There is a problem" in refused.text and 'href="#title"' in refused.text
    hidden = post_form(web, analyst, NEW, NEW, {"title": "Depot", "reports": theirs})
    assert hidden.status_code == 400
    assert "no report with that reference that you may see" in hidden.text
    assert case_count(world) == before


def test_a_partner_sees_and_updates_only_its_own_agencys_actions(
    web: TestClient, rt: Runtime
) -> None:
    world, _ = world_and_analyst(web, rt)
    ref, one, two, actions = shared_case(world)
    nurse = partner(world, "nurse@example.org")
    path = f"{CASES}/{ref}"
    shown = html(web, nurse, path)
    assert "Arrange a welfare visit" in shown
    for hidden in ("Review the CCTV footage", "Check the tenancy records", one, two, COUNCIL):
        assert hidden not in shown  # other agencies' actions; reports not shared with Health
    assert "Record a meeting" not in shown and "Set an action" not in shown

    updated = be(web, nurse).post(
        f"{path}/actions/{actions[HEALTH]}",
        data={"csrf_token": csrf(shown), "state": "in_progress", "text": "Visit booked"},
    )
    assert (updated.status_code, updated.headers["location"]) == (
        303,
        f"{path}#action-{actions[HEALTH]}",
    )
    again = html(web, nurse, path)
    assert "Visit booked" in again
    (mine,) = [a for a in world.case(ref)["actions"] if a["id"] == actions[HEALTH]]
    assert mine["state"] == "in_progress"

    for other in (actions["hub"], actions[COUNCIL]):
        refused = be(web, nurse).post(
            f"{path}/actions/{other}", data={"csrf_token": csrf(again), "state": "done"}
        )
        assert refused.status_code == 404  # as if it did not exist
    states = {a["id"]: a["state"] for a in world.case(ref)["actions"]}
    assert states[actions["hub"]] == "open" and states[actions[COUNCIL]] == "open"
    minuted = be(web, nurse).post(
        f"{path}/meetings",
        data={"csrf_token": csrf(again), "held_on": "2026-11-01", "attendees": "x", "minutes": "y"},
    )
    assert minuted.status_code == 403  # a partner reads the case; it does not run it


def test_the_managing_analyst_sees_every_action_and_records_meetings_and_decisions(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, one, two, _ = shared_case(world)
    path = f"{CASES}/{ref}"
    shown = html(web, analyst, path)
    for title in (
        "Review the CCTV footage",
        "Arrange a welfare visit",
        "Check the tenancy records",
    ):
        assert title in shown
    assert one in shown and two in shown
    met = post_form(
        web,
        analyst,
        path,
        f"{path}/meetings",
        {"held_on": "2026-11-20", "attendees": "Hub, Health", "minutes": "Agreed a joint visit."},
    )
    assert (met.status_code, met.headers["location"]) == (303, f"{path}#meetings")
    decided = post_form(
        web,
        analyst,
        path,
        f"{path}/decisions",
        {"decision": "Keep at level 1", "reason": "No escalation in the last month"},
    )
    assert decided.status_code == 303
    after = html(web, analyst, path)
    assert "Agreed a joint visit." in after and "Meeting of 2026-11-20" in after
    assert "No escalation in the last month" in after
    body = world.case(ref)
    assert [m["minutes"] for m in body["meetings"]] == ["Agreed a joint visit."]
    assert [d["decision"] for d in body["decisions"]] == ["Keep at level 1"]

    empty = post_form(web, analyst, path, f"{path}/decisions", {"decision": "", "reason": ""})
    assert empty.status_code == 400
    assert 'href="#decision-decision"' in empty.text and "There is a problem" in empty.text
    assert len(world.case(ref)["decisions"]) == 1


def test_a_form_without_the_csrf_token_changes_nothing(web: TestClient, rt: Runtime) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, *_ = shared_case(world)
    path = f"{CASES}/{ref}"
    html(web, analyst, path)  # a visitor session exists, with its token
    forged = be(web, analyst).post(
        f"{path}/decisions", data={"decision": "Close it", "reason": "Forged request"}
    )
    assert forged.status_code == 400
    assert world.case(ref)["decisions"] == []


def test_a_case_of_another_organisation_is_never_listed_counted_or_shown(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, *_ = shared_case(world)
    north = staff(rt, "north@example.org", Role.investigator, org=ELSEWHERE, teams=("North",))
    listed = html(web, north, CASES, status="all")
    assert ref not in listed and "There are no cases to show" in listed
    assert page(web, north, f"{CASES}/{ref}").status_code == 404
    assert page(web, analyst, f"{CASES}/CASE-BBBBBBBB").status_code == 404
    assert page(web, analyst, f"{CASES}/not-a-case").status_code == 404
    refused = post_form(
        web, north, CASES, f"{CASES}/{ref}/decisions", {"decision": "Close", "reason": "Mine"}
    )
    assert refused.status_code == 404
    assert world.case(ref)["decisions"] == []


def test_only_roles_that_read_cases_see_the_pages_and_only_writers_open_them(
    web: TestClient, rt: Runtime
) -> None:
    world, _ = world_and_analyst(web, rt)
    auditor = staff(rt, "auditor@example.org", Role.auditor)
    nurse = partner(world, "nurse@example.org")
    assert page(web, auditor, CASES).status_code == 403
    assert page(web, nurse, CASES).status_code == 200
    assert page(web, nurse, NEW).status_code == 403
    council = staff(
        rt,
        "council@example.org",
        Role.partner_practitioner,
        org=COUNCIL,
        org_kind=OrganisationKind.local_authority,
        teams=(),
    )
    assert "Open a case" not in html(web, council, CASES)
    web.cookies.clear()
    assert web.get(CASES).headers["location"] == "/staff/sign-in"


def test_the_list_pages_by_cursor(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_pages, "PAGE_SIZE", 2)
    world, analyst = world_and_analyst(web, rt)
    refs = [world.open_case(title=f"Case number {i}")["reference"] for i in range(3)]
    first = html(web, analyst, CASES)
    assert refs[2] in first and refs[1] in first and refs[0] not in first
    found = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = html(web, analyst, found.replace("&amp;", "&"))
    assert refs[0] in second and refs[2] not in second


def test_a_partner_sees_a_shared_linked_report_without_a_link_it_could_not_follow(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, one, _, _ = shared_case(world)
    world.grade_handling_c(one)
    shared = web.post(
        f"/api/v1/reports/{one}/shares",
        json={
            "organisation": HEALTH,
            "purpose": "Welfare visit context",
            "conditions_accepted": True,
        },
        headers={"Authorization": f"Bearer {world.analyst}"},
    )
    assert shared.status_code == 201, shared.text
    nurse = partner(world, "nurse@example.org")
    shown = html(web, nurse, f"{CASES}/{ref}")
    assert one in shown  # the report is shown on the case page…
    assert CONDITIONS in shown  # …with the conditions its handling code C puts on its use…
    assert f'href="/console/reports/{one}"' not in shown  # …with no link to a page it may not open
    assert f'href="/console/reports/{one}"' in html(web, analyst, f"{CASES}/{ref}")
