"""The follow-up thread in a real browser: an analyst asks through the JSON API, the reporter
signs in with the reference and code from the confirmation page, reads the question and
replies with a file; the analyst then sees the reply. Also its errors and its expiry.

Browser tests run on SQLite only; the server-side page and thread tests cover both engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, Shot
from tests.browser.errors import assert_error_page
from tests.browser.followup import QUESTION, REPLY, api_report, ask, sign_in
from tests.browser.journey import (
    OnlineAnswers,
    expect_path,
    online_journey,
    stored,
    submit,
)
from tests.browser.live import (
    SESSION_COOKIE,
    LiveServer,
    browser_settings,
    migrate_sqlite,
    start_live_server,
)


def test_reporter_reads_a_staff_question_and_replies_with_a_file(
    page: Page, live_server: LiveServer, shot: Shot, photo: Path
) -> None:
    done = online_journey(page, OnlineAnswers())
    token = ask(live_server, done.reference, QUESTION)

    # from the confirmation page's link, as a reporter would come back later
    with page.expect_navigation():
        page.locator("main a[href='/follow-up']").click()
    expect_path(page, "/follow-up")
    shot(page, "sign-in")
    # references and codes are accepted as people type them: any case, spaces for dashes
    page.locator("#reference").fill(done.reference.lower())
    page.locator("#code").fill(done.code.replace("-", " ").lower())
    submit(page)
    expect_path(page, "/follow-up/thread")
    expect(page.locator("main .govuk-inset-text", has_text=QUESTION)).to_be_visible()
    # the thread never shows the original report (someone may be looking at the screen)
    expect(page.locator("main")).not_to_contain_text(OnlineAnswers().shows)
    shot(page, "thread-with-question")

    page.locator("#text").fill(REPLY)
    page.locator("input#files").set_input_files(str(photo))
    submit(page)
    expect_path(page, "/follow-up/thread")
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
    reply = page.locator("main ol > li").last
    expect(reply).to_contain_text(REPLY)
    expect(reply.locator("li", has_text=photo.name)).to_be_visible()
    shot(page, "thread-with-reply")

    thread = stored(live_server, done.reference).thread
    assert thread == [("staff", QUESTION), ("reporter", REPLY)]
    seen = httpx.get(
        live_server.url(f"/api/v1/reports/{done.reference}/messages"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert seen.status_code == 200, seen.text
    assert [m["text"] for m in seen.json()] == [QUESTION, REPLY]

    # signing out ends access from this browser
    with page.expect_navigation():
        page.locator("form[action='/follow-up/sign-out'] button").click()
    expect_path(page, "/follow-up")
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
    shot(page, "signed-out")
    page.goto("/follow-up/thread")
    expect_path(page, "/follow-up")


def test_follow_up_errors_are_summarised_and_keep_what_was_typed(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    done = api_report(live_server)
    page.goto("/follow-up")
    assert_error_page(page, submit(page), ["reference", "code"])
    shot(page, "sign-in-empty")

    page.locator("#reference").fill("not a reference")
    page.locator("#code").fill("short")
    assert_error_page(page, submit(page), ["reference", "code"])
    expect(page.locator("#reference")).to_have_value("not a reference")

    wrong = done.code[:-1] + ("2" if done.code[-1] != "2" else "3")
    page.locator("#reference").fill(done.reference)
    page.locator("#code").fill(wrong)
    assert_error_page(page, submit(page), ["reference"])
    shot(page, "sign-in-wrong-code")
    expect(page.locator("#reference")).to_have_value(done.reference)

    sign_in(page, done)
    expect_path(page, "/follow-up/thread")
    assert_error_page(page, submit(page), ["text"])
    shot(page, "reply-empty")
    assert stored(live_server, done.reference).thread == []


@pytest.fixture(scope="module")
def quick_expiry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second Vigil whose sessions expire after 60 seconds idle (the shortest allowed)."""
    root = tmp_path_factory.mktemp("quick-expiry")
    migrate_sqlite(root / "vigil.db")
    server = start_live_server(
        browser_settings(root / "vigil.db", root / "var", form_idle_timeout_s=60)
    )
    yield server
    server.stop()


def test_an_idle_follow_up_session_signs_the_reporter_out_with_an_explanation(
    new_context: ContextFactory, quick_expiry_server: LiveServer, shot: Shot
) -> None:
    server = quick_expiry_server
    done = api_report(server)
    page = new_context(base_url=server.base_url).new_page()
    sign_in(page, done)
    expect_path(page, "/follow-up/thread")
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert server.age_session(cookie["value"], timedelta(seconds=61)) == 1

    page.reload()
    shot(page, "timed-out")
    expect(page).to_have_title(re.compile(r"^You have been signed out"))
    expect(page.locator("main")).to_contain_text("1 minute")
    with page.expect_navigation():
        page.locator("main a.govuk-button").click()
    expect_path(page, "/follow-up")
    expect(page.locator("#reference")).to_have_value("")
