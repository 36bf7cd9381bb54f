"""People and vehicles: the GOV.UK "add another" pattern, one page per person or vehicle.

The list page shows what has been added, with change and remove links, and asks whether to
add another; removing asks for confirmation on a page of its own, so nothing is changed by
following a link. Counts are capped by the same settings the API enforces.

Each person or vehicle has a stable id, posted back by its add, change and remove forms, so
a form sent twice (a double click, a retry) adds, changes or removes that one item once,
and a page left open while the list changed never changes the wrong one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.intake.journey import N_, REPORT, next_url, returning_to_check, save
from vigil.intake.journey_forms import (
    FormErrors,
    Parsed,
    parse_person,
    parse_vehicle,
    parse_yes_no,
    whole_number,
)
from vigil.intake.journey_web import open_journey, render_question, tr
from vigil.settings import Settings
from vigil.web.templating import Page, page, page_router

router = page_router()
_view = Depends(public(Permission.public_pages_view))
ITEM_FIELD = "item"  # the form field that carries an item's id


@dataclass(frozen=True)
class Collection:
    """People or vehicles: where they are kept, how one is read, and what the pages say."""

    key: str
    item_template: str
    parse: Callable[[Any, Callable[..., str], Settings], Parsed]
    limit: Callable[[Settings], int]
    summary: Callable[[Page, dict[str, Any]], str]
    texts: dict[str, str]

    def url(self, p: Page, suffix: str = "") -> str:
        back = "?return=check" if returning_to_check(p) else ""
        return f"{REPORT.prefix}/{self.key}{suffix}{back}"


def _person_summary(p: Page, person: dict[str, Any]) -> str:
    parts = [person.get(k) or "" for k in ("name", "age", "appearance", "clothing", "behaviour")]
    text = ", ".join(part for part in parts if part) or p._("No details given")
    return text if len(text) <= 120 else text[:119] + "…"


def _vehicle_summary(p: Page, vehicle: dict[str, Any]) -> str:
    parts = [vehicle.get(k) or "" for k in ("registration", "colour", "make", "model")]
    return " ".join(part for part in parts if part) or p._("No details given")


PEOPLE = Collection(
    "people",
    "intake/person.html",
    parse_person,
    lambda s: s.max_people,
    _person_summary,
    {
        "title_none": N_("Do you want to tell us about anyone involved?"),
        "hint_none": N_(
            "For example, someone you saw acting suspiciously. You can tell us what they did "
            "and what they looked like."
        ),
        "title_some": N_("People you have told us about"),
        "question_more": N_("Do you want to tell us about another person?"),
        "error_none": N_("Select yes if you want to tell us about someone"),
        "error_more": N_("Select yes if you want to tell us about another person"),
        "item": N_("Person %(n)s"),
        "remove": N_("Are you sure you want to remove person %(n)s?"),
        "at_limit": N_("You cannot tell us about more than %(n)s people in one report."),
    },
)
VEHICLES = Collection(
    "vehicles",
    "intake/vehicle.html",
    parse_vehicle,
    lambda s: s.max_vehicles,
    _vehicle_summary,
    {
        "title_none": N_("Do you want to tell us about a vehicle?"),
        "hint_none": N_("For example, a vehicle that was hired, used or parked somewhere unusual."),
        "title_some": N_("Vehicles you have told us about"),
        "question_more": N_("Do you want to tell us about another vehicle?"),
        "error_none": N_("Select yes if you want to tell us about a vehicle"),
        "error_more": N_("Select yes if you want to tell us about another vehicle"),
        "item": N_("Vehicle %(n)s"),
        "remove": N_("Are you sure you want to remove vehicle %(n)s?"),
        "at_limit": N_("You cannot tell us about more than %(n)s vehicles in one report."),
    },
)


def _items(data: dict[str, Any], c: Collection) -> list[dict[str, Any]]:
    items = data.setdefault(c.key, [])
    assert isinstance(items, list)
    return items


def _item_id(item: dict[str, Any]) -> str:
    """The item's stable id, given one now if it was added before items had ids."""
    if not item.get("id"):
        item["id"] = secrets.token_urlsafe(12)
    return str(item["id"])


def _next_id(data: dict[str, Any], c: Collection) -> str:
    """The id the next added item will have: the same however often the add page is shown,
    and never one an earlier item had (the count of items ever added is part of it)."""
    added = int(data.get(f"{c.key}-added") or 0)
    seed = f"{data.get('id', '')}:{c.key}:{added}".encode()
    return hashlib.sha256(seed).hexdigest()[:20]


def _posted_id(p: Page) -> str:
    posted = p.request.state.form.get(ITEM_FIELD)
    return posted if isinstance(posted, str) and 0 < len(posted) <= 40 else ""


def _find(data: dict[str, Any], c: Collection, item_id: str) -> int | None:
    return next((i for i, it in enumerate(_items(data, c)) if it.get("id") == item_id), None)


def _index(data: dict[str, Any], c: Collection, n: str) -> int | None:
    """The list index for a 1-based number in the address, or None when there is none."""
    number = whole_number(n)
    if number is None or not 1 <= number <= len(_items(data, c)):
        return None
    return number - 1


def _show_list(
    p: Page,
    c: Collection,
    data: dict[str, Any],
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    items = _items(data, c)
    rows = [
        {
            "label": tr(p)(c.texts["item"], n=n),
            "summary": c.summary(p, item),
            "change": c.url(p, f"/{n}"),
            "remove": c.url(p, f"/{n}/remove"),
        }
        for n, item in enumerate(items, start=1)
    ]
    limit = c.limit(p.rt.settings)
    return render_question(
        p,
        "intake/items.html",
        REPORT,
        c.key,
        values=values or {},
        form_errors=errors,
        rows=rows,
        texts={k: tr(p)(v, n=limit) for k, v in c.texts.items() if k not in ("item", "remove")},
        at_limit=len(items) >= limit,
    )


def _take_list(p: Page, c: Collection, data: dict[str, Any]) -> Response:
    answer = parse_yes_no(p.request.state.form)
    items = _items(data, c)
    if not answer:
        errors = FormErrors()
        errors.add("add", p._(c.texts["error_more" if items else "error_none"]))
        return _show_list(p, c, data, errors)
    if answer == "yes":
        if len(items) >= c.limit(p.rt.settings):
            errors = FormErrors()
            errors.add("add", tr(p)(c.texts["at_limit"], n=c.limit(p.rt.settings)))
            return _show_list(p, c, data, errors, {"add": answer})
        return p.redirect(c.url(p, "/add"))
    return p.redirect(next_url(p, REPORT, c.key))


def _show_item(
    p: Page,
    c: Collection,
    values: dict[str, Any],
    number: int,
    item_id: str,
    parsed: Parsed | None = None,
) -> Response:
    return render_question(
        p,
        c.item_template,
        REPORT,
        c.key,
        values=values,
        form_errors=parsed.errors if parsed else None,
        back=c.url(p),
        number=number,
        item_id=item_id,
    )


def _take_item(p: Page, c: Collection, data: dict[str, Any], index: int | None) -> Response:
    """Add (``index`` None) or change an item. The posted id decides which: an add already
    made is not made again, and a change goes to the item the page was showing."""
    items = _items(data, c)
    posted = _posted_id(p)
    if posted:
        found = _find(data, c, posted)
        if index is None and found is not None:  # the same "add" again: it is already there
            return p.redirect(c.url(p))
        if index is not None and found != index:
            if found is None:  # removed meanwhile: nothing left to change
                return p.redirect(c.url(p))
            index = found
    number = len(items) + 1 if index is None else index + 1
    parsed = c.parse(p.request.state.form, p._, p.rt.settings)
    if parsed.errors:
        item_id = posted or (_next_id(data, c) if index is None else _item_id(items[index]))
        return _show_item(p, c, parsed.values, number, item_id, parsed)
    if index is None:
        if len(items) >= c.limit(p.rt.settings):
            return p.redirect(c.url(p))
        items.append({**parsed.answer, "id": posted or _next_id(data, c)})
        data[f"{c.key}-added"] = int(data.get(f"{c.key}-added") or 0) + 1
    else:
        items[index] = {**parsed.answer, "id": _item_id(items[index])}
    save(p, REPORT, data)
    if index is not None and returning_to_check(p):
        return p.redirect(REPORT.url("check"))
    return p.redirect(c.url(p))


def _register(c: Collection) -> None:
    base = f"{REPORT.prefix}/{c.key}"

    def journey_or_exit(p: Page) -> dict[str, Any] | Response:
        return open_journey(p, REPORT)

    def list_page(p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        return data if isinstance(data, Response) else _show_list(p, c, data)

    def list_post(p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        return data if isinstance(data, Response) else _take_list(p, c, data)

    def add_page(p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        if isinstance(data, Response):
            return data
        if len(_items(data, c)) >= c.limit(p.rt.settings):
            return p.redirect(c.url(p))
        return _show_item(p, c, {}, len(_items(data, c)) + 1, _next_id(data, c))

    def add_post(p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        return data if isinstance(data, Response) else _take_item(p, c, data, None)

    def edit_page(n: str, p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        if isinstance(data, Response):
            return data
        index = _index(data, c, n)
        if index is None:
            return p.redirect(c.url(p))
        item = _items(data, c)[index]
        had_id = bool(item.get("id"))
        item_id = _item_id(item)
        if not had_id:
            save(p, REPORT, data)
        values = {k: v or "" for k, v in item.items() if k != "id"}
        return _show_item(p, c, values, index + 1, item_id)

    def edit_post(n: str, p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        if isinstance(data, Response):
            return data
        posted = _posted_id(p)  # the item the page showed, wherever it is in the list now
        index = _find(data, c, posted) if posted else _index(data, c, n)
        return p.redirect(c.url(p)) if index is None else _take_item(p, c, data, index)

    def remove_page(n: str, p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        if isinstance(data, Response):
            return data
        index = _index(data, c, n)
        if index is None:
            return p.redirect(c.url(p))
        item = _items(data, c)[index]
        had_id = bool(item.get("id"))
        item_id = _item_id(item)
        if not had_id:
            save(p, REPORT, data)
        return render_question(
            p,
            "intake/remove.html",
            REPORT,
            c.key,
            values={},
            back=c.url(p),
            title=tr(p)(c.texts["remove"], n=index + 1),
            summary=c.summary(p, item),
            cancel=c.url(p),
            item_id=item_id,
        )

    def remove_post(n: str, p: Page = Depends(page)) -> Response:
        data = journey_or_exit(p)
        if isinstance(data, Response):
            return data
        posted = _posted_id(p)  # the item the page showed; gone already when sent twice
        index = _find(data, c, posted) if posted else _index(data, c, n)
        if index is not None:
            _items(data, c).pop(index)
            save(p, REPORT, data)
        return p.redirect(c.url(p))

    for path, endpoint, method in (
        (base, list_page, "GET"),
        (base, list_post, "POST"),
        (f"{base}/add", add_page, "GET"),
        (f"{base}/add", add_post, "POST"),
        (base + "/{n}", edit_page, "GET"),
        (base + "/{n}", edit_post, "POST"),
        (base + "/{n}/remove", remove_page, "GET"),
        (base + "/{n}/remove", remove_post, "POST"),
    ):
        router.add_api_route(path, endpoint, methods=[method], dependencies=[_view])


_register(PEOPLE)
_register(VEHICLES)
