"""The person-matching model as data: comparisons and the versioned model file.

A Fellegi–Sunter model is a list of comparisons, each an ordered list of levels ("exact",
"nickname or transliteration", "Jaro-Winkler ≥ 0.92", …) with an m and a u probability.
Here each level is a small declarative ``Level`` that knows both its Splink SQL (for any
dialect, so a model trained on DuckDB runs on Spark) and how ``scorer.py`` evaluates it in
Python. The model file keeps those declarations beside Splink's own model JSON, so the
in-process scorer never has to parse SQL and cannot drift from what Splink computed: on
load the SQL regenerated from the declarations must equal the SQL Splink saved.

Training is in :mod:`vigil.linkage.matching.training`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # Splink is imported only where a model meets it: the web app scores without
    from splink import SettingsCreator
    from splink.comparison_library import CustomComparison
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

from vigil.linkage.matching.blocking import splink_rules

MODEL_FORMAT = "vigil-person-model/1"
MODEL_NAME = "vigil-person"
DEFAULT_THRESHOLD = 0.5
"""is_match threshold for a model trained without labels (the CLI on unlabelled data)."""
TF_TABLE_CAP = 4000
"""Term-frequency tables keep their most frequent values only (file size). A value absent
from the table gets no term-frequency adjustment — exactly what Splink does for a value
missing from a registered lookup — so the rare names it drops are scored at the level's
average weight instead of above it: conservative, never a false boost."""

LinkType = Literal["dedupe_only", "link_only"]
Dialect = Literal["duckdb", "spark"]


@dataclass(frozen=True, slots=True)
class Level:
    """One comparison level, declared once and rendered for Splink or Python.

    kind: null, exact, reversed (column ↔ other, both ways), overlap (arrays share an
    element), array_intersect (at least ``size`` shared elements), jaro_winkler
    (≥ ``threshold``), damerau_levenshtein (≤ ``size`` edits, after a cheap ``guard`` every
    pair within one edit passes), day_month_swapped and same_year (ISO dates), else;
    and the composites all / any (of ``parts``) and null_all (every one of ``columns``
    missing on either side) for comparisons that read several columns.

    Guards exist for speed: Damerau-Levenshtein is the slowest function in the model, and
    for fixed-format values one edit leaves something cheap to check unchanged — an ISO
    date keeps its year or its month-day, a UK postcode its outward or inward code, any
    string of three or more characters its first or its last character.
    """

    kind: str
    column: str | None = None
    other: str | None = None
    threshold: float | None = None
    size: int | None = None
    guard: str | None = None
    tf: bool = False
    label: str | None = None
    parts: tuple[Level, ...] = ()
    columns: tuple[str, ...] = ()

    def creator(self) -> ComparisonLevelCreator:
        import splink.comparison_level_library as cll

        column = self.column or ""
        creator: ComparisonLevelCreator
        match self.kind:
            case "null":
                creator = cll.NullLevel(column)
            case "exact":
                creator = cll.ExactMatchLevel(column, term_frequency_adjustments=self.tf)
            case "reversed":
                creator = cll.ColumnsReversedLevel(column, self.other or "", symmetrical=True)
            case "overlap" | "array_intersect" | "damerau_levenshtein":
                creator = _dialect_level()(self)
            case "jaro_winkler":
                creator = cll.JaroWinklerLevel(column, self.threshold or 0.0)
            case "day_month_swapped":
                c = column
                creator = cll.CustomLevel(
                    f"substr({c}_l, 1, 4) = substr({c}_r, 1, 4)"
                    f" AND substr({c}_l, 6, 2) = substr({c}_r, 9, 2)"
                    f" AND substr({c}_l, 9, 2) = substr({c}_r, 6, 2)"
                )
            case "same_year":
                creator = cll.CustomLevel(f"substr({column}_l, 1, 4) = substr({column}_r, 1, 4)")
            case "else":
                creator = cll.ElseLevel()
            case "all":
                creator = cll.And(*(part.creator() for part in self.parts))
            case "any":
                creator = cll.Or(*(part.creator() for part in self.parts))
            case "null_all":
                sides = [
                    "(" + " AND ".join(f"{c}_{side} IS NULL" for c in self.columns) + ")"
                    for side in ("l", "r")
                ]
                creator = cll.CustomLevel(" OR ".join(sides)).configure(is_null_level=True)
            case _:
                raise ValueError(f"unknown comparison level kind {self.kind!r}")
        if self.label:
            creator.configure(label_for_charts=self.label)
        return creator

    def sql(self, dialect: str) -> str:
        from splink.internals.dialects import SplinkDialect

        return self.creator().create_sql(SplinkDialect.from_string(dialect))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False, ())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Level:
        values = dict(data)
        values["parts"] = tuple(Level.from_dict(p) for p in values.get("parts", ()))
        values["columns"] = tuple(values.get("columns", ()))
        return cls(**values)


_GUARDS = {
    "date": "(substr({c}_l, 1, 4) = substr({c}_r, 1, 4)"
    " OR substr({c}_l, 6, 5) = substr({c}_r, 6, 5))",
    "postcode": "(postcode_outward_l IS NULL OR postcode_outward_r IS NULL"
    " OR postcode_outward_l = postcode_outward_r OR right({c}_l, 3) = right({c}_r, 3))",
    "ends": "(length({c}_l) < 3 OR length({c}_r) < 3"
    " OR substr({c}_l, 1, 1) = substr({c}_r, 1, 1) OR right({c}_l, 1) = right({c}_r, 1))",
}


@cache
def _dialect_level() -> Callable[[Level], ComparisonLevelCreator]:
    """Levels whose best SQL differs by engine (array overlap, guarded edit distance); the
    class is made on first use, so that importing the model does not import Splink."""
    from splink.internals.comparison_level_creator import ComparisonLevelCreator
    from splink.internals.dialects import SplinkDialect

    class DialectLevel(ComparisonLevelCreator):
        def __init__(self, level: Level) -> None:
            self.level = level

        def create_sql(self, sql_dialect: SplinkDialect) -> str:
            level, c = self.level, self.level.column or ""
            spark = sql_dialect.sql_dialect_str == "spark"
            if level.kind == "overlap":
                fn = "arrays_overlap" if spark else "list_has_any"
                return f"{fn}({c}_l, {c}_r)"
            if level.kind == "array_intersect":
                overlap = "arrays_overlap" if spark else "list_has_any"
                size = (
                    f"size(array_intersect({c}_l, {c}_r))"
                    if spark
                    else f"length(list_intersect({c}_l, {c}_r))"
                )
                return f"{overlap}({c}_l, {c}_r) AND {size} >= {level.size or 1}"
            distance = sql_dialect.damerau_levenshtein_function_name
            sql = f"{distance}({c}_l, {c}_r) <= {level.size or 1}"
            if level.guard:
                sql = _GUARDS[level.guard].format(c=c) + " AND " + sql
            return sql

        def create_label_for_charts(self) -> str:
            return self.level.label or self.level.kind

    return DialectLevel


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    description: str
    levels: tuple[Level, ...] = field(default_factory=tuple)

    def splink(self) -> CustomComparison:
        from splink.comparison_library import CustomComparison

        return CustomComparison(
            comparison_levels=[level.creator() for level in self.levels],
            output_column_name=self.name,
            comparison_description=self.description,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "levels": [level.as_dict() for level in self.levels],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        levels = tuple(Level.from_dict(level) for level in data["levels"])
        return cls(str(data["name"]), str(data["description"]), levels)


def _name_levels(
    column: str, variants: str, variant_label: str, swapped_with: str | None = None
) -> tuple[Level, ...]:
    swapped = (
        (Level("reversed", column, swapped_with, label="swapped with the surname"),)
        if swapped_with
        else ()
    )
    return (
        Level("null", column),
        Level("exact", column, tf=True, label="exact"),
        *swapped,
        Level("overlap", variants, label=variant_label),
        Level("jaro_winkler", column, threshold=0.92, label="Jaro-Winkler >= 0.92"),
        Level("jaro_winkler", column, threshold=0.8, label="Jaro-Winkler >= 0.8"),
        Level("else", label="different"),
    )


def _exact_only(column: str) -> tuple[Level, ...]:
    return (
        Level("null", column),
        Level("exact", column, label="exact"),
        Level("else", label="different"),
    )


_POSTCODE_TYPO = Level("damerau_levenshtein", "postcode", size=1, guard="postcode")
_SIMILAR_ADDRESS = Level(
    "any",
    parts=(
        Level("exact", "address"),
        Level("jaro_winkler", "address", threshold=0.9),
        Level("array_intersect", "address_tokens", size=2),
    ),
)
_CLOSE_POSTCODE = Level("any", parts=(Level("exact", "postcode"), _POSTCODE_TYPO))

PERSON_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "first_name",
        "First name",
        _name_levels(
            "first_name", "first_name_variants", "nickname or transliteration", "last_name"
        ),
    ),
    Comparison(
        "last_name",
        "Surname",
        _name_levels("last_name", "last_name_keys", "shared part or transliteration"),
    ),
    Comparison(
        "dob",
        "Date of birth",
        (
            Level("null", "dob"),
            Level("exact", "dob", label="exact"),
            Level("day_month_swapped", "dob", label="day and month swapped"),
            Level("damerau_levenshtein", "dob", size=1, guard="date", label="one typo"),
            Level("same_year", "dob", label="same year only"),
            Level("else", label="different"),
        ),
    ),
    Comparison(
        "location",
        "Address, postcode and town",
        (
            Level("null_all", columns=("address", "postcode", "town")),
            Level(
                "all",
                parts=(Level("exact", "address"), Level("exact", "postcode")),
                label="same address and postcode",
            ),
            Level(
                "all",
                parts=(_SIMILAR_ADDRESS, _CLOSE_POSTCODE),
                label="same home, written differently",
            ),
            Level("exact", "postcode", label="same postcode"),
            Level(
                "all",
                parts=(_SIMILAR_ADDRESS, Level("exact", "town")),
                label="similar address in the same town",
            ),
            Level(
                "any",
                parts=(_POSTCODE_TYPO, Level("exact", "postcode_sector")),
                label="postcode typo or same sector",
            ),
            Level(
                "any",
                parts=(Level("exact", "postcode_outward"), Level("exact", "town")),
                label="same outward code or town",
            ),
            Level("else", label="different"),
        ),
    ),
    Comparison("phone", "Phone (E.164)", _exact_only("phone")),
    Comparison("email", "E-mail", _exact_only("email")),
    Comparison(
        "id_number",
        "Identity number",
        (
            Level("null", "id_number"),
            Level("exact", "id_number", label="exact"),
            Level("damerau_levenshtein", "id_number", size=1, guard="ends", label="one typo"),
            Level("else", label="different"),
        ),
    ),
)
"""The comparisons of Vigil's person model, strongest level first within each."""


# What each comparison reads, as a person says it ("one side has no date of birth").
COMPARISON_NOUNS = {
    "first_name": "first name",
    "last_name": "surname",
    "dob": "date of birth",
    "location": "location",
    "phone": "phone",
    "email": "e-mail",
    "id_number": "identity number",
}


def missing_label(comparison: str) -> str:
    """The label of a comparison's null level. Splink's own is its SQL ("phone is NULL", or
    for location the whole ``(address_l IS NULL AND ...) OR (...)`` condition), which reads
    to an analyst as if the value were missing on both sides even when one side has it."""
    return f"one side has no {COMPARISON_NOUNS.get(comparison, comparison.replace('_', ' '))}"


def level_label(comparison: Comparison, level: Level, saved_label: str | None = None) -> str:
    """What an explanation calls a level: its declared label, plain words for a null
    level, else the label Splink saved."""
    if level.label:
        return level.label
    if level.kind in ("null", "null_all"):
        return missing_label(comparison.name)
    return saved_label or level.kind


def readable_level(comparison: str, level: str) -> str:
    """A stored explanation's level in plain words: explanations recorded before levels
    had plain labels carry Splink's SQL for the null level."""
    if level.endswith(" is NULL") or " IS NULL" in level:
        return missing_label(comparison)
    return level


def settings_creator(
    link_type: LinkType, comparisons: Sequence[Comparison] = PERSON_COMPARISONS
) -> SettingsCreator:
    """Untrained Splink settings for the person model."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="id",
        comparisons=[c.splink() for c in comparisons],
        blocking_rules_to_generate_predictions=splink_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


class ModelError(ValueError):
    """A model file that is not a usable Vigil person model."""


class PersonModel:
    """A trained person model: Splink's model JSON plus Vigil's metadata, versioned.

    The version is the model name and the first 12 hex digits of the SHA-256 of the file's
    content (everything but the version itself), so two models with one version are the
    same model, and every match can record which model made it.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = _validated(dict(data))
        self.comparisons = tuple(Comparison.from_dict(c) for c in self._data["comparisons"])

    # Loading and saving ------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PersonModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(f"no model file at {path}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path} is not a JSON model file: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path} is not a Vigil person model (not a JSON object)")
        return cls(data)

    @classmethod
    def default(cls) -> PersonModel:
        """The packaged model, trained on synthetic data by tools/train_person_model.py."""
        text = resources.files("vigil.linkage").joinpath("data/person_model.json").read_text()
        return cls(json.loads(text))

    def as_dict(self) -> dict[str, Any]:
        return deepcopy(self._data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename): a crash never leaves half a model."""
        write_atomically(Path(path), json.dumps(self._data, indent=1, sort_keys=True) + "\n")

    # What the model is ----------------------------------------------------------------------

    @property
    def version(self) -> str:
        return str(self._data["version"])

    @property
    def threshold_probability(self) -> float:
        return float(self._data["threshold_match_probability"])

    @property
    def link_type(self) -> LinkType:
        link_type: LinkType = self._data["splink"]["link_type"]
        return link_type

    @property
    def trained_at(self) -> str:
        return str(self._data["trained_at"])

    @property
    def training_rows(self) -> int:
        return int(self._data["training_rows"])

    @property
    def prior_probability(self) -> float:
        return float(self._data["splink"]["probability_two_random_records_match"])

    @property
    def tf_tables(self) -> dict[str, dict[str, float]]:
        tables: dict[str, dict[str, float]] = self._data["tf_tables"]
        return tables

    def level_parameters(self) -> list[list[dict[str, Any]]]:
        """Splink's saved levels (m, u, tf settings) per comparison, in order."""
        return [list(c["comparison_levels"]) for c in self._data["splink"]["comparisons"]]

    def with_threshold(self, threshold: float) -> PersonModel:
        data = self.as_dict()
        data["threshold_match_probability"] = checked_probability(threshold)
        return PersonModel(with_version(data))

    def splink_settings(
        self, dialect: Dialect = "duckdb", link_type: LinkType | None = None
    ) -> dict[str, Any]:
        """Splink settings for an engine: the trained parameters with SQL in its dialect."""
        settings: dict[str, Any] = deepcopy(self._data["splink"])
        settings["sql_dialect"] = dialect
        if link_type is not None:
            settings["link_type"] = link_type
        settings["blocking_rules_to_generate_predictions"] = [
            rule if isinstance(rule, str) else _rule_sql(rule, dialect) for rule in splink_rules()
        ]
        for comparison, saved in zip(self.comparisons, settings["comparisons"], strict=True):
            for level, saved_level in zip(
                comparison.levels, saved["comparison_levels"], strict=True
            ):
                saved_level["sql_condition"] = level.sql(dialect)
        return settings


def _rule_sql(rule: Any, dialect: str) -> str:
    sql: str = rule.get_blocking_rule(dialect).blocking_rule_sql
    return sql


def checked_probability(value: float) -> float:
    if not 0.0 < float(value) < 1.0:
        raise ModelError(f"threshold must be a probability between 0 and 1, got {value}")
    return float(value)


def _content_hash(data: Mapping[str, Any]) -> str:
    content = {k: v for k, v in data.items() if k != "version"}
    blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def with_version(data: dict[str, Any]) -> dict[str, Any]:
    data["version"] = f"{data.get('name', MODEL_NAME)}-{_content_hash(data)}"
    return data


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    """Refuse anything that would make the scorer and Splink disagree."""
    if data.get("format") != MODEL_FORMAT:
        raise ModelError(f"not a Vigil person model (format is not {MODEL_FORMAT!r})")
    for key in ("name", "version", "trained_at", "training_rows", "comparisons", "splink"):
        if key not in data:
            raise ModelError(f"model file has no {key!r}")
    checked_probability(data.get("threshold_match_probability", -1))
    expected = f"{data['name']}-{_content_hash(data)}"
    if data["version"] != expected:
        raise ModelError(f"model content does not match its version {data['version']}")
    splink = data["splink"]
    dialect = splink.get("sql_dialect", "duckdb")
    specs = [Comparison.from_dict(c) for c in data["comparisons"]]
    saved = splink.get("comparisons", [])
    if len(saved) != len(specs):
        raise ModelError("Splink comparisons do not match the model's declarations")
    for spec, comparison in zip(specs, saved, strict=True):
        levels = comparison.get("comparison_levels", [])
        if len(levels) != len(spec.levels):
            raise ModelError(f"comparison {spec.name}: levels do not match the declarations")
        for level, saved_level in zip(spec.levels, levels, strict=True):
            if level.sql(dialect) != saved_level.get("sql_condition"):
                raise ModelError(f"comparison {spec.name}: {level.kind} level SQL differs")
            if saved_level.get("is_null_level"):
                continue
            for p in ("m_probability", "u_probability"):
                if not isinstance(saved_level.get(p), int | float):
                    raise ModelError(f"comparison {spec.name}: a level has no {p}")
    if not isinstance(data.get("tf_tables"), dict):
        raise ModelError("model file has no term-frequency tables")
    return data


def write_atomically(path: Path, text: str) -> None:
    """Write a file by temp file + rename in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
