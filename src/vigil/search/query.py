"""Running a search: parse the words, match them, filter by need-to-know, count, page.

The full-text index finds documents; every document is then checked against the report,
entity or case it came from, which must pass ``vigil.access.policy`` and the reader's
permissions for its type. Hits, the total and every facet come from that one filtered set,
so nothing the reader may not see is returned, counted or hinted at.

Hits come newest first in the order their records reached the index (a document's id, which
follows arrival and never changes when a record is edited), paged by keyset like the triage
queue. Relevance scores would move as documents arrive, so a cursor built on them could skip
or repeat hits. The id order also lets the engine stop early: SQLite walks the FTS5 match
from the newest id down and stops after the page, and counting stops at ``COUNT_LIMIT``
(above it the total is a floor and the facets count the newest ``COUNT_LIMIT`` hits), so a
common word over a million reports costs a bounded amount of work.

A query is words and "quoted phrases" (all must match, stemmed: photograph finds
photographing) and ``name:word`` or ``name:"two words"`` (each word must match a name in the
record, widened to its variants, sound-alikes and near-misses: see ``vigil.search.phonetic``).
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import FromClause

from vigil.access import policy
from vigil.access.models import Organisation
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.cases.models import Case
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.linkage.models import Entity
from vigil.search import index, phonetic, tasks
from vigil.search.models import FTS_TABLE, SearchDocument, SearchName
from vigil.search.schemas import (
    COUNT_LIMIT,
    FacetCount,
    Facets,
    RecordType,
    SearchHit,
    SearchPage,
)
from vigil.triage.models import TriageResult
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime

MAX_TERMS = 16
SNIPPET_CHARS = 220
PRIORITIES = ("P1", "P2", "P3", "P4", "pending")
TYPE_PERMISSION = {
    RecordType.report: Permission.report_read,
    RecordType.entity: Permission.linkage_read,
    RecordType.case: Permission.cases_read,
}
HREF = {
    RecordType.report: "/api/v1/reports/{}",
    RecordType.entity: "/api/v1/linkage/entities/{}",
    RecordType.case: "/api/v1/cases/{}",
}
TIME_BUCKETS = (("day", 1), ("week", 7), ("month", 30), ("year", 365))
PG_CONFIG: ColumnElement[Any] = literal_column("'vigil_search'")
_TOKEN = re.compile(r'(?i)(name:)?(?:"([^"]*)"?|(\S+))')
_CATEGORY = re.compile(r"^[a-z0-9_]{1,40}$")
_ANGLES = str.maketrans("<>", "  ")
_FROM_STAND_INS = str.maketrans({index.LT: "<", index.GT: ">"})
D = SearchDocument


def invalid(pointer: str, detail: str) -> Problem:
    return Problem(
        422,
        "Invalid request",
        "Check the search.",
        errors=[field_error(pointer, detail)],
        kind="invalid-request",
    )


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[str, ...]  # words and phrases for the full-text index
    names: tuple[str, ...]  # folded name words


def parse(q: str) -> ParsedQuery:
    terms: list[str] = []
    names: list[str] = []
    for match in _TOKEN.finditer(q):
        is_name, phrase, word = match.group(1), match.group(2), match.group(3)
        value = " ".join((phrase if phrase is not None else word or "").split())
        if is_name:
            found = phonetic.name_words([value])
            if not found:
                raise invalid("#/query/q", "name: must be followed by a name, like name:Smith")
            names.extend(n for n in found if n not in names)
        elif any(ch.isalnum() for ch in value) and value not in terms:
            terms.append(value)
    if not terms and not names:
        raise invalid("#/query/q", "has no words to search for")
    if len(terms) + len(names) > MAX_TERMS:
        raise invalid("#/query/q", f"has more than {MAX_TERMS} words and phrases")
    return ParsedQuery(tuple(terms), tuple(names))


@dataclass(frozen=True)
class SearchCriteria:
    q: str
    types: frozenset[RecordType] = frozenset()
    category: str | None = None
    priorities: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    parsed: ParsedQuery = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse(self.q))
        if self.category is not None and not _CATEGORY.match(self.category):
            raise invalid("#/query/category", "must be a category code, like photography")
        unknown = sorted(self.priorities - set(PRIORITIES))
        if unknown:
            raise invalid("#/query/priority", f"unknown priority {unknown[0]!r}")
        if self.since and self.until and self.since >= self.until:
            raise invalid("#/query/until", "must be later than since")

    @property
    def reports_only(self) -> bool:
        return self.category is not None or bool(self.priorities)

    def audit_purpose(self) -> str:
        parts = [f"q={self.q}"]
        parts += [f"type={t.value}" for t in sorted(self.types)]
        if self.category:
            parts.append(f"category={self.category}")
        parts += [f"priority={p}" for p in sorted(self.priorities)]
        parts += [
            f"{k}={v.isoformat()}" for k, v in (("since", self.since), ("until", self.until)) if v
        ]
        return "; ".join(parts)[:500]


def searchable_types(user: StaffUser, criteria: SearchCriteria) -> list[RecordType]:
    """The record types this reader may search: asking for one their role cannot read is
    refused; filters that only reports carry (category, priority) leave only reports."""
    denied = [t for t in criteria.types if TYPE_PERMISSION[t] not in user.permissions]
    if denied:
        raise Problem(
            403, "Forbidden", f"Your role does not allow reading {denied[0].value} records."
        )
    wanted = criteria.types or frozenset(RecordType)
    if criteria.reports_only:
        wanted = wanted & {RecordType.report}
    return [t for t in RecordType if t in wanted and TYPE_PERMISSION[t] in user.permissions]


def _decode(cursor: str) -> int:
    try:
        (doc_id,) = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(doc_id)
    except Exception as exc:
        raise invalid("#/query/cursor", "not a valid cursor") from exc


def _encode(doc_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([doc_id])).decode()


# --- preparing (as the system) -------------------------------------------------------------


def prepare(session: Session, parsed: ParsedQuery) -> dict[str, list[str]]:
    """As the system, before the reader's query: bring the index up to date (what was just
    written is findable at once; a bigger backlog goes to the ``search.index`` job) and widen
    the name words."""
    if index.catch_up(session) == index.CATCH_UP_BATCH and index.has_backlog(session):
        tasks.ask_for_catch_up(session)
    return phonetic.expand(session, parsed.names)


# --- the query --------------------------------------------------------------------------------


def _fts5_expression(terms: tuple[str, ...]) -> str:
    """Each word or phrase as an FTS5 string (quotes doubled), all required: the reader's
    text is never FTS5 syntax."""
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _tsquery(terms: tuple[str, ...]) -> ColumnElement[Any]:
    """Each word or phrase through ``phraseto_tsquery`` (never tsquery syntax), all required;
    "<" and ">" read as spaces, as when the documents were indexed."""
    phrases = [func.phraseto_tsquery(PG_CONFIG, t.translate(_ANGLES)) for t in terms]
    query: ColumnElement[Any] = phrases[0]
    for phrase in phrases[1:]:
        query = query.op("&&")(phrase)
    return query


def _visible(user: StaffUser, types: list[RecordType], dialect: str) -> ColumnElement[bool]:
    """A document counts only when its record exists and the reader may see it.

    One CASE on the record type with a correlated EXISTS per type: nothing here offers the
    planner another way in (an index on the type, a join it could reorder), so the query is
    always driven by the full-text match and checks each candidate's record by primary key.
    On PostgreSQL an ``OFFSET 0`` keeps each EXISTS a per-row probe: without it the planner
    may instead hash the visible ids of the whole table, checking every record once.
    """
    record = {
        RecordType.report: select(Report.id).where(Report.id == D.record_id, policy.reports(user)),
        RecordType.entity: select(Entity.id).where(
            Entity.id == D.record_id, policy.visible(user, Entity, "entity")
        ),
        RecordType.case: select(Case.id).where(
            Case.id == D.record_id, policy.visible(user, Case, "case")
        ),
    }
    if not types:
        return false()
    fence = dialect == "postgresql"
    whens = [
        (
            D.record_type == t.value,
            exists((record[t].offset(0) if fence else record[t]).correlate(D)),
        )
        for t in types
    ]
    return case(*whens, else_=false())


@dataclass(frozen=True)
class Matched:
    """Where the hits come from and in which order: the FTS5 table driving the join on
    SQLite (its rowid is the document id), the documents themselves otherwise."""

    sources: FromClause
    order: ColumnElement[int]
    where: list[ColumnElement[bool]]


def matched(
    session: Session,
    user: StaffUser,
    criteria: SearchCriteria,
    types: list[RecordType],
    names: dict[str, list[str]],
) -> Matched:
    terms = criteria.parsed.terms
    sources: FromClause = D.__table__
    order: ColumnElement[int] = D.__table__.c.id
    where = [_visible(user, types, session.get_bind().dialect.name)]
    if terms and session.get_bind().dialect.name == "postgresql":
        where.append(D.tsv.bool_op("@@")(_tsquery(terms)))
    elif terms:
        fts = table(FTS_TABLE, column("rowid", Integer))
        sources = fts.join(D, D.id == fts.c.rowid)
        order = fts.c.rowid
        where.append(literal_column(FTS_TABLE).match(_fts5_expression(terms)))
    for word in criteria.parsed.names:
        accepted = names.get(word) or []
        named = select(SearchName.doc_id).where(SearchName.term.in_(accepted))
        where.append(D.id.in_(named) if accepted else false())
    if criteria.category or criteria.priorities:
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
        where.append(exists(triaged.correlate(D)))
    if criteria.since:
        where.append(D.at >= criteria.since)
    if criteria.until:
        where.append(D.at < criteria.until)
    return Matched(sources, order, where)


# What a hit shows of its record, and the facets' values: joined for output only (aliases, so
# the visibility subqueries above never correlate to them and the join order stays fixed).
_R = aliased(Report, name="hit_report")
_E = aliased(Entity, name="hit_entity")
_C = aliased(Case, name="hit_case")
_T = aliased(TriageResult, name="hit_triage")


def _with_records(sources: FromClause) -> FromClause:
    return (
        sources.outerjoin(_R, and_(D.record_type == "report", _R.id == D.record_id))
        .outerjoin(_E, and_(D.record_type == "entity", _E.id == D.record_id))
        .outerjoin(_C, and_(D.record_type == "case", _C.id == D.record_id))
        .outerjoin(_T, and_(D.record_type == "report", _T.report_id == D.record_id))
    )


_ORG = func.coalesce(_R.owning_org_id, _E.owning_org_id, _C.owning_org_id)


def _page(m: Matched, session: Session, after: int | None, limit: int) -> list[Any]:
    query = (
        select(
            D.id,
            D.record_type,
            D.record_id,
            D.title,
            D.at,
            func.coalesce(_R.reference, _C.reference).label("reference"),
            func.coalesce(_R.kind, _E.kind, _C.status).label("kind"),
            func.coalesce(_R.classification, _E.classification, _C.classification).label(
                "classification"
            ),
            _ORG.label("org_id"),
        )
        .select_from(_with_records(m.sources))
        .where(*m.where)
        .order_by(m.order.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(m.order < after)
    return list(session.execute(query).all())


def _counts(m: Matched, session: Session) -> tuple[int, bool, Facets]:
    """The total and the facets over the newest ``COUNT_LIMIT`` visible hits (all of them,
    and the total exact, when there are no more)."""
    now = utcnow()
    bucket = case(
        *((D.at >= now - timedelta(days=days), name) for name, days in TIME_BUCKETS),
        else_="older",
    )
    rows = session.execute(
        select(D.record_type, _T.priority, _T.category_codes, bucket, D.place, _ORG)
        .select_from(_with_records(m.sources))
        .where(*m.where)
        .order_by(m.order.desc())
        .limit(COUNT_LIMIT + 1)
    ).all()
    exact = len(rows) <= COUNT_LIMIT
    counts: dict[str, Counter[Any]] = {
        k: Counter() for k in ("type", "category", "priority", "time", "place", "organisation")
    }
    for rtype, priority, codes, when, place, org_id in rows[:COUNT_LIMIT]:
        counts["type"][rtype] += 1
        counts["time"][when] += 1
        counts["organisation"][org_id] += 1
        if place:
            counts["place"][place] += 1
        if rtype == "report":
            counts["priority"][priority or "pending"] += 1
            counts["category"].update(c for c in (codes or "").split(",") if c)
    names = _org_names(session, counts["organisation"])
    counts["organisation"] = Counter(
        {names.get(k, ""): n for k, n in counts["organisation"].items()}
    )

    def listed(facet: str) -> list[FacetCount]:
        items = sorted(counts[facet].items(), key=lambda kv: (-kv[1], str(kv[0])))
        return [FacetCount(value=str(k), count=n) for k, n in items]

    return min(len(rows), COUNT_LIMIT), exact, Facets(**{k: listed(k) for k in counts})


def _org_names(session: Session, ids: Any) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {oid: name for oid, name in rows}


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


def _snippets(
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
        headline = func.ts_headline(PG_CONFIG, shown, _tsquery(terms), options)
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
                .where(literal_column(FTS_TABLE).match(_fts5_expression(terms)), rowid.in_(doc_ids))
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


def search(
    rt: Runtime,
    user: StaffUser,
    criteria: SearchCriteria,
    *,
    cursor: str | None,
    limit: int,
    client: str | None = None,
) -> SearchPage:
    """One page of hits, the total and the facets, all through the policy filter; the
    query, its filters and the records returned are audited."""
    types = searchable_types(user, criteria)
    after = _decode(cursor) if cursor else None
    names = rt.db.write_sync(lambda session: prepare(session, criteria.parsed))

    def work(session: Session) -> SearchPage:
        m = matched(session, user, criteria, types, names)
        rows = _page(m, session, after, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        total, exact, facets = _counts(m, session)
        snippets = _snippets(session, criteria, names, [r.id for r in rows])
        org_names = _org_names(session, {r.org_id for r in rows})
        hits = []
        for r in rows:
            rtype = RecordType(r.record_type)
            hit_id = r.reference if rtype is not RecordType.entity else str(r.record_id)
            hits.append(
                SearchHit(
                    type=rtype,
                    id=hit_id,
                    title=r.title,
                    snippet=snippets[r.id],
                    at=r.at,
                    kind=r.kind,
                    classification=r.classification,
                    organisation=org_names.get(r.org_id, ""),
                    href=HREF[rtype].format(hit_id),
                )
            )
        record_event(
            session,
            user.actor(client),
            "search.performed",
            record_type="search",
            record_ids=[
                h.id if h.type is not RecordType.entity else f"entity:{h.id}" for h in hits
            ],
            purpose=criteria.audit_purpose(),
        )
        last = rows[-1] if rows else None
        return SearchPage(
            total=total,
            total_exact=exact,
            hits=hits,
            facets=facets,
            next_cursor=_encode(last.id) if more and last is not None else None,
        )

    return rt.db.write_sync(work, as_user=user.id)
