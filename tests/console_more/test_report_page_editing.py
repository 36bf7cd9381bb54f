"""Correcting the automation from the report page, on both databases: extracted items are
marked in the text (overlaps merged and named for screen readers) and each can be rejected or
corrected with a reason through the existing service (original kept and shown as "was …",
audited); categories are added or removed the same way; bad input is shown GOV.UK-style and
changes nothing; a report the user may not see is "not found" on every new route; and the
custodian step and "open a case" are offered only to the roles that may take them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_sign_in import events
from tests.browser.axe import assert_accessible
from tests.browser.live import LiveServer
from tests.console.test_console_pages import (
    THREAT,
    VAGUE,
    item,
    move_to_another_organisation,
    post,
    report_path,
    run_pipeline,
    signed_in,
    submit,
    triage_row,
)
from tests.console_more.test_console_accessibility import browser as browser  # fixture
from tests.console_more.test_console_accessibility import server as server  # fixture
from tests.console_more.test_console_accessibility import signed_in as browser_session
from tests.console_more.test_console_accessibility import visit
from tests.factories import jpeg_bytes, minimal_report, staff_token
from vigil.access import disclosure
from vigil.access.permissions import Role
from vigil.intake.models import Report
from vigil.triage.models import TriageDecision, TriageItem, TriageResult
from vigil.triage.report_pages import highlighted, item_rows
from vigil.web.app import create_app
from vigil.web.runtime import Runtime


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    app = create_app(rt=rt)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def items_of(rt: Runtime, reference: str) -> list[TriageItem]:
    with rt.db.session() as session:
        return list(
            session.scalars(
                select(TriageItem)
                .join(Report, Report.id == TriageItem.report_id)
                .where(Report.reference == reference)
                .order_by(TriageItem.id)
            )
        )


def phone_item(rt: Runtime, reference: str) -> TriageItem:
    (found,) = [i for i in items_of(rt, reference) if i.kind == "phone" and i.status == "active"]
    return found


def decisions(rt: Runtime, reference: str, action: str) -> list[TriageDecision]:
    def work(session: Session) -> list[TriageDecision]:
        return list(
            session.scalars(
                select(TriageDecision)
                .join(Report, Report.id == TriageDecision.report_id)
                .where(Report.reference == reference, TriageDecision.action == action)
            )
        )

    with rt.db.session() as session:
        return work(session)


def triaged(web: TestClient, rt: Runtime, text: str = THREAT) -> str:
    reference = submit(web, text)
    run_pipeline(rt)
    return reference


# --- marking the text ---------------------------------------------------------------------


def test_overlapping_items_share_one_mark_that_names_them_all() -> None:
    text = "met Ali Khan Street Market traders"
    person = item(4, 12, kind="person", value="Ali Khan")
    place = item(8, 26, kind="place", value="Khan Street Market")
    segments = highlighted(text, [place, person])
    assert "".join(s.text for s in segments) == text
    (marked,) = [s for s in segments if s.item]
    assert marked.text == "Ali Khan Street Market"
    assert [i.kind for i in marked.items] == ["person", "place"]


def test_a_corrected_item_shows_what_the_automation_first_said() -> None:
    first = item(5, 17, id=1, status="rejected", value="+447700900123")
    second = item(5, 17, id=2, status="rejected", value="+447700900124", corrects_item_id=1)
    third = item(5, 17, id=3, value="+447700900125", corrects_item_id=2)
    other = item(20, 25, id=4)
    rows = item_rows([first, second, third, other])
    assert [(r.item.id, r.was.id if r.was else None) for r in rows] == [(3, 1), (4, None)]


def test_the_page_marks_items_with_a_hidden_kind_and_offers_a_form_for_each(
    rt: Runtime, web: TestClient
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    html = web.get(report_path(reference)).text
    assert re.search(
        r'<mark title="[^"]*">07700 900123<span class="govuk-visually-hidden"> \(phone number\)',
        html,
    )
    assert "Extracted items" in html
    phone = phone_item(rt, reference)
    assert f'action="/console/reports/{reference}/items/{phone.id}"' in html
    assert f'id="item-{phone.id}-reason"' in html


# --- correcting items ---------------------------------------------------------------------


def test_a_correction_replaces_the_item_keeps_the_original_and_is_audited(
    rt: Runtime, web: TestClient
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    page = report_path(reference)
    phone = phone_item(rt, reference)
    form = {"action": "replace", "kind": "phone", "value": "07700 900124", "reason": "Misheard"}
    done = post(web, f"{page}/items/{phone.id}", form, page)
    assert (done.status_code, done.headers["location"]) == (303, f"{page}#items")

    after = {i.id: i for i in items_of(rt, reference)}
    assert after[phone.id].status == "rejected"  # the automation's item is kept
    (new,) = [i for i in after.values() if i.corrects_item_id == phone.id]
    assert (new.status, new.source, new.value) == ("active", "analyst", "+447700900124")  # E.164
    (decided,) = decisions(rt, reference, "item_corrected")
    assert decided.reason == "Misheard"
    assert decided.detail["before"]["value"] == phone.value
    assert [e.record_ids for e in events(rt, "triage.item.corrected")] == [[reference]]

    html = web.get(page).text
    assert f"was {phone.value}" in html
    assert "Corrected" in html


def test_rejecting_an_item_takes_its_mark_off_the_text(rt: Runtime, web: TestClient) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    page = report_path(reference)
    phone = phone_item(rt, reference)
    form = {"action": "reject", "reason": "It is the reporter's own number"}
    assert post(web, f"{page}/items/{phone.id}", form, page).status_code == 303
    assert {i.id: i.status for i in items_of(rt, reference)}[phone.id] == "rejected"
    html = web.get(page).text
    assert not re.search(r"<mark[^>]*>07700 900123<span", html)
    assert "Rejected" in html


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"reason": "Wrong number"}, "action", "choose whether to reject"),
        ({"action": "replace", "reason": "Wrong number"}, "value", "needs the corrected value"),
        ({"action": "reject", "reason": "no"}, "reason", "at least 3 characters"),
        ({"action": "replace", "kind": "spaceship", "value": "x", "reason": "Oops"}, "kind", ""),
    ],
)
def test_bad_item_corrections_are_shown_at_their_field_and_change_nothing(
    rt: Runtime, web: TestClient, form: dict[str, str], field: str, message: str
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    page = report_path(reference)
    before = [(i.id, i.status, i.value) for i in items_of(rt, reference)]
    phone = phone_item(rt, reference)
    refused = post(web, f"{page}/items/{phone.id}", form, page)
    assert (refused.status_code, refused.headers["location"]) == (303, f"{page}#errors")
    html = web.get(page).text
    assert "There is a problem" in html
    assert f'href="#item-{phone.id}-{field}"' in html
    assert message in html
    opened = html.split(f'action="{page}/items/{phone.id}"')[0].rsplit("<details", 1)[1]
    assert " open>" in opened  # the refused form is shown open, with what was typed
    assert [(i.id, i.status, i.value) for i in items_of(rt, reference)] == before
    assert decisions(rt, reference, "item_corrected") == []
    assert events(rt, "triage.item.corrected") == []


def test_an_item_the_automation_missed_is_added_with_its_reason_and_audited(
    rt: Runtime, web: TestClient
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    page = report_path(reference)
    reason = "Plate read from the photo"
    form = {"kind": "vrm", "value": "XY65ZZT", "text": "", "reason": reason}
    done = post(web, f"{page}/items", form, page)
    assert (done.status_code, done.headers["location"]) == (303, f"{page}#items")

    (added,) = [i for i in items_of(rt, reference) if i.value == "XY65ZZT"]
    assert (added.kind, added.status, added.source) == ("vrm", "active", "analyst")
    (decided,) = decisions(rt, reference, "item_added")
    assert decided.reason == reason
    assert [e.record_ids for e in events(rt, "triage.item.added")] == [[reference]]
    assert "XY65ZZT" in web.get(page).text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "vrm", "value": "", "reason": "Read from the photo"}, "value"),
        ({"kind": "spaceship", "value": "x", "reason": "Read from the photo"}, "kind"),
        ({"kind": "vrm", "value": "XY65ZZT", "reason": "no"}, "reason"),
    ],
)
def test_a_bad_new_item_is_shown_at_its_field_and_changes_nothing(
    rt: Runtime, web: TestClient, form: dict[str, str], field: str
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt)
    page = report_path(reference)
    before = [(i.id, i.status, i.value) for i in items_of(rt, reference)]
    refused = post(web, f"{page}/items", form, page)
    assert (refused.status_code, refused.headers["location"]) == (303, f"{page}#errors")
    html = web.get(page).text
    assert f'href="#new-item-{field}"' in html
    assert [(i.id, i.status, i.value) for i in items_of(rt, reference)] == before
    assert events(rt, "triage.item.added") == []


def test_an_item_of_another_report_is_not_found(rt: Runtime, web: TestClient) -> None:
    reference, other = triaged(web, rt), triaged(web, rt)
    signed_in(web, rt)
    phone = phone_item(rt, other)
    form = {"action": "reject", "reason": "Not this report's"}
    response = post(web, f"{report_path(reference)}/items/{phone.id}", form, report_path(reference))
    assert response.status_code == 404 and "Page not found" in response.text
    assert phone_item(rt, other).status == "active"


# --- categories ---------------------------------------------------------------------------


def test_a_category_is_added_and_removed_with_a_reason(rt: Runtime, web: TestClient) -> None:
    reference = triaged(web, rt, VAGUE)
    signed_in(web, rt)
    page = report_path(reference)
    html = web.get(page).text
    assert f'action="/console/reports/{reference}/categories"' in html
    code = re.findall(r'<option value="([a-z_]+)"', html.split('id="categories-category"')[1])[0]

    added = post(
        web, f"{page}/categories", {"action": "add", "category": code, "reason": "Seen"}, page
    )
    assert (added.status_code, added.headers["location"]) == (303, f"{page}#categories")
    assert code in triage_row(rt, reference).category_codes
    removed = {"action": "remove", "category": code, "reason": "On reflection, no"}
    assert post(web, f"{page}/categories", removed, page).status_code == 303
    assert code not in triage_row(rt, reference).category_codes
    assert [d.reason for d in decisions(rt, reference, "categories_corrected")] == [
        "Seen",
        "On reflection, no",
    ]
    assert len(events(rt, "triage.categories.corrected")) == 2


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"category": "x", "reason": "Because"}, "categories-action"),
        ({"action": "add", "reason": "Because"}, "categories-category"),
        (
            {"action": "add", "category": "not_a_category", "reason": "Because"},
            "categories-category",
        ),
        ({"action": "add", "category": "x", "reason": ""}, "categories-reason"),
    ],
)
def test_a_bad_category_change_is_shown_and_changes_nothing(
    rt: Runtime, web: TestClient, form: dict[str, str], field: str
) -> None:
    reference = triaged(web, rt, VAGUE)
    signed_in(web, rt)
    page = report_path(reference)
    before = triage_row(rt, reference).category_codes
    assert post(web, f"{page}/categories", form, page).headers["location"] == f"{page}#errors"
    html = web.get(page).text
    assert f'href="#{field}"' in html
    assert triage_row(rt, reference).category_codes == before
    assert events(rt, "triage.categories.corrected") == []


# --- who sees what ------------------------------------------------------------------------


def test_a_report_the_user_may_not_see_is_not_found_on_every_correction_route(
    rt: Runtime, web: TestClient
) -> None:
    reference = triaged(web, rt)
    phone = phone_item(rt, reference)
    move_to_another_organisation(rt, reference)
    signed_in(web, rt)
    page = "/console/queue"
    for path, form in [
        (f"{report_path(reference)}/items/{phone.id}", {"action": "reject", "reason": "Nope"}),
        (
            f"{report_path(reference)}/categories",
            {"action": "add", "category": "photography", "reason": "Nope"},
        ),
    ]:
        response = post(web, path, form, page)
        assert response.status_code == 404, path
        assert "Page not found" in response.text and reference not in response.text
    assert phone_item(rt, reference).status == "active"


def test_a_reader_who_may_not_decide_gets_no_correction_forms_and_403_on_posting(
    rt: Runtime, web: TestClient
) -> None:
    reference = triaged(web, rt)
    signed_in(web, rt, "inv@example.org", role=Role.investigator)
    page = report_path(reference)
    html = web.get(page).text
    assert "Extracted items" in html and "/items/" not in html and "/categories" not in html
    phone = phone_item(rt, reference)
    refused = post(web, f"{page}/items/{phone.id}", {"action": "reject", "reason": "x y z"}, page)
    assert refused.status_code == 403
    assert phone_item(rt, reference).status == "active"


def test_only_the_custodian_is_offered_the_step_to_the_reporters_identity(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    step = disclosure.PAGE.format(reference=reference)
    signed_in(web, rt)
    analyst = web.get(report_path(reference)).text
    assert step not in analyst and "reporter's details" not in analyst
    assert f'href="/console/cases/new?report={reference}"' in analyst

    web.cookies.clear()
    signed_in(web, rt, "custodian@example.org", role=Role.reporter_custodian)
    custodian = web.get(report_path(reference)).text
    assert f'href="{step}"' in custodian
    assert "/console/cases/new" not in custodian  # the custodian does not open cases


# --- in a real browser: axe-core and the keyboard ---------------------------------------


def wait_until_triaged(server: LiveServer, reference: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with server.rt.db.session() as session:
            status = session.scalar(
                select(TriageResult.status)
                .join(Report, Report.id == TriageResult.report_id)
                .where(Report.reference == reference)
            )
        if status == "done":
            return
        time.sleep(0.1)
    raise AssertionError(f"{reference} was not triaged in time")


@pytest.mark.slow
def test_the_report_page_with_its_forms_is_accessible_and_keyboard_usable(
    server: LiveServer, browser: Browser
) -> None:
    """axe-core finds nothing on the page (text marks, item forms, files, thread, custodian
    link) nor in its error states, under the real CSP; the forms open and submit from the
    keyboard. SQLite only, like every browser test."""
    token = staff_token(server.rt, "a11y-report@example.org")
    staff_token(server.rt, "a11y-custodian@example.org", role=Role.reporter_custodian)
    api = httpx.Client(base_url=server.base_url, timeout=30)
    made = api.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report(description=THREAT))},
        files=[("files", ("van.jpg", jpeg_bytes(), "image/jpeg"))],
    )
    assert made.status_code == 201, made.text
    reference = made.json()["reference"]
    wait_until_triaged(server, reference)
    asked = api.post(
        f"/api/v1/reports/{reference}/messages",
        json={"text": "Which way did the van go?"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert asked.status_code == 201, asked.text

    page, problems = browser_session(server, browser, "a11y-report@example.org")
    visit(page, server, report_path(reference), "report page")
    assert page.locator("img[alt='Display copy of van.jpg']").evaluate("i => i.naturalWidth") > 0

    summary = page.locator("#items summary").first
    summary.focus()
    page.keyboard.press("Enter")  # a details element opens from the keyboard
    form = page.locator("#items details[open] form").first
    form.locator("textarea").focus()
    page.keyboard.type("Typed with the keyboard")
    form.get_by_role("button", name="Save the correction").press("Enter")
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert page.locator("#items details[open] textarea").input_value() == "Typed with the keyboard"
    assert_accessible(page, "report page, item correction with errors")

    page.get_by_text("Download the original of van.jpg").click()
    page.get_by_role("button", name="Download the original").click()
    page.wait_for_load_state()
    assert page.get_by_text("at least 20 characters").first.is_visible()
    assert_accessible(page, "report page, original refused")
    page.locator("#question-text").fill("")
    page.get_by_role("button", name="Send the question").click()
    page.wait_for_load_state()
    assert_accessible(page, "report page, empty question")
    assert problems == []

    page, problems = browser_session(server, browser, "a11y-custodian@example.org")
    visit(page, server, report_path(reference), "report page for the custodian")
    assert page.get_by_role("link", name="See the reporter's details").is_visible()
    assert problems == []
