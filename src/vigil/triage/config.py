"""The priority configuration: factor weights, thresholds, floor rules and service levels.

Weights are policy, not code: an administrator tunes them through an audited API, and every
version is kept (``TriageConfig``), so a priority can always be explained by the exact weights
that produced it. Validation is strict because a typo here silently changes which reports
are read first: unknown keys, unknown factor codes, unordered thresholds and absurd weights
are rejected with a message naming the field, and nothing is changed.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.triage.categories import CATEGORY_CODES

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
WEIGHT_LIMIT = 100.0
DEFAULT_CONFIG_PATH = Path(__file__).parent / "data" / "priority.yaml"

# Every factor ``prioritise`` knows how to detect. A configuration must weigh each one: a
# missing weight would silently switch a signal off, an unknown one would never fire.
FACTOR_CODES: frozenset[str] = frozenset(
    {
        "imminent",
        "soon",
        "explicit_threat",
        "weapon_firearm",
        "weapon_explosive",
        "weapon_bladed",
        "weapon_device",
        "weapon_poison",
        "weapon_precursor",
        "weapon_other",
        "weapon_incidental",
        "crowded_place",
        "known_subject",
        "several_reports",
        "many_reports",
        "first_hand",
        "hearsay",
        "specifics",
        "category_tier1",
        "category_tier2",
    }
)


# A floor rule may also name a behaviour category ("category:aviation"): the analysts' rules
# ("a drone over a match is urgent") are about the behaviour itself, whatever the score.
CATEGORY_PREFIX = "category:"
FLOOR_CODES: frozenset[str] = FACTOR_CODES | {CATEGORY_PREFIX + code for code in CATEGORY_CODES}


class ConfigError(ValueError):
    """A priority configuration that cannot be used; the message names each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactorWeight(_Strict):
    """One factor: the label an analyst sees beside the weight it adds to the score."""

    label: str = Field(min_length=1, max_length=120)
    weight: float

    @field_validator("weight")
    @classmethod
    def _bounded(cls, value: float) -> float:
        if not math.isfinite(value) or abs(value) > WEIGHT_LIMIT:
            raise ValueError(f"weight must be a finite number within -100..100 (got {value})")
        return value


class Thresholds(_Strict):
    """The lowest score for each priority; anything below P3 is P4."""

    P1: float
    P2: float
    P3: float

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        for name in ("P1", "P2", "P3"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"threshold {name} must be a finite number")
        if not self.P1 > self.P2 > self.P3:
            raise ValueError(
                f"thresholds must be ordered P1 > P2 > P3 (got P1={self.P1}, P2={self.P2}, "
                f"P3={self.P3})"
            )
        return self


class ServiceLevels(_Strict):
    """Minutes from receipt within which a report of each priority should be triaged."""

    P1: int = Field(default=15, gt=0)
    P2: int = Field(default=60, gt=0)
    P3: int = Field(default=1440, gt=0)
    P4: int = Field(default=10080, gt=0)


class TimeWindows(_Strict):
    """How near a mentioned time must be to the report to count as imminent or soon.

    ``recent_hours`` lets "it just happened" count as imminent: the people involved may
    still be there.
    """

    recent_hours: float = Field(default=6, gt=0, le=72)
    imminent_hours: float = Field(default=24, gt=0, le=168)
    soon_hours: float = Field(default=168, gt=0, le=24 * 60)

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindows:
        if not self.soon_hours > self.imminent_hours:
            raise ValueError("soon_hours must be greater than imminent_hours")
        return self


class ClusterSizes(_Strict):
    """How many reports of the same thing count as several, and as many."""

    several: int = Field(default=2, ge=2)
    many: int = Field(default=5, ge=3)

    @model_validator(mode="after")
    def _ordered(self) -> ClusterSizes:
        if not self.many > self.several:
            raise ValueError("cluster size 'many' must be greater than 'several'")
        return self


class FloorRule(_Strict):
    """A hard rule: when every group has at least one fired factor (or assigned category,
    written ``category:<code>``), the priority is at least ``priority`` whatever the score
    (a true threat to life must never sink to P3)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    label: str = Field(min_length=1, max_length=160)
    priority: Literal["P1", "P2", "P3"]
    when: list[list[str]] = Field(min_length=1)

    @field_validator("when")
    @classmethod
    def _known_codes(cls, groups: list[list[str]]) -> list[list[str]]:
        for group in groups:
            if not group:
                raise ValueError("each group in 'when' needs at least one factor code")
            unknown = sorted(set(group) - FLOOR_CODES)
            if unknown:
                raise ValueError(
                    f"unknown factor or category code(s) in 'when': {', '.join(unknown)}"
                )
        return groups


class TriageConfigModel(_Strict):
    """One complete, validated version of the priority configuration."""

    factors: dict[str, FactorWeight]
    thresholds: Thresholds
    floors: list[FloorRule] = Field(default_factory=list)
    service_levels_minutes: ServiceLevels = Field(default_factory=ServiceLevels)
    time_windows: TimeWindows = Field(default_factory=TimeWindows)
    cluster_sizes: ClusterSizes = Field(default_factory=ClusterSizes)
    # Place items whose detail marks a crowded place or a likely target.
    target_place_details: frozenset[str] = frozenset(
        {"transport", "crowded", "worship", "school", "government", "stadium", "arena", "venue"}
    )
    # Weapon items (by canonical term) that are materials, counted as precursors.
    precursor_terms: frozenset[str] = frozenset({"gas cylinder", "fireworks"})
    # Local dates ("2026-03-14") in items are read in this zone.
    local_timezone: str = "Europe/London"

    @field_validator("factors")
    @classmethod
    def _every_factor_known(cls, factors: dict[str, FactorWeight]) -> dict[str, FactorWeight]:
        unknown = sorted(set(factors) - FACTOR_CODES)
        if unknown:
            raise ValueError(f"unknown factor code(s): {', '.join(unknown)}")
        missing = sorted(FACTOR_CODES - set(factors))
        if missing:
            raise ValueError(f"missing weight for factor code(s): {', '.join(missing)}")
        return factors

    @field_validator("floors")
    @classmethod
    def _unique_floors(cls, floors: list[FloorRule]) -> list[FloorRule]:
        codes = [floor.code for floor in floors]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"duplicate floor rule code(s): {', '.join(duplicates)}")
        return floors

    @field_validator("local_timezone")
    @classmethod
    def _zone_exists(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    def weight(self, code: str) -> float:
        return self.factors[code].weight

    def label(self, code: str) -> str:
        return self.factors[code].label


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, each naming the field path, e.g. ``factors.hearsay.weight``."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def config_from_mapping(body: Any) -> TriageConfigModel:
    """Validate a mapping (from YAML, JSON or the admin API) into a configuration.

    Raises ``pydantic.ValidationError``: each error's ``loc`` names the field (for example
    ``factors.hearsay.weight``) so the admin API can point at it; ``describe_errors`` turns
    it into one readable line.
    """
    return TriageConfigModel.model_validate(body)


def load_config_file(path: Path) -> TriageConfigModel:
    """A configuration file, or ``ConfigError`` naming the file and every bad field."""
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name} is not valid YAML: {exc}") from exc
    try:
        return config_from_mapping(body)
    except ValidationError as exc:
        raise ConfigError(f"{path.name} is invalid: {describe_errors(exc)}") from exc


@lru_cache(maxsize=1)
def load_default_config() -> TriageConfigModel:
    """The shipped defaults (``data/priority.yaml``), read and validated once."""
    return load_config_file(DEFAULT_CONFIG_PATH)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got a naive datetime)")


def due_at(priority: str, received_at: datetime, config: TriageConfigModel) -> datetime:
    """When triage of a report received at ``received_at`` falls due, by its priority."""
    _require_aware(received_at, "received_at")
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}")
    minutes: int = getattr(config.service_levels_minutes, priority)
    return received_at + timedelta(minutes=minutes)


def is_overdue(due_at: datetime, now: datetime) -> bool:
    """True once ``now`` is past the due time (exactly on time is not overdue)."""
    _require_aware(due_at, "due_at")
    _require_aware(now, "now")
    return now > due_at
