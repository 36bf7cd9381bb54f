"""Everything the console's report page shows, read in one transaction.

The page shows the report, the entities taken from it, the reporter's thread and whether a
follow-up is possible. Each of those reads is audited. Read separately, each was its own
transaction waiting for its own durable commit (three on one page view), and each looked the
report up through the policy again. Here the report is found once and every reading is
recorded in the same transaction, so a page view costs one commit. What each role is shown
is decided by the same functions the API uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from vigil.access.fields import report_fields
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake.models import FollowupCredential
from vigil.intake.reading import read_report, visible_report
from vigil.intake.schemas import ReportOut
from vigil.intake.thread import MessageOut, read_messages
from vigil.linkage.schemas import EntityPage
from vigil.linkage.views import read_report_entities
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
    """The report page's data; a report the user may not see is the usual 404 problem."""

    def work(session: Session) -> ReportView:
        row = visible_report(session, user, reference)
        view = ReportView(report=read_report(session, user, row, client))
        if Permission.linkage_read in user.permissions:
            view.entities = read_report_entities(session, user, row, client)
        view.show_thread = "description" in report_fields(user.role)
        if view.show_thread:
            view.messages = read_messages(session, user, row, client)
            view.authors = emails(session, [m.author_user_id for m in view.messages])
        view.followup_possible = session.get(FollowupCredential, row.id) is not None
        return view

    return rt.db.write_sync(work, as_user=user.id)
