"""Sharing a report with partner agencies, and with other teams of its own organisation, from
the console: the report's counterpart of the case sharing page.

Until this page an analyst could share a report only through the JSON API, which console
users hold no bearer token for. Every change goes through the sharing service the API uses
(:func:`sharing.share`, :func:`sharing.revoke`), in one transaction with its audit event
(``record.disclosed``, ``record.share_revoked``); reading the page is audited as the API's
list is (``report.shares_viewed``). Only partners whose agreement in force covers reports at
the report's marking are offered, and a partner that is not offered is refused on its field,
so a forged form shares nothing.

Who sees what: a report the reader may not see is the same "Page not found" as one that does
not exist. Whom it is shared with is for the owning organisation only (a partner it is shared
with does not learn which other agencies have it, as for cases: 403). Staff of the owning
organisation whose role lacks ``record_share`` see the shares read-only: the forms are not
shown to them and the routes that change shares answer 403.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.responses import Response

from vigil.access import sharing
from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.sharing import ShareOut
from vigil.audit.services import record_event
from vigil.cases.services import invalid
from vigil.cases.sharing_form import share_form, share_from_form
from vigil.intake.api import ShareIn
from vigil.intake.reading import NO_REPORT, owned_report
from vigil.triage.report_pages import REPORT, not_found
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router

router = page_router()
SHARING = REPORT + "/sharing"
REVOKE = SHARING + "/{share_id}/revoke"
_reader = staff_session(Permission.report_read)
_sharer = staff_session(Permission.record_share)


class ReportSharing(BaseModel):
    """What the sharing page shows: the report's marking, its shares (live and stopped,
    oldest first) and the recipients the agreements allow that it is not shared with yet."""

    reference: str
    classification: str
    handling_code: str | None
    handling_conditions: str | None
    shares: list[ShareOut]
    partners: list[str]  # organisations an agreement covers this report for, not yet shared with
    teams: list[str]  # the owning organisation's other teams, not yet shared with
    may_share: bool  # the reader's role may share and stop shares


# --- the service verbs the page calls (each one transaction, audited in it) ----------------


def report_sharing(
    rt: Runtime, user: StaffUser, reference: str, client: str | None
) -> ReportSharing:
    def work(session: Session) -> ReportSharing:
        report = owned_report(session, user, reference)
        shares = sharing.shares_of(session, report, "report")
        partners, teams = sharing.still_to_offer(session, report, "report", shares)
        record_event(
            session,
            user.actor(client),
            "report.shares_viewed",
            record_type="report",
            record_ids=[report.reference],
        )
        return ReportSharing(
            reference=report.reference,
            classification=report.classification,
            handling_code=report.handling_code,
            handling_conditions=report.handling_conditions,
            shares=shares,
            partners=partners,
            teams=teams,
            may_share=Permission.record_share in user.permissions,
        )

    return rt.db.write_sync(work, as_user=user.id)


def share_report(
    rt: Runtime, user: StaffUser, reference: str, body: ShareIn, client: str | None
) -> ShareOut:
    """Share with a partner the agreements offer, or with a team of the owning organisation.
    A partner that is not offered (no agreement covering it, or the owning organisation
    itself, which would widen the report to all its teams) is refused before the service
    is asked."""

    def work(session: Session) -> ShareOut:
        report = owned_report(session, user, reference)
        offered = sharing.partners_for(session, report, "report")
        if body.organisation is not None and body.organisation not in offered:
            raise invalid(
                ("organisation", said("no agreement in force lets this report be shared with it"))
            )
        return sharing.share_as_asked(session, user, report, "report", body, client)

    return rt.db.write_sync(work, as_user=user.id)


def revoke_report_share(
    rt: Runtime, user: StaffUser, reference: str, share_id: int, client: str | None
) -> ShareOut:
    def work(session: Session) -> ShareOut:
        report = owned_report(session, user, reference)
        return sharing.revoke(session, user, report, "report", share_id, client)

    return rt.db.write_sync(work, as_user=user.id)


# --- the pages ------------------------------------------------------------------------------


def _sharing_page(
    p: Page,
    user: StaffUser,
    reference: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        found = report_sharing(p.rt, user, reference, client_address(p.request))
    except Problem as problem:
        if problem.status == 404:
            return not_found(p)
        raise
    return render_staff(
        p,
        "triage/sharing.html",
        status=status,
        sharing=found,
        path=SHARING.format(reference=found.reference),
        **share_form(values, errors, bool(found.partners)),
    )


@router.get(SHARING)
def sharing_page(
    reference: str, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    return _sharing_page(p, user, reference)


@router.post(SHARING)
def share(reference: str, user: StaffUser = Depends(_sharer), p: Page = Depends(page)) -> Response:
    try:
        values, errors = share_from_form(
            p,
            ShareIn,
            lambda body: share_report(p.rt, user, reference, body, client_address(p.request)),
            choose=said("choose the organisation to share the report with"),
            no_agreement=said("no agreement in force lets this report be shared with it"),
        )
    except Problem as problem:
        if problem.status == 404:
            return not_found(p)
        raise
    if errors:
        return _sharing_page(p, user, reference, values, errors, status=400)
    return p.redirect(SHARING.format(reference=reference) + "#shares")


@router.post(REVOKE)
def revoke(
    reference: str,
    share_id: int,
    user: StaffUser = Depends(_sharer),
    p: Page = Depends(page),
) -> Response:
    try:
        revoke_report_share(p.rt, user, reference, share_id, client_address(p.request))
    except Problem as problem:
        if problem.status != 404:
            raise
        if problem.detail == NO_REPORT.detail:
            return not_found(p)
        raise HTTPException(404) from None  # no such share of this report
    return p.redirect(SHARING.format(reference=reference) + "#shares")
