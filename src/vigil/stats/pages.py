"""The supervisors' dashboard in the staff console: every figure of
:func:`vigil.stats.services.summary` as a table and, beside it, a bar list drawn with native
``<meter>`` elements, over a date range chosen in a plain GET form.

No chart script: the page must work on a locked-down laptop without JavaScript, and the
strict content security policy forbids inline styles, so bar widths cannot be written into
the page; ``<meter>`` draws a bar from its value alone and is announced by screen readers.
The figures come from the same policy-filtered, audited service as the JSON API, so the
dashboard never counts a report the supervisor may not see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import Depends
from starlette.responses import Response

from vigil.access.api import client_address
from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.stats import services
from vigil.stats.schemas import Bucket, CountSeries, StatsSummary
from vigil.web.problems import Problem
from vigil.web.said import Gettext, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
DASHBOARD = "/console/dashboard"
FIELDS = ("since", "until", "bucket")
_supervisor = staff_session(Permission.stats_read)
# The service's words about a field start mid-sentence ("must be later than since"); the
# page puts the field's name before them, as the other console forms do.
LABELS = {"since": said("Start date"), "until": said("End date"), "bucket": said("Grouping")}


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


def _render(
    p: Page,
    values: dict[str, str],
    errors: dict[str, str],
    figures: StatsSummary | None,
    *,
    status: int = 200,
) -> Response:
    series: list[CountSeries] = []
    shown_until = None
    if figures is not None:
        series = [
            figures.reports_over_time,
            figures.by_kind,
            figures.by_category,
            figures.by_priority,
            figures.by_outcome,
            figures.by_area,
            figures.backlog.by_priority,
            figures.alerts.by_state,
        ]
        shown_until = (figures.until - timedelta(microseconds=1)).date()
    return render_staff(
        p,
        "stats/dashboard.html",
        status=status,
        values=values,
        errors=errors,
        error_list=[{"text": text, "href": f"#{name}"} for name, text in errors.items()],
        figures=figures,
        series=series,
        shown_until=shown_until,
        buckets=[b.value for b in Bucket],
        duration=duration,
    )


def duration(seconds: int | None) -> str:
    """A percentile's elapsed time for people: "2 h 05 min", "45 min", "30 s"."""
    if seconds is None:
        return "No reports"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{hours // 24} days {hours % 24} h"
