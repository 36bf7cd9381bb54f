"""The search page of the staff console: a search box, facets as links, hits with their
escaped snippets, and a link to the next page.

The handler parses the address, calls :func:`vigil.search.query.search` (the one policy-
filtered, audited search) and renders its answer, so the page can only show, count or hint
at what the JSON API would give the same reader. Facets that narrow the search (type,
category, priority, time) are links that add one filter; place and organisation are counts
only, as the search has no filter for them. Everything is a GET: searching changes nothing
but the audit log, and a result page can be bookmarked or opened without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.db import utcnow
from vigil.search.api import Q_MAX
from vigil.search.criteria import PRIORITIES, TIME_BUCKETS, SearchCriteria
from vigil.search.query import search
from vigil.search.schemas import FacetCount, RecordType, SearchPage
from vigil.triage.labels import NOT_YET_SCORED, category_label
from vigil.web.problems import Problem
from vigil.web.said import Gettext, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
SEARCH = "/console/search"
PAGE_SIZE = 20
FILTERS = ("type", "category", "priority", "time")
TIMES = (*(name for name, _ in TIME_BUCKETS), "older")
_searcher = staff_session(Permission.search_read)
HIT_PAGES = {
    RecordType.report: "/console/reports/{}",
    RecordType.entity: "/console/entities/{}",
    RecordType.case: "/console/cases/{}",
}
# A refusal of the search names its field and starts mid-sentence ("has no words to search
# for"); the page puts the field's name before it, as the other console forms do.
LABELS = {
    "q": said("Search"),
    "priority": said("Priority"),
    "category": said("Category"),
    "since": said("From"),
    "until": said("To"),
    "cursor": said("Next page"),
}
# Facet values that are words rather than data, as the page shows them, in the page's
# language (the address carries the value itself). A report not yet scored reads as on the
# queue; a behaviour category reads by its rules' label (see _label). Places and
# organisations are data.
WORDS = {
    "report": said("report"),
    "entity": said("entity"),
    "case": said("case"),
    "pending": NOT_YET_SCORED,
    "day": said("day"),
    "week": said("week"),
    "month": said("month"),
    "year": said("year"),
    "older": said("older"),
}


@dataclass(frozen=True)
class Asked:
    """What the address asks for: the words and the filters, as given (validated here only as
    far as the page needs; :class:`SearchCriteria` checks the rest)."""

    q: str
    types: tuple[str, ...]
    category: str | None
    priorities: tuple[str, ...]
    time: str | None
    cursor: str | None

    def params(self, **change: Any) -> list[tuple[str, str]]:
        """The address's parameters with some changed (None removes; a tuple repeats)."""
        values: dict[str, Any] = {
            "q": self.q,
            "type": self.types,
            "category": self.category,
            "priority": self.priorities,
            "time": self.time,
        }
        values.update(change)
        out: list[tuple[str, str]] = []
        for key, value in values.items():
            if isinstance(value, tuple):
                out += [(key, v) for v in value]
            elif value:
                out.append((key, str(value)))
        return out

    def several(self, name: str) -> tuple[str, ...]:
        """The values of a filter that may be given more than once (type, priority)."""
        return {"type": self.types, "priority": self.priorities}.get(name, ())

    def href(self, **change: Any) -> str:
        return SEARCH + "?" + urlencode(self.params(**change))


def time_window(bucket: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The since/until of a time facet: its buckets are disjoint ("week" is a day to a week
    ago), so the link narrows to exactly the hits that facet counted."""
    if bucket is None:
        return None, None
    edges = [0, *(days for _, days in TIME_BUCKETS)]
    if bucket == "older":
        return None, now - timedelta(days=edges[-1])
    i = TIMES.index(bucket)
    return now - timedelta(days=edges[i + 1]), (now - timedelta(days=edges[i]) if i else None)


def _asked(p: Page) -> tuple[Asked, str | None]:
    query = p.request.query_params
    time = query.get("time") or None
    asked = Asked(
        q=" ".join(query.get("q", "").split()),
        types=tuple(dict.fromkeys(query.getlist("type")))[:3],
        category=query.get("category") or None,
        priorities=tuple(dict.fromkeys(query.getlist("priority")))[:5],
        time=time,
        cursor=(query.get("cursor") or None),
    )
    problem = None
    if len(asked.q) > Q_MAX:
        problem = p._("Enter at most %(num)s characters", num=Q_MAX)
    elif any(t not in {r.value for r in RecordType} for t in asked.types):
        problem = p._("Choose reports, entities or cases")
    elif time is not None and time not in TIMES:
        problem = p._("Choose a time from the list")
    elif asked.cursor is not None and len(asked.cursor) > 200:
        problem = p._("That next-page link is not one this page gave out; search again")
    return asked, problem


@router.get(SEARCH)
def search_page(user: StaffUser = Depends(_searcher), p: Page = Depends(page)) -> Response:
    asked, problem = _asked(p)
    if not asked.q:
        if asked.types or asked.category or asked.priorities or asked.time or problem:
            return _render(p, asked, None, p._("Enter words to search for"), status=400)
        return _render(p, asked, None, None)
    if problem:
        return _render(p, asked, None, problem, status=400)
    since, until = time_window(asked.time, utcnow())
    try:
        criteria = SearchCriteria(
            q=asked.q,
            types=frozenset(RecordType(t) for t in asked.types),
            category=asked.category,
            priorities=frozenset(asked.priorities),
            since=since,
            until=until,
        )
        found = search(
            p.rt,
            user,
            criteria,
            cursor=asked.cursor,
            limit=PAGE_SIZE,
            client=client_address(p.request),
        )
    except Problem as refused:
        if refused.status != 422:
            raise
        return _render(p, asked, None, _message(refused, p._), status=400)
    return _render(p, asked, found, None)


def _message(refused: Problem, gettext: Gettext) -> str:
    """The search's refusal as the page says it: the field's name, then the service's words."""
    if not refused.errors:
        return spoken(gettext, refused.detail or refused.title)
    error = refused.errors[0]
    field = error["pointer"].rsplit("/", 1)[-1]
    label = spoken(gettext, LABELS.get(field, LABELS["q"]))
    return f"{label}: {spoken(gettext, error['detail'])}"


def _label(name: str, value: str, gettext: Gettext) -> str:
    """A filter's value as the page shows it: a category by its label, a word in the page's
    language, anything else (a priority, a place) as it is."""
    if name == "category":
        return category_label(value)
    return spoken(gettext, WORDS[value]) if value in WORDS else value


def _facet_links(
    asked: Asked, name: str, facets: list[FacetCount], gettext: Gettext
) -> list[dict[str, Any]]:
    """Each value with its label, its count and the link that narrows to it (or, when it is
    already chosen, the link that removes it)."""
    single: dict[str, str | None] = {"category": asked.category, "time": asked.time}
    chosen = set(asked.several(name)) if name in {"type", "priority"} else {single[name]}
    several = asked.several(name)
    links = []
    for f in facets:
        on = f.value in chosen
        if name in {"type", "priority"}:
            values = tuple(v for v in several if v != f.value)
            change: dict[str, Any] = {name: values if on else (*values, f.value)}
        else:
            change = {name: None if on else f.value}
        links.append(
            {
                "value": f.value,
                "label": _label(name, f.value, gettext),
                "count": f.count,
                "on": on,
                "href": asked.href(**change),
            }
        )
    return links


def _render(
    p: Page, asked: Asked, found: SearchPage | None, error: str | None, *, status: int = 200
) -> Response:
    facets: dict[str, Any] = {}
    hits: list[dict[str, Any]] = []
    next_href = None
    if found is not None:
        facets = {
            name: _facet_links(asked, name, getattr(found.facets, name), p._) for name in FILTERS
        }
        facets["place"] = found.facets.place
        facets["organisation"] = found.facets.organisation
        hits = [{"hit": h, "href": HIT_PAGES[h.type].format(h.id)} for h in found.hits]
        if found.next_cursor:
            next_href = asked.href(cursor=found.next_cursor)
    chosen = [
        (key, _label(key, value, p._), asked.href(**_without(asked, key, value)))
        for key, value in asked.params()
        if key != "q"
    ]
    errors = {"q": error} if error else {}
    return render_staff(
        p,
        "search/search.html",
        status=status,
        asked=asked,
        found=found,
        hits=hits,
        facets=facets,
        chosen=chosen,
        next_href=next_href,
        errors=errors,
        error_list=[{"text": error, "href": "#q"}] if error else [],
        priorities=PRIORITIES,
        words={value: spoken(p._, word) for value, word in WORDS.items()},
    )


def _without(asked: Asked, key: str, value: str) -> dict[str, Any]:
    if key in {"type", "priority"}:
        return {key: tuple(v for v in asked.several(key) if v != value)}
    return {key: None}
