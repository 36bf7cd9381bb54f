"""Staff reading reports through the policy filter, and sharing them.

Every read here is filtered by :mod:`vigil.access.policy` and audited in the same
transaction; a report the user may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vigil.access import policy, sharing
from vigil.access.fields import report_fields, restrict_report
from vigil.access.services import StaffUser
from vigil.access.sharing import ShareOut
from vigil.audit.services import record_event
from vigil.intake.codes import normalise_reference
from vigil.intake.models import Followup, Report
from vigil.intake.schemas import ReportOut, ReportPage
from vigil.intake.views import decode_cursor, encode_cursor, report_out
from vigil.triage.views import triage_out
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime
from vigil.web.said import said

NO_REPORT = Problem(
    404, said("Not found"), said("No report with that reference."), kind="not-found"
)


def get_report(
    rt: Runtime, user: StaffUser, reference_text: str, client: str | None = None
) -> ReportOut:
    """One report the user may see; the viewing is audited in the same transaction.

    A reference the user may not see is answered as a value, not raised inside the writer:
    the transaction then ends with a commit like any other, so PostgreSQL keeps its prepared
    statements (a rollback discards them) and the writer's batch is not redone."""

    def work(session: Session) -> ReportOut | None:
        found = find_visible_report(session, user, reference_text)
        return None if found is None else read_report(session, user, found[0], client)

    shown = rt.db.write_sync(work, as_user=user.id)
    if shown is None:
        raise NO_REPORT
    return shown


def read_report(
    session: Session, user: StaffUser, row: Report, client: str | None = None
) -> ReportOut:
    """A visible report as this user's role is shown it; the viewing is audited in
    ``session``'s transaction."""
    followups = followup_count(session, row.id)
    record_report_viewed(session, user, row.reference, client)
    return report_as_shown(session, user, row, followups)


def followup_count(session: Session, report_id: int) -> int:
    return session.scalar(select(func.count()).where(Followup.report_id == report_id)) or 0


def record_report_viewed(
    session: Session, user: StaffUser, reference: str, client: str | None
) -> None:
    """The audit event of one report's viewing (on its own for a page that reads in a
    reading session and records all its readings in one write before it answers)."""
    record_event(
        session,
        user.actor(client),
        "report.viewed",
        record_type="report",
        record_ids=[reference],
    )


def report_as_shown(session: Session, user: StaffUser, row: Report, followups: int) -> ReportOut:
    """A visible report as this user's role is shown it, unaudited: the caller records the
    viewing (:func:`record_report_viewed`) before anything read here reaches the reader."""
    out = report_out(row, followups)
    if "triage" in report_fields(user.role):
        out.triage = triage_out(session, user, row)
    return restrict_report(out, user.role)


def list_reports(
    rt: Runtime, user: StaffUser, *, cursor: str | None, limit: int, client: str | None = None
) -> ReportPage:
    """Newest first, keyset-paginated, through the policy filter; the listing is audited."""
    after = decode_cursor(cursor) if cursor else None

    def work(session: Session) -> ReportPage:
        query = (
            select(Report)
            .where(policy.reports(user))
            .order_by(Report.received_at.desc(), Report.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            at, rid = after
            query = query.where(
                or_(Report.received_at < at, and_(Report.received_at == at, Report.id < rid))
            )
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        counts = followup_counts(session, [r.id for r in rows])
        record_event(
            session,
            user.actor(client),
            "report.listed",
            record_type="report",
            record_ids=[r.reference for r in rows],
        )
        items = [restrict_report(report_out(r, counts.get(r.id, 0)), user.role) for r in rows]
        next_cursor = encode_cursor(rows[-1].received_at, rows[-1].id) if more and rows else None
        return ReportPage(items=items, next_cursor=next_cursor)

    return rt.db.write_sync(work, as_user=user.id)


def followup_counts(session: Session, report_ids: Sequence[int]) -> dict[int, int]:
    if not report_ids:
        return {}
    rows = session.execute(
        select(Followup.report_id, func.count())
        .where(Followup.report_id.in_(report_ids))
        .group_by(Followup.report_id)
    )
    return {rid: int(n) for rid, n in rows}


def iter_reports(
    session: Session, *, since: datetime | None, org_id: int | None
) -> Iterator[Report]:
    query = select(Report).order_by(Report.received_at, Report.id)
    if since is not None:
        query = query.where(Report.received_at >= since)
    if org_id is not None:
        query = query.where(Report.owning_org_id == org_id)
    yield from session.scalars(query.execution_options(yield_per=500))


def visible_report(session: Session, user: StaffUser, reference_text: str) -> Report:
    """The report if this user may see it; otherwise the same 404 as for no report at all."""
    report: Report = visible_report_with(session, user, reference_text)[0]
    return report


def visible_report_with(
    session: Session, user: StaffUser, reference_text: str, *joined: Any
) -> tuple[Any, ...]:
    """:func:`visible_report` with the rows of ``joined`` (models keyed by ``report_id``)
    read in the same statement, each None when the report has none (or the reader may not
    see it): one lookup instead of one per table for a page that shows them all."""
    found = find_visible_report(session, user, reference_text, *joined)
    if found is None:
        raise NO_REPORT
    return found


def find_visible_report(
    session: Session, user: StaffUser, reference_text: str, *joined: Any
) -> tuple[Any, ...] | None:
    """:func:`visible_report_with`, with None where that raises the 404."""
    reference = normalise_reference(reference_text)
    if reference is None:
        return None
    query = select(Report, *joined).where(Report.reference == reference, policy.reports(user))
    for model in joined:
        query = query.outerjoin(model, model.report_id == Report.id)
    found = session.execute(query).first()
    return None if found is None else tuple(found)


NOT_OWNER = said("Only the organisation that owns this report shares it or stops a share.")


NOT_TRIAGER = said(
    "Only the organisation that owns this report triages it, decides what happens to it or "
    "asks its reporter questions."
)


def owned_report(
    session: Session, user: StaffUser, reference: str, refusal: str = NOT_OWNER
) -> Report:
    """The report, if the reader may see it (404 otherwise) and is of the organisation that
    owns it (403 with ``refusal`` otherwise): a partner it was shared with reads it, but does
    not pass it on, undo the owner's sharing, triage it or write to its reporter. (Who it is
    shared with may be read by anyone who may read it.)"""
    report = visible_report(session, user, reference)
    if report.owning_org_id != user.org_id:
        raise Problem(403, said("Forbidden"), refusal)
    return report


def share_report(
    rt: Runtime, user: StaffUser, reference: str, asked: sharing.ShareAsked, client: str | None
) -> ShareOut:
    """Share a report its owner's organisation holds, as the request asks (API)."""
    return rt.db.write_sync(
        lambda session: sharing.share_as_asked(
            session, user, owned_report(session, user, reference), "report", asked, client
        ),
        as_user=user.id,
    )


def revoke_report_share(
    rt: Runtime, user: StaffUser, reference: str, share_id: int, client: str | None
) -> ShareOut:
    return rt.db.write_sync(
        lambda session: sharing.revoke(
            session, user, owned_report(session, user, reference), "report", share_id, client
        ),
        as_user=user.id,
    )


def report_shares(
    rt: Runtime, user: StaffUser, reference: str, client: str | None
) -> list[ShareOut]:
    def work(session: Session) -> list[ShareOut]:
        row = visible_report(session, user, reference)
        record_event(
            session,
            user.actor(client),
            "report.shares_viewed",
            record_type="report",
            record_ids=[row.reference],
        )
        return sharing.shares_of(session, row, "report")

    return rt.db.write_sync(work, as_user=user.id)
