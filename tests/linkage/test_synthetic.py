"""The synthetic population is what every linkage figure is measured on, so its truth must
be consistent, its noise present at the rates asked, and every value visibly synthetic."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from vigil.linkage.records import PERSON_COLUMNS, PersonRecord
from vigil.linkage.synthetic import (
    Population,
    generate_population,
    iter_population,
    split_known_new,
    write_people_csv,
)

N = 6000


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate_population(N, seed=11)


def _by_person(pop: Population) -> dict[str, list[PersonRecord]]:
    groups: dict[str, list[PersonRecord]] = defaultdict(list)
    for record in pop.records:
        groups[pop.cluster_of[record.id]].append(record)
    return groups


def _parse_date(text: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise AssertionError(f"unreadable date {text!r}")


def test_the_same_seed_gives_the_same_population_and_another_seed_does_not() -> None:
    a = generate_population(800, seed=5)
    b = generate_population(800, seed=5)
    c = generate_population(800, seed=6)
    assert a.records == b.records
    assert a.cluster_of == b.cluster_of
    assert a.records != c.records


def test_every_record_has_a_unique_id_and_exactly_one_person(pop: Population) -> None:
    ids = [r.id for r in pop.records]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(pop.cluster_of)
    assert len(set(pop.cluster_of.values())) == N
    assert set(pop.primary_of) == set(pop.cluster_of.values())
    assert all(pop.cluster_of[rid] == pid for pid, rid in pop.primary_of.items())


def test_records_are_shuffled_so_order_says_nothing_about_the_person(pop: Population) -> None:
    people = [pop.cluster_of[r.id] for r in pop.records]
    same_as_next = sum(a == b for a, b in itertools.pairwise(people))
    assert same_as_next < 0.01 * len(people)


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_the_share_of_people_seen_again_follows_the_rate(rate: float) -> None:
    population = generate_population(4000, seed=3, resighting_rate=rate)
    sizes = Counter(population.cluster_of.values())
    seen_again = sum(1 for size in sizes.values() if size > 1) / len(sizes)
    assert abs(seen_again - rate) < 0.03
    assert max(sizes.values()) <= 4


def test_streaming_gives_the_same_records_as_the_whole_population() -> None:
    streamed = list(iter_population(500, seed=9))
    whole = generate_population(500, seed=9)
    assert sorted(s.record.id for s in streamed) == sorted(r.id for r in whole.records)
    assert {s.record.id: s.person_id for s in streamed} == whole.cluster_of
    assert sum(s.primary for s in streamed) == 500


def test_phones_come_only_from_the_drama_range_and_are_never_shared(pop: Population) -> None:
    owner: dict[str, str] = {}
    phones = 0
    for r in pop.records:
        if not r.phone:
            continue
        phones += 1
        digits = re.sub(r"\D", "", r.phone)
        national = "0" + digits[2:] if digits.startswith("44") else digits
        assert re.fullmatch(r"07700900\d{3}", national), r.phone
        assert owner.setdefault(national, pop.cluster_of[r.id]) == pop.cluster_of[r.id]
    assert phones > 0
    assert len(owner) <= 1000


def test_emails_are_only_at_example_domains_and_never_shared(pop: Population) -> None:
    owner: dict[str, str] = {}
    for r in pop.records:
        if r.email:
            assert re.fullmatch(r"[a-z0-9.]+@example\.(com|org|net)", r.email), r.email
            assert owner.setdefault(r.email, pop.cluster_of[r.id]) == pop.cluster_of[r.id]
    assert 0.3 < len(owner) / N < 0.5


def test_postcodes_ids_and_dates_are_synthetic_and_well_formed(pop: Population) -> None:
    shape = re.compile(r"Z[A-DF-Y]\d{1,2} ?\d[ABD-HJLNP-UW-Z]{2}")
    for r in pop.records:
        if r.postcode:
            assert shape.fullmatch(r.postcode.upper()), r.postcode
        if r.id_number:
            assert re.fullmatch(r"QQ\d{6}[A-D]", r.id_number), r.id_number
        if r.date_of_birth:
            assert dt.date(1920, 1, 1) <= _parse_date(r.date_of_birth) <= dt.date(2010, 1, 1)
        if r.address:
            assert re.fullmatch(r"\d{1,3},? [A-Za-z ]+", r.address), r.address


def test_names_follow_a_skewed_frequency_so_namesakes_exist(pop: Population) -> None:
    primaries = [r for r in pop.records if pop.primary_of[pop.cluster_of[r.id]] == r.id]
    surnames = Counter(r.last_name for r in primaries)
    assert len(surnames) > 200
    _top, count = surnames.most_common(1)[0]
    assert count > 10 * sorted(surnames.values())[len(surnames) // 2]
    full = Counter((r.first_name, r.last_name) for r in primaries)
    assert sum(1 for c in full.values() if c > 1) > 50  # namesakes: one name, many people


def test_households_give_relatives_and_twins_at_one_address(pop: Population) -> None:
    primaries = [r for r in pop.records if pop.primary_of[pop.cluster_of[r.id]] == r.id]
    homes: dict[tuple[str | None, str | None, str | None], list[PersonRecord]] = defaultdict(list)
    for r in primaries:
        if r.address and r.postcode:
            homes[(r.address, r.postcode, r.last_name)].append(r)
    relatives = twins = 0
    for members in homes.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a.first_name != b.first_name:
                    relatives += 1
                    twins += a.date_of_birth == b.date_of_birth is not None
    assert relatives > 0.1 * N
    assert twins > 0


def test_resightings_carry_each_kind_of_noise(pop: Population) -> None:
    seen = Counter[str]()
    for person, records in _by_person(pop).items():
        base = next(r for r in records if r.id == pop.primary_of[person])
        for r in records:
            if r is base:
                continue
            if base.first_name and r.first_name and r.first_name != base.first_name:
                seen["first name differs"] += 1
                if r.first_name == base.last_name:
                    seen["swapped"] += 1
            if base.last_name and r.last_name and "-" in r.last_name.strip("-"):
                seen["double-barrelled"] += "-" not in base.last_name
            if base.date_of_birth and r.date_of_birth:
                if r.date_of_birth != base.date_of_birth:
                    seen["dob written differently"] += 1
                if _parse_date(r.date_of_birth) != _parse_date(base.date_of_birth):
                    seen["dob differs"] += 1
            if base.postcode and r.postcode:
                seen["moved"] += r.postcode.replace(" ", "").upper() != base.postcode.replace(
                    " ", ""
                )
            seen["missing dob"] += r.date_of_birth is None
    resightings = len(pop.records) - N
    for kind in ("first name differs", "dob differs", "dob written differently", "moved"):
        assert seen[kind] > 0.03 * resightings, (kind, seen)
    for kind in ("swapped", "double-barrelled", "missing dob"):
        assert seen[kind] > 0, (kind, seen)
    assert seen["first name differs"] < 0.6 * resightings


def test_nicknames_and_transliterations_appear_among_resightings() -> None:
    population = generate_population(15000, seed=2)
    pairs = set()
    for records in _by_person(population).values():
        names = {r.first_name for r in records if r.first_name}
        pairs |= {frozenset((a, b)) for a in names for b in names if a != b}
    assert frozenset(("Robert", "Bob")) in pairs or frozenset(("Robert", "Rob")) in pairs
    assert any(p <= {"Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed"} for p in pairs)


def test_split_known_new_truth_points_at_the_same_persons_known_record(
    pop: Population,
) -> None:
    known, new, truth = split_known_new(pop, seed=4)
    known_ids = {r.id for r in known}
    known_people = {pop.cluster_of[r.id] for r in known}
    assert len(known_people) == len(known)  # one record per known person
    assert set(truth) == {r.id for r in new}
    assert not known_ids & set(truth)
    unseen = 0
    for rid, known_id in truth.items():
        if known_id is None:
            unseen += 1
            assert pop.cluster_of[rid] not in known_people
        else:
            assert known_id in known_ids
            assert pop.cluster_of[known_id] == pop.cluster_of[rid]
    assert 0.05 * N < unseen < 0.15 * N
    assert len(known) + unseen == N


def test_people_csv_has_the_documented_header_and_round_trips(
    pop: Population, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    write_people_csv(pop.records[:300], path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == PERSON_COLUMNS
    back = [PersonRecord(*(value or None for value in row)) for row in rows[1:]]
    assert back == pop.records[:300]


def test_impossible_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="resighting_rate"):
        generate_population(10, seed=1, resighting_rate=1.5)
    with pytest.raises(ValueError, match="n_people"):
        generate_population(-1, seed=1)
