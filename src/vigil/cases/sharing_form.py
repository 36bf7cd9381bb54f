"""The share form of the console's sharing pages, read and answered the same way for a report
(:mod:`vigil.triage.sharing_pages`) and for a case (:mod:`vigil.cases.manage_pages`); the
page itself is the ``shares_and_form`` macro of ``cases/_sharing.html``.

The form names a partner organisation or a team of the record's own organisation (not both),
the purpose, and, for handling code C, that the recipients will follow its conditions. It is
parsed with the API's own input model and handed to the page's service verb, and the sharing
service's refusals are said on the fields they concern. The two refusals that name the kind
of record come from the page, each its own sentence (one msgid for "report", one for "case"),
so that every language keeps its word order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.datastructures import FormData

from vigil.cases.forms import error_list, field_errors, parsed, text
from vigil.cases.services import invalid
from vigil.web.problems import Problem
from vigil.web.said import said
from vigil.web.templating import Page

SHARE_FIELDS = ("organisation", "team", "purpose", "conditions_accepted")
SHARE_LABELS = {"organisation": said("Partner organisation")}  # as the form labels it
M = TypeVar("M", bound=BaseModel)


def share_from_form(
    p: Page,
    model: type[M],
    share: Callable[[M], object],
    *,
    choose: str,
    no_agreement: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """Share as the posted form asks, through ``share`` (the page's service verb, given the
    form as ``model``). Returns what was typed and the errors in the page's language, none
    when it is shared. ``choose`` is the error for a form naming no recipient and
    ``no_agreement`` the one for a partner no agreement in force covers the record for (the
    agreement ended since the page was shown, or a forged choice), each marked with ``said``.
    Any other refusal than a form's (a 404, say) is raised for the page to answer."""
    form: FormData = p.request.state.form
    values = {name: text(form, name) for name in SHARE_FIELDS}
    try:
        if not values["organisation"] and not values["team"]:
            unsaid = (
                [("purpose", said("at least 5 characters"))] if len(values["purpose"]) < 5 else []
            )
            raise invalid(("organisation", choose), *unsaid)  # every missing answer at once
        if values["organisation"] and values["team"]:
            raise invalid(
                ("team", said("choose a partner organisation or a team of yours, not both"))
            )
        data = {
            "organisation": values["organisation"] or None,  # none: the record's organisation
            "team": values["team"] or None,
            "purpose": values["purpose"],
            "conditions_accepted": values["conditions_accepted"] == "yes",
        }
        share(parsed(model, data))
    except Problem as problem:
        if problem.kind == "no-sharing-agreement":
            problem = invalid(("organisation", no_agreement))
        elif problem.kind == "handling-conditions":
            problem = invalid(
                ("conditions_accepted", said("confirm the recipients will follow them"))
            )
        if problem.status != 422:
            raise
        return values, field_errors(problem, SHARE_FIELDS, p._, SHARE_LABELS)
    return values, {}


def share_form(
    values: Mapping[str, str] | None, errors: Mapping[str, str] | None, partners: bool
) -> dict[str, Any]:
    """The form's part of the page's context: what was typed, and the errors with their
    summary. Where no partner is offered there is no organisation field to show its error
    on, so it is said on the team's."""
    errors = dict(errors or {})
    if "organisation" in errors and not partners:
        errors["team"] = errors.pop("organisation")
    return {"values": dict(values or {}), "errors": errors, "error_list": error_list(errors)}
