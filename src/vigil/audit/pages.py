"""Audit views of the staff console, for auditors: search the log by action, user, record
and time; the history of one record; and a button that verifies the hash chain now.

Handlers parse, call one function of :mod:`vigil.audit.services` (each of which records the
auditor's own look in the log) and render. Every page reads only the part of the log the
auditor may read (:func:`vigil.access.policy.audit_events`: their own organisation's events,
and for the receiving organisation's auditors also the public's and the system's), the same
part as the JSON search and the export. Verifying is a POST (it is an act that is itself
audited) and then a redirect to a page showing the verdict, kept in the visitor session
for that one showing (POST-redirect-GET: a refresh does not verify again).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends
from starlette.exceptions import HTTPException
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit import services
from vigil.audit.schemas import AuditFilter
from vigil.web.said import Gettext, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
LOG = "/console/audit"
HISTORY = "/console/audit/records/{record}"
VERIFY = "/console/audit/verify"
PAGE_SIZE = 50
VERDICT_KEY = "audit_verdict"
FIELDS = ("action", "user", "record", "since", "until")
_auditor = staff_session(Permission.audit_read)
# An event's outcome is a word of the log's small vocabulary: English shows it as the log
# holds it, a Welsh page looks it up. Actions, record types and actors are codes, shown as
# they are (an auditor searches by them); beside a user's number the tables show the user's
# e-mail address and the organisation's name, looked up as the page is read (each event's
# ``actor_email`` and ``actor_organisation``).
OUTCOMES = {
    "success": said("success"),
    "failure": said("failure"),
    "denied": said("denied"),
    "locked": said("locked"),
}


def history_href(record: str) -> str:
    return HISTORY.format(record=quote(record, safe=""))


def _day(text: str) -> datetime | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _criteria(p: Page, values: dict[str, str]) -> tuple[AuditFilter | None, dict[str, str]]:
    """The filter the form asks for, or the errors that stop it (in the page's language)."""
    errors: dict[str, str] = {}
    user_id = None
    if values["user"]:
        if values["user"].isascii() and values["user"].isdigit() and int(values["user"]) >= 1:
            user_id = int(values["user"])
        else:
            errors["user"] = p._("Enter the user's number, for example 12")
    since = _day(values["since"]) if values["since"] else None
    if values["since"] and since is None:
        errors["since"] = p._("Enter the start date as year-month-day, for example 2026-11-01")
    until = _day(values["until"]) if values["until"] else None
    if values["until"] and until is None:
        errors["until"] = p._("Enter the end date as year-month-day, for example 2026-11-30")
    if since and until and since > until:
        errors["until"] = p._("The end date must be the same as or after the start date")
    for name, most in (("action", 60), ("record", 100)):
        if len(values[name]) > most:
            errors[name] = p._("Enter at most %(num)s characters", num=most)
    if errors:
        return None, errors
    return (
        AuditFilter(
            user_id=user_id,
            action=values["action"] or None,
            record=values["record"] or None,
            since=since,
            until=until + timedelta(days=1) if until else None,  # the end day is included
        ),
        errors,
    )


def outcome_words(gettext: Gettext) -> dict[str, str]:
    """Each outcome as the page says it (the table looks an event's outcome up here)."""
    return {code: spoken(gettext, word) for code, word in OUTCOMES.items()}


def _cursor(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() else None


@router.get(LOG)
def audit_log(user: StaffUser = Depends(_auditor), p: Page = Depends(page)) -> Response:
    query = p.request.query_params
    values = {name: query.get(name, "").strip() for name in FIELDS}
    where, errors = _criteria(p, values)
    found = None
    next_href = None
    if where is not None:
        found = services.search_events(
            p.rt,
            user,
            where,
            after=_cursor(query.get("cursor")),
            limit=PAGE_SIZE,
            client=client_address(p.request),
        )
        if found.next_cursor is not None:
            given = {k: v for k, v in values.items() if v}
            next_href = LOG + "?" + urlencode({**given, "cursor": found.next_cursor})
    return render_staff(
        p,
        "audit/log.html",
        status=400 if errors else 200,
        values=values,
        errors=errors,
        error_list=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
        found=found,
        next_href=next_href,
        history_href=history_href,
        outcomes=outcome_words(p._),
    )


@router.get(HISTORY)
def record_history(
    record: str, user: StaffUser = Depends(_auditor), p: Page = Depends(page)
) -> Response:
    """Everything the auditor's part of the log holds about one record (a reference, an id
    like ``entity:5``), oldest first. A record that part has never named is "Page not found",
    like one the log has never named at all."""
    if not record.strip() or len(record) > 100:
        raise HTTPException(404)
    cursor = _cursor(p.request.query_params.get("cursor"))
    found = services.search_events(
        p.rt,
        user,
        AuditFilter(record=record),
        after=cursor,
        limit=PAGE_SIZE,
        client=client_address(p.request),
    )
    if not found.items and cursor is None:
        raise HTTPException(404)
    next_href = None
    if found.next_cursor is not None:
        next_href = history_href(record) + "?" + urlencode({"cursor": found.next_cursor})
    return render_staff(
        p,
        "audit/history.html",
        record=record,
        found=found,
        next_href=next_href,
        history_href=history_href,
        outcomes=outcome_words(p._),
    )


@router.get(VERIFY)
def verify_form(user: StaffUser = Depends(_auditor), p: Page = Depends(page)) -> Response:
    verdict: dict[str, Any] | None = p.session.data.get(VERDICT_KEY)
    if verdict is not None:
        p.session.pop(VERDICT_KEY)
    reason = spoken(p._, verdict["reason"]) if verdict and verdict.get("reason") else ""
    return render_staff(p, "audit/verify.html", verdict=verdict, reason=reason)


@router.post(VERIFY)
def verify(user: StaffUser = Depends(_auditor), p: Page = Depends(page)) -> Response:
    verdict = services.verify_chain(p.rt, user, client_address(p.request))
    p.session.set(VERDICT_KEY, verdict.model_dump(mode="json"))
    return p.redirect(VERIFY)
