"""The public journey in a real browser: anonymous, with contact details and a photo, without
JavaScript, in Welsh, and after the answers have expired.

Browser tests run on SQLite only; the database behaviour of every page is covered on both
engines by the server-side page tests. Each test saves full-page screenshots of its steps
under ``test-artifacts/``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory, Shot
from tests.browser.journey import (
    Answers,
    Contact,
    OnlineAnswers,
    Person,
    Vehicle,
    answer_what,
    begin,
    expect_path,
    html_lang,
    online_journey,
    report_journey,
    send,
    skip,
    stored,
)
from tests.browser.live import SESSION_COOKIE, LiveServer


def test_anonymous_journey_reaches_the_confirmation_and_stores_the_report(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    answers = Answers(when="now", address="", postcode="", place="Outside the town hall")
    done = report_journey(page, answers, visit=shot)

    report = stored(live_server, done.reference)
    assert report.anonymous is True
    assert report.channel == "web"
    assert report.kind == "behaviour"
    assert report.description == answers.description
    assert (report.people, report.vehicles, report.urls, report.files) == (0, [], [], [])
    # the answers in progress are deleted on submit: going back shows no old answers
    page.goto("/report/what")
    expect(page.locator("#description")).to_have_value("")


def test_skipping_every_optional_question_stores_nothing_for_them(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    """Only the first question is essential; pages left alone must not invent answers."""
    begin(page, shot)
    answer_what(page, Answers(kind="other"), shot)
    for step in ("when", "where", "people", "vehicles", "online", "files", "about-you"):
        if step in ("people", "vehicles"):  # "add another" asks yes or no; no is the skip
            page.locator("input[name=add][value=no]").check()
        skip(page, f"/report/{step}", shot)
    done = send(page, "/report", shot)

    report = stored(live_server, done.reference)
    assert report.anonymous is True
    assert (report.address, report.postcode, report.place) == (None, None, None)
    assert report.when == (False, False, None)
    assert (report.people, report.vehicles, report.urls, report.files) == (0, [], [], [])


def test_journey_with_contact_details_people_vehicles_links_and_a_photo(
    page: Page, live_server: LiveServer, shot: Shot, photo: Path
) -> None:
    answers = Answers(
        kind="vehicle",
        description="A van parked for three nights; two people unloading gas cylinders.",
        people=[Person(age="30s", appearance="Tall, beard", clothing="Grey hoodie")],
        vehicles=[Vehicle(registration="ab12 cde", make="Ford", model="Transit", colour="White")],
        links=[("example.org/post/1", "A forum")],
        files=[photo],
        contact=Contact(),
    )
    seen: list[str] = []

    def visit(p: Page, step: str) -> None:
        seen.append(step)
        shot(p, step)
        if step == "check":
            summary = p.locator("main .govuk-summary-list")
            for text in ("LS1 4DY", "AB12CDE", "https://example.org/post/1", photo.name):
                expect(summary.filter(has_text=text).first).to_be_visible()
            expect(p.locator("main", has_text="jo.bloggs@example.org")).to_be_visible()

    done = report_journey(page, answers, visit=visit)

    assert "files-uploaded" in seen and "people-1" in seen and "vehicles-1" in seen
    report = stored(live_server, done.reference)
    assert report.anonymous is False
    assert report.kind == "vehicle"
    assert report.postcode == "LS1 4DY"
    assert report.people == 1
    assert report.vehicles == ["AB12CDE"]
    assert report.urls == ["https://example.org/post/1"]
    assert report.files == [(photo.name, "image/jpeg")]


def test_journey_without_javascript_including_a_file_upload(
    new_context: ContextFactory, live_server: LiveServer, shot: Shot, photo: Path
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    answers = Answers(
        when="date",
        vehicles=[Vehicle(registration="XY51 ABC")],
        links=[("https://example.org/a", ""), ("https://example.org/b", "Video site")],
        files=[photo],
        contact=Contact(email="", preference=""),
    )

    def visit(p: Page, step: str) -> None:
        shot(p, step)
        # GOV.UK's inline script marks <body> when JavaScript runs: it must not have run
        assert "govuk-frontend-supported" not in (p.locator("body").get_attribute("class") or "")

    done = report_journey(page, answers, visit=visit)

    report = stored(live_server, done.reference)
    assert report.anonymous is False
    assert report.vehicles == ["XY51ABC"]
    assert report.urls == ["https://example.org/a", "https://example.org/b"]
    assert report.files == [(photo.name, "image/jpeg")]


def test_online_material_route_is_short_and_stores_the_links(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    answers = OnlineAnswers(
        links=["https://video.example.org/watch?v=abc123", "files.example.org/f/9"],
        platform="other",
        name="A chat group",
        contact=Contact(phone="", preference=""),
    )
    done = online_journey(page, answers, visit=shot)

    report = stored(live_server, done.reference)
    assert report.kind == "online"
    assert report.channel == "web"
    assert report.description == answers.shows
    assert report.urls == [
        "https://video.example.org/watch?v=abc123",
        "https://files.example.org/f/9",
    ]
    assert report.where_seen == ["Other: A chat group", "Other: A chat group"]
    assert report.anonymous is False


def test_journey_in_welsh_sets_lang_cy_on_every_page_and_remembers_the_choice(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    langs: dict[str, str | None] = {}

    def visit(p: Page, step: str) -> None:
        shot(p, step)
        langs[step] = html_lang(p)
        if p.locator(".govuk-panel--confirmation").count():
            # the confirmation has no switcher: following it would lose the reference
            expect(p.locator(".vigil-language-switcher")).to_have_count(0)
            return
        # the switcher offers English, marked up as English, and no longer offers Welsh
        expect(p.locator("a[hreflang=en][lang=en]")).to_have_count(1)
        expect(p.locator("a[hreflang=cy]")).to_have_count(0)

    page.goto("/")
    assert html_lang(page) == "en"
    done = report_journey(page, Answers(people=[Person(name="Sam")]), visit=visit, query="?lang=cy")

    assert langs and set(langs.values()) == {"cy"}, langs
    # the choice was remembered without ?lang= on later addresses
    assert "lang=" not in page.url
    assert stored(live_server, done.reference).people == 1
    # sending the report deletes the answers, not the language: the confirmation's link to
    # follow up (and anything after it) is still in Welsh
    with page.expect_navigation():
        page.locator("main a[href='/follow-up']").click()
    shot(page, "follow-up-after-sending")
    assert html_lang(page) == "cy", "the language was forgotten when the report was sent"
    # and switching back works from any page
    page.goto("/report/what?lang=en")
    assert html_lang(page) == "en"


def test_language_choice_is_remembered_for_the_session_and_switchable_back(
    page: Page, shot: Shot
) -> None:
    page.goto("/?lang=cy")
    assert html_lang(page) == "cy"
    page.goto("/online")
    assert html_lang(page) == "cy"
    shot(page, "online-start-cy")
    with page.expect_navigation():
        page.locator("a[hreflang=en]").click()
    assert html_lang(page) == "en"
    page.goto("/")
    assert html_lang(page) == "en"


def test_idle_answers_expire_with_a_page_that_says_so(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    """After the idle timeout (2 hours by default) the answers are gone and the next page
    explains why, instead of an error or a silent restart."""
    begin(page)
    answer_what(page, Answers())
    expect_path(page, "/report/when")
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    idle = timedelta(seconds=live_server.settings.form_idle_timeout_s + 60)
    assert live_server.age_session(cookie["value"], idle) == 1

    page.reload()
    shot(page, "expired")
    expect(page).to_have_title(re.compile(r"^Your answers have been deleted"))
    expect(page.locator("h1")).to_have_text("Your answers have been deleted")
    # starting again begins a new, empty journey
    with page.expect_navigation():
        page.locator("main a.govuk-button").click()
    expect_path(page, "/")
    begin(page)
    expect(page.locator("#description")).to_have_value("")


def test_switching_language_on_the_confirmation_does_not_lose_the_reference(
    page: Page, shot: Shot
) -> None:
    done = online_journey(page, OnlineAnswers())
    switch = page.locator("a[hreflang=cy]")
    if switch.count() == 0:  # no switcher on the confirmation: nothing can lose them
        expect(page.locator(".vigil-reference")).to_have_text(done.reference)
        return
    with page.expect_navigation():
        switch.click()
    shot(page, "after-switching")
    expect(page.locator(".vigil-reference")).to_have_text(done.reference, timeout=2_000)
