"""Names of people and organisations in a report, through a pluggable recogniser.

Names are what linkage matches against known subjects, so the recogniser sits behind a
small protocol: the default ``RuleRecogniser`` runs offline from the project's own data
files (a given-name list covering the UK's communities, surnames, cues such as "a guy
called", company endings), and a statistical recogniser can replace it where one is
installed, without the pipeline changing.

The rules favour precision where a reporter is vague and recall where a reporter is clear:
"Mr Khan", "Dave Smith", "a guy called dave smith" and "his mate Kaz" are names; sentence-
initial words, days, months, places, brands and acronyms are not. Words naming a
protected characteristic are never part of a name ("a Muslim man", "polish lads").
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from typing import Any, Protocol

from vigil.triage.items import Extracted, ItemKind
from vigil.triage.lexicon import (
    common_words,
    first_fit,
    first_names,
    fold,
    misspelt_common,
    protected_words,
    surnames,
    title_name,
)
from vigil.triage.names_text import (
    _LOWER_TITLES,
    _MAX_ORG_WORDS,
    _MAX_PERSON_WORDS,
    _PARTICLES,
    _PRONOUN_I,
    _base,
    _item,
    _possessive,
    _prepare,
    _Text,
    _vocabulary,
)
from vigil.triage.places import generic_words as _place_generic
from vigil.triage.places import place_words, site_words


class NameRecogniser(Protocol):
    """Finds people and organisations; every item's span must index into ``text``."""

    def find(self, text: str) -> list[Extracted]: ...


class RecogniserUnavailable(RuntimeError):
    """The optional recogniser's library or model is not installed here."""


# --- organisations ----------------------------------------------------------------------


def _organisations(doc: _Text) -> list[Extracted]:
    vocabulary = _vocabulary()
    found: list[Extracted] = []
    for i, j, confidence in vocabulary.org_endings.scan(doc.text, doc.tokens):
        legal = confidence > 0.8
        if not doc.cap(i) and not doc.shouting:
            lower = _lower_case_organisation(doc, i, j, legal)
            if lower is not None:
                found.append(lower)
            continue
        if not (doc.cap(i) or (legal and not doc.shouting)):
            continue
        first = i
        while first > 0 and i - first < _MAX_ORG_WORDS:
            gap = doc.text[doc.tokens[first - 1].end : doc.tokens[first].start]
            if gap not in (" ", "-", " & ") or not doc.cap(first - 1):
                break
            if _shouted_word_before(doc, first):
                break
            first -= 1
        while first < i and (
            doc.tokens[first].key in _starters() and doc.tokens[first].key not in first_names()
        ):
            first += 1
        if first == i or any(doc.protected[first:j]):
            continue
        if all(doc.tokens[k].key in vocabulary.not_names for k in range(first, i)):
            continue
        found.append(_item(doc, ItemKind.organisation, first, j, confidence))
    # "Smith & Sons Ltd" ends twice ("Sons", "Ltd"): keep the longest reading.
    found.sort(key=lambda item: item.start - item.end)
    return first_fit(found)


# Words before a trading name typed in lower case ("i work for westmoor logistics ltd",
# "outside forge fitness"): without a capital, only these say that a name starts here.
_LOWER_ORG_CUES = frozenset(
    """at for from with outside inside near by to in behind opposite called named of via
    into""".split()  # noqa: SIM905
)


_DETERMINERS = frozenset(
    "the a an my his her their our your its this that these those some".split()  # noqa: SIM905
)


def _shouted_word_before(doc: _Text, k: int) -> bool:
    """Whether token k-1 is an ordinary word in capitals before a name in title case
    ("WORK AT Harbourside Money Transfer"): shouting, not part of the name. An acronym
    ("JD Sports") is no common word, so it stays."""
    before, word = doc.tokens[k - 1], doc.tokens[k].text
    shouted = len(before.text) > 1 and before.text.isupper() and not word.isupper()
    return shouted and before.key in common_words()


def _lower_case_organisation(doc: _Text, i: int, j: int, legal: bool) -> Extracted | None:
    """A trading name typed in lower case before its ending ("fenwick engineering ltd",
    "crescent pharmacy"), read back to a preposition. With a legal ending the name may be
    ordinary words ("rapid route logistics ltd"); with a trade word alone its first word
    must be no common word or misspelling, so "at the gym" and "at teh gym" are not names."""
    vocabulary, words, generic = _vocabulary(), common_words(), _place_generic()
    first = i
    while first > 0 and i - first < 4 and doc.joined(first):
        token = doc.tokens[first - 1]
        if doc.cap(first - 1) or not token.text.isalpha() or doc.protected[first - 1]:
            break
        if token.key in _LOWER_ORG_CUES or token.key in _DETERMINERS:
            break
        if not legal and token.key in generic:
            break  # "the local pharmacy"; a legal name may hold "water" or "power"
        if token.key in vocabulary.not_names:
            break
        first -= 1
    if first == i or first == 0 or doc.tokens[first - 1].key not in _LOWER_ORG_CUES:
        return None
    head = doc.tokens[first].key
    if not legal and (head in words or misspelt_common(head)):
        return None
    return _item(doc, ItemKind.organisation, first, j, 0.6 if legal else 0.5)


_GROUP_NOUNS = frozenset(
    {"group", "gang", "organisation", "organization", "company", "firm", "movement",
     "network", "crew", "outfit", "society", "collective", "cell", "brotherhood"}
)  # fmt: skip
_GROUP_JOINERS = frozenset({"of", "the", "and", "for"})


def _named_groups(doc: _Text) -> list[Extracted]:
    """ "a group called Patriots of the North": a name after a group noun and a naming
    cue is an organisation, whatever its last word."""
    found: list[Extracted] = []
    n = len(doc.tokens)
    for j, cue in doc.after_strong_cue.items():
        if cue == 0 or doc.tokens[cue - 1].key not in _GROUP_NOUNS or not doc.cap(j):
            continue
        end = j + 1
        while end < n and end - j < 7 and doc.joined(end):
            if doc.cap(end):
                end += 1
                continue
            k = end  # "of the Isles": joiners count only before another capital
            while k < min(n, end + 2) and doc.tokens[k].key in _GROUP_JOINERS and doc.joined(k):
                k += 1
            if k == end or k >= n or not doc.cap(k) or not doc.joined(k):
                break
            end = k + 1
        if not any(doc.protected[j:end]):
            found.append(_item(doc, ItemKind.organisation, j, end, 0.7))
    return found


# --- people -----------------------------------------------------------------------------


def _runs(doc: _Text, taken: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of capitalised words (with name particles inside) outside ``taken``."""
    runs: list[tuple[int, int]] = []
    n = len(doc.tokens)
    after = 0  # a run ends where the next may start
    # Only capitalised words start a run: visit those instead of every token.
    for i in [k for k, capitalised in enumerate(doc.caps) if capitalised]:
        if i < after or i in taken or (doc.protected[i] and not _first_name_use(doc, i)):
            continue
        j = i + 1
        while j < n and j not in taken and doc.joined(j) and not _protected_word(doc, j, i):
            if doc.tokens[j].text in _PRONOUN_I or _case_shift(doc, j):
                break
            particle = doc.tokens[j].key in _PARTICLES and j + 1 < n and doc.cap(j + 1)
            if not (doc.cap(j) or particle):
                break
            j += 1
            if _possessive(doc.tokens[j - 1]):
                break
        runs.append((i, j))
        after = j
    return runs


def _case_shift(doc: _Text, j: int) -> bool:
    """Whether token j changes between capitals and title case ("MY HOUSEMATE Tomasz
    Wojcik ORDERED"): a shouted phrase and a name beside it are two runs. A title or an
    initial may sit in capitals before a name ("DC Sarah Hughes", "J Smith")."""
    before, word = doc.tokens[j - 1].text, doc.tokens[j].text
    if len(before) == 1 or doc.tokens[j - 1].key in _vocabulary().titles:
        return False
    return (len(before) > 1 and before.isupper()) != (len(word) > 1 and word.isupper())


def _protected_word(doc: _Text, j: int, run_start: int) -> bool:
    """A protected word ends a run of names, unless it is a surname inside one ("Sophie
    Turner-Brown", "John White"): "a Black man" never starts one."""
    return doc.protected[j] and not (j > run_start and _base(doc.tokens[j]) in surnames())


def _first_name_use(doc: _Text, i: int) -> bool:
    """A word that is both a given name and a protected word, used as a given name: followed
    by a surname ("Christian Smith"), not by a noun ("a Christian man")."""
    if doc.tokens[i].key not in first_names() or i + 1 >= len(doc.tokens):
        return False
    if not (doc.joined(i + 1) and doc.cap(i + 1)) or doc.protected[i + 1]:
        return False
    second = _base(doc.tokens[i + 1])
    return second in surnames() or second not in common_words()


def _cue_before(doc: _Text, i: int) -> str:
    """Which cue precedes token i: "strong" after "called"/"named", "relation" after
    "his mate", "weak" after other words that often precede a name, else ""."""
    vocabulary = _vocabulary()
    if i in doc.after_strong_cue:
        return "strong"
    if i == 0:
        return ""
    previous = doc.tokens[i - 1].key
    if previous in vocabulary.relation:
        return "relation"
    return "weak" if previous in vocabulary.weak else ""


@cache
def _starters() -> frozenset[str]:
    """Words that open a sentence without being part of the name after them."""
    return _place_generic() | frozenset(fold(w) for w in ("yesterday", "today", "the", "a"))


def _names_someone(doc: _Text, i: int, j: int) -> bool:
    """A sentence-initial word that is a given name followed by a surname ("Will Smith
    was there") starts a name even though "will" is also a word."""
    if i + 1 >= j or _base(doc.tokens[i]) not in first_names():
        return False
    second = _base(doc.tokens[i + 1])
    return second in surnames() or second not in common_words()


def _kin_after(doc: _Text, j: int) -> bool:
    """Whether the name ends in a possessive before a relation or a belonging ("Dave's
    brother", "Kaz's van")."""
    last = doc.tokens[j - 1]
    return (
        _possessive(last) and j < len(doc.tokens) and doc.tokens[j].key in _vocabulary().kin_after
    )


def _person_in_run(doc: _Text, i: int, j: int) -> Extracted | None:
    vocabulary = _vocabulary()
    tokens, words = doc.tokens, common_words()
    title = None
    # Leading words that start a sentence or are never names: "Yesterday Dave Smith".
    while (
        i < j
        and tokens[i].key not in vocabulary.titles
        and (
            _base(tokens[i]) in vocabulary.not_names
            or (
                _base(tokens[i]) in words
                and doc.sentence_start(i)
                and not _names_someone(doc, i, j)
            )
        )
    ):
        i += 1
    if i < j and tokens[i].key in vocabulary.titles:
        title, i = i, i + 1
    if i >= j:
        return None
    j = min(j, i + _MAX_PERSON_WORDS)
    first = _base(tokens[i])
    places = place_words()
    if title is not None:
        # The form of address is not part of the name ("Mr Okafor" -> "Okafor"), so
        # that "Mr Okafor" and "Okafor" in two reports link.
        return _item(doc, ItemKind.person, i, j, 0.9)
    cue = _cue_before(doc, i)
    if cue == "strong" and not any(_base(t) in vocabulary.not_names for t in tokens[i:j]):
        return _item(doc, ItemKind.person, i, min(j, i + 3), 0.75)  # "known as Big Mike"
    known = first in first_names()
    strict = first in vocabulary.strict
    ambiguous = strict or (first in vocabulary.ambiguous and doc.sentence_start(i))
    if j - i >= 2:
        second = _base(tokens[i + 1])
        sites = [_base(t) for t in tokens[i + 1 : j] if _base(t) in site_words()]
        if sites and not (known and not ambiguous and set(sites) <= surnames()):
            return None  # "Victoria Station" is a place; "Peter Hall" is a person
        if known and not ambiguous:
            return _item(doc, ItemKind.person, i, j, 0.9)
        if known and (second in surnames() or second not in words):
            return _item(doc, ItemKind.person, i, j, 0.8)
        plain = all(
            _base(t) not in words
            and _base(t) not in places
            and _base(t) not in vocabulary.not_names
            for t in tokens[i:j]
        )
        # An unknown first word needs a known surname or a cue: "Border Force" is no one.
        if plain and (cue == "relation" or _base(tokens[j - 1]) in surnames()):
            return _item(doc, ItemKind.person, i, j, 0.75 if cue else 0.6)
        return None
    kin = _kin_after(doc, j)
    if known and not ambiguous:
        return _item(doc, ItemKind.person, i, j, 0.7 if cue or kin else 0.6)
    if known and (cue or kin):
        return _item(doc, ItemKind.person, i, j, 0.6)
    if first not in words and first not in places and (cue in ("strong", "relation") or kin):
        return _item(doc, ItemKind.person, i, j, 0.6)
    return None


def _lower_case_people(doc: _Text, taken: set[int]) -> list[Extracted]:
    """Names typed in lower case: after a strong cue ("a guy called dave smith"), or a
    known given name with a known surname ("saw john smith"), or, in a report typed
    without capitals, a known given name alone."""
    vocabulary = _vocabulary()
    words, names, family = common_words(), first_names(), surnames()
    capitals = sum(doc.caps)
    lower_case_report = doc.shouting or capitals <= max(1, len(doc.tokens) // 40)
    found: list[Extracted] = []
    # Only a given name, a word after a naming cue or a word after a title can start one:
    # visit those tokens instead of every token of the report.
    at = doc.at
    visit = {k for word in names.intersection(at) for k in at[word]}
    visit.update(doc.after_strong_cue)
    visit.update(k + 1 for word in _LOWER_TITLES.intersection(at) for k in at[word])
    after = 0  # a name ends where the next may start
    for i in sorted(visit):
        if i < after or i >= len(doc.tokens):
            continue
        token = doc.tokens[i]
        if i in taken or doc.cap(i) or doc.protected[i] or not token.text.isalpha():
            continue
        key = token.key
        titled = i > 0 and doc.tokens[i - 1].key in _LOWER_TITLES and doc.joined(i)
        strong = i in doc.after_strong_cue or titled
        # A given name that is also a word or an abbreviation alone ("wei", "kai") still
        # counts with a known surname after it ("wei lau").
        paired = key in names and key not in words and key not in vocabulary.not_names
        known = paired and key not in vocabulary.not_lower
        known = known and key not in vocabulary.ambiguous and len(key) > 2
        strong_ok = strong and key not in words and key not in vocabulary.not_names
        if not (strong_ok or known or paired):
            continue
        j = i + 1
        # After a bare title the word is a surname ("mr popescu parks there"), unless it
        # is a given name with a surname to follow ("mr dave smith").
        longest = 1 if titled and key not in names else 3
        while j < len(doc.tokens) and j - i < 3 and doc.joined(j) and j not in taken:
            hyphen = doc.text[doc.tokens[j - 1].end : doc.tokens[j].start] == "-"
            if j - i >= longest and not hyphen:
                break
            nxt = doc.tokens[j]
            if doc.protected[j] or not nxt.text.replace("'", "").isalpha():
                break
            if nxt.key in words or nxt.key in vocabulary.not_names:
                break
            if nxt.key not in family and not (strong and nxt.key in names):
                break
            j += 1
        if strong_ok:
            confidence = 0.75 if known else 0.6
        elif not known:
            if j - i < 2 or doc.tokens[j - 1].key in place_words():
                continue
            confidence = 0.55
        elif j - i >= 2:
            confidence = 0.6
        elif lower_case_report or _cue_before(doc, i) == "relation":
            confidence = 0.5
        else:
            after = j
            continue
        found.append(_item(doc, ItemKind.person, i, j, confidence))
        taken.update(range(i, j))
        after = j
    return found


class RuleRecogniser:
    """The default recogniser: rules and word lists, no model, no network."""

    def find(self, text: str) -> list[Extracted]:
        doc = _prepare(text)
        found = _organisations(doc) + _named_groups(doc)
        taken: set[int] = set()
        for item in found:
            taken.update(k for k, t in enumerate(doc.tokens) if item.start <= t.start < item.end)
        for i, j in _runs(doc, taken):
            person = _person_in_run(doc, i, j)
            if person is not None:
                found.append(person)
                taken.update(k for k in range(i, j))
        found += _lower_case_people(doc, taken)
        return sorted(found, key=lambda item: item.start)


class SpacyRecogniser:
    """People and organisations from a spaCy model, for deployments that install one.

    Vigil does not depend on spaCy: this class imports it only when constructed and
    raises ``RecogniserUnavailable`` when the library or the model is missing.
    """

    def __init__(self, model: str = "en_core_web_sm") -> None:
        if not self.available():
            raise RecogniserUnavailable("spaCy is not installed")
        spacy: Any = importlib.import_module("spacy")
        try:
            self._nlp = spacy.load(model)
        except OSError as error:
            raise RecogniserUnavailable(f"spaCy model {model!r} is not installed") from error

    @staticmethod
    def available() -> bool:
        return importlib.util.find_spec("spacy") is not None

    def find(self, text: str) -> list[Extracted]:
        kinds = {"PERSON": ItemKind.person, "ORG": ItemKind.organisation}
        blocked = protected_words()
        found: list[Extracted] = []
        for entity in self._nlp(text).ents:
            kind = kinds.get(entity.label_)
            if kind is None or any(fold(w) in blocked for w in str(entity.text).split()):
                continue
            start, end = int(entity.start_char), int(entity.end_char)
            value = title_name(text[start:end], keep_acronyms=kind is ItemKind.organisation)
            found.append(Extracted(kind, value, text[start:end], start, end, 0.8))
        return found


@cache
def default_recogniser() -> RuleRecogniser:
    """One shared rule recogniser: it holds no state, only cached vocabularies."""
    return RuleRecogniser()
