"""axe-core finds no WCAG 2.2 A/AA violations on the case, search, dashboard and audit pages,
in their normal and error states, in Debian's Chromium under the pages' real CSP; and the
pages raise no CSP violation or script error. SQLite only, like every browser test: the
server-side page tests cover both engines."""

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
from tests.factories import minimal_report, staff_token
from vigil.access import pages, signin
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import Role

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("console-more-server")
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
    """A fresh browser holding ``email``'s staff session, and the problems it sees."""

    def work(session: Session) -> str:
        user_id = session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        return signin.start_signed_in_session(session, user_id)

    cookie = server.rt.db.write_sync(work)
    context = browser.new_context()
    context.add_cookies([{"name": pages.COOKIE, "value": cookie, "url": server.base_url}])
    page = context.new_page()
    problems: list[str] = []
    # An error state is answered 400, which Chromium logs; anything else logged is a problem.
    expected = "the server responded with a status of 400"
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and expected not in m.text else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page, problems


def visit(page: Page, server: LiveServer, path: str, step: str) -> None:
    response = page.goto(server.url(path))
    assert response is not None
    assert_accessible(page, step)


def test_console_pages_have_no_accessibility_violations(
    server: LiveServer, browser: Browser
) -> None:
    rt = server.rt
    analyst = staff_token(rt, "a11y-analyst@example.org")
    staff_token(rt, "a11y-sup@example.org", role=Role.supervisor, clearance=Classification.secret)
    staff_token(rt, "a11y-auditor@example.org", role=Role.auditor)
    api = httpx.Client(base_url=server.base_url, timeout=30)
    refs = []
    for text in ("A drone over the depot at dusk.", "Someone filming the depot gates."):
        made = api.post("/api/v1/reports", json=minimal_report(description=text))
        assert made.status_code == 201, made.text
        refs.append(made.json()["reference"])
    bearer = {"Authorization": f"Bearer {analyst}"}
    case = api.post("/api/v1/cases", json={"title": "Depot", "reports": refs}, headers=bearer)
    assert case.status_code == 201, case.text
    ref = case.json()["reference"]
    action = api.post(f"/api/v1/cases/{ref}/actions", json={"title": "Review CCTV"}, headers=bearer)
    assert action.status_code == 201, action.text

    page, problems = signed_in(server, browser, "a11y-analyst@example.org")
    visit(page, server, "/console/cases", "case list")
    visit(page, server, f"/console/cases/new?report={refs[0]}", "open a case")
    page.get_by_role("button", name="Open the case").click()
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert_accessible(page, "open a case, with errors")
    visit(page, server, f"/console/cases/{ref}", "case page")
    page.get_by_text("Record a decision").click()
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert_accessible(page, "case page, decision with errors")
    visit(page, server, "/console/search?q=depot", "search results")
    visit(page, server, "/console/search?q=&priority=P1", "search with an error")
    assert problems == []

    page, problems = signed_in(server, browser, "a11y-sup@example.org")
    visit(page, server, "/console/dashboard", "dashboard")
    visit(page, server, "/console/dashboard?since=yesterday", "dashboard with an error")
    assert problems == []

    page, problems = signed_in(server, browser, "a11y-auditor@example.org")
    visit(page, server, "/console/audit?action=case.viewed", "audit log")
    visit(page, server, f"/console/audit/records/{ref}", "record history")
    visit(page, server, "/console/audit/verify", "verify the chain")
    page.get_by_role("button", name="Verify the chain").click()
    page.wait_for_load_state()
    assert page.get_by_text("The audit chain is intact").is_visible()
    assert_accessible(page, "chain verdict")
    assert problems == []
