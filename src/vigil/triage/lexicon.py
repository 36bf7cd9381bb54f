"""Curated vocabularies for the extractors, and the weapons lexicon.

Word lists live in data files (``data/``), each stating its source, so an analyst can review
and extend them without touching code. They are loaded once, lazily, and cached for the life
of the process: extraction runs on every report, so nothing here may re-read a file or
rebuild an index per call.

Matching works on tokens rather than one giant regular expression: a report is split into
words once, and a phrase index answers "does a known phrase start here?" with dictionary
look-ups, which stays fast however long the lists grow.
"""

from __future__ import annotations

import bisect
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from operator import methodcaller
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, cast

import yaml

from vigil.triage.items import Extracted, ItemKind

DATA_DIR = Path(__file__).with_name("data")

T = TypeVar("T")

# A word: letters or digits, with inner apostrophes kept (O'Connor, King's, don't).
TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# What may separate the words of one phrase: spaces, one hyphen, or a dot inside ("i.e.d").
_PHRASE_GAP = re.compile(r"[ \t]{1,3}|[ \t]?-[ \t]?|\.")
_SPACES = re.compile(r"\s+")
# Name particles kept in lower case inside a name or place ("Isle of Dogs", "bin Salman").
_PARTICLES = frozenset(
    "of the and upon on in le la de da du des del der den bin bint ibn al el y".split()  # noqa: SIM905
)
_CONTRACTIONS = frozenset({"s", "t", "ll", "re", "ve", "d", "m"})


class Token(NamedTuple):
    start: int
    end: int
    text: str
    key: str  # folded: lower case, accents removed, curly apostrophes straightened


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower case without accents, so "Łukasz", "lukasz" and "LUKASZ" look alike."""
    decomposed = unicodedata.normalize("NFKD", word.replace("’", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("ł", "l").replace("Ł", "L").casefold()


# Token(...) and Match.span() without a Python-level call per word.
_new_token = cast(Callable[[tuple[int, int, str, str]], Token], partial(tuple.__new__, Token))
_SPAN = methodcaller("span")


# The extractors read one report after another, and all of them read it in turn: a cache
# of the last two texts (a report and, when it is typed in capitals, its lower-case view)
# is all they share. Holding more keeps hundreds of tokens a report alive long enough to
# reach the garbage collector's oldest generation, whose full collections then come sooner.
_TEXTS_SHARED = 2


@lru_cache(maxsize=_TEXTS_SHARED)
def tokenize(text: str) -> tuple[Token, ...]:
    """The words of a text; cached, since several extractors read the same report.

    Most reports are plain ASCII, where folding a word is lower-casing it: the text is
    lowered once and each key sliced from it, instead of folding word by word."""
    if text.isascii():
        lowered = text.lower()
        tokens = [
            _new_token((start, end, text[start:end], lowered[start:end]))
            for start, end in map(_SPAN, TOKEN_RE.finditer(text))
        ]
    else:
        tokens = [
            _new_token((m.start(), m.end(), word, fold(word)))
            for m in TOKEN_RE.finditer(text)
            for word in (m.group(),)
        ]
    return tuple(tokens)


def _word_starts(tokens: Sequence[Token]) -> dict[str, list[int]]:
    starts: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        starts.setdefault(token.key, []).append(i)
    return starts


@lru_cache(maxsize=_TEXTS_SHARED)
def _cached_word_starts(text: str) -> dict[str, list[int]]:
    return _word_starts(tokenize(text))


def word_starts(text: str, tokens: Sequence[Token]) -> dict[str, list[int]]:
    """Which of ``tokens`` (the text's) hold each folded word, so a scan for known words
    visits only the tokens that hold one. Cached beside ``tokenize``: every phrase scan and
    name rule of the report asks. Callers must not change the lists."""
    return _cached_word_starts(text) if tokenize(text) is tokens else _word_starts(tokens)


@lru_cache(maxsize=_TEXTS_SHARED)
def mostly_upper(text: str) -> bool:
    """Whether a report is typed in capitals, where a capital letter says nothing about a
    name (ASCII letters decide: enough for English reports)."""
    upper = sum(map(text.count, string.ascii_uppercase))
    lower = sum(map(text.count, string.ascii_lowercase))
    return upper + lower > 20 and upper > 0.6 * (upper + lower)


def tidy_space(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def _title_part(part: str) -> str:
    if not part:
        return part
    if not part.isupper() and not part.islower() and part[0].isupper():
        return part  # written with inner capitals on purpose: McDonald, DeShawn
    lower = part.lower()
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + lower[2].upper() + lower[3:]
    return lower[0].upper() + lower[1:]


def title_word(word: str) -> str:
    """Title-case one word, respecting hyphens and apostrophes (O'Connor, Smith-Jones,
    King's)."""
    pieces = re.split(r"(['’-])", word)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if piece in ("'", "’", "-"):
            out.append(piece)
        elif index >= 2 and pieces[index - 1] in ("'", "’") and piece.lower() in _CONTRACTIONS:
            out.append(piece.lower())
        else:
            out.append(_title_part(piece))
    return "".join(out)


def title_name(value: str, *, keep_acronyms: bool = False) -> str:
    """The value shape for names and places: whitespace tidied, each word title-cased,
    particles such as "of" and "bin" lower-case after the first word, and (for
    organisations) short all-capital words such as PLC or BBC kept as written."""
    words = tidy_space(value).split(" ")
    out: list[str] = []
    for index, word in enumerate(words):
        letters = [c for c in word if c.isalpha()]
        if keep_acronyms and letters and word.isupper() and len(letters) <= 4:
            out.append(word)
        elif index > 0 and word.lower() in _PARTICLES:
            out.append(word.lower())
        else:
            out.append(title_word(word))
    return " ".join(out)


def first_fit(ranked: Iterable[Extracted]) -> list[Extracted]:
    """The items, best first, that overlap no better one; returned in text order. Kept
    spans are disjoint, so one sorted list of them answers each overlap test by bisection."""
    starts: list[int] = []
    kept: list[Extracted] = []
    for item in ranked:
        if item.end <= item.start:
            continue
        k = bisect.bisect_right(starts, item.start)
        if k > 0 and kept[k - 1].end > item.start:
            continue  # overlaps the kept span starting at or before it
        if k < len(kept) and kept[k].start < item.end:
            continue  # overlaps the kept span after it
        starts.insert(k, item.start)
        kept.insert(k, item)
    return kept


# --- data files -----------------------------------------------------------------------


@cache
def load_yaml(name: str) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader either way


@cache
def load_lines(name: str) -> tuple[str, ...]:
    """A one-entry-a-line data file, without comments and blank lines."""
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@cache
def common_words() -> frozenset[str]:
    return frozenset(fold(word) for word in load_lines("common_words.txt"))


@cache
def first_names() -> frozenset[str]:
    return frozenset(fold(word) for word in load_lines("first_names.txt"))


@cache
def surnames() -> frozenset[str]:
    return frozenset(fold(word) for word in load_lines("surnames.txt"))


@cache
def protected_index() -> PhraseIndex[str]:
    """Phrases naming a protected characteristic, mapped to the characteristic."""
    data: dict[str, list[str]] = load_yaml("protected.yaml")
    return PhraseIndex((phrase, group) for group, phrases in data.items() for phrase in phrases)


@cache
def protected_words() -> frozenset[str]:
    data: dict[str, list[str]] = load_yaml("protected.yaml")
    return frozenset(fold(word) for phrases in data.values() for word in phrases)


def phrase_key(phrase: str) -> tuple[str, ...]:
    return tuple(fold(m.group()) for m in TOKEN_RE.finditer(phrase))


def _plural_forms(word: str) -> list[str]:
    forms = [word + "s", word + "es"]
    if word.endswith("y") and len(word) > 2:
        forms.append(word[:-1] + "ies")
    if word.endswith("fe"):
        forms.append(word[:-2] + "ves")
    elif word.endswith("f"):
        forms.append(word[:-1] + "ves")
    return forms


class PhraseIndex(Generic[T]):
    """Known phrases keyed by their first folded word, longest first, for token scans."""

    def __init__(self, entries: Iterable[tuple[str, T]], *, plurals: bool = False) -> None:
        by_first: dict[str, dict[tuple[str, ...], T]] = {}
        for phrase, payload in entries:
            key = phrase_key(phrase)
            if not key:
                continue
            variants = [key]
            if plurals:
                variants += [(*key[:-1], form) for form in _plural_forms(key[-1])]
            for variant in variants:
                by_first.setdefault(variant[0], {}).setdefault(variant, payload)
        # first word -> (phrase length, {phrase: payload}), longest first: a common first
        # word ("the") starts dozens of phrases, and each length is then one dictionary
        # look-up instead of a comparison per phrase.
        self._index: dict[str, tuple[tuple[int, dict[tuple[str, ...], T]], ...]] = {}
        for first, phrases in by_first.items():
            sizes: dict[int, dict[tuple[str, ...], T]] = {}
            for key, payload in phrases.items():
                sizes.setdefault(len(key), {})[key] = payload
            self._index[first] = tuple(sorted(sizes.items(), key=lambda item: -item[0]))

    def match_at(self, text: str, tokens: Sequence[Token], i: int) -> tuple[int, T] | None:
        """The longest known phrase starting at token i: (index after it, payload)."""
        by_size = self._index.get(tokens[i].key)
        if not by_size:
            return None
        n = len(tokens)
        for size, phrases in by_size:
            end = i + size
            if end > n:
                continue
            key = tuple([token.key for token in tokens[i:end]])
            if key not in phrases:
                continue
            if size == 1 or all(
                _PHRASE_GAP.fullmatch(text, tokens[k].end, tokens[k + 1].start)
                for k in range(i, end - 1)
            ):
                return end, phrases[key]
        return None

    def scan(self, text: str, tokens: Sequence[Token]) -> list[tuple[int, int, T]]:
        """Non-overlapping matches, left to right, longest at each start: (i, j, payload)."""
        found: list[tuple[int, int, T]] = []
        # Only tokens whose word starts a known phrase are tried, found from the report's
        # word positions (one set intersection) rather than by walking every token.
        starts = word_starts(text, tokens)
        tried = sorted(i for word in self._index.keys() & starts.keys() for i in starts[word])
        after = 0
        for i in tried:
            if i < after:
                continue  # inside the phrase matched before
            hit = self.match_at(text, tokens, i)
            if hit is not None:
                found.append((i, hit[0], hit[1]))
                after = hit[0]
        return found


@lru_cache(maxsize=_TEXTS_SHARED)
def protected_flags(text: str) -> tuple[bool, ...]:
    """For each token of ``tokenize(text)``, whether it is part of a protected-
    characteristic phrase."""
    tokens = tokenize(text)
    flags = [False] * len(tokens)
    for i, j, _ in protected_index().scan(text, tokens):
        for k in range(i, j):
            flags[k] = True
    return tuple(flags)


# --- weapons --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeaponTerm:
    canonical: str
    weapon_class: str
    confidence: float
    context: frozenset[str]  # empty: no context needed
    not_after: frozenset[str]
    not_before: frozenset[str]


def _words(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(fold(v) for v in values or ())


@cache
def weapon_index() -> PhraseIndex[WeaponTerm]:
    entries: list[tuple[str, WeaponTerm]] = []
    for entry in load_yaml("weapons.yaml"):
        context = _words(entry.get("needs_context"))
        base = float(entry.get("confidence", 0.7 if context else 0.9))
        common = {
            "canonical": entry["term"],
            "weapon_class": entry["class"],
            "context": context,
            "not_after": _words(entry.get("not_after")),
            "not_before": _words(entry.get("not_before")),
        }
        exact = WeaponTerm(confidence=base, **common)
        typo = WeaponTerm(confidence=min(base, 0.75), **common)
        entries += [(entry["term"], exact)]
        entries += [(synonym, exact) for synonym in entry.get("synonyms") or ()]
        entries += [(spelling, typo) for spelling in entry.get("misspellings") or ()]
    return PhraseIndex(entries, plurals=True)


_CONTEXT_WINDOW = 10  # tokens either side in which a "needs_context" word must appear


def find_weapons(text: str) -> list[Extracted]:
    """Weapons, explosives, precursors and poisons named in the text (value: the canonical
    term, detail: its class)."""
    tokens = tokenize(text)
    found: list[Extracted] = []
    for i, j, term in weapon_index().scan(text, tokens):
        if i > 0 and tokens[i - 1].key in term.not_after:
            continue
        if j < len(tokens) and tokens[j].key in term.not_before:
            continue
        if term.context:
            window = tokens[max(0, i - _CONTEXT_WINDOW) : j + _CONTEXT_WINDOW]
            if not any(token.key in term.context for token in window):
                continue
        start, end = tokens[i].start, tokens[j - 1].end
        found.append(
            Extracted(
                kind=ItemKind.weapon,
                value=term.canonical,
                text=text[start:end],
                start=start,
                end=end,
                confidence=term.confidence,
                detail=term.weapon_class,
            )
        )
    return found


@lru_cache(maxsize=4096)
def misspelt_common(word: str) -> bool:
    """Whether a lower-case word is one slip away from a common word: two letters swapped
    ("teh"), a letter doubled ("parkk") or a letter dropped ("arond"). Reporters' typos sit
    in ordinary prose, so a name read from lower-case text must not be one of them."""
    words = common_words()
    if len(word) < 3 or word in words:
        return False
    for k in range(len(word) - 1):
        if word[:k] + word[k + 1] + word[k] + word[k + 2 :] in words:
            return True
        if word[k] == word[k + 1] and word[:k] + word[k + 1 :] in words:
            return True
    return len(word) >= 4 and word in _dropped_letter_forms()


@cache
def _dropped_letter_forms() -> frozenset[str]:
    """Every common word with one letter dropped ("around" -> "arond")."""
    return frozenset(
        w[:k] + w[k + 1 :] for w in common_words() if len(w) >= 5 for k in range(len(w))
    )
