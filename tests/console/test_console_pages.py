"""The staff console pages (triage queue, report, alerts inbox, entity), on both databases:
each page for the roles that hold its permission and 403 for others, nothing shown or
counted that the reader may not see, every form a CSRF-checked POST answered by a redirect,
and refused forms shown again with their errors while nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.access.test_sign_in import PASSWORD, Staff, sign_in
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.factories import auth, minimal_report
from tests.factories import staff_token as bearer_token
from vigil.access import signin
from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, ensure_organisation
from vigil.audit.services import SYSTEM
from vigil.intake.models import Report
from vigil.jobs.worker import Worker
from vigil.linkage.models import Alert, Match, Subject
from vigil.triage import pages as triage_pages
from vigil.triage.models import TriageResult
from vigil.triage.schemas import ItemOut
from vigil.triage.tasks import default_registry
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

THREAT = (
    "I heard the man in flat 3 say on the phone he is going to bomb the Arndale Centre "
    "tomorrow night. He has bags of ammonium nitrate in his garage and a white van AB12 CDE. "
    "His number is 07700 900123."
)
VAGUE = "There is something odd about the house on the corner, it just feels wrong to me."
PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)
ELSEWHERE = "Northern CT Unit"
SECRET = Classification.secret


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    app = create_app(rt=rt)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def make_user(
    rt: Runtime,
    email: str = "analyst@example.org",
    role: Role = Role.triage_analyst,
    *,
    org: str | None = None,
    teams: tuple[str, ...] = (),
    clearance: Classification = Classification.official_sensitive,
) -> Staff:
    """A staff member who can sign in (password and TOTP); by default in the receiving team."""
    org_name = org or rt.settings.receiving_org
    teams = teams or ((rt.settings.receiving_team,) if org is None else ("Desk 4",))

    def work(session: Session) -> Staff:
        user = create_user(
            session,
            SYSTEM,
            email,
            org_name,
            role,
            OrganisationKind.ct_policing,
            teams=teams,
            clearance=clearance,
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, email))
        secret = signin.enrol_totp(session, rt.sealer, SYSTEM, user)
        return Staff(user.email, user.id, secret)

    return rt.db.write_sync(work)


def signed_in(web: TestClient, rt: Runtime, email: str = "analyst@example.org", **kw: Any) -> Staff:
    staff = make_user(rt, email, **kw)
    sign_in(web, staff)
    return staff


def submit(web: TestClient, description: str) -> str:
    response = web.post("/api/v1/reports", json=minimal_report(description=description))
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def run_pipeline(rt: Runtime) -> int:
    return Worker(rt, default_registry(), poll_s=0.01).run_until_idle()


def csrf_of(web: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', web.get(path).text)
    assert found, path
    return found.group(1)


def post(web: TestClient, path: str, data: dict[str, str], page: str) -> Response:
    return web.post(path, data={"csrf_token": csrf_of(web, page), **data})


def report_path(reference: str) -> str:
    return f"/console/reports/{reference}"


def triage_row(rt: Runtime, reference: str) -> TriageResult:
    with rt.db.session() as session:
        row = session.scalar(
            select(TriageResult)
            .join(Report, Report.id == TriageResult.report_id)
            .where(Report.reference == reference)
        )
        assert row is not None
        return row


def move_to_another_organisation(rt: Runtime, reference: str) -> None:
    def work(session: Session) -> None:
        other = ensure_organisation(session, ELSEWHERE, OrganisationKind.ct_policing)
        session.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(owning_org_id=other.id, owning_team_id=None)
        )

    rt.db.write_sync(work)


# --- the queue ----------------------------------------------------------------------------


def test_the_queue_lists_reports_most_urgent_first_with_their_service_level_and_claim(
    rt: Runtime, web: TestClient
) -> None:
    vague, urgent = submit(web, VAGUE), submit(web, THREAT)
    run_pipeline(rt)
    signed_in(web, rt)
    page = web.get("/console/queue")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(urgent) < html.index(vague)
    assert 'govuk-tag--red">P1<' in html
    assert f'action="/console/reports/{urgent}/claim"' in html
    assert re.search(r"Due in \d+", html) or "Overdue by" in html
    assert '<script type="module" src="/static/js/console.mjs">' in html
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_queue_filters_are_a_get_form_and_the_next_page_keeps_them(
    rt: Runtime, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = submit(web, VAGUE), submit(web, VAGUE + " Lights on all night.")
    urgent = submit(web, THREAT)
    run_pipeline(rt)
    signed_in(web, rt)
    p1 = web.get("/console/queue?priority=P1").text
    assert urgent in p1 and first not in p1 and second not in p1
    assert 'id="priority-P1" name="priority" type="checkbox" value="P1" checked' in p1

    monkeypatch.setattr(triage_pages, "QUEUE_PAGE_SIZE", 1)
    page = web.get("/console/queue?state=open").text
    assert urgent in page and first not in page
    link = re.search(r'href="(/console/queue\?[^"]+)" rel="next"', page)
    assert link and "state=open" in link.group(1) and "cursor=" in link.group(1)
    following = web.get(link.group(1).replace("&amp;", "&")).text
    assert urgent not in following and (first in following or second in following)


def test_a_bad_filter_is_shown_as_a_problem_on_the_page(rt: Runtime, web: TestClient) -> None:
    signed_in(web, rt)
    page = web.get("/console/queue?state=bogus")
    assert page.status_code == 400
    assert "There is a problem" in page.text and "must be one of" in page.text


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (Role.partner_practitioner, "/console/queue", 403),
        (Role.partner_practitioner, "/console/reports/VGL-2222-2222", 403),
        (Role.partner_practitioner, "/console/alerts", 403),
        (Role.partner_practitioner, "/console/entities/1", 403),
        (Role.auditor, "/console/queue", 403),
        (Role.investigator, "/console/queue", 403),  # investigators do not triage
        (Role.investigator, "/console/alerts", 200),
        (Role.triage_analyst, "/console/queue", 200),
        (Role.triage_analyst, "/console/alerts", 200),
        (Role.triage_analyst, "/console/reports/VGL-2222-2222", 404),
        (Role.triage_analyst, "/console/entities/999999", 404),
    ],
)
def test_each_page_answers_by_role(
    rt: Runtime, web: TestClient, role: Role, path: str, status: int
) -> None:
    signed_in(web, rt, role=role)
    response = web.get(path)
    assert response.status_code == status, response.text
    if status == 404:
        assert "Page not found" in response.text  # a page for people, not problem+json


def test_the_console_pages_send_anyone_not_signed_in_to_sign_in(web: TestClient) -> None:
    for path in ("/console/queue", "/console/alerts", "/console/reports/VGL-2222-2222"):
        response = web.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/staff/sign-in")


def test_another_organisations_report_is_never_shown_linked_or_counted(
    rt: Runtime, web: TestClient
) -> None:
    seen, hidden = submit(web, THREAT), submit(web, THREAT)
    run_pipeline(rt)
    assert triage_row(rt, seen).cluster_id == triage_row(rt, hidden).cluster_id
    move_to_another_organisation(rt, hidden)
    signed_in(web, rt)

    queue = web.get("/console/queue").text
    assert seen in queue and hidden not in queue
    assert "2 reports" not in queue  # the cluster counts only what the analyst may see
    cluster = triage_row(rt, seen).cluster_id
    members = web.get(f"/console/queue?cluster={cluster}").text
    assert seen in members and hidden not in members
    page = web.get(report_path(seen))
    assert page.status_code == 200 and hidden not in page.text
    assert "No similar reports." in page.text
    missing = web.get(report_path(hidden))
    assert missing.status_code == 404 and hidden not in missing.text


def test_the_other_organisation_sees_nothing_of_the_receiving_units_reports(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, THREAT)
    run_pipeline(rt)
    signed_in(web, rt, "north@example.org", org=ELSEWHERE)
    queue = web.get("/console/queue")
    assert queue.status_code == 200 and reference not in queue.text
    assert "No reports match these filters." in queue.text
    assert web.get(report_path(reference)).status_code == 404


# --- the report page ----------------------------------------------------------------------


def test_the_report_page_marks_extracted_items_and_escapes_the_text(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, THREAT + " <script>alert('x')</script>")
    run_pipeline(rt)
    signed_in(web, rt)
    page = web.get(report_path(reference))
    assert page.status_code == 200, page.text
    html = page.text
    marked = re.findall(r"<mark[^>]*>(.*?)<span", html)
    assert "07700 900123" in marked
    assert any("AB12 CDE" in m for m in marked)
    assert "&lt;script&gt;alert(" in html and "<script>alert(" not in html
    assert 'govuk-tag--red">P1<' in html
    assert "Why this priority" in html and "Weight" in html
    assert "Triaged · priority P1" in html  # the history


def test_claim_grade_and_decide_change_state_and_redirect_back_to_the_report(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    run_pipeline(rt)
    signed_in(web, rt)
    page = report_path(reference)

    claimed = post(web, f"{page}/claim", {}, "/console/queue")
    assert (claimed.status_code, claimed.headers["location"]) == (303, f"{page}#claim")
    assert triage_row(rt, reference).state == "claimed"
    assert "Claimed by analyst@example.org" in web.get(page).text

    grading = {"source": "2", "intelligence": "B", "handling": "P", "reason": "Seen it myself"}
    graded = post(web, f"{page}/grade", grading, page)
    assert (graded.status_code, graded.headers["location"]) == (303, f"{page}#grading")
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == reference))
        assert row is not None
        assert (row.source_evaluation, row.intelligence_assessment, row.handling_code) == (
            "2",
            "B",
            "P",
        )

    outcome = {"outcome": "no_further_action", "reason": "Nothing to act on"}
    decided = post(web, f"{page}/outcome", outcome, page)
    assert (decided.status_code, decided.headers["location"]) == (303, f"{page}#outcome")
    result = triage_row(rt, reference)
    assert (result.state, result.outcome) == ("decided", "no_further_action")
    after = web.get(page).text
    assert (
        "Decided: No further action" in after
        and "Graded · source 2, intelligence B, handling code P" in after
    )
    assert 'action="/console/reports/' + reference + '/outcome"' not in after  # no second go


def test_a_refused_form_comes_back_with_its_errors_and_changes_nothing(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    run_pipeline(rt)
    signed_in(web, rt)
    page = report_path(reference)

    bad = {"source": "4", "intelligence": "B", "handling": "C", "reason": "Keep it close"}
    refused = post(web, f"{page}/grade", bad, page)
    assert (refused.status_code, refused.headers["location"]) == (303, f"{page}#errors")
    shown = web.get(page).text
    assert "There is a problem" in shown
    assert 'href="#grade-source"' in shown and 'href="#grade-conditions"' in shown
    assert "Keep it close" in shown  # what was typed is kept
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == reference))
        assert row is not None and row.source_evaluation is None
    assert "There is a problem" not in web.get(page).text  # shown once

    # radios left unanswered are asked for by name, not in the model's words
    post(web, f"{page}/grade", {"reason": "Keep it close"}, page)
    unanswered = web.get(page).text
    for asked in ("choose the source evaluation", "choose the intelligence assessment"):
        assert asked in unanswered
    assert "String should have" not in unanswered
    post(web, f"{page}/outcome", {"reason": "Nothing chosen"}, page)
    assert "choose the outcome" in web.get(page).text

    no_detail = {"outcome": "add_to_case", "reason": "Belongs with the depot case"}
    post(web, f"{page}/outcome", no_detail, page)
    assert "needs detail" in web.get(page).text
    assert triage_row(rt, reference).state == "new"


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    signed_in(web, rt)
    response = web.post(f"{report_path(reference)}/claim", data={})
    assert response.status_code == 400
    forged = web.post(f"{report_path(reference)}/claim", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert triage_row(rt, reference).state == "new"


def test_a_role_that_may_read_but_not_decide_gets_no_forms_and_a_403_on_posting(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    signed_in(web, rt, "custodian@example.org", role=Role.reporter_custodian)
    page = web.get(report_path(reference))
    assert page.status_code == 200 and "/claim" not in page.text and "/grade" not in page.text
    assert post(web, f"{report_path(reference)}/claim", {}, report_path(reference)).status_code == (
        403
    )
    assert triage_row(rt, reference).state == "new"


# --- linkage: entities, matches, alerts ---------------------------------------------------


def investigator_token(rt: Runtime, email: str = "inv@example.org", **kw: Any) -> str:
    return bearer_token(rt, email, role=Role.investigator, clearance=Classification.secret, **kw)


def add_subject(web: TestClient, token: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "Operation Larch subject", "classification": "SECRET", **body}
    response = web.post("/api/v1/linkage/subjects", json=payload, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def referral_match(web: TestClient, rt: Runtime) -> dict[str, Any]:
    """A partner's referral that the model matches to a known subject, with its waterfall."""
    token = investigator_token(rt)
    add_subject(
        web,
        token,
        alert_threshold=0.8,
        person={
            "first_name": "Robert",
            "last_name": "Hargreaves",
            "date_of_birth": "1984-03-12",
            "postcode": "LS1 4AB",
            "town": "Leeds",
        },
    )
    body = {
        "person": {
            "first_name": "Bob",
            "last_name": "Hargreaves",
            "date_of_birth": "12/03/1984",
            "postcode": "LS1 4AB",
            "town": "Leeds",
        },
        "reason": "Referred by the college safeguarding lead after repeated worrying remarks.",
    }
    response = web.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    (match,) = response.json()["matches"]
    return dict(match)


def test_the_entity_page_draws_each_match_as_a_waterfall_and_blind_review_hides_numbers(
    rt: Runtime, web: TestClient
) -> None:
    match = referral_match(web, rt)
    signed_in(web, rt, "reviewer@example.org", role=Role.investigator, clearance=SECRET)
    path = f"/console/entities/{match['entity']['id']}"
    page = web.get(path)
    assert page.status_code == 200, page.text
    html = page.text
    probability = f"{match['match_probability']:.3f}"
    assert probability in html and "How this match was scored" in html
    steps = match["explanation"]
    assert html.count("<meter") == len(steps) - 1  # a bar for the prior and each comparison
    assert "used for matching" in html and "Hargreaves" in html
    assert 'href="' + path + '?blind=1"' in html

    blind = web.get(path + "?blind=1").text
    assert probability not in blind and "<meter" not in blind
    assert "How this match was scored" not in blind
    assert not re.search(r"\d\.\d{3}", blind)  # no score of any kind
    assert 'name="blind" value="1"' in blind


def test_reviewing_a_match_records_the_label_and_returns_to_the_entity(
    rt: Runtime, web: TestClient
) -> None:
    match = referral_match(web, rt)
    signed_in(web, rt, "reviewer@example.org", role=Role.investigator, clearance=SECRET)
    entity = match["entity"]["id"]
    page = f"/console/entities/{entity}?blind=1"
    action = f"/console/matches/{match['id']}/review"
    missing = post(web, action, {"entity": str(entity), "blind": "1", "label": "unsure"}, page)
    assert missing.headers["location"] == f"/console/entities/{entity}?blind=1#errors"
    assert "There is a problem" in web.get(page).text
    label = {"entity": str(entity), "blind": "1", "label": "negative", "reason": "Other Bob"}
    reviewed = post(web, action, label, page)
    assert reviewed.status_code == 303
    assert reviewed.headers["location"] == f"/console/entities/{entity}?blind=1#match-{match['id']}"
    with rt.db.session() as session:
        row = session.get(Match, match["id"])
        assert row is not None and (row.state, row.blind) == ("negative", True)
    assert "Different (negative): Other Bob" in web.get(page).text


def test_an_entity_of_another_organisation_is_not_found(rt: Runtime, web: TestClient) -> None:
    token = investigator_token(rt, "svc@example.org", org="Security Service North", teams=("D4",))
    known = add_subject(web, token, person={"first_name": "Karl", "phone": "07700900123"})
    signed_in(web, rt, "reviewer@example.org", role=Role.investigator, clearance=SECRET)
    response = web.get(f"/console/entities/{known['entity_ids'][0]}")
    assert response.status_code == 404 and "Karl" not in response.text


def test_the_alerts_inbox_flags_a_reappearance_and_a_decision_needs_its_reason(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt)
    add_subject(web, token, status="closed", person={"first_name": "Karl", "phone": "07700900123"})
    reference = submit(web, PHONE_REPORT)
    run_pipeline(rt)
    signed_in(web, rt, "lead@example.org", role=Role.investigator, clearance=SECRET)
    inbox = web.get("/console/alerts")
    assert inbox.status_code == 200, inbox.text
    assert "Closed subject re-appeared" in inbox.text
    assert f'href="/console/reports/{reference}"' in inbox.text
    with rt.db.session() as session:
        alert_id = session.scalars(select(Alert.id)).one()
        subject = session.scalars(select(Subject.reference)).one()
    assert f'href="/console/subjects/{subject}"' in inbox.text  # on to the subject's page

    action = f"/console/alerts/{alert_id}/decision"
    refused = post(web, action, {"state": "dismissed"}, "/console/alerts")
    assert refused.headers["location"] == "/console/alerts#errors"
    assert "Enter the reason for your decision" in web.get("/console/alerts").text
    dismissal = {"state": "dismissed", "reason": "Phone reassigned"}
    done = post(web, action, dismissal, "/console/alerts")
    back = f"/console/alerts#alert-{alert_id}"
    assert (done.status_code, done.headers["location"]) == (303, back)
    with rt.db.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert (alert.state, alert.reason) == ("dismissed", dismissal["reason"])


def test_an_alert_on_a_record_the_team_may_not_see_says_only_whom_to_ask(
    rt: Runtime, web: TestClient
) -> None:
    other = investigator_token(rt, "svc@example.org", org="Security Service North", teams=("D4",))
    add_subject(web, other, person={"first_name": "Karl", "phone": "+447700900123"})
    reference = submit(web, PHONE_REPORT)
    run_pipeline(rt)

    signed_in(
        web,
        rt,
        "desk@example.org",
        role=Role.investigator,
        org="Security Service North",
        teams=("D4",),
        clearance=Classification.secret,
    )
    inbox = web.get("/console/alerts").text
    assert "A record exists that you cannot see." in inbox
    assert f'href="/console/reports/{reference}"' not in inbox  # nothing to open
    assert "Match " not in inbox  # no evidence from a record they may not see
    # whom to ask, and for what: the reference its holder knows it by
    org = rt.settings.receiving_org
    ask = f"Record {reference}, held by {org}, matched; ask them to share it."
    assert ask in inbox
    welsh = web.get("/console/alerts?lang=cy").text  # said in Welsh
    assert f"Mae cofnod {reference}, sydd gan {org}, yn cyfateb" in welsh
    assert ask not in welsh


def test_the_analyst_gets_no_alert_badge_for_another_agencys_subject(
    rt: Runtime, web: TestClient
) -> None:
    other = investigator_token(rt, "svc@example.org", org="Security Service North", teams=("D4",))
    add_subject(web, other, person={"first_name": "Karl", "phone": "+447700900123"})
    theirs = submit(web, PHONE_REPORT)
    own = investigator_token(rt)
    person = {"first_name": "Jan", "phone": "07700900456"}
    add_subject(web, own, classification="OFFICIAL-SENSITIVE", person=person)
    ours = submit(web, PHONE_REPORT.replace("07700 900123", "07700 900456"))
    run_pipeline(rt)
    with rt.db.session() as session:
        assert len(session.scalars(select(Alert.id)).all()) == 2  # one alert for each agency
    signed_in(web, rt)
    html = web.get("/console/queue").text
    rows = {ref: html[html.index(ref) :].split("</tr>")[0] for ref in (theirs, ours)}
    assert "Known subject alert" in rows[ours]
    assert "Known subject alert" not in rows[theirs]


def item(start: int, end: int, **kw: Any) -> ItemOut:
    values: dict[str, Any] = {
        "id": start,
        "kind": "phone",
        "value": "v",
        "text": "t",
        "start": start,
        "end": end,
        "confidence": 1.0,
        "source": "text",
        "detail": None,
        "status": "active",
        "followup_id": None,
        "corrects_item_id": None,
    }
    values.update(kw)
    return ItemOut(**values)


def test_highlighting_marks_each_item_once_and_keeps_every_character() -> None:
    text = "call 07700 900123 or 07700 900456 tonight"
    items = [
        item(5, 17),
        item(11, 17),  # inside the first: not marked twice
        item(21, 33, status="rejected"),  # an analyst rejected it
        item(21, 33, followup_id=7),  # its offsets are in a follow-up, not this text
        item(30, 99),  # beyond the text
    ]
    segments = triage_pages.highlighted(text, items)
    assert "".join(s.text for s in segments) == text
    assert [s.text for s in segments if s.item] == ["07700 900123"]


def test_a_partner_reading_a_shared_report_is_offered_only_what_it_may_use(
    web: TestClient, rt: Runtime
) -> None:
    partner_org = "Regional CT Unit North"

    def agree(session: Session) -> None:
        from vigil.access.sharing import create_agreement

        ensure_organisation(session, partner_org, OrganisationKind.ct_policing)
        create_agreement(
            session,
            SYSTEM,
            rt.settings.receiving_org,
            partner_org,
            ["report"],
            Classification.official_sensitive,
            "Joint casework",
        )

    rt.db.write_sync(agree)
    reference = submit(web, "Two men photographing the depot's gates at night.")
    sharer = bearer_token(rt, "sharer@example.org", role=Role.supervisor)
    shared = web.post(
        f"/api/v1/reports/{reference}/shares",
        json={"organisation": partner_org, "purpose": "Their area"},
        headers=auth(sharer),
    )
    assert shared.status_code == 201, shared.text
    signed_in(web, rt, "partner.inv@example.org", role=Role.investigator, org=partner_org)
    page = web.get(f"/console/reports/{reference}")
    assert page.status_code == 200
    assert 'href="/console/queue"' not in page.text  # an investigator has no queue
    assert f"/console/reports/{reference}/claim" not in page.text  # nor the owner's triage
