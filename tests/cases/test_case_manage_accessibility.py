"""axe-core finds no WCAG 2.2 A/AA violations on the case management pages (changing a case,
linking records, sharing) in their normal and error states, in Debian's Chromium under the
pages' real CSP; they raise no CSP violation or script error, and their forms work by
keyboard alone (the page tests prove them without JavaScript). SQLite only, like every
browser test: the server-side page tests cover both engines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.axe import assert_accessible
from tests.browser.live import LiveServer, browser_settings, migrate_sqlite, start_live_server
from tests.cases.world import HEALTH
from tests.factories import minimal_report, staff_token
from vigil.access import pages, signin
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind
from vigil.access.services import ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("case-manage-server")
    migrate_sqlite(root / "vigil.db")
    live = start_live_server(browser_settings(root / "vigil.db", root / "var"))
    yield live
    live.stop()
    assert not live.errors, live.errors


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (run `make browser`)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def signed_in(server: LiveServer, browser: Browser, email: str) -> tuple[Page, list[str]]:
    def work(session: Session) -> str:
        user_id = session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        return signin.start_signed_in_session(session, user_id)

    cookie = server.rt.db.write_sync(work)
    context = browser.new_context()
    context.add_cookies([{"name": pages.COOKIE, "value": cookie, "url": server.base_url}])
    page = context.new_page()
    problems: list[str] = []
    expected = "the server responded with a status of 400"
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and expected not in m.text else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page, problems


def test_case_management_pages_are_accessible_and_work_by_keyboard(
    server: LiveServer, browser: Browser
) -> None:
    rt = server.rt
    analyst = staff_token(rt, "manage-a11y@example.org")

    def agreement(session: Session) -> None:
        ensure_organisation(session, HEALTH, OrganisationKind.health)
        create_agreement(
            session,
            SYSTEM,
            rt.settings.receiving_org,
            HEALTH,
            ["case"],
            Classification.official_sensitive,
            "Managing risk together",
        )

    rt.db.write_sync(agreement)
    api = httpx.Client(base_url=server.base_url, timeout=30)
    made = api.post("/api/v1/reports", json=minimal_report(description="A drone over the depot."))
    assert made.status_code == 201, made.text
    report = made.json()["reference"]
    bearer = {"Authorization": f"Bearer {analyst}"}
    case = api.post("/api/v1/cases", json={"title": "Depot"}, headers=bearer)
    assert case.status_code == 201, case.text
    path = f"/console/cases/{case.json()['reference']}"

    page, problems = signed_in(server, browser, "manage-a11y@example.org")
    page.goto(server.url(f"{path}/change"))
    assert_accessible(page, "change the case")
    page.get_by_label("Level 3").focus()
    page.keyboard.press("Space")  # native radios and buttons: operable by keyboard alone
    page.get_by_role("button", name="Save the changes").press("Enter")
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert_accessible(page, "change the case, with errors")
    page.get_by_label("Reason").focus()
    page.keyboard.type("Senior oversight needed")
    page.get_by_role("button", name="Save the changes").press("Enter")
    page.wait_for_load_state()
    assert page.url.endswith(path)
    assert page.get_by_text("Level 3: Senior multi-agency management").is_visible()
    assert_accessible(page, "case page for its manager")

    page.goto(server.url(f"{path}/links"))
    assert_accessible(page, "link records")
    page.get_by_label("Report references").fill(f"{report}\nVGL-2222-2222")
    page.get_by_role("button", name="Link the records").click()
    page.wait_for_load_state()
    assert_accessible(page, "link records, with errors")
    page.get_by_label("Report references").fill(report)
    page.get_by_role("button", name="Link the records").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name=report).is_visible()

    page.goto(server.url(f"{path}/sharing"))
    assert_accessible(page, "sharing")
    page.get_by_role("button", name="Share the case").click()
    page.wait_for_load_state()
    assert_accessible(page, "sharing, with errors")
    page.get_by_label(HEALTH).check()
    page.get_by_label("Why are you sharing it?").fill("Joint risk management")
    page.get_by_role("button", name="Share the case").click()
    page.wait_for_load_state()
    assert_accessible(page, "sharing, shared")
    page.get_by_role("button", name=f"Stop sharing with {HEALTH}").click()
    page.wait_for_load_state()
    assert page.get_by_text("Shares stopped").is_visible()
    assert problems == []
