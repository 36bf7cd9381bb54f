"""What a reader asks a search for: the words, the names and the filters, checked.

A query is words and "quoted phrases" (all must match, stemmed: photograph finds
photographing) and ``name:word`` or ``name:"two words"`` (each word must match a name in the
record, widened to its variants, sound-alikes and near-misses: see ``vigil.search.phonetic``).
Filters narrow by record type, triage category and priority, and time. Everything here is
checked before any query runs, so a bad request changes nothing and names the field at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.search import phonetic
from vigil.search.schemas import RecordType
from vigil.web.problems import Problem, field_error
from vigil.web.said import said

MAX_TERMS = 16
PRIORITIES = ("P1", "P2", "P3", "P4", "pending")
TIME_BUCKETS = (("day", 1), ("week", 7), ("month", 30), ("year", 365))
TYPE_PERMISSION = {
    RecordType.report: Permission.report_read,
    RecordType.entity: Permission.linkage_read,
    RecordType.case: Permission.cases_read,
}
# Whole sentences, one a record type, so that each can be said in its own words.
_NOT_YOURS = {
    RecordType.report: said("Your role does not allow reading report records."),
    RecordType.entity: said("Your role does not allow reading entity records."),
    RecordType.case: said("Your role does not allow reading case records."),
}
_TOKEN = re.compile(r'(?i)(name:)?(?:"([^"]*)"?|(\S+))')
_CATEGORY = re.compile(r"^[a-z0-9_]{1,40}$")


def invalid(pointer: str, detail: str) -> Problem:
    """A refused search, naming the field; ``detail`` is marked with ``said`` by the caller."""
    return Problem(
        422,
        said("Invalid request"),
        said("Check the search."),
        errors=[field_error(pointer, detail)],
        kind="invalid-request",
    )


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[str, ...]  # words and phrases for the full-text index
    names: tuple[str, ...]  # folded name words


def parse(q: str) -> ParsedQuery:
    terms: list[str] = []
    names: list[str] = []
    for match in _TOKEN.finditer(q):
        is_name, phrase, word = match.group(1), match.group(2), match.group(3)
        value = " ".join((phrase if phrase is not None else word or "").split())
        if is_name:
            found = phonetic.name_words([value])
            if not found:
                raise invalid(
                    "#/query/q", said("name: must be followed by a name, like name:Smith")
                )
            names.extend(n for n in found if n not in names)
        elif any(ch.isalnum() for ch in value) and value not in terms:
            terms.append(value)
    if not terms and not names:
        raise invalid("#/query/q", said("has no words to search for"))
    if len(terms) + len(names) > MAX_TERMS:
        raise invalid("#/query/q", said("has more than %(n)s words and phrases", n=MAX_TERMS))
    return ParsedQuery(tuple(terms), tuple(names))


@dataclass(frozen=True)
class SearchCriteria:
    q: str
    types: frozenset[RecordType] = frozenset()
    category: str | None = None
    priorities: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    parsed: ParsedQuery = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse(self.q))
        if self.category is not None and not _CATEGORY.match(self.category):
            raise invalid("#/query/category", said("must be a category code, like photography"))
        unknown = sorted(self.priorities - set(PRIORITIES))
        if unknown:
            raise invalid(
                "#/query/priority", said("unknown priority %(priority)s", priority=repr(unknown[0]))
            )
        if self.since and self.until and self.since >= self.until:
            raise invalid("#/query/until", said("must be later than since"))

    @property
    def reports_only(self) -> bool:
        return self.category is not None or bool(self.priorities)

    def audit_purpose(self) -> str:
        parts = [f"q={self.q}"]
        parts += [f"type={t.value}" for t in sorted(self.types)]
        if self.category:
            parts.append(f"category={self.category}")
        parts += [f"priority={p}" for p in sorted(self.priorities)]
        parts += [
            f"{k}={v.isoformat()}" for k, v in (("since", self.since), ("until", self.until)) if v
        ]
        return "; ".join(parts)[:500]


def searchable_types(user: StaffUser, criteria: SearchCriteria) -> list[RecordType]:
    """The record types this reader may search: asking for one their role cannot read is
    refused; filters that only reports carry (category, priority) leave only reports."""
    denied = [t for t in criteria.types if TYPE_PERMISSION[t] not in user.permissions]
    if denied:
        raise Problem(403, said("Forbidden"), _NOT_YOURS[denied[0]])
    wanted = criteria.types or frozenset(RecordType)
    if criteria.reports_only:
        wanted = wanted & {RecordType.report}
    return [t for t in RecordType if t in wanted and TYPE_PERMISSION[t] in user.permissions]
