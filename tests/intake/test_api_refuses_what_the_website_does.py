"""The JSON API refuses what the website refuses, in the website's words where it has them.

An empty person or vehicle, a reporter who wants contact but gives no way to be reached, a
date in the future or before 1900, and a start that is both still going on and unsure: each
is a 422 naming the field, and nothing is stored. On both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import minimal_report, report_payload
from vigil.demo import _Maker
from vigil.intake.models import Report, ReporterIdentity
from vigil.intake.schemas import LONDON
from vigil.web.runtime import Runtime


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def tomorrow_in_the_uk() -> str:
    day = datetime.now(LONDON).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 0, 30, tzinfo=LONDON).isoformat()


def late_today_in_the_uk() -> str:
    day = datetime.now(LONDON).date()
    return datetime(day.year, day.month, day.day, 23, 30, tzinfo=LONDON).isoformat()


REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "empty-person",
        minimal_report(people=[{}]),
        "#/people/0",
        "Tell us at least one thing about this person",
    ),
    (
        "blank-person",
        minimal_report(people=[{"name": "Jo Bloggs"}, {"name": "  ", "age": ""}]),
        "#/people/1",
        "Tell us at least one thing about this person",
    ),
    (
        "empty-vehicle",
        minimal_report(vehicles=[{"colour": None}]),
        "#/vehicles/0",
        "Tell us at least one thing about this vehicle",
    ),
    (
        "name-only",
        minimal_report(reporter={"anonymous": False, "name": "Jo Bloggs"}),
        "#/reporter",
        "give a phone number or e-mail address, or stay anonymous",
    ),
    (
        "year-9999",
        minimal_report(when={"start": "9999-06-01T12:00:00Z"}),
        "#/when/start",
        "must be today or in the past",
    ),
    (
        "year-9999-offset",
        minimal_report(when={"start": "9999-12-31T23:59:59-01:00"}),
        "#/when/start",
        "must be today or in the past",
    ),
    (
        "year-0001",
        minimal_report(when={"start": "0001-01-01T00:00:00+01:00"}),
        "#/when/start",
        "must not be before 1900",
    ),
    (
        "tomorrow",
        minimal_report(when={"start": tomorrow_in_the_uk()}),
        "#/when/start",
        "must be today or in the past",
    ),
    (
        "end-in-future",
        minimal_report(when={"start": "2026-11-26T02:00:00Z", "end": "9000-01-01T00:00:00Z"}),
        "#/when/end",
        "must be today or in the past",
    ),
    (
        "ongoing-and-unsure-with-start",
        minimal_report(when={"start": "2026-11-26T02:00:00Z", "ongoing": True, "unsure": True}),
        "#/when",
        "ongoing and unsure cannot both be true when a start is given",
    ),
]


@pytest.mark.parametrize(
    ("payload", "pointer", "detail"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_what_the_website_refuses_the_api_refuses_naming_the_field_and_storing_nothing(
    client: TestClient, rt: Runtime, payload: dict[str, Any], pointer: str, detail: str
) -> None:
    answer = client.post("/api/v1/reports", json=payload)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"] == [{"pointer": pointer, "detail": detail}]
    assert count(rt, Report) == 0 and count(rt, ReporterIdentity) == 0


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("factory-report", report_payload()),
    ("phone-only", minimal_report(reporter={"anonymous": False, "phone": "07700 900123"})),
    ("email-only", minimal_report(reporter={"anonymous": False, "email": "jo@example.org"})),
    ("person-by-age", minimal_report(people=[{"age": "about 40"}])),
    ("later-today", minimal_report(when={"start": late_today_in_the_uk()})),
    ("year-1900", minimal_report(when={"start": "1900-01-01T00:00:00Z"})),
    (
        "started-and-ongoing",
        minimal_report(when={"start": "2026-11-26T02:00:00Z", "ongoing": True}),
    ),
    (
        "started-roughly",
        minimal_report(when={"start": "2026-11-26T02:00:00Z", "unsure": True}),
    ),
    ("going-on-since-unknown", minimal_report(when={"ongoing": True, "unsure": True})),
]


@pytest.mark.parametrize(
    "payload", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED]
)
def test_reports_the_website_could_send_and_richer_api_answers_are_still_accepted(
    client: TestClient, rt: Runtime, payload: dict[str, Any]
) -> None:
    answer = client.post("/api/v1/reports", json=payload)
    assert answer.status_code == 201, answer.text
    assert count(rt, Report) == 1


def test_the_demo_seeder_still_makes_only_valid_reports() -> None:
    maker = _Maker(seed=7, now=datetime.now(UTC))
    for _ in range(400):
        report, _photo = maker.report()  # validated as ReportIn: raises if refused
        assert report.description
