"""Everything the console's report page shows: read together, recorded together.

The page shows the report, the entities taken from it, the reporter's thread and whether a
follow-up is possible, and each of those readings is audited. They are read in one reading
session, which finds the report through the policy once, and then every reading is recorded
in one write, committed before the page is returned, so an unrecorded reading never reaches
the reader and a page view costs one durable commit.

The reading is not done inside the single writer (as it was): there, every page view's
reads (tens of milliseconds at a million reports) ran one after the other with every other
write, so two analysts opening reports at once each waited for the other's page and every
report's acknowledgement waited for both. The search and the dashboard read the same way.
What each role is shown is decided by the same functions the API uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from vigil.access.fields import report_fields
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake.models import FollowupCredential
from vigil.intake.reading import (
    followup_count,
    record_report_viewed,
    report_as_shown,
    visible_report_with,
)
from vigil.intake.schemas import ReportOut
from vigil.intake.thread import MessageOut, record_thread_viewed, thread_messages
from vigil.linkage.schemas import EntityPage
from vigil.linkage.views import record_entities_viewed, report_entities
from vigil.triage.models import TriageResult
from vigil.triage.views import emails
from vigil.web.runtime import Runtime


@dataclass
class ReportView:
    report: ReportOut
    entities: list[EntityPage] = field(default_factory=list)
    show_thread: bool = False  # a role not shown the report's words is not shown the thread
    messages: list[MessageOut] = field(default_factory=list)
    followup_possible: bool = False  # the reporter holds a follow-up code
    authors: dict[int, str] = field(default_factory=dict)  # staff authors' e-mails


def read_report_page(
    rt: Runtime, user: StaffUser, reference: str, client: str | None
) -> ReportView:
    """The report page's data; a report the user may not see is the usual 404 problem (and
    nothing is recorded, as for a report that does not exist)."""
    with rt.db.session(as_user=user.id) as session:
        view = _read(session, user, reference)

    def record(session: Session) -> None:
        shown = view.report.reference
        record_report_viewed(session, user, shown, client)
        record_entities_viewed(session, user, shown, view.entities, client)
        if view.show_thread:
            record_thread_viewed(session, user, shown, client)

    rt.db.write_sync(record, as_user=user.id)
    return view


def _read(session: Session, user: StaffUser, reference: str) -> ReportView:
    # The triage result (for triage_out, which then finds it in the session) and whether
    # the reporter holds a follow-up code come with the report, in the one statement.
    row, _triage, credential = visible_report_with(
        session, user, reference, TriageResult, FollowupCredential
    )
    show_thread = "description" in report_fields(user.role)
    messages = thread_messages(session, row.id) if show_thread else []
    # The thread is every follow-up, so its length is the report's count of them.
    followups = len(messages) if show_thread else followup_count(session, row.id)
    view = ReportView(report=report_as_shown(session, user, row, followups))
    if Permission.linkage_read in user.permissions:
        view.entities = report_entities(session, user, row)
    view.show_thread = show_thread
    if show_thread:
        view.messages = messages
        view.authors = emails(session, [m.author_user_id for m in messages])
    view.followup_possible = credential is not None
    return view
