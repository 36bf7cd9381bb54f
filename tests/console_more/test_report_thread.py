"""The thread with the reporter on the report page, on both databases: the messages so far
(staff questions with who asked, reporter replies with the names of their files), a form to
ask a question through the existing thread service (its permission and limits; bad input is
shown and stores nothing), a plain note when the reporter cannot read a question or only can
if they come back with their code, and "not found" for a report the user may not see."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_sign_in import events
from tests.console.test_console_pages import (
    move_to_another_organisation,
    post,
    report_path,
    signed_in,
)
from tests.factories import jpeg_bytes, minimal_report, report_payload
from vigil.access.permissions import Role
from vigil.intake.models import Followup, FollowupCredential, Report
from vigil.intake.thread import QUESTION_MAX_CHARS
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

QUESTION = "Which way did the van drive off, and at what time?"


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    app = create_app(rt=rt)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def submit(web: TestClient, **overrides: object) -> tuple[str, str]:
    response = web.post("/api/v1/reports", json=minimal_report(**overrides))
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["reference"]), str(body["followup_code"])


def staff_messages(rt: Runtime, reference: str) -> list[Followup]:
    with rt.db.session() as session:
        return list(
            session.scalars(
                select(Followup)
                .join(Report, Report.id == Followup.report_id)
                .where(Report.reference == reference, Followup.author == "staff")
            )
        )


def test_the_thread_form_posts_a_question_that_then_shows_in_the_thread(
    rt: Runtime, web: TestClient
) -> None:
    reference, _ = submit(web)
    signed_in(web, rt)
    page = report_path(reference)
    html = web.get(page).text
    assert "Messages with the reporter" in html and "No messages yet." in html
    assert f'action="{page}/questions"' in html

    asked = post(web, f"{page}/questions", {"text": QUESTION}, page)
    assert (asked.status_code, asked.headers["location"]) == (303, f"{page}#thread")
    (stored,) = staff_messages(rt, reference)
    assert stored.text == QUESTION
    (audited,) = events(rt, "report.question_asked")
    assert audited.record_ids == [reference] and QUESTION not in str(audited.purpose)
    after = web.get(page).text
    assert "Question from analyst@example.org" in after and QUESTION in after
    assert "Question sent to the reporter" in after  # in the history too


def test_the_reporters_reply_and_the_names_of_its_files_are_shown(
    rt: Runtime, web: TestClient
) -> None:
    reference, code = submit(web)
    sent = web.post(
        f"/api/v1/reports/{reference}/followups",
        data={"followup": json.dumps({"code": code, "text": "It turned left at the lights."})},
        files=[("files", ("junction.jpg", jpeg_bytes(), "image/jpeg"))],
    )
    assert sent.status_code == 201, sent.text
    signed_in(web, rt)
    html = web.get(report_path(reference)).text
    thread = html.split('id="thread"')[1]
    assert "From the reporter" in thread and "It turned left at the lights." in thread
    assert "junction.jpg</a>" in thread
    assert "Later, in the reporter&#39;s messages" in html  # the file, in the files section
    assert [e.record_ids for e in events(rt, "report.thread_viewed")] == [[reference]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Text: must not be empty"),
        ("   ", "Text: must not be empty"),
        ("x" * (QUESTION_MAX_CHARS + 1), "Text: must be 5000 characters or fewer"),
        ("Where\x07 did it go?", "Text:"),
    ],
)
def test_a_bad_question_is_shown_at_its_field_and_nothing_is_sent(
    rt: Runtime, web: TestClient, text: str, message: str
) -> None:
    reference, _ = submit(web)
    signed_in(web, rt)
    page = report_path(reference)
    refused = post(web, f"{page}/questions", {"text": text}, page)
    assert (refused.status_code, refused.headers["location"]) == (303, f"{page}#errors")
    html = web.get(page).text
    assert 'href="#question-text"' in html and message in html
    assert staff_messages(rt, reference) == []
    assert events(rt, "report.question_asked") == []


def test_an_anonymous_reporter_is_said_to_be_reachable_only_through_their_code(
    rt: Runtime, web: TestClient
) -> None:
    anonymous, _ = submit(web)
    named, _ = submit(web, reporter=report_payload()["reporter"])
    signed_in(web, rt)
    assert "stayed anonymous" in web.get(report_path(anonymous)).text
    assert "stayed anonymous" not in web.get(report_path(named)).text


def test_without_a_follow_up_code_the_page_says_so_and_offers_no_question(
    rt: Runtime, web: TestClient
) -> None:
    reference, _ = submit(web)

    def forget_code(session: Session) -> None:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
        session.execute(delete(FollowupCredential).where(FollowupCredential.report_id == report_id))

    rt.db.write_sync(forget_code)
    signed_in(web, rt)
    html = web.get(report_path(reference)).text
    assert "no way to send them a question" in html
    assert "/questions" not in html


def test_asking_needs_the_message_permission_and_a_report_the_user_may_see(
    rt: Runtime, web: TestClient
) -> None:
    reference, _ = submit(web)
    page = report_path(reference)
    signed_in(web, rt, "custodian@example.org", role=Role.reporter_custodian)
    custodian_view = web.get(page).text
    assert 'id="thread"' not in custodian_view  # not shown what the reporter said
    assert post(web, f"{page}/questions", {"text": QUESTION}, page).status_code == 403

    web.cookies.clear()
    move_to_another_organisation(rt, reference)
    signed_in(web, rt)
    hidden = post(web, f"{page}/questions", {"text": QUESTION}, "/console/queue")
    assert hidden.status_code == 404 and "Page not found" in hidden.text
    assert staff_messages(rt, reference) == []
    assert events(rt, "report.question_asked") == []
