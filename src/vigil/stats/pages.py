"""The supervisors' dashboard in the staff console: every figure of
:func:`vigil.stats.services.summary` as a table and, beside it, a bar list drawn with native
``<meter>`` elements, over a date range chosen in a plain GET form.

No chart script: the page must work on a locked-down laptop without JavaScript, and the
strict content security policy forbids inline styles, so bar widths cannot be written into
the page; ``<meter>`` draws a bar from its value alone and is announced by screen readers.
The figures come from the same policy-filtered, audited service as the JSON API, so the
dashboard never counts a report the supervisor may not see.

The service answers in English for the API (captions, and labels that are its vocabulary's
codes); the page names every figure itself in its own language, so a Welsh page is Welsh
throughout while the API reads as before, and names outcomes, categories and unscored
reports by the labels the queue and report page use, never by their codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.stats import services
from vigil.stats.schemas import Bucket, CountSeries, StatsSummary, TimingRow
from vigil.triage.labels import NOT_YET_SCORED, OUTCOMES, category_label
from vigil.web.problems import Problem
from vigil.web.said import Gettext, Said, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
DASHBOARD = "/console/dashboard"
FIELDS = ("since", "until", "bucket")
_supervisor = staff_session(Permission.stats_read)
# The service's words about a field start mid-sentence ("must be later than since"); the
# page puts the field's name before them, as the other console forms do.
LABELS = {"since": said("Start date"), "until": said("End date"), "bucket": said("Grouping")}
# What each figure is called on the page. The service names its series in English for the API;
# the page names them itself, in its own language, with the same English words (an English
# page reads exactly as the API's captions, which the tests compare).
SERIES: tuple[tuple[str, Said, Said, Said], ...] = (
    ("by_kind", said("Reports by kind"), said("Kind"), said("Reports")),
    (
        "by_category",
        said("Reports by behaviour category (a report may have several)"),
        said("Category"),
        said("Reports"),
    ),
    ("by_priority", said("Reports by priority"), said("Priority"), said("Reports")),
    ("by_outcome", said("Reports by outcome"), said("Outcome"), said("Reports")),
    ("by_area", said("Reports by area (outward postcode)"), said("Area"), said("Reports")),
    ("backlog.by_priority", said("Open reports by priority"), said("Priority"), said("Reports")),
    ("alerts.by_state", said("Alerts by state"), said("State"), said("Alerts")),
)
BUCKET_WORDS = {Bucket.day: said("day"), Bucket.week: said("week"), Bucket.month: said("month")}
BUCKET_STARTS = {
    Bucket.day: said("Day starting"),
    Bucket.week: said("Week starting"),
    Bucket.month: said("Month starting"),
}
# What the page calls the codes of the service's vocabularies (the API gives the codes). A
# code of triage's (an outcome, a report not yet scored) reads as it does on the queue and the
# report page (vigil.triage.labels); the other words are said in the page's language.
# Priorities (P1…), postcode areas and dates are data and are shown as they are; behaviour
# categories are named by the rules' labels (see _labelled).
WORDS = {
    "behaviour": said("behaviour"),
    "item": said("item"),
    "vehicle": said("vehicle"),
    "purchase": said("purchase"),
    "threat": said("threat"),
    "online": said("online"),
    "other": said("other"),
    "pending": NOT_YET_SCORED,
    **OUTCOMES,
    "undecided": said("undecided"),
    "uncategorised": said("uncategorised"),
    "unknown": said("unknown"),
    "new": said("new"),
    "reviewed": said("reviewed"),
    "actioned": said("actioned"),
    "dismissed": said("dismissed"),
    "all": said("all"),
}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@router.get(DASHBOARD)
def dashboard(user: StaffUser = Depends(_supervisor), p: Page = Depends(page)) -> Response:
    query = p.request.query_params
    values = {name: query.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    since_day = _day(values["since"]) if values["since"] else None
    until_day = _day(values["until"]) if values["until"] else None
    if values["since"] and since_day is None:
        errors["since"] = p._("Enter the start date as year-month-day, for example 2026-09-01")
    if values["until"] and until_day is None:
        errors["until"] = p._("Enter the end date as year-month-day, for example 2026-11-30")
    if since_day and until_day and until_day < since_day:
        errors["until"] = p._("The end date must be the same as or after the start date")
    bucket = Bucket.week
    if values["bucket"]:
        if values["bucket"] in {b.value for b in Bucket}:
            bucket = Bucket(values["bucket"])
        else:
            errors["bucket"] = p._("Choose day, week or month")
    if errors:
        return _render(p, values, errors, None, status=400)
    since = _midnight(since_day) if since_day else None
    # The form's end date is the last day shown; the service's until is exclusive.
    until = _midnight(until_day) + timedelta(days=1) if until_day else None
    try:
        figures = services.summary(p.rt, user, since, until, bucket, client_address(p.request))
    except Problem as refused:
        if refused.status != 422:
            raise
        for error in refused.errors:
            name = error["pointer"].rsplit("/", 1)[-1]
            field = name if name in FIELDS else "since"
            errors.setdefault(field, _words(field, error["detail"], p._))
        return _render(p, values, errors, None, status=400)
    return _render(p, values, errors, figures)


def _words(field: str, detail: str, gettext: Gettext) -> str:
    """The service's words about a field, after the field's name, in the page's language."""
    return f"{spoken(gettext, LABELS[field])}: {spoken(gettext, detail)}"


@dataclass(frozen=True)
class Shown:
    """One series as the page shows it: its caption, headings and labels in the page's
    language, beside the service's counts."""

    caption: str
    label_heading: str
    value_heading: str
    labels: list[str]
    values: list[int]


def _word(label: str, gettext: Gettext) -> str:
    """A label in the page's language when it is one of the vocabulary's words, else data."""
    return spoken(gettext, WORDS[label]) if label in WORDS else label


def _labelled(key: str, label: str, gettext: Gettext) -> str:
    """A series' label as the page shows it: a behaviour category by its rules' label (as the
    queue names it), anything else as :func:`_word` says it."""
    if key == "by_category" and label not in WORDS:
        return category_label(label)
    return _word(label, gettext)


def shown_series(figures: StatsSummary, gettext: Gettext) -> list[Shown]:
    """Every series of the summary, reports over time first, named in the page's language."""
    over_time = figures.reports_over_time
    bucket = figures.bucket
    series = [
        Shown(
            gettext("Reports received by %(bucket)s", bucket=spoken(gettext, BUCKET_WORDS[bucket])),
            spoken(gettext, BUCKET_STARTS[bucket]),
            gettext("Reports"),
            over_time.labels,  # the first day of each bucket, YYYY-MM-DD
            over_time.values,
        )
    ]
    for key, caption, heading, value_heading in SERIES:
        found: CountSeries = attrgetter(key)(figures)
        series.append(
            Shown(
                spoken(gettext, caption),
                spoken(gettext, heading),
                spoken(gettext, value_heading),
                [_labelled(key, label, gettext) for label in found.labels],
                found.values,
            )
        )
    return series


def _render(
    p: Page,
    values: dict[str, str],
    errors: dict[str, str],
    figures: StatsSummary | None,
    *,
    status: int = 200,
) -> Response:
    series: list[Shown] = []
    shown_until = None
    timings: list[tuple[str, list[tuple[str, TimingRow]]]] = []
    if figures is not None:
        series = shown_series(figures, p._)
        shown_until = (figures.until - timedelta(microseconds=1)).date()
        timings = [
            (title, [(_word(row.label, p._), row) for row in rows])
            for title, rows in (
                (p._("Time from receipt to triage"), figures.time_to_triage),
                (p._("Time from receipt to an analyst's outcome"), figures.time_to_decision),
            )
        ]
    return render_staff(
        p,
        "stats/dashboard.html",
        status=status,
        values=values,
        errors=errors,
        error_list=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
        figures=figures,
        series=series,
        timings=timings,
        shown_until=shown_until,
        buckets=[(b.value, spoken(p._, BUCKET_WORDS[b])) for b in Bucket],
        duration=lambda seconds: duration(seconds, p._),
    )


def duration(seconds: int | None, gettext: Gettext) -> str:
    """A percentile's elapsed time for people: "2 h 5 min", "45 min", "30 s" (as the triage
    queue says ages, through the same catalogue entries)."""
    if seconds is None:
        return gettext("No reports")
    if seconds < 60:
        return gettext("%(seconds)d s", seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return gettext("%(minutes)d min", minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)
    return gettext("%(days)d days %(hours)d h", days=hours // 24, hours=hours % 24)
