"""What every case form of the console shares: reading fields, parsing them with the API's
own input models, and turning a service's problem into GOV.UK error messages in the page's
language (the problem's words and the field labels in front of them).

The console accepts exactly what the JSON API accepts (the same pydantic models and the same
service functions), so a page can never let through what the API would refuse. A service's
404 (no case, or one the reader may not see) becomes the console's "Page not found".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from vigil.web.problems import Problem, field_error, told, validation_problem
from vigil.web.said import Gettext, said, spoken

T = TypeVar("T")

# What each form's fields are called on the page, to start its error messages (said in the
# page's language by the helpers below).
LABELS: dict[str, str] = {
    "title": said("Title"),
    "summary": said("Summary"),
    "level": said("Management level"),
    "review_date": said("Review date"),
    "reports": said("Report references"),
    "entities": said("Entity ids"),
    "subjects": said("Subject references"),
    "lead": said("Lead officer"),
    "team": said("Team"),
    "classification": said("Classification"),
    "detail": said("Detail"),
    "due_date": said("Due date"),
    "organisation": said("Agency"),
    "state": said("State"),
    "status": said("Status"),
    "text": said("Note"),
    "held_on": said("Date of the meeting"),
    "attendees": said("Attendees"),
    "minutes": said("Minutes"),
    "decision": said("Decision"),
    "reason": said("Reason"),
    "purpose": said("Purpose"),
    "conditions_accepted": said("Handling conditions"),
}


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def lines(value: str) -> list[str]:
    """A textarea of one item per line (commas allowed too), blank lines dropped."""
    return [part.strip() for line in value.splitlines() for part in line.split(",") if part.strip()]


LINK_FIELDS = ("reports", "entities", "subjects")


def entity_ids(typed: list[str], message: str) -> list[int]:
    """Entity ids as numbers; anything else a 422 naming each line, as the API would."""
    bad = [
        field_error(f"#/entities/{i}", message)
        for i, t in enumerate(typed)
        if not (t.isdecimal() and len(t) <= 18)
    ]
    if bad:
        raise Problem(
            422, said("Invalid request"), said("Check the highlighted fields."), errors=bad
        )
    return [int(t) for t in typed]


def link_errors(
    problem: Problem,
    items: Mapping[str, list[str]],
    gettext: Gettext,
    *,
    everything: bool = True,
) -> dict[str, str]:
    """Each refused record named by what the person typed, all of a field's in one message.
    A record that does not exist and one the reader may not see read alike. Without
    ``everything``, errors about other fields are left to :func:`field_errors`. Said in the
    language of ``gettext`` (the page's)."""
    problem = told(problem, gettext)
    found: dict[str, list[str]] = {}
    for error in problem.errors:
        parts = error["pointer"].removeprefix("#").strip("/").split("/")
        if parts[0] not in LINK_FIELDS and not everything:
            continue
        name = parts[0] if parts[0] in LINK_FIELDS else LINK_FIELDS[0]
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdecimal() else None
        typed = items[name][index] if index is not None and index < len(items[name]) else None
        found.setdefault(name, []).append(
            f"{typed}: {error['detail']}" if typed else error["detail"]
        )
    if not found and everything:
        found[LINK_FIELDS[0]] = [problem.detail or problem.title]
    return {
        name: f"{spoken(gettext, LABELS[name])}: " + "; ".join(messages)
        for name, messages in found.items()
    }


def field_errors(
    problem: Problem,
    fields: tuple[str, ...],
    gettext: Gettext,
    labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A 422 problem's errors as {field: message}, one per field, in a person's words and in
    the language of ``gettext`` (the page's). Errors that name no field of the form go to its
    first field, so none is lost. ``labels`` names fields as this form labels them, where
    that differs from :data:`LABELS`."""
    problem = told(problem, gettext)
    named = {**LABELS, **(labels or {})}
    found: dict[str, str] = {}
    for error in problem.errors:
        parts = error["pointer"].removeprefix("#").strip("/").split("/")
        name = parts[0] if parts and parts[0] in fields else fields[0]
        detail = error["detail"]
        label = spoken(gettext, named.get(parts[0], "")) if parts[0] in fields else ""
        found.setdefault(
            name, f"{label}: {detail[:1].lower()}{detail[1:]}" if label else sentence(detail)
        )
    if not found:
        found[fields[0]] = sentence(problem.detail or problem.title)
    return found


def sentence(value: str) -> str:
    return value[:1].upper() + value[1:]


def parsed(model: type[BaseModel], data: Mapping[str, Any]) -> Any:
    """The form as the API's own input model; a 422 problem when it does not fit."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise validation_problem(exc) from None


def visible(call: Callable[[], T]) -> T:
    """Run a service call; its 404 (no case, or one the reader may not see) is the console's
    "Page not found" page rather than the API's problem document."""
    try:
        return call()
    except Problem as problem:
        if problem.status == 404:
            raise HTTPException(404) from None
        raise


def error_list(errors: Mapping[str, str], prefix: str = "") -> list[dict[str, str]]:
    return [{"text": message, "href": f"#{prefix}{name}"} for name, message in errors.items()]
