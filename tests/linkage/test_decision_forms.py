"""The linkage decision forms (an alert's decision, re-opening it, a match's review and a
change of it) as a person uses them, on both databases: a refused form names the input as
the page shows it, in GOV.UK's words and in the page's language, never the model's field
name or pydantic's English; re-opening a decided alert sends its one choice itself; a match's
method and review are said in words; and the timeline says who reviewed a match."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.console.test_console_pages import (
    PHONE_REPORT,
    SECRET,
    add_subject,
    csrf_of,
    investigator_token,
    referral_match,
    run_pipeline,
    signed_in,
    submit,
)
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth
from vigil.access.permissions import Role
from vigil.linkage.models import Alert, Match
from vigil.linkage.schemas import DECISION_REASON_MAX
from vigil.web.runtime import Runtime
from vigil.web.templating import gettext_for

ALERTS = "/console/alerts"
english, welsh = gettext_for("en"), gettext_for("cy")
MODEL_WORDS = ("Input should be", "String should have", "Value error", "Body:", "State:", "Label:")


def in_welsh(msgid: str, **values: Any) -> str:
    """The catalogue's Welsh for a message; fails (naming it) while it has none."""
    said = welsh(msgid, **values)
    assert said != english(msgid, **values), f"no Welsh in the catalogue yet for {msgid!r}"
    return said


def words(text: str) -> str:
    """What a reader sees: tags dropped, entities undone, spacing folded."""
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


def summary(page: str) -> dict[str, str]:
    """The error summary as {the input it links to: its message}."""
    block = page.split('id="errors"', 1)[1].split("</div>\n<h1", 1)[0]
    links = re.findall(r'<a href="#([^"]+)"[^>]*>(.*?)</a>', block, re.S)
    return {target: words(text) for target, text in links}


def lead(web: TestClient, rt: Runtime) -> None:
    signed_in(web, rt, "lead@example.org", role=Role.investigator, clearance=SECRET)


def alerted(web: TestClient, rt: Runtime) -> int:
    """A new alert for our team: a report mentions a closed subject's phone."""
    token = investigator_token(rt)
    add_subject(web, token, status="closed", person={"first_name": "Karl", "phone": "07700900123"})
    submit(web, PHONE_REPORT)
    run_pipeline(rt)
    with rt.db.session() as session:
        return int(session.scalars(select(Alert.id)).one())


def form_sends(page: str, action: str) -> dict[str, str]:
    """What the form posting to ``action`` sends as it stands: its hidden fields and any
    radio button already ticked (the CSRF token is added by :func:`send`)."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    sent = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or not value or not kind or name.group(1) == "csrf_token":
            continue
        if kind.group(1) == "hidden" or (kind.group(1) == "radio" and " checked" in tag):
            sent[name.group(1)] = value.group(1)
    return sent


def send(web: TestClient, action: str, data: dict[str, str], page: str) -> Response:
    response = web.post(action, data={"csrf_token": csrf_of(web, page), **data})
    assert response.status_code == 303, response.text
    return response


def alert_state(rt: Runtime, alert_id: int) -> tuple[str, str | None]:
    with rt.db.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert.state, alert.reason


# --- an alert's decision ------------------------------------------------------------------


def test_an_alert_decision_with_nothing_chosen_asks_for_a_decision(
    rt: Runtime, web: TestClient
) -> None:
    alert_id = alerted(web, rt)
    lead(web, rt)
    action = f"{ALERTS}/{alert_id}/decision"
    refused = send(web, action, {"reason": ""}, ALERTS)
    assert refused.headers["location"] == f"{ALERTS}#errors"
    page = web.get(ALERTS).text
    assert summary(page) == {f"state-{alert_id}": "Choose a decision"}
    assert not [w for w in MODEL_WORDS if w in page]
    assert "govuk-form-group--error" in page.split(f'id="state-{alert_id}"')[0][-900:]
    assert alert_state(rt, alert_id) == ("new", None)  # nothing changed

    too_long = {"state": "dismissed", "reason": "x" * (DECISION_REASON_MAX + 1)}
    send(web, action, too_long, ALERTS)
    message = f"Reason must be {DECISION_REASON_MAX} characters or fewer"
    assert summary(web.get(ALERTS).text) == {f"reason-{alert_id}": message}


def test_a_dismissal_without_its_reason_is_asked_for_at_the_reason(
    rt: Runtime, web: TestClient
) -> None:
    alert_id = alerted(web, rt)
    lead(web, rt)
    send(web, f"{ALERTS}/{alert_id}/decision", {"state": "dismissed", "reason": " "}, ALERTS)
    page = web.get(ALERTS).text
    assert summary(page) == {f"reason-{alert_id}": "Enter the reason for your decision"}
    assert not [w for w in MODEL_WORDS if w in page]
    assert alert_state(rt, alert_id) == ("new", None)


def test_an_alert_decision_is_refused_in_welsh_on_a_welsh_page(
    rt: Runtime, web: TestClient
) -> None:
    alert_id = alerted(web, rt)
    lead(web, rt)
    web.get(ALERTS + "?lang=cy")  # remembered by the session
    action = f"{ALERTS}/{alert_id}/decision"
    send(web, action, {}, ALERTS)
    page = web.get(ALERTS).text
    assert summary(page) == {f"state-{alert_id}": in_welsh("Choose a decision")}
    send(web, action, {"state": "dismissed"}, ALERTS)
    wanted = in_welsh("Enter the reason for your decision")
    assert summary(web.get(ALERTS).text) == {f"reason-{alert_id}": wanted}


def test_re_opening_a_decided_alert_sends_its_one_choice_and_asks_for_the_reason(
    rt: Runtime, web: TestClient
) -> None:
    alert_id = alerted(web, rt)
    lead(web, rt)
    action = f"{ALERTS}/{alert_id}/decision"
    send(web, action, {"state": "dismissed", "reason": "Phone reassigned"}, ALERTS)
    page = web.get(ALERTS).text
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    assert 'type="radio"' not in form  # nothing left to tick
    assert "Reason for re-opening (needed)" in form and "Re-open for review" in form
    sends = form_sends(page, action)
    assert sends == {"state": "reviewed"}

    send(web, action, sends, ALERTS)  # the reason left empty
    page = web.get(ALERTS).text
    assert summary(page) == {f"reason-{alert_id}": "Enter the reason for your decision"}
    assert not [w for w in MODEL_WORDS if w in page]
    assert alert_state(rt, alert_id) == ("dismissed", "Phone reassigned")

    web.get(ALERTS + "?lang=cy")
    send(web, action, sends, ALERTS)
    wanted = in_welsh("Enter the reason for your decision")
    page = web.get(ALERTS).text
    assert summary(page) == {f"reason-{alert_id}": wanted} and "Body" not in page

    send(web, action, {**sends, "reason": "The phone came back to him"}, ALERTS)
    assert alert_state(rt, alert_id) == ("reviewed", "The phone came back to him")


def test_the_api_points_a_missing_dismissal_reason_at_the_reason(
    rt: Runtime, web: TestClient
) -> None:
    alert_id = alerted(web, rt)
    token = investigator_token(rt, "lead@example.org")
    path = f"/api/v1/linkage/alerts/{alert_id}/decision"
    for body in ({"state": "dismissed"}, {"state": "dismissed", "reason": "  "}):
        answer = web.post(path, json=body, headers=auth(token))
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["errors"]
        assert error == {"pointer": "#/body/reason", "detail": "a dismissal needs its reason"}
    assert alert_state(rt, alert_id) == ("new", None)
    reviewed = web.post(path, json={"state": "reviewed"}, headers=auth(token))
    assert reviewed.status_code == 200, reviewed.text  # no reason needed to review


# --- a match's review ---------------------------------------------------------------------


def reviewer(web: TestClient, rt: Runtime) -> None:
    signed_in(web, rt, "reviewer@example.org", role=Role.investigator, clearance=SECRET)


def test_a_match_review_with_nothing_filled_asks_whether_they_are_the_same_and_why(
    rt: Runtime, web: TestClient
) -> None:
    match = referral_match(web, rt)
    reviewer(web, rt)
    entity, match_id = match["entity"]["id"], match["id"]
    page = f"/console/entities/{entity}"
    action = f"/console/matches/{match_id}/review"
    send(web, action, {"entity": str(entity), "label": "", "reason": ""}, page)
    shown = web.get(page).text
    assert summary(shown) == {
        f"label-{match_id}": "Choose whether these are the same",
        f"reason-{match_id}": "Enter the reason for your decision",
    }
    assert not [w for w in MODEL_WORDS if w in shown]

    send(web, action, {"entity": str(entity), "label": "negative", "reason": "no"}, page)
    assert summary(web.get(page).text) == {
        f"reason-{match_id}": "Reason must be at least 3 characters"
    }
    send(web, action, {"entity": str(entity), "label": "maybe", "reason": "Other Bob"}, page)
    assert summary(web.get(page).text) == {f"label-{match_id}": "Choose whether these are the same"}
    with rt.db.session() as session:
        assert session.scalar(select(Match.state).where(Match.id == match_id)) == "pending"

    web.get(page + "?lang=cy")
    send(web, action, {"entity": str(entity)}, page)
    assert summary(web.get(page).text) == {
        f"label-{match_id}": in_welsh("Choose whether these are the same"),
        f"reason-{match_id}": in_welsh("Enter the reason for your decision"),
    }
    send(web, action, {"entity": str(entity), "label": "negative", "reason": "no"}, page)
    wanted = in_welsh("Reason must be at least %(min)s characters", min=3)
    assert summary(web.get(page).text) == {f"reason-{match_id}": wanted}


def test_changing_a_decided_match_asks_for_the_new_decision_and_the_reason_for_the_change(
    rt: Runtime, web: TestClient
) -> None:
    match = referral_match(web, rt)
    reviewer(web, rt)
    entity, match_id = match["entity"]["id"], match["id"]
    page = f"/console/entities/{entity}"
    action = f"/console/matches/{match_id}/review"
    send(web, action, {"entity": str(entity), "label": "negative", "reason": "Other Bob"}, page)
    shown = web.get(page).text
    sends = form_sends(shown, action)
    assert sends == {"entity": str(entity), "change": "1"}
    send(web, action, sends, page)
    shown = web.get(page).text
    assert summary(shown) == {
        f"label-{match_id}": "Choose the new decision",
        f"reason-{match_id}": "Enter the reason for the change",
    }
    assert not [w for w in MODEL_WORDS if w in shown]
    web.get(page + "?lang=cy")
    send(web, action, sends, page)
    assert summary(web.get(page).text) == {
        f"label-{match_id}": in_welsh("Choose the new decision"),
        f"reason-{match_id}": in_welsh("Enter the reason for the change"),
    }


# --- words, not codes ---------------------------------------------------------------------


def match_block(page: str, match_id: int) -> str:
    return words(page.split(f'id="match-{match_id}"', 1)[1].split("</dl>", 1)[0])


def test_a_match_says_its_method_and_review_in_words_in_english_and_welsh(
    rt: Runtime, web: TestClient
) -> None:
    match = referral_match(web, rt)
    reviewer(web, rt)
    entity, match_id = match["entity"]["id"], match["id"]
    page = f"/console/entities/{entity}"
    block = match_block(web.get(page).text, match_id)
    assert "Method Matching model" in block and "Review Not reviewed yet" in block
    assert "pending" not in block

    label = {"entity": str(entity), "label": "negative", "reason": "Other Bob"}
    send(web, f"/console/matches/{match_id}/review", label, page)
    block = match_block(web.get(page).text, match_id)
    assert "Review Different (negative): Other Bob" in block
    assert "model" not in block.replace("Matching model", "")

    block = match_block(web.get(page + "?lang=cy").text, match_id)
    assert f"{in_welsh('Matching model')}" in block
    assert f"{in_welsh('Different (negative)')}: Other Bob" in block
    assert "negative" not in block and "Matching" not in block


def test_the_alerts_evidence_names_how_each_match_was_found(rt: Runtime, web: TestClient) -> None:
    alert_id = alerted(web, rt)
    lead(web, rt)
    section = words(web.get(ALERTS).text.split(f'id="alert-{alert_id}"', 1)[1])
    assert re.search(r"Match \d+ \(exact identifier, 1\.000\)", section), section
    welsh_section = words(web.get(ALERTS + "?lang=cy").text.split(f'id="alert-{alert_id}"')[1])
    exact = in_welsh("exact identifier")
    assert re.search(rf"\({re.escape(exact)}, 1\.000\)", welsh_section), welsh_section
    assert "(exact," not in welsh_section


def test_a_model_match_in_the_alerts_evidence_is_named_the_matching_model(
    rt: Runtime, web: TestClient
) -> None:
    referral_match(web, rt)
    reviewer(web, rt)
    page = words(web.get(ALERTS).text)
    assert re.search(r"Match \d+ \(matching model, \d\.\d{3}\)", page), page
    assert "(model," not in page


# --- the timeline -------------------------------------------------------------------------


def test_the_timeline_says_who_reviewed_a_match(rt: Runtime, web: TestClient) -> None:
    match = referral_match(web, rt)
    reviewer(web, rt)
    entity, match_id = match["entity"]["id"], match["id"]
    page = f"/console/entities/{entity}"
    label = {"entity": str(entity), "label": "negative", "reason": "Other Bob"}
    send(web, f"/console/matches/{match_id}/review", label, page)
    timeline = web.get(page).text.split('id="timeline"', 1)[1]
    entries = [words(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", timeline, re.S)]
    (rejected,) = [e for e in entries if e.startswith("Match rejected")]
    assert "UTC · reviewer@example.org" in rejected and rejected.endswith("Other Bob")
    (proposed,) = [e for e in entries if e.startswith("Possible match proposed")]
    assert "·" not in proposed  # proposed by the matcher, not by a person
