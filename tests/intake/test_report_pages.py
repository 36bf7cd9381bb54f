"""The public website's report journeys, page by page, on SQLite and PostgreSQL.

Each test drives the pages as a browser without JavaScript would (plain form posts with the
session cookie and CSRF token) and checks what was stored in the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from tests.factories import jpeg_bytes, png_bytes
from vigil.db import utcnow
from vigil.intake import journey, journey_guard
from vigil.intake.models import Report
from vigil.intake.services import open_identity
from vigil.web.ratelimit import RateLimiter
from vigil.web.runtime import Runtime
from vigil.web.sessions import BrowserSession

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFERENCE = re.compile(r"VGL-[2-9A-Z]{4}-[2-9A-Z]{4}")
CODE = re.compile(r'class="govuk-body vigil-code" id="followup-code">([0-9A-Z-]+)<')
DESCRIPTION = (
    "A white van parked outside the depot for three nights; people unloading gas cylinders."
)


class Browser:
    """A visitor without JavaScript: follows what the pages say, one request at a time."""

    def __init__(self, client: TestClient, address: str | None = None) -> None:
        self.client = client
        self.headers = {"X-Forwarded-For": address} if address else {}
        self.token: str | None = None
        self.responses: list[httpx.Response] = []

    def _seen(self, response: httpx.Response) -> httpx.Response:
        self.responses.append(response)
        found = CSRF.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def get(self, url: str) -> httpx.Response:
        return self._seen(self.client.get(url, headers=self.headers, follow_redirects=False))

    def post(
        self, url: str, data: dict[str, Any] | None = None, files: Any = None, token: bool = True
    ) -> httpx.Response:
        if token and self.token is None:
            self.get(url)
        form = dict(data or {})
        if token:
            form.setdefault("csrf_token", self.token)
        return self._seen(
            self.client.post(
                url, data=form, files=files, headers=self.headers, follow_redirects=False
            )
        )

    def answer(self, url: str, data: dict[str, Any], files: Any = None) -> str:
        """Post a page's form and return where it sends us next (asserting no errors)."""
        response = self.post(url, data, files)
        assert response.status_code == 303, (url, response.status_code, response.text[-2000:])
        return response.headers["location"]


@pytest.fixture
def site(client: TestClient, rt: Runtime) -> Iterator[Browser]:
    rt.settings.form_min_fill_s = 0
    journey_guard.forget_answers()
    yield Browser(client)
    journey_guard.forget_answers()


def reports(rt: Runtime) -> list[Report]:
    with rt.db.session() as session:
        loaded = [
            selectinload(getattr(Report, name))
            for name in ("people", "vehicles", "online", "attachments", "identity")
        ]
        return list(session.scalars(select(Report).options(*loaded).order_by(Report.id)).all())


def session_rows(rt: Runtime) -> int:
    """Live sessions: not the husks or notes that ended ones leave behind."""
    live = select(func.count()).select_from(BrowserSession).where(BrowserSession.ended_at.is_(None))
    with rt.db.session() as session:
        return session.scalar(live) or 0


def start_report(b: Browser, kind: str = "vehicle", description: str = DESCRIPTION) -> None:
    assert b.get("/report/what").status_code == 200
    assert b.answer("/report/what", {"kind": kind, "description": description}) == "/report/when"


def skip_to_check(b: Browser, after: str = "when") -> None:
    """Answer 'no' or nothing on every optional page from ``after`` to check-your-answers."""
    steps = ["when", "where", "people", "vehicles", "online", "files", "about-you"]
    for step in steps[steps.index(after) :]:
        data: dict[str, str] = {"add": "no"} if step in ("people", "vehicles") else {}
        if step == "files":
            data = {"action": "continue"}
        b.answer(f"/report/{step}", data)


def send(b: Browser, route: str = "report") -> httpx.Response:
    check = b.get(f"/{route}/check")
    assert check.status_code == 200, check.text[-2000:]
    return b.post(f"/{route}/check", {"website": ""})


def assert_error_page(response: httpx.Response, *messages: str) -> None:
    assert response.status_code == 400, response.text[-2000:]
    assert re.search(r"<title>\s*Error:", response.text)
    assert "govuk-error-summary" in response.text
    for message in messages:
        assert message in response.text
        assert response.text.count(message) >= 2, f"{message!r} should be in summary and inline"


# --- pages ---------------------------------------------------------------------------------


def test_start_page_says_what_to_report_and_where_else_to_go(site: Browser) -> None:
    page = site.get("/").text
    for text in (
        "In an emergency call 999",
        "Research",
        "Gathering materials",
        "Storing materials",
        "Hostile reconnaissance",
        "gas cylinders",
        "passports or other documents in several names",
        "never a reason to be suspicious",
        "101",
        "Crimestoppers",
        'href="/report/what"',
        'href="/online"',
        'href="/follow-up"',
        "Start now",
    ):
        assert text in page, text
    assert "Start now" in site.get("/online").text


def test_later_pages_without_a_journey_send_the_visitor_to_the_start(site: Browser) -> None:
    for url in ("/report/when", "/report/people/add", "/report/files", "/report/check"):
        response = site.get(url)
        assert (response.status_code, response.headers["location"]) == (303, "/"), url
    for url in ("/online/platform", "/online/check"):
        assert site.get(url).headers["location"] == "/online"


def test_anonymous_report_with_every_answer_is_stored_and_the_session_deleted(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    location = site.answer(
        "/report/when", {"when": "date", "description": "It went on for an hour"}
    )
    assert location == "/report/when-date"
    assert site.get(location).status_code == 200
    assert (
        site.answer(
            "/report/when-date",
            {"date-day": "02", "date-month": "7", "date-year": "2025", "time": "2:30pm"},
        )
        == "/report/where"
    )
    site.answer(
        "/report/where",
        {"address": "Mill Lane\nLeeds", "postcode": "ls6 2qt", "description": "By the depot gate"},
    )
    assert site.answer("/report/people", {"add": "yes"}) == "/report/people/add"
    site.answer("/report/people/add", {"age": "30s", "clothing": "grey hoodie"})
    assert site.answer("/report/people", {"add": "no"}) == "/report/vehicles"
    site.answer("/report/vehicles", {"add": "yes"})
    site.answer("/report/vehicles/add", {"registration": "ab12 cde", "colour": "white"})
    site.answer("/report/vehicles", {"add": "no"})
    site.answer(
        "/report/online",
        {"rows": "1", "url-1": "example.org/post/1", "where-1": "a forum", "action": "continue"},
    )
    site.answer("/report/files", {"action": "continue"})
    assert site.answer("/report/about-you", {"choice": "anonymous"}) == "/report/check"
    check = site.get("/report/check").text
    for shown in ("2 July 2025 at 14:30", "LS6 2QT", "AB12CDE", "https://example.org/post/1"):
        assert shown in check
    assert "You are staying anonymous" in check

    confirmation = send(site)

    assert confirmation.status_code == 200
    (row,) = reports(rt)
    assert row.reference in confirmation.text
    code = CODE.search(confirmation.text)
    assert code and len(code.group(1).replace("-", "")) == 20
    assert "What happens next" in confirmation.text and 'href="/follow-up"' in confirmation.text
    assert confirmation.headers["cache-control"] == "no-store"
    assert (row.channel, row.kind, row.description) == ("web", "vehicle", DESCRIPTION)
    assert row.anonymous and row.identity is None
    assert row.when_start == datetime(2025, 7, 2, 13, 30, tzinfo=UTC)  # BST is UTC+1
    assert row.when_description == "It went on for an hour"
    assert (row.where_address, row.where_postcode) == ("Mill Lane\nLeeds", "LS6 2QT")
    assert [(p.age, p.clothing, p.name) for p in row.people] == [("30s", "grey hoodie", None)]
    assert [(v.registration_normalised, v.colour) for v in row.vehicles] == [("AB12CDE", "white")]
    assert [(o.url, o.where_seen) for o in row.online] == [
        ("https://example.org/post/1", "a forum")
    ]
    assert session_rows(rt) == 0
    assert "vigil_session=" in confirmation.headers["set-cookie"]  # deleted: expires now
    assert site.get("/report/check").headers["location"] == "/"


def test_report_with_contact_details_keeps_them_sealed_apart(site: Browser, rt: Runtime) -> None:
    start_report(site, kind="purchase")
    skip_to_check(site, after="when")
    assert site.get("/report/about-you?return=check").status_code == 200
    location = site.answer("/report/about-you?return=check", {"choice": "contact"})
    assert location == "/report/contact?return=check"
    contact = site.get(location).text
    assert 'href="/report/about-you?return=check"' in contact  # back to the question before
    location = site.answer(
        "/report/contact?return=check",
        {
            "name": "Jo Bloggs",
            "phone": "07700 900123",
            "email": "jo@example.org",
            "contact_preference": "Email after 6pm",
        },
    )
    assert location == "/report/check"
    assert "jo@example.org" in site.get("/report/check").text
    assert send(site).status_code == 200
    (row,) = reports(rt)
    assert not row.anonymous and row.identity is not None
    identity = open_identity(rt, row.identity, row.reference)
    assert identity["phone"] == "+447700900123"
    assert identity["email"] == "jo@example.org"
    assert "Jo Bloggs" not in row.description


def test_a_date_without_a_time_covers_the_whole_day(site: Browser, rt: Runtime) -> None:
    start_report(site)
    site.answer("/report/when", {"when": "date"})
    site.answer("/report/when-date", {"date-day": "15", "date-month": "1", "date-year": "2026"})
    skip_to_check(site, after="where")
    send(site)
    (row,) = reports(rt)
    assert row.when_start == datetime(2026, 1, 15, tzinfo=UTC)
    assert row.when_end == datetime(2026, 1, 15, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("choice", "ongoing", "unsure"), [("now", True, False), ("unsure", False, True)]
)
def test_happening_now_and_not_sure_are_recorded(
    site: Browser, rt: Runtime, choice: str, ongoing: bool, unsure: bool
) -> None:
    start_report(site)
    site.answer("/report/when", {"when": choice})
    skip_to_check(site, after="where")
    send(site)
    (row,) = reports(rt)
    assert (row.when_ongoing, row.when_unsure, row.when_start) == (ongoing, unsure, None)


def test_photos_are_staged_listed_removable_and_attached(site: Browser, rt: Runtime) -> None:
    start_report(site)
    skip_to_check(site, after="when")
    page = site.get("/report/files?return=check").text
    assert 'enctype="multipart/form-data"' in page and "data-vigil-upload" in page
    uploaded = site.post(
        "/report/files?return=check",
        {"action": "upload"},
        files=[
            ("files", ("street.jpg", jpeg_bytes(), "image/jpeg")),
            ("files", ("door.png", png_bytes(), "image/png")),
        ],
    )
    assert uploaded.status_code == 303
    assert uploaded.headers["location"] == "/report/files?return=check"
    listed = site.get("/report/files?return=check").text
    assert "street.jpg" in listed and "door.png" in listed
    staged = re.findall(r'name="remove" value="([0-9a-f]{32})"', listed)
    assert len(staged) == 2
    assert all((rt.store.staging / name).is_file() for name in staged)
    site.post("/report/files?return=check", {"remove": staged[1]})
    assert not (rt.store.staging / staged[1]).exists()
    listed = site.get("/report/files?return=check").text
    assert "street.jpg" in listed and "door.png" not in listed
    assert site.answer("/report/files?return=check", {"action": "continue"}) == "/report/check"
    assert "street.jpg" in site.get("/report/check").text

    send(site)

    (row,) = reports(rt)
    assert [(a.filename, a.media_type) for a in row.attachments] == [("street.jpg", "image/jpeg")]
    assert row.attachments[0].display_key is not None  # metadata-free copy made
    assert not (rt.store.staging / staged[0]).exists()  # moved into place


def test_files_chosen_before_continue_are_kept(site: Browser, rt: Runtime) -> None:
    start_report(site)
    skip_to_check(site, after="when")
    location = site.answer(
        "/report/files",
        {"action": "continue"},
        files=[("files", ("photo.jpg", jpeg_bytes(), "image/jpeg"))],
    )
    assert location == "/report/about-you"
    assert "photo.jpg" in site.get("/report/check").text


def test_a_file_that_cannot_be_accepted_is_refused_at_once_with_the_reason(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    response = site.post(
        "/report/files",
        {"action": "upload"},
        files=[
            ("files", ("notes.png", b"just some text", "image/png")),
            ("files", ("ok.jpg", jpeg_bytes(), "image/jpeg")),
        ],
    )
    assert_error_page(response, "The file notes.png cannot be added.")
    assert "The file name ends .png but the file is a plain text file." in response.text
    assert "ok.jpg" in response.text  # the good one was kept
    assert list(rt.store.staging.iterdir()) == [
        rt.store.staging / re.findall(r'name="remove" value="([0-9a-f]{32})"', response.text)[0]
    ]


def test_file_size_and_count_limits_are_explained(site: Browser, rt: Runtime) -> None:
    rt.settings.max_attachment_bytes = 1000
    start_report(site)
    too_big = site.post(
        "/report/files",
        {"action": "upload"},
        files=[("files", ("big.jpg", jpeg_bytes((400, 400)), "image/jpeg"))],
    )
    assert_error_page(too_big, "The file big.jpg is larger than 1000 B. Choose a smaller file.")
    assert list(rt.store.staging.iterdir()) == []
    rt.settings.max_attachment_bytes = 1_000_000
    rt.settings.max_attachments = 2
    three = [("files", (f"{n}.png", png_bytes((n + 10, 10)), "image/png")) for n in range(3)]
    too_many = site.post("/report/files", {"action": "upload"}, files=three)
    assert_error_page(too_many, "You can add up to 2 files. Remove a file or choose fewer files.")


# --- validation errors ------------------------------------------------------------------------

LONG = "x" * 20_001


@pytest.mark.parametrize(
    ("url", "form", "messages", "kept"),
    [
        (
            "/report/what",
            {},
            ["Select what your report is about", "Describe what you saw or heard"],
            [],
        ),
        (
            "/report/what",
            {"kind": "item", "description": "too short"},
            ["Description must be 10 characters or more"],
            ["too short", 'value="item" checked'],
        ),
        (
            "/report/what",
            {"kind": "item", "description": LONG},
            ["Description must be 20,000 characters or fewer"],
            [LONG],
        ),
        (
            "/report/what",
            {"kind": "item", "description": "bell \x07 ringing here"},
            ["This answer contains a character we cannot accept"],
            [],
        ),
        ("/report/when-date", {}, ["Enter the date it happened"], []),
        (
            "/report/when-date",
            {"date-day": "4", "date-year": "2025"},
            ["The date must include a month"],
            ['value="4"', 'value="2025"'],
        ),
        (
            "/report/when-date",
            {"date-day": "31", "date-month": "2", "date-year": "2025"},
            ["The date must be a real date"],
            ['value="31"'],
        ),
        (
            "/report/when-date",
            {"date-day": "3", "date-month": "x", "date-year": "2025"},
            ["The date must be a real date"],
            ['value="x"'],
        ),
        (
            "/report/when-date",
            {"date-day": "3", "date-month": "4", "date-year": "25"},
            ["The year must include 4 numbers"],
            ['value="25"'],
        ),
        (
            "/report/when-date",
            {
                "date-day": "1",
                "date-month": "1",
                "date-year": str(datetime.now(UTC).year + 1),
            },
            ["The date must be today or in the past"],
            [],
        ),
        (
            "/report/when-date",
            {
                "date-day": "1",
                "date-month": "1",
                "date-year": "2025",
                "time": "25:00",
            },
            ["Enter a real time, like 14:30"],
            ['value="25:00"'],
        ),
        (
            "/report/when-date",
            {
                "date-day": "1",
                "date-month": "1",
                "date-year": "2025",
                "time": "teatime",
            },
            ["Enter the time in hours and minutes, like 14:30"],
            ['value="teatime"'],
        ),
        (
            "/report/when",
            {"when": "now", "description": "y" * 501},
            ["Description of when it happened must be 500 characters or fewer"],
            [],
        ),
        (
            "/report/where",
            {"postcode": "NOT A CODE", "address": "1 Mill Lane"},
            ["Enter a full UK postcode, like SW1A 1AA"],
            ['value="NOT A CODE"', "1 Mill Lane"],
        ),
        (
            "/report/where",
            {"description": "z" * 2001},
            ["Description of the place must be 2,000 characters or fewer"],
            [],
        ),
        ("/report/people", {}, ["Select yes if you want to tell us about someone"], []),
        ("/report/people/add", {}, ["Tell us at least one thing about this person"], []),
        (
            "/report/people/add",
            {"name": "n" * 201, "age": "40s"},
            ["Name must be 200 characters or fewer"],
            ['value="40s"'],
        ),
        ("/report/vehicles", {}, ["Select yes if you want to tell us about a vehicle"], []),
        ("/report/vehicles/add", {}, ["Tell us at least one thing about this vehicle"], []),
        (
            "/report/vehicles/add",
            {"registration": "AB!2", "make": "Ford"},
            ["Enter the registration number in the right format, like AB12 CDE"],
            ['value="AB!2"', 'value="Ford"'],
        ),
        (
            "/report/online",
            {"rows": "2", "url-1": "ftp://example.org/x", "where-2": "a forum"},
            ["Enter web address 1 in the correct format", "Enter web address 2"],
            ['value="ftp://example.org/x"', 'value="a forum"'],
        ),
        (
            "/report/contact",
            {"name": "Jo"},
            ["Enter a phone number or email address, or go back and choose to stay anonymous"],
            ['value="Jo"'],
        ),
        (
            "/report/contact",
            {"phone": "12", "email": "jo@"},
            [
                "Enter a phone number, like 07700 900 982",
                "Enter an email address in the correct format",
            ],
            ['value="12"', 'value="jo@"'],
        ),
    ],
)
def test_each_error_is_summarised_and_shown_inline_and_keeps_what_was_typed(
    site: Browser, rt: Runtime, url: str, form: dict[str, str], messages: list[str], kept: list[str]
) -> None:
    start_report(site)
    before = site.get("/report/check").text if url != "/report/what" else ""
    response = site.post(url, form)
    assert_error_page(response, *messages)
    for value in kept:
        assert value in response.text, value
    if before:
        assert site.get("/report/check").text == before  # nothing was saved


@pytest.mark.parametrize(
    ("url", "form", "messages"),
    [
        ("/online/links", {"rows": "1", "url-1": ""}, ["Enter the web address of the material"]),
        (
            "/online/links",
            {"rows": "1", "url-1": "javascript:alert(1)"},
            ["Enter web address 1 in the correct format"],
        ),
        ("/online/shows", {}, ["Describe what the material shows"]),
        ("/online/shows", {"description": "bad"}, ["Description must be 10 characters or more"]),
        (
            "/online/platform",
            {"platform": "other", "name": "o" * 151},
            ["The name of the site or app must be 150 characters or fewer"],
        ),
    ],
)
def test_online_route_errors_are_summarised_and_inline(
    site: Browser, url: str, form: dict[str, str], messages: list[str]
) -> None:
    assert site.get("/online/links").status_code == 200
    assert_error_page(site.post(url, form), *messages)


# --- moving around ----------------------------------------------------------------------------


def test_change_links_return_to_check_your_answers(site: Browser, rt: Runtime) -> None:
    start_report(site)
    skip_to_check(site)
    check = site.get("/report/check").text
    for step in ("what", "when", "where", "people", "vehicles", "online", "files", "about-you"):
        assert f'href="/report/{step}?return=check"' in check, step
    page = site.get("/report/where?return=check").text
    assert 'action="/report/where?return=check"' in page
    assert 'href="/report/check"' in page  # the back link goes back to check too
    assert site.answer("/report/where?return=check", {"postcode": "sw1a1aa"}) == "/report/check"
    assert "SW1A 1AA" in site.get("/report/check").text
    assert (
        site.answer(
            "/report/what?return=check",
            {"kind": "other", "description": "Changed my mind about it"},
        )
        == "/report/check"
    )
    assert "Changed my mind about it" in site.get("/report/check").text


def test_people_can_be_added_changed_and_removed(site: Browser, rt: Runtime) -> None:
    start_report(site)
    site.answer("/report/when", {})
    site.answer("/report/where", {})
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Alex", "behaviour": "Filming the gates"})
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Sam"})
    listing = site.get("/report/people").text
    assert "Person 1" in listing and "Alex, Filming the gates" in listing and "Person 2" in listing
    assert 'href="/report/people/2"' in listing and 'href="/report/people/1/remove"' in listing
    assert 'value="Alex"' in site.get("/report/people/1").text
    site.answer("/report/people/1", {"name": "Alex", "age": "about 50"})
    assert "Are you sure you want to remove person 2?" in site.get("/report/people/2/remove").text
    assert site.answer("/report/people/2/remove", {}) == "/report/people"
    assert site.get("/report/people/9").headers["location"] == "/report/people"
    assert site.get("/report/people/x/remove").headers["location"] == "/report/people"
    site.answer("/report/people", {"add": "no"})
    skip_to_check(site, after="vehicles")
    send(site)
    (row,) = reports(rt)
    assert [(p.name, p.age, p.behaviour) for p in row.people] == [("Alex", "about 50", None)]


def test_the_number_of_people_is_capped_by_the_setting(site: Browser, rt: Runtime) -> None:
    rt.settings.max_people = 1
    start_report(site)
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Alex"})
    listing = site.get("/report/people").text
    assert "You cannot tell us about more than 1 people in one report." in listing
    assert site.get("/report/people/add").headers["location"] == "/report/people"
    response = site.post("/report/people", {"add": "yes"})
    assert_error_page(response, "You cannot tell us about more than 1 people in one report.")


def test_add_another_web_address_without_javascript(site: Browser, rt: Runtime) -> None:
    start_report(site)
    location = site.answer(
        "/report/online", {"rows": "1", "url-1": "https://example.org/a", "action": "add"}
    )
    assert location == "/report/online?rows=2#url-2"
    page = site.get("/report/online?rows=2").text
    assert 'value="https://example.org/a"' in page and 'name="url-2"' in page
    site.answer(
        "/report/online",
        {
            "rows": "2",
            "url-1": "https://example.org/a",
            "url-2": "http://example.org/b",
            "action": "continue",
        },
    )
    assert "http://example.org/b" in site.get("/report/check").text


def test_online_material_route_stores_an_online_report(site: Browser, rt: Runtime) -> None:
    assert site.get("/online/links").status_code == 200
    assert (
        site.answer(
            "/online/links",
            {"rows": "1", "url-1": "https://video.example.org/watch?v=1", "action": "continue"},
        )
        == "/online/platform"
    )
    site.answer("/online/platform", {"platform": "video", "name": "ExampleTube"})
    site.answer("/online/shows", {"description": "A video praising an attack and urging more."})
    assert site.answer("/online/about-you", {}) == "/online/check"
    check = site.get("/online/check").text
    assert "A video-sharing site" in check and 'href="/online/links?return=check"' in check
    confirmation = send(site, "online")
    assert confirmation.status_code == 200 and "vigil-code" in confirmation.text
    (row,) = reports(rt)
    assert (row.kind, row.channel, row.anonymous) == ("online", "web", True)
    assert [(o.url, o.where_seen) for o in row.online] == [
        ("https://video.example.org/watch?v=1", "Video-sharing site: ExampleTube")
    ]
    assert row.reference in confirmation.text


def test_check_sends_the_visitor_back_for_essential_answers(site: Browser) -> None:
    site.get("/online/links")
    assert site.get("/online/check").headers["location"] == "/online/links?return=check"
    start_report(site)
    skip_to_check(site)
    site.answer("/report/about-you", {"choice": "contact"})
    assert site.get("/report/check").headers["location"] == "/report/contact?return=check"
    assert site.post("/report/check", {"website": ""}).headers["location"] == (
        "/report/contact?return=check"
    )


# --- protection -------------------------------------------------------------------------------


def test_forms_without_the_right_csrf_token_are_refused_and_store_nothing(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    skip_to_check(site)
    for token in (None, "wrong-token"):
        data = {"website": ""} if token is None else {"website": "", "csrf_token": token}
        response = site.post("/report/check", data, token=False)
        assert response.status_code == 400
        assert "Sorry, this form has expired" in response.text
    assert site.post("/report/what", {"kind": "item"}, token=False).status_code == 400
    assert reports(rt) == []
    assert "A vehicle" in site.get("/report/check").text  # the answers are still there


def test_a_filled_honeypot_is_not_stored_and_the_answers_are_kept(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    skip_to_check(site)
    site.get("/report/check")
    response = site.post("/report/check", {"website": "http://spam.example.org"})
    assert response.status_code == 200
    assert "Your report has not been sent" in response.text
    assert reports(rt) == []
    assert site.get("/report/check").status_code == 200  # a person can still send it
    assert send(site).status_code == 200
    assert len(reports(rt)) == 1


def test_a_journey_faster_than_a_person_is_not_stored(
    site: Browser, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.settings.form_min_fill_s = 5
    start_report(site)
    skip_to_check(site)
    assert "Your report has not been sent" in send(site).text
    assert reports(rt) == []
    real = journey.clock()
    monkeypatch.setattr(journey_guard, "clock", lambda: real + 6)
    assert "vigil-code" in send(site).text
    assert len(reports(rt)) == 1


def test_a_bot_flood_from_many_addresses_does_not_stop_genuine_reporters(
    client: TestClient, rt: Runtime
) -> None:
    rt.settings.form_min_fill_s = 0
    rt.settings.trust_forwarded_for = True
    rt.settings.global_suspect_rate_limit = 10
    rt.public_limiter = RateLimiter(2, name="public")
    answers = []
    for n in range(30):
        client.cookies.clear()
        bot = Browser(client, f"198.51.100.{n}")
        start_report(bot, kind="other", description="Buy cheap watches at example.org now!!")
        answers.append(bot.post("/report/check", {"website": "http://spam.example.org"}))
    assert {r.status_code for r in answers[:10]} == {200}
    assert {r.status_code for r in answers[10:]} == {429}
    assert all("Retry-After" in r.headers for r in answers[10:])
    assert reports(rt) == []
    for address in ("198.51.100.3", "203.0.113.9"):  # behind a flooding address, and elsewhere
        client.cookies.clear()
        person = Browser(client, address)
        start_report(person)
        skip_to_check(person)
        confirmation = send(person)
        assert confirmation.status_code == 200 and "vigil-code" in confirmation.text
    assert len(reports(rt)) == 2


def test_genuine_looking_submissions_are_limited_per_client(
    client: TestClient, rt: Runtime
) -> None:
    rt.settings.form_min_fill_s = 0
    rt.settings.trust_forwarded_for = True
    rt.public_limiter = RateLimiter(1, name="public")
    first = Browser(client, "192.0.2.1")
    start_report(first)
    skip_to_check(first)
    assert send(first).status_code == 200
    client.cookies.clear()
    second = Browser(client, "192.0.2.1")
    start_report(second)
    skip_to_check(second)
    refused = send(second)
    assert refused.status_code == 429 and "Your answers have been kept" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert second.get("/report/check").status_code == 200
    assert len(reports(rt)) == 1


def _session_snapshot(rt: Runtime) -> dict[str, Any]:
    with rt.db.session() as session:
        live = select(BrowserSession).where(BrowserSession.ended_at.is_(None))
        row = session.scalars(live).one()
        return {c: getattr(row, c) for c in ("id_hash", "sealed", "created_at", "last_seen_at")}


def test_a_double_submission_gives_one_report_and_the_same_reference(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    skip_to_check(site)
    site.get("/report/check")
    cookie = site.client.cookies.get("vigil_session")
    snapshot = _session_snapshot(rt)

    def second_click() -> httpx.Response:
        """The same form again, as if sent before the first answer came back."""
        rt.db.write_sync(lambda s: s.add(BrowserSession(**snapshot)))
        site.client.cookies.set("vigil_session", cookie)
        return site.post("/report/check", {"website": ""})

    first = site.post("/report/check", {"website": ""})
    again = second_click()
    journey_guard.forget_answers()  # another server process would not remember it
    once_more = second_click()

    (row,) = reports(rt)
    for response in (first, again, once_more):
        assert response.status_code == 200
        assert REFERENCE.findall(response.text) == [row.reference]
    codes = {CODE.search(r.text).group(1) for r in (first, again, once_more)}  # type: ignore[union-attr]
    assert len(codes) == 1


def test_an_idle_session_says_the_answers_were_deleted(site: Browser, rt: Runtime) -> None:
    start_report(site)

    def idle(session: Session) -> None:
        session.execute(update(BrowserSession).values(last_seen_at=utcnow() - timedelta(hours=3)))

    rt.db.write_sync(idle)
    response = site.get("/report/where")
    assert response.status_code == 200
    assert (
        "Your answers have been deleted because you did not do anything for 2 hours"
        in response.text
    )
    assert 'href="/"' in response.text
    assert "vigil_session=" in response.headers["set-cookie"]  # the stale cookie is cleared
    assert site.client.cookies.get("vigil_session") is None
    assert site.get("/report/what").status_code == 200  # starting again works
    assert "Your answers have been deleted" not in site.get("/").text


def test_the_idle_limit_comes_from_settings(site: Browser, rt: Runtime) -> None:
    start_report(site)
    rt.settings.form_idle_timeout_s = 60

    def idle(session: Session) -> None:
        session.execute(
            update(BrowserSession).values(last_seen_at=utcnow() - timedelta(seconds=61))
        )

    rt.db.write_sync(idle)
    assert "Your answers have been deleted" in site.get("/report/check").text


def test_no_page_sets_a_cookie_other_than_the_session(site: Browser, rt: Runtime) -> None:
    site.get("/")
    site.get("/online")
    start_report(site)
    site.answer("/report/when", {"when": "date"})
    site.post("/report/when-date", {"date-day": "40"})
    site.answer("/report/when-date", {"date-day": "4", "date-month": "4", "date-year": "2024"})
    site.answer("/report/where", {})
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Alex"})
    site.get("/report/people/1/remove")
    skip_to_check(site, after="people")
    site.get("/report/check?lang=cy")
    send(site)
    site.get("/online/links")
    names = set()
    for response in site.responses:
        for header in response.headers.get_list("set-cookie"):
            names.add(header.split("=", 1)[0])
            assert "httponly" in header.lower() and "samesite=strict" in header.lower()
    assert names == {"vigil_session"}
    assert len(site.responses) > 15


def test_every_form_carries_the_csrf_token_and_errors_focus_the_summary(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    for url in (
        "/report/when",
        "/report/where",
        "/report/people",
        "/report/people/add",
        "/report/vehicles",
        "/report/vehicles/add",
        "/report/online",
        "/report/files",
        "/report/about-you",
        "/report/contact",
        "/report/when-date",
        "/report/check",
    ):
        page = site.get(url).text
        forms = page.count("<form")
        assert forms == 1 and page.count('name="csrf_token"') == 1, url
        assert "<title>\n" not in page or "Error:" not in page
    check = site.get("/report/check").text
    assert 'class="vigil-hidden-trap" aria-hidden="true"' in check
    assert 'tabindex="-1" autocomplete="off"' in check
    assert "data-prevent-double-click" in check


def test_a_second_journey_in_the_same_browser_survives_sending_the_first(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    site.get("/online/links")
    site.answer(
        "/online/links", {"rows": "1", "url-1": "https://example.org/x", "action": "continue"}
    )
    site.answer("/online/platform", {})
    site.answer("/online/shows", {"description": "Calls for attacks on a named place."})
    send(site, "online")
    assert session_rows(rt) == 1
    assert "A vehicle" in site.get("/report/check").text


def test_sending_keeps_a_chosen_language_but_nothing_else(site: Browser, rt: Runtime) -> None:
    site.get("/?lang=cy")
    start_report(site)
    skip_to_check(site)
    before = _session_snapshot(rt)["id_hash"]
    confirmation = send(site)
    assert '<html lang="cy"' in confirmation.text
    after = _session_snapshot(rt)  # a new session: the one holding the answers is gone
    assert after["id_hash"] != before
    assert '<html lang="cy"' in site.get("/online").text
    assert site.get("/report/check").headers["location"] == "/"


def test_empty_answers_show_as_empty_fields(site: Browser) -> None:
    start_report(site)
    for url in ("/report/when", "/report/where", "/report/people/add", "/report/contact"):
        page = site.get(url).text
        assert ">None<" not in page and 'value="None"' not in page, url


def test_choosing_anonymity_after_giving_contact_details_forgets_them(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    skip_to_check(site)
    site.answer("/report/about-you?return=check", {"choice": "contact"})
    site.answer("/report/contact?return=check", {"phone": "07700 900456"})
    assert "07700 900456" in site.get("/report/check").text
    site.answer("/report/about-you?return=check", {"choice": "anonymous"})
    assert 'value="07700 900456"' not in site.get("/report/contact").text
    send(site)
    (row,) = reports(rt)
    assert row.anonymous and row.identity is None
