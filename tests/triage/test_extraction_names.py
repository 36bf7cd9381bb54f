"""People and organisations: found through a pluggable recogniser, written as names
("Dave Smith", "O'Connor", "Smith-Jones"), and never made out of ordinary words, places,
brands or words about who someone is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.triage.extraction import extract
from vigil.triage.items import Extracted, ItemKind
from vigil.triage.names import (
    NameRecogniser,
    RecogniserUnavailable,
    RuleRecogniser,
    SpacyRecogniser,
)

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def people(text: str) -> list[str]:
    return [i.value for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.person]


def organisations(text: str) -> list[str]:
    return [i.value for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.organisation]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("I saw Dave Smith outside the shop.", ["Dave Smith"]),
        ("Mohammed Ali and Sarah O'Connor were arguing.", ["Mohammed Ali", "Sarah O'Connor"]),
        ("Yesterday Priya Patel-Jones rang me.", ["Priya Patel-Jones"]),
        ("Mr Khan from number 4 saw it too.", ["Khan"]),
        ("Dr. Amara Okafor treated him.", ["Amara Okafor"]),
        ("The landlord, Lukasz Kowalski, let them in.", ["Lukasz Kowalski"]),
        ("Ciaran McDonald was driving.", ["Ciaran McDonald"]),
        ("Abdirahman Hassan Warsame keeps calling.", ["Abdirahman Hassan Warsame"]),
        ("Chinedu Okeke and Andreea Popescu", ["Chinedu Okeke", "Andreea Popescu"]),
        ("Witness: Peter Hall, tel 01946 496 222", ["Peter Hall"]),
        ("Later, Sophie Turner-Brown rang me back.", ["Sophie Turner-Brown"]),
        ("DC Sarah Hughes took my statement.", ["Sarah Hughes"]),
        ("The suspect, known as 'Big Mike', was there.", ["Big Mike"]),
    ],
)
def test_capitalised_names_are_people(text: str, names: list[str]) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a guy called dave smith who lives near me", ["Dave Smith"]),
        ("some bloke named gazza was shouting", ["Gazza"]),
        ("he calls himself abu khalid online", ["Abu Khalid"]),
        ("his name is JOHN SMITH", ["John Smith"]),
        ("i saw john smith at the shop", ["John Smith"]),
    ],
)
def test_lower_case_names_after_a_strong_cue_or_with_a_known_surname(
    text: str, names: list[str]
) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("His mate Kaz was with him.", ["Kaz"]),
        ("Dave's brother has the van.", ["Dave"]),
        ("Zorbo's van was outside again.", ["Zorbo"]),
        ("I told Mark about it.", ["Mark"]),
        ("Will Smith was there.", ["Will Smith"]),
    ],
)
def test_single_names_and_word_like_names_count_with_a_cue(text: str, names: list[str]) -> None:
    assert people(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "Will you look into it? Mark my words.",
        "Yesterday Monday March Tuesday",
        "He drives a Ford Transit and shops at Tesco Express.",
        "Police Scotland and the CCTV team",
        "Black Friday at the Retail Park",
        "Saw a Range Rover near Oxford Street.",
        "I went to Leeds with my dad.",
        "Happy New Year from Manchester",
        "Thank you, I hope this helps.",
        "He kept shouting Allahu Akbar.",
        "I OVERHEARD THEM NEAR A BLACK MERCEDES VAN, REG KX19 PLM.",
    ],
)
def test_ordinary_words_days_brands_and_places_are_not_people(text: str) -> None:
    assert people(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "a muslim man was outside",
        "polish lads were drinking there",
        "An Asian woman with a pram",
        "A Black man and a White woman",
        "two Somali men and a Jewish man",
        "the Pakistani guy from the shop",
        "a Romanian builder called",
        "he's a Labour supporter",
        "an autistic lad",
        "She is Christian.",
    ],
)
def test_words_about_who_someone_is_yield_nothing(text: str) -> None:
    assert extract(text, reported_at=REPORTED) == []


def test_a_protected_word_before_a_name_leaves_only_the_name() -> None:
    assert people("A Polish guy called Lukasz Nowak") == ["Lukasz Nowak"]
    assert people("Christian Smith lives there") == ["Christian Smith"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("They use Fast Lane Removals Ltd for deliveries.", ["Fast Lane Removals Ltd"]),
        ("He works for Smith & Sons Ltd in Leeds.", ["Smith & Sons Ltd"]),
        ("Bradford Council sent a letter.", ["Bradford Council"]),
        ("hired from Quickway Van Hire on Friday", ["Quickway Van Hire"]),
        ("The invoice was paid by ACME SERVICES PLC last year.", ["ACME Services PLC"]),
        ("the Riverside Boxing Club", ["Riverside Boxing Club"]),
    ],
)
def test_organisations_end_with_a_company_or_trade_word(text: str, names: list[str]) -> None:
    assert organisations(text) == names


def test_a_group_named_after_a_naming_cue_is_an_organisation() -> None:
    text = "there's a facebook group called 'Northern Dawn of the Isles' posting threats"
    assert organisations(text) == ["Northern Dawn of the Isles"]
    assert people(text) == []


@pytest.mark.parametrize(
    "text",
    ["the Muslim Association", "Polish Society meeting", "the Conservative Association"],
)
def test_an_organisation_named_for_a_protected_characteristic_is_not_extracted(
    text: str,
) -> None:
    assert organisations(text) == []


def test_person_value_is_title_case_with_the_span_as_written() -> None:
    text = "a guy called  dave   SMITH-jones"
    (item,) = [i for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.person]
    assert item.value == "Dave Smith-Jones"
    assert text[item.start : item.end] == item.text


class _FixedRecogniser:
    """A stand-in model: proves extract() takes any NameRecogniser."""

    def find(self, text: str) -> list[Extracted]:
        start = text.index("Zed")
        return [Extracted(ItemKind.person, "Zed", "Zed", start, start + 3, 0.99)]


def test_extract_uses_the_recogniser_it_is_given() -> None:
    recogniser: NameRecogniser = _FixedRecogniser()
    items = extract("Zed and Dave Smith", reported_at=REPORTED, recogniser=recogniser)
    assert [(i.kind, i.value) for i in items] == [(ItemKind.person, "Zed")]


def test_recogniser_items_outside_the_text_are_dropped() -> None:
    class Broken:
        def find(self, text: str) -> list[Extracted]:
            return [Extracted(ItemKind.person, "X", "X", 5, 500, 0.9)]

    assert extract("short", reported_at=REPORTED, recogniser=Broken()) == []


def test_rule_recogniser_is_the_default() -> None:
    text = "I saw Dave Smith."
    assert RuleRecogniser().find(text) == [
        i for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.person
    ]


def test_spacy_recogniser_is_optional_and_says_so_when_missing() -> None:
    if SpacyRecogniser.available():
        try:
            recogniser = SpacyRecogniser()
        except RecogniserUnavailable:
            return  # spaCy without its model: the clear error is the behaviour
        assert all(i.kind in (ItemKind.person, ItemKind.organisation) for i in recogniser.find("x"))
    else:
        with pytest.raises(RecogniserUnavailable):
            SpacyRecogniser()
