"""The analysts' queue: most urgent first, oldest first within a priority, need-to-know always.

A report joins the queue in the transaction that accepts it (priority rank 5, "pending"), so
it is workable before its pipeline finishes; the pipeline then gives it a priority.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, literal, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, lazyload

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.triage.categories import load_rules
from vigil.triage.models import TriageResult
from vigil.triage.schemas import QueueItem, QueuePage
from vigil.triage.views import emails, is_overdue, visible_cluster_sizes
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

STATES = {"new", "claimed", "decided", "open"}  # open = new or claimed
OPEN_STATES = ("new", "claimed")
PRIORITIES = {"P1", "P2", "P3", "P4", "pending"}

# The orders an analyst can put the queue in, each a key that pages by keyset: the most
# urgent first (the default: priority, then oldest), the longest waiting first, the newest
# first (after an incident, to see what is arriving), and the soonest due first.
SORTS: dict[str, tuple[tuple[InstrumentedAttribute[Any], bool], ...]] = {
    "priority": (
        (TriageResult.priority_rank, True),
        (TriageResult.received_at, True),
        (TriageResult.report_id, True),
    ),
    "oldest": ((TriageResult.received_at, True), (TriageResult.report_id, True)),
    "newest": ((TriageResult.received_at, False), (TriageResult.report_id, False)),
    "due": (
        (TriageResult.due_at, True),
        (TriageResult.received_at, True),
        (TriageResult.report_id, True),
    ),
}


@dataclass(frozen=True)
class QueueFilter:
    priorities: frozenset[str] = frozenset()
    category: str | None = None
    state: str = "open"
    mine: bool = False
    overdue: bool = False
    cluster_id: int | None = None
    sort: str = "priority"

    def problems(self) -> list[dict[str, str]]:
        found = []
        if self.sort not in SORTS:
            found.append(
                field_error("#/sort", said("must be one of %(choices)s", choices=", ".join(SORTS)))
            )
        if self.state not in STATES:
            found.append(
                field_error(
                    "#/state", said("must be one of %(choices)s", choices=", ".join(sorted(STATES)))
                )
            )
        for p in self.priorities - PRIORITIES:
            found.append(
                field_error("#/priority", said("unknown priority %(priority)s", priority=repr(p)))
            )
        known = {c.code for c in load_rules().categories}
        if self.category is not None and self.category not in known:
            # a mistyped code would otherwise answer "nothing matches", as if the queue were clear
            found.append(
                field_error(
                    "#/category",
                    said("unknown category %(category)s", category=repr(self.category)),
                )
            )
        return found


def _decode(cursor: str, sort: str) -> list[Any]:
    """The last row's sort key, from a cursor given out for the same order."""
    try:
        given, *values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        keys = SORTS[sort]
        if given != sort or len(values) != len(keys):
            raise ValueError("a cursor of another order")
        return [_key_value(column, value) for (column, _), value in zip(keys, values, strict=True)]
    except Exception as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The cursor is not one this service gave out."),
            errors=[field_error("#/cursor", said("not a valid cursor"))],
            kind="invalid-request",
        ) from exc


def _key_value(column: InstrumentedAttribute[Any], value: Any) -> Any:
    if value is None or column.key not in {"received_at", "due_at"}:
        return None if value is None else int(value)
    return datetime.fromisoformat(value)


def _encode(row: TriageResult, sort: str) -> str:
    values = [getattr(row, column.key) for column, _ in SORTS[sort]]
    raw = orjson.dumps([sort, *(v.isoformat() if isinstance(v, datetime) else v for v in values)])
    return base64.urlsafe_b64encode(raw).decode()


def _after(sort: str, last: list[Any]) -> ColumnElement[bool]:
    """Rows after ``last`` in the order ``sort``: a keyset condition, one column at a time.
    A missing due time (a report accepted before service levels) sorts last, as NULLs do
    ascending on PostgreSQL, and is written out so that SQLite agrees."""
    clauses = []
    for i, (column, ascending) in enumerate(SORTS[sort]):
        equal = [_same(c, v) for (c, _), v in zip(SORTS[sort][:i], last[:i], strict=True)]
        value = last[i]
        if value is None:  # only NULLs (none greater) follow: the next column decides
            continue
        beyond = column > value if ascending else column < value
        if column.key == "due_at":
            beyond = or_(beyond, column.is_(None))
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _same(column: InstrumentedAttribute[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def list_queue(
    rt: Runtime,
    user: StaffUser,
    criteria: QueueFilter,
    *,
    cursor: str | None,
    limit: int,
    client: str | None = None,
) -> QueuePage:
    """One page of the queue through the policy filter; the listing is audited."""
    errors = criteria.problems()
    if errors:
        raise Problem(
            422,
            said("Invalid request"),
            said("Check the filters."),
            errors=errors,
            kind="invalid-request",
        )
    after = _decode(cursor, criteria.sort) if cursor else None
    keys = SORTS[criteria.sort]

    def work(session: Session) -> QueuePage:
        now = utcnow()
        query = (
            select(TriageResult, Report)
            .join(Report, Report.id == TriageResult.report_id)
            .where(policy.reports(user))
            .order_by(*(_ordered(column, ascending) for column, ascending in keys))
            .limit(limit + 1)
            # A queue row shows the report's own fields only: its people, vehicles, links and
            # files are not loaded (four queries a page saved; loaded if ever touched).
            .options(*(lazyload(r) for r in (Report.people, Report.vehicles, Report.online)))
            .options(lazyload(Report.attachments))
        )
        query = _filtered(query, criteria, user, now)
        if after is not None:
            query = query.where(_after(criteria.sort, after))
        in_order = (
            session.get_bind().dialect.name == "postgresql"
            and criteria.cluster_id is None
            and criteria.sort == "priority"
        )
        if in_order:
            # PostgreSQL misjudges how many open reports a priority or category filter keeps
            # (it guesses a handful) and would then sort every open report; walking the open
            # queue's index in order stops after one page. Only a cluster has a better index.
            session.execute(text("SET LOCAL enable_sort = off"))
        rows = session.execute(query).all()
        if in_order:
            session.execute(text("SET LOCAL enable_sort = on"))
        more = len(rows) > limit
        rows = rows[:limit]
        sizes = visible_cluster_sizes(session, user, [r.cluster_id for r, _ in rows])
        who = emails(session, [r.claimed_by_user_id for r, _ in rows])
        record_event(
            session,
            user.actor(client),
            "triage.queue.listed",
            record_type="report",
            record_ids=[rep.reference for _, rep in rows],
        )
        items = [
            QueueItem(
                reference=rep.reference,
                received_at=rep.received_at,
                kind=rep.kind,
                excerpt=rep.description[:200],
                status=res.status,
                priority=res.priority,
                score=res.score,
                categories=[c for c in res.category_codes.split(",") if c],
                state=res.state,
                claimed_by=who.get(res.claimed_by_user_id) if res.claimed_by_user_id else None,
                due_at=res.due_at,
                overdue=is_overdue(res, now),
                cluster_id=res.cluster_id,
                cluster_size=sizes.get(res.cluster_id, 1) if res.cluster_id else 1,
                owned=rep.owning_org_id == user.org_id,
            )
            for res, rep in rows
        ]
        last = _encode(rows[-1][0], criteria.sort) if more and rows else None
        return QueuePage(items=items, next_cursor=last)

    return rt.db.write_sync(work, as_user=user.id)


QueueQuery = Select[TriageResult, Report]


def _ordered(column: InstrumentedAttribute[Any], ascending: bool) -> ColumnElement[Any]:
    """The one column that may be empty (``due_at``) sorts its NULLs last on both engines
    (SQLite puts them first by default); the others are left plain, so that the open queue's
    index still serves the default order."""
    if not ascending:
        return column.desc()
    return column.asc().nulls_last() if column.key == "due_at" else column.asc()


def _filtered(
    query: QueueQuery, criteria: QueueFilter, user: StaffUser, now: datetime
) -> QueueQuery:
    if criteria.state == "open":
        # Written as literal values, not parameters: SQLite uses the open queue's partial
        # index (migration 0014) only when the query states the index's own condition.
        open_states = [literal(s, literal_execute=True) for s in OPEN_STATES]
        query = query.where(TriageResult.state.in_(open_states))
    else:
        query = query.where(TriageResult.state == criteria.state)
    if criteria.priorities:
        wanted = [p for p in criteria.priorities if p != "pending"]
        clauses = [TriageResult.priority.in_(wanted)] if wanted else []
        if "pending" in criteria.priorities:
            clauses.append(TriageResult.priority.is_(None))
        query = query.where(or_(*clauses))
    if criteria.category:
        query = query.where(TriageResult.category_codes.contains(f",{criteria.category},"))
    if criteria.mine:
        query = query.where(TriageResult.claimed_by_user_id == user.id)
    if criteria.overdue:
        query = query.where(TriageResult.due_at < now, TriageResult.state != "decided")
    if criteria.cluster_id is not None:
        query = query.where(TriageResult.cluster_id == criteria.cluster_id)
    return query
