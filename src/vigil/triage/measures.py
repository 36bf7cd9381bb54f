"""Counting people's corrections of the automation, so its accuracy in use is measured.

Counted only over reports the user may see; the counts feed measurement and review of the
rules, never an automatic retraining.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Report
from vigil.triage.models import TriageDecision, TriageResult
from vigil.triage.schemas import MeasuresOut
from vigil.web.runtime import Runtime


def corrections(rt: Runtime, user: StaffUser, client: str | None) -> MeasuresOut:
    def work(session: Session) -> MeasuresOut:
        rows = session.execute(
            select(TriageDecision.action, TriageDecision.detail)
            .join(Report, Report.id == TriageDecision.report_id)
            .where(
                TriageDecision.action.in_(("item_corrected", "item_added", "categories_corrected")),
                policy.reports(user),
            )
        ).all()
        corrected: Counter[str] = Counter()
        added: Counter[str] = Counter()
        cat_added: Counter[str] = Counter()
        cat_removed: Counter[str] = Counter()
        for action, detail in rows:
            d: dict[str, Any] = detail or {}
            if action == "item_corrected":
                corrected[str(d.get("before", {}).get("kind"))] += 1
            elif action == "item_added":
                added[str(d.get("after", {}).get("kind"))] += 1
            else:
                cat_added.update(d.get("added", []))
                cat_removed.update(d.get("removed", []))
        outcomes = session.execute(
            select(TriageResult.outcome, func.count())
            .join(Report, Report.id == TriageResult.report_id)
            .where(TriageResult.outcome.is_not(None), policy.reports(user))
            .group_by(TriageResult.outcome)
        ).all()
        record_event(session, user.actor(client), "triage.measures.viewed")
        return MeasuresOut(
            items_corrected=dict(corrected),
            items_added=dict(added),
            categories_added=dict(cat_added),
            categories_removed=dict(cat_removed),
            outcomes={str(o): int(n) for o, n in outcomes},
        )

    return rt.db.write_sync(work, as_user=user.id)
