"""Score a pair of prepared people in process, with Splink's exact weights, in microseconds.

Online matching compares one new person with the few candidates the blocking index
returns. Splink's own scoring of a pair goes through SQL and costs about a second; this
scorer evaluates the same levels in Python and sums the same weights, so a match found
online is the match the batch model would have made — ``tests/linkage/
test_matching_scorer.py`` proves the weights equal Splink's on hundreds of varied pairs.

Exactness needs the SQL engine's arithmetic, not just its definitions: Jaro-Winkler is
DuckDB's, whose prefix boost is a fused multiply-add (one rounding, not two), reproduced
here with exact fractions whenever a similarity lies within a hair of a threshold;
Damerau-Levenshtein is the unrestricted distance DuckDB computes (rapidfuzz's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from rapidfuzz.distance import DamerauLevenshtein, Jaro

from vigil.linkage.matching.model import Level, PersonModel, level_label
from vigil.linkage.matching.normalise import prepare_person
from vigil.linkage.records import PersonRecord

Prepared = Mapping[str, Any]
Predicate = Callable[[Prepared, Prepared], bool]

_M_U_CLAMP_MIN = 1e-300  # Splink clamps m and u before taking log2(m / u)


class Contribution(NamedTuple):
    """What one comparison added to a pair's match weight, and why (``left``/``right``:
    the values compared, for the analyst). A tuple, not a dataclass: a score builds
    seven of these and online matching builds scores by the hundred."""

    comparison: str
    level: str
    match_weight: float
    tf_adjustment_weight: float
    left: str | None = None
    right: str | None = None

    @property
    def total(self) -> float:
        return self.match_weight + self.tf_adjustment_weight


class PairScore(NamedTuple):
    match_weight: float
    match_probability: float
    prior_weight: float
    contributions: tuple[Contribution, ...]

    def explanation(self) -> list[dict[str, Any]]:
        """The waterfall as data: the prior, each comparison, then the final score, each
        with the running total so a chart can draw it without recomputing anything."""
        running = self.prior_weight
        steps: list[dict[str, Any]] = [
            {
                "step": "prior",
                "comparison": "prior",
                "level": "two records chosen at random",
                "match_weight": self.prior_weight,
                "tf_adjustment_weight": 0.0,
                "cumulative_match_weight": running,
            }
        ]
        for c in self.contributions:
            running += c.total
            steps.append(
                {
                    "step": "comparison",
                    "comparison": c.comparison,
                    "level": c.level,
                    "left": c.left,
                    "right": c.right,
                    "match_weight": c.match_weight,
                    "tf_adjustment_weight": c.tf_adjustment_weight,
                    "cumulative_match_weight": running,
                }
            )
        steps.append(
            {
                "step": "final",
                "comparison": "final",
                "level": "match probability",
                "match_weight": self.match_weight,
                "match_probability": self.match_probability,
                "cumulative_match_weight": self.match_weight,
            }
        )
        return steps


def probability_from_weight(match_weight: float) -> float:
    """Splink's formula, stable for large weights of either sign."""
    if match_weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -match_weight))
    odds = math.pow(2.0, match_weight)
    return odds / (1.0 + odds)


# String functions as DuckDB computes them ---------------------------------------------------


def jaro_winkler(a: str, b: str) -> float:
    """DuckDB's ``jaro_winkler_similarity`` (prefix weight 0.1, boost above 0.7), to the bit.

    DuckDB's Jaro equals rapidfuzz's; its boost ``sim + p·0.1·(1 − sim)`` is compiled as a
    fused multiply-add, which plain Python floats round differently in the last place.
    """
    sim = Jaro.similarity(a, b)
    if sim <= 0.7:
        return sim
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    if prefix == 0:
        return sim
    boosted = Fraction(prefix * 0.1) * Fraction(1.0 - sim) + Fraction(sim)
    return min(float(boosted), 1.0)


def _fast_jaro_winkler(a: str, b: str) -> float:
    sim = Jaro.similarity(a, b)
    if sim <= 0.7:
        return sim
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return min(sim + prefix * 0.1 * (1.0 - sim), 1.0)


def jaro_winkler_at_least(a: str, b: str, threshold: float) -> bool:
    """``jaro_winkler_similarity(a, b) >= threshold`` as DuckDB decides it; exact
    arithmetic only when the cheap value is within rounding of the threshold."""
    value = _fast_jaro_winkler(a, b)
    if abs(value - threshold) < 1e-9:
        value = jaro_winkler(a, b)
    return value >= threshold


# Levels as predicates -------------------------------------------------------------------------


def _guard(kind: str | None) -> Callable[[str, str, Prepared, Prepared], bool]:
    if kind is None:
        return lambda a, b, left, right: True
    if kind == "date":
        return lambda a, b, left, right: a[:4] == b[:4] or a[5:10] == b[5:10]
    if kind == "postcode":

        def postcode(a: str, b: str, left: Prepared, right: Prepared) -> bool:
            out_l, out_r = left.get("postcode_outward"), right.get("postcode_outward")
            return out_l is None or out_r is None or out_l == out_r or a[-3:] == b[-3:]

        return postcode
    if kind == "ends":
        return lambda a, b, left, right: (
            len(a) < 3 or len(b) < 3 or a[:1] == b[:1] or a[-1:] == b[-1:]
        )
    raise ValueError(f"unknown guard {kind!r}")


def predicate(level: Level) -> Predicate:
    """The level's SQL condition as a Python function, NULL semantics included: any NULL
    operand makes a SQL condition not true, so it is False here."""
    col = level.column or ""
    kind = level.kind
    if kind in ("all", "any"):
        parts = tuple(predicate(part) for part in level.parts)
        if kind == "all":

            def every(left: Prepared, right: Prepared) -> bool:
                for part in parts:  # noqa: SIM110 - a loop beats all(<generator>) here
                    if not part(left, right):
                        return False
                return True

            return every

        def some(left: Prepared, right: Prepared) -> bool:
            for part in parts:  # noqa: SIM110 - a loop beats any(<generator>) here
                if part(left, right):
                    return True
            return False

        return some
    if kind == "null_all":
        columns = level.columns
        return lambda left, right: (
            all(left.get(c) is None for c in columns) or all(right.get(c) is None for c in columns)
        )
    if kind == "null":
        return lambda left, right: left.get(col) is None or right.get(col) is None
    if kind == "else":
        return lambda left, right: True
    if kind == "reversed":
        other = level.other or ""

        def swapped(left: Prepared, right: Prepared) -> bool:
            a, b = left.get(col), right.get(other)
            c, d = right.get(col), left.get(other)
            return None not in (a, b, c, d) and a == b and c == d

        return swapped

    def both(fn: Callable[[Any, Any, Prepared, Prepared], bool]) -> Predicate:
        def check(left: Prepared, right: Prepared) -> bool:
            a, b = left.get(col), right.get(col)
            return a is not None and b is not None and fn(a, b, left, right)

        return check

    if kind == "exact":
        # NULL = anything is not true; a non-null value never equals None.
        return lambda left, right: (a := left.get(col)) is not None and a == right.get(col)
    if kind == "overlap":
        return both(lambda a, b, left, right: not set(a).isdisjoint(b))
    if kind == "array_intersect":
        size = level.size or 1
        return both(lambda a, b, left, right: len(set(a).intersection(b)) >= size)
    if kind == "jaro_winkler":
        threshold = float(level.threshold or 0.0)
        return both(lambda a, b, left, right: jaro_winkler_at_least(a, b, threshold))
    if kind == "damerau_levenshtein":
        size, guard = level.size or 1, _guard(level.guard)
        return both(
            lambda a, b, left, right: (
                guard(a, b, left, right) and DamerauLevenshtein.distance(a, b) <= size
            )
        )
    if kind == "day_month_swapped":
        return both(
            lambda a, b, left, right: a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]
        )
    if kind == "same_year":
        return both(lambda a, b, left, right: a[:4] == b[:4])
    raise ValueError(f"unknown comparison level kind {kind!r}")


@dataclass(frozen=True, slots=True)
class _CompiledLevel:
    label: str
    test: Predicate
    match_weight: float
    tf_column: str | None
    tf_weight: float
    tf_log2_u_exact: float
    tf_minimum_u: float


@dataclass(frozen=True, slots=True)
class _CompiledComparison:
    name: str
    shown: Callable[[Prepared], str | None]  # the values an explanation shows for a side
    levels: tuple[_CompiledLevel, ...]


def _level_weight(saved: Mapping[str, Any]) -> float:
    if saved.get("is_null_level"):
        return 0.0
    m = max(float(saved["m_probability"]), _M_U_CLAMP_MIN)
    u = max(float(saved["u_probability"]), _M_U_CLAMP_MIN)
    return math.log2(m / u)


def _exact_u(levels: Sequence[Mapping[str, Any]], specs: tuple[Level, ...], column: str) -> float:
    """u of the exact-match level on the tf column, as Splink finds it for tf adjustments."""
    for spec, saved in zip(specs, levels, strict=True):
        if spec.kind == "exact" and spec.column == column:
            return float(saved["u_probability"])
    raise ValueError(f"no exact match level on {column} for its term-frequency adjustment")


class PersonScorer:
    """Applies a ``PersonModel`` to pairs of prepared people (dicts from ``prepare``).

    Term frequencies come from the model's tables unless ``tf_tables`` gives others (the
    store's own, say); a prepared dict carrying ``tf_<column>`` overrides both, as a
    hard-coded tf column does in Splink.
    """

    def __init__(
        self, model: PersonModel, tf_tables: Mapping[str, Mapping[str, float]] | None = None
    ) -> None:
        self.model = model
        self.tf_tables = {k: dict(v) for k, v in (tf_tables or model.tf_tables).items()}
        self.prior_weight = math.log2(model.prior_probability / (1 - model.prior_probability))
        compiled = []
        for spec, saved_levels in zip(model.comparisons, model.level_parameters(), strict=True):
            levels = []
            for level, saved in zip(spec.levels, saved_levels, strict=True):
                tf_column = saved.get("tf_adjustment_column")
                tf_weight = float(saved.get("tf_adjustment_weight", 1.0)) if tf_column else 0.0
                levels.append(
                    _CompiledLevel(
                        label=level_label(spec, level, saved.get("label_for_charts")),
                        test=predicate(level),
                        match_weight=_level_weight(saved),
                        tf_column=tf_column if tf_weight and level.kind != "else" else None,
                        tf_weight=tf_weight,
                        tf_log2_u_exact=(
                            math.log2(_exact_u(saved_levels, spec.levels, tf_column))
                            if tf_column
                            else 0.0
                        ),
                        tf_minimum_u=float(saved.get("tf_minimum_u_value", 0.0)),
                    )
                )
            first = spec.levels[0]
            shown = first.columns or ((first.column,) if first.column else ())
            compiled.append(_CompiledComparison(spec.name, _display(shown), tuple(levels)))
        self._comparisons = tuple(compiled)

    def prepare(self, record: PersonRecord) -> dict[str, Any]:
        return prepare_person(record)

    def term_frequency(self, record: Prepared, column: str) -> float | None:
        """The term frequency the scorer uses for a record's value (None: no adjustment)."""
        explicit = record.get(f"tf_{column}")
        if explicit is not None:
            return float(explicit)
        value = record.get(column)
        if value is None:
            return None
        return self.tf_tables.get(column, {}).get(value)

    def score(self, left: Prepared, right: Prepared) -> PairScore:
        total = self.prior_weight
        contributions = []
        for comparison in self._comparisons:
            for level in comparison.levels:
                if level.test(left, right):
                    break
            else:  # pragma: no cover - every comparison ends in an else level
                raise AssertionError(f"no level of {comparison.name} applied")
            tf_adjustment = 0.0
            if level.tf_column is not None:
                tf_l = self.term_frequency(left, level.tf_column)
                tf_r = self.term_frequency(right, level.tf_column)
                if tf_l is not None or tf_r is not None:
                    tf_u = max(tf_l if tf_l is not None else tf_r or 0.0,
                               tf_r if tf_r is not None else tf_l or 0.0,
                               level.tf_minimum_u)  # fmt: skip
                    tf_adjustment = level.tf_weight * (level.tf_log2_u_exact - math.log2(tf_u))
            total += level.match_weight
            total += tf_adjustment
            contributions.append(
                Contribution(
                    comparison.name,
                    level.label,
                    level.match_weight,
                    tf_adjustment,
                    comparison.shown(left),
                    comparison.shown(right),
                )
            )
        return PairScore(
            total, probability_from_weight(total), self.prior_weight, tuple(contributions)
        )


def _display(columns: tuple[str, ...]) -> Callable[[Prepared], str | None]:
    if len(columns) == 1:
        column = columns[0]
        return lambda record: record.get(column)

    def joined(record: Prepared) -> str | None:
        values = [str(v) for c in columns if (v := record.get(c)) is not None]
        return ", ".join(values) if values else None

    return joined
