"""What the statistics API answers.

Every figure is shaped as a table (labels beside values, or rows of named columns) so the
console can draw a chart and, from the very same object, the table that is its accessible
alternative; nothing is computed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field


class Bucket(StrEnum):
    """How reports over time are grouped: by UTC day, ISO week (from Monday) or month."""

    day = "day"
    week = "week"
    month = "month"


@dataclass(frozen=True)
class SummaryWindow:
    """The period of one summary, [since, until) in UTC, and how it is cut into buckets.

    The labels are made here rather than read back from the database, so a bucket with no
    reports still appears (as 0) and a chart's axis never skips a week.
    """

    since: datetime
    until: datetime
    bucket: Bucket

    def _first_and_last(self) -> tuple[date, date]:
        last_instant = max(self.since, self.until - timedelta(microseconds=1))
        return _floor(self.since.date(), self.bucket), _floor(last_instant.date(), self.bucket)

    def bucket_count(self) -> int:
        first, last = self._first_and_last()
        if self.bucket is Bucket.month:
            return (last.year - first.year) * 12 + last.month - first.month + 1
        return (last - first).days // (7 if self.bucket is Bucket.week else 1) + 1

    def bucket_labels(self) -> list[str]:
        """The first day of every bucket, ``YYYY-MM-DD``, oldest first."""
        first, _ = self._first_and_last()
        if self.bucket is Bucket.month:
            months = (first.year * 12 + first.month - 1 + i for i in range(self.bucket_count()))
            return [date(m // 12, m % 12 + 1, 1).isoformat() for m in months]
        step = timedelta(days=7 if self.bucket is Bucket.week else 1)
        return [(first + step * i).isoformat() for i in range(self.bucket_count())]


def _floor(day: date, bucket: Bucket) -> date:
    if bucket is Bucket.week:
        return day - timedelta(days=day.weekday())
    if bucket is Bucket.month:
        return day.replace(day=1)
    return day


class CountSeries(BaseModel):
    """One count per label, in display order; ``labels[i]`` is counted in ``values[i]``."""

    caption: str
    label_heading: str
    value_heading: str = "Reports"
    labels: list[str]
    values: list[int]


class TimingRow(BaseModel):
    """Elapsed time from receipt, in whole seconds, by the nearest-rank percentile."""

    label: str
    reports: int = Field(description="How many reports the percentiles are taken over")
    p50_seconds: int | None
    p90_seconds: int | None


class ServiceLevelRow(BaseModel):
    """How one priority's reports fared against the service level they were given.

    ``met``: decided by their due time. ``missed``: decided late, or undecided and already
    past due. ``pending``: undecided and not yet due (left out of the share, as their fate is
    not known yet).
    """

    priority: str
    target_minutes: int = Field(description="The service level in force now, for reference")
    met: int
    missed: int
    pending: int
    share_met: float | None = Field(description="met / (met + missed); null when both are 0")


class BacklogOut(BaseModel):
    """Open work now (new or claimed), whatever the window: the supervisor's queue today."""

    open_total: int
    overdue: int
    by_priority: CountSeries


class AlertsOut(BaseModel):
    """Alerts raised in the window that the user may see, by where their review stands."""

    total: int
    reappeared: int = Field(description="Alerts about a closed subject re-appearing")
    by_state: CountSeries


class StatsSummary(BaseModel):
    """The supervisors' dashboard. Counts are exact (no small-number suppression): they only
    ever count records the user may see, so an exact count discloses nothing new."""

    since: datetime
    until: datetime
    bucket: Bucket
    generated_at: datetime
    reports_total: int
    reports_over_time: CountSeries
    by_kind: CountSeries
    by_category: CountSeries
    by_priority: CountSeries
    by_outcome: CountSeries
    by_area: CountSeries
    time_to_triage: list[TimingRow] = Field(
        description="Receipt to the automated triage (triaged_at), overall then by priority"
    )
    time_to_decision: list[TimingRow] = Field(
        description="Receipt to the analyst's outcome (decided_at), overall then by priority"
    )
    service_levels: list[ServiceLevelRow]
    backlog: BacklogOut
    alerts: AlertsOut
