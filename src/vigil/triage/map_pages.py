"""The console's map page: reports you may see, on a map and always as a plain table.

The table is the page: it needs no JavaScript and no tile server, which secure networks
often cannot reach. /static/js/map.mjs draws the same points with Leaflet over the
configured tile server (``VIGIL_MAP_TILE_URL``); with no tile server configured no map is
attempted, and if tiles fail to load the script hides the map and says so. Only this page's
Content-Security-Policy lets images come from the tile server's origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Depends, Request
from starlette.responses import Response

from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.triage.categories import load_rules
from vigil.triage.map import PRIORITIES, REPORT_PAGE, MapFilter, MapPoint, MapPoints, map_points
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.said import Gettext
from vigil.web.templating import Page, page, page_router

router = page_router()
MAP = "/console/map"
PRIORITY_COLOURS = {"P1": "red", "P2": "orange", "P3": "yellow", "P4": "blue"}
FIELDS = ("since", "category", "priority")

_reader = staff_session(Permission.report_read)


@dataclass(frozen=True)
class Asked:
    """What the filter form sent, as typed (so a refused value is shown back)."""

    since: str
    category: str
    priority: str


def _asked(request: Request) -> Asked:
    query = request.query_params
    return Asked(
        since=(query.get("since") or "").strip()[:20],
        category=(query.get("category") or "").strip()[:40],
        priority=(query.get("priority") or "").strip()[:10],
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def marker_label(point: MapPoint, _: Gettext) -> str:
    """What a screen reader hears on a marker, and its tooltip."""
    return _(
        "Report %(reference)s, %(priority)s, received %(received)s",
        reference=point.reference,
        priority=point.priority or _("not yet scored"),
        received=point.received_at.strftime("%Y-%m-%d %H:%M"),
    )


def map_data(found: MapPoints, tile_url: str, attribution: str, _: Gettext) -> dict[str, Any]:
    """What map.mjs draws: the table's points, the tile server, and the popups' words."""
    return {
        "tiles": {"url": tile_url, "attribution": attribution},
        "text": {
            "received": _("Received"),
            "priority": _("Priority"),
            "place": _("Place"),
            # filled in by map.mjs for markers that stand for several nearby reports
            "several": _("%(num)s reports here: %(references)s"),
        },
        "points": [
            {
                "reference": p.reference,
                "lat": p.lat,
                "lon": p.lon,
                "priority": p.priority or _("Not yet scored"),
                "received": p.received_at.strftime("%Y-%m-%d %H:%M"),
                "place": p.place,
                "url": REPORT_PAGE.format(p.reference),
                "label": marker_label(p, _),
            }
            for p in found.points
        ],
    }


@router.get(MAP)
def map_page(user: StaffUser = Depends(_reader), p: Page = Depends(page)) -> Response:
    settings = p.rt.settings
    asked = _asked(p.request)
    errors: dict[str, str] = {}
    since = _day(asked.since) if asked.since else None
    if asked.since and since is None:
        errors["since"] = p._("Enter the date as year-month-day, for example 2026-09-01")
    found: MapPoints | None = None
    if not errors:
        criteria = MapFilter(
            since=since, category=asked.category or None, priority=asked.priority or None
        )
        client = client_key(p.request, settings.trust_forwarded_for)
        try:
            found = map_points(p.rt, user, criteria, limit=settings.map_max_points, client=client)
        except Problem as problem:
            if problem.status != 422:
                raise
            for error in problem.errors:
                name = error["pointer"].rsplit("/", 1)[-1]
                errors.setdefault(name if name in FIELDS else "since", _refusal(name, p._))
    draw = found is not None and bool(found.points) and bool(settings.map_tile_url)
    if draw:
        p.img_origin = settings.map_tile_origin
    rules = load_rules().categories
    return render_staff(
        p,
        "triage/map.html",
        status=400 if errors else 200,
        asked=asked,
        found=found,
        draw=draw,
        tiles_configured=bool(settings.map_tile_url),
        map_data=map_data(found, settings.map_tile_url, settings.map_tile_attribution, p._)
        if draw and found is not None
        else None,
        errors=bool(errors),
        form_errors=errors,
        error_list=[{"text": text, "href": f"#{field}"} for field, text in errors.items()],
        categories=[(c.code, c.label) for c in rules],
        category_labels={c.code: c.label for c in rules},
        priorities=PRIORITIES,
        colours=PRIORITY_COLOURS,
    )


def _refusal(name: str, _: Gettext) -> str:
    if name == "priority":
        return _("Choose a priority from the list")
    if name == "category":
        return _("Choose a category from the list")
    return _("Check the filters")
