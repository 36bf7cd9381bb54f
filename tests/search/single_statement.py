"""The search as it ran before its hits were found in batches (code a655b49): each page and
the counts one statement, "matching and visible, newest first, limit n". Kept here only as
the reference the batched walk in ``vigil.search.hits`` must equal, hit for hit and count for
count; it is the old code, copied, so the two cannot drift together.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
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
from vigil.access.services import StaffUser
from vigil.cases.models import Case
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.linkage.models import Entity
from vigil.search.criteria import TIME_BUCKETS, SearchCriteria, searchable_types
from vigil.search.matching import fts5_expression, tsquery
from vigil.search.models import FTS_TABLE, SearchDocument, SearchName
from vigil.search.query import HREF, prepare
from vigil.search.schemas import FacetCount, Facets, RecordType, SearchHit, SearchPage
from vigil.search.snippets import snippets
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

D = SearchDocument


def _visible(user: StaffUser, types: list[RecordType], dialect: str) -> ColumnElement[bool]:
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
        where.append(D.tsv.bool_op("@@")(tsquery(terms)))
    elif terms:
        fts = table(FTS_TABLE, column("rowid", Integer))
        sources = fts.join(D, D.id == fts.c.rowid)
        order = fts.c.rowid
        where.append(literal_column(FTS_TABLE).match(fts5_expression(terms)))
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


def page_rows(m: Matched, session: Session, after: int | None, limit: int) -> list[Any]:
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


def _org_names(session: Session, ids: Any) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {oid: name for oid, name in rows}


def counts(m: Matched, session: Session, count_limit: int) -> tuple[int, bool, Facets]:
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
        .limit(count_limit + 1)
    ).all()
    exact = len(rows) <= count_limit
    tallies: dict[str, Counter[Any]] = {
        k: Counter() for k in ("type", "category", "priority", "time", "place", "organisation")
    }
    for rtype, priority, codes, when, place, org_id in rows[:count_limit]:
        tallies["type"][rtype] += 1
        tallies["time"][when] += 1
        tallies["organisation"][org_id] += 1
        if place:
            tallies["place"][place] += 1
        if rtype == "report":
            tallies["priority"][priority or "pending"] += 1
            tallies["category"].update(c for c in (codes or "").split(",") if c)
    names = _org_names(session, tallies["organisation"])
    tallies["organisation"] = Counter(
        {names.get(k, ""): n for k, n in tallies["organisation"].items()}
    )

    def listed(facet: str) -> list[FacetCount]:
        items = sorted(tallies[facet].items(), key=lambda kv: (-kv[1], str(kv[0])))
        return [FacetCount(value=str(k), count=n) for k, n in items]

    return min(len(rows), count_limit), exact, Facets(**{k: listed(k) for k in tallies})


def search(
    rt: Runtime,
    user: StaffUser,
    criteria: SearchCriteria,
    *,
    cursor: str | None,
    limit: int,
    count_limit: int,
) -> SearchPage:
    """The page the old code answered (without its audit event)."""
    types = searchable_types(user, criteria)
    after = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))[0] if cursor else None
    names = rt.db.write_sync(lambda session: prepare(session, criteria.parsed)).names

    def work(session: Session) -> SearchPage:
        m = matched(session, user, criteria, types, names)
        rows = page_rows(m, session, after, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        total, exact, facets = counts(m, session, count_limit)
        passages = snippets(session, criteria, names, [r.id for r in rows])
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
                    snippet=passages[r.id],
                    at=r.at,
                    kind=r.kind,
                    classification=r.classification,
                    organisation=org_names.get(r.org_id, ""),
                    href=HREF[rtype].format(hit_id),
                )
            )
        last = rows[-1] if rows else None
        return SearchPage(
            total=total,
            total_exact=exact,
            hits=hits,
            facets=facets,
            next_cursor=(
                base64.urlsafe_b64encode(orjson.dumps([last.id])).decode()
                if more and last is not None
                else None
            ),
        )

    return rt.db.write_sync(work, as_user=user.id)
