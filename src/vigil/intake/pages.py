"""The public website: report suspicious activity, report online material, follow up.

One question per page, GOV.UK patterns, plain HTML forms that work without JavaScript.
Answers are kept in the server-side session as the person goes (see ``journey``); a page
with an error is shown again with what was typed. People and vehicles (``journey_lists``)
and checking and sending (``journey_submit``) have modules of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.intake import journey_files as files
from vigil.intake.journey import (
    KINDS,
    ONLINE,
    PLATFORMS,
    REPORT,
    Route,
    next_url,
    returning_to_check,
    save,
)
from vigil.intake.journey_forms import (
    FormErrors,
    Parsed,
    parse_about,
    parse_contact,
    parse_links,
    parse_platform,
    parse_shows,
    parse_what,
    parse_when,
    parse_when_date,
    parse_where,
    whole_number,
)
from vigil.intake.journey_lists import router as lists_router
from vigil.intake.journey_submit import router as submit_router
from vigil.intake.journey_web import expired, form_action, open_journey, render_question, tr
from vigil.intake.thread_pages import router as thread_router
from vigil.settings import Settings
from vigil.web.templating import Page, page, page_router

router = page_router()
_view = Depends(public(Permission.public_pages_view))
Parse = Callable[[Any, Callable[..., str], Settings], Parsed]


@router.get("/", dependencies=[_view])
def start(p: Page = Depends(page)) -> Response:
    if p.session.expired:
        return expired(p)
    return p.render("intake/start.html")


@router.get("/online", dependencies=[_view])
def online_start(p: Page = Depends(page)) -> Response:
    if p.session.expired:
        return expired(p)
    return p.render("intake/online_start.html")


# --- one-form question pages ---------------------------------------------------------------


def _strings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if isinstance(v, str)}


def _when_values(answer: dict[str, Any]) -> dict[str, Any]:
    return {"when": answer.get("choice", ""), "description": answer.get("description", "")}


def _date_values(answer: dict[str, Any]) -> dict[str, Any]:
    values = {f"date-{part}": answer.get(part, "") for part in ("day", "month", "year")}
    return values | {"time": answer.get("time", "")}


def _wants_date(answer: dict[str, Any]) -> bool:
    return answer.get("choice") == "date"


def _wants_contact(answer: dict[str, Any]) -> bool:
    return answer.get("choice") == "contact"


def _never(answer: dict[str, Any]) -> bool:
    return False


def _kind_items(p: Page) -> dict[str, Any]:
    items = [
        {"value": value, "text": p._(label), "hint": {"text": p._(hint)}}
        for value, (label, hint) in KINDS.items()
    ]
    return {"kind_items": items}


def _platform_items(p: Page) -> dict[str, Any]:
    return {"platform_items": [(value, p._(label)) for value, (label, _) in PLATFORMS.items()]}


def _no_context(p: Page) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Step:
    """A question page whose form is read by one ``parse`` function into one answer.

    A follow-on page (``parent`` set) is reached only through its parent's answer
    (``wants_follow_on``), goes back to the parent, and goes on to whatever follows the
    parent. An answer that no longer needs the follow-on page drops what was given there.
    """

    route: Route
    name: str
    template: str
    parse: Parse
    first: bool = False
    to_values: Callable[[dict[str, Any]], dict[str, Any]] = _strings
    context: Callable[[Page], dict[str, Any]] = _no_context
    follow_on: str | None = None
    wants_follow_on: Callable[[dict[str, Any]], bool] = _never
    parent: str | None = None

    def back(self, p: Page) -> str | None:
        if self.parent is None:
            return None
        return self.route.url(self.parent, to_check=returning_to_check(p))

    def show(self, p: Page, data: dict[str, Any]) -> Response:
        answer = data.get(self.name) or {}
        return render_question(
            p,
            self.template,
            self.route,
            self.name,
            values=self.to_values(answer),
            back=self.back(p),
            **self.context(p),
        )

    def take(self, p: Page, data: dict[str, Any]) -> Response:
        parsed = self.parse(p.request.state.form, p._, p.rt.settings)
        if parsed.errors:
            return render_question(
                p,
                self.template,
                self.route,
                self.name,
                values=parsed.values,
                form_errors=parsed.errors,
                flags=parsed.flags,
                back=self.back(p),
                **self.context(p),
            )
        data[self.name] = parsed.answer
        if self.follow_on and self.wants_follow_on(parsed.answer):
            save(p, self.route, data)
            return p.redirect(self.route.url(self.follow_on, to_check=returning_to_check(p)))
        if self.follow_on:
            data.pop(self.follow_on, None)
        save(p, self.route, data)
        return p.redirect(next_url(p, self.route, self.parent or self.name))


STEPS = (
    Step(REPORT, "what", "intake/what.html", parse_what, first=True, context=_kind_items),
    Step(
        REPORT,
        "when",
        "intake/when.html",
        parse_when,
        to_values=_when_values,
        follow_on="when-date",
        wants_follow_on=_wants_date,
    ),
    Step(
        REPORT,
        "when-date",
        "intake/when_date.html",
        parse_when_date,
        to_values=_date_values,
        parent="when",
    ),
    Step(REPORT, "where", "intake/where.html", parse_where),
    Step(ONLINE, "platform", "intake/platform.html", parse_platform, context=_platform_items),
    Step(ONLINE, "shows", "intake/shows.html", parse_shows),
    *(
        step
        for route in (REPORT, ONLINE)
        for step in (
            Step(
                route,
                "about-you",
                "intake/about_you.html",
                parse_about,
                follow_on="contact",
                wants_follow_on=_wants_contact,
            ),
            Step(route, "contact", "intake/contact.html", parse_contact, parent="about-you"),
        )
    ),
)


def _register(step: Step) -> None:
    def show(p: Page = Depends(page)) -> Response:
        data = open_journey(p, step.route, create=step.first)
        return data if isinstance(data, Response) else step.show(p, data)

    def take(p: Page = Depends(page)) -> Response:
        data = open_journey(p, step.route, create=step.first)
        return data if isinstance(data, Response) else step.take(p, data)

    path = step.route.url(step.name)
    name = f"{step.route.name}-{step.name}"
    router.add_api_route(path, show, methods=["GET"], dependencies=[_view], name=name)
    router.add_api_route(path, take, methods=["POST"], dependencies=[_view], name=f"{name}-post")


for _step in STEPS:
    _register(_step)


# --- web addresses (both routes): rows of fields, "add another" without JavaScript ---------


def _link_page(route: Route) -> tuple[str, bool]:
    """(step name, is it the route's first page)"""
    return ("online", False) if route is REPORT else ("links", True)


def _show_links(p: Page, route: Route, data: dict[str, Any], rows_wanted: int = 0) -> Response:
    step, _ = _link_page(route)
    items = (data.get("links") or {}).get("items", [])
    rows = min(max(len(items), rows_wanted, 1), p.rt.settings.max_online)
    values: dict[str, Any] = {"rows": str(rows)}
    for n, item in enumerate(items, start=1):
        values[f"url-{n}"] = item["url"]
        values[f"where-{n}"] = item.get("where_seen") or ""
    return render_question(
        p, "intake/links.html", route, step, values=values, max_links=p.rt.settings.max_online
    )


def _take_links(p: Page, route: Route, data: dict[str, Any]) -> Response:
    step, _first = _link_page(route)
    _ = tr(p)
    form = p.request.state.form
    adding = form.get("action") == "add"
    parsed = parse_links(
        form,
        p._,
        p.rt.settings,
        with_where=route is REPORT,
        required=route is ONLINE and not adding,
    )
    rows = int(parsed.values["rows"])
    if adding and rows >= p.rt.settings.max_online and not parsed.errors:
        parsed.errors.add(
            "links",
            _("You can add up to %(n)s web addresses", n=p.rt.settings.max_online),
            anchor=f"url-{rows}",
        )
    if parsed.errors:
        return render_question(
            p,
            "intake/links.html",
            route,
            step,
            values=parsed.values,
            form_errors=parsed.errors,
            max_links=p.rt.settings.max_online,
        )
    data["links"] = parsed.answer
    save(p, route, data)
    if adding:
        more = len(parsed.answer["items"]) + 1
        back = "&return=check" if returning_to_check(p) else ""
        return p.redirect(f"{route.url(step)}?rows={more}{back}#url-{more}")
    return p.redirect(next_url(p, route, step))


def _register_links(route: Route) -> None:
    step, first = _link_page(route)

    def show(p: Page = Depends(page)) -> Response:
        data = open_journey(p, route, create=first)
        if isinstance(data, Response):
            return data
        wanted = p.request.query_params.get("rows", "")
        return _show_links(p, route, data, whole_number(wanted) or 0)

    def take(p: Page = Depends(page)) -> Response:
        data = open_journey(p, route, create=first)
        return data if isinstance(data, Response) else _take_links(p, route, data)

    path = route.url(step)
    name = f"{route.name}-{step}"
    router.add_api_route(path, show, methods=["GET"], dependencies=[_view], name=name)
    router.add_api_route(path, take, methods=["POST"], dependencies=[_view], name=f"{name}-post")


_register_links(REPORT)
_register_links(ONLINE)


# --- files ---------------------------------------------------------------------------------


def _show_files(p: Page, data: dict[str, Any], form_errors: FormErrors | None = None) -> Response:
    listed = [
        {**record, "size_text": files.file_size(int(record["size"]))}
        for record in data.get("files", [])
    ]
    return render_question(
        p,
        "intake/files.html",
        REPORT,
        "files",
        values={},
        form_errors=form_errors,
        files=listed,
        max_files=p.rt.settings.max_attachments,
        max_size=files.file_size(p.rt.settings.max_attachment_bytes),
        accept=files.ACCEPT,
    )


@router.get("/report/files", dependencies=[_view])
def files_page(p: Page = Depends(page)) -> Response:
    data = open_journey(p, REPORT)
    return data if isinstance(data, Response) else _show_files(p, data)


@router.post("/report/files", dependencies=[_view])
async def files_upload(p: Page = Depends(page)) -> Response:
    """Add files (staged and checked at once), remove one, or carry on."""
    data = open_journey(p, REPORT)
    if isinstance(data, Response):
        return data
    form = p.request.state.form
    records: list[dict[str, Any]] = data.setdefault("files", [])
    removing = form.get("remove")
    if isinstance(removing, str) and removing:
        for record in [r for r in records if r.get("staged") == removing]:
            files.discard(p.rt, record)
            records.remove(record)
    form_errors = await _add_files(p, records, files.chosen_uploads(form.getlist("files")))
    save(p, REPORT, data)
    if form_errors:
        return await anyio.to_thread.run_sync(_show_files, p, data, form_errors)
    carry_on = form.get("action") == "continue" and not removing
    target = next_url(p, REPORT, "files") if carry_on else form_action(p)
    return await anyio.to_thread.run_sync(p.redirect, target)


async def _add_files(p: Page, records: list[dict[str, Any]], uploads: list[Any]) -> FormErrors:
    _ = tr(p)
    form_errors = FormErrors()
    limit = p.rt.settings.max_attachments
    if len(records) + len(uploads) > limit:
        form_errors.add(
            "files",
            _(
                "You can add up to %(n)s files. Remove a file or choose fewer files.",
                n=limit,
            ),
        )
        return form_errors
    for upload in await files.stage_uploads(p.rt, uploads):
        name = upload.filename or _("Unnamed file")
        key = "files" if not form_errors else f"files-{len(form_errors.summary)}"
        if upload.too_large:
            size = files.file_size(p.rt.settings.max_attachment_bytes)
            form_errors.add(
                key,
                _(
                    "The file %(name)s is larger than %(size)s. Choose a smaller file.",
                    name=name,
                    size=size,
                ),
                anchor="files",
            )
        elif upload.rejected:
            reason = files.explain(p._, p.lang, upload.rejected)
            form_errors.add(
                key,
                _("The file %(name)s cannot be added. %(reason)s", name=name, reason=reason),
                anchor="files",
            )
        elif upload.record is not None:
            if any(r["sha256"] == upload.record["sha256"] for r in records):
                files.discard(p.rt, upload.record)  # the same file twice is kept once
            else:
                records.append(upload.record)
    return form_errors


router.include_router(lists_router)
router.include_router(submit_router)
router.include_router(thread_router)
