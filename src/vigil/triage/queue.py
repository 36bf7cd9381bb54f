"""The analysts' queue: most urgent first, oldest first within a priority, need-to-know always.

A report joins the queue in the transaction that accepts it (priority rank 5, "pending"), so
it is workable before its pipeline finishes; the pipeline then gives it a priority.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Select, and_, literal, or_, select, text
from sqlalchemy.orm import Session, lazyload

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.triage.models import TriageResult
from vigil.triage.schemas import QueueItem, QueuePage
from vigil.triage.views import emails, is_overdue, visible_cluster_sizes
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

STATES = {"new", "claimed", "decided", "open"}  # open = new or claimed
OPEN_STATES = ("new", "claimed")
PRIORITIES = {"P1", "P2", "P3", "P4", "pending"}


@dataclass(frozen=True)
class QueueFilter:
    priorities: frozenset[str] = frozenset()
    category: str | None = None
    state: str = "open"
    mine: bool = False
    overdue: bool = False
    cluster_id: int | None = None

    def problems(self) -> list[dict[str, str]]:
        found = []
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
        return found


def _decode(cursor: str) -> tuple[int, datetime, int]:
    try:
        rank, at, rid = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(rank), datetime.fromisoformat(at), int(rid)
    except Exception as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The cursor is not one this service gave out."),
            errors=[field_error("#/cursor", said("not a valid cursor"))],
            kind="invalid-request",
        ) from exc


def _encode(row: TriageResult) -> str:
    raw = orjson.dumps([row.priority_rank, row.received_at.isoformat(), row.report_id])
    return base64.urlsafe_b64encode(raw).decode()


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
    after = _decode(cursor) if cursor else None

    def work(session: Session) -> QueuePage:
        now = utcnow()
        query = (
            select(TriageResult, Report)
            .join(Report, Report.id == TriageResult.report_id)
            .where(policy.reports(user))
            .order_by(TriageResult.priority_rank, TriageResult.received_at, TriageResult.report_id)
            .limit(limit + 1)
            # A queue row shows the report's own fields only: its people, vehicles, links and
            # files are not loaded (four queries a page saved; loaded if ever touched).
            .options(*(lazyload(r) for r in (Report.people, Report.vehicles, Report.online)))
            .options(lazyload(Report.attachments))
        )
        query = _filtered(query, criteria, user, now)
        if after is not None:
            rank, at, rid = after
            query = query.where(
                or_(
                    TriageResult.priority_rank > rank,
                    and_(TriageResult.priority_rank == rank, TriageResult.received_at > at),
                    and_(
                        TriageResult.priority_rank == rank,
                        TriageResult.received_at == at,
                        TriageResult.report_id > rid,
                    ),
                )
            )
        in_order = session.get_bind().dialect.name == "postgresql" and criteria.cluster_id is None
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
            )
            for res, rep in rows
        ]
        return QueuePage(items=items, next_cursor=_encode(rows[-1][0]) if more and rows else None)

    return rt.db.write_sync(work, as_user=user.id)


QueueQuery = Select[TriageResult, Report]


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
