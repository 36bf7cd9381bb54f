"""Classes of wording the extractors once missed or misread, each with invented sentences:
plate shapes whose letters look like units, titles and shouting around names, sites and
trading names typed in lower case, and yearless dates in threats. Each test is a class of
error, not one sentence, so the fix is checked on wording it was not written from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.triage.extraction import extract
from vigil.triage.items import ItemKind

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # a Thursday, GMT


def values(text: str, kind: ItemKind) -> list[str]:
    return [item.value for item in extract(text, reported_at=REPORTED) if item.kind is kind]


# --- vehicle marks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "vrm"),
    [
        # leading letters that are also units or ordinals: only trailing letters are units
        ("He left in a blue Ford, ST64 RWK.", "ST64RWK"),
        ("a red Corsa, K482 BNW, was parked up", "K482BNW"),
        ("a grey Mondeo G731 HTX sat outside", "G731HTX"),
        # suffix marks whose year letter is also a unit letter (p, m, k, g)
        ("the car, tpw 318m, kept circling", "TPW318M"),
        ("he drives a silver estate car, registration HDM481P.", "HDM481P"),
        # a current mark whose last group happens to spell a word
        ("he keeps parking his van yd21 toe across the road", "YD21TOE"),
        ("a white Transit van, Lk19 Hat, reversed into the gate", "LK19HAT"),
        # a misspelt cue word still cues the mark
        ("registartion kd19 hbn on the car", "KD19HBN"),
    ],
)
def test_plate_shapes_with_unit_like_or_word_like_letters(text: str, vrm: str) -> None:
    assert values(text, ItemKind.vrm) == [vrm]


@pytest.mark.parametrize(
    "text",
    [
        "we drove down there at 30 mph in the car",
        "parking in the car park costs 50p an hour",
        "on 12 may he parked the car outside",
        "the van was going by 90 mph",
        "it was 10 min by car",
    ],
)
def test_units_and_dates_near_vehicles_are_not_plates(text: str) -> None:
    assert values(text, ItemKind.vrm) == []


# --- people ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # the form of address is not part of the name, so reports link on the surname
        ("Mr Osei was shouting at the staff.", ["Osei"]),
        ("DCI Mensah came round later.", ["Mensah"]),
        # a title makes a lower-case surname a name
        ("my neighbour mr. popescu parks there every day", ["Popescu"]),
        ("the landlord mrs adeyemi-cole has the keys", ["Adeyemi-Cole"]),
        # the capitalised pronoun does not continue a name
        ("His name is Radu I think.", ["Radu"]),
        # a mixed-case name inside a shouted phrase
        ("MY FLATMATE Kofi Mensah KEEPS BUYING BLEACH", ["Kofi Mensah"]),
        ("I SAW Ana Radu WITH HIM", ["Ana Radu"]),
        # a given name kept out of lower case alone still counts with a known surname
        ("a boy in her class, kai chen, said it", ["Kai Chen"]),
    ],
)
def test_titles_pronouns_shouting_and_paired_names(text: str, names: list[str]) -> None:
    assert values(text, ItemKind.person) == names


@pytest.mark.parametrize(
    "text",
    [
        "i miss london so much",
        "the kai was out of stock",
        "I SAW THEM AT THE SHOP AND I THINK THEY WERE WATCHING",
    ],
)
def test_ordinary_lower_case_and_shouted_words_are_not_people(text: str) -> None:
    assert values(text, ItemKind.person) == []


# --- places ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("it was parked on ashgrove road all night", "Ashgrove Road"),
        ("a man was hanging around near westbury gardens", "Westbury Gardens"),
        ("photos of the fence at thornley water treatment works", "Thornley Water Treatment Works"),
        ("he stole a pass for hollins lane substation", "Hollins Lane Substation"),
        ("filming the gates at the ravensdale reservoir", "Ravensdale Reservoir"),
        # a landmark that is no ordinary word counts in lower case after a preposition
        ("a bag was left at lakeside earlier", "Lakeside"),
        # gazetteer names keep the reporter's spelling, tidied
        ("he said he'd go to kings cross", "Kings Cross"),
        # "circus" is a site word; a possessive apostrophe stays inside the name
        ("they met at Marlow Circus", "Marlow Circus"),
        ("outside St Thomas' Park", "St Thomas' Park"),
    ],
)
def test_sites_named_in_lower_case_and_as_written(text: str, place: str) -> None:
    assert values(text, ItemKind.place) == [place]


@pytest.mark.parametrize(
    "text",
    [
        "we walked near teh park",
        "kids were at the skate park",
        "he parked in the car park",
        "it was on the main road",
        "he loaded it into a white Luton van",
        "there's a pro-Palestine march planned",
        "an anti-Israel banner was hung up",
    ],
)
def test_typos_descriptions_vehicles_and_stances_are_not_places(text: str) -> None:
    assert values(text, ItemKind.place) == []


def test_a_town_is_still_a_place_where_it_names_one() -> None:
    assert values("he drove to Luton on Friday", ItemKind.place) == ["Luton"]


# --- organisations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "org"),
    [
        ("he works for brindley plastics ltd in the day", "Brindley Plastics Ltd"),
        ("said he was from marsh valley water ltd", "Marsh Valley Water Ltd"),
        ("a man outside harlington pharmacy had a knife", "Harlington Pharmacy"),
        ("I WORK AT Northgate Phone Repairs AND HE CAME IN", "Northgate Phone Repairs"),
        ("a letter from Oakley & Reeve Solicitors", "Oakley & Reeve Solicitors"),
        ("she rents from Kingsway Property Management.", "Kingsway Property Management"),
    ],
)
def test_trading_names_in_lower_case_and_with_more_trade_words(text: str, org: str) -> None:
    assert values(text, ItemKind.organisation) == [org]


@pytest.mark.parametrize(
    "text",
    ["I queued at the local pharmacy", "he goes to teh gym every day", "he went to the gym"],
)
def test_unnamed_and_misspelt_trades_are_not_organisations(text: str) -> None:
    assert values(text, ItemKind.organisation) == []


def test_a_town_inside_a_firm_name_is_not_a_place() -> None:
    text = "a letter from Oakley & Reeve Solicitors"
    assert values(text, ItemKind.place) == []


# --- dates ----------------------------------------------------------------------------


def test_a_yearless_date_in_a_threat_is_this_years() -> None:
    text = "they said they would do it on the 20th of March at 9pm"
    assert values(text, ItemKind.datetime) == ["2026-03-20T21:00Z"]
