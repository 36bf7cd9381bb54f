"""Properties that hold for any text at all: extraction never fails, every span points at
exactly the characters it quotes, output is ordered and never repeats a span, merging
never duplicates, and words about who someone is never become items."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.triage.extraction import StructuredFields, extract, merge_structured
from vigil.triage.items import Extracted, ItemKind

REPORTED = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)

# Report-like fragments, so random text often contains things worth extracting.
FRAGMENTS = [
    "07700 900123", "+44 7700 900456", "(0161) 496 0000", "dave@example.org", "@handle",
    "https://t.me/x?utm_source=a", "www.example.com/p", "AB12 CDE", "ab12cde", "reg ABC 123",
    "M1 1AE", "sw1a1aa", "£5k", "300 quid", "yesterday about 3pm", "last Tuesday night",
    "on 3rd March", "03/04/2026", "at 14:30", "Mr Khan", "a guy called dave smith",
    "O'Connor", "Smith-Jones", "Piccadilly station", "Leeds", "hydrogen peroxide", "machete",
    "Fast Lane Removals Ltd", "a muslim man", "Polish", "🙂", "שלום", "مرحبا", "\u200f", "\n",
    " ", ".", ",", "'", "-", "(", ")", "@", "£", "0", "07", "Dave's", "İ", "ß", "ǅ",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=40).map(
    "".join
)
any_text = st.one_of(texts, st.text(max_size=2000))


def assert_well_formed(text: str, items: list[Extracted]) -> None:
    for item in items:
        assert 0 <= item.start < item.end <= len(text)
        assert text[item.start : item.end] == item.text
        assert 0.0 <= item.confidence <= 1.0
        assert item.value
    assert items == sorted(items, key=lambda i: (i.start, i.kind.value))
    spans = [(i.kind, i.start, i.end) for i in items]
    assert len(spans) == len(set(spans))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_extract_never_fails_and_every_span_quotes_the_text(text: str) -> None:
    assert_well_formed(text, extract(text, reported_at=REPORTED))


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(FRAGMENTS), st.integers(min_value=2_000, max_value=20_000))
def test_very_long_lines_are_handled(fragment: str, repeat: int) -> None:
    text = (fragment * (repeat // max(1, len(fragment))))[:repeat]
    assert_well_formed(text, extract(text, reported_at=REPORTED))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join),
    st.lists(st.sampled_from(["Dave Smith", "dave smith", "Kaz", "", "Mr Khan"]), max_size=4),
    st.lists(st.sampled_from(["AB12 CDE", "ab12cde", "XY19ZZZ"]), max_size=3),
    st.lists(st.sampled_from(["https://t.me/x", "t.me/x?utm_source=a", "example.com"]), max_size=3),
    st.sampled_from([None, "M1 1AE", "m11ae", "nonsense"]),
    st.lists(st.sampled_from(["07700 900123", "+447700900123", "12"]), max_size=3),
)
def test_merge_never_duplicates_a_kind_and_value(
    text: str,
    people: list[str],
    vehicles: list[str],
    urls: list[str],
    postcode: str | None,
    phones: list[str],
) -> None:
    items = extract(text, reported_at=REPORTED)
    fields = StructuredFields(people, vehicles, urls, postcode, phones, ["A@Example.org"])
    merged = merge_structured(items, fields)
    added = merged[: len(merged) - len(items)]
    assert merged[len(added) :] == items
    text_values = {(i.kind, i.value.casefold()) for i in items}
    keys = [(i.kind, i.value.casefold()) for i in added]
    assert len(keys) == len(set(keys))
    assert not set(keys) & text_values
    assert merge_structured(merged, fields) == merged


PROTECTED = [
    "muslim", "Muslim", "jewish", "Jewish", "polish", "Polish", "asian", "Asian", "black",
    "white", "somali", "Pakistani", "Irish", "christian", "sikh", "Hindu", "arab", "Romanian",
    "Labour", "Tory", "gay", "autistic", "disabled", "refugee", "Eastern European",
]  # fmt: skip
PEOPLE_WORDS = ["man", "woman", "men", "lads", "guy", "family", "people", "lady", "boy"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["a", "an", "the", "two", "some", "A", "The"]),
    st.lists(st.sampled_from(PROTECTED), min_size=1, max_size=2),
    st.sampled_from(PEOPLE_WORDS),
)
def test_protected_characteristic_words_produce_no_items(
    article: str, words: list[str], noun: str
) -> None:
    text = f"{article} {' '.join(words)} {noun}"
    assert extract(text, reported_at=REPORTED) == []


def test_protected_words_added_to_a_report_change_no_item() -> None:
    plain = "A man called Dave Smith was outside Piccadilly station at 3pm with a knife."
    described = (
        "A Polish Muslim man called Dave Smith was outside Piccadilly station at 3pm with a knife."
    )
    before = [(i.kind, i.value) for i in extract(plain, reported_at=REPORTED)]
    after = [(i.kind, i.value) for i in extract(described, reported_at=REPORTED)]
    assert before == after
    assert {ItemKind.person, ItemKind.place, ItemKind.datetime, ItemKind.weapon} <= {
        kind for kind, _ in before
    }
