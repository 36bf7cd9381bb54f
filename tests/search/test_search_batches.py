"""Hits found in batches equal the old one-statement search exactly: the same hits in the
same order on every page, the same capped totals and facets, the same snippets, for readers
who see most, some or none of what matches; and the walk checks only about as many
candidates as it needs. On PostgreSQL all of it runs under row-level security."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.search import single_statement
from tests.search.mixed_world import MixedWorld, build
from vigil.access.services import StaffUser
from vigil.db import utcnow
from vigil.search import hits, matching, query
from vigil.search.criteria import SearchCriteria, searchable_types
from vigil.search.matching import Matched, candidates, matched
from vigil.search.schemas import RecordType, SearchPage
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime

pytestmark = pytest.mark.slow  # every page, total and facet, in batches of every size

NOBODY_WROTE = "zeppelin"
QUERIES: list[dict[str, Any]] = [
    {"q": "lantern"},
    {"q": '"harbour gate"'},
    {"q": "harbour gate"},
    {"q": '"e-mail address" lantern'},
    {"q": '"address at example.org/gate"'},
    {"q": "lantern name:Ines"},
    {"q": "name:Varga"},
    {"q": "lantern", "types": frozenset({RecordType.entity, RecordType.case})},
    {"q": "lantern", "types": frozenset({RecordType.case})},
    {"q": "lantern", "category": "photography"},
    {"q": "night", "priorities": frozenset({"P1", "pending"})},
    {"q": "lantern", "since": utcnow() - timedelta(days=60)},
    {"q": "lantern", "until": utcnow() - timedelta(days=60)},
    {"q": NOBODY_WROTE},
]


@pytest.fixture
def world(rt: Runtime) -> MixedWorld:
    return build(rt)


def pages(
    rt: Runtime,
    user: StaffUser,
    criteria: SearchCriteria,
    limit: int,
    count_limit: int,
    max_pages: int,
) -> Iterator[tuple[SearchPage, SearchPage]]:
    """The pages of a search, batched and by the old statement side by side, following the
    old statement's cursors (so a wrong cursor shows as a difference, not a loop)."""
    cursor = None
    for _ in range(max_pages):
        new = query.search(rt, user, criteria, cursor=cursor, limit=limit)
        old = single_statement.search(
            rt, user, criteria, cursor=cursor, limit=limit, count_limit=count_limit
        )
        yield new, old
        cursor = old.next_cursor
        if cursor is None:
            return


def may_ask(user: StaffUser, criteria: SearchCriteria) -> bool:
    """Whether the reader's role may search those types (both paths refuse alike, before
    any query, through the same function)."""
    try:
        searchable_types(user, criteria)
    except Problem:
        return False
    return True


def assert_same_everywhere(
    rt: Runtime,
    world: MixedWorld,
    monkeypatch: pytest.MonkeyPatch,
    *,
    limit: int,
    count_limit: int,
    max_pages: int = 10,
    queries: list[dict[str, Any]] = QUERIES,
) -> None:
    """Every reader, every query, page after page: the same answer both ways. Every query
    but the one for a word nobody wrote finds something for someone, so no comparison is
    of two empty answers only."""
    monkeypatch.setattr(query, "COUNT_LIMIT", count_limit)
    found = [0] * len(queries)
    for reader, user in world.readers.items():
        for i, asked in enumerate(queries):
            criteria = SearchCriteria(**asked)
            if not may_ask(user, criteria):
                continue
            for n, (new, old) in enumerate(
                pages(rt, user, criteria, limit, count_limit, max_pages)
            ):
                assert new.model_dump() == old.model_dump(), (reader, asked, n)
                found[i] += len(new.hits)
    unfound = [queries[i]["q"] for i, n in enumerate(found) if not n]
    assert unfound == [q["q"] for q in queries if q["q"] == NOBODY_WROTE]


def test_every_page_total_and_facet_equals_the_single_statement_in_small_batches(
    rt: Runtime, world: MixedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 4 to 9 candidates in windows starting as narrow as a batch: most pages and
    counts span several batches and windows, some windows fill a batch and some run out,
    and their edges fall everywhere; counting stops at 25 so most totals are capped floors.
    The first three pages of each search."""
    monkeypatch.setattr(hits, "MIN_BATCH", 4)
    monkeypatch.setattr(hits, "MAX_BATCH", 9)
    monkeypatch.setattr(hits, "FIRST_DENSITY", 1)
    assert_same_everywhere(rt, world, monkeypatch, limit=6, count_limit=25, max_pages=3)


def test_names_read_ahead_or_by_subquery_give_the_single_statements_pages(
    rt: Runtime, world: MixedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a name's documents in a window are read ahead as a list of ids, or,
    above ``NAME_IDS_MAX`` of them, looked up by a subquery as SQLite always does: with a
    limit of two, small windows take both ways, and every page, total and facet is still
    the single statement's. Only ``name:`` searches read the name index, so only they are
    asked again here."""
    monkeypatch.setattr(hits, "MIN_BATCH", 4)
    monkeypatch.setattr(hits, "MAX_BATCH", 9)
    monkeypatch.setattr(hits, "FIRST_DENSITY", 1)
    monkeypatch.setattr(matching, "NAME_IDS_MAX", 2)
    named = [asked for asked in QUERIES if "name:" in asked["q"]]
    assert len(named) == 2
    assert_same_everywhere(
        rt, world, monkeypatch, limit=6, count_limit=25, max_pages=3, queries=named
    )


def test_every_page_total_and_facet_equals_the_single_statement_in_real_batches(
    rt: Runtime, world: MixedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sizes searches use, with pages of 60: every hit of every search is compared."""
    assert_same_everywhere(rt, world, monkeypatch, limit=60, count_limit=2_000)


def test_the_walk_checks_only_about_as_many_candidates_as_it_needs(
    rt: Runtime, world: MixedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting to 25 over 330 matching records reads (and checks) candidates only up to the
    batch where the 26th visible hit turns up; for a reader who sees none of them every
    match is read and checked, and nothing is found."""
    read: list[int] = []
    real = hits.candidates

    def counting(
        m: Matched, session: Any, upper: int | None, lower: int | None, size: int
    ) -> list[tuple[int, str]]:
        found = real(m, session, upper, lower, size)
        read.append(len(found))
        return found

    monkeypatch.setattr(hits, "candidates", counting)
    monkeypatch.setattr(query, "COUNT_LIMIT", 25)
    criteria = SearchCriteria(q="lantern")
    user = world.readers["hub"]
    # Where the 26th visible hit is among all the matches, newest first:
    needed = 1 + rt.db.write_sync(lambda session: position_of_hit(session, user, criteria, 26))
    read.clear()
    page = query.search(rt, user, criteria, cursor=None, limit=7)
    assert (page.total, page.total_exact) == (25, False)
    assert sum(read[:-1]) < needed <= sum(read) < world.records

    read.clear()
    nothing = query.search(rt, world.readers["west"], criteria, cursor=None, limit=7)
    assert (nothing.total, nothing.hits) == (0, [])
    assert sum(read) == world.records


def position_of_hit(session: Session, user: StaffUser, criteria: SearchCriteria, n: int) -> int:
    m = matched(session, user, criteria, searchable_types(user, criteria), {})
    every = [doc_id for doc_id, _type in candidates(m, session, None, None, 10_000)]
    visible = hits.visible_hits(m, session, "facets", utcnow(), before=None, want=n)
    return every.index(visible[n - 1].id)
