"""Behaviour categories: each fires on the right words with evidence, negation holds, the
rules file is validated with errors naming the entry, and the speed gate loses nothing."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.triage.categories import (
    CATEGORY_CODES,
    RULES_PATH,
    CategoryAssignment,
    CategoryRulesError,
    categorise,
    load_rules,
    load_rules_file,
    rules_from_mapping,
)
from vigil.triage.items import Extracted, ItemKind, ItemSource


def item(
    text: str,
    words: str,
    kind: ItemKind,
    detail: str | None = None,
    *,
    value: str | None = None,
    confidence: float = 0.9,
) -> Extracted:
    """An item as the extractor would return it for ``words`` inside ``text``."""
    start = text.index(words)
    return Extracted(
        kind, value or words, words, start, start + len(words), confidence, detail=detail
    )


def codes(found: list[CategoryAssignment]) -> set[str]:
    return {assignment.code for assignment in found}


def assignment(found: list[CategoryAssignment], code: str) -> CategoryAssignment:
    matching = [a for a in found if a.code == code]
    assert matching, f"{code} not assigned; got {sorted(codes(found))}"
    return matching[0]


# One synthetic report per category, and the words the evidence must point at.
TEXT_CASES = [
    (
        "breach",
        "Last night a man climbed over the fence into the depot yard.",
        "climbed over the fence",
    ),
    (
        "misrepresentation",
        "He showed the receptionist a fake ID badge and walked in.",
        "fake ID badge",
    ),
    (
        "misrepresentation",
        "She was posing as a delivery driver to get past reception.",
        "posing as a delivery",
    ),
    (
        "theft_loss_diversion",
        "Two staff uniforms and an access card were stolen from the locker room.",
        "access card were stolen",
    ),
    (
        "sabotage_tampering",
        "Someone had cut the cables to the signal box beside the line.",
        "cut the cables",
    ),
    ("cyberattack", "The booking system was hacked and customer records were taken.", "hacked"),
    ("expressed_threat", "He shouted that he is going to bomb the town centre.", "going to bomb"),
    ("expressed_threat", "He said they'll all pay for this and make them pay.", "make them pay"),
    ("aviation", "A man was pointing a laser at the helicopter as it landed.", "pointing a laser"),
    ("aviation", "A drone was hovering over the stadium during the match.", "drone"),
    (
        "eliciting_information",
        "A man asked the cleaner what time the guards change shifts.",
        "asked",
    ),
    (
        "testing_security",
        "He left a rucksack by the gate and walked away to see what staff did.",
        "left a rucksack by the gate and walked away",
    ),
    (
        "recruiting_financing",
        "He has been trying to get younger lads to join his group.",
        "trying to get younger lads to join",
    ),
    (
        "recruiting_financing",
        "There have been large cash deposits into the account every week.",
        "large cash deposits",
    ),
    (
        "photography",
        "A woman was taking photos of the CCTV cameras at the back entrance.",
        "photos",
    ),
    (
        "observation_surveillance",
        "He sat in a car making notes about the delivery times.",
        "making notes",
    ),
    (
        "observation_surveillance",
        "A man was measuring the distance between the bollards.",
        "measuring the distance",
    ),
    (
        "materials_acquisition",
        "My neighbour keeps buying gas cylinders and storing them in the shed.",
        "gas cylinders",
    ),
    ("materials_acquisition", "He hired a large box van for no reason.", "hired a large box van"),
    ("acquisition_of_expertise", "He was searching online for how to make a bomb.", "how to make"),
    (
        "acquisition_of_expertise",
        "He keeps going to weapons training at weekends.",
        "weapons training",
    ),
    ("weapons", "We found a bag of knives and ammunition under the floorboards.", "bag of knives"),
    (
        "sector_specific",
        "Someone has tampered with the dosing valves at the water treatment works.",
        "water treatment",
    ),
    ("online_material", "He keeps sharing beheading videos in the group chat.", "beheading videos"),
]


@pytest.mark.parametrize(("code", "text", "words"), TEXT_CASES)
def test_each_category_fires_with_evidence_pointing_at_the_words(
    code: str, text: str, words: str
) -> None:
    found = assignment(categorise(text, []), code)
    pointed = [ev for ev in found.evidence if not ev.rule.endswith("+context")]
    assert pointed, found
    for ev in found.evidence:
        assert ev.rule.startswith(code + ".")
        assert text[ev.start : ev.end] == ev.text  # spans point at exactly those characters
    assert any(
        ev.text.lower() in words.lower() or words.lower() in ev.text.lower() for ev in pointed
    )
    assert found.tier == (1 if CATEGORY_CODES.index(code) < 7 else 2)
    assert 0 < found.confidence <= 0.99


def test_every_known_category_has_a_text_case() -> None:
    assert {code for code, _, _ in TEXT_CASES} == set(CATEGORY_CODES)


def test_context_words_are_shown_as_evidence() -> None:
    text = "A woman was taking photos of the CCTV cameras at the back entrance."
    found = assignment(categorise(text, []), "photography")
    context = [ev for ev in found.evidence if ev.rule.endswith("+context")]
    assert context and text[context[0].start : context[0].end] == context[0].text
    assert context[0].text in {"CCTV", "cameras", "entrance"}


def test_photography_of_family_is_not_hostile_reconnaissance() -> None:
    assert "photography" not in codes(categorise("She was taking photos of her kids.", []))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("There were no weapons in the car.", "weapons"),
        ("He wasn't taking photos of the CCTV.", "photography"),
        ("He was not carrying a gun.", "weapons"),
        ("He never threatened to hurt anyone.", "expressed_threat"),
        ("He is not going to kill anyone, he was joking about a film.", "expressed_threat"),
        ("Nobody asked about the security arrangements.", "eliciting_information"),
        ("I didnt see him hack anything.", "cyberattack"),
    ],
)
def test_negated_behaviour_does_not_fire(text: str, code: str) -> None:
    assert code not in codes(categorise(text, []))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("No doubt he was photographing the CCTV.", "photography"),
        ("I'm not sure, but he was taking photos of the cameras.", "photography"),
        ("I don't know why he was filming the security gates.", "photography"),
        ("There were weapons in the car.", "weapons"),
    ],
)
def test_negation_stops_at_the_clause_and_ignores_pseudo_negation(text: str, code: str) -> None:
    assert code in codes(categorise(text, []))


@pytest.mark.parametrize(
    "text",
    [
        "He bought a load of fertilizer and kept storing it in the lock up.",  # US spelling
        "He has a stun gun in his room.",  # optional space in "stun ?gun"
        "He said he’ll kill them all.",  # curly apostrophe
        "HE SAID HE IS GOING TO BOMB THE STATION.",  # capitals
        "He  is   going\nto  attack the depot.",  # odd spacing and a line break
    ],
)
def test_spelling_case_and_spacing_variants_still_match(text: str) -> None:
    assert categorise(text, [])


def test_precursor_item_with_buying_words_is_materials_acquisition() -> None:
    text = "He has been buying hydrogen peroxide in bulk from different shops."
    items = [item(text, "hydrogen peroxide", ItemKind.weapon, "precursor")]
    found = assignment(categorise(text, items), "materials_acquisition")
    rules = {ev.rule for ev in found.evidence}
    assert "materials_acquisition.precursor_item" in rules
    assert "materials_acquisition.precursor_item+context" in rules  # "buying"
    item_ev = next(e for e in found.evidence if e.rule == "materials_acquisition.precursor_item")
    assert text[item_ev.start : item_ev.end] == "hydrogen peroxide"
    assert "precursor" in item_ev.text


def test_precursor_item_without_acquisition_needs_a_purchase_report() -> None:
    text = "The label on the tub said hydrogen peroxide."
    items = [item(text, "hydrogen peroxide", ItemKind.weapon, "precursor")]
    assert "materials_acquisition" not in codes(categorise(text, items))
    assert "materials_acquisition" in codes(categorise(text, items, report_kind="purchase"))


def test_item_confidence_scales_category_confidence() -> None:
    text = "He keeps buying the stuff in bulk."
    strong = [item(text, "stuff", ItemKind.weapon, "precursor", confidence=1.0)]
    weak = [item(text, "stuff", ItemKind.weapon, "precursor", confidence=0.2)]
    high = assignment(categorise(text, strong), "materials_acquisition").confidence
    low = assignment(categorise(text, weak), "materials_acquisition").confidence
    assert high > low > 0


@pytest.mark.parametrize("detail", ["firearm", "bladed", "explosive", "device", "poison"])
def test_weapon_items_of_each_class_are_weapons(detail: str) -> None:
    text = "I saw the thing under his coat."
    found = categorise(text, [item(text, "thing", ItemKind.weapon, detail)])
    evidence = assignment(found, "weapons").evidence
    assert evidence[0].rule == "weapons.item" and detail in evidence[0].text


def test_weapon_item_from_a_report_field_has_no_span() -> None:
    field = Extracted(
        ItemKind.weapon, "shotgun", "shotgun", -1, -1, 1.0, ItemSource.reporter, "firearm"
    )
    evidence = assignment(categorise("He keeps it in the loft.", [field]), "weapons").evidence
    assert (evidence[0].start, evidence[0].end) == (-1, -1)


def test_kitchen_knife_and_gun_shop_are_not_weapons_collection() -> None:
    text = "I bought a kitchen knife and walked past the gun shop."
    items = [
        item(text, "knife", ItemKind.weapon, "bladed"),
        item(text, "gun", ItemKind.weapon, "firearm"),
    ]
    assert "weapons" not in codes(categorise(text, items))


def test_a_link_to_posted_content_is_online_material() -> None:
    text = "He posted it at https://video.example.org/watch?v=abc for everyone."
    url = item(text, "https://video.example.org/watch?v=abc", ItemKind.url, "videosite")
    evidence = assignment(categorise(text, [url]), "online_material").evidence
    assert [ev.rule for ev in evidence] == [
        "online_material.platform_link+context",  # "posted"
        "online_material.platform_link",
    ]
    plain = dataclasses.replace(url, detail=None)  # any site, not only a known platform
    assert "online_material" in codes(categorise(text, [plain]))


def test_a_link_that_is_a_detail_of_something_else_is_not_online_material() -> None:
    # A ransomware note naming a channel is a cyberattack, not material posted online.
    text = "Our systems got hit with ransomware and the note mentions a channel t.me/abc_123."
    url = item(text, "t.me/abc_123", ItemKind.url, "Telegram", value="https://t.me/abc_123")
    assert codes(categorise(text, [url])) == {"cyberattack"}
    # Nor is a link given with no word about what is posted there.
    bare = "My number is below, and my site is https://example.org/about if you need it."
    link = item(bare, "https://example.org/about", ItemKind.url)
    assert "online_material" not in codes(categorise(bare, [link]))


def test_the_report_kind_alone_is_no_evidence() -> None:
    """About one reporter in eight ticks the wrong box: the words must carry the category."""
    for kind in ("threat", "online"):
        assert (
            categorise("Someone nicked the catalytic converter off my car.", [], report_kind=kind)
            == []
        )


def test_vague_report_gets_no_category() -> None:
    assert categorise("I just have a bad feeling about the man next door.", []) == []


def test_results_are_frozen_and_sorted_by_confidence() -> None:
    text = (
        "He said he is going to bomb the station. He was taking photos of the CCTV and "
        "asked the guards about the shift changes."
    )
    found = categorise(text, [])
    assert [a.confidence for a in found] == sorted((a.confidence for a in found), reverse=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].code = "other"  # type: ignore[misc]


def test_rules_are_loaded_once() -> None:
    assert load_rules() is load_rules()


# --- the rules file ---------------------------------------------------------------------------


def shipped() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return body


def rule_index(body: dict[str, Any], code: str) -> int:
    return next(i for i, c in enumerate(body["categories"]) if c["code"] == code)


def test_shipped_rules_validate_and_cover_every_category_once() -> None:
    rules = rules_from_mapping(shipped())
    assert sorted(c.code for c in rules.categories) == sorted(CATEGORY_CODES)
    assert len(CATEGORY_CODES) == 17


def test_bad_confidence_is_rejected_naming_the_category_and_rule() -> None:
    body = shipped()
    index = rule_index(body, "photography")
    body["categories"][index]["rules"][0]["confidence"] = 2
    with pytest.raises(CategoryRulesError) as caught:
        rules_from_mapping(body)
    message = str(caught.value)
    assert f"categories[{index}] (photography).rules[0] (photography.security_features)" in message
    assert "confidence" in message


def test_invalid_pattern_is_rejected_naming_the_rule_and_entry() -> None:
    body = shipped()
    body["categories"][rule_index(body, "breach")]["rules"][0]["patterns"].append("broke (in")
    with pytest.raises(CategoryRulesError, match=r"breach\.intrusion.*'broke \(in'"):
        rules_from_mapping(body)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b["categories"].pop(), "missing: \\['online_material'\\]"),
        (
            lambda b: b["categories"][0]["rules"][0].update(context={"lexicon": "nope"}),
            "unknown lexicon 'nope'",
        ),
        (lambda b: b["categories"][0]["rules"][0].update(colour="red"), "colour.*Extra inputs"),
        (lambda b: b["categories"][0].update(tier=3), "tier"),
        (lambda b: b["categories"][1]["rules"][0].update(id="breach.intrusion"), "unique"),
        (lambda b: b["lexicons"].update(threat=["(unclosed"]), "lexicon 'threat'"),
        (lambda b: b["categories"][0]["rules"][0].update(item={"kind": "weapon"}), "not both"),
    ],
)
def test_bad_rules_files_fail_with_a_message_naming_the_problem(change: Any, expected: str) -> None:
    body = copy.deepcopy(shipped())
    change(body)
    with pytest.raises(CategoryRulesError, match=expected):
        rules_from_mapping(body)


def test_unreadable_yaml_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "categories.yaml"
    broken.write_text("categories: [unclosed", encoding="utf-8")
    with pytest.raises(CategoryRulesError, match=r"categories\.yaml is not valid YAML"):
        load_rules_file(broken)


# --- the first-word gate is only a speed-up ------------------------------------------------------

VOCABULARY = sorted(
    {
        word
        for word in re.findall(r"[a-z]+", RULES_PATH.read_text(encoding="utf-8"))
        if len(word) > 1
    }
    | {"i", "a", "he", "she", "they", "the", "cctv", "2nite", "ak47"}
)
SEPARATORS = [" ", " ", " ", ", ", ". ", "'", "’", "-", "\n", "  "]


def every_pattern() -> list[tuple[str, Any, re.Pattern[str]]]:
    rules = load_rules()
    found = [
        (rule.id, rule.gate, rule.regex)
        for category in rules.categories
        for rule in category.rules
        if rule.regex is not None
    ]
    found += [(name, rules._gates[name], regex) for name, regex in rules.lexicons.items()]
    return found


def gate_agrees_with_a_full_scan(text: str) -> None:
    folded = text.lower()
    for name, gate, regex in every_pattern():
        assert not gate.open, f"{name}: gate could not be worked out"
        fast = [m.span() for m in gate.matches(regex, folded)]
        assert fast == [m.span() for m in regex.finditer(folded)], name


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), min_size=1, max_size=40
    )
)
def test_first_word_gate_finds_exactly_what_a_full_scan_finds(words: list[tuple[str, str]]) -> None:
    gate_agrees_with_a_full_scan("".join(word + sep for word, sep in words))


def test_first_word_gate_agrees_on_every_example_report() -> None:
    for _, text, _ in TEXT_CASES:
        gate_agrees_with_a_full_scan(text)


def test_negation_reaches_past_a_removed_pseudo_negation() -> None:
    # "for no good reason" is not a negation; once it is set aside, "never" is in reach.
    text = "He would never for no good reason be taking photos of the CCTV."
    assert "photography" not in codes(categorise(text, []))
    assert "photography" in codes(
        categorise("For no good reason he was taking photos of the CCTV.", [])
    )


# General vocabulary for behaviours the first rules missed (synthetic sentences).
@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("aviation", "Someone was shining a laser pen at the police helicopter last night."),
        ("aviation", "A drone kept hovering over the runway at the airport."),
        ("aviation", "At the flight school he was never interested in learning about landing."),
        ("recruiting_financing", "He keeps sending cash abroad, always just under the limit."),
        ("recruiting_financing", "He offered to pay for their flights so they could go to fight."),
        ("recruiting_financing", "She asked the lads for copies of their passports."),
        ("misrepresentation", "He had three passports, the same photo but different names."),
        (
            "misrepresentation",
            "He claimed to be from the gas board but they have never worked for us.",
        ),
        ("theft_loss_diversion", "Two of our site passes and a hi-vis uniform were stolen."),
        ("theft_loss_diversion", "The stock check shows a drum of acid missing."),
        ("eliciting_information", "He kept asking how many stewards work the gates on match day."),
        ("observation_surveillance", "A man sat with binoculars watching the gates for hours."),
    ],
)
def test_general_vocabulary_for_each_behaviour(code: str, text: str) -> None:
    assert code in codes(categorise(text, []))


def test_a_picture_of_a_weapon_or_instructions_for_one_is_not_a_weapon_seen() -> None:
    for text, word in [
        ("The post has a picture of a gun next to a map.", "gun"),
        ("He watches videos on how to make pipe bombs.", "pipe bombs"),
    ]:
        weapon = item(text, word, ItemKind.weapon, "firearm" if word == "gun" else "device")
        assert "weapons" not in codes(categorise(text, [weapon]))


def test_photos_of_a_railway_bridge_with_a_tripod_are_a_hobby() -> None:
    text = "A lad was photographing the old railway bridge with a big camera and a tripod."
    assert categorise(text, []) == []
