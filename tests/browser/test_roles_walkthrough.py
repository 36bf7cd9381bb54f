"""Walkthroughs per role in a real Chromium, under the real CSP, with axe-core on every page
visited and screenshots in test-artifacts/:

- an analyst triages a P1 report and opens a case from it;
- a partner agency's practitioner updates the action their agency owns on a case shared
  with them, and can see neither another agency's action nor a report not shared with them;
- an auditor searches the audit log, opens a record's history and verifies the chain;
- the session warning: before the idle end a modal dialog offers to stay signed in (by
  keyboard too); staying keeps the session; doing nothing ends on the sign-in page.

The warning is tested without waiting half an hour: the page's clock is Playwright's
(``page.clock``) and is moved forward by as much as the staff session is aged in the
server's database, so the two agree, as they would after real idleness. The server-side
rules are in tests/access/test_session_keep_alive.py and tests/cases/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shot
from tests.browser.live import LiveServer, browser_settings, migrate_sqlite, start_live_server
from tests.browser.test_console_walkthrough import triaged_report
from tests.factories import auth, minimal_report, staff_token
from vigil.access import pages, session_pages, signin
from vigil.access.markings import Classification
from vigil.access.models import StaffSession
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM
from vigil.db import utcnow

PASSWORD = "synthetic password for the role walkthroughs"
HEALTH = "Synthetic Health Trust"  # a partner agency the case is shared with
COUNCIL = "Synthetic Borough Council"  # another partner agency, also shared with
PRIVATE = (
    "A man in a grey hoodie filmed the staff entrance of Quarry Hill depot for an hour and "
    "wrote down the shift change times in a red notebook."
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server: the hub, two partner agencies with agreements covering
    cases, and only this module's reports."""
    root = tmp_path_factory.mktemp("roles-server")
    migrate_sqlite(root / "vigil.db")
    server = start_live_server(browser_settings(root / "vigil.db", root / "var"))

    def setup(session: Session) -> None:
        hub = server.settings.receiving_org
        ensure_organisation(session, hub, OrganisationKind.ct_policing)
        for partner, kind in ((HEALTH, OrganisationKind.health), (COUNCIL, OrganisationKind.other)):
            ensure_organisation(session, partner, kind)
            create_agreement(
                session,
                SYSTEM,
                hub,
                partner,
                ["case"],
                Classification.official_sensitive,
                "Managing risk together (synthetic MAPPA)",
            )

    server.rt.db.write_sync(setup)
    yield server
    server.stop()
    assert not server.errors, f"the live server failed: {server.errors!r}"


def make_person(
    server: LiveServer,
    email: str,
    role: Role,
    org: str | None = None,
    kind: OrganisationKind = OrganisationKind.ct_policing,
) -> str:
    """A staff member with a password and a TOTP secret (returned); by default in the
    receiving team, cleared to SECRET."""
    org_name = org or server.settings.receiving_org
    teams = (server.settings.receiving_team,) if org is None else ()

    def work(session: Session) -> str:
        user = create_user(
            session,
            SYSTEM,
            email,
            org_name,
            role,
            kind,
            teams=teams,
            clearance=Classification.secret if org is None else Classification.official_sensitive,
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, email))
        return signin.enrol_totp(session, server.rt.sealer, SYSTEM, user)

    secret: str = server.rt.db.write_sync(work)
    return secret


def sign_in(page: Page, email: str, secret: str) -> None:
    """Both steps, by keyboard: type, then Enter submits each form."""
    page.goto(pages.SIGN_IN)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"**{pages.CODE}")
    code = page.get_by_label("Enter the code from your authenticator app")
    code.fill(pyotp.TOTP(secret).at(time.time()))
    code.press("Enter")
    page.wait_for_url(f"**{pages.HOME}")
    expect(identity_bar(page).get_by_text(f"Signed in as {email}")).to_be_visible()


def identity_bar(page: Page) -> Locator:
    return page.get_by_role("region", name="Your account")


def time_left(page: Page, minutes: int) -> Locator:
    """The identity bar's "time left" line saying ``minutes``."""
    text = f"Your session ends in {minutes} minutes unless you use Vigil."
    return identity_bar(page).get_by_text(text)


def heading(page: Page) -> str:
    return page.locator("h1").first.inner_text().strip()


# --- the analyst --------------------------------------------------------------------------


def test_an_analyst_triages_a_p1_report_and_opens_a_case_from_it(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    email = "roles.analyst@example.org"
    secret = make_person(live_server, email, Role.triage_analyst)
    reference = triaged_report(live_server)
    sign_in(page, email, secret)
    assert_accessible(page, "staff home")

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Triage queue").click()
    page.wait_for_url("**/console/queue*")
    row = page.locator("tr", has_text=reference)
    expect(row.get_by_text("P1", exact=True)).to_be_visible()
    assert_accessible(page, "triage queue")
    shot(page, "queue")

    row.get_by_role("link", name=reference).click()
    page.wait_for_url(f"**/console/reports/{reference}")
    page.get_by_role("button", name="Claim this report").click()
    page.wait_for_url(f"**/console/reports/{reference}#claim")
    expect(page.get_by_text(f"Claimed by {email}")).to_be_visible()
    page.get_by_label("Open a case", exact=True).check()
    page.locator("#outcome-reason").fill("Threat to life and a vehicle: a case is needed")
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_url(f"**/console/reports/{reference}#outcome")
    expect(page.locator("#state")).to_contain_text("Decided: Open a case")
    assert_accessible(page, "report page, decided")
    shot(page, "report-decided")

    from_report = page.get_by_role("link", name="Open a case from this report")
    if from_report.count():  # the report page's own link fills the reference in
        from_report.click()
        page.wait_for_url("**/console/cases/new?*")
        expect(page.locator("#reports")).to_have_value(reference)
    else:  # without that link, the analyst types the reference into the form
        page.goto("/console/cases/new")
        page.locator("#reports").fill(reference)
    assert_accessible(page, "open a case")
    page.locator("#title").fill("Arndale threat: flat 3")
    page.locator("#summary").fill("Threat to bomb the Arndale Centre; van AB12 CDE.")
    page.locator("#level").check()
    shot(page, "new-case")
    page.get_by_role("button", name="Open the case").click()
    page.wait_for_url("**/console/cases/CASE-*")
    expect(page.locator("h1")).to_contain_text("Arndale threat: flat 3")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    assert_accessible(page, "case page")
    shot(page, "case")


# --- the partner practitioner -------------------------------------------------------------


def api(server: LiveServer, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(server.url(path), json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def shared_case(server: LiveServer, lead: str) -> tuple[str, str, dict[str, int]]:
    """A case opened by the hub from a report, shared with Health and the Council, with one
    action for each of the three. Returns (case, report, {agency: action id})."""
    analyst = staff_token(server.rt, lead, clearance=Classification.secret)
    sent = httpx.post(server.url("/api/v1/reports"), json=minimal_report(description=PRIVATE))
    assert sent.status_code == 201, sent.text
    report = str(sent.json()["reference"])
    case = api(server, analyst, "/api/v1/cases", {"title": "Depot watchers", "reports": [report]})
    ref = str(case["reference"])
    for partner in (HEALTH, COUNCIL):
        share = {"organisation": partner, "purpose": "Joint risk management"}
        api(server, analyst, f"/api/v1/cases/{ref}/shares", share)
    actions = {}
    for agency, title in (
        ("hub", "Review the depot CCTV"),
        (HEALTH, "Arrange a welfare visit"),
        (COUNCIL, "Check the tenancy records"),
    ):
        body = {"title": title, "detail": "Synthetic task"}
        if agency != "hub":
            body["organisation"] = agency
        actions[agency] = int(api(server, analyst, f"/api/v1/cases/{ref}/actions", body)["id"])
    return ref, report, actions


def test_a_partner_practitioner_updates_their_action_and_sees_nothing_unshared(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    case, report, actions = shared_case(live_server, "roles.partners.lead@example.org")
    email = "roles.practitioner@example.org"
    secret = make_person(
        live_server, email, Role.partner_practitioner, HEALTH, OrganisationKind.health
    )
    sign_in(page, email, secret)
    expect(identity_bar(page).get_by_text(f"Signed in as {email}, {HEALTH}")).to_be_visible()
    expect(page.get_by_role("link", name="Triage queue")).to_have_count(0)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Cases").click()
    page.wait_for_url("**/console/cases*")
    assert_accessible(page, "partner's case list")
    page.get_by_role("link", name=case).click()
    page.wait_for_url(f"**/console/cases/{case}")
    own = page.locator(f"#action-{actions[HEALTH]}")
    expect(own).to_be_visible()
    expect(page.locator(f"#action-{actions[COUNCIL]}")).to_have_count(0)
    expect(page.locator(f"#action-{actions['hub']}")).to_have_count(0)
    expect(page.get_by_text("Check the tenancy records")).to_have_count(0)
    expect(page.get_by_text(report)).to_have_count(0)  # the linked report is not shared
    assert_accessible(page, "partner's case page")
    shot(page, "partner-case")

    own.get_by_label("New state").select_option(label="In progress")
    own.get_by_label("Note").fill("Visit booked with the GP practice for Tuesday")
    own.get_by_role("button", name="Update this action").click()
    page.wait_for_url(f"**/console/cases/{case}*")
    updated = page.locator(f"#action-{actions[HEALTH]}")
    expect(updated.get_by_text("Visit booked with the GP practice for Tuesday")).to_be_visible()
    expect(updated.get_by_text("In progress").first).to_be_visible()
    assert_accessible(page, "partner's case page, updated")
    shot(page, "partner-updated")

    # Another agency's action answers as if it did not exist, even to a well-formed POST.
    token = page.locator('#staff-sign-out input[name="csrf_token"]').input_value()
    other = page.request.post(
        live_server.url(f"/console/cases/{case}/actions/{actions[COUNCIL]}"),
        form={"csrf_token": token, "state": "done", "text": "Not ours to close"},
        max_redirects=0,
    )
    assert other.status == 404

    # The unshared report: the same answer as a reference that does not exist. (Reading
    # reports is not part of a partner's role, so both are the role's refusal: a 403 page.)
    answers = []
    for reference in (report, "VGL-2222-2222"):
        answer = page.request.get(live_server.url(f"/console/reports/{reference}"))
        assert answer.status == 403
        assert report not in answer.text()
        answers.append(answer.text().replace(reference, "REF"))
    assert _without_tokens(answers[0]) == _without_tokens(answers[1])
    page.goto(f"/console/reports/{report}")
    expect(page.get_by_role("heading", name="You cannot use this page")).to_be_visible()
    assert_accessible(page, "partner refused a report page")
    shot(page, "partner-refused-report")

    # Search neither lists nor counts it.
    page.goto("/console/search")
    page.locator("#q").fill("Quarry Hill notebook")
    page.locator("#q").press("Enter")
    page.wait_for_url("**/console/search?*")
    assert report not in page.content()
    expect(page.get_by_text("0 results")).to_be_visible()
    assert_accessible(page, "partner's search")


# --- the auditor --------------------------------------------------------------------------


def test_an_auditor_searches_the_log_reads_a_history_and_verifies_the_chain(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    case, _report, _actions = shared_case(live_server, "roles.audited.lead@example.org")
    email = "roles.auditor@example.org"
    secret = make_person(live_server, email, Role.auditor)
    sign_in(page, email, secret)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/console/audit")
    assert_accessible(page, "audit log")
    page.get_by_label("Record").fill(case)
    page.get_by_role("button", name="Search the log").click()
    page.wait_for_url("**/console/audit?*")
    events = page.get_by_role("table", name="Events, oldest first")
    expect(events.get_by_role("cell", name="case.opened")).to_be_visible()
    assert_accessible(page, "audit log, searched")
    shot(page, "log")

    events.get_by_role("link", name=case).first.click()
    page.wait_for_url(f"**/console/audit/records/{case}")
    expect(page.get_by_role("cell", name="record.disclosed").first).to_be_visible()
    assert_accessible(page, "record history")
    shot(page, "history")

    page.goto("/console/audit/verify")
    assert_accessible(page, "verify the chain")
    page.get_by_role("button", name="Verify the chain").click()
    page.wait_for_url("**/console/audit/verify")
    expect(page.get_by_role("heading", name="The audit chain is intact")).to_be_visible()
    assert_accessible(page, "chain verified")
    shot(page, "verified")


# --- the session warning ------------------------------------------------------------------


def age_staff_session(page: Page, server: LiveServer, by: timedelta) -> None:
    """Make the server see ``by`` more of idleness: its last activity moves into the past."""
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == pages.COOKIE)

    def work(session: Session) -> None:
        row = session.get(StaffSession, signin.session_id(cookie))
        assert row is not None
        row.last_seen_at = row.last_seen_at - by

    server.rt.db.write_sync(work)


def last_seen_ago(page: Page, server: LiveServer) -> float:
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == pages.COOKIE)
    with server.rt.db.session() as session:
        row = session.get(StaffSession, signin.session_id(cookie))
        assert row is not None
        return (utcnow() - row.last_seen_at).total_seconds()


def idle_for(page: Page, server: LiveServer, minutes: int) -> None:
    """``minutes`` of doing nothing, as both the server and the page see it."""
    age_staff_session(page, server, timedelta(minutes=minutes))
    page.clock.fast_forward(minutes * 60_000)


def signed_in_with_a_clock(page: Page, server: LiveServer, email: str) -> None:
    secret = make_person(server, email, Role.auditor)
    page.clock.install()
    sign_in(page, email, secret)
    page.goto("/console/audit")
    expect(time_left(page, 30)).to_be_visible()


def test_the_idle_warning_is_a_keyboard_operable_dialog_and_staying_keeps_the_session(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    signed_in_with_a_clock(page, live_server, "roles.warned@example.org")
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(dialog).to_be_hidden()

    idle_for(page, live_server, 2)  # the time left counts down, no warning yet
    expect(
        page.get_by_text("Your session ends in 28 minutes unless you use Vigil.")
    ).to_be_visible()
    expect(dialog).to_be_hidden()

    idle_for(page, live_server, 24)  # 26 minutes idle: 4 left, within the 5-minute warning
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(
        "You will be signed out in 4 minutes because you have not done anything."
    )
    expect(dialog.get_by_text("Vigil could not be reached")).to_be_hidden()
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()  # focus moved into the dialog
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Sign out")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(stay).to_be_focused()
    assert_accessible(page, "session warning")
    shot(page, "warning")

    page.keyboard.press("Enter")  # Stay signed in
    expect(dialog).to_be_hidden()
    expect(
        page.get_by_text("Your session ends in 30 minutes unless you use Vigil.")
    ).to_be_visible()
    assert last_seen_ago(page, live_server) < 10  # the server's idle clock started again

    idle_for(page, live_server, 26)  # warned again; Escape also means "stay"
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(
        page.get_by_text("Your session ends in 30 minutes unless you use Vigil.")
    ).to_be_visible()
    assert last_seen_ago(page, live_server) < 10

    page.reload()
    expect(page.locator("h1")).to_have_text("Audit log")  # still signed in


def test_when_another_tab_was_busy_the_warning_does_not_appear(
    page: Page, live_server: LiveServer
) -> None:
    signed_in_with_a_clock(page, live_server, "roles.two.tabs@example.org")
    page.clock.fast_forward(26 * 60_000)  # this page was idle, but the server saw activity
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(
        page.get_by_text("Your session ends in 30 minutes unless you use Vigil.")
    ).to_be_visible()
    expect(dialog).to_be_hidden()


def test_when_vigil_cannot_be_reached_the_warning_says_so_and_stays(
    page: Page, live_server: LiveServer
) -> None:
    signed_in_with_a_clock(page, live_server, "roles.offline@example.org")
    idle_for(page, live_server, 26)
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(dialog).to_be_visible()
    page.route(f"**{session_pages.KEEP_ALIVE}", lambda route: route.abort())
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog.get_by_text("Vigil could not be reached")).to_be_visible()
    expect(dialog).to_be_visible()
    assert last_seen_ago(page, live_server) >= 26 * 60
    page.unroute(f"**{session_pages.KEEP_ALIVE}")
    dialog.get_by_role("button", name="Stay signed in").click()  # trying again works
    expect(dialog).to_be_hidden()
    assert last_seen_ago(page, live_server) < 10


def test_the_countdown_speaks_welsh_on_welsh_pages(page: Page, live_server: LiveServer) -> None:
    signed_in_with_a_clock(page, live_server, "roles.cymraeg@example.org")
    page.goto("/console/audit?lang=cy")
    idle_for(page, live_server, 27)
    # The script picks the Welsh plural form itself (Intl.PluralRules over the texts the
    # server sent per CLDR category); the dialog's own Welsh arrives with the catalogues.
    expect(page.get_by_role("dialog")).to_be_visible()
    welsh_bar = page.get_by_role("region", name="Eich cyfrif")
    expect(welsh_bar).to_contain_text("Bydd eich sesiwn yn dod i ben ymhen 3 munud")
    assert_accessible(page, "session warning in Welsh")


def idle_to_the_end(page: Page, live_server: LiveServer, email: str) -> None:
    signed_in_with_a_clock(page, live_server, email)
    idle_for(page, live_server, 26)
    expect(page.get_by_role("dialog", name="You are about to be signed out")).to_be_visible()
    idle_for(page, live_server, 31)
    page.wait_for_url(f"**{pages.SIGN_IN}?ended=idle")


def test_doing_nothing_ends_on_the_sign_in_page_which_says_why(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    idle_to_the_end(page, live_server, "roles.idle@example.org")
    expect(page.locator("h1")).to_have_text("Sign in to Vigil")
    expect(page.get_by_text("You were signed out after 30 minutes of inactivity.")).to_be_visible()
    expect(identity_bar(page)).to_have_count(0)
    assert_accessible(page, "signed out after inactivity")
    shot(page, "signed-out")
    page.goto("/console/audit")  # the session really is over
    page.wait_for_url(f"**{pages.SIGN_IN}*")


def test_without_javascript_the_bar_keeps_the_server_rendered_time_left(
    new_context: Any, live_server: LiveServer
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    email = "roles.nojs@example.org"
    sign_in(page, email, make_person(live_server, email, Role.auditor))
    expect(time_left(page, 30)).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert session_pages.warn_seconds(live_server.settings.staff_idle_timeout_s) == 300


def _without_tokens(html: str) -> str:
    """A page without its per-response CSRF token and session countdown figures."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'data-session-[a-z-]+="[^"]*"', "", html)
