"""Name words, their sound keys, and which indexed words a ``name:`` search should accept.

People write names the way they heard them: Mohamed, Mohammed, Muhammad; Hargreaves typed
as Hargreves; Dave for David. A name search therefore widens the word it is given in two
steps. First, cheap keys pick candidates from the index's vocabulary (same metaphone or
soundex, or the same first or last three letters, so one typo in a longer name still finds
it). Then each candidate is accepted only for a reason a person would recognise:

- it is a known variant: a nickname or canonical form (``nicknames``), or a spelling in the
  same transliteration group (the linkage area's ``transliterations.yaml``);
- it sounds the same, by a metaphone code of at least three sounds (shorter codes, like
  John's "JN", are shared by too many different names to mean anything);
- it is one or two edits away (normalised Levenshtein similarity of at least 0.8, words of
  five letters or more).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import Levenshtein
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from vigil.search.models import SearchNameKey

MAX_TERM = 60
MIN_TERM = 2
MIN_SOUNDS = 3  # a metaphone code this long is specific enough to accept on its own
MIN_FUZZY = 5  # words shorter than this are matched by variants and sound only
SIMILARITY = 0.8
SNIPPET_CHARS = 220
MAX_ACCEPTED = 200  # spellings kept per name word, closest first
_LETTERS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass(frozen=True)
class NameKeys:
    term: str
    metaphone: str
    soundex: str
    head: str
    tail: str


def fold(word: str) -> str:
    """Lower-case ASCII letters only: O'Brien → obrien, Zoë → zoe."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if "a" <= ch <= "z")


def word_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Each word of ``text`` with its position and folded form (for highlighting)."""
    for match in _LETTERS.finditer(text):
        folded = fold(match.group())
        if MIN_TERM <= len(folded) <= MAX_TERM:
            yield match.start(), match.end(), folded


def name_words(texts: Iterable[str | None]) -> list[str]:
    """The distinct folded words of some names, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        if text:
            for _start, _end, word in word_spans(text):
                seen.setdefault(word, None)
    return list(seen)


@lru_cache(maxsize=1 << 16)
def keys(term: str) -> NameKeys:
    return NameKeys(
        term=term,
        metaphone=jellyfish.metaphone(term)[:20],
        soundex=jellyfish.soundex(term),
        head=term[:3],
        tail=term[-3:],
    )


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def _transliteration_groups() -> dict[str, frozenset[str]]:
    """Each spelling → every spelling of its group (the linkage area owns the list)."""
    from vigil.linkage.matching.names import transliteration_groups

    members: dict[str, set[str]] = {}
    for spelling, key in transliteration_groups().items():
        members.setdefault(key, set()).add(spelling)
    return {s: frozenset(members[key]) for s, key in transliteration_groups().items()}


@lru_cache(maxsize=4096)
def load_name_lists() -> None:
    """Load the nickname and transliteration lists now (about a second of CPU), so the
    first name search after start-up does not pay for it."""
    _nicknamer()
    _transliteration_groups()


def variants(word: str) -> frozenset[str]:
    """The word, its nicknames and canonical forms, and its other transliterations."""
    namer = _nicknamer()
    found = {word}
    found.update(fold(n) for n in namer.canonicals_of(word))
    found.update(fold(n) for n in namer.nicknames_of(word))
    found.update(_transliteration_groups().get(word, ()))
    return frozenset(f for f in found if MIN_TERM <= len(f) <= MAX_TERM)


def sound_codes(word: str) -> frozenset[str]:
    """The word's own metaphone code, when specific enough to accept a candidate on sound
    alone (not its variants' codes: sounding like a variant is one step too far, Mahomed
    would bring in Mahmood)."""
    code = keys(word).metaphone
    return frozenset({code}) if len(code) >= MIN_SOUNDS else frozenset()


def accepts(word: str, candidate: NameKeys) -> bool:
    """Whether an indexed name word should answer a ``name:`` search for ``word``."""
    if candidate.term in variants(word):
        return True
    if candidate.metaphone in sound_codes(word):
        return True
    shortest = min(len(word), len(candidate.term))
    return (
        shortest >= MIN_FUZZY
        and Levenshtein.normalized_similarity(word, candidate.term) >= SIMILARITY
    )


def expand(session: Session, words: tuple[str, ...]) -> dict[str, list[str]]:
    """Each name word → the indexed name words that answer it, closest first.

    Read as the system: the vocabulary belongs to no record, and what it yields is only
    ever used to narrow a reader's query, whose hits are then filtered by the policy.
    """
    out: dict[str, list[str]] = {}
    k = SearchNameKey
    for word in words:
        own, size = keys(word), len(word)
        branches: list[ColumnElement[bool]] = [k.term.in_(sorted(variants(word)))]
        codes = sound_codes(word)
        if codes:
            branches.append(k.metaphone.in_(sorted(codes)))
        if size >= MIN_FUZZY:
            near = or_(k.soundex == own.soundex, k.head == own.head, k.tail == own.tail)
            branches.append(and_(near, func.length(k.term).between(size - 2, size + 2)))
        found = [
            NameKeys(row.term, row.metaphone, row.soundex, row.head, row.tail)
            for row in session.scalars(select(k).where(or_(*branches)))
        ]
        accepted = [c.term for c in found if accepts(word, c)]
        accepted.sort(key=lambda t: (t != word, -Levenshtein.normalized_similarity(word, t), t))
        out[word] = accepted[:MAX_ACCEPTED]
    return out


def names_snippet(body: str, wanted: set[str]) -> str:
    """A passage around the first name word that matched, every matching word marked."""
    text = " ".join(body.split())
    spans = [(s, e) for s, e, word in word_spans(text) if word in wanted]
    if not spans:
        return html.escape(text[:SNIPPET_CHARS]) + ("…" if len(text) > SNIPPET_CHARS else "")
    start = max(0, spans[0][0] - SNIPPET_CHARS // 3)
    if start:
        space = text.find(" ", start, spans[0][0])
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", spans[0][1], end)
        end = space if space != -1 else end
    out, pos = ["…" if start else ""], start
    for s, e in spans:
        if s >= pos and e <= end:
            out += [html.escape(text[pos:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
            pos = e
    out += [html.escape(text[pos:end]), "…" if end < len(text) else ""]
    return "".join(out)
