"""The pattern engine behind the category rules: folding, compiling YAML fragments and a
gate that tries a pattern only where one of its first words starts.

It lives apart from ``categories`` so that module holds what the rules *mean* (file shape,
negation, evidence, confidence) and this one how they are *matched* fast: categorising and
prioritising a typical report must stay well under a millisecond, and that speed comes from
here. Nothing in it knows about behaviour categories.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"\w+")
_SPLIT = re.compile(r"(\w+)")
_MAX_FIRST_WORDS = 5000


class CategoryRulesError(ValueError):
    """The rules file cannot be used; the message names the entry at fault."""


def fold_once(text: str) -> str:
    """Lower-case ``text`` keeping every character at its offset, so spans found in the
    folded text point at the same words in the original (lower-case patterns on folded
    text run about twice as fast as ``re.IGNORECASE``). Uncached: for short pieces read
    once (a negation's look-back), which would push whole reports out of ``fold``'s cache."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded  # lowering never shortens a character, so equal length means aligned
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


# categorise and prioritise fold the same reports many times, a chunk of reports apart
# (the pipeline categorises a chunk, then prioritises it): the cache holds a chunk.
fold = lru_cache(maxsize=64)(fold_once)


def to_regex(fragment: str) -> str:
    """A YAML fragment → regex: lower case; a space matches any whitespace (" ?": optional
    whitespace); an apostrophe matches ' or ’. Escapes and classes are kept."""
    out: list[str] = []
    in_class, index = False, 0
    while index < len(fragment):
        char, index = fragment[index], index + 1
        if char == "\\":
            out.append(fragment[index - 1 : index + 1])  # escapes keep their case (\S, \W)
            index += 1
        elif in_class or char == "[":
            in_class = char != "]"
            out.append(char.lower())
        elif char == " " and fragment[index : index + 1] == "?":
            out.append(r"\s*")
            index += 1
        else:
            out.append({" ": r"\s+", "'": "['’]"}.get(char, char.lower()))
    return "".join(out)


def compile_fragments(
    fragments: Iterable[str], where: str, *, bounded: bool = True
) -> re.Pattern[str]:
    parts = []
    for number, fragment in enumerate(fragments, start=1):
        try:
            parts.append(re.compile(to_regex(fragment)).pattern)
        except re.error as exc:
            raise CategoryRulesError(
                f"{where}: entry {number} ({fragment!r}) is not a valid pattern: {exc}"
            ) from exc
    body = "|".join(parts)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)" if bounded else body)


@lru_cache(maxsize=64)
def word_starts(folded: str) -> tuple[frozenset[str], dict[str, tuple[int, ...]]]:
    """The words of a folded text and where each starts (cached: categorise and prioritise
    both ask, for every rule). The positions are tuples: held by the cache for a chunk of
    reports, lists would each be one more object for every full garbage collection to
    visit, while tuples of numbers drop out of the collector's view."""
    starts: dict[str, list[int]] = {}
    at = 0
    for gap, word in zip(*[iter(_SPLIT.split(folded))] * 2, strict=False):  # gap, word, gap…
        at += len(gap)
        starts.setdefault(word, []).append(at)
        at += len(word)
    return frozenset(starts), {word: tuple(where) for word, where in starts.items()}


class Gate:
    """The words one of which must begin any match of a pattern, so a pattern is tried only
    where such a word starts instead of scanning the whole report: this keeps categorising
    a 1,000-character report well under a millisecond.

    Worked out from Python's own parse of the pattern; anything it cannot follow leaves the
    gate open (a full scan) or keeps a word as a prefix, so it saves time, never a match.
    """

    def __init__(self, pattern: str) -> None:
        self.words: frozenset[str] = frozenset()
        self.prefixes: tuple[str, ...] = ()
        self.open = True
        try:
            self._op: Any = importlib.import_module("re._constants")
            parser: Any = importlib.import_module("re._parser")
            heads, done = self._walk(list(parser.parse(pattern)), {""})
        except Exception:  # a construct not followed here, or another Python's parser
            return
        done |= {(head, True) for head in heads}  # the pattern ends with (?!\w)
        if any(not word for word, _ in done):
            return
        self.words = frozenset(word for word, complete in done if complete)
        self.prefixes = tuple(sorted({word for word, complete in done if not complete}))
        self.open = False

    def matches(self, regex: re.Pattern[str], folded: str) -> list[re.Match[str]]:
        """What ``regex.finditer(folded)`` finds, trying only where a first word starts.

        A list rather than a generator: most rules find no first word in a report, and
        answering those with an empty list costs no generator per rule and report."""
        if self.open:
            return list(regex.finditer(folded))
        words, index = word_starts(folded)
        hit = self.words & words
        prefixes = tuple(prefix for prefix in self.prefixes if prefix in folded)
        if not hit and not prefixes:
            return []
        starts = [at for word in hit for at in index[word]]
        if prefixes:
            starts += [at for word in index if word.startswith(prefixes) for at in index[word]]
        found: list[re.Match[str]] = []
        end = -1
        for start in sorted(starts):
            if start >= end and (match := regex.match(folded, start)):
                end = match.end()
                found.append(match)
        return found

    def _characters(self, members: list[Any]) -> tuple[set[str] | None, bool]:
        """The word characters a set offers, and whether it offers a non-word one (which
        ends the first word); None when the set cannot be listed."""
        op, chars, ends = self._op, set[str](), False
        for kind, member in members:
            if kind is op.CATEGORY and member in (op.CATEGORY_SPACE, op.CATEGORY_NOT_WORD):
                ends = True
                continue
            if kind is op.LITERAL:
                span = chr(member)
            elif kind is op.RANGE and member[1] - member[0] < 64:
                span = "".join(map(chr, range(member[0], member[1] + 1)))
            else:
                return None, False
            if _WORD.fullmatch(span):
                chars.update(span)
            elif kind is op.LITERAL:
                ends = True
            else:
                return None, False  # a range mixing word and non-word characters
        return chars, ends

    def _walk(self, items: list[Any], heads: set[str]) -> tuple[set[str], set[tuple[str, bool]]]:
        """(first words still being spelled, finished ones: (word, complete or prefix))."""
        op, done = self._op, set[tuple[str, bool]]()

        def as_prefixes() -> set[str]:
            done.update((head, False) for head in heads)
            return set()

        for code, value in items:
            if len(heads) > _MAX_FIRST_WORDS:
                raise ValueError("too many possible first words")
            if not heads or code in (op.ASSERT, op.ASSERT_NOT, op.AT):
                continue  # zero-width: skipping it only widens the gate
            if code is op.LITERAL or code is op.IN:
                chars, ends = self._characters([(code, value)] if code is op.LITERAL else value)
                if chars is None:  # \w, \d, [^…]: what is spelled so far is a prefix
                    heads, chars, ends = as_prefixes(), set(), False
                if ends:
                    done.update((head, True) for head in heads)
                heads = {head + char for head in heads for char in chars}
            elif code is op.SUBPATTERN:
                heads, sub_done = self._walk(list(value[3]), heads)
                done |= sub_done
            elif code is op.BRANCH:
                branches = [self._walk(list(alt), heads) for alt in value[1]]
                done = done.union(*(sub_done for _, sub_done in branches))
                heads = set().union(*(sub_heads for sub_heads, _ in branches))
            elif code in (op.MAX_REPEAT, op.MIN_REPEAT):
                low, high, body = value
                sub_heads, sub_done = self._walk(list(body), heads)
                done |= sub_done
                if high > 1:  # further repeats could go on spelling: stop at a prefix
                    done.update((head, False) for head in sub_heads)
                    sub_heads = set()
                heads = sub_heads | (heads if low == 0 else set())
            else:
                heads = as_prefixes()
        return heads, done
