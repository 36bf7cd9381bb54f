"""Training the person model with Splink, and assembling its model file.

Training follows Splink's own examples: the prior from deterministic rules, u from random
pairs, m by expectation maximisation over several blocking rules (names, date of birth,
and each exact identifier the data has), each estimating the comparisons it does not
block on. Postcode, address and town are one "location" comparison, not three: they say
the same thing about a home, and summing them as independent evidence made relatives
living together look like one person.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vigil.linkage.matching.model import (
    DEFAULT_THRESHOLD,
    MODEL_FORMAT,
    MODEL_NAME,
    PERSON_COMPARISONS,
    TF_TABLE_CAP,
    Comparison,
    ModelError,
    PersonModel,
    checked_probability,
    with_version,
)

if TYPE_CHECKING:  # Splink is imported only by the commands that train
    from splink import Linker

TF_COLUMNS = ("first_name", "last_name")
DETERMINISTIC_RULES = (("first_name", "last_name", "dob"), ("id_number",))
"""Rules that pair almost only true matches, for the prior (Splink's recall method)."""
DETERMINISTIC_RECALL = 0.7
EM_RULES = (("first_name", "last_name"), ("dob",), ("id_number",), ("email",), ("phone",))
"""EM blocking rules, as in Splink's examples: names estimate everything but names, date
of birth the names. Pairs sharing an identifier are nearly all true matches, so those
sessions (run when the data has enough of them) correct what the first two get wrong
when relatives share names and homes: the names session would otherwise count a father
and son of one name at one address as a match whose dates of birth disagree."""
EM_MIN_PAIRS = 50
"""An EM session with fewer candidate pairs than this is skipped (no such identifiers)."""


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    max_pairs_for_u: float = 2e6
    deterministic_recall: float = DETERMINISTIC_RECALL
    seed: int = 6
    threshold: float = DEFAULT_THRESHOLD
    tf_table_cap: int = TF_TABLE_CAP
    em_rules: tuple[tuple[str, ...], ...] = EM_RULES
    max_training_rows: int = 250_000


def train_on_linker(
    linker: Linker,
    *,
    training_rows: int,
    options: TrainingOptions | None = None,
    engine: str = "duckdb",
) -> PersonModel:
    """Estimate the model's parameters on the data registered with ``linker`` (made from
    ``settings_creator``) and return it as a saved-model object."""
    from splink import block_on

    opts = options or TrainingOptions()
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on(*cols) for cols in DETERMINISTIC_RULES], recall=opts.deterministic_recall
    )
    training.estimate_u_using_random_sampling(max_pairs=opts.max_pairs_for_u, seed=opts.seed)
    sessions = 0
    for cols in opts.em_rules:
        if _pair_count(linker, cols) < EM_MIN_PAIRS:
            continue
        training.estimate_parameters_using_expectation_maximisation(
            block_on(*cols), estimate_without_term_frequencies=True
        )
        sessions += 1
    if sessions == 0:
        raise ModelError("too little data to train a model: no EM blocking rule found pairs")
    splink_json = linker.misc.save_model_to_json()
    tf_tables = {column: _tf_table(linker, column, opts.tf_table_cap) for column in TF_COLUMNS}
    return model_from_parts(
        splink_json,
        tf_tables=tf_tables,
        training_rows=training_rows,
        threshold=opts.threshold,
        engine=engine,
        max_pairs_for_u=opts.max_pairs_for_u,
    )


def _pair_count(linker: Linker, columns: tuple[str, ...]) -> int:
    """Pairs of records that agree on ``columns`` across all inputs (an upper bound on
    what an EM session blocked on them would see; enough to skip an empty one)."""
    tables = [frame.physical_name for frame in linker._input_tables_dict.values()]
    cols = ", ".join(columns)
    present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    # Column and table names come from the model's constants and Splink, never input.
    union = " UNION ALL ".join(f"SELECT {cols} FROM {t}" for t in tables)  # noqa: S608
    sql = (
        f"SELECT sum(n * (n - 1) / 2) AS pairs FROM (SELECT count(*) AS n FROM ({union}) "  # noqa: S608
        f"WHERE {present} GROUP BY {cols})"
    )
    frame = linker.misc.query_sql(sql, output_type="pandas")  # type: ignore[no-untyped-call]
    value = frame["pairs"].iloc[0]
    return 0 if value is None or value != value else int(value)


def model_from_parts(
    splink_json: Mapping[str, Any],
    *,
    tf_tables: Mapping[str, Mapping[str, float]],
    training_rows: int,
    threshold: float,
    engine: str = "duckdb",
    max_pairs_for_u: float = 2e6,
    comparisons: Sequence[Comparison] = PERSON_COMPARISONS,
) -> PersonModel:
    """Assemble a model file from Splink's model JSON, filling parameters EM left unset."""
    splink = _complete_parameters(deepcopy(dict(splink_json)), max_pairs_for_u)
    splink["sql_dialect"] = splink.get("sql_dialect", engine)
    data = {
        "format": MODEL_FORMAT,
        "name": MODEL_NAME,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_rows": int(training_rows),
        "engine": engine,
        "threshold_match_probability": checked_probability(threshold),
        "comparisons": [c.as_dict() for c in comparisons],
        "tf_table_cap": TF_TABLE_CAP,
        "tf_tables": {k: dict(v) for k, v in tf_tables.items()},
        "splink": splink,
    }
    return PersonModel(with_version(data))


def _complete_parameters(splink: dict[str, Any], max_pairs_for_u: float) -> dict[str, Any]:
    """Give every level an explicit m and u, so Splink and the scorer use the same numbers.

    A level never seen among random pairs gets u = 1 / (2 × pairs sampled), rarer than
    anything the sample could show. A level EM never saw among likely matches gets m = u:
    no evidence either way, rather than a weight invented from nothing.
    """
    unseen_u = 1.0 / (2.0 * max_pairs_for_u)
    for comparison in splink["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not _is_number(u):
                level["u_probability"] = u = unseen_u
            if not _is_number(m):
                level["m_probability"] = u
    return splink


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value > 0


def _tf_table(linker: Linker, column: str, cap: int) -> dict[str, float]:
    """The ``cap`` most frequent values of a column and their term frequencies."""
    table = linker.table_management.compute_tf_table(column)
    rows = table.as_record_list()
    rows.sort(key=lambda r: (-float(r[f"tf_{column}"]), str(r[column])))
    return {str(r[column]): float(r[f"tf_{column}"]) for r in rows[:cap] if r[column] is not None}
