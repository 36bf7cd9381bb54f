"""Disclosing a reporter's identity: the strictest field-level rule in Vigil.

People report because they trust that their name stays protected, so the identity is opened
only when all of these hold, each checked on the server at the moment of disclosure:

- the user's role holds ``intake:identity:disclose`` (the reporter-contact custodian only);
- the report is one the user may see (the same 404 as a report that does not exist);
- a justification of at least 20 characters is given, and recorded as the audit purpose;
- the staff session proved its second factor again, after signing in, within the last 5
  minutes (``/staff/reauthenticate``), so an unattended or stolen session cannot disclose.
  Signing in is not re-authentication: a custodian who has just signed in is asked too.

The disclosure is audited as ``reporter.identity_disclosed`` in the same transaction as the
decryption; the identity itself never enters the audit log. A bearer token cannot
re-authenticate, so the API route always refuses, with a problem saying to use the console.

On PostgreSQL, row-level security lets only the 'public' and 'system' actors read
``reporter_identities``: the report is first checked as the acting user, then, once every
rule has passed, the same transaction switches to the system actor to read the sealed row.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access import pages, signin
from vigil.access.api import require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.webauthn_pages import reauth_url
from vigil.audit.services import record_event
from vigil.intake.models import ReporterIdentity
from vigil.intake.reading import visible_report
from vigil.intake.services import open_identity
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router

DISCLOSE = Permission.reporter_identity_disclose
REAUTH_WINDOW_S = signin.REAUTH_WINDOW_S  # how long a re-authentication counts
MIN_JUSTIFICATION = 20
MAX_JUSTIFICATION = 2000
PAGE = "/staff/reports/{reference}/reporter"
API = "/api/v1/reports/{reference}/reporter-identity"

router = page_router()
api_router = APIRouter(tags=["reports"])
_custodian = pages.staff_session(DISCLOSE)


def disclose_identity(
    rt: Runtime, user: StaffUser, reference: str, justification: str, client: str | None
) -> dict[str, str | None] | None:
    """The reporter's details (None when they stayed anonymous), audited with the purpose.

    The caller has checked the permission, the justification and the re-authentication.
    """

    def work(session: Session) -> dict[str, str | None] | None:
        report = visible_report(session, user, reference)  # as the user: policy and RLS
        rt.db.act_as(session, None)  # every rule has passed: read the sealed row as system
        row = session.get(ReporterIdentity, report.id)
        identity = open_identity(rt, row, report.reference) if row is not None else None
        record_event(
            session,
            user.actor(client),
            "reporter.identity_disclosed",
            record_type="report",
            record_ids=[report.reference],
            outcome="success" if identity is not None else "none_held",
            purpose=justification,
        )
        return identity

    return rt.db.write_sync(work, as_user=user.id)


def fresh_second_factor(rt: Runtime, sid: str, window_s: int = REAUTH_WINDOW_S) -> bool:
    """Whether this session re-authenticated, after signing in, within the last ``window_s``
    seconds (the sign-in's own second factor does not count)."""
    return signin.fresh_step_up(rt, sid, window_s)


def _check_visible(rt: Runtime, user: StaffUser, reference: str) -> str:
    with rt.db.session(as_user=user.id) as session:
        return visible_report(session, user, reference).reference


def _refused(rt: Runtime, user: StaffUser, reference: str, client: str, reason: str) -> None:
    rt.db.write_sync(
        lambda session: record_event(
            session,
            user.actor(client),
            "reporter.identity_refused",
            record_type="report",
            record_ids=[reference],
            outcome="denied",
            purpose=reason,
        )
    )


def _client(request: Request, rt: Runtime) -> str:
    return client_key(request, rt.settings.trust_forwarded_for)


# --- the console page ---------------------------------------------------------------------


@router.get(PAGE)
def disclosure_form(
    reference: str, user: StaffUser = Depends(_custodian), p: Page = Depends(page)
) -> Response:
    found = _check_visible(p.rt, user, reference)
    path = PAGE.format(reference=found)
    if not fresh_second_factor(p.rt, pages_session_id(p)):
        return p.redirect(reauth_url(path))
    return _page(p, found, {}, "")


@router.post(PAGE)
def disclosure(
    reference: str, user: StaffUser = Depends(_custodian), p: Page = Depends(page)
) -> Response:
    found = _check_visible(p.rt, user, reference)
    form: FormData = p.request.state.form
    raw = form.get("justification")
    justification = " ".join(raw.split()) if isinstance(raw, str) else ""
    client = _client(p.request, p.rt)
    errors: dict[str, str] = {}
    if len(justification) < MIN_JUSTIFICATION:
        errors["justification"] = p._(
            "Enter why you need the reporter's details: at least 20 characters"
        )
    elif len(justification) > MAX_JUSTIFICATION:
        errors["justification"] = p._("The reason must be 2000 characters or fewer")
    if errors:
        return _page(p, found, errors, justification, status=400)
    if not fresh_second_factor(p.rt, pages_session_id(p)):
        _refused(p.rt, user, found, client, "reauthentication_required")
        errors["justification"] = p._(
            "You need to confirm it is you again before you can see the reporter's details"
        )
        return _page(p, found, errors, justification, status=403, reauth=True)
    identity = disclose_identity(p.rt, user, found, justification, client)
    return pages.render_staff(
        p, "access/disclosure.html", reference=found, disclosed=True, identity=identity
    )


def pages_session_id(p: Page) -> str:
    """The staff session's id (the hash of its cookie), as the guard found it."""
    found: signin.SignedIn = p.request.state.staff
    return found.session_id


def _page(
    p: Page,
    reference: str,
    errors: dict[str, str],
    justification: str,
    *,
    status: int = 200,
    reauth: bool = False,
) -> Response:
    return pages.render_staff(
        p,
        "access/disclosure.html",
        status=status,
        reference=reference,
        disclosed=False,
        justification=justification,
        errors=errors,
        error_list=[{"text": v, "href": f"#{k}"} for k, v in errors.items()],
        reauth=reauth_url(PAGE.format(reference=reference)) if reauth else None,
    )


# --- the API: refused, because a bearer token cannot re-authenticate ----------------------


@api_router.post(
    API,
    summary="Reporter identity (refused: use the console)",
    responses={403: {"description": "Re-authentication required: use the console"}},
)
def reporter_identity_api(
    reference: str,
    request: Request,
    user: StaffUser = Depends(require(DISCLOSE)),
    rt: Runtime = Depends(runtime),
) -> Response:
    found = _check_visible(rt, user, reference)
    _refused(rt, user, found, _client(request, rt), "reauthentication_required")
    raise Problem(
        403,
        said("Forbidden"),
        said("re-authentication required: use the console to see a reporter's identity"),
    )
