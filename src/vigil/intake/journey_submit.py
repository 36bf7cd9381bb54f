"""Check your answers, send, and the confirmation with the reference and follow-up code.

Sending goes through the same ``submit_report`` as the API (channel ``web``) with an
idempotency key made from the journey, so a double click or a retry never makes two
reports. Bot-like submissions are turned away here (see ``journey_guard``) and never stored.
After a report is accepted the session is deleted, so the answers do not outlive the report.
The same form sent again after that (the confirmation reloaded, or a retry after the answer
was lost) is recognised by its CSRF token and answered with the same confirmation, never a
second report, and never a page saying nothing was sent (see ``journey_guard``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import anyio
import structlog
from fastapi import Depends
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.audit.services import PUBLIC
from vigil.intake import journey_files as files
from vigil.intake import services
from vigil.intake.journey import (
    KINDS,
    N_,
    ONLINE,
    PLATFORMS,
    REPORT,
    ROUTES,
    Route,
    describe_date,
    idempotency_key,
    journey,
    missing_essentials,
    to_report,
    wants_contact,
)
from vigil.intake.journey_forms import FormErrors
from vigil.intake.journey_guard import (
    HONEYPOT,
    note_suspect,
    remember_sent,
    sent_before,
    submit_once,
    suspect_reason,
)
from vigil.intake.journey_web import open_journey, tr
from vigil.intake.schemas import ReportAccepted
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.templating import (
    LANGUAGES,
    SENDING_PATHS,
    Page,
    gettext_for,
    on_expired_form,
    page,
    page_router,
)

router = page_router()
_view = Depends(public(Permission.public_pages_view))
# where to change each part of the API's document, per route
_FIELD_STEPS = {
    "report": {"kind": "what", "description": "what", "online": "online", "reporter": "about-you"},
    "online": {"description": "shows", "online": "links", "reporter": "about-you"},
}

log = structlog.get_logger("vigil.intake.web")


def _lines(*lines: str | None) -> Markup:
    kept = [escape(line) for line in lines if line]
    return Markup("<br>").join(kept)


def _row(p: Page, route: Route, key: str, value: Markup | str, step: str) -> dict[str, Any]:
    return {
        "key": {"text": key},
        "value": {"html": value if value else escape(p._("Not given"))},
        "actions": {
            "items": [
                {
                    "href": route.url(step, to_check=True),
                    "text": p._("Change"),
                    "visuallyHiddenText": key,
                }
            ]
        },
    }


def _when_text(p: Page, data: dict[str, Any]) -> Markup:
    answer = data.get("when") or {}
    on_date = data.get("when-date") or {}
    choice = answer.get("choice")
    said = {"now": p._("It is happening now"), "unsure": p._("Not sure")}.get(str(choice))
    if choice == "date" and on_date.get("day"):
        said = describe_date(tr(p), on_date)
    return _lines(said, answer.get("description"))


def _about_text(p: Page, data: dict[str, Any]) -> Markup:
    if not wants_contact(data):
        return _lines(p._("You are staying anonymous"))
    contact = data.get("contact") or {}
    return _lines(*(contact.get(k) for k in ("name", "phone", "email", "contact_preference")))


def _platform_text(p: Page, answer: dict[str, Any]) -> Markup:
    chosen = answer.get("platform")
    return _lines(p._(PLATFORMS[chosen][0]) if chosen in PLATFORMS else "", answer.get("name"))


def _links_text(data: dict[str, Any], with_where: bool) -> Markup:
    items = (data.get("links") or {}).get("items", [])
    return _lines(
        *(
            f"{item['url']} ({item['where_seen']})"
            if with_where and item.get("where_seen")
            else item["url"]
            for item in items
        )
    )


def _numbered(p: Page, label: str, items: list[dict[str, Any]], fields: tuple[str, ...]) -> Markup:
    return _lines(
        *(
            tr(p)(label, n=n, details=", ".join(str(item[f]) for f in fields if item.get(f)))
            for n, item in enumerate(items, start=1)
        )
    )


def sections(p: Page, route: Route, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The check-your-answers summary lists, each row with a change link."""
    _ = p._
    about = {
        "title": _("About you"),
        "rows": [
            _row(
                p,
                route,
                _("Contact details"),
                _about_text(p, data),
                "about-you",
            )
        ],
    }
    if route is ONLINE:
        return [
            {
                "title": _("The material"),
                "rows": [
                    _row(p, route, _("Web addresses"), _links_text(data, False), "links"),
                    _row(
                        p,
                        route,
                        _("Where you saw it"),
                        _platform_text(p, data.get("platform") or {}),
                        "platform",
                    ),
                    _row(
                        p,
                        route,
                        _("What it shows"),
                        _lines((data.get("shows") or {}).get("description")),
                        "shows",
                    ),
                ],
            },
            about,
        ]
    what = data.get("what") or {}
    kind = what.get("kind")
    where = data.get("where") or {}
    listed = [
        f"{r.get('filename') or _('Unnamed file')} ({files.file_size(int(r['size']))})"
        for r in data.get("files", [])
    ]
    return [
        {
            "title": _("What happened"),
            "rows": [
                _row(
                    p,
                    route,
                    _("What it is about"),
                    _lines(_(KINDS[kind][0]) if kind in KINDS else ""),
                    "what",
                ),
                _row(p, route, _("Description"), _lines(what.get("description")), "what"),
            ],
        },
        {
            "title": _("When and where"),
            "rows": [
                _row(p, route, _("When"), _when_text(p, data), "when"),
                _row(
                    p,
                    route,
                    _("Where"),
                    _lines(where.get("address"), where.get("postcode"), where.get("description")),
                    "where",
                ),
            ],
        },
        {
            "title": _("People and vehicles"),
            "rows": [
                _row(
                    p,
                    route,
                    _("People"),
                    _numbered(
                        p,
                        N_("Person %(n)s: %(details)s"),
                        data.get("people", []),
                        ("name", "age", "appearance", "clothing", "behaviour"),
                    ),
                    "people",
                ),
                _row(
                    p,
                    route,
                    _("Vehicles"),
                    _numbered(
                        p,
                        N_("Vehicle %(n)s: %(details)s"),
                        data.get("vehicles", []),
                        ("registration", "colour", "make", "model"),
                    ),
                    "vehicles",
                ),
            ],
        },
        {
            "title": _("Online material and files"),
            "rows": [
                _row(p, route, _("Web addresses"), _links_text(data, True), "online"),
                _row(p, route, _("Files"), _lines(*listed), "files"),
            ],
        },
        about,
    ]


def _show_check(
    p: Page, route: Route, data: dict[str, Any], form_errors: FormErrors | None = None
) -> Response:
    form_errors = form_errors or FormErrors()
    return p.render(
        "intake/check.html",
        status=400 if form_errors else 200,
        route=route,
        sections=sections(p, route, data),
        errors=form_errors.summary,
        back=route.url(route.steps[-2]),
        action=route.url("check"),
        honeypot=HONEYPOT,
    )


def _too_many(p: Page, route: Route, wait: float) -> Response:
    response = p.render("intake/too_many.html", status=429, route=route)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _register(route: Route) -> None:
    path = route.url("check")

    def check_page(p: Page = Depends(page)) -> Response:
        data = open_journey(p, route)
        if isinstance(data, Response):
            return data
        missing = missing_essentials(route, data)
        if missing:
            return p.redirect(route.url(missing, to_check=True))
        return _show_check(p, route, data)

    async def send(p: Page = Depends(page)) -> Response:
        if journey(p, route) is None:  # sent already, from this browser?
            again = await _sent_again(p, route)
            if again is not None:
                return again
        data = open_journey(p, route)
        if isinstance(data, Response):
            return data
        return await _send(p, route, data)

    async def refused(p: Page) -> Response | None:
        return await _sent_again(p, route)

    router.add_api_route(path, check_page, methods=["GET"], dependencies=[_view])
    router.add_api_route(path, send, methods=["POST"], dependencies=[_view])
    on_expired_form(path, refused)  # the session went with the report it held
    SENDING_PATHS.add(path)


async def _sent_again(p: Page, route: Route) -> Response | None:
    """The same form sent again after its report was accepted: the same confirmation while
    the answer is remembered, then a page giving the reference; None if nothing is known."""
    posted = p.request.state.form.get("csrf_token")
    sent = await anyio.to_thread.run_sync(sent_before, p.rt, route.name, posted)
    if sent is None:
        return None
    if sent.lang != p.lang and sent.lang in LANGUAGES:
        p.lang, p._ = sent.lang, gettext_for(sent.lang)  # as it was sent, if the session has gone
    if p.session.expired:
        p.session.deleted = True  # forget the stale cookie of the session the report ended
    if sent.accepted is None:
        return await anyio.to_thread.run_sync(
            partial(p.render, "errors/form_expired.html", status=400, sent_reference=sent.reference)
        )
    return await anyio.to_thread.run_sync(_confirm, p, route, sent.accepted)


async def _send(p: Page, route: Route, data: dict[str, Any]) -> Response:
    """Turn bots away, apply the per-client limit, then submit once and confirm."""
    rt = p.rt
    missing = missing_essentials(route, data)
    if missing:
        return p.redirect(route.url(missing, to_check=True))
    suspect = suspect_reason(rt, data, p.request.state.form.get(HONEYPOT))
    if suspect is not None:
        wait = note_suspect(rt, suspect)
        if wait is not None:
            return _too_many(p, route, wait)
        return p.render("intake/not_sent.html", route=route)
    wait = rt.public_limiter.hit(client_key(p.request, rt.settings.trust_forwarded_for))
    if wait is not None:
        return _too_many(p, route, wait)
    form_errors = FormErrors()
    try:
        report = to_report(route, data)
    except ValidationError as exc:
        place = str(exc.errors()[0]["loc"][0]) if exc.errors() else ""
        step = _FIELD_STEPS[route.name].get(place, place if place in route.steps else "check")
        form_errors.add(
            "answers",
            p._("Some of your answers need to be changed before you can send your report."),
            href=route.url(step, to_check=True),
        )
        return _show_check(p, route, data, form_errors)
    staged, gone = files.staged_files(rt, data.get("files", []))
    if gone:
        form_errors.add(
            "files",
            p._("Some of your files are no longer available. Remove them and add them again."),
            href=REPORT.url("files", to_check=True),
        )
        return _show_check(p, route, data, form_errors)
    key = idempotency_key(route, data)

    async def submit() -> ReportAccepted:
        return await services.submit_report(
            rt, PUBLIC, report, staged, channel="web", idempotency_key=key
        )

    try:
        accepted = await submit_once(key, submit)
    except Problem:
        form_errors.add(
            "send",
            p._("We could not send your report. Check your answers and try again."),
            href="#main-content",
        )
        return _show_check(p, route, data, form_errors)
    try:  # the report is stored: a note that cannot be kept must not hide its confirmation
        await anyio.to_thread.run_sync(
            remember_sent, rt, route.name, p.session.csrf_token, p.lang, accepted, key
        )
    except SQLAlchemyError as exc:
        log.warning("web.sent_note_not_kept", error=type(exc).__name__)
    if any(journey(p, other) for other in ROUTES.values() if other is not route):
        p.session.pop(route.name)  # another report is still in progress in this browser
    else:
        p.session.deleted = True
    return await anyio.to_thread.run_sync(_confirm, p, route, accepted)


def _confirm(p: Page, route: Route, accepted: ReportAccepted) -> Response:
    """The confirmation. When the session was deleted, a chosen language lives on in a new,
    otherwise empty session (``Page.finish``): the answers are gone, the site stays in Welsh."""
    return p.render(
        "intake/confirmation.html",
        route=route,
        reference=accepted.reference,
        code=accepted.followup_code,
    )


_register(REPORT)
_register(ONLINE)
