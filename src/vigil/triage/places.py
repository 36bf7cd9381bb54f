"""Named places in a report: towns and areas from a gazetteer, and named sites.

Priority weighs where something happened: a crowded place or a likely target (a transport
hub, a stadium, a shopping centre, a place of worship, a school, a government building)
raises it. So each place carries a detail saying what sort of place it is:

    transport, crowded, worship, school, government, military, infrastructure, hospital
        (the crowded-place and likely-target kinds, from NaCTSO "Crowded Places" guidance)
    street, site (other named sites), town (UK settlement or district), area (county,
        region, nation), abroad (a country or city outside the UK)

Named sites are a capitalised name followed by a site word ("Piccadilly Station", "the
Arndale Centre", "Elm Road"); the gazetteer (data/places.yaml) supplies towns, areas,
places abroad and landmarks without a site word ("Old Trafford"). Words naming a religion,
ethnicity or nationality never make a place ("the Muslim centre" yields nothing), while a
city or country named as a destination ("flew to Istanbul") is one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

from vigil.triage.items import Extracted, ItemKind
from vigil.triage.lexicon import (
    PhraseIndex,
    Token,
    common_words,
    first_fit,
    first_names,
    fold,
    load_yaml,
    misspelt_common,
    mostly_upper,
    protected_flags,
    title_name,
    tokenize,
)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    detail: str
    ambiguous: bool


# Words after which an ambiguous or lower-case place name is read as a place.
_PLACE_CUES = frozenset(
    """in at to from near around outside towards toward into through via visiting visited
    visit flew fly flying travelled traveled travelling traveling went go going gone moved
    back based live lives living lived nr of round across""".split()  # noqa: SIM905
)
# Words inside a place name that are not capitalised ("Isle of Dogs", "Stoke-on-Trent").
_CONNECTORS = frozenset({"of", "the", "and", "upon", "on", "le", "in", "&"})
# Of those, the ones a site name may contain when read backwards from its site word; the
# hyphen-only ones need hyphens, so "Meet on Baker Street" is not one name.
_SPACED_CONNECTORS = frozenset({"of"})
_HYPHEN_CONNECTORS = frozenset({"upon", "on", "le", "in"})
_NAME_GAP = re.compile(r"[ \t]{1,3}|[ \t]?-[ \t]?|['’][ \t]")  # "St James' Park"
# Words before a site named in lower case ("on belgrave road", "near piccadilly gardens"):
# without a capital, only a preposition of place says that a name starts here.
_LOWER_SITE_CUES = _PLACE_CUES | frozenset(
    "on for by opposite behind past along up down off".split()  # noqa: SIM905
)
# A town written before one of these names a thing, not a place: a "Luton van" is a body
# type, and "pro-Palestine" a stance (a protected characteristic, never an item).
_NOT_AFTER_TOWN = frozenset({"van", "vans"})
_STANCE_PREFIXES = frozenset({"pro", "anti"})
_PREFIX_SITES = {"raf": "military", "hmp": "government", "hmnb": "military", "hms": "military"}
_MAX_NAME_WORDS = 5


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    gazetteer: PhraseIndex[_Entry]
    sites: PhraseIndex[str]
    generic: frozenset[str]


def _place(text: str, start: int, end: int, confidence: float, detail: str | None) -> Extracted:
    """A place item as written, tidied: "kings cross" stays "Kings Cross", not "King's Cross"."""
    return Extracted(
        ItemKind.place,
        title_name(text[start:end], keep_acronyms=True),
        text[start:end],
        start,
        end,
        confidence,
        detail=detail,
    )


@cache
def _vocabulary() -> _Vocabulary:
    data = load_yaml("places.yaml")
    ambiguous = {fold(name) for name in data["ambiguous"]}
    entries: list[tuple[str, _Entry]] = []
    groups = [(d, data[d]) for d in ("town", "area", "abroad")] + list(data["landmarks"].items())
    for detail, names in groups:
        for name in names:
            entry = _Entry(name, detail, fold(name) in ambiguous)
            entries.append((name, entry))
            if "'" in name:  # "Kings Cross" as often as "King's Cross"
                entries.append((name.replace("'", ""), entry))
    # The index keeps the first payload given for a phrase: landmarks go first so that
    # their detail ("transport") wins over a town of the same name.
    entries.sort(key=lambda pair: pair[1].detail in ("town", "area", "abroad"))
    sites = PhraseIndex(
        (word, detail) for detail, words in data["site_words"].items() for word in words
    )
    return _Vocabulary(
        gazetteer=PhraseIndex(entries),
        sites=sites,
        generic=frozenset(fold(word) for word in data["generic"]),
    )


@cache
def place_words() -> frozenset[str]:
    """Every folded word of every gazetteer name, so the name recogniser can refuse
    "Leeds United" as a person."""
    data = load_yaml("places.yaml")
    names = [*data["town"], *data["area"], *data["abroad"]]
    names += [name for group in data["landmarks"].values() for name in group]
    generic = _vocabulary().generic
    return frozenset(key for name in names for key in map(fold, name.split()) if key not in generic)


@cache
def site_words() -> frozenset[str]:
    """Every folded word that can end a named site ("station", "road")."""
    data = load_yaml("places.yaml")
    return frozenset(
        key for words in data["site_words"].values() for w in words for key in map(fold, w.split())
    )


def generic_words() -> frozenset[str]:
    """Words that are never the name part of a site: determiners, days, "train", "bus"."""
    return _vocabulary().generic


def _capitalised(token: Token) -> bool:
    return token.text[:1].isupper()


def _joined(text: str, left: Token, right: Token) -> bool:
    """Whether two tokens sit in one name: separated by one space or a hyphen only."""
    return _NAME_GAP.fullmatch(text, left.end, right.start) is not None


def _cued(tokens: Sequence[Token], i: int, cues: frozenset[str] = _PLACE_CUES) -> bool:
    """Whether a place preposition comes right before token i, or before "the" there
    ("at the arndale")."""
    if i > 1 and tokens[i - 1].key == "the":
        i -= 1
    return i > 0 and tokens[i - 1].key in cues


def _gazetteer_places(text: str, tokens: Sequence[Token]) -> list[Extracted]:
    vocabulary = _vocabulary()
    found: list[Extracted] = []
    for i, j, entry in vocabulary.gazetteer.scan(text, tokens):
        capitalised = all(
            _capitalised(t) or t.key in _CONNECTORS or not t.text[:1].isalpha() for t in tokens[i:j]
        )
        cued = _cued(tokens, i)
        if entry.ambiguous and not (cued and (capitalised or _distinctive(tokens[i:j]))):
            continue  # "at arndale" is a place, "in reading" is not
        if not capitalised and not cued:
            continue
        if _thing_not_place(text, tokens, i, j):
            continue
        confidence = 0.85 if capitalised else 0.7
        if cued and capitalised:
            confidence = 0.9
        found.append(_place(text, tokens[i].start, tokens[j - 1].end, confidence, entry.detail))
    return found


def _distinctive(tokens: Sequence[Token]) -> bool:
    """Whether a gazetteer name is no ordinary word or given name, so that lower case
    cannot hide another reading ("arndale", but not "reading" or "jordan")."""
    words, names = common_words(), first_names()
    return all(t.key not in words and t.key not in names for t in tokens)


def _thing_not_place(text: str, tokens: Sequence[Token], i: int, j: int) -> bool:
    """A "Luton van" or a "pro-Palestine" march: the name describes something else."""
    if (
        j < len(tokens)
        and tokens[j].key in _NOT_AFTER_TOWN
        and _joined(text, tokens[j - 1], tokens[j])
    ):
        return True
    return (
        i > 0
        and tokens[i - 1].key in _STANCE_PREFIXES
        and text[tokens[i - 1].end : tokens[i].start] == "-"
    )


def _lower_case_site_before(
    text: str, tokens: Sequence[Token], i: int, flags: Sequence[bool]
) -> int:
    """The start of a site named in lower case before site word i ("on belgrave road",
    "at kirkstall water treatment works", "brackley lane substation"): up to three words
    that are no common word, generic word or misspelling, after a place preposition.
    Street words may sit inside ("lane" in "brackley lane substation"); the first word may
    not be one."""
    generic, sites, words = _vocabulary().generic, site_words(), common_words()
    first = i
    k = i - 1
    while k >= 0 and i - k <= 4 and _joined(text, tokens[k], tokens[k + 1]):
        token = tokens[k]
        if _capitalised(token) or not token.text.isalpha() or flags[k]:
            break
        if token.key in sites:
            pass  # a site word inside the name; it may not start it (trimmed below)
        elif token.key in words or token.key in generic or misspelt_common(token.key):
            break
        first = k
        k -= 1
    while first < i and tokens[first].key in sites:
        first += 1
    if first == i or not _cued(tokens, first, _LOWER_SITE_CUES):
        return i
    return first


def _name_before(text: str, tokens: Sequence[Token], i: int, generic: frozenset[str]) -> int:
    """Index of the first token of the capitalised name ending just before token i, or i
    when there is none ("Piccadilly" in "Piccadilly Station", "St Paul's" in "St Paul's
    Cathedral")."""
    first = i
    k = i - 1
    while k >= 0 and i - k <= _MAX_NAME_WORDS and _joined(text, tokens[k], tokens[k + 1]):
        token = tokens[k]
        if _capitalised(token):
            first = k
        elif not (k + 1 < i and _connects(text, tokens, k)):
            break
        k -= 1
    while first < i and (tokens[first].key in generic or tokens[first].key in _CONNECTORS):
        first += 1
    return first


def _connects(text: str, tokens: Sequence[Token], k: int) -> bool:
    """Whether lower-case token k joins two capitalised words of one name."""
    key = tokens[k].key
    if key in _SPACED_CONNECTORS:
        return True
    if key not in _HYPHEN_CONNECTORS or k == 0:
        return False
    before = text[tokens[k - 1].end : tokens[k].start]
    return before == "-" == text[tokens[k].end : tokens[k + 1].start]


def _site_places(text: str, tokens: Sequence[Token], flags: Sequence[bool]) -> list[Extracted]:
    vocabulary = _vocabulary()
    found: list[Extracted] = []
    for i, j, detail in vocabulary.sites.scan(text, tokens):
        first = _name_before(text, tokens, i, vocabulary.generic)
        confidence = 0.8
        if first == i:
            first = _lower_case_town_before(text, tokens, i)
            confidence = 0.7
        if first == i:
            first = _lower_case_site_before(text, tokens, i, flags)
            confidence = 0.6
            if first == i:
                continue
        if any(flags[first:j]):
            continue  # "the Muslim Centre": a protected word is never a place name
        found.append(_place(text, tokens[first].start, tokens[j - 1].end, confidence, detail))
    for k, token in enumerate(tokens[:-1]):
        nxt = tokens[k + 1]
        if (
            token.key in _PREFIX_SITES
            and token.text.isupper()
            and _capitalised(nxt)
            and _joined(text, token, nxt)
            and not flags[k + 1]
        ):
            start, end = token.start, nxt.end
            found.append(
                Extracted(
                    ItemKind.place,
                    token.text + " " + title_name(nxt.text),
                    text[start:end],
                    start,
                    end,
                    0.8,
                    detail=_PREFIX_SITES[token.key],
                )
            )
    return found


def _lower_case_town_before(text: str, tokens: Sequence[Token], i: int) -> int:
    """A lower-case gazetteer name right before a site word ("leeds station")."""
    gazetteer = _vocabulary().gazetteer
    for first in range(max(0, i - 3), i):
        hit = gazetteer.match_at(text, tokens, first)
        if (
            hit is not None
            and hit[0] == i
            and not hit[1].ambiguous
            and all(_joined(text, tokens[k], tokens[k + 1]) for k in range(first, i))
        ):
            return first
    return i


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def find_places(text: str) -> list[Extracted]:
    """Places named in the text; where two overlap the longer wins ("Manchester Arena"
    rather than "Manchester"). A report typed in capitals is read as if in lower case, so
    only gazetteer names count there."""
    if mostly_upper(text):
        view = text.translate(_ASCII_LOWER)  # same length, so spans still hold
        found = _find_places(view)
        return [replace(item, text=text[item.start : item.end]) for item in found]
    return _find_places(text)


def _find_places(text: str) -> list[Extracted]:
    tokens, flags = tokenize(text), protected_flags(text)
    candidates = _site_places(text, tokens, flags) + _gazetteer_places(text, tokens)
    candidates.sort(key=lambda item: (item.start - item.end, -item.confidence, item.start))
    return first_fit(candidates)
