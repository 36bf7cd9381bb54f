"""An outcome that names where a report goes takes it there, in the decision's transaction.

"Add to a case" links the decided reports to the case, and "refer to a partner" shares them
with the partner organisation under a data-sharing agreement. Recorded without doing either,
the outcome had left the case without the report, accepted a case that did not exist, and
shared nothing. So the case must be an open one the analyst may change, and the referral must
fall under an agreement in force; a refusal is said on the form's field and nothing is
decided. The link and the disclosure are audited as the case and sharing services audit them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access import sharing
from vigil.access.models import Organisation
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.cases.services import Linkable, audit_links, link, managed_case
from vigil.intake.models import Report
from vigil.triage.schemas import Outcome, OutcomeIn
from vigil.web.problems import Problem, field_error
from vigil.web.said import Said, said

# Where the sharing service's refusals belong on the outcome form.
_FIELDS = {"#/organisation": "#/detail", "#/team": "#/detail", "#/purpose": "#/reason"}


def carry_out(
    session: Session,
    user: StaffUser,
    body: OutcomeIn,
    reports: Sequence[Report],
    client: str | None,
) -> str | None:
    """Do what the outcome names for every decided report; the detail to record (the case's
    reference or the organisation's name as the service spells them)."""
    if body.outcome is Outcome.add_to_case:
        return _add_to_case(session, user, body.detail or "", reports, client)
    if body.outcome is Outcome.refer_to_partner:
        return _refer(session, user, body, reports, client)
    return body.detail


def _add_to_case(
    session: Session, user: StaffUser, reference: str, reports: Sequence[Report], client: str | None
) -> str:
    if Permission.cases_write not in user.permissions:
        raise _refused("#/outcome", said("your role cannot add reports to cases"))
    try:
        case = managed_case(session, user, reference, open_only=True)
    except Problem as refused:
        if refused.status == 409:
            raise _refused("#/detail", said("that case is closed; reopen it first")) from None
        # missing, hidden, or run by someone else: the same words for all three
        raise _refused("#/detail", said("no open case with that reference that you run")) from None
    added = link(session, user, case, [Linkable("report", r.id, r.reference) for r in reports])
    audit_links(session, user, case, added, client)
    return case.reference


def _refer(
    session: Session,
    user: StaffUser,
    body: OutcomeIn,
    reports: Sequence[Report],
    client: str | None,
) -> str:
    if Permission.record_share not in user.permissions:
        raise _refused("#/outcome", said("your role cannot share reports with partners"))
    typed = (body.detail or "").strip()
    partner = session.scalar(
        select(Organisation).where(func.lower(Organisation.name) == typed.lower())
    )
    if partner is None:
        raise _refused("#/detail", said("no organisation by that name"))
    for report in reports:
        if partner.id == report.owning_org_id:
            raise _refused("#/detail", said("refer it to a partner, not to its own organisation"))
        try:
            sharing.share(
                session,
                user,
                report,
                "report",
                org_name=partner.name,
                team_name=None,
                purpose=f"referral: {body.reason}",
                client=client,
                conditions_accepted=body.conditions_accepted,
            )
        except Problem as refused:
            if refused.kind == "no-sharing-agreement":
                raise _refused(
                    "#/detail", said("no agreement in force lets this report be shared with it")
                ) from None
            raise Problem(
                refused.status,
                refused.title,
                refused.detail,
                errors=[
                    {**e, "pointer": _FIELDS.get(e["pointer"], e["pointer"])}
                    for e in refused.errors
                ],
                kind=refused.kind,
            ) from None
    return partner.name


def _refused(pointer: str, detail: Said) -> Problem:
    return Problem(
        422,
        said("Invalid request"),
        said("The outcome cannot be carried out; nothing was decided."),
        errors=[field_error(pointer, detail)],
        kind="invalid-request",
    )
