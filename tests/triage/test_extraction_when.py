"""Dates and times resolve against the moment of the report, in London time: an instant in
UTC when a clock time is known (or implied by "this morning", "last night"), else the local
date. The report below was made on Thursday 5 March 2026 at 10:00 UTC (GMT, no offset);
some tests use a summer report to show the BST offset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.triage.extraction import extract
from vigil.triage.items import ItemKind
from vigil.triage.when import find_datetimes

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # Thursday, GMT
SUMMER = datetime(2026, 7, 16, 9, 0, tzinfo=UTC)  # Thursday, BST (UTC+1)


def when(text: str, reported_at: datetime = REPORTED) -> list[str]:
    return [
        item.value
        for item in extract(text, reported_at=reported_at)
        if item.kind is ItemKind.datetime
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("I saw him yesterday about 3pm", "2026-03-04T15:00Z"),
        ("it happened this morning", "2026-03-05T09:00Z"),
        ("he was there on Monday", "2026-03-02"),
        ("last Friday he came back", "2026-02-27"),
        ("2 days ago", "2026-03-03"),
        ("an hour ago", "2026-03-05T09:00Z"),
        ("half an hour ago", "2026-03-05T09:30Z"),
        ("at 14:30 a van stopped", "2026-03-05T14:30Z"),
        ("on 3rd March", "2026-03-03"),
        ("on 03/04/2026", "2026-04-03"),
        ("he said tomorrow at 9", "2026-03-06T09:00Z"),
        ("last Tuesday night", "2026-03-03T22:00Z"),
        ("yesterday afternoon", "2026-03-04T15:00Z"),
        ("tonight", "2026-03-05T22:00Z"),
        ("last night", "2026-03-04T22:00Z"),
        ("Tuesday 3rd March at 2.30pm", "2026-03-03T14:30Z"),
        ("at lunchtime on Tuesday", "2026-03-03T12:00Z"),
        ("the day before yesterday", "2026-03-03"),
        ("March 1st 2026", "2026-03-01"),
        ("2026-02-20 at 08:15", "2026-02-20T08:15Z"),
        ("1430hrs", "2026-03-05T14:30Z"),
        ("in 2 days", "2026-03-07"),
        ("3 weeks ago", "2026-02-12"),
    ],
)
def test_relative_and_absolute_expressions_resolve_against_the_report(
    text: str, value: str
) -> None:
    assert when(text) == [value]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yesterdy around 3pm", "2026-03-04T15:00Z"),
        ("on wensday evening", "2026-03-04T19:00Z"),
        ("tmrw at 9", "2026-03-06T09:00Z"),
        ("on the 3rd of febuary", "2026-02-03"),
        ("thurs at 10ish", "2026-03-05T10:00Z"),
        ("YESTERDAY AT 3 PM", "2026-03-04T15:00Z"),
    ],
)
def test_misspellings_and_odd_case_still_resolve(text: str, value: str) -> None:
    assert when(text) == [value]


def test_weekday_named_on_the_report_day_is_the_report_day() -> None:
    assert when("it was Thursday") == ["2026-03-05"]
    assert when("last Thursday") == ["2026-02-26"]
    assert when("next Thursday") == ["2026-03-12"]
    assert when("this Saturday") == ["2026-03-07"]


def test_summer_times_are_converted_from_bst_to_utc() -> None:
    assert when("yesterday at 3pm", SUMMER) == ["2026-07-15T14:00Z"]
    assert when("this morning", SUMMER) == ["2026-07-16T08:00Z"]


def test_a_late_evening_report_in_summer_resolves_today_in_london_not_utc() -> None:
    late = datetime(2026, 7, 16, 23, 30, tzinfo=UTC)  # already Friday 00:30 in London
    assert when("today", late) == ["2026-07-17"]


def test_day_and_month_without_a_year_takes_the_report_year() -> None:
    # Threats name dates to come: "on 10th March" in a report of 5 March is this year's.
    assert when("on 10th March") == ["2026-03-10"]
    assert when("on 10/3") == ["2026-03-10"]
    assert when("they will do it on the 24th of April at 10 pm") == ["2026-04-24T21:00Z"]


def test_a_yearless_date_far_ahead_is_last_years() -> None:
    january = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
    assert when("it was parked there on 28th December", january) == ["2025-12-28"]


def test_a_time_alone_in_a_sentence_with_a_day_takes_that_day() -> None:
    text = "Yesterday I was at the station at 3pm."
    assert when(text) == ["2026-03-04", "2026-03-04T15:00Z"]


def test_an_hour_without_am_or_pm_is_read_by_the_part_of_day() -> None:
    assert when("Saturday evening around 8") == ["2026-02-28T20:00Z"]
    assert when("on Monday at 3") == ["2026-03-02T15:00Z"]
    assert when("at 9 in the morning on Monday") == ["2026-03-02T09:00Z"]


def test_an_evening_clock_time_without_pm_follows_the_part_of_day() -> None:
    assert when("at 10:30 last night") == ["2026-03-04T22:30Z"]
    assert when("7:30 this morning") == ["2026-03-05T07:30Z"]
    assert when("at 2:30 on Monday") == ["2026-03-02T14:30Z"]


def test_a_weekday_with_its_date_in_brackets_is_one_expression() -> None:
    assert when("Tuesday (3rd March) at 9pm") == ["2026-03-03T21:00Z"]


def test_last_night_after_midnight_is_the_next_calendar_day() -> None:
    assert when("last night at 2am") == ["2026-03-05T02:00Z"]


def test_a_range_of_times_is_one_item_at_its_start() -> None:
    assert when("yesterday between 2 and 3pm") == ["2026-03-04T14:00Z"]


@pytest.mark.parametrize(
    "text",
    [
        "he stayed for 2 hours",
        "there were 3 of them",
        "at 9",
        "in the morning",
        "it costs £14.30",
        "open 24/7",
        "he prays every Friday",
        "every morning at 9",
        "for the 3rd time",
        "room 12, flat 4",
        "version 2.3.1",
        "he sat on a bench in the sun",
        "they may 3 times",
        "score was 3-1",
    ],
)
def test_numbers_durations_and_habits_are_not_datetimes(text: str) -> None:
    assert when(text) == []


def test_span_covers_the_whole_expression() -> None:
    text = "It was last Tuesday night at about 11."
    (item,) = find_datetimes(text, REPORTED)
    assert text[item.start : item.end] == item.text == "last Tuesday night at about 11"
    assert item.value == "2026-03-03T23:00Z"


def test_a_clock_time_is_more_certain_than_a_conventional_part_of_day() -> None:
    (clock,) = find_datetimes("yesterday at 15:00", REPORTED)
    (part,) = find_datetimes("yesterday afternoon", REPORTED)
    assert clock.value == part.value == "2026-03-04T15:00Z"
    assert clock.confidence > part.confidence
