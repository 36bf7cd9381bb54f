"""Each hit's passage, as safe HTML: the engine's own highlight of the words and phrases,
else the first name that matched, else the start of the text.

Snippets are made only for the page's hits, which have already passed the reader's
visibility check (``vigil.search.hits``), so no passage of a record the reader may not see
is ever built.
"""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, table
from sqlalchemy.orm import Session

from vigil.search import index, phonetic
from vigil.search.criteria import SearchCriteria
from vigil.search.matching import PG_CONFIG, fts5_expression, tsquery
from vigil.search.models import FTS_TABLE, SearchDocument

SNIPPET_CHARS = 220
_FROM_STAND_INS = str.maketrans({index.LT: "<", index.GT: ">"})
D = SearchDocument


def _collapse(text: str) -> str:
    return " ".join(text.split())


def marked_snippet(text: str) -> str:
    """The engine's passage with its private-use markers turned into ``<mark>`` around
    escaped text (the markers are never in indexed text, see ``index.clean``)."""
    out: list[str] = []
    inside = False
    text = _collapse(text.translate(_FROM_STAND_INS))
    for part in re.split(f"([{index.MARK_START}{index.MARK_END}])", text):
        if part == index.MARK_START and not inside:
            out.append("<mark>")
            inside = True
        elif part == index.MARK_END and inside:
            out.append("</mark>")
            inside = False
        elif part not in (index.MARK_START, index.MARK_END):
            out.append(html.escape(part))
    if inside:
        out.append("</mark>")
    return "".join(out)


def plain_snippet(body: str) -> str:
    text = _collapse(body)
    if len(text) <= SNIPPET_CHARS:
        return html.escape(text)
    cut = text.rfind(" ", 0, SNIPPET_CHARS)
    return html.escape(text[: cut if cut > 0 else SNIPPET_CHARS]) + "…"


def snippets(
    session: Session, criteria: SearchCriteria, names: dict[str, list[str]], doc_ids: list[int]
) -> dict[int, str]:
    """Each page document's best passage, as HTML: the engine's own highlight of the words
    and phrases when there are any, else the first name that matched."""
    if not doc_ids:
        return {}
    bodies = dict(session.execute(select(D.id, D.body).where(D.id.in_(doc_ids))).all())
    marked: dict[int, str] = {}
    terms = criteria.parsed.terms
    if terms and session.get_bind().dialect.name == "postgresql":
        options = (
            f"StartSel={index.MARK_START}, StopSel={index.MARK_END}, MaxWords=30, MinWords=12, "
            'ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
        )
        # The headline drops anything shaped like an HTML tag, so "<" and ">" go in as
        # stand-ins and come back out in marked_snippet: the passage is what was written.
        shown = func.translate(D.body, "<>", index.LT + index.GT)
        headline = func.ts_headline(PG_CONFIG, shown, tsquery(terms), options)
        marked = dict(session.execute(select(D.id, headline).where(D.id.in_(doc_ids))).all())
    elif terms:
        fts = table(FTS_TABLE)
        rowid: ColumnElement[Any] = literal_column("rowid")
        snippet = func.snippet(
            literal_column(FTS_TABLE), 1, index.MARK_START, index.MARK_END, "…", 24
        )
        marked = dict(
            session.execute(
                select(rowid, snippet)
                .select_from(fts)
                .where(literal_column(FTS_TABLE).match(fts5_expression(terms)), rowid.in_(doc_ids))
            ).all()
        )
    wanted = {t for accepted in names.values() for t in accepted}
    out: dict[int, str] = {}
    for doc_id in doc_ids:
        text = marked.get(doc_id)
        if text and index.MARK_START in text:
            out[doc_id] = marked_snippet(text)
        elif wanted:
            out[doc_id] = phonetic.names_snippet(bodies.get(doc_id, ""), wanted)
        else:
            out[doc_id] = plain_snippet(bodies.get(doc_id, ""))
    return out
