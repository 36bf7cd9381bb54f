"""Places carry what sort of place they are (priority weighs crowded places and likely
targets); weapons, explosives, precursors and poisons come from a curated lexicon with
their class."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.triage.extraction import extract
from vigil.triage.items import ItemKind

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def places(text: str) -> list[tuple[str, str | None]]:
    return [
        (i.value, i.detail) for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.place
    ]


def weapons(text: str) -> list[tuple[str, str | None]]:
    return [
        (i.value, i.detail)
        for i in extract(text, reported_at=REPORTED)
        if i.kind is ItemKind.weapon
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("filming outside Piccadilly station", [("Piccadilly Station", "transport")]),
        ("at the Arndale Centre on Saturday", [("Arndale Centre", "crowded")]),
        ("near Wembley Stadium", [("Wembley Stadium", "crowded")]),
        ("a concert at Manchester Arena", [("Manchester Arena", "crowded")]),
        ("outside St Paul's Cathedral", [("St Paul's Cathedral", "worship")]),
        ("photos of Catterick Barracks", [("Catterick Barracks", "military")]),
        ("parked on Elm Road all day", [("Elm Road", "street")]),
        ("asking about Battersea Power Station", [("Battersea Power Station", "infrastructure")]),
        ("kids at Oakwood Primary School", [("Oakwood Primary School", "school")]),
        ("at heathrow yesterday", [("Heathrow", "transport")]),
    ],
)
def test_named_sites_say_what_sort_of_place_they_are(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert places(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("He lives in Bradford.", [("Bradford", "town")]),
        ("i live in manchester", [("Manchester", "town")]),
        ("flew to Istanbul last week", [("Istanbul", "abroad")]),
        ("went to Whitechapel", [("Whitechapel", "town")]),
        ("moved to Reading", [("Reading", "town")]),
        ("Newcastle upon Tyne is where he went", [("Newcastle upon Tyne", "town")]),
    ],
)
def test_towns_and_places_abroad_come_from_the_gazetteer(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert places(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Reading the letter, I got worried.",
        "he took a bath",
        "a train station somewhere",
        "the local bus station",
        "a Muslim community centre",
        "the Jewish school",
        "an Irish pub",
    ],
)
def test_ordinary_words_unnamed_sites_and_protected_words_are_not_places(text: str) -> None:
    assert places(text) == []


def test_a_report_in_capitals_still_finds_gazetteer_places_but_not_every_word() -> None:
    text = "I SAW TWO MEN AT COSTA IN KINGS CROSS STATION TALKING ABOUT THE PLAN"
    assert places(text) == [("Kings Cross Station", "transport")]


def test_the_longer_place_wins_over_the_town_inside_it() -> None:
    assert places("Leeds City Centre was packed") == [("Leeds City Centre", "crowded")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bought hydrogen peroxide in bulk", [("hydrogen peroxide", "precursor")]),
        ("drums of HYDROGEN PEROXID", [("hydrogen peroxide", "precursor")]),
        ("bags of amonium nitrate", [("ammonium nitrate", "precursor")]),
        ("he had a machette", [("machete", "bladed")]),
        ("two zombie knives", [("zombie knife", "bladed")]),
        ("a sawn-off shotgun", [("shotgun", "firearm")]),
        ("making a pipe bomb", [("pipe bomb", "device")]),
        ("talking about ricin", [("ricin", "poison")]),
        ("boxes of detonators", [("detonator", "device")]),
        ("stacks of gas cylinders in the garage", [("gas cylinder", "device")]),
        ("he showed me a gun", [("gun", "firearm")]),
        ("buying ammo online", [("ammunition", "firearm")]),
        (
            "lots of acetone and peroxide",
            [("acetone", "precursor"), ("hydrogen peroxide", "precursor")],
        ),
    ],
)
def test_weapons_and_precursors_match_their_canonical_term_and_class(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert weapons(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "fixing it with a glue gun",
        "my shoulder blade hurts",
        "she bought a bath bomb",
        "kids letting off a firework",
        "fertiliser for the garden",
        "he was the shooter in the game",
        "to rifle through the bins",
    ],
)
def test_harmless_uses_of_weapon_words_are_not_weapons(text: str) -> None:
    assert weapons(text) == []


def test_bulk_fireworks_and_fertiliser_count() -> None:
    assert weapons("hundreds of fireworks stored in a lock-up") == [("fireworks", "explosive")]
    assert weapons("dozens of bags of fertiliser in his shed") == [("fertiliser", "precursor")]


def test_weapon_span_is_the_words_as_written() -> None:
    text = "He had a Zombie-Knife."
    (item,) = [i for i in extract(text, reported_at=REPORTED) if i.kind is ItemKind.weapon]
    assert item.text == "Zombie-Knife" == text[item.start : item.end]
