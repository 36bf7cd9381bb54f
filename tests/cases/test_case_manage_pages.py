"""Running a case from the console, on both databases: changing its level, lead, review date
and status (a change of level or status needs a reason and is recorded as a decision),
linking more records (a hidden record is refused exactly like a missing one), and sharing it
with partners only where an agreement allows, then revoking. Every change goes through the
service the API uses: audited, on the timeline, with CSRF, for the right people only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cases.test_case_links import secret_entity
from tests.cases.world import COUNCIL, ELSEWHERE, HEALTH, World, build_world, shared_case
from tests.console_more import Staff, be, csrf, html, page, post_form, session_cookie, staff
from tests.console_more import web as web  # fixture
from tests.factories import staff_token
from tests.search import move_report
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.cases.views import today
from vigil.web.runtime import Runtime

CASES = "/console/cases"


def world_and_analyst(web: TestClient, rt: Runtime) -> tuple[World, Staff]:
    world = build_world(web, rt)
    analyst = Staff("analyst@example.org", world.analyst, session_cookie(rt, "analyst@example.org"))
    return world, analyst


def partner(world: World, email: str, organisation: str = HEALTH) -> Staff:
    token = world.partner(email, organisation)
    return Staff(email, token, session_cookie(world.rt, email))


def audited(rt: Runtime, action: str) -> list[tuple[list[str], str | None]]:
    rows = rt.db.write_sync(
        lambda s: s.execute(
            select(AuditEvent.record_ids, AuditEvent.purpose)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()
    )
    return [(list(ids), purpose) for ids, purpose in rows]


def change(web: TestClient, who: Staff, ref: str, case: dict[str, Any], **fields: str) -> Any:
    """Post the change form as shown (with its ``was_`` values), with ``fields`` changed."""
    path = f"{CASES}/{ref}/change"
    shown = html(web, who, path)
    was = {
        "level": str(case["level"]),
        "lead": case["lead"] or "",
        "review_date": case["review_date"] or "",
        "status": case["status"],
    }
    data = {**was, **{f"was_{k}": v for k, v in was.items()}, "reason": "", **fields}
    return be(web, who).post(path, data={"csrf_token": csrf(shown), **data})


def test_the_lead_changes_level_lead_and_review_date_each_audited_and_on_the_timeline(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    staff_token(rt, "colleague@example.org")
    ref = world.open_case()["reference"]
    form = html(web, analyst, f"{CASES}/{ref}/change")
    for meaning in (
        "Ordinary single-agency management",
        "Active multi-agency management",
        "Senior multi-agency management",
    ):
        assert meaning in form
    assert 'name="was_level" value="1"' in form and 'value="analyst@example.org"' in form

    # A change of level is a decision: without a reason, nothing changes.
    refused = change(web, analyst, ref, world.case(ref), level="2")
    assert refused.status_code == 400
    assert "There is a problem" in refused.text and 'href="#reason"' in refused.text
    assert "a change of status or level needs a reason" in refused.text
    assert 'value="2" aria-describedby="level-2-item-hint" checked' in refused.text  # kept
    assert world.case(ref)["level"] == 1

    review = (today() + timedelta(days=28)).isoformat()
    made = change(
        web,
        analyst,
        ref,
        world.case(ref),
        level="2",
        lead="colleague@example.org",
        review_date=review,
        reason="Health and housing now involved",
    )
    assert (made.status_code, made.headers["location"]) == (303, f"{CASES}/{ref}")
    body = world.case(ref)
    assert (body["level"], body["review_date"]) == (2, review)
    assert body["lead"] == "colleague@example.org"
    assert [(d["decision"], d["reason"]) for d in body["decisions"]] == [
        ("Management level changed from 1 to 2", "Health and housing now involved")
    ]
    kinds = [e["kind"] for e in body["timeline"]]
    assert {"decided", "lead_changed", "review_date_changed"} <= set(kinds)
    assert audited(rt, "case.changed") == [([ref], None)]
    shown = html(web, analyst, f"{CASES}/{ref}")
    assert "Level 2: Active multi-agency management" in shown
    assert f'href="{CASES}/{ref}/change#level"' in shown

    # The lead must be a colleague who may see the case; the review date today or later.
    north = staff_token(rt, "north@example.org", org=ELSEWHERE, teams=("North",))
    assert north
    wrong = change(web, analyst, ref, body, lead="north@example.org")
    assert wrong.status_code == 400
    assert "Lead officer: no active colleague with that e-mail may see this case" in wrong.text
    past = change(web, analyst, ref, body, review_date="2020-01-01")
    assert past.status_code == 400 and "Review date: must be today or later" in past.text
    assert world.case(ref)["lead"] == "colleague@example.org"


def test_closing_needs_a_reason_and_a_closed_case_can_only_be_reopened(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    untouched = change(web, analyst, ref, world.case(ref))
    assert untouched.status_code == 400
    assert "Change the management level, lead officer, review date or status" in untouched.text

    closed = change(web, analyst, ref, world.case(ref), status="closed", reason="Risk managed")
    assert closed.status_code == 303
    body = world.case(ref)
    assert body["status"] == "closed" and body["closed_at"] is not None
    assert body["decisions"][0]["decision"] == "Case closed"
    page_text = html(web, analyst, f"{CASES}/{ref}")
    assert "Record a decision" not in page_text and "Link more records" not in page_text

    still = change(web, analyst, ref, body, level="3", reason="Escalate")
    assert still.status_code == 400 and "This case is closed; reopen it first." in still.text
    reopened = change(web, analyst, ref, body, status="open", reason="New reports came in")
    assert reopened.status_code == 303
    assert world.case(ref)["status"] == "open"


def test_only_the_managing_organisation_may_open_the_change_links_and_sharing_pages(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, *_ = shared_case(world)
    nurse = partner(world, "nurse@example.org")
    shown = html(web, nurse, f"{CASES}/{ref}")
    assert "/change" not in shown and "/sharing" not in shown and "/links" not in shown
    assert page(web, nurse, f"{CASES}/{ref}/change").status_code == 403
    assert page(web, nurse, f"{CASES}/{ref}/links").status_code == 403
    assert page(web, nurse, f"{CASES}/{ref}/sharing").status_code == 403
    investigator = staff(rt, "north@example.org", Role.investigator, org=ELSEWHERE, teams=("N",))
    for tail in ("change", "links", "sharing"):
        assert page(web, investigator, f"{CASES}/{ref}/{tail}").status_code == 404
        assert page(web, analyst, f"{CASES}/CASE-BBBBBBBB/{tail}").status_code == 404
    refused = post_form(
        web,
        investigator,
        CASES,
        f"{CASES}/{ref}/change",
        {"level": "3", "was_level": "1", "reason": "Mine now"},
    )
    assert refused.status_code == 404
    assert world.case(ref)["level"] == 1
    forged = be(web, analyst).post(f"{CASES}/{ref}/change", data={"level": "3", "reason": "x"})
    assert forged.status_code == 400  # no CSRF token
    assert world.case(ref)["level"] == 1


def test_linking_from_the_console_refuses_hidden_and_missing_records_alike(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    mine, theirs = world.submit(), world.submit("Keys to the depot left in a van.")
    move_report(rt, theirs, ELSEWHERE)
    path = f"{CASES}/{ref}/links"
    assert mine in html(web, analyst, path, reports=mine)  # pre-filled from a link

    refused = post_form(
        web, analyst, path, path, {"reports": f"{mine}\n{theirs}\nVGL-2222-2222", "entities": ""}
    )
    assert refused.status_code == 400 and 'href="#reports"' in refused.text
    hidden = f"{theirs}: no report with that reference that you may see"
    missing = "VGL-2222-2222: no report with that reference that you may see"
    assert hidden in refused.text and missing in refused.text
    assert world.case(ref)["reports"] == []  # nothing linked unless all can be

    not_number = post_form(web, analyst, path, path, {"entities": "Karl"})
    assert not_number.status_code == 400
    assert "Entity ids: Karl: an entity id is a number" in not_number.text
    entity_id = secret_entity(rt)  # SECRET: above the analyst's clearance
    secret = post_form(web, analyst, path, path, {"entities": f"{entity_id}\n{10**9}"})
    assert f"{entity_id}: no entity with that id that you may see" in secret.text
    assert f"{10**9}: no entity with that id that you may see" in secret.text
    empty = post_form(web, analyst, path, path, {"reports": "", "subjects": ""})
    assert empty.status_code == 400
    assert "give at least one report, entity or subject to link" in empty.text

    linked = post_form(web, analyst, path, path, {"reports": f"{mine}, {mine.lower()}"})
    assert (linked.status_code, linked.headers["location"]) == (303, f"{CASES}/{ref}#linked")
    assert [r["reference"] for r in world.case(ref)["reports"]] == [mine]
    assert audited(rt, "case.linked")[-1] == ([ref, mine], None)
    assert f"Linked report {mine}" in html(web, analyst, f"{CASES}/{ref}")


def test_sharing_offers_only_agreed_partners_and_revoking_hides_the_case_again(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    path = f"{CASES}/{ref}/sharing"
    shown = html(web, analyst, path)
    assert HEALTH in shown and COUNCIL in shown and ELSEWHERE not in shown
    assert "The case is not shared with anyone outside the managing organisation." in shown

    no_purpose = post_form(web, analyst, path, path, {"organisation": HEALTH, "purpose": ""})
    assert no_purpose.status_code == 400 and 'href="#purpose"' in no_purpose.text
    forged = post_form(
        web, analyst, path, path, {"organisation": ELSEWHERE, "purpose": "Joint working"}
    )
    assert forged.status_code == 400
    assert "no agreement in force lets this case be shared with it" in forged.text
    none_chosen = post_form(web, analyst, path, path, {"purpose": "Joint working"})
    assert "choose the organisation to share the case with" in none_chosen.text

    made = post_form(
        web, analyst, path, path, {"organisation": HEALTH, "purpose": "Joint risk management"}
    )
    assert (made.status_code, made.headers["location"]) == (303, f"{path}#shares")
    after = html(web, analyst, path)
    assert "Joint risk management" in after
    assert f'value="{HEALTH}"' not in after and f'value="{COUNCIL}"' in after  # shared once
    (share,) = world.get(f"/{ref}/shares", world.analyst).json()
    assert share["organisation"] == HEALTH and share["purpose"] == "Joint risk management"
    assert audited(rt, "record.disclosed")[-1][0] == [ref]
    nurse = partner(world, "nurse@example.org")
    assert page(web, nurse, f"{CASES}/{ref}").status_code == 200

    revoked = post_form(web, analyst, path, f"{path}/{share['id']}/revoke", {})
    assert (revoked.status_code, revoked.headers["location"]) == (303, f"{path}#shares")
    assert page(web, nurse, f"{CASES}/{ref}").status_code == 404  # on the very next request
    again = html(web, analyst, path)
    assert "Shares stopped" in again and f'value="{HEALTH}"' in again
    assert [e["kind"] for e in world.case(ref)["timeline"]][:2] == ["share_revoked", "shared"]
    unknown = post_form(web, analyst, path, f"{path}/999999/revoke", {})
    assert unknown.status_code == 404


def test_a_case_with_handling_conditions_is_shared_only_once_they_are_accepted(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case(handling_code="C", handling_conditions="No onward sharing")["reference"]
    path = f"{CASES}/{ref}/sharing"
    assert "No onward sharing" in html(web, analyst, path)
    data = {"organisation": HEALTH, "purpose": "Joint risk management"}
    refused = post_form(web, analyst, path, path, data)
    assert refused.status_code == 400 and 'href="#conditions_accepted"' in refused.text
    assert world.get(f"/{ref}/shares", world.analyst).json() == []
    accepted = post_form(web, analyst, path, path, {**data, "conditions_accepted": "yes"})
    assert accepted.status_code == 303
    assert len(world.get(f"/{ref}/shares", world.analyst).json()) == 1


def test_a_secret_case_offers_no_partner_whose_agreement_stops_below_it(
    web: TestClient, rt: Runtime
) -> None:
    world = build_world(web, rt)
    cleared = staff(rt, "cleared@example.org", clearance=Classification.secret)
    ref = world.open_case(cleared.token, classification="SECRET")["reference"]
    shown = html(web, cleared, f"{CASES}/{ref}/sharing")
    assert HEALTH not in shown and COUNCIL not in shown
    assert "No other organisation has a data-sharing agreement in force" in shown


def test_a_case_opened_from_a_report_link_may_link_entities_and_subjects_too(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    report, theirs = world.submit(), world.submit("Keys to the depot left in a van.")
    move_report(rt, theirs, ELSEWHERE)
    investigator = staff_token(rt, "inv@example.org", role=Role.investigator)
    subject = web.post(
        "/api/v1/linkage/subjects",
        json={"name": "Nominal on the register", "classification": "OFFICIAL-SENSITIVE"},
        headers={"Authorization": f"Bearer {investigator}"},
    ).json()["reference"]
    new = "/console/cases/new"
    form = html(web, analyst, new, report=report, subject=subject)
    assert f">{report}</textarea>" in form and f">{subject}</textarea>" in form
    assert "Senior multi-agency management" in form  # each level says what it means

    refused = post_form(
        web,
        analyst,
        new,
        new,
        {"title": "Depot", "reports": f"{report}\n{theirs}", "entities": "one", "subjects": ""},
    )
    assert refused.status_code == 400
    assert "Entity ids: one: an entity id is a number" in refused.text
    ids = post_form(web, analyst, new, new, {"title": "Depot", "reports": f"{report}\n{theirs}"})
    assert f"Report references: {theirs}: no report with that reference that you may see" in (
        ids.text
    )
    assert world.get("", world.analyst).json()["items"] == []

    made = post_form(
        web, analyst, new, new, {"title": "Depot", "reports": report, "subjects": subject}
    )
    assert made.status_code == 303
    ref = made.headers["location"].rsplit("/", 1)[1]
    body = world.case(ref)
    assert [r["reference"] for r in body["reports"]] == [report]
    assert [s["reference"] for s in body["subjects"]] == [subject]


def test_every_case_page_renders_in_welsh(web: TestClient, rt: Runtime) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref, *_ = shared_case(world)
    for path in ("", "/new", f"/{ref}", f"/{ref}/change", f"/{ref}/links", f"/{ref}/sharing"):
        shown = html(web, analyst, f"{CASES}{path}", lang="cy")
        assert '<html lang="cy"' in shown, path
    welsh = page(web, analyst, f"{CASES}/{ref}/pack.pdf")
    assert welsh.status_code == 200 and welsh.content.startswith(b"%PDF-")


def test_a_case_can_be_shared_with_another_team_of_the_managing_organisation(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    prevent = staff(rt, "prevent@example.org", org=rt.settings.receiving_org, teams=("Prevent",))
    ref = world.open_case()["reference"]
    path = f"{CASES}/{ref}/sharing"
    assert page(web, prevent, f"{CASES}/{ref}").status_code == 404  # not their team's case
    shown = html(web, analyst, path)
    assert "Or a team of your organisation" in shown and 'value="Prevent"' in shown

    both = post_form(
        web, analyst, path, path, {"organisation": HEALTH, "team": "Prevent", "purpose": "Joint"}
    )
    assert both.status_code == 400 and 'href="#team"' in both.text
    forged = post_form(web, analyst, path, path, {"team": "No such team", "purpose": "Joint"})
    assert forged.status_code == 400 and 'href="#team"' in forged.text

    made = post_form(web, analyst, path, path, {"team": "Prevent", "purpose": "Prevent referral"})
    assert (made.status_code, made.headers["location"]) == (303, f"{path}#shares")
    (share,) = world.get(f"/{ref}/shares", world.analyst).json()
    assert (share["organisation"], share["team"]) == (rt.settings.receiving_org, "Prevent")
    assert 'value="Prevent"' not in html(web, analyst, path)  # offered once
    assert page(web, prevent, f"{CASES}/{ref}").status_code == 200
    post_form(web, analyst, path, f"{path}/{share['id']}/revoke", {})
    assert page(web, prevent, f"{CASES}/{ref}").status_code == 404
