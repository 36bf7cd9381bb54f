"""Priority: every factor is listed with its weight, the score is their sum, floors protect
P1, vague or second-hand reports sink; the configuration is validated field by field."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from vigil.triage.categories import categorise
from vigil.triage.config import (
    DEFAULT_CONFIG_PATH,
    FACTOR_CODES,
    ConfigError,
    TriageConfigModel,
    config_from_mapping,
    describe_errors,
    due_at,
    is_overdue,
    load_config_file,
    load_default_config,
)
from vigil.triage.items import Extracted, ItemKind, ItemSource
from vigil.triage.priority import PriorityResult, prioritise

REPORTED = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)  # a Saturday afternoon


def item(
    text: str, words: str, kind: ItemKind, detail: str | None = None, value: str | None = None
) -> Extracted:
    start = text.index(words)
    return Extracted(kind, value or words, words, start, start + len(words), 0.9, detail=detail)


def field(kind: ItemKind, value: str, detail: str | None = None) -> Extracted:
    return Extracted(kind, value, value, -1, -1, 1.0, ItemSource.reporter, detail)


def score(
    text: str,
    items: list[Extracted] | None = None,
    *,
    report_kind: str | None = None,
    config: TriageConfigModel | None = None,
    **flags: Any,
) -> PriorityResult:
    items = items or []
    categories = categorise(text, items, report_kind=report_kind)
    return prioritise(
        text,
        items,
        categories,
        reported_at=REPORTED,
        config=config or load_default_config(),
        **flags,
    )


def fired(result: PriorityResult) -> dict[str, float]:
    return {factor.code: factor.weight for factor in result.factors}


def default_body() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    return body


# --- the headline behaviour ------------------------------------------------------------------


def test_threat_with_weapon_at_crowded_place_tonight_is_p1() -> None:
    text = "He said he is going to shoot people at the station tonight, he has a gun."
    items = [item(text, "gun", ItemKind.weapon, "firearm")]
    result = score(text, items)
    assert result.priority == "P1"
    codes = fired(result)
    for code in ("explicit_threat", "weapon_firearm", "crowded_place", "imminent"):
        assert code in codes
    assert "floor.threat_with_weapon" in codes and "floor.gun_at_crowded_place_now" in codes


def test_vague_worry_is_p4_with_no_factors() -> None:
    result = score(
        "I'm a bit worried about the man next door, he seems odd and keeps himself to himself."
    )
    assert (result.priority, result.score, result.factors) == ("P4", 0, [])


def test_score_is_the_sum_of_the_listed_weights() -> None:
    text = (
        "I saw a man taking photos of the CCTV at the station this morning. "
        "He drove off in AB12 CDE."
    )
    result = score(text, [item(text, "AB12 CDE", ItemKind.vrm, value="AB12CDE")])
    assert math.isclose(result.score, sum(f.weight for f in result.factors))
    config = load_default_config()
    for factor in result.factors:
        if not factor.code.startswith("floor."):
            assert factor.weight == config.weight(factor.code)
            assert factor.label == config.label(factor.code)
            assert factor.evidence


def test_hearsay_lowers_the_score_and_first_hand_does_not() -> None:
    seen = score("I saw a man taking photos of the CCTV at the station.")
    heard = score("Apparently a man was taking photos of the CCTV at the station.")
    assert fired(heard)["hearsay"] < 0 and "first_hand" in fired(seen)
    assert heard.score < seen.score
    assert ["P1", "P2", "P3", "P4"].index(heard.priority) >= ["P1", "P2", "P3", "P4"].index(
        seen.priority
    )


def test_reporter_answer_about_first_hand_overrides_the_wording() -> None:
    text = "Apparently a man was taking photos of the CCTV at the station."
    assert "first_hand" in fired(score(text, first_hand=True))
    assert "hearsay" in fired(score("A man was taking photos of the CCTV.", first_hand=False))


def test_hearsay_never_pulls_a_threat_with_a_weapon_below_p1() -> None:
    text = "My mate said he's going to stab someone with a knife."
    assert score(text, [item(text, "knife", ItemKind.weapon, "bladed")]).priority == "P1"


@pytest.mark.parametrize(
    "text",
    [
        "I bought a kitchen knife at the shop today.",
        "There's a gun shop on the high street, I walked past it today.",
        "The knife shop in town was busy this morning.",
    ],
)
def test_a_weapon_mentioned_in_passing_is_not_p1(text: str) -> None:
    word = "knife" if "knife" in text else "gun"
    detail = "bladed" if word == "knife" else "firearm"
    result = score(text, [item(text, word, ItemKind.weapon, detail)])
    assert result.priority in {"P3", "P4"}
    assert "weapon_incidental" in fired(result)
    assert not any(code.startswith("floor.") for code in fired(result))


def test_materials_the_extractor_calls_devices_count_as_precursors() -> None:
    text = "I bought a gas cylinder for the barbecue today."
    gas = item(text, "gas cylinder", ItemKind.weapon, "device")
    result = score(text, [gas])
    assert "weapon_precursor" in fired(result) and "weapon_device" not in fired(result)
    assert result.priority != "P1"
    bomb = "There is a bomb in the bin outside right now."
    assert score(bomb, [item(bomb, "bomb", ItemKind.weapon, "device")]).priority == "P1"


def test_threat_with_a_kitchen_knife_is_not_incidental() -> None:
    text = "He threatened to stab me with a kitchen knife."
    result = score(text, [item(text, "knife", ItemKind.weapon, "bladed")])
    assert result.priority == "P1" and "weapon_bladed" in fired(result)


def test_threat_against_a_target_now_is_p1_even_without_a_weapon() -> None:
    result = score("He said he'll attack the concert tomorrow and make them pay.")
    assert result.priority == "P1"
    assert "floor.explicit_threat" in fired(result)


@pytest.mark.parametrize("going", ["going", "goin", "gong", "goig", "gooing", "goign", "gonig"])
def test_a_threat_survives_any_one_slip_in_going(going: str) -> None:
    result = score(f"He posted that he is {going} to hurt people at the match on Saturday.")
    assert result.priority == "P1"
    assert "floor.explicit_threat" in fired(result)


@pytest.mark.parametrize(
    "text",
    ["The gong went for dinner and we all sat down.", "He has gone to the match with his dad."],
)
def test_words_that_look_like_going_are_no_threat(text: str) -> None:
    assert "floor.explicit_threat" not in fired(score(text))


def test_negated_weapon_counts_for_nothing() -> None:
    text = "There were no weapons and no knife, just an argument at the bus stop tonight."
    result = score(text, [item(text, "knife", ItemKind.weapon, "bladed")])
    assert not any(code.startswith("weapon_") for code in fired(result))


# --- each factor fires, and is listed with its weight -------------------------------------------

FACTOR_CASES: list[tuple[str, str, list[tuple[str, ItemKind, str | None]], dict[str, Any]]] = [
    ("imminent", "He is outside the house right now.", [], {}),
    ("soon", "They are meeting up next week about it.", [], {}),
    ("explicit_threat", "He said he will blow the place up.", [], {}),
    (
        "weapon_firearm",
        "He keeps a pistol in his bedroom.",
        [("pistol", ItemKind.weapon, "firearm")],
        {},
    ),
    (
        "weapon_explosive",
        "There was semtex in the bag.",
        [("semtex", ItemKind.weapon, "explosive")],
        {},
    ),
    (
        "weapon_bladed",
        "He carries a machete in his car.",
        [("machete", ItemKind.weapon, "bladed")],
        {},
    ),
    (
        "weapon_device",
        "He had a grenade in his jacket.",
        [("grenade", ItemKind.weapon, "device")],
        {},
    ),
    ("weapon_poison", "He says he has ricin at home.", [("ricin", ItemKind.weapon, "poison")], {}),
    (
        "weapon_precursor",
        "The garage is full of acetone.",
        [("acetone", ItemKind.weapon, "precursor")],
        {},
    ),
    ("weapon_other", "He showed me his weapons in the loft.", [], {}),
    ("weapon_incidental", "I walked past the gun shop.", [("gun", ItemKind.weapon, "firearm")], {}),
    (
        "crowded_place",
        "He hangs around Victoria Coach Station.",
        [("Victoria Coach Station", ItemKind.place, "transport")],
        {},
    ),
    ("known_subject", "A man was hanging around.", [], {"known_subject_match": True}),
    ("several_reports", "A man was hanging around.", [], {"cluster_size": 2}),
    ("many_reports", "A man was hanging around.", [], {"cluster_size": 5}),
    ("first_hand", "I watched him go in and out all night.", [], {}),
    ("hearsay", "Someone told me he was in and out all night.", [], {}),
    ("specifics", "Call him on 07700 900123.", [("07700 900123", ItemKind.phone, None)], {}),
    ("category_tier1", "Someone had cut the cables to the gate.", [], {}),
    ("category_tier2", "A man asked the cleaner about the security shifts.", [], {}),
]


@pytest.mark.parametrize(
    ("code", "text", "spans", "flags"), FACTOR_CASES, ids=[c[0] for c in FACTOR_CASES]
)
def test_each_factor_fires_and_is_listed_with_its_configured_weight(
    code: str, text: str, spans: list[tuple[str, ItemKind, str | None]], flags: dict[str, Any]
) -> None:
    items = [item(text, words, kind, detail) for words, kind, detail in spans]
    result = score(text, items, **flags)
    assert code in fired(result), result
    assert fired(result)[code] == load_default_config().weight(code)


def test_every_configured_factor_has_a_case() -> None:
    assert {case[0] for case in FACTOR_CASES} == FACTOR_CODES


def test_many_reports_replaces_several() -> None:
    codes = fired(score("A man was hanging around.", cluster_size=7))
    assert "many_reports" in codes and "several_reports" not in codes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-14T20:00Z", "imminent"),  # five hours ahead
        ("2026-03-14T11:00Z", "imminent"),  # four hours ago: it may still be going on
        ("2026-03-15T09:00Z", "imminent"),  # tomorrow morning
        ("2026-03-17T12:00Z", "soon"),  # in three days
        ("2026-03-14", "imminent"),  # a local date: today
        ("2026-03-15", "imminent"),  # tomorrow
        ("2026-03-19", "soon"),
        ("2026-03-10T12:00Z", None),  # four days ago
        ("2026-05-01", None),
        ("not a date", None),
    ],
)
def test_dated_items_are_judged_against_the_report_time(value: str, expected: str | None) -> None:
    codes = fired(score("It happens then.", [field(ItemKind.datetime, value)]))
    assert ("imminent" in codes, "soon" in codes) == (expected == "imminent", expected == "soon")


def test_local_dates_use_the_configured_time_zone() -> None:
    # 23:30 UTC on 31 March is already 1 April in London (BST): "2026-04-01" is today.
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    result = prioritise(
        "It happens then.",
        [field(ItemKind.datetime, "2026-04-01")],
        [],
        reported_at=late,
        config=load_default_config(),
    )
    assert "imminent" in fired(result)


def test_report_time_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        prioritise("x", [], [], reported_at=datetime(2026, 3, 14), config=load_default_config())


def test_floor_raises_a_low_score_and_is_listed_as_a_factor() -> None:
    body = default_body()
    body["floors"] = []
    no_floors = config_from_mapping(body)
    text = "He said he'll kill them."
    assert score(text, config=no_floors).priority == "P2"  # 11 points: P2 by score alone
    weak = copy.deepcopy(body)
    weak["factors"]["explicit_threat"]["weight"] = 1
    assert score(text, config=config_from_mapping(weak)).priority == "P4"  # 1 + tier 1
    weak["floors"] = default_body()["floors"]
    floored = score(text, config=config_from_mapping(weak))
    assert floored.priority == "P1"
    floor = next(f for f in floored.factors if f.code == "floor.explicit_threat")
    assert floor.weight == 0 and "explicit_threat" in floor.evidence and "P1" in floor.evidence


def test_weaker_floors_are_not_listed_when_a_stronger_one_sets_the_priority() -> None:
    text = "He said he is going to bomb the station with a gun."
    codes = fired(score(text, [item(text, "gun", ItemKind.weapon, "firearm")]))
    assert "floor.threat_with_weapon" in codes and "floor.explicit_threat" in codes  # both P1
    assert "floor.behaviour_described" not in codes  # P3 floor: it did not decide anything


def test_report_kind_threat_alone_is_not_an_explicit_threat() -> None:
    assert "explicit_threat" not in fired(score("Something felt off.", report_kind="threat"))


# --- configuration ---------------------------------------------------------------------------


def test_default_configuration_loads_with_the_documented_service_levels() -> None:
    config = load_default_config()
    levels = config.service_levels_minutes
    assert (levels.P1, levels.P2, levels.P3, levels.P4) == (15, 60, 1440, 10080)
    assert set(config.factors) == FACTOR_CODES
    assert config.thresholds.P1 > config.thresholds.P2 > config.thresholds.P3


def test_configuration_round_trips_through_json() -> None:
    config = load_default_config()
    assert config_from_mapping(config.model_dump(mode="json")) == config


@pytest.mark.parametrize(
    ("change", "field_path", "message"),
    [
        (
            lambda b: b["factors"]["hearsay"].update(weight=500),
            "factors.hearsay.weight",
            "-100..100",
        ),
        (
            lambda b: b["factors"]["hearsay"].update(weight=float("nan")),
            "factors.hearsay.weight",
            "finite",
        ),
        (
            lambda b: b["factors"].update(rumour={"label": "x", "weight": 1}),
            "factors",
            "unknown factor code(s): rumour",
        ),
        (
            lambda b: b["factors"].pop("hearsay"),
            "factors",
            "missing weight for factor code(s): hearsay",
        ),
        (lambda b: b["thresholds"].update(P2=20), "thresholds", "P1 > P2 > P3"),
        (
            lambda b: b["service_levels_minutes"].update(P1=0),
            "service_levels_minutes.P1",
            "greater than 0",
        ),
        (lambda b: b.update(colour="red"), "colour", "Extra inputs"),
        (
            lambda b: b["factors"]["imminent"].update(colour="red"),
            "factors.imminent.colour",
            "Extra inputs",
        ),
        (lambda b: b["floors"][0]["when"].append(["telepathy"]), "floors.0.when", "telepathy"),
        (lambda b: b["floors"][0].update(priority="P4"), "floors.0.priority", "P1"),
        (lambda b: b["floors"].append(dict(b["floors"][0])), "floors", "duplicate floor"),
        (lambda b: b.update(local_timezone="Mars/Olympus"), "local_timezone", "unknown time zone"),
        (lambda b: b["time_windows"].update(soon_hours=12), "time_windows", "soon_hours"),
        (
            lambda b: b["cluster_sizes"].update(several=4, many=3),
            "cluster_sizes",
            "greater than 'several'",
        ),
    ],
)
def test_bad_configuration_is_rejected_naming_the_field(
    change: Any, field_path: str, message: str
) -> None:
    body = default_body()
    change(body)
    with pytest.raises(ValidationError) as caught:
        config_from_mapping(body)
    described = describe_errors(caught.value)
    assert described.startswith(field_path) or f"; {field_path}" in described
    assert message in described


def test_bad_configuration_file_names_the_file_and_field(tmp_path: Path) -> None:
    body = default_body()
    body["factors"]["hearsay"]["weight"] = -101
    bad = tmp_path / "priority.yaml"
    bad.write_text(yaml.safe_dump(body), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"priority\.yaml is invalid: factors\.hearsay\.weight"):
        load_config_file(bad)
    bad.write_text("factors: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)


def test_configuration_is_immutable_once_validated() -> None:
    with pytest.raises(ValidationError):
        load_default_config().thresholds.P1 = 1  # type: ignore[misc]


# --- service levels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "minutes"), [("P1", 15), ("P2", 60), ("P3", 24 * 60), ("P4", 7 * 24 * 60)]
)
def test_due_at_adds_the_service_level(priority: str, minutes: int) -> None:
    assert due_at(priority, REPORTED, load_default_config()) == REPORTED + timedelta(
        minutes=minutes
    )


def test_due_at_follows_the_configuration_and_keeps_the_time_zone() -> None:
    body = default_body()
    body["service_levels_minutes"]["P1"] = 5
    local = REPORTED.astimezone(timezone(timedelta(hours=1)))
    due = due_at("P1", local, config_from_mapping(body))
    assert due == REPORTED + timedelta(minutes=5) and due.utcoffset() == timedelta(hours=1)


def test_due_at_rejects_unknown_priorities_and_naive_times() -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        due_at("P9", REPORTED, load_default_config())
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at("P1", datetime(2026, 3, 14), load_default_config())


def test_is_overdue_only_after_the_due_time() -> None:
    due = due_at("P1", REPORTED, load_default_config())
    assert not is_overdue(due, due - timedelta(seconds=1))
    assert not is_overdue(due, due)
    assert is_overdue(due, due + timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(due, datetime(2026, 3, 14, 16))


# --- the analysts' rules (benchmarks/data/README.md, "Priority") -----------------------------


@pytest.mark.parametrize(
    ("text", "floor"),
    [
        ("A drone was flying over the stands during the match.", "aviation"),
        ("A man tailgated a member of staff through the staff door.", "intrusion_or_sabotage"),
        (
            "I saw a man photographing the CCTV cameras and the exits at the station.",
            "reconnaissance_of_crowded_place",
        ),
    ],
)
def test_urgent_behaviours_are_at_least_p2(text: str, floor: str) -> None:
    result = score(text)
    assert result.priority == "P2"
    assert f"floor.{floor}" in fired(result)


def test_a_weapon_seen_with_no_intent_is_p2_not_p1() -> None:
    text = "I saw a man with a machete in his waistband at noon, he just showed his mate."
    result = score(text, [item(text, "machete", ItemKind.weapon, "bladed")])
    assert result.priority == "P2" and "floor.weapon_seen" in fired(result)


def test_precursors_bought_in_quantity_are_p2() -> None:
    text = "A customer bought twenty litres of acetone and paid cash."
    result = score(text, [item(text, "acetone", ItemKind.weapon, "precursor")])
    assert result.priority == "P2" and "floor.precursors_in_quantity" in fired(result)


def test_any_described_behaviour_is_at_least_p3_even_second_hand() -> None:
    result = score("My neighbour said a man was taking photos of the reservoir's gates.")
    assert "hearsay" in fired(result)
    assert result.priority == "P3" and "floor.behaviour_described" in fired(result)


@pytest.mark.parametrize(
    "text",
    [
        "A suitcase was left at the station this afternoon, then a woman came back for it.",
        "There's drug dealing from a car outside the shops on the high street every evening.",
    ],
)
def test_a_crowded_place_and_a_time_alone_carry_no_intelligence(text: str) -> None:
    assert score(text).priority == "P4"


def test_a_floor_may_name_a_category_but_not_an_unknown_one() -> None:
    body = default_body()
    body["floors"].append(
        {"code": "x", "label": "x", "priority": "P2", "when": [["category:aviation"]]}
    )
    config_from_mapping(body)
    body["floors"][-1]["when"] = [["category:knitting"]]
    with pytest.raises(ValidationError, match="category:knitting"):
        config_from_mapping(body)


def test_a_place_of_worship_weighs_only_where_behaviour_is_described() -> None:
    habit = "He goes to Eastgate Mosque on Fridays. I saw him climb the fence at the depot."
    recon = "He goes to work early. I saw him photographing the cameras at Eastgate Synagogue."
    at_habit = item(habit, "Eastgate Mosque", ItemKind.place, detail="worship")
    at_recon = item(recon, "Eastgate Synagogue", ItemKind.place, detail="worship")
    assert "crowded_place" not in fired(score(habit, [at_habit]))
    assert "crowded_place" in fired(score(recon, [at_recon]))
