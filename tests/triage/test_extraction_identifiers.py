"""Identifiers found in free text are normalised the same way however they were typed, and
lookalikes (dates, prices, postcodes, ordinary words) are not taken for them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.triage.extraction import extract
from vigil.triage.items import Extracted, ItemKind

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # a Thursday


def found(text: str, kind: ItemKind) -> list[Extracted]:
    return [item for item in extract(text, reported_at=REPORTED) if item.kind is kind]


def values(text: str, kind: ItemKind) -> list[str]:
    return [item.value for item in found(text, kind)]


# --- phones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ring him on 07700 900123 after six",
        "his number is 07700-900-123.",
        "mob: 07700900123",
        "call +44 7700 900123 or text",
        "whatsapp 0044 7700 900123",
        "tel +44 (0)7700 900123",
        "number 077009 00123 i think",
    ],
)
def test_mobile_numbers_typed_any_way_normalise_to_e164(text: str) -> None:
    assert values(text, ItemKind.phone) == ["+447700900123"]


def test_landline_with_area_code_in_brackets_is_a_phone_with_its_brackets() -> None:
    items = found("the office is (0161) 496 0000 apparently", ItemKind.phone)
    assert [(i.value, i.text) for i in items] == [("+441614960000", "(0161) 496 0000")]


@pytest.mark.parametrize(
    "text", ["numbers are 07700 900123 07700 900456", "call 07700 900123/07700 900456"]
)
def test_two_numbers_typed_side_by_side_are_two_phones(text: str) -> None:
    assert values(text, ItemKind.phone) == ["+447700900123", "+447700900456"]


def test_foreign_number_with_country_code_is_kept_in_e164() -> None:
    assert values("he calls +33 6 12 34 56 78 a lot", ItemKind.phone) == ["+33612345678"]


@pytest.mark.parametrize(
    "text",
    [
        "on 03/04/2026 at 14:30",
        "it cost £1,234,567 in total",
        "order ref 01234567890123 from the website",
        "a car AB12 CDE parked",
        "between 2026-03-01 and 2026-03-04",
        "about 1234567890 views",
        "ID 7700900123",
    ],
)
def test_dates_money_plates_and_long_ids_are_not_phones(text: str) -> None:
    assert values(text, ItemKind.phone) == []


def test_validated_phone_is_more_certain_than_a_merely_possible_one() -> None:
    (valid,) = found("call 0161 496 0000", ItemKind.phone)
    (possible,) = found("call 07700 900123", ItemKind.phone)
    assert valid.confidence > possible.confidence >= 0.8


# --- e-mails --------------------------------------------------------------------------


def test_email_is_lower_cased_and_keeps_its_exact_span() -> None:
    text = "Email him at Dave.Smith99@Example.ORG."
    (item,) = found(text, ItemKind.email)
    assert item.value == "dave.smith99@example.org"
    assert text[item.start : item.end] == "Dave.Smith99@Example.ORG"


def test_email_written_with_at_and_dot_in_brackets_is_normalised() -> None:
    assert values("contact: jo.bloggs [at] example [dot] com", ItemKind.email) == [
        "jo.bloggs@example.com"
    ]


def test_email_with_subdomain_and_plus_tag_is_one_email_and_not_a_handle() -> None:
    text = "sent from first.last+news@mail.example.co.uk yesterday"
    assert values(text, ItemKind.email) == ["first.last+news@mail.example.co.uk"]
    assert values(text, ItemKind.handle) == []
    assert values(text, ItemKind.url) == []


# --- URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (
            "see HTTPS://WWW.Example.COM/Path/Page?id=7#top",
            "https://www.example.com/Path/Page?id=7",
        ),
        ("link www.example.org/forum/thread-12", "https://www.example.org/forum/thread-12"),
        ("on example.org/manifesto.pdf now", "https://example.org/manifesto.pdf"),
        ("(https://example.com/a?utm_source=fb&x=1&fbclid=abc)", "https://example.com/a?x=1"),
        ("http://example.com:80/", "http://example.com"),
        ("https://example.com:8443/admin", "https://example.com:8443/admin"),
        ("https://example.com/?gclid=1&utm_medium=x", "https://example.com"),
        ("he runs extremist-site.com and more", "https://extremist-site.com"),
    ],
)
def test_urls_are_canonical(text: str, value: str) -> None:
    assert values(text, ItemKind.url) == [value]


def test_url_span_drops_trailing_punctuation_but_keeps_balanced_brackets() -> None:
    text = "watch this (https://example.org/wiki/Thing_(film)). Then"
    (item,) = found(text, ItemKind.url)
    assert item.text == "https://example.org/wiki/Thing_(film)"
    assert text[item.start : item.end] == item.text


@pytest.mark.parametrize(
    ("text", "platform"),
    [
        ("join t.me/somechannel quick", "Telegram"),
        ("group chat.whatsapp.com/AbCdEf123", "WhatsApp"),
        ("wa.me/447700900123", "WhatsApp"),
        ("server discord.gg/abc123", "Discord"),
        ("https://mega.nz/file/xyz#key", "Mega"),
        ("https://drive.google.com/file/d/abc/view", "Google Drive"),
        ("https://youtu.be/abc123?si=tracker", "YouTube"),
        ("pastebin.com/raw/aB3dE", "Pastebin"),
        ("https://www.instagram.com/someone/?igshid=xyz", "Instagram"),
    ],
)
def test_known_hosts_name_their_platform(text: str, platform: str) -> None:
    (item,) = found(text, ItemKind.url)
    assert item.detail == platform
    assert "si=" not in item.value and "igshid" not in item.value


def test_unknown_host_has_no_platform() -> None:
    (item,) = found("https://example.com/x", ItemKind.url)
    assert item.detail is None


@pytest.mark.parametrize(
    "text",
    ["e.g. this", "file manifesto.pdf", "Mr.Smith said", "ok.so what", "version 2.3.1", "i.e"],
)
def test_abbreviations_file_names_and_versions_are_not_urls(text: str) -> None:
    assert values(text, ItemKind.url) == []


# --- handles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "platform"),
    [
        ("he's on telegram @Dark_Knight_99 posting", "Telegram"),
        ("insta @some.account", "Instagram"),
        ("TikTok @user123 has videos", "TikTok"),
        ("follow @user123 on snapchat", "Snapchat"),
        ("@user123 keeps posting", None),
    ],
)
def test_handles_are_lower_case_with_the_platform_named_nearby(
    text: str, platform: str | None
) -> None:
    (item,) = found(text, ItemKind.handle)
    assert item.value.startswith("@") and item.value == item.value.lower()
    assert item.detail == platform


def test_handle_inside_url_or_email_is_not_a_separate_handle() -> None:
    text = "see https://x.com/@someone and mail a@example.org"
    assert values(text, ItemKind.handle) == []


def test_meeting_at_a_time_or_a_place_is_not_a_handle() -> None:
    assert values("meet me @3pm @home", ItemKind.handle) == []


# --- vehicle registration marks -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "white van AB12 CDE",
        "reg ab12cde",
        "plate was ab 12 cde i think",
        "reg: AB12CDE.",
        "a silver car, registration Ab12 Cde",
    ],
)
def test_current_format_marks_normalise_without_spaces(text: str) -> None:
    assert values(text, ItemKind.vrm) == ["AB12CDE"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("an old Ford A123 BCD", "A123BCD"), ("suffix plate ABC 123D", "ABC123D")],
)
def test_prefix_and_suffix_marks_count_without_context(text: str, value: str) -> None:
    assert values(text, ItemKind.vrm) == [value]


def test_dateless_mark_needs_a_plate_word_and_is_less_certain() -> None:
    (item,) = found("the van had reg ABC 123 on it", ItemKind.vrm)
    assert item.value == "ABC123" and item.confidence <= 0.6
    assert values("he lives at 1234 AB Street in Bath", ItemKind.vrm) == []


@pytest.mark.parametrize(
    "text",
    [
        "the car was there at 12 the next day",
        "SW1A 1AA",
        "meet at 10am by the van",
        "it was doing 50 mph in the car",
        "I saw it on the M25 in a van",
        "postcode M1 1AE near the car park",
    ],
)
def test_postcodes_times_speeds_and_roads_are_not_plates(text: str) -> None:
    assert values(text, ItemKind.vrm) == []


# --- postcodes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("lives near M1 1AE", "M1 1AE"),
        ("postcode m11ae", "M1 1AE"),
        ("at M1  1AE", "M1 1AE"),
        ("Westminster SW1A 1AA", "SW1A 1AA"),
        ("ls6 2ab", "LS6 2AB"),
        ("GIR 0AA", "GIR 0AA"),
        ("EC1A 1BB", "EC1A 1BB"),
    ],
)
def test_postcodes_are_upper_case_with_one_space(text: str, value: str) -> None:
    assert values(text, ItemKind.postcode) == [value]


@pytest.mark.parametrize("text", ["at 3pm", "model XY1 2ZZ", "room B12", "QQ12 3AB"])
def test_strings_that_are_not_uk_postcodes_are_refused(text: str) -> None:
    assert values(text, ItemKind.postcode) == []


# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("paid £5,000 cash", "GBP 5000.00"),
        ("about £5k", "GBP 5000.00"),
        ("5000 pounds in a bag", "GBP 5000.00"),
        ("£1.2m transferred", "GBP 1200000.00"),
        ("sent $300", "USD 300.00"),
        ("€50 each", "EUR 50.00"),
        ("300 quid for it", "GBP 300.00"),
        ("5 grand", "GBP 5000.00"),
        ("£12.50", "GBP 12.50"),
        ("GBP 250", "GBP 250.00"),
    ],
)
def test_sums_of_money_have_a_currency_code_and_two_decimals(text: str, value: str) -> None:
    assert values(text, ItemKind.money) == [value]


def test_plain_numbers_are_not_money() -> None:
    assert values("there were 5000 people and 12 cars", ItemKind.money) == []
