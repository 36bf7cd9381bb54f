"""The in-process scorer gives Splink's weights exactly, and explains them."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from rapidfuzz.distance import DamerauLevenshtein
from splink import DuckDBAPI, Linker
from splink.internals.realtime import compare_records

from vigil.linkage.matching.model import PersonModel, level_label
from vigil.linkage.matching.normalise import prepare_person
from vigil.linkage.matching.scorer import (
    PersonScorer,
    jaro_winkler,
    jaro_winkler_at_least,
    probability_from_weight,
)
from vigil.linkage.matching.tables import PREPARED_SCHEMA, prepare_people
from vigil.linkage.records import PersonRecord
from vigil.linkage.synthetic import generate_population

Perturb = Callable[[PersonRecord, random.Random], PersonRecord]


def _typo(text: str, rng: random.Random, *, at: int | None = None) -> str:
    i = rng.randrange(len(text)) if at is None else at
    letters = "abcdefghijklmnopqrstuvwxyz" if text[i].isalpha() else "0123456789"
    replacement = rng.choice([c for c in letters if c != text[i].lower()])
    if text[i].isupper():
        replacement = replacement.upper()
    return text[:i] + replacement + text[i + 1 :]


def _swap_day_month(dob: str) -> str:
    y, m, d = dob.split("-")
    return f"{y}-{d}-{m}" if int(d) <= 12 else f"{y}-{m}-{d}"


PERTURBATIONS: dict[str, Perturb] = {
    "same": lambda r, rng: r,
    "nickname": lambda r, rng: dataclasses.replace(r, first_name=rng.choice(["Bob", "Liz"])),
    "transliteration": lambda r, rng: dataclasses.replace(
        r, first_name=rng.choice(["Mohamed", "Muhammad", "Yousef"])
    ),
    "first typo": lambda r, rng: dataclasses.replace(
        r, first_name=_typo(r.first_name or "Anne", rng)
    ),
    "first far": lambda r, rng: dataclasses.replace(
        r, first_name=(r.first_name or "Anne")[:3] + "xyzw"
    ),
    "swapped": lambda r, rng: dataclasses.replace(
        r, first_name=r.last_name, last_name=r.first_name
    ),
    "double barrel": lambda r, rng: dataclasses.replace(
        r, last_name=f"{r.last_name or 'Smith'}-Jones"
    ),
    "surname typo": lambda r, rng: dataclasses.replace(
        r, last_name=_typo(r.last_name or "Smith", rng, at=len(r.last_name or "Smith") - 1)
    ),
    "surname far": lambda r, rng: dataclasses.replace(
        r, last_name=(r.last_name or "Smith")[:3] + "qrst"
    ),
    "no names": lambda r, rng: dataclasses.replace(r, first_name=None, last_name=None),
    "dob swapped": lambda r, rng: dataclasses.replace(
        r, date_of_birth=_swap_day_month(r.date_of_birth or "1980-03-07")
    ),
    "dob typo": lambda r, rng: dataclasses.replace(
        r, date_of_birth=_typo(r.date_of_birth or "1980-03-07", rng, at=9)
    ),
    "dob year only": lambda r, rng: dataclasses.replace(
        r, date_of_birth=(r.date_of_birth or "1980-03-07")[:4] + "-11-28"
    ),
    "dob other": lambda r, rng: dataclasses.replace(r, date_of_birth="1931-12-25"),
    "no dob": lambda r, rng: dataclasses.replace(r, date_of_birth=None),
    "postcode typo": lambda r, rng: dataclasses.replace(
        r, address=(r.address or "1 Elm Road") + " East", postcode=_typo("ZZ9 9ZZ", rng, at=6)
    ),
    "same sector": lambda r, rng: dataclasses.replace(
        r, address="99 Other Road", postcode=(r.postcode or "ZZ9 9ZZ")[:-2] + "QQ"
    ),
    "same outward": lambda r, rng: dataclasses.replace(
        r, address="99 Other Road", postcode=(r.postcode or "ZZ9 9ZZ")[:-3] + "1AA", town="X"
    ),
    "same postcode": lambda r, rng: dataclasses.replace(r, address="99 Other Road"),
    "written differently": lambda r, rng: dataclasses.replace(
        r, address=(r.address or "1 Elm Road").upper() + " FLAT"
    ),
    "moved in town": lambda r, rng: dataclasses.replace(
        r, address=r.address or "1 Elm Road", postcode=None, town=r.town or "Ashbridge"
    ),
    "moved away": lambda r, rng: dataclasses.replace(
        r, address="7 Far Lane", postcode="ZQ1 1AB", town="Elsewhere"
    ),
    "town typo": lambda r, rng: dataclasses.replace(
        r, address=None, postcode=None, town=_typo("Middlecote", rng, at=8)
    ),
    "no place": lambda r, rng: dataclasses.replace(r, address=None, postcode=None, town=None),
    "contacts differ": lambda r, rng: dataclasses.replace(
        r, phone="07700 900999", email="other@example.org", id_number="QQ000001A"
    ),
    "id typo": lambda r, rng: dataclasses.replace(
        r, id_number=_typo(r.id_number or "QQ123456A", rng, at=5)
    ),
}


def _complete(record: PersonRecord) -> PersonRecord:
    """Fill what the perturbations need so each hits the level it is meant to."""
    return dataclasses.replace(
        record,
        first_name=record.first_name or "Anne",
        last_name=record.last_name or "Smith",
        date_of_birth=record.date_of_birth or "1980-03-07",
        address=record.address or "1 Elm Road",
        postcode=record.postcode or "ZZ9 9ZZ",
        town=record.town or "Middlecote",
        phone=record.phone or "07700 900123",
        email=record.email or "anne@example.com",
        id_number=record.id_number or "QQ123456A",
    )


@pytest.fixture(scope="module")
def model() -> PersonModel:
    return PersonModel.default()


@pytest.fixture(scope="module")
def scorer(model: PersonModel) -> PersonScorer:
    return PersonScorer(model)


@pytest.fixture(scope="module")
def varied_pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """True pairs, random pairs and crafted perturbations of synthetic people."""
    population = generate_population(1500, seed=21)
    prepared = {r.id: prepare_person(r) for r in population.records}
    rng = random.Random(5)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    members: dict[str, list[str]] = {}
    for record in population.records:
        members.setdefault(population.cluster_of[record.id], []).append(record.id)
    for ids in members.values():
        if len(ids) > 1:
            pairs.append((prepared[ids[0]], prepared[ids[1]]))
    pairs = pairs[:150]
    records = population.records
    for _ in range(150):
        pairs.append((prepared[rng.choice(records).id], prepared[rng.choice(records).id]))
    for n, record in enumerate(rng.sample(records, 20)):
        base = _complete(record)
        for name, perturb in PERTURBATIONS.items():
            variant = dataclasses.replace(perturb(base, rng), id=f"{record.id}-{name}-{n}")
            pairs.append((prepare_person(base), prepare_person(variant)))
    return pairs


def _splink_scores(
    model: PersonModel, scorer: PersonScorer, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> list[float]:
    """Splink's match weights for the pairs (compare_records, DuckDB), tf values given."""
    schema = (
        PREPARED_SCHEMA.append(pa.field("tf_first_name", pa.float64()))
        .append(pa.field("tf_last_name", pa.float64()))
        .append(pa.field("pair", pa.int64()))
    )

    def side(record: dict[str, Any], pair: int) -> dict[str, Any]:
        row = dict(record, pair=pair)
        for column in ("first_name", "last_name"):
            row[f"tf_{column}"] = scorer.term_frequency(record, column)
        return row

    left = pa.Table.from_pylist([side(a, i) for i, (a, _) in enumerate(pairs)], schema=schema)
    right = pa.Table.from_pylist([side(b, i) for i, (_, b) in enumerate(pairs)], schema=schema)
    result = compare_records(
        left, right, model.splink_settings("duckdb"), DuckDBAPI(), join_condition="l.pair = r.pair"
    )
    rows = result.as_record_list()
    by_ids = {(r["id_l"], r["id_r"]): float(r["match_weight"]) for r in rows}
    return [by_ids[(a["id"], b["id"])] for a, b in pairs]


def test_scorer_weights_equal_splinks_on_varied_pairs(
    model: PersonModel,
    scorer: PersonScorer,
    varied_pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    assert len(varied_pairs) >= 500
    splink = _splink_scores(model, scorer, varied_pairs)
    ours = [scorer.score(a, b) for a, b in varied_pairs]
    worst = max(abs(s.match_weight - w) for s, w in zip(ours, splink, strict=True))
    assert worst < 1e-6
    for score, weight in zip(ours, splink, strict=True):
        assert score.match_probability == pytest.approx(probability_from_weight(weight), abs=1e-9)


def test_varied_pairs_reach_every_level_and_term_frequency_case(
    model: PersonModel,
    scorer: PersonScorer,
    varied_pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    """The equality above means something only if every level was exercised."""
    seen: Counter[tuple[str, str]] = Counter()
    tf_adjusted = tf_absent = 0
    for a, b in varied_pairs:
        for c in scorer.score(a, b).contributions:
            seen[(c.comparison, c.level)] += 1
            if c.level == "exact" and c.comparison in ("first_name", "last_name"):
                if c.tf_adjustment_weight != 0.0:
                    tf_adjusted += 1
                elif scorer.term_frequency(a, c.comparison) is None:
                    tf_absent += 1
    for comparison, levels in zip(model.comparisons, model.level_parameters(), strict=True):
        for level, saved in zip(comparison.levels, levels, strict=True):
            label = level_label(comparison, level, saved["label_for_charts"])
            assert seen[(comparison.name, label)] > 0, f"{comparison.name}: {label} never hit"
    assert tf_adjusted > 50
    assert tf_absent > 0  # names missing from the capped tf table: no adjustment


def test_absent_term_frequency_falls_back_as_splinks_registered_lookup_does(
    model: PersonModel, scorer: PersonScorer
) -> None:
    """With the model's tf tables registered in Splink, a name missing from them gets no
    adjustment in both — the documented fallback of the capped tables."""
    common = max(model.tf_tables["first_name"], key=model.tf_tables["first_name"].__getitem__)
    people = [
        PersonRecord("a1", common.title(), None, "Okonkwo", "1980-01-02"),
        PersonRecord("a2", "Zebedee", None, "Okonkwo", "1980-01-02"),
        PersonRecord("a3", "Thaddeus", None, "Smith", "1971-05-06"),
    ]
    left = [prepare_person(p) for p in people]
    right = [dict(p, id=p["id"].replace("a", "b")) for p in left]
    assert scorer.term_frequency(left[1], "first_name") is None

    db_api = DuckDBAPI()
    linker = Linker(db_api.register(prepare_people(people)), model.splink_settings("duckdb"))
    for column, table in model.tf_tables.items():
        lookup = pa.table({column: list(table), f"tf_{column}": list(table.values())})
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    schema = PREPARED_SCHEMA
    result = linker.inference.score_pairs(
        db_api.register(pa.Table.from_pylist(left, schema=schema)),
        db_api.register(pa.Table.from_pylist(right, schema=schema)),
    ).as_record_list()
    assert len(result) == 9
    for row in result:
        a = next(p for p in left if p["id"] == row["id_l"])
        b = next(p for p in right if p["id"] == row["id_r"])
        assert scorer.score(a, b).match_weight == pytest.approx(row["match_weight"], abs=1e-6)


def test_jaro_winkler_is_duckdbs_to_the_bit() -> None:
    rng = random.Random(3)
    alphabet = "abcdefgh"
    pairs = []
    for _ in range(20_000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        cut = rng.randint(0, len(a))
        b = a[:cut] + rng.choice(alphabet) + a[cut + rng.randint(0, 2) :]
        pairs.append((a, b))
    table = pa.table({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})
    con = duckdb.connect()
    con.register("t", table)
    duck = con.sql("SELECT jaro_winkler_similarity(a, b) FROM t").fetchall()
    mismatched = [
        (a, b) for (a, b), (d,) in zip(pairs, duck, strict=True) if jaro_winkler(a, b) != d
    ]
    assert mismatched == []
    for (a, b), (d,) in zip(pairs, duck, strict=True):
        for threshold in (0.8, 0.88, 0.9, 0.92, d):
            assert jaro_winkler_at_least(a, b, threshold) == (d >= threshold)


def test_damerau_levenshtein_is_duckdbs_unrestricted_distance() -> None:
    rng = random.Random(4)
    pairs = []
    for _ in range(5_000):
        a = "".join(rng.choice("abc12") for _ in range(rng.randint(1, 9)))
        b = "".join(rng.choice("abc12") for _ in range(rng.randint(1, 9)))
        pairs.append((a, b))
    con = duckdb.connect()
    con.register("t", pa.table({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}))
    duck = con.sql("SELECT damerau_levenshtein(a, b) FROM t").fetchall()
    assert all(
        DamerauLevenshtein.distance(a, b) == d for (a, b), (d,) in zip(pairs, duck, strict=True)
    )


def test_explanation_is_a_waterfall_from_prior_to_final(scorer: PersonScorer) -> None:
    a = prepare_person(PersonRecord("1", "Robert", None, "Smith", "1985-04-03", postcode="ZA1 1AA"))
    b = prepare_person(PersonRecord("2", "Bob", None, "Smith", "3/4/1985", postcode="za11aa"))
    score = scorer.score(a, b)
    steps = score.explanation()
    assert steps[0]["step"] == "prior"
    assert steps[0]["match_weight"] == score.prior_weight
    assert steps[-1]["step"] == "final"
    assert steps[-1]["match_probability"] == score.match_probability
    middle = steps[1:-1]
    assert [s["comparison"] for s in middle] == [c.name for c in scorer.model.comparisons]
    assert middle[-1]["cumulative_match_weight"] == pytest.approx(score.match_weight)
    first = next(s for s in middle if s["comparison"] == "first_name")
    assert (first["level"], first["left"], first["right"]) == (
        "nickname or transliteration",
        "robert",
        "bob",
    )
    assert math.isclose(
        sum(s["match_weight"] + s["tf_adjustment_weight"] for s in steps[:-1]), score.match_weight
    )


def test_scores_survive_a_json_round_trip_of_prepared_rows(scorer: PersonScorer) -> None:
    """The store keeps prepared rows as JSON; lists come back as lists, None as null."""
    import orjson

    a = prepare_person(PersonRecord("1", "Aisha", None, "Khan-Ali", "1990-01-02", "1 Elm Rd"))
    b = prepare_person(PersonRecord("2", "Ayesha", None, "Ali", "02/01/1990", "1 Elm Road"))
    direct = scorer.score(a, b)
    stored = scorer.score(orjson.loads(orjson.dumps(a)), orjson.loads(orjson.dumps(b)))
    assert stored == direct
    assert direct.match_probability > 0.5
