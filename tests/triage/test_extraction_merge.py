"""The reporter's own form fields join the extracted items once: a field repeating what the
text already says adds nothing, and one stretch of text is one item."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vigil.triage.extraction import StructuredFields, extract, merge_structured
from vigil.triage.items import ItemKind, ItemSource

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
TEXT = "Dave Smith drove AB12 CDE to M1 1AE. Call 07700 900123 or see https://t.me/chan"


def test_fields_already_in_the_text_add_nothing() -> None:
    items = extract(TEXT, reported_at=REPORTED)
    fields = StructuredFields(
        people=["dave smith"],
        vehicles=["ab12 cde"],
        urls=["t.me/chan"],
        postcode="m11ae",
        phones=["+44 7700 900123"],
    )
    assert merge_structured(items, fields) == items


def test_new_field_values_are_reporter_items_without_a_span() -> None:
    fields = StructuredFields(
        people=["Sarah O'Connor"],
        vehicles=["xy19 zzz"],
        urls=["HTTPS://Example.org/page?utm_source=x"],
        postcode="sw1a1aa",
        phones=["07700 900456"],
        emails=["Someone@Example.COM"],
    )
    merged = merge_structured([], fields)
    assert [(i.kind, i.value, i.text) for i in merged] == [
        (ItemKind.email, "someone@example.com", "Someone@Example.COM"),
        (ItemKind.person, "Sarah O'Connor", "Sarah O'Connor"),
        (ItemKind.phone, "+447700900456", "07700 900456"),
        (ItemKind.postcode, "SW1A 1AA", "sw1a1aa"),
        (ItemKind.url, "https://example.org/page", "HTTPS://Example.org/page?utm_source=x"),
        (ItemKind.vrm, "XY19ZZZ", "xy19 zzz"),
    ]
    assert all(i.source is ItemSource.reporter and i.start == i.end == -1 for i in merged)


def test_a_value_repeated_across_fields_is_added_once() -> None:
    fields = StructuredFields(people=["Dave Smith", "DAVE SMITH", "  "], vehicles=["AB12CDE"] * 3)
    merged = merge_structured([], fields)
    assert [(i.kind, i.value) for i in merged] == [
        (ItemKind.person, "Dave Smith"),
        (ItemKind.vrm, "AB12CDE"),
    ]


def test_field_values_that_do_not_validate_are_kept_with_less_confidence() -> None:
    merged = merge_structured([], StructuredFields(postcode="not a postcode", phones=["12"]))
    assert [(i.kind, i.value, i.confidence) for i in merged] == [
        (ItemKind.phone, "12", 0.5),
        (ItemKind.postcode, "NOT A POSTCODE", 0.5),
    ]


def test_merged_output_keeps_text_items_sorted_after_field_items() -> None:
    items = extract(TEXT, reported_at=REPORTED)
    merged = merge_structured(items, StructuredFields(people=["Kaz"]))
    assert merged[0].source is ItemSource.reporter
    assert merged[1:] == items
    assert [(i.start, i.kind.value) for i in merged] == sorted(
        (i.start, i.kind.value) for i in merged
    )


def test_url_containing_a_handle_and_a_phone_stays_one_url() -> None:
    text = "links: https://x.com/@someone and wa.me/447700900123"
    items = extract(text, reported_at=REPORTED)
    assert [i.kind for i in items] == [ItemKind.url, ItemKind.url]


def test_place_inside_an_organisation_name_is_not_a_second_item() -> None:
    items = extract("Leeds City Council wrote to him", reported_at=REPORTED)
    assert [(i.kind, i.value) for i in items] == [(ItemKind.organisation, "Leeds City Council")]


def test_no_two_items_share_any_character() -> None:
    text = (
        "Yesterday at 3pm Mr Khan (07700 900123, khan@example.org) met Dave at Leeds Station "
        "in a van AB12 CDE with £5k and a machete; see www.example.com/x @handle on telegram."
    )
    items = extract(text, reported_at=REPORTED)
    assert len(items) >= 10
    for left, right in itertools.pairwise(items):
        assert left.end <= right.start


def test_reported_at_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        extract("yesterday", reported_at=datetime(2026, 3, 5, 10, 0))


def test_reported_at_in_another_zone_is_the_same_instant() -> None:
    plus_two = REPORTED.astimezone(timezone(timedelta(hours=2)))
    assert extract("yesterday at 3pm", reported_at=plus_two) == extract(
        "yesterday at 3pm", reported_at=REPORTED
    )


def test_empty_text_yields_nothing() -> None:
    assert extract("", reported_at=REPORTED) == []
