"""Person records become the columns the model compares, the same way one or a million."""

from __future__ import annotations

import dataclasses
import random

import pytest

from vigil.linkage.matching.names import first_name_variants, phonetic, surname_keys
from vigil.linkage.matching.normalise import (
    PREPARED_COLUMNS,
    _library_phone,
    clean_address,
    clean_id_number,
    clean_name,
    clean_town,
    normalise_email,
    normalise_phone,
    parse_date_of_birth,
    prepare_person,
    split_postcode,
)
from vigil.linkage.matching.tables import prepare_people
from vigil.linkage.records import PROTECTED_PROPERTIES, PersonRecord
from vigil.linkage.synthetic import generate_population


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("1985-04-03", "1985-04-03"),
        ("19850403", "1985-04-03"),
        ("3/4/1985", "1985-04-03"),  # UK order: day first
        ("03.04.85", "1985-04-03"),
        ("3-4-1985", "1985-04-03"),
        ("3 April 1985", "1985-04-03"),
        ("3rd of April 1985", "1985-04-03"),
        ("April 3rd, 1985", "1985-04-03"),
        ("12-Sep-72", "1972-09-12"),
        ("1985-4-3T00:00:00", "1985-04-03"),
        ("04/13/1985", "1985-04-13"),  # 13 cannot be a month: read month first
        ("30/02/1990", "1990-02-30"),  # kept as typed: a typo of a real date
    ],
)
def test_dates_of_birth_are_read_as_people_write_them(written: str, iso: str) -> None:
    assert parse_date_of_birth(written) == iso


@pytest.mark.parametrize("written", ["", "13/13/1990", "tomorrow", "1066-10-14", "3/4/2999"])
def test_impossible_dates_of_birth_are_none(written: str) -> None:
    assert parse_date_of_birth(written) is None


def test_names_are_cleaned_to_lower_case_ascii_words() -> None:
    assert clean_name("  O'Brien ") == "obrien"
    assert clean_name("Smith-Jones") == "smith jones"
    assert clean_name("José") == "jose"
    assert clean_name("Łukasz") == "lukasz"
    assert clean_name(" - ") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("bob", "robert"),
        ("rob", "bob"),
        ("liz", "elizabeth"),
        ("mohamed", "muhammad"),
        ("mohammed", "mohamad"),
        ("yusuf", "youssef"),
        ("abdul", "abdel"),
        ("aisha", "ayesha"),
    ],
)
def test_nicknames_and_transliterations_are_variants(a: str, b: str) -> None:
    keys_a, keys_b = first_name_variants(a), first_name_variants(b)
    assert keys_a is not None and keys_b is not None
    assert set(keys_a) & set(keys_b)


@pytest.mark.parametrize(("a", "b"), [("albert", "alfred"), ("john", "james"), ("ali", "alan")])
def test_distinct_names_are_not_variants(a: str, b: str) -> None:
    keys_a, keys_b = first_name_variants(a), first_name_variants(b)
    assert keys_a is not None and keys_b is not None
    assert not set(keys_a) & set(keys_b)


def test_double_barrelled_surnames_share_their_parts() -> None:
    both = surname_keys("smith jones")
    assert both is not None
    assert {"smith", "jones"} <= set(both)
    assert set(surname_keys("smith") or ()) & set(both)
    assert set(surname_keys("mcdonald") or ()) & set(surname_keys("mc donald") or ())
    assert set(surname_keys("chaudhry") or ()) & set(surname_keys("choudhury") or ())
    assert not set(surname_keys("al hassan") or ()) & set(surname_keys("al masri") or ())


def test_phonetic_codes_group_spellings() -> None:
    assert phonetic("smith") == phonetic("smyth")
    assert phonetic("smith") != phonetic("jones")
    assert phonetic(None) is None


def test_postcodes_are_normalised_with_sector_and_outward_code() -> None:
    assert split_postcode(" sw1a1aa ") == ("SW1A 1AA", "SW1A 1", "SW1A")
    assert split_postcode("ZN21-4NH") == ("ZN21 4NH", "ZN21 4", "ZN21")
    assert split_postcode("2615") == ("2615", None, None)  # not a UK postcode: kept
    assert split_postcode("") == (None, None, None)


def test_addresses_and_towns_are_cleaned() -> None:
    assert clean_address("12a, Acacia Rd.") == ("12a acacia road", ("12a", "acacia"))
    assert clean_address("71 OAK TERR") == clean_address("71 Oak Terrace")
    assert clean_town("St. Albans") == clean_town("Saint Albans") == "saint albans"


def test_phones_are_e164_and_the_fast_path_agrees_with_the_library() -> None:
    assert normalise_phone("07700 900123") == "+447700900123"
    assert normalise_phone("+44 7700 900123") == "+447700900123"
    assert normalise_phone("0044 7700 900123") == "+447700900123"
    assert normalise_phone("+44 (0)20 7946 0018") == "+442079460018"
    assert normalise_phone("12") is None
    rng = random.Random(8)
    shapes = ["{}", "+{}", "00{}", "0{}", "+44 {}", "+44 (0){}", "0044 {}", "({})", "0{} ext 2"]
    for _ in range(5_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 10, 11, 12])))
        text = rng.choice(shapes).format(digits)
        if rng.random() < 0.5:
            text = text[:5] + " " + text[5:]
        assert normalise_phone(text) == _library_phone(text.strip()), text


def test_emails_and_identifiers_are_cleaned() -> None:
    assert normalise_email(" Bob@Example.COM ") == "bob@example.com"
    assert normalise_email("not an email") is None
    assert clean_id_number("qq 12 34 56 c") == "QQ123456C"
    assert clean_id_number("-") is None


def test_prepared_columns_never_hold_protected_characteristics() -> None:
    for column in PREPARED_COLUMNS:
        assert not any(word in column for word in PROTECTED_PROPERTIES)


def _messy(record: PersonRecord, rng: random.Random) -> PersonRecord:
    """Vary the shapes people write things in, and blank some fields."""
    changes: dict[str, str | None] = {}
    iso = parse_date_of_birth(record.date_of_birth)
    if iso and rng.random() < 0.5:
        y, m, d = iso.split("-")
        changes["date_of_birth"] = rng.choice([f"{d}/{m}/{y}", f"{y}{m}{d}", f"{d}.{m}.{y[2:]}"])
    if rng.random() < 0.2:
        changes["postcode"] = (record.postcode or "").lower().replace(" ", "")
    if rng.random() < 0.1:
        changes["phone"] = "+44 (0)20 7946 0018"
    for name in ("first_name", "last_name", "address", "town", "email"):
        if rng.random() < 0.1:
            changes[name] = ""
    return dataclasses.replace(record, **changes)


def test_batch_preparation_equals_one_record_preparation_row_for_row() -> None:
    rng = random.Random(12)
    population = generate_population(3_000, seed=4)
    records = [_messy(r, rng) for r in population.records]
    records.append(PersonRecord("empty"))
    records.append(PersonRecord("odd", "  ", "x", "Ø'Neill-Łódź", "3rd April 85", "St", "2615"))
    table = prepare_people(records, chunk_size=1_000)
    assert table.column_names == list(PREPARED_COLUMNS)
    assert table.num_rows == len(records)
    for record, row in zip(records, table.to_pylist(), strict=True):
        assert row == prepare_person(record)
