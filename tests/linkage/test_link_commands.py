"""``vigil link dedupe | match | train`` on files, as a person would run them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.linkage.commands import link_app
from vigil.linkage.matching.model import PersonModel
from vigil.linkage.records import PERSON_COLUMNS, PersonRecord
from vigil.linkage.synthetic import generate_population, split_known_new, write_people_csv

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("link")
    population = generate_population(1_500, seed=31)
    known, new, _ = split_known_new(population, seed=31)
    paths = {
        "people": folder / "people.csv",
        "known": folder / "known.csv",
        "new": folder / "new.csv",
    }
    write_people_csv(population.records, paths["people"])
    write_people_csv(known, paths["known"])
    write_people_csv(new, paths["new"])
    return paths


@pytest.fixture(scope="module")
def trained_model(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "model.json"
    result = runner.invoke(link_app, ["train", str(files["people"]), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "trained on" in result.stdout
    return out


def test_train_writes_a_loadable_versioned_model(trained_model: Path) -> None:
    model = PersonModel.load(trained_model)
    assert model.version.startswith("vigil-person-")
    assert model.link_type == "dedupe_only"


def test_dedupe_writes_the_documented_pairs_file(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    saved = tmp_path / "saved.json"
    result = runner.invoke(
        link_app,
        ["dedupe", str(files["people"]), "--out", str(out), "--save-model", str(saved), "-q"],
    )
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert out.read_text().splitlines()[0] == "id_l,id_r,match_probability,match_weight,is_match"
    assert any(r["is_match"] == "true" for r in rows)
    model = PersonModel.load(saved)
    assert model.version in result.stdout


def test_dedupe_with_a_saved_model_and_threshold_uses_them(
    files: dict[str, Path], trained_model: Path, tmp_path: Path
) -> None:
    out_default, out_strict = tmp_path / "default.csv", tmp_path / "strict.csv"
    base = ["dedupe", str(files["people"]), "--model", str(trained_model), "-q"]
    first = runner.invoke(link_app, [*base, "--out", str(out_default)])
    second = runner.invoke(link_app, [*base, "--out", str(out_strict), "--threshold", "0.999"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    version = PersonModel.load(trained_model).version
    assert version in first.stdout and version in second.stdout
    default_rows, strict_rows = _rows(out_default), _rows(out_strict)
    assert [r["match_weight"] for r in default_rows] == [r["match_weight"] for r in strict_rows]
    strict_matches = [r for r in strict_rows if r["is_match"] == "true"]
    assert all(float(r["match_probability"]) >= 0.999 for r in strict_matches)
    assert len(strict_matches) < sum(r["is_match"] == "true" for r in default_rows)


def test_match_writes_best_candidates_per_new_person(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "matches.csv"
    result = runner.invoke(
        link_app,
        [
            "match",
            "--known",
            str(files["known"]),
            "--new",
            str(files["new"]),
            "--out",
            str(out),
            "--top",
            "3",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == (
        "new_id,known_id,match_probability,match_weight,is_match"
    )
    rows = _rows(out)
    new_ids = {r["id"] for r in _rows(files["new"])}
    known_ids = {r["id"] for r in _rows(files["known"])}
    per_new: dict[str, int] = {}
    for row in rows:
        assert row["new_id"] in new_ids and row["known_id"] in known_ids
        per_new[row["new_id"]] = per_new.get(row["new_id"], 0) + 1
    assert 1 <= max(per_new.values()) <= 3


def test_help_documents_the_options() -> None:
    result = runner.invoke(link_app, ["match", "--help"])
    assert result.exit_code == 0
    for option in ("--known", "--new", "--out", "--top", "--model", "--engine", "--threshold"):
        assert option in result.stdout
    assert "--save-model" in runner.invoke(link_app, ["dedupe", "--help"]).stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("first,last\nA,B\n", "missing column(s) id"),
        ("\x00\x01\x02 not text", "not a person CSV"),
        (",".join(PERSON_COLUMNS) + "\n", "no people"),
    ],
)
def test_bad_input_fails_clearly_without_output(tmp_path: Path, content: str, message: str) -> None:
    people = tmp_path / "people.csv"
    people.write_text(content)
    out = tmp_path / "pairs.csv"
    result = runner.invoke(link_app, ["dedupe", str(people), "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv"]


def test_a_missing_file_or_foreign_model_fails_clearly(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "pairs.csv"
    missing = runner.invoke(link_app, ["dedupe", str(tmp_path / "nope.csv"), "--out", str(out)])
    assert missing.exit_code == 1
    assert "no such file" in missing.stderr
    foreign = tmp_path / "model.json"
    foreign.write_text('{"link_type": "dedupe_only"}')
    bad_model = runner.invoke(
        link_app, ["dedupe", str(files["people"]), "--out", str(out), "--model", str(foreign)]
    )
    assert bad_model.exit_code == 1
    assert "not a Vigil person model" in bad_model.stderr
    assert not out.exists()


def test_threshold_must_be_a_probability(files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(
        link_app,
        ["dedupe", str(files["people"]), "--out", str(tmp_path / "o.csv"), "--threshold", "1.5"],
    )
    assert result.exit_code == 2
    assert "probability" in result.stderr


def test_an_existing_output_survives_a_failed_run(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    out.write_text("previous results\n")
    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(PERSON_COLUMNS) + "\n1,A,,B,,,,,,,\n1,C,,D,,,,,,,\n")
    result = runner.invoke(link_app, ["dedupe", str(broken), "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert "ids must be unique" in result.stderr
    assert out.read_text() == "previous results\n"


def test_progress_goes_to_stderr_not_stdout(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    people = tmp_path / "few.csv"
    write_people_csv(
        [PersonRecord(str(i), "Ann", None, "Lee", f"1990-01-{i + 1:02d}") for i in range(20)],
        people,
    )
    model = PersonModel.default()
    saved = tmp_path / "default.json"
    model.save(saved)
    result = runner.invoke(
        link_app, ["dedupe", str(people), "--out", str(out), "--model", str(saved)]
    )
    assert result.exit_code == 0, result.output
    assert "Scoring candidate pairs" in result.stderr
    assert "Scoring" not in result.stdout


def test_memory_limit_must_be_a_size(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = runner.invoke(
        link_app,
        ["dedupe", str(files["people"]), "--out", str(out), "--memory-limit", "3GB'; x", "-q"],
    )
    assert result.exit_code == 1
    assert "not a size" in result.stderr
    assert not out.exists()
