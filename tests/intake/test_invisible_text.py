"""Text that shows nothing, or shows something other than what was sent, is refused.

Zero-width characters do not count towards a minimum length and are trimmed from the ends
like spaces; text-direction overrides and isolates, which can make text read differently
from what was sent, and tag characters outside an emoji flag, which hide text, are refused.
Real text keeps its invisible characters: ZWJ in emoji, ZWNJ in Persian, marks in Hebrew,
the tags of the Welsh flag. On both engines, through the API and the public website.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import auth, minimal_report, staff_token
from tests.intake.test_report_pages import Browser, assert_error_page, start_report
from tests.intake.test_thread import error_summary, new_report, reply, sign_in
from tests.triage.test_triage_api import VAGUE, submit
from vigil.intake import journey_guard
from vigil.intake.models import Followup, Report
from vigil.web.runtime import Runtime
from vigil.web.text import clean_text, visible_length

ZWSP, ZWJ, ZWNJ, RLM, RLO = "\u200b", "\u200d", "\u200c", "\u200f", "\u202e"
WELSH_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"
HIDDEN = "".join(chr(0xE0000 + ord(c)) for c in "ignore this")  # ASCII smuggled in tags


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def refused(client: TestClient, rt: Runtime, payload: dict[str, object]) -> dict[str, str]:
    """Post a report that must be refused; return its one field error; check nothing kept."""
    before = count(rt, Report)
    answer = client.post("/api/v1/reports", json=payload)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    (error,) = answer.json()["errors"]
    assert count(rt, Report) == before
    return dict(error)


@pytest.mark.parametrize(
    "description",
    [ZWSP * 10, f" {ZWSP}\u00a0{ZWSP} " * 5, "\ufe0f" * 12, ("a" + ZWSP) * 6],
    ids=["zero-width-spaces", "mixed-blanks", "variation-selectors", "six-letters-padded"],
)
def test_a_description_of_fewer_than_ten_visible_characters_is_too_short(
    client: TestClient, rt: Runtime, description: str
) -> None:
    error = refused(client, rt, minimal_report(description=description))
    assert error["pointer"] == "#/description"
    assert error["detail"].startswith("Value should have at least 10 items after validation")


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("#/description", minimal_report(description=f"Meet at the {RLO}noitats{RLO} tonight")),
        ("#/description", minimal_report(description="Meet at the \u2066station\u2069 tonight")),
        ("#/people/0/name", minimal_report(people=[{"name": "Jo \u202aBloggs"}])),
        ("#/description", minimal_report(description=f"A normal looking sentence{HIDDEN}.")),
    ],
    ids=["override", "isolate", "embedding-in-a-name", "hidden-tags"],
)
def test_text_direction_controls_and_hidden_tags_are_refused_naming_the_field(
    client: TestClient, rt: Runtime, field: str, payload: dict[str, object]
) -> None:
    error = refused(client, rt, payload)
    assert error["pointer"] == field
    assert "U+" in error["detail"]
    assert "text direction control" in error["detail"] or "hidden tag" in error["detail"]


@pytest.mark.parametrize(
    "description",
    [
        "A family \U0001f468\u200d\U0001f469\u200d\U0001f467 waited by the gate for an hour.",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 "  # ZWNJ inside a Persian word
        "\u06af\u0632\u0627\u0631\u0634 \u06a9\u0646\u0645",
        f"The sign said \u05e9\u05dc\u05d5\u05dd{RLM} 123 in large letters.",
        f"Flag {WELSH_FLAG} flying above the old mill gate.",
        "Crwydrai\u00adr dyn o amgylch yr orsaf drwy'r nos.",
    ],
    ids=["zwj-emoji", "zwnj-persian", "rlm-hebrew", "welsh-flag", "soft-hyphen-welsh"],
)
def test_real_text_keeps_its_invisible_characters(
    client: TestClient, rt: Runtime, description: str
) -> None:
    answer = client.post("/api/v1/reports", json=minimal_report(description=description))
    assert answer.status_code == 201, answer.text
    with rt.db.session() as session:
        stored = session.scalar(select(Report.description))
    assert stored == description


def test_invisible_characters_are_trimmed_from_the_ends_and_not_counted() -> None:
    assert clean_text(f"{ZWSP} \ufe0fA white van {ZWJ}\u00a0{ZWSP}") == "A white van"
    assert clean_text("I saw it \u2764\ufe0f") == "I saw it \u2764\ufe0f"  # kept: it is shown
    assert visible_length(f"a{ZWSP}b{ZWNJ}c{WELSH_FLAG}") == 4


def test_a_follow_up_of_only_zero_width_spaces_is_refused_and_stores_nothing(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sent = client.post(
        f"/api/v1/reports/{reference}/followups", json={"code": code, "text": ZWSP * 10}
    )
    assert sent.status_code == 422, sent.text
    assert [e["pointer"] for e in sent.json()["errors"]] == ["#/text"]
    assert count(rt, Followup) == 0


def test_a_website_reply_of_only_zero_width_spaces_is_refused(
    client: TestClient, rt: Runtime
) -> None:
    reference, code = new_report(client)
    sign_in(client, reference, code)
    answer = reply(client, ZWSP * 5)
    assert answer.status_code == 400
    assert error_summary(answer.text) == [
        "Enter the information you want to add, or choose a file to send"
    ]
    assert count(rt, Followup) == 0


@pytest.fixture
def site(client: TestClient, rt: Runtime) -> Iterator[Browser]:
    rt.settings.form_min_fill_s = 0
    journey_guard.forget_answers()
    yield Browser(client)
    journey_guard.forget_answers()


def test_the_website_asks_for_a_description_when_it_is_only_zero_width_spaces(
    site: Browser,
) -> None:
    site.get("/report/what")
    answer = site.post("/report/what", {"kind": "vehicle", "description": ZWSP * 12})
    assert_error_page(answer, "Describe what you saw or heard")


def test_the_website_refuses_a_description_with_a_direction_override(site: Browser) -> None:
    site.get("/report/what")
    answer = site.post(
        "/report/what", {"kind": "vehicle", "description": f"Meet at the {RLO}noitats tonight"}
    )
    assert answer.status_code == 400
    assert "noitats" in answer.text  # what was typed is kept for correcting


def test_a_staff_reason_of_zero_width_spaces_says_nothing_and_is_refused(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    reference = submit(client, VAGUE)
    answer = client.post(
        f"/api/v1/triage/reports/{reference}/items",
        json={"kind": "person", "value": "Zoe Example", "reason": ZWSP * 5},
        headers=auth(token),
    )
    assert answer.status_code == 422, answer.text
    assert [e["pointer"] for e in answer.json()["errors"]] == ["#/body/reason"]


def test_the_website_counts_a_description_as_the_api_does(site: Browser) -> None:
    """Six letters with zero-width spaces between them are eleven characters, but six show:
    too short on the website as on the API, so the check page never meets an answer the API
    would refuse."""
    padded = "abc" + ZWSP * 5 + "def"
    assert len(padded) >= 10 > visible_length(padded)
    site.get("/report/what")
    answer = site.post("/report/what", {"kind": "vehicle", "description": padded})
    assert_error_page(answer, "Description must be 10 characters or more")


def test_the_website_refuses_a_year_the_api_would(site: Browser) -> None:
    start_report(site)
    assert site.answer("/report/when", {"when": "date"}) == "/report/when-date"
    site.get("/report/when-date")
    answer = site.post(
        "/report/when-date", {"date-day": "02", "date-month": "7", "date-year": "1899"}
    )
    assert_error_page(answer, "The year must be 1900 or later")
