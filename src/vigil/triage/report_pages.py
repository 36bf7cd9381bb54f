"""The report page's working parts: correcting what the automation found, the files, and the
reporter thread, plus the form plumbing every report-page form shares.

Each form is an ordinary POST with the CSRF token, answered by a redirect back to the report
(POST-redirect-GET); a refused form carries its errors and what was typed through the session
to the next GET, where they are summarised GOV.UK-style. Every handler calls one existing
service function, so the access policy, the permission and the audit event are the API's. A
report the user may not see (and an item or file not on it) answers the same "not found" page
as one that does not exist, on every route here. Files are streamed with headers that stop a
browser from sniffing or caching them, and an original (with its metadata) needs a
justification that becomes the audit event's purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.from_thread
from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access import disclosure
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake import attachment_access, thread
from vigil.intake.attachment_api import file_response
from vigil.intake.thread import MessageIn
from vigil.triage import services
from vigil.triage.categories import load_rules
from vigil.triage.items import ItemKind
from vigil.triage.report_view import ReportView, factor_rows, history_rows
from vigil.triage.schemas import CategoryCorrectionIn, ItemAddIn, ItemCorrectionIn, ItemOut
from vigil.web.problems import Problem, field_error, told, validation_problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime
from vigil.web.said import Gettext, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
REPORT = "/console/reports/{reference}"
ATTACHMENT = REPORT + "/attachments/{attachment_id}"
NEW_CASE = "/console/cases/new?report={reference}"  # the case form, pre-filled with this report
FORM_ERRORS = "console_form_errors"  # the session key carrying a refused form to the next GET

_reader = staff_session(Permission.report_read)
_decider = staff_session(Permission.triage_decide)
_asker = staff_session(Permission.report_message_send)
_downloader = staff_session(Permission.attachment_original_download)


def client(request: Request, rt: Runtime) -> str:
    return client_key(request, rt.settings.trust_forwarded_for)


def report_url(reference: str) -> str:
    return REPORT.format(reference=reference)


def not_found(p: Page) -> Response:
    return render_staff(p, "triage/not_found.html", status=404)


# --- the text with its extracted items marked ---------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of the report's text; ``item`` is set when the run is an extracted item, and
    ``also`` holds the other items overlapping it (marked together, labelled together)."""

    text: str
    item: ItemOut | None = None
    also: tuple[ItemOut, ...] = ()

    @property
    def items(self) -> tuple[ItemOut, ...]:
        return ((self.item,) if self.item else ()) + self.also


def highlighted(description: str, items: list[ItemOut]) -> list[Segment]:
    """Split the text into plain runs and marked runs, so the template can mark them and
    escape everything. Only active items in the report's own text count; items whose spans
    overlap are merged into one marked run carrying all of them, so no character is lost,
    doubled or marked twice."""
    spans = sorted(
        (
            i
            for i in items
            if i.status == "active"
            and i.followup_id is None
            and 0 <= i.start < i.end <= len(description)
        ),
        key=lambda i: (i.start, -i.end),
    )
    out: list[Segment] = []
    at = 0
    index = 0
    while index < len(spans):
        first, end, also = spans[index], spans[index].end, []
        index += 1
        while index < len(spans) and spans[index].start < end:
            also.append(spans[index])
            end = max(end, spans[index].end)
            index += 1
        if first.start > at:
            out.append(Segment(description[at : first.start]))
        out.append(Segment(description[first.start : end], first, tuple(also)))
        at = end
    if at < len(description):
        out.append(Segment(description[at:]))
    return out


@dataclass(frozen=True)
class ItemRow:
    """One row of the extracted-items table: the item in force, and what the automation
    first said when a person has corrected it (kept, shown as "was …")."""

    item: ItemOut
    was: ItemOut | None


def item_rows(items: list[ItemOut]) -> list[ItemRow]:
    by_id = {i.id: i for i in items}
    replaced = {i.corrects_item_id for i in items if i.corrects_item_id is not None}
    rows = []
    for item in items:
        if item.id in replaced:
            continue  # shown as the "was" of its replacement
        first, seen = item, {item.id}
        while first.corrects_item_id in by_id and first.corrects_item_id not in seen:
            first = by_id[first.corrects_item_id]
            seen.add(first.id)
        rows.append(ItemRow(item, first if first is not item else None))
    return rows


# --- what the report page shows beyond the report itself ----------------------------------


def page_context(user: StaffUser, view: ReportView) -> dict[str, Any]:
    """The thread, the files, the item rows and what this user may do."""
    report = view.report
    rules = load_rules().categories
    return {
        "show_thread": view.show_thread,
        "messages": view.messages,
        "authors": view.authors,
        "followup_possible": view.followup_possible,
        "thread_files": {a.id for m in view.messages for a in m.attachments},
        "item_rows": item_rows(report.triage.entities if report.triage else []),
        # the history (oldest first) and the priority factors in words
        "history_rows": history_rows(report.triage.history) if report.triage else [],
        "factor_rows": factor_rows(report.triage.factors) if report.triage else [],
        "all_categories": [(c.code, c.label) for c in rules],
        "item_kinds": [k.value for k in ItemKind],
        # a partner it was shared with reads the report; its owner triages it and writes
        "may_ask": Permission.report_message_send in user.permissions and view.owned,
        "may_download": Permission.attachment_original_download in user.permissions,
        "disclose_url": disclosure.PAGE.format(reference=report.reference)
        if Permission.reporter_identity_disclose in user.permissions
        else None,
        "new_case_url": NEW_CASE.format(reference=report.reference)
        if Permission.cases_write in user.permissions
        else None,
        "may_manage_sharing": view.owned,
        "marking": view.marking,
        "question_max": thread.QUESTION_MAX_CHARS,
        "justification_min": attachment_access.MIN_JUSTIFICATION,
    }


# --- the form plumbing --------------------------------------------------------------------


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# The names of the fields these forms send, as the error summary puts them before a message
# ("Reason: ..."); marked so that a Welsh page names them in Welsh.
LABELS = {
    "action": said("Action"),
    "add": said("Add"),
    "remove": said("Remove"),
    "kind": said("Kind"),
    "value": said("Value"),
    "text": said("Text"),
    "reason": said("Reason"),
    "source": said("Source"),
    "intelligence": said("Intelligence"),
    "handling": said("Handling"),
    "conditions": said("Conditions"),
    "scheme": said("Scheme"),
    "outcome": said("Outcome"),
    "detail": said("Detail"),
    "whole_cluster": said("Whole cluster"),
    "justification": said("Justification"),
}


def field_errors(problem: Problem, fields: dict[str, str], _: Gettext) -> dict[str, str]:
    """The service's per-field problems as {input id: message}, for the page's error summary,
    in the language of ``_`` (the page's); a problem with the form as a whole is shown at
    ``fields[""]`` or else at its reason."""
    problem = told(problem, _)
    found: dict[str, str] = {}
    for error in problem.errors:
        name = error["pointer"].lstrip("#/").split("/")[0]
        field = fields.get(name, fields.get("", fields["reason"]))
        label = spoken(_, LABELS.get(name) or name.replace("_", " ").capitalize())
        detail = error["detail"]
        found.setdefault(field, f"{label}: {detail}" if label else detail[:1].upper() + detail[1:])
    if not found:
        found[fields.get("", fields["reason"])] = problem.detail or problem.title
    return found


def refuse(
    p: Page, reference: str, form: str, fields: dict[str, str], problem: Problem
) -> Response:
    """Carry a refused form's errors (and what was typed) to the report page's next GET, in
    the page's language (the session keeps plain text)."""
    values = {k: v for k, v in p.request.state.form.items() if k != "csrf_token"}
    p.session.set(
        FORM_ERRORS,
        {
            "reference": reference,
            "form": form,
            "errors": field_errors(problem, fields, p._),
            "values": {k: v for k, v in values.items() if isinstance(v, str)},
        },
    )
    return p.redirect(report_url(reference) + "#errors")


def decision(
    p: Page,
    reference: str,
    form: str,
    fields: dict[str, str],
    act: Callable[[], object],
    anchor: str | None = None,
) -> Response:
    """Run one change; success and refusal both redirect back to the report page, a
    refusal carrying its errors through the session."""
    try:
        act()
    except ValidationError as exc:
        problem = validation_problem(exc)
    except Problem as problem_raised:
        if problem_raised.status == 404:
            return not_found(p)
        problem = problem_raised
    else:
        return p.redirect(report_url(reference) + f"#{anchor or form}")
    return refuse(p, reference, form, fields, problem)


def _invalid(pointer: str, detail: str) -> Problem:
    return Problem(
        422,
        said("Invalid request"),
        said("Check the form."),
        errors=[field_error(pointer, detail)],
        kind="invalid-request",
    )


# --- correcting the automation ------------------------------------------------------------


@router.post(REPORT + "/items/{item_id}")
def correct_item(
    reference: str, item_id: int, user: StaffUser = Depends(_decider), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    prefix = f"item-{item_id}"
    fields = {name: f"{prefix}-{name}" for name in ("action", "kind", "value", "reason")}
    fields[""] = f"{prefix}-value"  # "a replacement needs the corrected value"

    def act() -> None:
        action = text(form, "action")
        if action not in {"reject", "replace"}:
            raise _invalid("#/action", said("choose whether to reject the item or correct it"))
        replacing = action == "replace"
        body = ItemCorrectionIn.model_validate(
            {
                "action": action,
                "kind": (text(form, "kind") or None) if replacing else None,
                "value": (text(form, "value") or None) if replacing else None,
                "reason": text(form, "reason"),
            }
        )
        services.correct_item(p.rt, user, reference, item_id, body, client(p.request, p.rt))

    return decision(p, reference, prefix, fields, act, anchor="items")


@router.post(REPORT + "/items")
def add_item(
    reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    fields = {name: f"new-item-{name}" for name in ("kind", "value", "text", "reason")}
    fields[""] = "new-item-value"

    def act() -> None:
        body = ItemAddIn.model_validate(
            {
                "kind": text(form, "kind"),
                "value": text(form, "value"),
                "text": text(form, "text") or None,
                "reason": text(form, "reason"),
            }
        )
        services.add_item(p.rt, user, reference, body, client(p.request, p.rt))

    return decision(p, reference, "new-item", fields, act, anchor="items")


@router.post(REPORT + "/categories")
def correct_categories(
    reference: str, user: StaffUser = Depends(_decider), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    fields = {
        "action": "categories-action",
        "add": "categories-category",
        "remove": "categories-category",
        "reason": "categories-reason",
        "": "categories-action",
    }

    def act() -> None:
        action, code = text(form, "action"), text(form, "category")
        if action not in {"add", "remove"}:
            raise _invalid("#/action", said("choose whether to add or remove the category"))
        if not code:
            raise _invalid(f"#/{action}", said("choose a category"))
        body = CategoryCorrectionIn.model_validate({action: [code], "reason": text(form, "reason")})
        services.correct_categories(p.rt, user, reference, body, client(p.request, p.rt))

    return decision(p, reference, "categories", fields, act)


# --- the reporter thread ------------------------------------------------------------------


@router.post(REPORT + "/questions")
def ask_question(
    reference: str, user: StaffUser = Depends(_asker), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    fields = {"text": "question-text", "reason": "question-text"}

    def act() -> None:
        asked = text(form, "text")
        if len(asked) > thread.QUESTION_MAX_CHARS:  # pydantic's words for this are unclear
            raise _invalid(
                "#/text",
                said("must be %(limit)s characters or fewer", limit=thread.QUESTION_MAX_CHARS),
            )
        message = MessageIn.model_validate({"text": asked})
        ask = partial(
            thread.ask_question,
            p.rt,
            user,
            reference,
            message.text,
            client=client(p.request, p.rt),
        )
        anyio.from_thread.run(ask)  # the service is async; this handler runs in a thread

    return decision(p, reference, "thread", fields, act)


# --- the files ----------------------------------------------------------------------------


@router.get(ATTACHMENT + "/display")
def display_copy(
    reference: str, attachment_id: int, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    try:
        opened = attachment_access.open_display_copy(
            p.rt, user, reference, attachment_id, client(p.request, p.rt)
        )
    except Problem as problem:
        if problem.status == 404:
            return not_found(p)
        raise
    return file_response(opened)


@router.post(ATTACHMENT + "/original")
def original(
    reference: str,
    attachment_id: int,
    user: StaffUser = Depends(_downloader),
    p: Page = Depends(page),
) -> Response:
    """The original as a download; a missing or short justification comes back as an error."""
    form: FormData = p.request.state.form
    prefix = f"original-{attachment_id}"
    fields = {"justification": f"{prefix}-justification", "reason": f"{prefix}-justification"}
    try:
        opened = attachment_access.open_original(
            p.rt,
            user,
            reference,
            attachment_id,
            text(form, "justification"),
            client(p.request, p.rt),
        )
    except Problem as problem:
        if problem.status == 404:
            return not_found(p)
        if problem.status != 422:
            raise
        return refuse(p, reference, prefix, fields, problem)
    return file_response(opened)
