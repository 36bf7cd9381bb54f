"""Every validation error of the journeys, in a real browser, with JavaScript on and off.

Each page is sent empty or wrong, must show the GOV.UK error summary and inline messages,
a title starting "Error:", keep everything the person typed, and (with JavaScript) move
focus to the error summary. The mistake is then corrected and the journey goes on, so one
walk covers every page and ends with a report that is really stored.

Browser tests run on SQLite only; the server-side page tests cover both engines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, Shot
from tests.browser.errors import assert_error_page, js_enabled
from tests.browser.journey import (
    PRIMARY,
    Answers,
    OnlineAnswers,
    answer_about,
    answer_date,
    answer_where,
    begin,
    expect_path,
    send,
    stored,
    submit,
)
from tests.browser.live import LiveServer

JS = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])


def value(page: Page, selector: str) -> str:
    return page.locator(selector).input_value()


@JS
def test_every_report_page_error_is_summarised_kept_and_correctable(
    new_context: ContextFactory,
    live_server: LiveServer,
    shot: Shot,
    javascript: bool,
    tmp_path: Path,
) -> None:
    page = new_context(java_script_enabled=javascript).new_page()
    begin(page)
    assert js_enabled(page) is javascript

    # what: nothing chosen, nothing typed; then a description that is too short
    assert_error_page(page, submit(page), ["kind", "description"])
    shot(page, "what-empty")
    page.locator("input[name=kind][value=item]").check()
    page.locator("#description").fill("Bag")
    assert_error_page(page, submit(page), ["description"])
    shot(page, "what-too-short")
    expect(page.locator("input[name=kind][value=item]")).to_be_checked()
    assert value(page, "#description") == "Bag"
    if javascript:  # the summary's link takes the person to the field
        page.locator(".govuk-error-summary a[href='#description']").click()
        expect(page.locator("#description")).to_be_focused()
    page.locator("#description").fill("A bag left under a bench for an hour.")
    submit(page)

    # when: a description that is too long; then, on the date page, no date, an impossible
    # date with a bad time, a future date and a two-digit year
    expect_path(page, "/report/when")
    page.locator("input[name=when][value=date]").check()
    page.locator("#description").fill("x" * 501)
    assert_error_page(page, submit(page), ["description"])
    shot(page, "when-too-long")
    expect(page.locator("input[name=when][value=date]")).to_be_checked()
    assert len(value(page, "#description")) == 501
    page.locator("#description").fill("Most evenings")
    submit(page)
    expect_path(page, "/report/when-date")
    assert_error_page(page, submit(page), ["date-day"])
    shot(page, "when-no-date")
    page.locator("#date-day").fill("31")
    page.locator("#date-month").fill("2")
    page.locator("#date-year").fill("2025")
    page.locator("#time").fill("25:99")
    assert_error_page(page, submit(page), ["date-day", "time"])
    shot(page, "when-not-real")
    assert (value(page, "#date-day"), value(page, "#time")) == ("31", "25:99")
    page.locator("#date-day").fill("1")
    page.locator("#date-year").fill("2999")
    page.locator("#time").fill("")
    assert_error_page(page, submit(page), ["date-day"])
    shot(page, "when-future")
    page.locator("#date-year").fill("25")
    assert_error_page(page, submit(page), ["date-year"])
    answer_date(page, Answers(date=("1", "2", "2025"), time="09:15"))

    # where: a postcode that is not one
    expect_path(page, "/report/where")
    page.locator("#address").fill("1 High Street")
    page.locator("#postcode").fill("NOT A CODE")
    assert_error_page(page, submit(page), ["postcode"])
    shot(page, "where-postcode")
    assert (value(page, "#address"), value(page, "#postcode")) == ("1 High Street", "NOT A CODE")
    answer_where(page, Answers())

    # people and vehicles: no answer to "add one?"; an empty person; a bad registration
    for key, field, wrong in (
        ("people", "name", None),
        ("vehicles", "registration", "!!!"),
    ):
        expect_path(page, f"/report/{key}")
        assert_error_page(page, submit(page), ["add"])
        shot(page, f"{key}-no-answer")
        page.locator("input[name=add][value=yes]").check()
        submit(page)
        expect_path(page, f"/report/{key}/add")
        if wrong is not None:
            page.locator(f"#{field}").fill(wrong)
        assert_error_page(page, submit(page), [field])
        shot(page, f"{key}-item-error")
        if wrong is not None:
            assert value(page, f"#{field}") == wrong
        page.locator(f"#{field}").fill("AB12 CDE" if key == "vehicles" else "Alex")
        submit(page)
        expect_path(page, f"/report/{key}")
        page.locator("input[name=add][value=no]").check()
        submit(page)

    # online: a web address that is not one, and a "where" without an address
    expect_path(page, "/report/online")
    page.locator("#url-1").fill("not a web address")
    page.locator("#where-1").fill("A forum")
    adding = page.locator("main form button[name=action][value=add]")
    assert_error_page(page, submit(page, adding), ["url-1"])  # "add another" checks rows too
    shot(page, "online-bad-url")
    expect_path(page, "/report/online")
    assert (value(page, "#url-1"), value(page, "#where-1")) == ("not a web address", "A forum")
    page.locator("#url-1").fill("https://example.org/post/9")
    submit(page, page.locator("main form button[name=action][value=add]"))
    page.locator("#where-2").fill("Without an address")
    assert_error_page(page, submit(page), ["url-2"])
    shot(page, "online-where-without-url")
    page.locator("#where-2").fill("")
    submit(page)

    # files: a file that is not accepted (a Windows program named like a photo)
    expect_path(page, "/report/files")
    program = tmp_path / "holiday.jpg"
    program.write_bytes(b"MZ\x90\x00\x03" + bytes(2000))
    page.locator("input#files").set_input_files(str(program))
    if javascript:  # vigil.mjs uploads in place; the error page replaces <main>
        page.locator("main form button[name=action][value=upload]").click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        expect(page).to_have_title(re.compile(r"^Error: "))
    else:
        upload = page.locator("main form button[name=action][value=upload]")
        assert_error_page(page, submit(page, upload), ["files"])
    shot(page, "files-rejected")
    expect(page.locator(".govuk-error-summary")).to_contain_text("holiday.jpg")
    expect(page.locator(".vigil-filename")).to_have_count(0)
    submit(page, page.locator("main form button[name=action][value=continue]"))

    # about you: contact chosen, then nothing given; then a bad phone and e-mail
    expect_path(page, "/report/about-you")
    page.locator("input[name=choice][value=contact]").check()
    submit(page)
    expect_path(page, "/report/contact")
    assert_error_page(page, submit(page), ["phone"])
    shot(page, "contact-nothing")
    page.locator("#name").fill("Ali")
    page.locator("#phone").fill("12")
    page.locator("#email").fill("not-an-email")
    assert_error_page(page, submit(page), ["phone", "email"])
    shot(page, "contact-bad")
    assert (value(page, "#phone"), value(page, "#email")) == ("12", "not-an-email")
    assert value(page, "#name") == "Ali"
    page.locator("#phone").fill("07700 900456")
    page.locator("#email").fill("")
    submit(page)

    done = send(page, "/report", shot)
    report = stored(live_server, done.reference)
    assert report.kind == "item"
    assert report.vehicles == ["AB12CDE"]
    assert report.urls == ["https://example.org/post/9"]
    assert report.anonymous is False


@JS
def test_every_online_route_error_is_summarised_and_correctable(
    new_context: ContextFactory, live_server: LiveServer, shot: Shot, javascript: bool
) -> None:
    page = new_context(java_script_enabled=javascript).new_page()
    page.goto("/online/links")
    assert_error_page(page, submit(page), ["url-1"])
    shot(page, "links-empty")
    page.locator("#url-1").fill("javascript:alert(1)")
    assert_error_page(page, submit(page), ["url-1"])
    assert value(page, "#url-1") == "javascript:alert(1)"
    page.locator("#url-1").fill("https://video.example.org/v/1")
    submit(page)

    expect_path(page, "/online/platform")
    submit(page)  # optional: nothing chosen is fine

    expect_path(page, "/online/shows")
    assert_error_page(page, submit(page), ["description"])
    shot(page, "shows-empty")
    page.locator("#description").fill("Too short")
    assert_error_page(page, submit(page), ["description"])
    page.locator("#description").fill(OnlineAnswers().shows)
    submit(page)

    answer_about(page, None, "/online")
    done = send(page, "/online", shot)
    assert stored(live_server, done.reference).urls == ["https://video.example.org/v/1"]


def test_a_form_sent_with_a_stale_token_changes_nothing_and_says_so(page: Page, shot: Shot) -> None:
    begin(page)
    page.locator("input[name=kind][value=threat]").check()
    page.locator("#description").fill("Someone threatening to attack the market.")
    page.locator("input[name=csrf_token]").evaluate("input => { input.value = 'stale' }")
    response = submit(page, page.locator(PRIMARY).first)
    assert response is not None and response.status == 400
    shot(page, "form-expired")
    expect(page.locator("h1")).to_have_text("Sorry, this form has expired")
    page.goto("/report/what")
    expect(page.locator("input[name=kind][value=threat]")).not_to_be_checked()
