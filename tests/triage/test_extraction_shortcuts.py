"""The extractors' shortcuts find exactly what the plain walks they replace find: tokens of an
ASCII report folded by lowering the whole text, phrase scans that visit only the tokens
holding a known first word, and date patterns not tried after a starter word whose next
word cannot continue an expression. Each is checked against the plain walk, written out
here, over report-like random text."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.triage import when
from vigil.triage.lexicon import (
    TOKEN_RE,
    PhraseIndex,
    Token,
    fold,
    protected_index,
    tokenize,
    weapon_index,
)
from vigil.triage.names_text import _vocabulary as name_words
from vigil.triage.places import _vocabulary as place_words

# Words that start dates (and usually do not), phrases from the word lists, odd characters.
FRAGMENTS = [
    "the", "the day before yesterday", "the 3rd", "the 21st of March", "to-day", "to",
    "a", "a day ago", "a couple of days ago", "an hour ago", "in", "in 2 hours",
    "in a couple of days", "in the morning", "at", "at 3", "at 3pm", "about 9ish",
    "approx. 10", "approx 4", "between 2 and 3pm", "gone 11", "after", "before", "by 5",
    "from 6 until 8", "till", "half past 4", "quarter to 9", "last Tuesday", "yesterday",
    "Mon 3rd", "o'clock", "2 o'clock", "~3", "@ 4", "14:30", "03/04/2026", "day", "hours",
    "machete", "a kitchen knife", "hydrogen peroxide", "Muslim", "a Black man", "called",
    "Manchester Arena", "Victoria Station", "the railway station", "Fast Lane Removals Ltd",
    "Łukasz", "İ", "ß", "’", "'", "-", ".", ",", "\n", " ", "  ", "0", "12",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=60).map(
    " ".join
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plain_tokens(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group(), fold(m.group())) for m in TOKEN_RE.finditer(text)]


def plain_scan(index: PhraseIndex[object], text: str, tokens: tuple[Token, ...]) -> list[object]:
    """Every token in turn, as the scan did before it learnt where words start."""
    found, i = [], 0
    while i < len(tokens):
        hit = index.match_at(text, tokens, i)
        if hit is None:
            i += 1
            continue
        found.append((i, hit[0], hit[1]))
        i = hit[0]
    return found


def plain_matches(text: str) -> list[tuple[int, int, str | None]]:
    """Every starter tried, as the date finder did before it looked at the next word."""
    starts: list[int] = []
    for token in tokenize(text):
        if "'" not in token.key:
            if token.key in when._STARTERS or token.key[0].isdigit():
                starts.append(token.start)
            continue
        offset = token.start
        for part in re.split(r"['’]", token.text):
            key = part.lower()
            if key and (key in when._STARTERS or key[0].isdigit()):
                starts.append(offset)
            offset += len(part) + 1
    starts += [i for i, c in enumerate(text) if c in "~@"]
    found, done = [], 0
    for start in sorted(starts):
        if start < done:
            continue
        match = when._ATOMS.match(text, start)
        if match is not None:
            done = match.end()
            found.append((match.start(), match.end(), match.lastgroup))
    return found


@SETTINGS
@given(texts)
def test_tokens_are_the_words_folded_whether_the_text_is_ascii_or_not(text: str) -> None:
    assert list(tokenize(text)) == plain_tokens(text)
    assert list(tokenize(text.upper())) == plain_tokens(text.upper())


@SETTINGS
@given(texts)
def test_phrase_scans_find_what_walking_every_token_finds(text: str) -> None:
    tokens = tokenize(text)
    indexes = [
        weapon_index(),
        protected_index(),
        name_words().strong,
        name_words().org_endings,
        place_words().gazetteer,
        place_words().sites,
    ]
    for index in indexes:
        assert index.scan(text, tokens) == plain_scan(index, text, tokens)
        # tokens that are not the text's cached ones are scanned the same way
        assert index.scan(text, tuple(plain_tokens(text))) == plain_scan(index, text, tokens)


@SETTINGS
@given(texts)
def test_dates_are_found_wherever_any_starter_would_have_found_them(text: str) -> None:
    found = [(m.start(), m.end(), m.lastgroup) for m in when._matches(text)]
    assert found == plain_matches(text)


def test_starter_words_still_start_the_expressions_they_can() -> None:
    text = (
        "the day before yesterday, the 3rd, to-day, a day ago, a couple of days ago, an hour "
        "ago, in 2 hours, in a couple of days, at 3 tomorrow, about 9ish, approx. 10, gone 11"
    )
    found = [text[s:e] for s, e, _ in plain_matches(text)]
    assert [text[m.start() : m.end()] for m in when._matches(text)] == found
    assert {"the day before yesterday", "to-day", "a couple of days ago", "in 2 hours"} <= set(
        found
    )
