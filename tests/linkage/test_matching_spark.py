"""``--engine spark`` scores the same pairs, with the same weights, as DuckDB."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.linkage.commands import link_app
from vigil.linkage.matching.model import PersonModel
from vigil.linkage.synthetic import generate_population, write_people_csv

pytest.importorskip("pyspark", reason="Spark is an optional extra (vigil[spark])")


def _pairs(path: Path) -> dict[tuple[str, str], tuple[float, str]]:
    with path.open(newline="") as handle:
        return {
            (r["id_l"], r["id_r"]): (float(r["match_weight"]), r["is_match"])
            for r in csv.DictReader(handle)
        }


@pytest.mark.slow
def test_spark_local_mode_gives_the_same_pairs_as_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_SPARK_MASTER", "local[1]")
    people = tmp_path / "people.csv"
    write_people_csv(generate_population(300, seed=5).records, people)
    model = tmp_path / "model.json"
    PersonModel.default().save(model)
    runner = CliRunner()
    outputs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.csv"
        result = runner.invoke(
            link_app,
            [
                "dedupe", str(people), "--out", str(out), "--model", str(model),
                "--engine", engine, "--min-probability", "1e-6", "-q",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs[engine] = _pairs(out)
    duck, spark = outputs["duckdb"], outputs["spark"]
    assert len(duck) > 100
    assert set(spark) == set(duck)
    for pair, (weight, is_match) in duck.items():
        assert spark[pair][0] == pytest.approx(weight, abs=1e-6)
        assert spark[pair][1] == is_match
