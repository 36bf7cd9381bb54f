"""The supervisors' statistics: every figure is a SQL aggregate over what the user may see.

Why aggregates only: the dashboard must stay quick over a million reports, so no query here
loads a report into Python. A summary is three statements — one scan of the window's reports
(every report figure is grouped from it), the open backlog, the alerts — and each answers a
few hundred grouped rows at most (one per area at worst). Why the policy filter on
every query: a count is a read path like any other, and a figure that included a report the
user may not see would hint that it exists (need-to-know, principle 2). Counts are exact —
there is no small-number suppression, because each counted record is one the user may open.

Reports are counted by when they were received (``since`` inclusive, ``until`` exclusive),
alerts by when they were raised; the backlog is the open work now, whatever the window.
Buckets are UTC days, ISO weeks starting on Monday, or calendar months, labelled with their
first day (``2026-03-02``); SQLite and PostgreSQL each use their own date functions and must
give the same labels, which the tests check on both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.intake.schemas import ReportKind
from vigil.linkage.models import Alert
from vigil.stats.schemas import (
    AlertsOut,
    BacklogOut,
    Bucket,
    CountSeries,
    ServiceLevelRow,
    StatsSummary,
    SummaryWindow,
    TimingRow,
)
from vigil.triage.categories import CATEGORY_CODES
from vigil.triage.config import PRIORITIES
from vigil.triage.models import TriageResult
from vigil.triage.schemas import Outcome
from vigil.triage.weights import config_in_force
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

DEFAULT_WINDOW = timedelta(days=90)
# A chart of more points than this is unreadable and its table unusable; it also bounds the
# work a single request can ask for.
MAX_BUCKETS = 1000
PENDING = "pending"  # not yet scored by the pipeline
UNDECIDED = "undecided"  # no outcome recorded yet
UNCATEGORISED = "uncategorised"
UNKNOWN_AREA = "unknown"
ALERT_STATES = ("new", "reviewed", "actioned", "dismissed")
OPEN_STATES = ("new", "claimed")
Column = SQLColumnExpression[Any]  # a Core expression or a mapped attribute


def summary_window(
    since: datetime | None, until: datetime | None, bucket: Bucket, now: datetime
) -> SummaryWindow:
    """The window asked for, with defaults (the last 90 days up to now), or a 422 naming the
    parameter at fault. A time without a zone is read as UTC."""
    end = _as_utc(until) if until is not None else now
    try:
        start = _as_utc(since) if since is not None else end - DEFAULT_WINDOW
    except OverflowError:
        raise _invalid("#/query/until", said("is too early to count back 90 days from")) from None
    if start >= end:
        if until is None:
            raise _invalid("#/query/since", said("must be in the past (until defaults to now)"))
        raise _invalid("#/query/until", said("must be later than since"))
    window = SummaryWindow(start, end, bucket)
    count = window.bucket_count()
    if count > MAX_BUCKETS:
        raise _invalid("#/query/since", _too_many_buckets(count, bucket))
    return window


def _too_many_buckets(count: int, bucket: Bucket) -> str:
    """Whole sentences, one a bucket, so that each can be said in its own words."""
    values = {"count": count, "most": MAX_BUCKETS}
    if bucket is Bucket.day:
        return said(
            "the window holds %(count)s day buckets; at most %(most)s — "
            "choose a shorter window or a larger bucket",
            **values,
        )
    if bucket is Bucket.month:
        return said(
            "the window holds %(count)s month buckets; at most %(most)s — "
            "choose a shorter window or a larger bucket",
            **values,
        )
    return said(
        "the window holds %(count)s week buckets; at most %(most)s — "
        "choose a shorter window or a larger bucket",
        **values,
    )


def summary(
    rt: Runtime,
    user: StaffUser,
    since: datetime | None,
    until: datetime | None,
    bucket: Bucket,
    client: str | None,
) -> StatsSummary:
    """The dashboard's figures for ``user``; the read is audited (one event per summary).

    The aggregates run in a reading session rather than inside the single writer: a
    dashboard over a million reports takes long enough that holding the writer would delay
    every report's acknowledgement. The audit event is committed before the figures are
    returned, so an unrecorded read never reaches the caller.
    """
    now = utcnow()
    window = summary_window(since, until, bucket, now)
    with rt.db.session(as_user=user.id) as session:
        figures = _figures(session, user, window, now, rt.db.dialect)
    purpose = (
        f"since={window.since.isoformat()} until={window.until.isoformat()} "
        f"bucket={window.bucket.value}"
    )
    rt.db.write_sync(
        lambda s: record_event(s, user.actor(client), "stats.summary.viewed", purpose=purpose),
        as_user=user.id,
    )
    return figures


def _figures(
    session: Session, user: StaffUser, window: SummaryWindow, now: datetime, dialect: str
) -> StatsSummary:
    _, config = config_in_force(session)
    found = _report_figures(session, user, window, now, dialect)
    areas = found["area"]
    return StatsSummary(
        since=window.since,
        until=window.until,
        bucket=window.bucket,
        generated_at=now,
        reports_total=sum(found["kind"].values()),
        reports_over_time=_series(
            f"Reports received by {window.bucket.value}",
            f"{window.bucket.value.capitalize()} starting",
            window.bucket_labels(),
            found["bucket"],
        ),
        by_kind=_series("Reports by kind", "Kind", [k.value for k in ReportKind], found["kind"]),
        by_category=_series(
            "Reports by behaviour category (a report may have several)",
            "Category",
            [*CATEGORY_CODES, UNCATEGORISED],
            found["category"],
        ),
        by_priority=_series(
            "Reports by priority", "Priority", [*PRIORITIES, PENDING], found["priority"]
        ),
        by_outcome=_series(
            "Reports by outcome",
            "Outcome",
            [*(o.value for o in Outcome), UNDECIDED],
            found["outcome"],
        ),
        by_area=_series(
            "Reports by area (outward postcode)",
            "Area",
            sorted(areas, key=lambda a: (a == UNKNOWN_AREA, -areas[a], a)),
            areas,
        ),
        time_to_triage=_timing_rows(found, "triage"),
        time_to_decision=_timing_rows(found, "decision"),
        service_levels=[
            _service_level(found, p, int(getattr(config.service_levels_minutes, p)))
            for p in PRIORITIES
        ],
        backlog=_backlog(session, user, now),
        alerts=_alerts(session, user, window),
    )


def _series(
    caption: str,
    heading: str,
    order: Sequence[str],
    counts: Mapping[str, int],
    value_heading: str = "Reports",
) -> CountSeries:
    """Every expected label (zeros included, so tables keep their shape), then any label
    the data holds that the vocabulary does not know, so nothing counted is dropped."""
    labels = list(order) + sorted(set(counts) - set(order))
    return CountSeries(
        caption=caption,
        label_heading=heading,
        value_heading=value_heading,
        labels=labels,
        values=[counts.get(label, 0) for label in labels],
    )


def _timing_rows(found: Mapping[str, Mapping[str, int]], measure: str) -> list[TimingRow]:
    return [
        TimingRow(
            label=label,
            reports=found[f"{measure}_n"].get(label, 0),
            p50_seconds=found[f"{measure}_p50"].get(label),
            p90_seconds=found[f"{measure}_p90"].get(label),
        )
        for label in ("all", *PRIORITIES)
    ]


def _service_level(
    found: Mapping[str, Mapping[str, int]], priority: str, target_minutes: int
) -> ServiceLevelRow:
    met, missed = found["met"].get(priority, 0), found["missed"].get(priority, 0)
    judged = met + missed
    return ServiceLevelRow(
        priority=priority,
        target_minutes=target_minutes,
        met=met,
        missed=missed,
        pending=found["due"].get(priority, 0) - judged,
        share_met=round(met / judged, 4) if judged else None,
    )


# -- one scan of the window's visible reports ---------------------------------------------


def _visible_reports(user: StaffUser, window: SummaryWindow, *columns: Column) -> Select[Any]:
    """Reports received in the window that ``user`` may see, beside their triage result
    (outer-joined: a report whose pipeline has not started still counts)."""
    return (
        select(*columns)
        .select_from(Report)
        .outerjoin(TriageResult, TriageResult.report_id == Report.id)
        .where(
            Report.received_at >= window.since,
            Report.received_at < window.until,
            policy.reports(user),
        )
    )


def _report_figures(
    session: Session, user: StaffUser, window: SummaryWindow, now: datetime, dialect: str
) -> dict[str, dict[str, int]]:
    """Every figure about the window's reports, as {figure: {label: number}}, from ONE scan.

    The reports the user may see are read once into a materialised common table expression,
    with each one's labels (kind, bucket, area, …) and elapsed times worked out; every
    figure is then a GROUP BY over that, all in a single statement whose rows are
    (figure, label, number). Why one scan: on PostgreSQL each row read is also checked by
    row-level security, which costs far more than the counting; reading the rows once instead
    of once per figure is what keeps the dashboard usable over a million reports.
    """
    visible = _labelled(user, window, now, dialect).cte("visible").prefix_with("MATERIALIZED")
    v = visible.c
    parts: list[Select[str, str, int]] = [
        _figure(name, v[name], func.count()).group_by(v[name])
        for name in ("kind", "priority", "outcome", "bucket", "area")
    ]
    parts += [
        _figure(verdict, v.priority, func.sum(v[verdict])).group_by(v.priority)
        for verdict in ("met", "missed", "due")
    ]
    parts += [
        _figure("category", _text(code), func.sum(case((flag, 1), else_=0))).select_from(visible)
        for code, flag in _category_flags(v.codes).items()
    ]
    parts += _timing_parts(visible)
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for figure, label, number in session.execute(union_all(*parts)):
        if number is not None:
            found[str(figure)][str(label)] = int(number)
    return found


def _labelled(user: StaffUser, window: SummaryWindow, now: datetime, dialect: str) -> Select[Any]:
    """One row per visible report, holding only what the figures group or rank by."""
    due_at, decided_at = TriageResult.due_at, TriageResult.decided_at
    # Service levels are judged against each report's own due time (set from the service
    # level in force when it was triaged): met when the analyst's outcome came by then;
    # missed when it came later, or has not come and the due time has passed.
    met = and_(decided_at.is_not(None), decided_at <= due_at)
    missed = or_(
        and_(decided_at.is_not(None), decided_at > due_at),
        and_(decided_at.is_(None), due_at < now),
    )
    received = _epoch_seconds(Report.received_at, dialect)
    scored = TriageResult.priority.is_not(None)
    return _visible_reports(
        user,
        window,
        Report.kind.label("kind"),
        func.coalesce(TriageResult.priority, PENDING).label("priority"),
        func.coalesce(TriageResult.outcome, UNDECIDED).label("outcome"),
        _bucket_label(Report.received_at, window, dialect).label("bucket"),
        _outward_code(Report.where_postcode).label("area"),
        TriageResult.category_codes.label("codes"),
        case((met, 1), else_=0).label("met"),
        case((missed, 1), else_=0).label("missed"),
        case((due_at.is_not(None), 1), else_=0).label("due"),
        case((scored, _epoch_seconds(TriageResult.triaged_at, dialect) - received)).label("triage"),
        case((scored, _epoch_seconds(decided_at, dialect) - received)).label("decision"),
    )


def _text(value: str) -> ColumnElement[str]:
    """A constant written into the SQL (only ever one of this module's own names)."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _figure(
    name: str, label: ColumnElement[Any], number: ColumnElement[Any]
) -> Select[str, str, int]:
    """One member of the union: rows of (figure, label, number)."""
    return select(
        _text(name).label("figure"),
        cast(label, String).label("label"),
        cast(number, BigInteger).label("number"),
    )


def _category_flags(codes: ColumnElement[str]) -> dict[str, ColumnElement[bool]]:
    """Whether a report holds each category (codes are stored as ",a,b,")."""
    flags = {code: codes.contains(f",{code},", autoescape=True) for code in CATEGORY_CODES}
    flags[UNCATEGORISED] = or_(codes.is_(None), codes == ",")
    return flags


def _percentile_rank(n: ColumnElement[int], percent: int) -> ColumnElement[int]:
    """The nearest-rank position ceil(percent% of n), in integer arithmetic both engines
    agree on (0 when n is 0, which no row's position equals)."""
    return (n * percent + 99) // 100


def _timing_parts(visible: CTE) -> list[Select[str, str, int]]:
    """p50 and p90 of receipt to triage and to decision, overall and by priority.

    Window functions rank each elapsed time once (unknown ones last, so ranks 1..n are the
    known ones); only the rows at the wanted ranks are returned — a handful, however many
    reports. Figures: ``triage_n``, ``triage_p50``, ``triage_p90`` and the same for
    ``decision``, each labelled "all" or by priority.
    """
    v = visible.c
    columns: list[ColumnElement[Any]] = [v.priority, v.triage, v.decision]
    for measure in ("triage", "decision"):
        for scope, partition in (("all", None), ("priority", v.priority)):
            order = v[measure].asc().nulls_last()
            rank = func.row_number().over(partition_by=partition, order_by=order)
            columns.append(rank.label(f"{measure}_{scope}_rank"))
            count = func.count(v[measure]).over(partition_by=partition)
            columns.append(count.label(f"{measure}_{scope}_n"))
    ranked = select(*columns).where(v.priority != PENDING).cte("ranked")
    r = ranked.c
    parts: list[Select[str, str, int]] = []
    for measure in ("triage", "decision"):
        scored = v.priority != PENDING
        parts.append(_figure(f"{measure}_n", _text("all"), func.count(v[measure])).where(scored))
        parts.append(
            _figure(f"{measure}_n", v.priority, func.count(v[measure]))
            .where(scored)
            .group_by(v.priority)
        )
        for scope in ("all", "priority"):
            label = _text("all") if scope == "all" else r.priority
            at, n = r[f"{measure}_{scope}_rank"], r[f"{measure}_{scope}_n"]
            parts += [
                _figure(f"{measure}_p{p}", label, r[measure]).where(at == _percentile_rank(n, p))
                for p in (50, 90)
            ]
    return parts


# -- dialect-specific expressions -------------------------------------------------------


_PG_UNITS = {Bucket.day: "'day'", Bucket.week: "'week'", Bucket.month: "'month'"}
_SQLITE_BUCKETS: dict[Bucket, tuple[str, ...]] = {
    Bucket.day: ("'%Y-%m-%d'",),
    Bucket.week: ("'weekday 0'", "'-6 days'"),  # the Sunday ending the week, less six days
    Bucket.month: ("'%Y-%m-01'",),
}


def _bucket_label(column: Column, window: SummaryWindow, dialect: str) -> ColumnElement[str]:
    """The first day (``YYYY-MM-DD``, UTC) of the bucket holding ``column``."""
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), column)
        unit: ColumnElement[str] = literal_column(_PG_UNITS[window.bucket])
        return func.to_char(
            func.date_trunc(unit, utc), literal_column("'YYYY-MM-DD'"), type_=String
        )
    args: list[ColumnElement[str]] = [literal_column(a) for a in _SQLITE_BUCKETS[window.bucket]]
    if window.bucket is Bucket.week:
        return func.date(column, *args, type_=String)
    return func.strftime(args[0], column, type_=String)


def _epoch_seconds(column: Column, dialect: str) -> ColumnElement[int]:
    """Whole seconds since 1970 (fractions dropped the same way on both engines)."""
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", column)), BigInteger)
    return cast(func.strftime(literal_column("'%s'"), column), BigInteger)


def _outward_code(column: Column) -> ColumnElement[str]:
    """The outward code of a UK postcode ("LS6 2QT" -> "LS6"): the inward code is always its
    last three characters, so this holds with or without the space."""
    compact = func.upper(func.replace(column, literal_column("' '"), literal_column("''")))
    length = func.length(compact)
    return func.coalesce(
        case(
            (length > 4, func.substr(compact, 1, length - 3)),
            else_=compact,
        ),
        UNKNOWN_AREA,
    )


# -- the open backlog and the alerts ---------------------------------------------------


def _backlog(session: Session, user: StaffUser, now: datetime) -> BacklogOut:
    """Open work as it stands now, over every report the user may see (no window)."""
    base = (
        select(
            func.coalesce(TriageResult.priority, PENDING).label("label"),
            TriageResult.due_at.label("due_at"),
        )
        .join(Report, Report.id == TriageResult.report_id)
        .where(TriageResult.state.in_(OPEN_STATES), policy.reports(user))
        .subquery()
    )
    overdue = func.sum(case((base.c.due_at < now, 1), else_=0))
    rows = session.execute(select(base.c.label, func.count(), overdue).group_by(base.c.label)).all()
    counts = {str(label): int(n) for label, n, _ in rows}
    return BacklogOut(
        open_total=sum(counts.values()),
        overdue=sum(int(late or 0) for _, _, late in rows),
        by_priority=_series("Open reports by priority", "Priority", [*PRIORITIES, PENDING], counts),
    )


def _alerts(session: Session, user: StaffUser, window: SummaryWindow) -> AlertsOut:
    rows = session.execute(
        select(Alert.state, func.count(), func.sum(case((Alert.reappeared, 1), else_=0)))
        .where(
            Alert.created_at >= window.since,
            Alert.created_at < window.until,
            policy.visible(user, Alert, "alert"),
        )
        .group_by(Alert.state)
    ).all()
    counts = {str(state): int(n) for state, n, _ in rows}
    return AlertsOut(
        total=sum(counts.values()),
        reappeared=sum(int(r or 0) for _, _, r in rows),
        by_state=_series("Alerts by state", "State", ALERT_STATES, counts, "Alerts"),
    )


# -- windows and buckets ------------------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _invalid(pointer: str, detail: str) -> Problem:
    return Problem(
        422,
        said("Invalid request"),
        said("Check the period and bucket."),
        errors=[field_error(pointer, detail)],
        kind="invalid-request",
    )
