"""Drive the public journey like a person with a mouse: one function per page.

Fields are found by their ``name``/``id`` and radios by their ``value``, never by their
visible text, so the same driver walks the English and the Welsh pages. Each function
asserts it is on the page it expects before it touches anything, so a journey that goes
somewhere unexpected fails at the first wrong page with that page's address.

``Visit`` callbacks (screenshots, axe) are called on every page the journey shows,
including every "add another" and confirmation page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import Response as PwResponse
from sqlalchemy import select

from tests.browser.live import LiveServer
from vigil.intake.models import Attachment, Followup, Report

PRIMARY = "main form button.govuk-button:not(.govuk-button--secondary)"
Visit = Callable[[Page, str], None]


def nothing(page: Page, step: str) -> None:
    """The default visit: do nothing."""


def expect_path(page: Page, path: str) -> None:
    """The page's address is ``path`` (query string and fragment allowed after it)."""
    expect(page).to_have_url(re.compile(r"^https?://[^/]+" + re.escape(path) + r"([?#].*)?$"))


def submit(page: Page, button: Locator | None = None) -> PwResponse | None:
    """Click a form's button (the primary one by default) and wait for the next page."""
    with page.expect_navigation() as navigation:
        (button if button is not None else page.locator(PRIMARY).first).click()
    return navigation.value


def html_lang(page: Page) -> str | None:
    return page.locator("html").get_attribute("lang")


@dataclass
class Person:
    name: str = ""
    age: str = ""
    appearance: str = ""
    clothing: str = ""
    behaviour: str = ""


@dataclass
class Vehicle:
    registration: str = ""
    make: str = ""
    model: str = ""
    colour: str = ""


@dataclass
class Contact:
    name: str = "Jo Bloggs"
    phone: str = "07700 900123"
    email: str = "jo.bloggs@example.org"
    preference: str = "Email after 6pm, please."


@dataclass
class Answers:
    """What a reporter tells us; empty parts are skipped (every question but the first is)."""

    kind: str = "behaviour"
    description: str = "Two people photographing the station's CCTV cameras and exits."
    when: str = "date"  # now | date | unsure | "" (skip)
    date: tuple[str, str, str] = ("14", "3", "2025")
    time: str = "2:30pm"
    address: str = "Platform 2, Leeds railway station"
    postcode: str = "ls1 4dy"
    place: str = "Near the south entrance"
    people: list[Person] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    contact: Contact | None = None


@dataclass(frozen=True)
class Confirmation:
    reference: str
    code: str


# --- the pages ---------------------------------------------------------------------------


def begin(page: Page, visit: Visit = nothing, query: str = "") -> None:
    """The start page, then its start button."""
    page.goto("/" + query)
    visit(page, "start")
    with page.expect_navigation():
        page.locator("a.govuk-button--start").click()
    expect_path(page, "/report/what")


def answer_what(page: Page, a: Answers, visit: Visit = nothing) -> None:
    expect_path(page, "/report/what")
    visit(page, "what")
    page.locator(f"input[name=kind][value={a.kind}]").check()
    page.locator("#description").fill(a.description)
    submit(page)


def skip(page: Page, path: str, visit: Visit = nothing) -> None:
    """Continue without answering (every question but the first may be skipped)."""
    expect_path(page, path)
    visit(page, path.rsplit("/", 1)[-1])
    button = page.locator("main form button[name=action][value=continue]")
    submit(page, button if button.count() else None)


def answer_when(page: Page, a: Answers, visit: Visit = nothing) -> None:
    """When: a choice, and for "on a date" a page of its own for the date and time."""
    expect_path(page, "/report/when")
    visit(page, "when")
    if a.when:
        page.locator(f"input[name=when][value={a.when}]").check()
    submit(page)
    if a.when == "date":
        answer_date(page, a, visit)


def answer_date(page: Page, a: Answers, visit: Visit = nothing) -> None:
    expect_path(page, "/report/when-date")
    visit(page, "when-date")
    day, month, year = a.date
    page.locator("#date-day").fill(day)
    page.locator("#date-month").fill(month)
    page.locator("#date-year").fill(year)
    page.locator("#time").fill(a.time)
    submit(page)


def answer_where(page: Page, a: Answers, visit: Visit = nothing) -> None:
    expect_path(page, "/report/where")
    visit(page, "where")
    page.locator("#address").fill(a.address)
    page.locator("#postcode").fill(a.postcode)
    page.locator("#description").fill(a.place)
    submit(page)


def _add_items(
    page: Page, key: str, items: Sequence[Any], fields: Sequence[str], visit: Visit
) -> None:
    """The "add another" pattern: yes → one item's page → back to the list; then no."""
    expect_path(page, f"/report/{key}")
    visit(page, key)
    for number, item in enumerate(items, start=1):
        page.locator("input[name=add][value=yes]").check()
        submit(page)
        expect_path(page, f"/report/{key}/add")
        visit(page, f"{key}-{number}")
        for name in fields:
            page.locator(f"#{name}").fill(getattr(item, name))
        submit(page)
        expect_path(page, f"/report/{key}")
        visit(page, f"{key}-list-{number}")
    page.locator("input[name=add][value=no]").check()
    submit(page)


def answer_people(page: Page, a: Answers, visit: Visit = nothing) -> None:
    _add_items(
        page, "people", a.people, ("name", "age", "appearance", "clothing", "behaviour"), visit
    )


def answer_vehicles(page: Page, a: Answers, visit: Visit = nothing) -> None:
    _add_items(page, "vehicles", a.vehicles, ("registration", "make", "model", "colour"), visit)


def fill_links(
    page: Page, links: Sequence[tuple[str, str]], *, with_where: bool, visit: Visit, step: str
) -> None:
    """Web addresses, one row each; "Add another web address" adds a row (no JavaScript)."""
    visit(page, step)
    for n, (url, where) in enumerate(links, start=1):
        if n > 1:
            submit(page, page.locator("main form button[name=action][value=add]"))
            visit(page, f"{step}-{n}-rows")
        page.locator(f"#url-{n}").fill(url)
        if with_where:
            page.locator(f"#where-{n}").fill(where)
    submit(page)


def answer_online(page: Page, a: Answers, visit: Visit = nothing) -> None:
    expect_path(page, "/report/online")
    fill_links(page, a.links, with_where=True, visit=visit, step="online")


def answer_files(page: Page, a: Answers, visit: Visit = nothing) -> None:
    """Choose the files, upload them, see them listed, then continue."""
    expect_path(page, "/report/files")
    visit(page, "files")
    if a.files:
        page.locator("input#files").set_input_files([str(f) for f in a.files])
        # without JavaScript this posts the form; with it, vigil.mjs uploads with a progress
        # bar and shows the answer in place: either way the files end up listed
        page.locator("main form button[name=action][value=upload]").click()
        expect_path(page, "/report/files")
        listed = page.locator(".vigil-filename")
        expect(listed).to_have_count(len(a.files))
        for f in a.files:
            expect(page.locator(".vigil-filename", has_text=f.name)).to_have_count(1)
        visit(page, "files-uploaded")
    submit(page, page.locator("main form button[name=action][value=continue]"))


def answer_about(page: Page, contact: Contact | None, prefix: str, visit: Visit = nothing) -> None:
    """Stay anonymous, or say yes and give contact details on the page that follows."""
    expect_path(page, f"{prefix}/about-you")
    visit(page, "about-you")
    choice = "anonymous" if contact is None else "contact"
    page.locator(f"input[name=choice][value={choice}]").check()
    submit(page)
    if contact is not None:
        answer_contact(page, contact, prefix, visit)


def answer_contact(page: Page, contact: Contact, prefix: str, visit: Visit = nothing) -> None:
    expect_path(page, f"{prefix}/contact")
    visit(page, "contact")
    page.locator("#name").fill(contact.name)
    page.locator("#phone").fill(contact.phone)
    page.locator("#email").fill(contact.email)
    page.locator("#contact_preference").fill(contact.preference)
    submit(page)


def send(page: Page, prefix: str, visit: Visit = nothing) -> Confirmation:
    """Check your answers, send, and read the reference and code from the confirmation."""
    expect_path(page, f"{prefix}/check")
    visit(page, "check")
    submit(page)
    expect(page.locator(".govuk-panel--confirmation")).to_be_visible()
    visit(page, "confirmation")
    reference = page.locator(".vigil-reference").inner_text().strip()
    code = page.locator("#followup-code").inner_text().strip()
    assert re.fullmatch(r"VGL-[A-Z0-9]{4}-[A-Z0-9]{4}", reference), reference
    assert len(re.sub(r"[^A-Z0-9]", "", code)) == 20, code
    return Confirmation(reference, code)


def report_journey(page: Page, a: Answers, visit: Visit = nothing, query: str = "") -> Confirmation:
    """The whole journey from the start page to the confirmation."""
    begin(page, visit, query)
    answer_what(page, a, visit)
    answer_when(page, a, visit)
    answer_where(page, a, visit)
    answer_people(page, a, visit)
    answer_vehicles(page, a, visit)
    answer_online(page, a, visit)
    answer_files(page, a, visit)
    answer_about(page, a.contact, "/report", visit)
    return send(page, "/report", visit)


@dataclass
class OnlineAnswers:
    links: list[str] = field(default_factory=lambda: ["https://video.example.org/watch?v=abc123"])
    platform: str = "video"
    name: str = ""
    shows: str = "A video praising an attack and asking viewers to copy it."
    contact: Contact | None = None


def online_journey(
    page: Page, a: OnlineAnswers, visit: Visit = nothing, query: str = ""
) -> Confirmation:
    """ "Report online terrorist material", from the start page's link: links → platform →
    what it shows → about you → check → confirmation."""
    page.goto("/" + query)
    with page.expect_navigation():
        page.locator("main a[href='/online']").first.click()
    expect_path(page, "/online")
    visit(page, "online-start")
    with page.expect_navigation():
        page.locator("a.govuk-button--start").click()
    expect_path(page, "/online/links")
    fill_links(page, [(url, "") for url in a.links], with_where=False, visit=visit, step="links")
    expect_path(page, "/online/platform")
    visit(page, "platform")
    page.locator(f"input[name=platform][value={a.platform}]").check()
    page.locator("#name").fill(a.name)
    submit(page)
    expect_path(page, "/online/shows")
    visit(page, "shows")
    page.locator("#description").fill(a.shows)
    submit(page)
    answer_about(page, a.contact, "/online", visit)
    return send(page, "/online", visit)


# --- what the server stored --------------------------------------------------------------


@dataclass
class Stored:
    kind: str
    description: str
    anonymous: bool
    channel: str
    postcode: str | None
    address: str | None
    place: str | None
    when: tuple[bool, bool, str | None]
    people: int
    vehicles: list[str | None]
    urls: list[str]
    where_seen: list[str | None]
    files: list[tuple[str | None, str]]
    thread: list[tuple[str, str | None]]


def stored(server: LiveServer, reference: str) -> Stored:
    """The report as the database holds it, read through the server's own runtime."""
    with server.rt.db.session() as session:
        report = session.scalar(select(Report).where(Report.reference == reference))
        assert report is not None, f"no report {reference} in the database"
        thread = session.execute(
            select(Followup.author, Followup.text)
            .where(Followup.report_id == report.id)
            .order_by(Followup.id)
        ).all()
        files = session.execute(
            select(Attachment.filename, Attachment.media_type)
            .where(Attachment.report_id == report.id, Attachment.followup_id.is_(None))
            .order_by(Attachment.id)
        ).all()
        return Stored(
            kind=report.kind,
            description=report.description,
            anonymous=report.anonymous,
            channel=report.channel,
            postcode=report.where_postcode,
            address=report.where_address,
            place=report.where_description,
            when=(report.when_ongoing, report.when_unsure, report.when_description),
            people=len(report.people),
            vehicles=[v.registration_normalised for v in report.vehicles],
            urls=[o.url for o in report.online],
            where_seen=[o.where_seen for o in report.online],
            files=[(name, media) for name, media in files],
            thread=[(author, text) for author, text in thread],
        )
