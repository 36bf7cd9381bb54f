"""A public report in progress: where its answers live, and how they become a ``ReportIn``.

Answers are kept server-side in the visitor's sealed session (never in the browser), one
JSON document per route: ``report`` (the full journey) and ``online`` (the short route for
online terrorist material). They vanish after 2 hours idle and on submit, so abandoned
reports do not linger. Each page validates only its own answers; the conversion here runs
the API's own model over the whole, so the website can never store what the API would refuse.

The bot checks (honeypot, minimum fill time, limits) live in ``journey_guard``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from vigil.intake.schemas import ReportIn, ReportKind
from vigil.web.templating import Page

LONDON = ZoneInfo("Europe/London")
RETURN_TO_CHECK = "check"


def N_(message: str) -> str:
    """Marks a string for the message catalogues; it is translated where it is shown."""
    return message


def clock() -> float:
    """Wall-clock seconds. A function, so tests can move time on without sleeping."""
    return time.time()


@dataclass(frozen=True)
class Route:
    """One journey: its session key, its URL prefix, where it starts and its pages in order."""

    name: str
    prefix: str
    start: str
    steps: tuple[str, ...]

    def url(self, step: str, *, to_check: bool = False) -> str:
        return f"{self.prefix}/{step}" + (f"?return={RETURN_TO_CHECK}" if to_check else "")


REPORT = Route(
    "report",
    "/report",
    "/",
    ("what", "when", "where", "people", "vehicles", "online", "files", "about-you", "check"),
)
ONLINE = Route("online", "/online", "/online", ("links", "platform", "shows", "about-you", "check"))
ROUTES = {r.name: r for r in (REPORT, ONLINE)}

# Kinds of activity, with the plain-English label and hint the reporter sees.
KINDS: dict[str, tuple[str, str]] = {
    ReportKind.behaviour.value: (
        N_("Someone's behaviour"),
        N_(
            "For example, someone watching or photographing security, CCTV cameras or "
            "entrances, or asking unusual questions about how a place is protected."
        ),
    ),
    ReportKind.item.value: (
        N_("An item or package"),
        N_("For example, an unattended bag or a package that seems out of place."),
    ),
    ReportKind.vehicle.value: (
        N_("A vehicle"),
        N_(
            "For example, a large vehicle hired without a clear reason, or a vehicle parked "
            "somewhere unusual for a long time."
        ),
    ),
    ReportKind.purchase.value: (
        N_("Buying or storing materials"),
        N_(
            "For example, buying or storing large amounts of chemicals, fertiliser or gas "
            "cylinders without a clear reason."
        ),
    ),
    ReportKind.threat.value: (
        N_("A threat"),
        N_("Something said or written that threatens to kill or hurt people or cause damage."),
    ),
    ReportKind.online.value: (
        N_("Something online"),
        N_("For example, extremist material on a website, in an app or on social media."),
    ),
    ReportKind.other.value: (
        N_("Something else"),
        N_("For example, passports in several names, unusual travel or unusual bank transactions."),
    ),
}

# Where online material was seen (the short route). Stored in English for staff.
PLATFORMS: dict[str, tuple[str, str]] = {
    "social": (N_("A social network"), "Social network"),
    "video": (N_("A video-sharing site"), "Video-sharing site"),
    "messaging": (N_("A messaging app"), "Messaging app"),
    "forum": (N_("A forum or message board"), "Forum"),
    "filehost": (N_("A file-sharing or file-hosting site"), "File host"),
    "website": (N_("Another website"), "Website"),
    "other": (N_("Somewhere else"), "Other"),
}

MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)


# --- the journey in the session ------------------------------------------------------------


def journey(p: Page, route: Route) -> dict[str, Any] | None:
    data = p.session.data.get(route.name)
    return data if isinstance(data, dict) and data.get("id") else None


def start_journey(p: Page, route: Route) -> dict[str, Any]:
    """A new journey; its start time is when the first question was shown (bot check)."""
    data: dict[str, Any] = {"id": secrets.token_urlsafe(16), "started": clock()}
    p.session.set(route.name, data)
    return data


def save(p: Page, route: Route, data: dict[str, Any]) -> None:
    p.session.set(route.name, data)


def returning_to_check(p: Page) -> bool:
    return p.request.query_params.get("return") == RETURN_TO_CHECK


def next_url(p: Page, route: Route, step: str) -> str:
    if returning_to_check(p):
        return route.url("check")
    steps = route.steps
    return route.url(steps[min(steps.index(step) + 1, len(steps) - 1)])


def back_url(p: Page, route: Route, step: str) -> str:
    if returning_to_check(p):
        return route.url("check")
    index = route.steps.index(step)
    return route.url(route.steps[index - 1]) if index else route.start


def idempotency_key(route: Route, data: dict[str, Any]) -> str:
    """One key per journey, so a double click or a retry never makes two reports."""
    return f"web-{route.name}-{data['id']}"


# --- from answers to the API's model ------------------------------------------------------


def _some(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: values.get(n) or None for n in names}


def when_period(answer: dict[str, Any]) -> tuple[datetime, datetime | None] | None:
    """A date (and maybe a time) given in UK local time, as UTC; a date alone is the whole day."""
    if not answer.get("day"):
        return None
    day = date(int(answer["year"]), int(answer["month"]), int(answer["day"]))
    clock_time = answer.get("time") or ""
    if clock_time:
        hours, minutes = (int(part) for part in clock_time.split(":"))
        local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=LONDON)
        return local.astimezone(UTC), None
    start = datetime(day.year, day.month, day.day, tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON)
    return start.astimezone(UTC), (end - timedelta(minutes=1)).astimezone(UTC)


def _when(answer: dict[str, Any] | None, on_date: dict[str, Any] | None) -> dict[str, Any] | None:
    if not answer:
        return None
    choice = answer.get("choice")
    out: dict[str, Any] = {"description": answer.get("description") or None}
    period = when_period(on_date or {}) if choice == "date" else None
    if choice == "now":
        out["ongoing"] = True
    elif choice == "unsure":
        out["unsure"] = True
    elif period is not None:
        out["start"], out["end"] = period
    elif not out["description"]:
        return None
    return out


def _where(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    if not answer:
        return None
    out = _some(answer, "address", "postcode", "description")
    return out if any(out.values()) else None


def wants_contact(data: dict[str, Any]) -> bool:
    return (data.get("about-you") or {}).get("choice") == "contact"


def _reporter(data: dict[str, Any]) -> dict[str, Any]:
    if not wants_contact(data):
        return {"anonymous": True}
    given = _some(data.get("contact") or {}, "name", "phone", "email", "contact_preference")
    return {"anonymous": False, **given}


def to_report(route: Route, data: dict[str, Any]) -> ReportIn:
    """The whole journey as the API's ``ReportIn`` (raises ``ValidationError`` if incomplete)."""
    if route is ONLINE:
        platform = data.get("platform") or {}
        where_seen = platform_stored(platform)
        document: dict[str, Any] = {
            "kind": ReportKind.online.value,
            "description": (data.get("shows") or {}).get("description", ""),
            "online": [{"url": link["url"], "where_seen": where_seen} for link in _links(data)],
            "reporter": _reporter(data),
        }
        return ReportIn.model_validate(document)
    what = data.get("what") or {}
    document = {
        "kind": what.get("kind"),
        "description": what.get("description", ""),
        "when": _when(data.get("when"), data.get("when-date")),
        "where": _where(data.get("where")),
        "people": [
            _some(p, "name", "age", "appearance", "clothing", "behaviour")
            for p in data.get("people", [])
        ],
        "vehicles": [
            _some(v, "registration", "make", "model", "colour") for v in data.get("vehicles", [])
        ],
        "online": [
            {"url": link["url"], "where_seen": link.get("where_seen") or None}
            for link in _links(data)
        ],
        "reporter": _reporter(data),
    }
    return ReportIn.model_validate(document)


def _links(data: dict[str, Any]) -> list[dict[str, str]]:
    links = (data.get("links") or {}).get("items", [])
    return [link for link in links if isinstance(link, dict) and link.get("url")]


def platform_stored(answer: dict[str, Any]) -> str | None:
    """What staff see for the platform: its English name and the site or app, if given."""
    kind = PLATFORMS[answer["platform"]][1] if answer.get("platform") in PLATFORMS else None
    name = answer.get("name") or None
    if kind and name:
        return f"{kind}: {name}"
    return kind or name


def missing_essentials(route: Route, data: dict[str, Any]) -> str | None:
    """The first page whose essential answer is missing, if any."""
    if route is ONLINE:
        if not _links(data):
            return "links"
        if not (data.get("shows") or {}).get("description"):
            return "shows"
    else:
        what = data.get("what") or {}
        if not (what.get("kind") and what.get("description")):
            return "what"
    contact = data.get("contact") or {}
    if wants_contact(data) and not (contact.get("phone") or contact.get("email")):
        return "contact"
    return None


# --- describing answers in the visitor's language -----------------------------------------


def describe_date(gettext: Callable[..., str], answer: dict[str, Any]) -> str:
    month = gettext(MONTHS[int(answer["month"]) - 1])
    when = gettext(
        "%(day)s %(month)s %(year)s", day=int(answer["day"]), month=month, year=answer["year"]
    )
    if answer.get("time"):
        return gettext("%(date)s at %(time)s", date=when, time=answer["time"])
    return when
