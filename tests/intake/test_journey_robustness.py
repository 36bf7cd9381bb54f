"""The public website stays calm under odd input, repeats and timeouts, on both engines.

Odd numbers in addresses, forms too big to read, a report's form sent again after it was
accepted, a double click on add or remove, and a session that idled out: each gets a clear
page, and nothing is stored twice or lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import minimal_report
from tests.intake.test_export_safety import received_total
from tests.intake.test_report_pages import (
    CODE,
    REFERENCE,
    Browser,
    reports,
    skip_to_check,
    start_report,
)
from tests.intake.test_thread import csrf, sign_in
from vigil.db import utcnow
from vigil.intake import journey_guard
from vigil.sealing import Sealed
from vigil.web.runtime import Runtime
from vigil.web.sessions import HUSK_KEEP_S, BrowserSession, purge_idle_sessions, read_note
from vigil.web.templating import translations


@pytest.fixture
def site(client: TestClient, rt: Runtime) -> Iterator[Browser]:
    rt.settings.form_min_fill_s = 0
    journey_guard.forget_answers()
    yield Browser(client)
    journey_guard.forget_answers()


def idle_out(rt: Runtime, seconds: int) -> None:
    """Every session last seen ``seconds`` ago, as if the visitor had walked away."""

    def work(session: Session) -> None:
        moment = utcnow() - timedelta(seconds=seconds)
        session.execute(update(BrowserSession).values(last_seen_at=moment))

    rt.db.write_sync(work)


# --- 1. digits that are not ASCII digits ------------------------------------------------


@pytest.mark.parametrize("digit", ["²", "¹", "٣", "1" * 5000])
def test_addresses_with_odd_numbers_answer_a_page_not_a_server_error(
    site: Browser, digit: str
) -> None:
    start_report(site)
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Alex"})
    site.get("/online/links")
    for url in (
        f"/report/online?rows={digit}",
        f"/online/links?rows={digit}",
        f"/report/people/{digit}",
        f"/report/people/{digit}/remove",
        f"/report/vehicles/{digit}",
    ):
        response = site.get(url)
        assert response.status_code in (200, 303), (url, response.status_code)
    assert site.get("/report/people/%C2%B2").headers["location"] == "/report/people"
    posted = site.post("/report/online", {"rows": digit, "url-1": "https://example.org/a"})
    assert posted.status_code == 303
    removed = site.post(f"/report/people/{digit}/remove", {})
    assert removed.status_code == 303
    assert "Alex" in site.get("/report/people").text  # nobody was removed by an odd number


def test_a_date_written_with_odd_digits_is_refused_as_not_a_real_date(site: Browser) -> None:
    start_report(site)
    site.answer("/report/when", {"when": "date"})
    response = site.post(
        "/report/when-date", {"date-day": "²", "date-month": "4", "date-year": "2024"}
    )
    assert response.status_code == 400 and "The date must be a real date" in response.text


# --- 2. the report's form sent again after it was accepted -------------------------------


def _ready_to_send(site: Browser) -> dict[str, str]:
    start_report(site)
    skip_to_check(site)
    site.get("/report/check")
    assert site.token is not None
    return {"website": "", "csrf_token": site.token}


def test_reloading_the_confirmation_shows_the_same_reference_and_stores_one_report(
    site: Browser, rt: Runtime
) -> None:
    form = _ready_to_send(site)
    counted = received_total(site.client, "web")
    first = site.post("/report/check", form)
    assert first.status_code == 200
    assert site.client.cookies.get("vigil_session") is None  # the session went with it
    again = site.post("/report/check", form)  # what a browser's reload re-sends
    (row,) = reports(rt)
    assert received_total(site.client, "web") == counted + 1  # counted once
    for response in (first, again):
        assert response.status_code == 200, response.text[-1500:]
        assert REFERENCE.findall(response.text) == [row.reference]
        assert "Nothing has been sent" not in response.text
    codes = {CODE.search(r.text).group(1) for r in (first, again)}  # type: ignore[union-attr]
    assert len(codes) == 1


def test_a_reload_reaching_another_web_process_shows_the_same_confirmation(
    site: Browser, rt: Runtime
) -> None:
    form = _ready_to_send(site)
    first = site.post("/report/check", form)
    journey_guard.forget_answers()  # nothing in this process's memory: as another process
    again = site.post("/report/check", form)
    (row,) = reports(rt)
    assert again.status_code == 200, again.text[-1500:]
    assert REFERENCE.findall(again.text) == [row.reference]
    assert CODE.search(again.text).group(1) == CODE.search(first.text).group(1)  # type: ignore[union-attr]


def test_the_note_of_what_was_sent_holds_no_follow_up_code(site: Browser, rt: Runtime) -> None:
    form = _ready_to_send(site)
    first = site.post("/report/check", form)
    code = CODE.search(first.text).group(1)  # type: ignore[union-attr]
    with rt.db.session() as session:
        rows = session.scalars(select(BrowserSession)).all()
    assert len(rows) == 1  # the ended session's note, and nothing else
    note, _at = read_note(rt, f"sent:report:{form['csrf_token']}") or ({}, None)
    assert note["reference"] in first.text and code not in str(note)


def test_a_retry_after_a_lost_answer_shows_the_same_confirmation(
    site: Browser, rt: Runtime
) -> None:
    form = _ready_to_send(site)
    cookie = site.client.cookies.get("vigil_session")
    first = site.post("/report/check", form)
    site.client.cookies.set("vigil_session", cookie)  # the answer never reached the browser
    retry = site.post("/report/check", form)
    (row,) = reports(rt)
    assert retry.status_code == 200, retry.text[-1500:]
    assert REFERENCE.findall(retry.text) == [row.reference]
    assert CODE.search(retry.text).group(1) == CODE.search(first.text).group(1)  # type: ignore[union-attr]
    assert "vigil_session=" in retry.headers["set-cookie"]  # the stale cookie is cleared


def test_a_repeat_in_welsh_is_answered_in_welsh(site: Browser, rt: Runtime) -> None:
    site.get("/?lang=cy")
    form = _ready_to_send(site)
    cookie = site.client.cookies.get("vigil_session")
    site.post("/report/check", form)
    site.client.cookies.set("vigil_session", cookie)
    retry = site.post("/report/check", form)
    assert retry.status_code == 200 and '<html lang="cy"' in retry.text
    assert len(reports(rt)) == 1


def test_a_repeat_while_another_journey_is_in_progress_is_the_same_confirmation(
    site: Browser, rt: Runtime
) -> None:
    site.get("/online/links")  # the online route is started: the session outlives the send
    form = _ready_to_send(site)
    first = site.post("/report/check", form)
    again = site.post("/report/check", form)
    (row,) = reports(rt)
    assert again.status_code == 200 and REFERENCE.findall(again.text) == [row.reference]
    assert CODE.search(again.text).group(1) == CODE.search(first.text).group(1)  # type: ignore[union-attr]


def test_after_the_short_window_a_repeat_gives_the_reference_but_never_the_code(
    site: Browser, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = _ready_to_send(site)
    first = site.post("/report/check", form)
    code = CODE.search(first.text).group(1)  # type: ignore[union-attr]
    later = utcnow() + timedelta(seconds=journey_guard.ANSWER_MEMORY_S + 1)
    monkeypatch.setattr(journey_guard, "utcnow", lambda: later)
    again = site.post("/report/check", form)
    (row,) = reports(rt)
    assert again.status_code == 400
    assert "Your report has already been sent" in again.text and row.reference in again.text
    assert code not in again.text and "Nothing has been sent" not in again.text


def test_another_browser_with_a_guessed_token_learns_nothing(site: Browser, rt: Runtime) -> None:
    form = _ready_to_send(site)
    site.post("/report/check", form)
    site.client.cookies.clear()
    stranger = site.post("/report/check", {"website": "", "csrf_token": "guessed"}, token=False)
    assert stranger.status_code == 400
    assert REFERENCE.search(stranger.text) is None and "vigil-code" not in stranger.text
    assert "Nothing has been sent" not in stranger.text  # a sending page never claims that
    assert len(reports(rt)) == 1


# --- 3. forms too big to read ---------------------------------------------------------


def _rejected(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, response.text[-1500:]
    assert "Sorry, we could not accept that" in response.text
    for word in words:
        assert word in response.text


def test_too_many_files_at_once_says_how_many_can_be_chosen(site: Browser, rt: Runtime) -> None:
    start_report(site)
    site.get("/report/files")
    files = [("files", (f"photo-{n}.png", b"x", "image/png")) for n in range(12)]
    response = site.post("/report/files", {"action": "continue"}, files=files)
    _rejected(response, f"You chose more than {rt.settings.max_attachments} files")


def test_a_description_too_long_to_read_says_how_much_is_allowed(
    site: Browser, rt: Runtime
) -> None:
    start_report(site)
    response = site.post("/report/what", {"kind": "other", "description": "a" * 300_000})
    _rejected(
        response, "One of your answers is too long", f"{rt.settings.max_json_bytes // 1024} KB"
    )


def test_a_form_with_too_many_fields_says_so(site: Browser) -> None:
    start_report(site)
    fields = {f"field-{n}": "x" for n in range(1100)}
    response = site.post("/report/where", fields)
    _rejected(response, "That form had more than 1000 fields")


# --- 4. replying on the follow-up thread after idling out ------------------------------


def test_a_reply_after_idling_out_says_signed_out_and_how_to_get_back(
    client: TestClient, rt: Runtime
) -> None:
    accepted = client.post("/api/v1/reports", json=minimal_report()).json()
    assert sign_in(client, accepted["reference"], accepted["followup_code"]).status_code == 303
    token = csrf(client.get("/follow-up/thread").text)
    idle_out(rt, rt.settings.form_idle_timeout_s + 60)
    response = client.post(
        "/follow-up/thread", data={"csrf_token": token, "text": "One more thing"}
    )
    assert response.status_code == 400
    assert "You have been signed out" in response.text
    assert 'href="/follow-up"' in response.text
    assert "Your answers have been deleted" not in response.text


# --- 6. the idle time in words comes from the setting --------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(7200, "for 2 hours"), (3600, "for 1 hour"), (1800, "for 30 minutes")],
)
def test_the_deleted_answers_page_gives_the_configured_idle_time(
    site: Browser, rt: Runtime, seconds: int, words: str
) -> None:
    rt.settings.form_idle_timeout_s = seconds
    start_report(site)
    idle_out(rt, seconds + 5)
    page = site.get("/report/where").text
    assert f"Your answers have been deleted because you did not do anything {words}." in page


def _purged(rt: Runtime, idle_s: int) -> None:
    """The visitor walked away ``idle_s`` seconds ago and housekeeping has run since."""
    idle_out(rt, idle_s)
    purge_idle_sessions(rt)


def _stored_sessions(rt: Runtime) -> list[dict[str, object]]:
    with rt.db.session() as session:
        rows = session.execute(select(BrowserSession.id_hash, BrowserSession.sealed)).all()
    return [
        orjson.loads(rt.sealer.open(Sealed.unpack(sealed), b"browser-session:" + id_hash.encode()))
        for id_hash, sealed in rows
    ]


def test_housekeeping_purges_idle_answers_and_keeps_only_the_language(
    site: Browser, rt: Runtime
) -> None:
    site.get("/?lang=cy")
    start_report(site)
    site.answer("/report/people", {"add": "yes"})
    site.answer("/report/people/add", {"name": "Alex"})
    _purged(rt, rt.settings.form_idle_timeout_s + 5)
    (husk,) = _stored_sessions(rt)
    assert husk == {"husk": True, "answers": True, "lang": "cy"}  # Alex is gone
    _purged(rt, rt.settings.form_idle_timeout_s + HUSK_KEEP_S + 5)
    assert _stored_sessions(rt) == []


def test_after_housekeeping_a_welsh_visitor_is_told_in_welsh_and_the_site_stays_welsh(
    site: Browser, rt: Runtime
) -> None:
    site.get("/?lang=cy")
    start_report(site)
    _purged(rt, rt.settings.form_idle_timeout_s + 5)
    told = site.get("/report/where")
    assert told.status_code == 200 and '<html lang="cy"' in told.text
    assert "Your answers have been deleted" not in told.text  # said in Welsh instead
    assert translations("cy").gettext("Your answers have been deleted") in told.text
    assert '<html lang="cy"' in site.get("/").text  # the next page too


def test_a_visitor_who_never_started_is_not_told_that_answers_were_deleted(
    site: Browser, rt: Runtime
) -> None:
    site.get("/?lang=cy")
    _purged(rt, rt.settings.form_idle_timeout_s + 5)
    moved = site.get("/report/where")
    assert moved.status_code == 303  # to the start, as for anyone without a journey
    response = site.get(moved.headers["location"])
    assert response.status_code == 200 and '<html lang="cy"' in response.text
    assert translations("cy").gettext("Your answers have been deleted") not in response.text


# --- 7. add and remove sent twice ----------------------------------------------------


def test_yes_remove_sent_twice_removes_one_person(site: Browser, rt: Runtime) -> None:
    start_report(site)
    for name in ("Alex", "Sam", "Robin"):
        site.answer("/report/people", {"add": "yes"})
        site.get("/report/people/add")
        site.answer("/report/people/add", {"name": name, "item": _item(site)})
    confirm = site.get("/report/people/1/remove").text
    assert 'data-prevent-double-click="true"' in confirm
    form = {"item": _field(confirm, "item")}
    assert site.answer("/report/people/1/remove", form) == "/report/people"
    assert site.answer("/report/people/1/remove", form) == "/report/people"  # the repeat
    listing = site.get("/report/people").text
    assert "Alex" not in listing and "Sam" in listing and "Robin" in listing


def test_add_person_sent_twice_adds_them_once(site: Browser, rt: Runtime) -> None:
    start_report(site)
    site.answer("/report/people", {"add": "yes"})
    page = site.get("/report/people/add").text
    assert 'data-prevent-double-click="true"' in page
    form = {"name": "Alex", "behaviour": "Filming the gates", "item": _field(page, "item")}
    site.answer("/report/people/add", form)
    site.answer("/report/people/add", form)  # the repeat
    listing = site.get("/report/people").text
    assert "Person 1" in listing and "Person 2" not in listing
    vehicle_page = site.get("/report/vehicles/add").text
    vehicle = {"registration": "AB12 CDE", "item": _field(vehicle_page, "item")}
    site.answer("/report/vehicles/add", vehicle)
    site.answer("/report/vehicles/add", vehicle)
    assert "Vehicle 2" not in site.get("/report/vehicles").text


def test_a_change_page_left_open_changes_the_person_it_showed(site: Browser) -> None:
    start_report(site)
    for name in ("Alex", "Sam"):
        site.get("/report/people/add")
        site.answer("/report/people/add", {"name": name, "item": _item(site)})
    sam = _field(site.get("/report/people/2").text, "item")
    site.answer(
        "/report/people/1/remove",
        {"item": _field(site.get("/report/people/1/remove").text, "item")},
    )
    site.answer("/report/people/2", {"name": "Sam Changed", "item": sam})  # stale address
    listing = site.get("/report/people").text
    assert "Sam Changed" in listing and "Person 2" not in listing


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found.group(1)


def _item(site: Browser) -> str:
    return _field(site.responses[-1].text, "item")
