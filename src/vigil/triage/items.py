"""What triage pulls out of a report: the shared shape every extractor returns.

An item keeps the exact span of text it came from, so an analyst can check it against the
report and correct it; ``value`` is normalised (domain-facts §10) so that the same phone,
plate or postcode written two ways is one identifier for clustering and linkage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ItemKind(StrEnum):
    phone = "phone"  # E.164, e.g. +447700900123
    email = "email"  # lower case
    url = "url"  # canonical: scheme and host lower case, no fragment or tracking parameters
    handle = "handle"  # "@name", lower case; detail names the platform when known
    vrm = "vrm"  # vehicle registration mark, upper case without spaces
    postcode = "postcode"  # upper case with one space: "SW1A 1AA"
    datetime = "datetime"  # UTC "YYYY-MM-DDTHH:MMZ", or a local date "YYYY-MM-DD"
    money = "money"  # "GBP 5000.00" (ISO currency code, two decimals)
    place = "place"  # the place name as written, whitespace tidied, title case
    person = "person"  # the name as written, whitespace tidied, title case
    organisation = "organisation"
    weapon = "weapon"  # the lexicon's canonical term; detail is its class


class ItemSource(StrEnum):
    text = "text"  # found in the free text
    reporter = "reporter"  # a structured field the reporter filled in
    analyst = "analyst"  # added or corrected by a person


IDENTIFIER_KINDS = frozenset(
    {ItemKind.phone, ItemKind.email, ItemKind.url, ItemKind.vrm, ItemKind.handle}
)


@dataclass(frozen=True, slots=True)
class Extracted:
    kind: ItemKind
    value: str
    text: str  # the exact characters of the span (for structured fields: the field's value)
    start: int  # span in the report's description; -1 when the item came from a field
    end: int
    confidence: float  # 0..1
    source: ItemSource = ItemSource.text
    detail: str | None = None  # e.g. the platform of a URL or handle, a weapon's class
