"""Turning triage rows into what staff are shown, always through the policy filter.

A cluster's size and links count only the reports this user may see: a near-duplicate the
user may not see is neither listed nor counted, so nothing hints that it exists. The priority
factors' evidence is held to the same rule (:mod:`vigil.triage.factor_evidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from vigil.access import policy
from vigil.access.models import User
from vigil.access.services import StaffUser
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.triage.config import is_overdue as past_due
from vigil.triage.factor_evidence import factors_as_seen
from vigil.triage.models import ClusterLink, TriageDecision, TriageItem, TriageResult
from vigil.triage.schemas import ClusterLinkOut, ClusterOut, DecisionOut, ItemOut, TriageOut


def is_overdue(row: TriageResult, now: datetime) -> bool:
    """Past its service level and still undecided."""
    return row.state != "decided" and row.due_at is not None and past_due(row.due_at, now)


def item_out(row: TriageItem) -> ItemOut:
    return ItemOut(
        id=row.id,
        kind=row.kind,
        value=row.value,
        text=row.text,
        start=row.start,
        end=row.end,
        confidence=row.confidence,
        source=row.source,
        detail=row.detail,
        status=row.status,
        followup_id=row.followup_id,
        corrects_item_id=row.corrects_item_id,
    )


def emails(session: Session, user_ids: Sequence[int | None]) -> dict[int, str]:
    wanted = sorted({u for u in user_ids if u is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(wanted))).all())


def visible_cluster_sizes(
    session: Session, user: StaffUser, cluster_ids: Sequence[int | None]
) -> dict[int, int]:
    wanted = sorted({c for c in cluster_ids if c is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(TriageResult.cluster_id, func.count())
        .join(Report, Report.id == TriageResult.report_id)
        .where(TriageResult.cluster_id.in_(wanted), policy.reports(user))
        .group_by(TriageResult.cluster_id)
    )
    return {int(cid): int(n) for cid, n in rows if cid is not None}


def cluster_out(
    session: Session, user: StaffUser, report: Report, result: TriageResult
) -> ClusterOut | None:
    if result.cluster_id is None:
        return None
    other = aliased(Report)
    links = session.execute(
        select(ClusterLink, other.reference, Report.reference)
        .join(Report, Report.id == ClusterLink.report_id)
        .join(other, other.id == ClusterLink.other_report_id)
        .where(
            or_(ClusterLink.report_id == report.id, ClusterLink.other_report_id == report.id),
            policy.reports(user),
            policy.visible(user, other, "report"),
        )
        .order_by(ClusterLink.score.desc(), ClusterLink.id)
        .limit(200)
    )
    out: dict[tuple[str, str], ClusterLinkOut] = {}
    for link, ref_b, ref_a in links:  # best first; a pair linked both ways is shown once
        reference = ref_b if link.report_id == report.id else ref_a
        out.setdefault(
            (reference, link.reason),
            ClusterLinkOut(
                reference=reference, reason=link.reason, detail=link.detail, score=link.score
            ),
        )
    size = visible_cluster_sizes(session, user, [result.cluster_id]).get(result.cluster_id, 1)
    return ClusterOut(id=result.cluster_id, size=size, links=list(out.values()))


def triage_out(session: Session, user: StaffUser, report: Report) -> TriageOut | None:
    """The triage part of a report the caller has already found visible."""
    result = session.get(TriageResult, report.id)
    if result is None:
        return None
    items = session.scalars(
        select(TriageItem)
        .where(TriageItem.report_id == report.id)
        .order_by(TriageItem.followup_id.is_not(None), TriageItem.start, TriageItem.id)
    ).all()
    decisions = session.scalars(
        select(TriageDecision)
        .where(TriageDecision.report_id == report.id)
        .order_by(TriageDecision.made_at, TriageDecision.id)
    ).all()
    who = emails(session, [d.user_id for d in decisions] + [result.claimed_by_user_id])
    cluster = cluster_out(session, user, report, result)
    size = cluster.size if cluster is not None else 1
    return TriageOut(
        status=result.status,
        priority=result.priority,
        score=result.score,
        # each factor's evidence only as far as this user may see the records it rests on
        factors=factors_as_seen(session, user, report.id, result.factors, size),
        categories=result.categories,
        entities=[item_out(i) for i in items],
        cluster=cluster,
        history=[
            DecisionOut(
                action=d.action,
                by=who.get(d.user_id) if d.user_id else None,
                at=d.made_at,
                reason=d.reason,
                detail=d.detail,
            )
            for d in decisions
        ],
        state=result.state,
        claimed_by=who.get(result.claimed_by_user_id) if result.claimed_by_user_id else None,
        due_at=result.due_at,
        overdue=is_overdue(result, utcnow()),
        outcome=result.outcome,
        outcome_reason=result.outcome_reason,
        outcome_detail=result.outcome_detail,
        config_version=result.config_version,
    )
