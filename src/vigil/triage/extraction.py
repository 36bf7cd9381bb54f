"""The triage extractors' entry point: every fact in a report's free text, with its span.

``extract`` runs each extractor over the description and settles overlaps so that one
stretch of text is one item: an identifier that contains another keeps the outer one (a URL
holding a handle or a phone stays a URL), an identifier beats a name or place drawn from the
same words, and between names, organisations, places and weapons the longer reading wins
("Manchester Arena" over "Manchester", "Fast Lane Removals Ltd" over "Fast Lane").

``merge_structured`` adds what the reporter typed into the form's own fields, so linkage
sees one list; a field that repeats something already found in the text adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from vigil.triage.identifiers import (
    canonical_url,
    find_emails,
    find_handles,
    find_money,
    find_phones,
    find_postcodes,
    find_urls,
    find_vrms,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_vrm,
)
from vigil.triage.items import Extracted, ItemKind, ItemSource
from vigil.triage.lexicon import find_weapons, first_fit, tidy_space, title_name
from vigil.triage.names import NameRecogniser, RuleRecogniser, default_recogniser
from vigil.triage.places import find_places
from vigil.triage.when import find_datetimes

__all__ = [
    "NameRecogniser",
    "RuleRecogniser",
    "StructuredFields",
    "extract",
    "merge_structured",
]

# Who wins an overlap: lower tiers first; within the last tier, the longer span.
_TIER = {
    ItemKind.url: 0,
    ItemKind.email: 0,
    ItemKind.phone: 1,
    ItemKind.postcode: 2,
    ItemKind.money: 3,
    ItemKind.vrm: 4,
    ItemKind.datetime: 5,
    ItemKind.handle: 6,
    ItemKind.weapon: 7,
    ItemKind.place: 7,
    ItemKind.person: 7,
    ItemKind.organisation: 7,
}


@dataclass(frozen=True, slots=True)
class StructuredFields:
    """What the reporter typed into the report form's own fields, as typed."""

    people: list[str] = field(default_factory=list)
    vehicles: list[str] = field(default_factory=list)  # registration marks
    urls: list[str] = field(default_factory=list)
    postcode: str | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


def _sort_key(item: Extracted) -> tuple[int, str]:
    return item.start, item.kind.value


def _settle(candidates: Iterable[Extracted]) -> list[Extracted]:
    """One item per stretch of text, chosen by tier, then length, then confidence."""
    ranked = sorted(
        candidates,
        key=lambda item: (_TIER[item.kind], item.start - item.end, -item.confidence, item.start),
    )
    return sorted(first_fit(ranked), key=_sort_key)


def extract(
    text: str, *, reported_at: datetime, recogniser: NameRecogniser | None = None
) -> list[Extracted]:
    """Every fact in ``text``: identifiers, dates and times (resolved against
    ``reported_at``, an aware datetime), money, places, weapons, people and organisations,
    sorted by position. ``recogniser`` finds names; the rule-based one by default."""
    if reported_at.tzinfo is None or reported_at.utcoffset() is None:
        raise ValueError("reported_at must be timezone-aware (UTC)")
    if not text:
        return []
    names = (recogniser or default_recogniser()).find(text)
    candidates = [
        *find_urls(text),
        *find_emails(text),
        *find_phones(text),
        *find_postcodes(text),
        *find_money(text),
        *find_vrms(text),
        *find_datetimes(text, reported_at),
        *find_handles(text),
        *find_weapons(text),
        *find_places(text),
        *(  # a recogniser's span is what counts: its text is re-read from the report
            replace(item, text=text[item.start : item.end])
            for item in names
            if 0 <= item.start < item.end <= len(text)
        ),
    ]
    return _settle(candidates)


def _field_item(kind: ItemKind, raw: str) -> Extracted | None:
    """A reporter's field value as an item: normalised like text items, with full
    confidence when it validates and half when it does not (kept: the reporter meant it)."""
    typed = raw.strip()
    if not typed:
        return None
    normalisers: dict[ItemKind, Callable[[str], str | None]] = {
        ItemKind.person: lambda v: title_name(v),
        ItemKind.vrm: normalise_vrm,
        ItemKind.postcode: normalise_postcode,
        ItemKind.phone: normalise_phone,
        ItemKind.email: normalise_email,
    }
    detail = None
    if kind is ItemKind.url:
        canonical = canonical_url(typed)
        value, detail = canonical if canonical else (None, None)
    else:
        value = normalisers[kind](typed)
    confidence = 1.0
    if value is None:
        value, confidence = tidy_space(typed).upper() if kind is ItemKind.postcode else typed, 0.5
    return Extracted(kind, value, typed, -1, -1, confidence, ItemSource.reporter, detail)


def _same_value(kind: ItemKind, value: str) -> tuple[ItemKind, str]:
    return kind, value.casefold() if kind is ItemKind.person else value


def merge_structured(items: list[Extracted], fields: StructuredFields) -> list[Extracted]:
    """``items`` plus one reporter item per field value not already among them (same kind
    and normalised value), never duplicated, sorted by (start, kind)."""
    seen = {_same_value(item.kind, item.value) for item in items}
    typed: list[tuple[ItemKind, str]] = [
        *((ItemKind.person, v) for v in fields.people),
        *((ItemKind.vrm, v) for v in fields.vehicles),
        *((ItemKind.url, v) for v in fields.urls),
        *((ItemKind.postcode, v) for v in ([fields.postcode] if fields.postcode else [])),
        *((ItemKind.phone, v) for v in fields.phones),
        *((ItemKind.email, v) for v in fields.emails),
    ]
    merged = list(items)
    for kind, raw in typed:
        item = _field_item(kind, raw)
        if item is None or _same_value(kind, item.value) in seen:
            continue
        seen.add(_same_value(kind, item.value))
        merged.append(item)
    return sorted(merged, key=_sort_key)
