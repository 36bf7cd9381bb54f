"""axe-core finds no WCAG 2.2 A/AA violations on any public page, in English and in Welsh,
and in the pages' error states.

The pages are reached the way people reach them (by walking the journeys, sending forms
empty or wrong, signing in to a thread), so the checks cover what the server really shows
at each step, with JavaScript on and the pages' real Content-Security-Policy in force (see
``axe.py`` for how axe is injected without weakening the CSP).

Browser tests run on SQLite only; the server-side page tests cover both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible, axe_violations
from tests.browser.conftest import Shot
from tests.browser.followup import api_report, ask, sign_in
from tests.browser.journey import (
    Answers,
    Contact,
    OnlineAnswers,
    Person,
    Vehicle,
    answer_contact,
    answer_date,
    answer_online,
    answer_what,
    answer_where,
    begin,
    expect_path,
    html_lang,
    online_journey,
    report_journey,
    send,
    submit,
)
from tests.browser.live import SESSION_COOKIE, LiveServer

LANGS = pytest.mark.parametrize("lang", ["en", "cy"])


def checker(
    page_lang: str, shot: Shot, shots: set[str] | None = None
) -> Callable[[Page, str], None]:
    """A visit that checks the page's language, runs axe on it and screenshots it (every
    step, or only the ``shots`` steps where other tests already photograph the rest)."""

    def check(page: Page, step: str) -> None:
        assert html_lang(page) == page_lang, f"{step}: <html lang> is not {page_lang}"
        assert_accessible(page, f"[{page_lang}] {step}")
        if shots is None or step in shots:
            shot(page, step)

    return check


def choose_language(page: Page, lang: str) -> None:
    page.goto(f"/?lang={lang}")
    assert html_lang(page) == lang


@LANGS
def test_every_journey_page_has_no_axe_violations(
    page: Page, shot: Shot, photo: Path, lang: str
) -> None:
    # test_public_journey photographs every journey page in both languages already
    check = checker(lang, shot, shots={"check", "confirmation"})
    answers = Answers(
        people=[Person(age="20s")],
        vehicles=[Vehicle(registration="AB12 CDE")],
        links=[("https://example.org/1", "A forum"), ("https://example.org/2", "")],
        files=[photo],
        contact=Contact(),
    )
    report_journey(page, answers, visit=check, query=f"?lang={lang}")
    online_journey(
        page, OnlineAnswers(platform="other", name="A chat app"), visit=check, query=f"?lang={lang}"
    )


@LANGS
def test_every_error_state_has_no_axe_violations(
    page: Page, live_server: LiveServer, shot: Shot, tmp_path: Path, lang: str
) -> None:
    check = checker(lang, shot)

    def wrong(step: str, button: str | None = None) -> None:
        response = submit(page, page.locator(button) if button else None)
        assert response is not None and response.status == 400, f"{step}: no error answer"
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        check(page, f"{step}-error")

    begin(page, query=f"?lang={lang}")
    wrong("what")
    answer_what(page, Answers())
    page.locator("input[name=when][value=date]").check()
    page.locator("#description").fill("x" * 501)
    wrong("when")
    page.locator("#description").fill("")
    submit(page)
    page.locator("#time").fill("99")
    wrong("when-date")
    answer_date(page, Answers())
    page.locator("#postcode").fill("XYZ")
    wrong("where")
    answer_where(page, Answers())
    for key, field, bad in (("people", "age", "x" * 60), ("vehicles", "registration", "!!")):
        wrong(f"{key}-list")
        page.locator("input[name=add][value=yes]").check()
        submit(page)
        page.locator(f"#{field}").fill(bad)
        wrong(f"{key}-item")
        page.locator(f"#{field}").fill("AB12 CDE" if key == "vehicles" else "20s")
        submit(page)
        page.locator("input[name=add][value=no]").check()
        submit(page)
    page.locator("#url-1").fill("not a link")
    wrong("online", "main form button[name=action][value=continue]")
    page.locator("#url-1").fill("")
    answer_online(page, Answers())
    program = tmp_path / "program.exe"
    program.write_bytes(b"MZ\x90\x00" + bytes(500))
    page.locator("input#files").set_input_files(str(program))
    page.locator("main form button[name=action][value=upload]").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check(page, "files-error")
    submit(page, page.locator("main form button[name=action][value=continue]"))
    page.locator("input[name=choice][value=contact]").check()
    submit(page)
    page.locator("#email").fill("nobody")
    wrong("contact")
    answer_contact(page, Contact(), "/report")
    send(page, "/report")

    page.goto("/online/links")
    wrong("online-links")
    page.locator("#url-1").fill("https://example.org/x")
    submit(page)
    submit(page)
    wrong("online-shows")

    done = api_report(live_server)
    page.goto("/follow-up")
    wrong("follow-up-sign-in")
    sign_in(page, done)
    expect_path(page, "/follow-up/thread")
    wrong("follow-up-reply")


@LANGS
def test_every_other_public_page_has_no_axe_violations(
    page: Page, live_server: LiveServer, shot: Shot, lang: str
) -> None:
    check = checker(lang, shot)
    choose_language(page, lang)
    for path in ("/", "/online", "/privacy", "/accessibility", "/cookies", "/follow-up"):
        page.goto(path)
        check(page, path.strip("/") or "start")

    # a thread with a question and a reply, then the signed-out banner
    done = api_report(live_server)
    ask(live_server, done.reference, "Can you describe the bag?")
    sign_in(page, done)
    page.locator("#text").fill("It was a black rucksack.")
    submit(page)
    check(page, "thread")
    with page.expect_navigation():
        page.locator("form[action='/follow-up/sign-out'] button").click()
    check(page, "signed-out")

    # removing a person asks first, on a page of its own
    begin(page)
    answer_what(page, Answers())
    page.goto("/report/people/add")
    page.locator("#age").fill("60s")
    submit(page)
    page.goto("/report/people/1/remove")
    check(page, "remove-person")

    # a form sent with a stale token
    page.goto("/report/what")
    page.locator("input[name=csrf_token]").evaluate("input => { input.value = 'stale' }")
    submit(page)
    check(page, "form-expired")

    # a report a bot would send (honeypot filled) is not sent, and the page says so
    page.goto("/report/check")
    page.locator("input[name=website]").evaluate("input => { input.value = 'spam' }")
    submit(page)
    check(page, "not-sent")

    # answers that expired while the person was away
    page.goto("/report/what")
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    idle = timedelta(seconds=live_server.settings.form_idle_timeout_s + 60)
    live_server.age_session(cookie["value"], idle)
    page.goto(f"/report/when?lang={lang}")
    check(page, "expired")

    # a signed-in reporter who was away too long
    choose_language(page, lang)
    sign_in(page, done)
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    live_server.age_session(cookie["value"], idle)
    page.goto(f"/follow-up/thread?lang={lang}")
    check(page, "follow-up-timed-out")


def test_only_govuks_known_radio_finding_is_waived(page: Page) -> None:
    """The axe waiver (see ``axe.py``) drops GOV.UK's ``aria-expanded`` on a revealing radio
    and nothing else: the same radio with another refused attribute, and an unlabelled
    field, are still reported."""
    radio = (
        '<div class="govuk-radios"><input class="govuk-radios__input" id="r1" name="r" '
        'type="radio" value="a" aria-controls="c1" aria-expanded="false"{extra}>'
        '<label for="r1">A</label><div id="c1">More</div></div>'
    )
    base = '<!doctype html><html lang="en"><head><title>t</title></head><body><main>{}</main>'
    page.set_content(base.format(radio.format(extra="")))
    assert axe_violations(page) == []
    page.set_content(base.format(radio.format(extra=' aria-pressed="true"')))
    assert [v["id"] for v in axe_violations(page)] == ["aria-allowed-attr"]
    page.set_content(base.format('<input type="text" id="x">'))
    assert "label" in [v["id"] for v in axe_violations(page)]
