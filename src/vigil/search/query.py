"""Running a search: match the words, keep what the reader may see, count, page.

The full-text index finds documents; every document is then checked against the report,
entity or case it came from, which must pass ``vigil.access.policy`` and the reader's
permissions for its type. Hits, the total and every facet come from that one filtered set,
so nothing the reader may not see is returned, counted or hinted at.

Hits come newest first in the order their records reached the index (a document's id, which
follows arrival and never changes when a record is edited), paged by keyset like the triage
queue. Relevance scores would move as documents arrive, so a cursor built on them could skip
or repeat hits. The id order also bounds the work: ``vigil.search.hits`` reads matching
documents newest first in batches and checks only those, stopping once it has the page and
``COUNT_LIMIT`` + 1 visible hits (above ``COUNT_LIMIT`` the total is a floor and the facets
count the newest ``COUNT_LIMIT`` hits), so a word over a million reports costs a bounded
amount of work however common it is. The first page comes out of the same walk as the counts.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from vigil.access.models import Organisation
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.search import hits, index, phonetic, tasks
from vigil.search.criteria import ParsedQuery, SearchCriteria, invalid, searchable_types
from vigil.search.matching import Matched, matched
from vigil.search.schemas import (
    COUNT_LIMIT,
    FacetCount,
    Facets,
    RecordType,
    SearchHit,
    SearchPage,
)
from vigil.search.snippets import snippets
from vigil.web.runtime import Runtime
from vigil.web.said import said

HREF = {
    RecordType.report: "/api/v1/reports/{}",
    RecordType.entity: "/api/v1/linkage/entities/{}",
    RecordType.case: "/api/v1/cases/{}",
}
FACETS = ("type", "category", "priority", "time", "place", "organisation")


def _decode(cursor: str) -> int:
    try:
        (doc_id,) = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(doc_id)
    except Exception as exc:
        raise invalid("#/query/cursor", said("not a valid cursor")) from exc


def _encode(doc_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([doc_id])).decode()


@dataclass
class Prepared:
    """The name words widened, and whether changes were still waiting to be indexed."""

    names: dict[str, list[str]]
    behind: bool = False


def prepare(session: Session, parsed: ParsedQuery) -> Prepared:
    """As the system, before the reader's query: bring the index up to date (what was just
    written is findable at once; a bigger backlog goes to the ``search.index`` job, and the
    answer says the results may be incomplete) and widen the name words."""
    behind = index.catch_up(session) == index.CATCH_UP_BATCH and index.has_backlog(session)
    if behind:
        tasks.ask_for_catch_up(session)
    return Prepared(phonetic.expand(session, parsed.names), behind)


def _name_words(rt: Runtime, parsed: ParsedQuery) -> Prepared:
    """The name words widened (:func:`prepare`), with the index brought up to date first
    only when something is waiting to be indexed.

    Bringing it up to date takes the single writer, and a search sent there waits for
    whatever is being committed (every report's acknowledgement, every audit event) and then
    for its own batch's commit, before reading anything: most of the time for nothing, as
    nothing is pending. Checking first, in a read as the system, keeps that wait for the
    searches that need it; a change committed just after the check is no less findable than
    one committed just after the catch-up.
    """
    with rt.db.session() as session:
        if not index.has_backlog(session):
            return Prepared(phonetic.expand(session, parsed.names))
    return rt.db.write_sync(lambda session: prepare(session, parsed))


def tally(session: Session, rows: list[hits.Hit], limit: int) -> tuple[int, bool, Facets]:
    """The total and the facets over the newest ``limit`` of ``rows`` (the visible hits,
    newest first, one more than ``limit`` when there are more): exact when there are no
    more, else a floor."""
    # Column by column, in ``hits._columns("facets")`` order, each counted by Counter's own
    # loop (in C): over 2,000 rows a search, a Python loop adding to six counters per row
    # cost several times more.
    _ids, types, places, orgs, priorities, codes, times = (
        tuple(zip(*rows[:limit], strict=True)) or ((),) * 7
    )
    triaged = [(p, c) for t, p, c in zip(types, priorities, codes, strict=True) if t == "report"]
    counts: dict[str, Counter[Any]] = {
        "type": Counter(types),
        "category": Counter(x for _p, c in triaged for x in (c or "").split(",") if x),
        "priority": Counter(p or "pending" for p, _c in triaged),
        "time": Counter(times),
        "place": Counter(p for p in places if p),
        "organisation": Counter(orgs),
    }
    names = _org_names(session, counts["organisation"])
    counts["organisation"] = Counter(
        {names.get(k, ""): n for k, n in counts["organisation"].items()}
    )

    def listed(facet: str) -> list[FacetCount]:
        items = sorted(counts[facet].items(), key=lambda kv: (-kv[1], str(kv[0])))
        return [FacetCount(value=str(k), count=n) for k, n in items]

    return min(len(rows), limit), len(rows) <= limit, Facets(**{k: listed(k) for k in counts})


def _org_names(session: Session, ids: Any) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {oid: name for oid, name in rows}


def _hit(r: hits.Hit, snippet: str, organisation: str) -> SearchHit:
    rtype = RecordType(r.record_type)
    hit_id = r.reference if rtype is not RecordType.entity else str(r.record_id)
    return SearchHit(
        type=rtype,
        id=hit_id,
        title=r.title,
        snippet=snippet,
        at=r.at,
        kind=r.kind,
        classification=r.classification,
        organisation=organisation,
        href=HREF[rtype].format(hit_id),
    )


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
    query, its filters and the records returned are audited.

    The search reads in a reading session rather than inside the single writer: held there
    (tens of milliseconds at a million reports, more for a reader who sees little of a
    common word), every report's acknowledgement and every other search would wait behind
    it, one after the other. As for the dashboard
    (``vigil.stats.services.summary``), the audit event is committed before the page is
    returned, so an unrecorded read never reaches the reader.
    """
    types = searchable_types(user, criteria)
    after = _decode(cursor) if cursor else None
    prepared = _name_words(rt, criteria.parsed)
    names = prepared.names
    counted = COUNT_LIMIT  # read when called, so a test may lower it
    with rt.db.session(as_user=user.id) as session:
        if rt.db.dialect == "postgresql":
            # The driver prepares a statement run five times on a connection, and PostgreSQL
            # may then plan it once for any words: one plan cannot suit both "station" and
            # "bollards" (a generic plan walked 250,000 documents for "bollards": 0.8 s).
            session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        m = matched(session, user, criteria, types, names)
        page = _read(session, m, criteria, names, after, limit, counted)
    if prepared.behind:  # recent changes are not all findable yet: say so, count no floor
        page.index_complete = page.total_exact = False
    returned = [h.id if h.type is not RecordType.entity else f"entity:{h.id}" for h in page.hits]
    rt.db.write_sync(
        lambda session: record_event(
            session,
            user.actor(client),
            "search.performed",
            record_type="search",
            record_ids=returned,
            purpose=criteria.audit_purpose(),
        ),
        as_user=user.id,
    )
    return page


def _read(
    session: Session,
    m: Matched,
    criteria: SearchCriteria,
    names: dict[str, list[str]],
    after: int | None,
    limit: int,
    counted: int,
) -> SearchPage:
    """The page after document ``after`` (from the newest when None) and the counts over
    the newest ``counted`` hits. Without a cursor the page is the start of the counted hits,
    so one walk finds both and only the page's few hits are read again for what they show."""
    want = max(counted, limit) + 1
    now = utcnow()
    newest = hits.visible_hits(m, session, "facets", now, before=None, want=want)
    if after is None:
        first = [(r.id, r.record_type) for r in newest[: limit + 1]]
        rows = hits.checked(m, session, "page", now, first)
    else:
        rows = hits.visible_hits(m, session, "page", now, before=after, want=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    total, exact, facets = tally(session, newest[: counted + 1], counted)
    passages = snippets(session, criteria, names, [r.id for r in rows])
    org_names = _org_names(session, {r.org_id for r in rows})
    last = rows[-1] if rows else None
    return SearchPage(
        total=total,
        total_exact=exact,
        hits=[_hit(r, passages[r.id], org_names.get(r.org_id, "")) for r in rows],
        facets=facets,
        next_cursor=_encode(last.id) if more and last is not None else None,
    )
