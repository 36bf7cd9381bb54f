"""The reporter's follow-up thread (website), the staff thread API, and the information pages.

Every test runs on SQLite and PostgreSQL. Reports are made through the JSON API; the
reporter then signs in on the website with the reference and code, as a person would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update

from tests.factories import auth, minimal_report, png_bytes, staff_token
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake import thread_pages
from vigil.intake.codes import REFERENCE_ALPHABET
from vigil.intake.models import Attachment, Followup, FollowupCredential
from vigil.sealing import Sealed
from vigil.web.runtime import Runtime
from vigil.web.sessions import BrowserSession
from vigil.web.templating import gettext_for

QUESTION = "Which way did the van drive off when it left?"
OTHER_ORG = "Synthetic Health Trust"


# --- helpers ----------------------------------------------------------------------------


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def new_report(client: TestClient) -> tuple[str, str]:
    accepted = client.post("/api/v1/reports", json=minimal_report()).json()
    return accepted["reference"], accepted["followup_code"]


def loosely(code: str) -> str:
    """How a person might type the code: lower case, spaces instead of dashes."""
    return code.lower().replace("-", " ")


def sign_in(client: TestClient, reference: str, code: str) -> Response:
    token = csrf(client.get("/follow-up").text)
    response: Response = client.post(
        "/follow-up",
        data={"csrf_token": token, "reference": reference, "code": code},
        follow_redirects=False,
    )
    return response


def reply(
    client: TestClient, text: str, files: list[tuple[str, bytes, str]] | None = None
) -> Response:
    token = csrf(client.get("/follow-up/thread").text)
    response: Response = client.post(
        "/follow-up/thread",
        data={"csrf_token": token, "text": text},
        files=[("files", f) for f in files or []] or None,
        follow_redirects=False,
    )
    return response


def ask(client: TestClient, token: str, reference: str, text: str = QUESTION) -> Response:
    response: Response = client.post(
        f"/api/v1/reports/{reference}/messages", json={"text": text}, headers=auth(token)
    )
    return response


def error_summary(html: str) -> list[str]:
    summary = html.split('govuk-error-summary__list">', 1)
    assert len(summary) == 2, "no error summary on the page"
    items = re.findall(r"<a href=\"#[a-z]+\">\s*(.*?)\s*</a>", summary[1].split("</ul>")[0], re.S)
    return [re.sub(r"\s+", " ", item) for item in items]


def title(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.S)
    assert match
    return re.sub(r"\s+", " ", match.group(1)).strip()


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def audit_actions(rt: Runtime, action: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- the whole conversation ---------------------------------------------------------------


def test_question_and_reply_with_a_photo_reach_both_sides_in_order(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    token = staff_token(rt)
    asked = ask(client, token, reference)
    assert asked.status_code == 201, asked.text
    question = asked.json()
    assert question["author"] == "staff" and question["text"] == QUESTION

    signed_in = sign_in(client, reference.lower(), loosely(code))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/follow-up/thread"
    page = client.get("/follow-up/thread")
    assert page.status_code == 200
    assert "Question from the team" in page.text and QUESTION in page.text
    assert reference in page.text
    assert minimal_report()["description"] not in page.text  # the report itself is not shown
    assert "analyst@example.org" not in page.text

    photo = png_bytes()
    sent = reply(client, "North, towards the ring road.", [("van.png", photo, "image/png")])
    assert sent.status_code == 303, sent.text
    after = client.get("/follow-up/thread").text
    assert '<p class="govuk-notification-banner__heading">Your message has been sent.</p>' in after
    assert "North, towards the ring road." in after and "van.png" in after
    assert "Your message has been sent" not in client.get("/follow-up/thread").text

    thread = client.get(f"/api/v1/reports/{reference}/messages", headers=auth(token))
    assert thread.status_code == 200
    messages = thread.json()
    assert [m["author"] for m in messages] == ["staff", "reporter"]
    assert messages[0]["author_user_id"] == question["author_user_id"] is not None
    assert messages[0]["id"] == question["id"]
    answer = messages[1]
    assert answer["author_user_id"] is None
    assert answer["text"] == "North, towards the ring road."
    assert messages[0]["received_at"] <= answer["received_at"]
    (attachment,) = answer["attachments"]
    assert attachment["filename"] == "van.png" and attachment["media_type"] == "image/png"
    assert attachment["size_bytes"] == len(photo)
    with rt.db.session() as session:
        row = session.get(Attachment, attachment["id"])
        assert row is not None and row.followup_id == answer["id"]
        assert rt.store.path_for(row.storage_key).read_bytes() == photo
        assert session.get(Followup, answer["id"]).channel == "web"  # type: ignore[union-attr]


def test_follow_ups_sent_through_the_api_appear_in_the_thread(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sent = client.post(
        f"/api/v1/reports/{reference}/followups",
        json={"code": code, "text": "I remembered the van had a roof rack."},
    )
    assert sent.status_code == 201
    assert sign_in(client, reference, code).status_code == 303
    assert "I remembered the van had a roof rack." in client.get("/follow-up/thread").text
    messages = client.get(
        f"/api/v1/reports/{reference}/messages", headers=auth(staff_token(rt))
    ).json()
    assert [(m["author"], m["text"]) for m in messages] == [
        ("reporter", "I remembered the van had a roof rack.")
    ]


def test_times_are_shown_in_uk_time_in_govuk_style() -> None:
    english = SimpleNamespace(_=gettext_for("en"), lang="en")
    summer = datetime(2026, 7, 1, 13, 5, tzinfo=UTC).astimezone(thread_pages.LONDON)
    winter = datetime(2026, 12, 1, 0, 0, tzinfo=UTC).astimezone(thread_pages.LONDON)
    assert thread_pages._moment(english, summer) == "1 July 2026 at 2:05pm"  # type: ignore[arg-type]
    assert thread_pages._moment(english, winter) == "1 December 2026 at midnight"  # type: ignore[arg-type]


# --- signing in ---------------------------------------------------------------------------


def test_wrong_code_and_unknown_reference_give_the_same_error(client: TestClient) -> None:
    reference, _ = new_report(client)
    wrong = sign_in(client, reference, "0000-0000-0000-0000-0000")
    unknown = sign_in(client, "VGL-2222-3333", "0000-0000-0000-0000-0000")
    assert wrong.status_code == unknown.status_code == 400
    assert error_summary(wrong.text) == error_summary(unknown.text)
    assert "could not find a report with that reference and follow-up code" in wrong.text
    assert title(wrong.text).startswith("Error:")
    assert 'value="VGL-2222-3333"' in unknown.text  # what was typed is kept
    assert client.get("/follow-up/thread", follow_redirects=False).status_code == 303


def test_missing_and_malformed_answers_get_specific_errors(client: TestClient) -> None:
    empty = sign_in(client, "", "")
    assert empty.status_code == 400
    assert error_summary(empty.text) == ["Enter your reference", "Enter your follow-up code"]
    assert 'href="#reference"' in empty.text and 'href="#code"' in empty.text
    malformed = sign_in(client, "VGL-12", "ABC")
    assert "exactly as it was shown to you, like VGL-7K4M-Q2XR" in malformed.text
    assert "20 letters and numbers" in malformed.text
    assert 'value="VGL-12"' in malformed.text


def test_too_many_wrong_codes_lock_the_reference_even_against_the_right_code(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    for _ in range(rt.settings.followup_max_failures):
        assert sign_in(client, reference, "0000-0000-0000-0000-0000").status_code == 400
    with rt.db.session() as session:
        cred = session.scalar(select(FollowupCredential))
        assert cred is not None and cred.failed_attempts == rt.settings.followup_max_failures
    locked = sign_in(client, reference, code)
    assert locked.status_code == 429
    assert "too many times. Try again later, in 15 minutes." in locked.text
    assert title(locked.text).startswith("Error:")
    assert client.get("/follow-up/thread", follow_redirects=False).status_code == 303


def test_unknown_references_count_towards_the_per_client_limit(
    client: TestClient, rt: Runtime
) -> None:
    allowed = rt.followup_failure_limiter.per_minute
    for n in range(allowed):
        answer = sign_in(client, f"VGL-2222-{REFERENCE_ALPHABET[n]}222", "0" * 20)
        assert answer.status_code == 400, n
    refused = sign_in(client, "VGL-3333-3333", "0" * 20)
    assert refused.status_code == 429
    assert "Try again later" in refused.text


def test_right_code_clears_earlier_wrong_attempts_and_is_audited(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, "0000-0000-0000-0000-0000")
    assert sign_in(client, reference, code).status_code == 303
    with rt.db.session() as session:
        cred = session.scalar(select(FollowupCredential))
        assert cred is not None and cred.failed_attempts == 0
    (event,) = audit_actions(rt, "report.reporter_signed_in")
    assert event.record_ids == [reference] and event.actor_label == "public"
    assert event.client_address is None


def test_forms_without_the_csrf_token_are_refused(client: TestClient, rt: Runtime) -> None:
    reference, code = new_report(client)
    client.get("/follow-up")
    forged = client.post("/follow-up", data={"reference": reference, "code": code})
    assert forged.status_code == 400
    assert "Sorry, this form has expired" in forged.text
    assert client.get("/follow-up/thread", follow_redirects=False).status_code == 303
    assert sign_in(client, reference, code).status_code == 303
    before = count(rt, Followup)
    no_token = client.post("/follow-up/thread", data={"text": "Injected"})
    assert no_token.status_code == 400
    assert client.post("/follow-up/sign-out").status_code == 400
    assert count(rt, Followup) == before
    assert client.get("/follow-up/thread").status_code == 200  # still signed in


def test_the_session_remembers_the_reference_but_never_the_code(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, loosely(code))
    with rt.db.session() as session:
        rows = [(row.sealed, row.id_hash) for row in session.scalars(select(BrowserSession))]
    plain = [
        rt.sealer.open(Sealed.unpack(sealed), b"browser-session:" + id_hash.encode())
        for sealed, id_hash in rows
    ]
    assert any(reference.encode() in p for p in plain)
    compact = code.replace("-", "").encode()
    assert not any(compact in p.replace(b"-", b"").upper() for p in plain)
    assert not any(loosely(code).encode() in p for p in plain)


# --- access to the thread -----------------------------------------------------------------


def test_the_thread_needs_signing_in(client: TestClient, rt: Runtime) -> None:
    reference, _ = new_report(client)
    ask(client, staff_token(rt), reference)
    page = client.get("/follow-up/thread", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/follow-up"
    token = csrf(client.get("/follow-up").text)
    posted = client.post(
        "/follow-up/thread", data={"csrf_token": token, "text": "hi"}, follow_redirects=False
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/follow-up"
    assert [f.author for f in _followups(rt)] == ["staff"]
    assert QUESTION not in client.get("/follow-up/thread").text


def test_signing_out_ends_access(client: TestClient) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    token = csrf(client.get("/follow-up/thread").text)
    out = client.post("/follow-up/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/follow-up"
    banner = '<p class="govuk-notification-banner__heading">You have signed out of your report.'
    assert banner in client.get("/follow-up").text
    assert client.get("/follow-up/thread", follow_redirects=False).status_code == 303


def test_after_two_idle_hours_the_code_is_needed_again(client: TestClient, rt: Runtime) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    token = csrf(client.get("/follow-up/thread").text)
    idle = timedelta(seconds=rt.settings.form_idle_timeout_s + 60)
    rt.db.write_sync(
        lambda s: s.execute(update(BrowserSession).values(last_seen_at=datetime.now(UTC) - idle))
    )
    page = client.get("/follow-up/thread", follow_redirects=False)
    assert page.status_code == 200
    assert "You have been signed out" in page.text and "for 2 hours" in page.text
    late = client.post("/follow-up/thread", data={"csrf_token": token, "text": "late"})
    assert late.status_code == 400 and count(rt, Followup) == 0
    assert sign_in(client, reference, code).status_code == 303
    assert client.get("/follow-up/thread").status_code == 200


def _followups(rt: Runtime) -> list[Followup]:
    with rt.db.session() as session:
        return list(session.scalars(select(Followup).order_by(Followup.id)))


# --- replying -----------------------------------------------------------------------------


def test_an_empty_reply_is_refused_with_an_error(client: TestClient, rt: Runtime) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    answer = reply(client, "   ")
    assert answer.status_code == 400
    assert title(answer.text).startswith("Error:")
    assert error_summary(answer.text) == [
        "Enter the information you want to add, or choose a file to send"
    ]
    assert count(rt, Followup) == 0


def test_a_reply_with_a_control_character_keeps_what_was_typed(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    answer = reply(client, "The car was\x07 blue")
    assert answer.status_code == 400
    assert "contains a character we cannot accept" in answer.text
    assert "The car was" in answer.text and count(rt, Followup) == 0


def test_a_disguised_file_is_refused_by_name_and_nothing_is_kept(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    evil = b"<html><script>alert(1)</script></html>"
    answer = reply(client, "See photo", [("photo.jpg", evil, "image/jpeg")])
    assert answer.status_code == 400
    assert "The file photo.jpg was not accepted." in answer.text
    assert "See photo" in answer.text
    assert count(rt, Followup) == 0 and count(rt, Attachment) == 0
    assert list(rt.store.staging.iterdir()) == []


def test_files_over_the_size_or_count_limit_are_refused_and_nothing_is_kept(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    rt.settings.max_attachment_bytes = 100
    big = reply(client, "Too big", [("big.txt", b"x" * 1000, "text/plain")])
    assert big.status_code == 400
    assert "Each file must be smaller than 100 B" in big.text
    rt.settings.max_attachment_bytes = 10_000
    rt.settings.max_attachments = 1
    notes = [("a.txt", b"note a", "text/plain"), ("b.txt", b"note b", "text/plain")]
    many = reply(client, "Two files", notes)
    assert many.status_code == 400 and "You can send up to 1 file at a time" in many.text
    assert count(rt, Followup) == 0 and count(rt, Attachment) == 0
    assert list(rt.store.staging.iterdir()) == []


def test_a_file_without_text_is_enough(client: TestClient, rt: Runtime) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    assert (
        reply(client, "", [("note.txt", b"Number plate AB12 CDE", "text/plain")]).status_code == 303
    )
    (followup,) = _followups(rt)
    assert followup.text is None and followup.author == "reporter"
    assert "note.txt" in client.get("/follow-up/thread").text


# --- the staff API ------------------------------------------------------------------------


def test_staff_of_another_organisation_cannot_see_or_write_the_thread(
    client: TestClient, rt: Runtime
) -> None:
    reference, _ = new_report(client)
    outsider = staff_token(rt, email="nurse@example.org", org=OTHER_ORG)
    unknown = client.get("/api/v1/reports/VGL-2222-3333/messages", headers=auth(outsider))
    seen = client.get(f"/api/v1/reports/{reference}/messages", headers=auth(outsider))
    posted = ask(client, outsider, reference)
    assert unknown.status_code == seen.status_code == posted.status_code == 404
    assert seen.json()["detail"] == posted.json()["detail"] == unknown.json()["detail"]
    assert count(rt, Followup) == 0
    assert audit_actions(rt, "report.thread_viewed") == []


def test_bad_questions_get_problem_details_and_change_nothing(
    client: TestClient, rt: Runtime
) -> None:
    reference, _ = new_report(client)
    token = staff_token(rt)
    for text in ["", "   ", "Where\x00 did it go?", "x" * 5001]:
        answer = ask(client, token, reference, text)
        assert answer.status_code == 422, text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"][0]["pointer"] == "#/text"
    extra = client.post(
        f"/api/v1/reports/{reference}/messages",
        json={"text": "ok", "author": "reporter"},
        headers=auth(token),
    )
    assert extra.status_code == 422
    form = client.post(
        f"/api/v1/reports/{reference}/messages", data={"text": "ok"}, headers=auth(token)
    )
    assert form.status_code == 415
    assert ask(client, token, reference, "x" * 5000).status_code == 201
    assert count(rt, Followup) == 1


def test_asking_needs_a_token_and_the_message_permission(client: TestClient, rt: Runtime) -> None:
    reference, _ = new_report(client)
    anonymous = client.post(f"/api/v1/reports/{reference}/messages", json={"text": "Hello"})
    assert anonymous.status_code == 401
    reader = staff_token(rt, email="custodian@example.org", role=Role.reporter_custodian)
    assert ask(client, reader, reference).status_code == 403
    assert (
        client.get(f"/api/v1/reports/{reference}/messages", headers=auth(reader)).status_code == 200
    )
    assert count(rt, Followup) == 0


def test_reading_and_asking_are_audited_without_the_text(client: TestClient, rt: Runtime) -> None:
    reference, code = new_report(client)
    token = staff_token(rt)
    question = ask(client, token, reference).json()
    client.get(f"/api/v1/reports/{reference}/messages", headers=auth(token))
    (asked,) = audit_actions(rt, "report.question_asked")
    (viewed,) = audit_actions(rt, "report.thread_viewed")
    for event in (asked, viewed):
        assert event.record_ids == [reference]
        assert event.actor_user_id == question["author_user_id"]
        assert QUESTION not in repr(vars(event))
    sign_in(client, reference, code)
    reply(client, "Answer for the team")
    assert [e.record_ids for e in audit_actions(rt, "report.followup_collected")] == [[reference]]


# --- information pages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/privacy", "Privacy notice"),
        ("/accessibility", "Accessibility statement"),
        ("/cookies", "Cookies"),
    ],
)
def test_information_pages_render_in_english_and_welsh(
    client: TestClient, path: str, heading: str
) -> None:
    english = client.get(path)
    assert english.status_code == 200
    assert f'<h1 class="govuk-heading-l">{heading}</h1>' in english.text
    assert '<html lang="en"' in english.text
    welsh = client.get(f"{path}?lang=cy")
    assert welsh.status_code == 200
    assert '<html lang="cy"' in welsh.text
    assert "Error:" not in title(english.text)


def test_the_cookies_page_names_the_one_cookie_and_its_expiry(client: TestClient) -> None:
    page = client.get("/cookies").text
    assert "<code>vigil_session</code>" in page and "<code>__Host-vigil_session</code>" in page
    assert "after 2 hours without activity" in page
    assert "analytics" in page


def test_the_privacy_notice_says_what_is_never_stored(client: TestClient) -> None:
    page = client.get("/privacy").text
    assert "IP address" in page and "encrypted" in page
    assert "retention policy" in page
