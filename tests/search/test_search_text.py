"""The pieces of search that need no database: reading a query, name words and their
variants, postcodes, and turning a marked passage into safe HTML."""

from __future__ import annotations

import pytest

from vigil.search import index, phonetic
from vigil.search.criteria import SearchCriteria, parse
from vigil.search.matching import fts5_expression
from vigil.search.snippets import marked_snippet, plain_snippet
from vigil.web.problems import Problem


def test_a_query_is_words_phrases_and_names() -> None:
    parsed = parse('white van "community centre" name:Hargreaves name:"Mohamed Ali" van')
    assert parsed.terms == ("white", "van", "community centre")
    assert parsed.names == ("hargreaves", "mohamed", "ali")


@pytest.mark.parametrize("q", ['""', "?!", "- * ~", "   "])
def test_a_query_without_words_is_refused_naming_q(q: str) -> None:
    with pytest.raises(Problem) as caught:
        parse(q)
    assert caught.value.status == 422
    assert caught.value.errors[0]["pointer"] == "#/query/q"


def test_name_without_a_name_is_refused() -> None:
    with pytest.raises(Problem) as caught:
        parse("van name:123")
    assert "name:" in caught.value.errors[0]["detail"]


def test_too_many_words_are_refused() -> None:
    with pytest.raises(Problem) as caught:
        parse(" ".join(f"w{i}" for i in range(17)))
    assert caught.value.errors[0]["pointer"] == "#/query/q"


def test_reader_text_never_becomes_fts5_syntax() -> None:
    terms = parse('depot" OR "x NEAR(a b) col:val ab*').terms
    expression = fts5_expression(terms)
    # Every term is one FTS5 string; a quote the reader typed is doubled inside it.
    assert expression == '"depot""" AND "OR" AND "x NEAR(a b) col:val ab*"'
    assert fts5_expression(('say "hi"',)) == '"say ""hi"""'


def test_criteria_check_category_priority_and_time_order() -> None:
    from datetime import UTC, datetime

    with pytest.raises(Problem) as caught:
        SearchCriteria(q="van", category="Photo%")
    assert caught.value.errors[0]["pointer"] == "#/query/category"
    with pytest.raises(Problem) as caught:
        SearchCriteria(q="van", priorities=frozenset({"P9"}))
    assert caught.value.errors[0]["pointer"] == "#/query/priority"
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(Problem) as caught:
        SearchCriteria(q="van", since=late, until=early)
    assert caught.value.errors[0]["pointer"] == "#/query/until"
    assert SearchCriteria(q="van", since=early, until=late).reports_only is False
    assert SearchCriteria(q="van", category="weapons").reports_only is True


def test_name_words_are_folded_and_split() -> None:
    assert phonetic.name_words(["Zoë O'Brien-Smith", None, "zoe  SMITH", "J"]) == [
        "zoe",
        "obrien",
        "smith",
    ]


@pytest.mark.parametrize(
    ("asked", "indexed"),
    [
        ("mohamed", "muhammad"),  # transliteration group
        ("mohamed", "mohammed"),
        ("dave", "david"),  # nickname → canonical
        ("david", "dave"),
        ("smith", "smyth"),  # same sound
        ("catherine", "kathryn"),
        ("hargreves", "hargreaves"),  # a dropped letter
        ("hsrgreaves", "hargreaves"),  # a wrong letter early on (found by the last letters)
    ],
)
def test_names_accept_their_variants_sounds_and_typos(asked: str, indexed: str) -> None:
    assert phonetic.accepts(asked, phonetic.keys(indexed))


@pytest.mark.parametrize(
    ("asked", "indexed"),
    [
        ("mohamed", "mahmood"),  # a different name that merely sounds like a variant
        ("hargreves", "hargrove"),
        ("john", "jane"),  # "JN" is too short a sound to mean anything
        ("jon", "jan"),
    ],
)
def test_names_refuse_different_names(asked: str, indexed: str) -> None:
    assert not phonetic.accepts(asked, phonetic.keys(indexed))


@pytest.mark.parametrize(
    ("postcode", "outward"),
    [("LS6 2QT", "LS6"), ("sw1a 1aa", "SW1A"), ("M11AE", "M1"), ("not one", None), (None, None)],
)
def test_the_place_facet_is_the_outward_postcode(postcode: str | None, outward: str | None) -> None:
    assert index.outward(postcode) == outward


def test_indexed_text_cannot_carry_snippet_markers() -> None:
    raw = f"a{index.MARK_START}b{index.MARK_END}c{index.LT}d{index.GT}e\x00"
    assert index.clean(raw) == "abcde"


def test_a_marked_passage_becomes_escaped_html() -> None:
    passage = (
        f"x {index.LT}script{index.GT}alert(1){index.LT}/script{index.GT} & "
        f"{index.MARK_START}depot{index.MARK_END}\n gates {index.MARK_START}open"
    )
    assert marked_snippet(passage) == (
        "x &lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>depot</mark> gates <mark>open</mark>"
    )


def test_a_plain_passage_is_escaped_and_shortened_at_a_word() -> None:
    text = "<b>" + "word " * 100
    shown = plain_snippet(text)
    assert shown.startswith("&lt;b&gt;word")
    assert shown.endswith("word…")
    assert "<" not in shown


def test_a_name_passage_marks_every_matching_spelling_and_escapes_the_rest() -> None:
    body = "Earlier text " * 20 + "<i>seen</i> with Mohammed & MUHAMMAD near the gate"
    shown = phonetic.names_snippet(body, {"mohammed", "muhammad"})
    assert "<mark>Mohammed</mark> &amp; <mark>MUHAMMAD</mark>" in shown
    assert "&lt;i&gt;seen&lt;/i&gt;" in shown
    assert shown.startswith("…")
    assert "<i>" not in shown
