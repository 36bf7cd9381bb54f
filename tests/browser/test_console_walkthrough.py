"""The analyst's day in a real Chromium: sign in, open the triage queue, move to the report
with the keyboard shortcut, claim it, grade it and decide its outcome, all under the real
CSP, with axe-core checking the queue and the report page; then an investigator's alerts
inbox and entity page (waterfall and blind review) under axe too. Screenshots go to
test-artifacts/. The server-side rules of every page are in tests/console/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shot
from tests.browser.live import LiveServer, browser_settings, migrate_sqlite, start_live_server
from tests.factories import auth, minimal_report, staff_token
from vigil.access import pages, signin
from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user
from vigil.audit.services import SYSTEM
from vigil.intake.models import Report
from vigil.triage.models import TriageResult

EMAIL = "walkthrough.analyst@example.org"
PASSWORD = "synthetic analyst password for the browser"
THREAT = (
    "I heard the man in flat 3 say on the phone he is going to bomb the Arndale Centre "
    "tomorrow night. He has bags of ammonium nitrate in his garage and a white van AB12 CDE."
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server, so its queue holds only this walkthrough's report."""
    root = tmp_path_factory.mktemp("console-server")
    migrate_sqlite(root / "vigil.db")
    server = start_live_server(browser_settings(root / "vigil.db", root / "var"))
    yield server
    server.stop()
    assert not server.errors, f"the live server failed: {server.errors!r}"


def make_staff(server: LiveServer, email: str = EMAIL, role: Role = Role.triage_analyst) -> str:
    """A staff member in the receiving team with a password and a TOTP secret (returned)."""

    def work(session: Session) -> str:
        user = create_user(
            session,
            SYSTEM,
            email,
            server.settings.receiving_org,
            role,
            OrganisationKind.ct_policing,
            teams=(server.settings.receiving_team,),
            clearance=Classification.secret,
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, email))
        return signin.enrol_totp(session, server.rt.sealer, SYSTEM, user)

    secret: str = server.rt.db.write_sync(work)
    return secret


def sign_in(page: Page, email: str, secret: str) -> None:
    page.goto(pages.SIGN_IN)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"**{pages.CODE}")
    page.get_by_label("Enter the code from your authenticator app").fill(
        pyotp.TOTP(secret).at(time.time())
    )
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{pages.HOME}")


def triaged_report(server: LiveServer) -> str:
    """A report sent through the public API, once the in-process worker has triaged it."""
    response = httpx.post(server.url("/api/v1/reports"), json=minimal_report(description=THREAT))
    assert response.status_code == 201, response.text
    reference = str(response.json()["reference"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with server.rt.db.session() as session:
            status = session.scalar(
                select(TriageResult.status)
                .join(Report, Report.id == TriageResult.report_id)
                .where(Report.reference == reference)
            )
        if status == "done":
            return reference
        time.sleep(0.1)
    raise AssertionError(f"{reference} was not triaged in time (status {status})")


def test_an_analyst_opens_the_queue_claims_grades_and_decides_a_report(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    secret = make_staff(live_server)
    reference = triaged_report(live_server)
    sign_in(page, EMAIL, secret)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Triage queue").click()
    page.wait_for_url("**/console/queue")
    row = page.locator("tr", has_text=reference)
    expect(row.get_by_text("P1", exact=True)).to_be_visible()
    assert_accessible(page, "triage queue")
    shot(page, "queue")

    page.keyboard.press("j")  # the shortcut selects the first (most urgent) report
    expect(page.get_by_role("link", name=reference)).to_be_focused()
    page.keyboard.press("c")  # and claims it
    page.wait_for_url(f"**/console/reports/{reference}#claim")
    expect(page.get_by_text(f"Claimed by {EMAIL}")).to_be_visible()
    expect(page.locator("mark").first).to_be_visible()
    assert_accessible(page, "report page")

    page.locator("#grade-source-2").check()
    page.locator("#grade-intelligence-B").check()
    page.locator("#grade-handling").check()  # P: lawful sharing permitted
    page.locator("#grade-reason").fill("The reporter saw it and a second report agrees")
    page.get_by_role("button", name="Save grading").click()
    page.wait_for_url(f"**/console/reports/{reference}#grading")
    expect(
        page.get_by_role("cell", name="Graded · source 2, intelligence B, handling code P")
    ).to_be_visible()

    page.get_by_label("Escalate").check()
    page.locator("#outcome-reason").fill("Threat to life: passed to the duty officer")
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_url(f"**/console/reports/{reference}#outcome")
    expect(page.locator("#state")).to_contain_text("Decided: Escalate")
    shot(page, "decided")


def test_an_investigator_reviews_an_alert_and_a_match_blind(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    token = staff_token(
        live_server.rt, "lead@example.org", role=Role.investigator, clearance=Classification.secret
    )
    person = {
        "first_name": "Robert",
        "last_name": "Hargreaves",
        "date_of_birth": "1984-03-12",
        "postcode": "LS1 4AB",
        "town": "Leeds",
    }
    subject = {
        "name": "Operation Larch subject",
        "alert_threshold": 0.8,
        "status": "closed",
        "person": person,
    }
    created = httpx.post(
        live_server.url("/api/v1/linkage/subjects"), json=subject, headers=auth(token)
    )
    assert created.status_code == 201, created.text
    referral = {
        "person": {**person, "first_name": "Bob", "date_of_birth": "12/03/1984"},
        "reason": "Referred by the college safeguarding lead after repeated worrying remarks.",
    }
    referred = httpx.post(
        live_server.url("/api/v1/linkage/referrals"), json=referral, headers=auth(token)
    )
    assert referred.status_code == 201, referred.text
    entity = referred.json()["entity"]["id"]

    sign_in(
        page,
        "reviewer@example.org",
        make_staff(live_server, "reviewer@example.org", Role.investigator),
    )
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/console/alerts")
    expect(page.get_by_text("Closed subject re-appeared")).to_be_visible()
    assert_accessible(page, "alerts inbox")

    page.goto(f"/console/entities/{entity}")
    expect(page.get_by_role("table", name="How this match was scored")).to_be_visible()
    assert_accessible(page, "entity page")
    shot(page, "entity")

    page.get_by_role("link", name="Review blind (hide every score)").click()
    expect(page.get_by_role("table", name="How this match was scored")).to_have_count(0)
    page.get_by_label("Different (negative)").check()
    page.get_by_label("Reason").fill("A different Bob: another date of birth on file")
    page.get_by_role("button", name="Record the review").click()
    page.wait_for_url(f"**/console/entities/{entity}?blind=1#match-*")
    expect(page.get_by_text("Different (negative): A different Bob")).to_be_visible()
    assert_accessible(page, "entity page, blind")
