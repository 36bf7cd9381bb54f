"""``vigil link …``: batch person matching on CSV files (dedupe, match, train).

The files are the documented person CSV (``id, first_name, middle_name, last_name,
date_of_birth, address, postcode, town, phone, email, id_number``). Each command trains a
model on the data it is given unless ``--model`` names a saved one, so it works on a fresh
machine with nothing but the files; ``--save-model`` keeps what was trained for reuse and
for the online matcher.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from vigil.linkage.matching.batch_terms import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_MIN_PROBABILITY,
    InputError,
)
from vigil.linkage.matching.model import DEFAULT_THRESHOLD, ModelError, PersonModel

link_app = typer.Typer(
    help="Probabilistic person matching on person CSV files (Splink on DuckDB or Spark).",
    no_args_is_help=True,
)
_err = Console(stderr=True)


class EngineChoice(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _probability(value: float | None) -> float | None:
    if value is not None and not 0.0 < value < 1.0:
        raise typer.BadParameter("must be a probability strictly between 0 and 1")
    return value


ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Use this saved model instead of training one on the data given.",
        dir_okay=False,
    ),
]
SaveModelOption = Annotated[
    Path | None,
    typer.Option(
        "--save-model", help="Save the model used (trained or loaded) here (JSON).", dir_okay=False
    ),
]
EngineOption = Annotated[
    EngineChoice,
    typer.Option(help="Where Splink runs: DuckDB in process, or Spark (local) for big batches."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        help="is_match when match_probability >= P (default: the model's threshold; "
        f"{DEFAULT_THRESHOLD} for a model trained here without labels).",
        callback=_probability,
    ),
]
FloorOption = Annotated[
    float,
    typer.Option(
        "--min-probability",
        help="Leave out pairs scored below this probability (they are not candidates).",
        callback=_probability,
    ),
]
MemoryOption = Annotated[
    str,
    typer.Option(help="DuckDB working memory; beyond it DuckDB spills to a temp directory."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


def _load_model(path: Path | None) -> PersonModel | None:
    return PersonModel.load(path) if path is not None else None


def _fail(message: str) -> None:
    # One unwrapped line, the message as written (a path may hold "[" that is not markup).
    _err.print(Text.assemble(("error: ", "red"), message), soft_wrap=True, highlight=False)
    raise typer.Exit(1)


@link_app.command()
def dedupe(
    persons: Annotated[
        Path, typer.Argument(metavar="PERSONS.csv", help="The person CSV to deduplicate.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="PAIRS.csv",
            help="Write id_l,id_r,match_probability,match_weight,is_match here.",
            dir_okay=False,
        ),
    ],
    model: ModelOption = None,
    save_model: SaveModelOption = None,
    engine: EngineOption = EngineChoice.duckdb,
    threshold: ThresholdOption = None,
    min_probability: FloorOption = DEFAULT_MIN_PROBABILITY,
    memory_limit: MemoryOption = DEFAULT_MEMORY_LIMIT,
    quiet: QuietOption = False,
) -> None:
    """Find pairs of rows in one person CSV that are probably the same person.

    Writes every candidate pair scored at or above --min-probability, sorted by id_l and
    id_r; is_match marks those at or above the threshold.
    """
    from vigil.linkage.matching import batch  # Splink, DuckDB and Arrow: for these commands only

    try:
        with _progress(quiet) as progress:
            result = batch.dedupe(
                persons, out, model=_load_model(model), engine=engine.value,
                threshold=threshold, min_probability=min_probability,
                save_model=save_model, memory_limit=memory_limit, progress=progress,
            )  # fmt: skip
    except (InputError, ModelError) as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"{result.pairs_written:,} candidate pairs from {result.rows_in:,} people written to "
        f"{out} (model {result.model.version}, is_match at p >= {result.threshold:g})"
    )


@link_app.command()
def match(
    known: Annotated[
        Path,
        typer.Option(
            "--known", metavar="K.csv", help="Person CSV of people already known.", dir_okay=False
        ),
    ],
    new: Annotated[
        Path,
        typer.Option(
            "--new", metavar="N.csv", help="Person CSV of people to look up.", dir_okay=False
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="MATCHES.csv",
            help="Write new_id,known_id,match_probability,match_weight,is_match here.",
            dir_okay=False,
        ),
    ],
    top: Annotated[
        int,
        typer.Option(
            min=1,
            help="How many of the best known candidates to write per new person (default 1: "
            "only the most likely; more for review). New people with no candidate at or "
            "above --min-probability get no row.",
        ),
    ] = 1,
    model: ModelOption = None,
    save_model: SaveModelOption = None,
    engine: EngineOption = EngineChoice.duckdb,
    threshold: ThresholdOption = None,
    min_probability: FloorOption = DEFAULT_MIN_PROBABILITY,
    memory_limit: MemoryOption = DEFAULT_MEMORY_LIMIT,
    quiet: QuietOption = False,
) -> None:
    """Match each new person against the known people: their best candidates."""
    from vigil.linkage.matching import batch  # Splink, DuckDB and Arrow: for these commands only

    try:
        with _progress(quiet) as progress:
            result = batch.match(
                known, new, out, top=top, model=_load_model(model), engine=engine.value,
                threshold=threshold, min_probability=min_probability,
                save_model=save_model, memory_limit=memory_limit, progress=progress,
            )  # fmt: skip
    except (InputError, ModelError) as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"{result.pairs_written:,} candidates for new people written to {out} "
        f"(model {result.model.version}, is_match at p >= {result.threshold:g})"
    )


@link_app.command()
def train(
    persons: Annotated[
        Path, typer.Argument(metavar="PERSONS.csv", help="The person CSV to learn from.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="MODEL.json", help="Write the trained model here.", dir_okay=False
        ),
    ],
    engine: EngineOption = EngineChoice.duckdb,
    threshold: ThresholdOption = None,
    memory_limit: MemoryOption = DEFAULT_MEMORY_LIMIT,
    quiet: QuietOption = False,
) -> None:
    """Train a person model on a CSV (unsupervised: no labels needed) and save it."""
    from vigil.linkage.matching import batch

    try:
        with _progress(quiet) as progress:
            trained = batch.train(
                persons, out, engine=engine.value, threshold=threshold,
                memory_limit=memory_limit, progress=progress,
            )  # fmt: skip
    except (InputError, ModelError) as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"model {trained.version} trained on {trained.training_rows:,} people written to "
        f"{out} (is_match at p >= {trained.threshold_probability:g})"
    )


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(quiet: bool) -> _NoProgress | Progress:
    from vigil.linkage.matching.batch import progress_bar

    return _NoProgress() if quiet else progress_bar()
