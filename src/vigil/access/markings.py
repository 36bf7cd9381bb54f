"""Protective markings and intelligence grading, kept as data.

Classifications follow the UK Government Security Classifications (OFFICIAL-SENSITIVE is a
marking within OFFICIAL where need-to-know is strictly enforced). Grading follows the 3x5x2
scheme; schemes are data so an older 5x5x5 scheme can be added without code changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from vigil.web.said import said


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
        # Marked, so that a page can show each meaning in its own language.
        source={"1": said("Reliable"), "2": said("Untested"), "3": said("Not reliable")},
        intelligence={
            "A": said("Known directly to the source"),
            "B": said("Known indirectly to the source but corroborated"),
            "C": said("Known indirectly to the source"),
            "D": said("Not known"),
            "E": said("Suspected to be false"),
        },
        handling={
            "P": said("Lawful sharing permitted"),
            "C": said("Lawful sharing permitted with conditions"),
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
        """Field-by-field reasons this grading is not valid in its scheme (empty when valid),
        marked so that a page can say them in its language."""
        scheme = GRADING_SCHEMES.get(self.scheme)
        if scheme is None:
            return [("scheme", said("unknown grading scheme %(scheme)s", scheme=repr(self.scheme)))]
        found: list[tuple[str, str]] = []
        if self.source not in scheme.source:
            found.append(
                ("source", said("must be one of %(codes)s", codes=", ".join(scheme.source)))
            )
        if self.intelligence not in scheme.intelligence:
            codes = ", ".join(scheme.intelligence)
            found.append(("intelligence", said("must be one of %(codes)s", codes=codes)))
        if self.handling not in scheme.handling:
            found.append(
                ("handling", said("must be one of %(codes)s", codes=", ".join(scheme.handling)))
            )
        elif (
            self.handling in scheme.handling_needs_conditions
            and not (self.conditions or "").strip()
        ):
            found.append(("conditions", said("handling code C needs the conditions written down")))
        return found
