"""A refusal or error that a page's own handler did not turn into form errors is shown to a
person as a page, on both databases: in the reader's language, with the same status and
``Retry-After``, the staff layout on console pages, and nothing about internals. Programs
(the API, and JSON calls from the pages' own scripts) are still answered in problem+json.

The refusals are raised from inside the real triage queue page (its service is replaced by
one that refuses), so the path is the one a real conflict, limit or failure would take. A
console form that fails its CSRF check keeps the console too, while the public form's page
keeps its word to reporters."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.console_more import Staff, be, staff
from tests.console_more import web as web  # fixture
from vigil.access.permissions import Role
from vigil.triage import api as triage_api
from vigil.triage import pages as triage_pages
from vigil.web.problems import PROBLEM_TYPE, Problem
from vigil.web.ratelimit import RateLimiter
from vigil.web.runtime import Runtime
from vigil.web.said import said

QUEUE = "/console/queue"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CLOSED = said("This case is closed; reopen it first.")


def refusing(monkeypatch: pytest.MonkeyPatch, raised: Exception) -> None:
    """The queue's service (behind the page and the API alike) refuses with ``raised``."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(triage_pages, "list_queue", refuse)
    monkeypatch.setattr(triage_api, "list_queue", refuse)


def words(text: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(text))


@pytest.fixture
def analyst(rt: Runtime) -> Staff:
    return staff(rt, "analyst@example.org", Role.triage_analyst)


def test_a_conflict_the_page_did_not_expect_is_a_page_in_the_staff_layout(
    web: TestClient, analyst: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing(monkeypatch, Problem(409, said("Conflict"), CLOSED, kind="conflict"))
    shown = be(web, analyst).get(QUEUE, headers=BROWSER)
    assert shown.status_code == 409
    assert shown.headers["content-type"].startswith("text/html")
    text = words(shown.text)
    assert '<h1 class="govuk-heading-l">Conflict</h1>' in text
    assert "This case is closed; reopen it first." in text
    assert "Vigil for staff" in text and "Signed in as analyst@example.org" in text
    assert 'href="/staff"' in text  # a way back to the start page
    assert shown.headers["cache-control"] == "no-store"


def test_the_same_refusal_reads_in_welsh_on_a_welsh_page(
    web: TestClient, analyst: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing(monkeypatch, Problem(409, said("Conflict"), CLOSED, kind="conflict"))
    shown = be(web, analyst).get(QUEUE, params={"lang": "cy"}, headers=BROWSER)
    assert shown.status_code == 409 and 'lang="cy"' in shown.text
    text = words(shown.text)
    assert "Gwrthdaro" in text and "Mae'r achos hwn ar gau; ailagorwch ef yn gyntaf." in text
    assert "Conflict" not in text and "reopen it first" not in text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "You can try again in {wait} seconds."),
        ("cy", "Gallwch roi cynnig arall arni ymhen {wait} eiliad."),
    ],
)
def test_a_limit_keeps_its_retry_after_and_says_when_to_try_again(
    web: TestClient,
    analyst: Staff,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    expected: str,
) -> None:
    limiter = RateLimiter(per_minute=1, name="probe")
    limiter.check("analyst")  # the one allowed this minute is spent
    with pytest.raises(Problem) as spent:
        limiter.check("analyst")
    wait = spent.value.headers["Retry-After"]
    assert int(wait) > 1
    refusing(monkeypatch, spent.value)
    shown = be(web, analyst).get(QUEUE, params={"lang": lang}, headers=BROWSER)
    assert shown.status_code == 429 and shown.headers["retry-after"] == wait
    assert expected.format(wait=wait) in words(shown.text)


def test_an_error_of_ours_is_a_page_that_tells_nothing_of_its_insides(
    web: TestClient, analyst: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing(monkeypatch, RuntimeError("connection to db-7.internal refused"))
    shown = be(web, analyst).get(QUEUE, headers=BROWSER)
    assert shown.status_code == 500
    assert shown.headers["content-type"].startswith("text/html")
    text = words(shown.text)
    assert "Internal error" in text and "Something went wrong on our side." in text
    assert "db-7" not in text and "RuntimeError" not in text
    welsh = be(web, analyst).get(QUEUE, params={"lang": "cy"}, headers=BROWSER)
    assert welsh.status_code == 500 and "Gwall mewnol" in words(welsh.text)


def test_programs_are_still_answered_in_problem_json(
    web: TestClient, rt: Runtime, analyst: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing(monkeypatch, Problem(409, said("Conflict"), CLOSED, kind="conflict"))
    token = {"Authorization": f"Bearer {analyst.token}"}
    api = web.get("/api/v1/triage/queue", headers={**BROWSER, **token})
    assert api.status_code == 409 and api.headers["content-type"] == PROBLEM_TYPE
    assert api.json()["detail"] == "This case is closed; reopen it first."
    # a page's own script asks for JSON (the session clock) or sends it (security keys)
    asked = be(web, analyst).get(QUEUE, headers={"Accept": "application/json"})
    assert asked.status_code == 409 and asked.headers["content-type"] == PROBLEM_TYPE
    sent = be(web, analyst).request(
        "GET", QUEUE, headers={"Content-Type": "application/json"}, content=b"{}"
    )
    assert sent.status_code == 409 and sent.headers["content-type"] == PROBLEM_TYPE
    refusing(monkeypatch, RuntimeError("connection to db-7.internal refused"))
    failed = web.get("/api/v1/triage/queue", headers=token)
    assert failed.status_code == 500 and failed.headers["content-type"] == PROBLEM_TYPE
    assert "db-7" not in failed.text


def test_a_visitor_who_is_not_signed_in_is_still_sent_to_sign_in(web: TestClient) -> None:
    sent = web.get(QUEUE, headers=BROWSER)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/staff/sign-in")


def test_an_expired_console_form_keeps_the_console_and_says_nothing_was_changed(
    web: TestClient, analyst: Staff
) -> None:
    assert be(web, analyst).get(QUEUE).status_code == 200  # a visitor session, with its token
    forged = be(web, analyst).post("/console/reports/VGL-AAAA-AAAA/claim", data={}, headers=BROWSER)
    assert forged.status_code == 400
    text = words(forged.text)
    assert "Sorry, this form has expired" in text and "Vigil for staff" in text
    assert "Nothing was changed." in text and 'href="/staff"' in text
    assert "If you had already sent a report" not in text  # that is for reporters
    welsh = be(web, analyst).post(
        "/console/reports/VGL-AAAA-AAAA/claim", params={"lang": "cy"}, data={}, headers=BROWSER
    )
    assert "Ni newidiwyd dim." in words(welsh.text)


def test_an_expired_public_form_still_reassures_the_reporter(web: TestClient) -> None:
    assert web.get("/").status_code == 200
    forged = web.post("/follow-up", data={}, headers=BROWSER)
    assert forged.status_code == 400
    text = words(forged.text)
    assert "Sorry, this form has expired" in text and "Vigil for staff" not in text
    assert "If you had already sent a report and were shown a reference, it was received." in text


def test_a_form_address_opened_as_a_page_says_so_and_keeps_its_allow_header(
    web: TestClient, analyst: Staff
) -> None:
    opened = be(web, analyst).get("/console/reports/VGL-AAAA-AAAA/claim", headers=BROWSER)
    assert opened.status_code == 405 and opened.headers["allow"] == "POST"
    assert opened.headers["content-type"].startswith("text/html")
    assert "Method not allowed" in words(opened.text)
    program = web.delete("/api/v1/reports", headers=BROWSER)
    assert program.status_code == 405
    assert program.headers["content-type"] == PROBLEM_TYPE  # the API stays JSON
    missing = web.get("/console/no-such-page", headers=BROWSER)
    assert missing.status_code == 404 and "Page not found" in missing.text


@pytest.mark.parametrize("path", ["/console/cases/CASE-XXXXXXXX", "/console/no-such-page"])
def test_a_console_page_not_found_keeps_the_console(
    web: TestClient, analyst: Staff, path: str
) -> None:
    missing = be(web, analyst).get(path, headers=BROWSER)
    assert missing.status_code == 404
    text = words(missing.text)
    assert "Page not found" in text and "Vigil for staff" in text and 'href="/staff"' in text
    assert "Report suspicious activity" not in text  # not the public site's page
    public = web.get("/no-such-page", headers=BROWSER)
    assert public.status_code == 404 and "Report suspicious activity" in public.text
