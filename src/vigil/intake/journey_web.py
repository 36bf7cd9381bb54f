"""What every page of the public journey does the same way: find the journey in the session
(or explain that it has expired), and show a question with its errors and answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from vigil.intake.journey import Route, back_url, journey, returning_to_check, start_journey
from vigil.intake.journey_forms import FormErrors
from vigil.web.templating import Page, render_expired


class FormValues(dict[str, Any]):
    """What the form fields show: a missing or empty answer is an empty string, never None
    (GOV.UK's textarea macro would print "None")."""

    def get(self, key: str, default: Any = "") -> Any:
        value = super().get(key)
        return default if value is None else value


def tr(p: Page) -> Callable[..., str]:
    """The page's gettext, which also fills ``%(name)s`` placeholders from keywords."""
    return p._


def expired(p: Page) -> Response:
    """The answers are already gone; say so plainly and forget the stale cookie."""
    return render_expired(p)


def open_journey(p: Page, route: Route, *, create: bool = False) -> dict[str, Any] | Response:
    """The journey in progress, a new one on a route's first page, or where to go instead."""
    if p.session.expired:
        return expired(p)
    data = journey(p, route)
    if data is not None:
        return data
    if create:
        return start_journey(p, route)
    return p.redirect(route.start)


def form_action(p: Page) -> str:
    return p.request.url.path + ("?return=check" if returning_to_check(p) else "")


def counter_texts(p: Page) -> dict[str, Any]:
    """GOV.UK character count messages in the visitor's language."""
    _ = p._
    return {
        "description": _("You can enter up to %{count} characters"),
        "under": {
            "one": _("You have %{count} character remaining"),
            "other": _("You have %{count} characters remaining"),
        },
        "at": _("You have 0 characters remaining"),
        "over": {
            "one": _("You have %{count} character too many"),
            "other": _("You have %{count} characters too many"),
        },
    }


def render_question(
    p: Page,
    template: str,
    route: Route,
    step: str,
    *,
    values: dict[str, Any],
    form_errors: FormErrors | None = None,
    flags: set[str] | None = None,
    back: str | None = None,
    **context: Any,
) -> Response:
    """A question page; 400 when it is shown again because of errors."""
    form_errors = form_errors or FormErrors()
    return p.render(
        template,
        status=400 if form_errors else 200,
        route=route,
        step=step,
        values=FormValues(values),
        form_errors=form_errors,
        errors=form_errors.summary,
        flags=flags or set(),
        back=back or back_url(p, route, step),
        action=form_action(p),
        counter=counter_texts(p),
        **context,
    )
