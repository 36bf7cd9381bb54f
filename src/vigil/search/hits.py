"""Which documents are a reader's hits, newest first: matched first, then checked against
their records a batch at a time.

A hit is a document that matches the query (``vigil.search.matching``) and whose report,
entity or case the reader may see (``vigil.access.policy``; on PostgreSQL the record's own
row-level security as well). Hits come in document-id order, newest first, and a search
needs only the first few: a page, and the newest ``COUNT_LIMIT`` + 1 for the total and the
facets. So the work should stop once those are found.

Asked as one statement ("matching and visible, newest first, limit n"), the engine picks one
of two plans and each is bad for some words. Walking the documents backwards by id and
testing each stops early for a common word, but reads far too many documents for a rarer
one; taking the full-text index's matches first (PostgreSQL's GIN bitmap) checks visibility
and joins the record for every match, ten times more than needed for a word with 30,000
matches, before it sorts and keeps 2,001. Fencing the ordered matches into a subquery fixed
rarer words but made a common one (155,000 matches) read and sort them all.

Hence two steps per batch. ``matching.candidates`` reads the next batch of matching
documents, newest first, below the last one seen (a keyset) and within an id window, with
no visibility check: a small, ordered, limited statement for which either plan is cheap, and
the engine picks the better. :func:`checked` then joins only that batch to its records
through the reader's filter, one statement per type of record, reading each record once (as
the check and for what a hit shows or counts). Batches continue, each sized from how many
of the candidates so far the reader could see and each window from how densely the query
matched so far, until enough visible hits are found or the matches run out. A window that
runs out before its batch is full is checked together with the next window's candidates
(unless those it holds could already be enough), so a query that needs several windows
costs one check per batch, not one per window. Together the
batches are exactly the matching documents in id order, so the hits, their order and
everything counted from them are the same as the one statement's; candidates never leave
this module unchecked.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, any_, case, func, null, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import FromClause

from vigil.access import policy
from vigil.cases.models import Case
from vigil.intake.models import Report
from vigil.linkage.models import Entity
from vigil.search.criteria import TIME_BUCKETS
from vigil.search.matching import D, Matched, candidates, id_array, newest_document
from vigil.search.schemas import RecordType
from vigil.triage.models import TriageResult

# Candidates per batch: the first is what is still wanted plus a quarter (most readers see
# most of what matches); later ones are scaled by the share of candidates seen so far that
# the reader could see. The ceiling keeps each check a bounded list of primary-key probes
# when a reader sees almost none of a common word.
BATCH_SLACK = 1.25
MIN_BATCH = 64
MAX_BATCH = 10_000
# Ids per window (PostgreSQL): the first assumes one document in FIRST_DENSITY matches (at
# a million reports a common word matches one in 20, the benchmark's rarer ones one in 50
# to 100: 32, 64 and 128 measured, 64 needed a second window least often for the least
# work); later ones are sized from how densely the query matched in the windows so far; a
# window that found nothing makes the next one WIDEN times wider.
FIRST_DENSITY = 64
WIDEN = 8
Column = ColumnElement[Any] | InstrumentedAttribute[Any]
Hit = Row[*tuple[Any, ...]]  # a visible document, with the columns of its Shape
Shape = Literal["page", "facets"]
"""What is read of each hit: what the page shows (``page``: id, record_type, record_id,
title, at, reference, kind, classification, org_id), or only what the total and facets count
(``facets``: id, record_type, place, org_id, priority, category_codes, time), for the up to
``COUNT_LIMIT`` + 1 hits counted."""
RECORDS: dict[RecordType, Any] = {
    RecordType.report: Report,
    RecordType.entity: Entity,
    RecordType.case: Case,
}


def _columns(shape: Shape, rtype: RecordType, now: datetime) -> list[Column]:
    record = RECORDS[rtype]
    if shape == "page":
        reference = null() if rtype is RecordType.entity else record.reference
        kind = Case.status if rtype is RecordType.case else record.kind
        return [
            D.id,
            D.record_type,
            D.record_id,
            D.title,
            D.at,
            reference.label("reference"),
            kind.label("kind"),
            record.classification.label("classification"),
            record.owning_org_id.label("org_id"),
        ]
    bucket = case(
        *((D.at >= now - timedelta(days=days), name) for name, days in TIME_BUCKETS),
        else_="older",
    )
    triaged = rtype is RecordType.report
    return [
        D.id,
        D.record_type,
        D.place,
        record.owning_org_id.label("org_id"),
        (TriageResult.priority if triaged else null()).label("priority"),
        (TriageResult.category_codes if triaged else null()).label("category_codes"),
        bucket.label("time"),
    ]


def _readable(m: Matched, rtype: RecordType) -> ColumnElement[bool]:
    if rtype is RecordType.report:
        return policy.reports(m.user)
    return policy.visible(m.user, RECORDS[rtype], rtype.value)


def _among(session: Session, ids: list[int]) -> ColumnElement[bool]:
    """The document is one of ``ids``, passed as one value (a PostgreSQL array, a JSON list
    for SQLite) rather than thousands of bound parameters to render and bind each time."""
    if session.get_bind().dialect.name == "postgresql":
        return D.id == any_(id_array(ids))
    listed = func.json_each(json.dumps(ids)).table_valued("value")
    return D.id.in_(select(listed.c.value))


def checked(
    m: Matched, session: Session, shape: Shape, now: datetime, found: list[tuple[int, str]]
) -> list[Hit]:
    """Those of the ``found`` documents (id, record type) whose records exist and the reader
    may see, newest first, with the columns of ``shape``.

    Each document is joined to its record by primary key, through the reader's filter (and on
    PostgreSQL the record's row-level security), in one statement per type of record: the
    batch is never more than ``MAX_BATCH`` documents, so the engine probes each record rather
    than reading a table. A report's triage result, read only for the facets, is joined the
    same way (an outer join: a report not yet triaged counts as pending).
    """
    ids: dict[str, list[int]] = {}
    for doc_id, rtype in found:
        ids.setdefault(rtype, []).append(doc_id)
    rows: list[Hit] = []
    for rtype in m.types:
        if rtype.value not in ids:
            continue
        record = RECORDS[rtype]
        joined: FromClause = D.__table__.join(record, record.id == D.record_id)
        if shape == "facets" and rtype is RecordType.report:
            joined = joined.outerjoin(TriageResult, TriageResult.report_id == D.record_id)
        query = (
            select(*_columns(shape, rtype, now))
            .select_from(joined)
            .where(
                _among(session, ids[rtype.value]), D.record_type == rtype.value, _readable(m, rtype)
            )
        )
        # As Core rows: the ORM's row loading for plain columns cost a few milliseconds a
        # search over the 2,000 hits counted.
        rows += session.connection().execute(query).all()
    rows.sort(key=lambda row: int(row[0]), reverse=True)
    return rows


def batch_size(wanted: int, read: int, kept: int) -> int:
    """How many candidates to read next for ``wanted`` more hits, when ``kept`` of the
    ``read`` so far were visible (the first batch assumes all will be)."""
    share = kept / read if read else 1.0
    size = math.ceil(wanted / max(share, 1 / MAX_BATCH) * BATCH_SLACK)
    return max(MIN_BATCH, min(MAX_BATCH, size))


def window_width(size: int, read: int, covered: int, last: int | None) -> int:
    """How many ids the next window spans to hold ``size`` candidates, when ``read``
    matched among the ``covered`` ids walked so far (``last``: the previous window)."""
    if last is None:
        return size * FIRST_DENSITY
    if not read:
        return last * WIDEN
    return max(size, math.ceil(size * covered / read * BATCH_SLACK))


def visible_hits(
    m: Matched,
    session: Session,
    shape: Shape,
    now: datetime,
    *,
    before: int | None,
    want: int,
) -> list[Hit]:
    """The first ``want`` hits below document ``before`` (from the newest when None), newest
    first: fewer only when the matches run out.

    Windows are for PostgreSQL only: SQLite's FTS5 index and its name index already give
    matches in id order from any starting point, so a batch there is the next ``size``.
    """
    if not m.types:
        return []
    top = before
    windowed = session.get_bind().dialect.name == "postgresql"
    if windowed and top is None:
        newest = newest_document(session)
        top = None if newest is None else newest + 1
        if top is None:
            return []
    found: list[Hit] = []
    waiting: list[tuple[int, str]] = []  # read, not yet checked
    upper = top  # every match from ``upper`` up to ``top`` has been read
    read = 0  # of which checked
    width: int | None = None
    while len(found) < want:
        size = batch_size(want - len(found), read, len(found))
        lower = None
        if windowed and top is not None and upper is not None:
            width = window_width(size, read + len(waiting), top - upper, width)
            lower = upper - width if upper - width > 1 else None
        asked = min(size, MAX_BATCH - len(waiting))
        batch = candidates(m, session, upper, lower, asked)
        waiting += batch
        ran_out = len(batch) < asked and lower is None
        if ran_out or len(waiting) >= min(want - len(found), MAX_BATCH):
            read += len(waiting)
            found += checked(m, session, shape, now, waiting)
            waiting = []
        if ran_out:
            break
        upper = batch[-1][0] if len(batch) == asked else lower
    return found[:want]
