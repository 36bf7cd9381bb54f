"""Which documents match a search, before anyone's visibility is considered.

The words and phrases go to the engine's full-text index (SQLite: FTS5, whose rowid is the
document id; PostgreSQL: the documents' ``tsvector`` under a GIN index), ``name:`` words to
the index of name words, and the filters to the documents (type, time) or the triage result
(category, priority). :func:`candidates` reads the matching ids newest first, a limited
batch at a time and within an id window, so each statement is small, ordered and bounded.

Nothing read here is shown or counted as it is: every document goes through the reader's
visibility check (``vigil.search.hits``) first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    any_,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause

from vigil.access.services import StaffUser
from vigil.search.criteria import SearchCriteria
from vigil.search.models import FTS_TABLE, SearchDocument, SearchName
from vigil.search.schemas import RecordType
from vigil.triage.models import TriageResult

PG_CONFIG: ColumnElement[Any] = literal_column("'vigil_search'")
_ANGLES = str.maketrans("<>", "  ")
_QUOTED_LEXEME = re.compile(r"'(?:[^']|'')*'")  # in a tsquery's text, quotes doubled
_ESTIMATE = text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_documents WHERE tsv @@ CAST(:lexeme AS tsquery)"
)
D = SearchDocument
# Name-index rows read ahead as a list of document ids (PostgreSQL): above this many in one
# window the lookup stays a subquery.
NAME_IDS_MAX = 20_000


def fts5_expression(terms: tuple[str, ...]) -> str:
    """Each word or phrase as an FTS5 string (quotes doubled), all required: the reader's
    text is never FTS5 syntax."""
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _rarest_lexeme(session: Session, words: str) -> str | None:
    """Of a phrase's lexemes (as PostgreSQL parses and stems it), the one its statistics
    expect in the fewest documents, quoted as in a tsquery; None for fewer than two.

    The planner's own row estimate for each lexeme alone, read from ``EXPLAIN`` (the
    statistics themselves are hidden from the application's role under row-level security).
    """
    shown = session.scalar(select(cast(func.phraseto_tsquery(PG_CONFIG, words), Text)))
    lexemes: list[str] = list(dict.fromkeys(_QUOTED_LEXEME.findall(shown or "")))
    if len(lexemes) < 2:
        return None

    def expected(lexeme: str) -> float:
        plan = session.scalar(_ESTIMATE, {"lexeme": lexeme})
        return float(plan[0]["Plan"]["Plan Rows"])

    return min(lexemes, key=expected)


def _tsv_matches(session: Session, term: str) -> list[ColumnElement[bool]]:
    """A document's ``tsvector`` matches one word or phrase, written so that PostgreSQL
    estimates it well.

    PostgreSQL estimates a phrase as if its words were independent, so "storage unit"
    (36,000 documents) looks like 450, and it then reads every match from the table rather
    than only those in the id window (see :func:`candidates`): 300 ms instead of 40. So a
    phrase is found through the index by its rarest lexeme, whose estimate comes from the
    statistics (a rare word stays rare: "station tafadzwa" goes by "tafadzwa"), and then
    checked whole, written as ``ts_match_vq`` so that it is no index condition and does not
    skew the estimate. A document that matches the phrase holds each of its lexemes, so the
    matches are the same.
    """
    words = term.translate(_ANGLES)
    phrase = func.phraseto_tsquery(PG_CONFIG, words)
    rarest = _rarest_lexeme(session, words) if len(words.split()) > 1 else None
    if rarest is None:
        return [D.tsv.bool_op("@@")(phrase)]
    lexeme = cast(literal(rarest, Text), TSQUERY)
    return [D.tsv.bool_op("@@")(lexeme), func.ts_match_vq(D.tsv, phrase)]


def tsquery(terms: tuple[str, ...]) -> ColumnElement[Any]:
    """Each word or phrase through ``phraseto_tsquery`` (never tsquery syntax), all required;
    "<" and ">" read as spaces, as when the documents were indexed."""
    phrases = [func.phraseto_tsquery(PG_CONFIG, t.translate(_ANGLES)) for t in terms]
    query: ColumnElement[Any] = phrases[0]
    for phrase in phrases[1:]:
        query = query.op("&&")(phrase)
    return query


@dataclass(frozen=True)
class Matched:
    """A query taken apart: what matches it (read from ``sources``, the documents, joined to
    FTS5 on SQLite, with ``match`` and a name index lookup per ``name:`` word), in which
    order (``order``, the document id as ``sources`` holds it), and who reads it and which
    of their types of record (``user``, ``types``)."""

    sources: FromClause
    order: ColumnElement[int]
    match: list[ColumnElement[bool]]
    names: list[list[str]]  # per name: word, the name words that answer it
    named: ColumnElement[int]  # what the name index's document ids are compared with
    user: StaffUser
    types: list[RecordType]


def _triaged(criteria: SearchCriteria) -> ColumnElement[bool]:
    triaged = select(TriageResult.report_id).where(TriageResult.report_id == D.record_id)
    if criteria.category:
        code = f",{criteria.category},"
        triaged = triaged.where(TriageResult.category_codes.contains(code, autoescape=True))
    if criteria.priorities:
        wanted = sorted(p for p in criteria.priorities if p != "pending")
        either = [TriageResult.priority.in_(wanted)] if wanted else []
        if "pending" in criteria.priorities:
            either.append(TriageResult.priority.is_(None))
        triaged = triaged.where(or_(*either))
    return exists(triaged.correlate(D))


def matched(
    session: Session,
    user: StaffUser,
    criteria: SearchCriteria,
    types: list[RecordType],
    names: dict[str, list[str]],
) -> Matched:
    dialect = session.get_bind().dialect.name
    terms = criteria.parsed.terms
    sources: FromClause = D.__table__
    order: ColumnElement[int] = D.__table__.c.id
    match: list[ColumnElement[bool]] = []
    fts5 = bool(terms) and dialect != "postgresql"
    fts = table(FTS_TABLE, column("rowid", Integer))
    if fts5:
        order = fts.c.rowid
        match.append(literal_column(FTS_TABLE).match(fts5_expression(terms)))
    else:
        match += [c for term in terms for c in _tsv_matches(session, term)]
    named = [names.get(word) or [] for word in criteria.parsed.names]
    if not all(named):
        match.append(false())  # a name: word no indexed name answers
    if types and len(types) < len(RecordType):
        # Documents of a type the reader may not search are never hits: left out here.
        match.append(D.record_type.in_([t.value for t in types]))
    if criteria.category or criteria.priorities:
        match.append(_triaged(criteria))
    if criteria.since:
        match.append(D.at >= criteria.since)
    if criteria.until:
        match.append(D.at < criteria.until)
    if fts5:
        sources = fts.join(D, D.id == fts.c.rowid)
    # FTS5 would take "rowid IN (...)" as rowids to look up one at a time, running the
    # full-text query again for each (7.5 s for "CCTV" and a name in 30,000 documents);
    # as "rowid + 0" it is a test on the rows FTS5 walks in order, as any other filter.
    named_by = order + 0 if fts5 else order
    return Matched(sources, order, match, named, named_by, user, types)


def newest_document(session: Session) -> int | None:
    return session.scalar(select(func.max(D.id)))


def id_array(ids: list[int]) -> ColumnElement[Any]:
    """Some ids as one PostgreSQL ``integer[]`` value, sent as its text ("{1,2,3}") and
    cast by PostgreSQL: the driver's own list adapter costs about 3 µs an element in Python,
    ten milliseconds a search for the few thousand ids its batches pass."""
    return cast(literal("{" + ",".join(map(str, ids)) + "}", Text), ARRAY(Integer))


def _named_ids(
    m: Matched, session: Session, named_window: list[ColumnElement[bool]]
) -> set[int] | None:
    """PostgreSQL: the documents in the window that answer every ``name:`` word, read from
    the name index first; None when some word answers more than ``NAME_IDS_MAX`` there.

    Asked as a subquery, the name lookup is a join PostgreSQL plans from estimates, and for
    a common word with a common name it walked one side and checked the other row by row
    ("station name:omar": 6,600 documents probed and their text checked, 43 ms). As a list
    of ids it is a primary-key lookup that stops at the batch's limit (21 ms; a name alone
    24 → 7 ms). The window bounds the list; a wider one keeps the subquery.
    """
    common: set[int] | None = None
    for accepted in m.names:
        rows = session.scalars(
            select(SearchName.doc_id)
            .where(SearchName.term.in_(accepted), *named_window)
            .limit(NAME_IDS_MAX + 1)
        ).all()
        if len(rows) > NAME_IDS_MAX:
            return None
        found = set(rows)
        common = found if common is None else common & found
        if not common:
            return set()
    return common


def candidates(
    m: Matched, session: Session, upper: int | None, lower: int | None, size: int
) -> list[tuple[int, str]]:
    """Up to ``size`` matching documents (id, record type) from id ``lower`` (inclusive) to
    ``upper`` (exclusive), newest first; None leaves that end open.

    The window is what keeps a rarer word cheap on PostgreSQL: its matches anywhere in the
    index are a bitmap from the GIN index, and only those inside the window (a bitmap from
    the primary key, combined with it) are read from the table. Name words look up their
    documents inside the window in the name index (on PostgreSQL first, as a list of ids:
    :func:`_named_ids`). Visibility is not checked here, so these must go through
    ``vigil.search.hits.checked`` before any use.
    """
    window: list[ColumnElement[bool]] = []
    named_window: list[ColumnElement[bool]] = []
    if upper is not None:
        window.append(m.order < upper)
        named_window.append(SearchName.doc_id < upper)
    if lower is not None:
        window.append(m.order >= lower)
        named_window.append(SearchName.doc_id >= lower)
    ahead = m.names and session.get_bind().dialect.name == "postgresql"
    named = _named_ids(m, session, named_window) if ahead else None
    if named is not None:
        if not named:
            return []
        window.append(m.named == any_(id_array(sorted(named))))
    else:
        for accepted in m.names:
            found = select(SearchName.doc_id).where(SearchName.term.in_(accepted), *named_window)
            window.append(m.named.in_(found))
    query = select(m.order, D.record_type).select_from(m.sources).where(*m.match, *window)
    rows = session.connection().execute(query.order_by(m.order.desc()).limit(size)).all()
    return [(doc_id, record_type) for doc_id, record_type in rows]
