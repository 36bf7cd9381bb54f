"""Protective markings and intelligence grading, kept as data.

Classifications follow the UK Government Security Classifications (OFFICIAL-SENSITIVE is a
marking within OFFICIAL where need-to-know is strictly enforced). Grading follows the 3x5x2
scheme; schemes are data so an older 5x5x5 scheme can be added without code changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Classification(StrEnum):
    official = "OFFICIAL"
    official_sensitive = "OFFICIAL-SENSITIVE"
    secret = "SECRET"  # noqa: S105 - a classification, not a password

    @property
    def rank(self) -> int:
        return CLASSIFICATION_RANK[self]


CLASSIFICATION_RANK = {
    Classification.official: 1,
    Classification.official_sensitive: 2,
    Classification.secret: 3,
}


def most_restrictive(markings: Iterable[Classification]) -> Classification:
    """Combining records takes the most restrictive marking (aggregation alone adds none)."""
    return max(markings, key=lambda c: c.rank, default=Classification.official)


@dataclass(frozen=True)
class GradingScheme:
    name: str
    source: dict[str, str]
    intelligence: dict[str, str]
    handling: dict[str, str]
    handling_needs_conditions: frozenset[str]


GRADING_SCHEMES = {
    "3x5x2": GradingScheme(
        name="3x5x2",
        source={"1": "Reliable", "2": "Untested", "3": "Not reliable"},
        intelligence={
            "A": "Known directly to the source",
            "B": "Known indirectly to the source but corroborated",
            "C": "Known indirectly to the source",
            "D": "Not known",
            "E": "Suspected to be false",
        },
        handling={
            "P": "Lawful sharing permitted",
            "C": "Lawful sharing permitted with conditions",
        },
        handling_needs_conditions=frozenset({"C"}),
    )
}
DEFAULT_SCHEME = "3x5x2"


@dataclass(frozen=True)
class Grading:
    source: str
    intelligence: str
    handling: str
    conditions: str | None = None
    scheme: str = DEFAULT_SCHEME

    def problems(self) -> list[tuple[str, str]]:
        """Field-by-field reasons this grading is not valid in its scheme (empty when valid)."""
        scheme = GRADING_SCHEMES.get(self.scheme)
        if scheme is None:
            return [("scheme", f"unknown grading scheme {self.scheme!r}")]
        found = []
        if self.source not in scheme.source:
            found.append(("source", f"must be one of {', '.join(scheme.source)}"))
        if self.intelligence not in scheme.intelligence:
            found.append(("intelligence", f"must be one of {', '.join(scheme.intelligence)}"))
        if self.handling not in scheme.handling:
            found.append(("handling", f"must be one of {', '.join(scheme.handling)}"))
        elif (
            self.handling in scheme.handling_needs_conditions
            and not (self.conditions or "").strip()
        ):
            found.append(("conditions", "handling code C needs the conditions written down"))
        return found
