"""The text model behind the rule-based name recogniser (``vigil.triage.names``): its word
lists, a report split into tokens with the facts the rules ask about (capitalised, after a
naming cue, a protected word, a report typed in capitals), and how an item is cut from it.

It lives apart from the rules so that each module stays small enough to review: the rules
decide who is a person or an organisation, this module only describes the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from vigil.triage.items import Extracted, ItemKind
from vigil.triage.lexicon import (
    PhraseIndex,
    Token,
    common_words,
    first_names,
    fold,
    load_yaml,
    mostly_upper,
    protected_flags,
    title_name,
    tokenize,
    word_starts,
)


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    titles: frozenset[str]
    strong: PhraseIndex[bool]
    relation: frozenset[str]
    weak: frozenset[str]
    kin_after: frozenset[str]
    org_endings: PhraseIndex[float]
    not_names: frozenset[str]
    ambiguous: frozenset[str]  # need a cue or surname at the start of a sentence
    strict: frozenset[str]  # need a cue or surname anywhere
    not_lower: frozenset[str]  # not a name when typed in lower case without a cue


@cache
def _vocabulary() -> _Vocabulary:
    data = load_yaml("names.yaml")

    def words(key: str) -> frozenset[str]:
        return frozenset(fold(w) for w in data[key])

    endings = [(w, 0.85) for w in data["org_suffixes"]] + [(w, 0.75) for w in data["org_trades"]]
    return _Vocabulary(
        titles=words("titles") | words("upper_titles"),
        strong=PhraseIndex((w, True) for w in data["strong_cues"]),
        relation=words("relation_cues"),
        weak=words("weak_cues") | words("relation_cues"),
        kin_after=words("kin_after"),
        org_endings=PhraseIndex(endings),
        not_names=words("not_names") | words("brands"),
        ambiguous=(words("ambiguous_names") | (first_names() & common_words()))
        - words("strict_names"),
        strict=words("strict_names"),
        not_lower=words("lower_case_exclusions") | words("ambiguous_names") | words("strict_names"),
    )


_NAME_GAP = re.compile(r"[ \t]{1,3}|[ \t]?-[ \t]?")
_SENTENCE_BREAK = frozenset('.!?\n:;"“”(')
_PARTICLES = frozenset({"bin", "bint", "ibn", "al", "el", "van", "von", "de", "da", "di", "le"})
_MAX_PERSON_WORDS = 4
# The pronoun is capitalised but never continues a name: "His name is Ionut I think".
_PRONOUN_I = frozenset({"I", "I'm", "I've", "I'd", "I'll", "I’m", "I’ve", "I’d", "I’ll"})
# Forms of address that mark the next word as a surname even in lower case ("mr ionescu");
# "miss", "sister" and the ranks are ordinary words too often to do so.
_LOWER_TITLES = frozenset({"mr", "mrs", "ms", "mx", "dr", "mister"})
_MAX_ORG_WORDS = 5


def _base(token: Token) -> str:
    """The folded word without a possessive ending ("dave's" -> "dave")."""
    key = token.key
    return key[:-2] if key.endswith("'s") and len(key) > 3 else key


def _possessive(token: Token) -> bool:
    return token.key.endswith("'s") and len(token.key) > 3


@dataclass(slots=True)
class _Text:
    """A report split into tokens, with the per-token facts the rules ask about."""

    text: str
    tokens: Sequence[Token]
    protected: Sequence[bool]
    after_strong_cue: dict[int, int]  # token after a strong cue -> where the cue starts
    shouting: bool
    caps: Sequence[bool]  # capitalised, in a report not typed in capitals
    at: dict[str, list[int]]  # folded word -> the tokens holding it

    def cap(self, i: int) -> bool:
        return self.caps[i]

    def sentence_start(self, i: int) -> bool:
        if i == 0:
            return not self.text[: self.tokens[0].start].strip(" \t-•*")
        before = self.text[self.tokens[i - 1].end : self.tokens[i].start]
        return any(c in _SENTENCE_BREAK for c in before)

    def joined(self, i: int) -> bool:
        """Whether token i continues the name that token i-1 is part of."""
        gap = self.text[self.tokens[i - 1].end : self.tokens[i].start]
        if _NAME_GAP.fullmatch(gap):
            return not _possessive(self.tokens[i - 1])
        previous = self.tokens[i - 1]
        # "J. Smith", "Mr. Khan": an initial or a title with its full stop.
        return gap == ". " and (len(previous.text) == 1 or previous.key in _vocabulary().titles)


def _capitalised(word: str, shouting: bool) -> bool:
    """Whether a word is written with a capital that may mark a name. In a report typed in
    capitals only a word in mixed case ("MY HOUSEMATE Tomasz Wojcik ORDERED") still says
    so: the reporter went out of their way to write it that way."""
    if not (word[:1].isupper() and word[:1].isalpha()):
        return False
    return not shouting or any(c.islower() for c in word[1:])


def _prepare(text: str) -> _Text:
    tokens = tokenize(text)
    vocabulary = _vocabulary()
    after = {j: i for i, j, _ in vocabulary.strong.scan(text, tokens)}
    shouting = mostly_upper(text)
    if shouting:
        caps = [_capitalised(t.text, shouting) for t in tokens]
    else:  # _capitalised without a call per word, for the usual report
        caps = [word[:1].isupper() and word[:1].isalpha() for _s, _e, word, _k in tokens]
    at = word_starts(text, tokens)
    return _Text(text, tokens, protected_flags(text), after, shouting, caps, at)


def _item(doc: _Text, kind: ItemKind, i: int, j: int, confidence: float) -> Extracted:
    start, end = doc.tokens[i].start, doc.tokens[j - 1].end
    if _possessive(doc.tokens[j - 1]):
        end -= 2
    value = title_name(doc.text[start:end], keep_acronyms=kind is ItemKind.organisation)
    return Extracted(kind, value, doc.text[start:end], start, end, confidence)
