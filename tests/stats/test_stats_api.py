"""The supervisors' statistics: exact counts over only what the user may see, the same on
SQLite and PostgreSQL, audited, with specific errors and the permission enforced."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.factories import auth, minimal_report, report_payload, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.jobs.worker import Worker
from vigil.triage.models import TriageResult
from vigil.triage.tasks import default_registry
from vigil.web.runtime import Runtime

URL = "/api/v1/stats/summary"
THREAT = (
    "I heard the man in flat 3 say on the phone he is going to bomb the Arndale Centre "
    "tomorrow night. He has bags of ammonium nitrate in his garage and a white van AB12 CDE. "
    "His number is 07700 900456."
)
VAGUE = "There is something odd about the house on the corner, it just feels wrong to me."
PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def submit(client: TestClient, payload: dict[str, Any]) -> str:
    response = client.post("/api/v1/reports", json=payload)
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def supervisor(rt: Runtime, email: str = "sup@example.org", **kw: Any) -> str:
    return staff_token(rt, email, role=Role.supervisor, clearance=Classification.secret, **kw)


def stats(client: TestClient, token: str, **params: str) -> dict[str, Any]:
    response = client.get(URL, params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def table(series: dict[str, Any]) -> dict[str, int]:
    assert len(series["labels"]) == len(series["values"])
    return dict(zip(series["labels"], series["values"], strict=True))


def nonzero(series: dict[str, Any]) -> dict[str, int]:
    return {label: n for label, n in table(series).items() if n}


def summary_reads(rt: Runtime) -> int:
    with rt.db.session() as session:
        found = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "stats.summary.viewed")
        )
    return int(found or 0)


def place(rt: Runtime, reference: str, **values: Any) -> None:
    """Set a report's receipt (and its triage row's fields) to known values."""

    def work(session: Any) -> None:
        rid = session.scalar(select(Report.id).where(Report.reference == reference))
        if "received_at" in values:
            session.execute(
                update(Report).where(Report.id == rid).values(received_at=values["received_at"])
            )
        session.execute(update(TriageResult).where(TriageResult.report_id == rid).values(values))

    rt.db.write_sync(work)


def test_counts_match_the_reports_after_the_pipeline_has_run(
    client: TestClient, rt: Runtime
) -> None:
    investigator = staff_token(
        rt, "inv@example.org", role=Role.investigator, clearance=Classification.secret
    )
    known = {"name": "Operation Larch subject", "classification": "SECRET", "status": "closed"}
    known["person"] = {"first_name": "Karl", "phone": "07700900123"}  # type: ignore[assignment]
    made = client.post("/api/v1/linkage/subjects", json=known, headers=auth(investigator))
    assert made.status_code == 201, made.text
    payloads = [
        minimal_report(description=THREAT, kind="threat"),
        minimal_report(description=VAGUE),
        minimal_report(description=PHONE_REPORT),
        report_payload(),  # a vehicle at "ls6 2qt"
        minimal_report(
            description=VAGUE + " Again.", where={"postcode": "LS1 4AP", "description": "x"}
        ),
    ]
    refs = [submit(client, p) for p in payloads]
    Worker(rt, default_registry(), poll_s=0.01).run_until_idle()
    analyst = staff_token(rt)
    decided = client.post(
        f"/api/v1/triage/reports/{refs[1]}/outcome",
        json={"outcome": "no_further_action", "reason": "nothing to act on"},
        headers=auth(analyst),
    )
    assert decided.status_code == 200, decided.text
    token = supervisor(rt)

    before = summary_reads(rt)
    body = stats(client, token)
    assert summary_reads(rt) == before + 1  # one audit event per summary read

    with rt.db.session() as session:
        rows = session.execute(
            select(TriageResult.priority, TriageResult.category_codes, TriageResult.report_id)
        ).all()
    priorities = Counter(p or "pending" for p, _, _ in rows)
    categories = Counter(c for _, codes, _ in rows for c in codes.split(",") if c)
    categories["uncategorised"] = sum(1 for _, codes, _ in rows if codes.strip(",") == "")
    categories = +categories  # keep only the non-zero counts, as the figures are compared
    assert body["reports_total"] == 5
    assert nonzero(body["by_kind"]) == {"threat": 1, "behaviour": 3, "vehicle": 1}
    assert nonzero(body["by_priority"]) == dict(priorities)
    assert table(body["by_priority"])["P1"] >= 1  # the threat to life
    assert nonzero(body["by_category"]) == dict(categories) and categories
    assert nonzero(body["by_outcome"]) == {"no_further_action": 1, "undecided": 4}
    assert table(body["by_area"]) == {"LS6": 1, "LS1": 1, "unknown": 3}
    assert body["by_area"]["labels"][-1] == "unknown"
    assert sum(body["reports_over_time"]["values"]) == 5
    today = datetime.now(UTC).date()
    this_week = (today - timedelta(days=today.weekday())).isoformat()
    assert nonzero(body["reports_over_time"]) == {this_week: 5}
    assert body["reports_over_time"]["labels"][-1] == this_week
    assert len(body["reports_over_time"]["labels"]) in (13, 14, 15)  # 90 days of weeks
    assert body["time_to_triage"][0]["label"] == "all"
    assert body["time_to_triage"][0]["reports"] == 5
    assert body["time_to_decision"][0]["reports"] == 1
    assert body["backlog"]["open_total"] == 4
    assert sum(body["backlog"]["by_priority"]["values"]) == 4
    assert body["alerts"]["total"] == 1 and body["alerts"]["reappeared"] == 1
    assert nonzero(body["alerts"]["by_state"]) == {"new": 1}
    assert body["alerts"]["by_state"]["value_heading"] == "Alerts"


def test_a_user_of_another_organisation_counts_nothing_they_may_not_see(
    client: TestClient, rt: Runtime
) -> None:
    for text in (THREAT, VAGUE, PHONE_REPORT):
        submit(client, minimal_report(description=text))
    Worker(rt, default_registry(), poll_s=0.01).run_until_idle()
    assert stats(client, supervisor(rt))["reports_total"] == 3  # they are there to count

    outsider = supervisor(rt, "north@example.org", org="Northern CT Unit", teams=("North",))
    body = stats(client, outsider)
    assert body["reports_total"] == 0
    for name in ("reports_over_time", "by_kind", "by_category", "by_priority", "by_outcome"):
        assert set(body[name]["values"]) == {0}, name
    assert body["by_area"]["labels"] == [] and body["by_area"]["values"] == []
    for row in body["time_to_triage"] + body["time_to_decision"]:
        assert (row["reports"], row["p50_seconds"], row["p90_seconds"]) == (0, None, None)
    for row in body["service_levels"]:
        assert (row["met"], row["missed"], row["pending"], row["share_met"]) == (0, 0, 0, None)
    assert body["backlog"]["open_total"] == 0 and body["backlog"]["overdue"] == 0
    assert set(body["backlog"]["by_priority"]["values"]) == {0}
    assert body["alerts"]["total"] == 0 and set(body["alerts"]["by_state"]["values"]) == {0}


def test_buckets_are_utc_days_iso_weeks_and_months_on_either_database(
    client: TestClient, rt: Runtime
) -> None:
    moments = [
        utc(2025, 12, 22, 0, 0, 0),  # Monday: the first instant of the window
        utc(2025, 12, 28, 23, 59, 59),  # Sunday: still the week of 22 December
        utc(2025, 12, 29, 0, 0, 0),  # Monday: a new week, in the old year
        utc(2026, 1, 1, 12, 0, 0),  # Thursday: the same ISO week, a new month
        datetime(2026, 1, 4, 23, 59, 59, 900000, tzinfo=UTC),  # Sunday, last tenth of a second
        utc(2026, 1, 5, 0, 0, 0),  # Monday
        utc(2026, 1, 12, 0, 0, 0),  # == until: outside the window
        utc(2025, 12, 21, 23, 59, 59),  # just before since: outside
    ]
    for moment in moments:
        ref = submit(client, minimal_report(description=VAGUE))
        place(rt, ref, received_at=moment)
    token = supervisor(rt)
    window = {"since": "2025-12-22T00:00:00Z", "until": "2026-01-12T00:00:00Z"}

    weeks = stats(client, token, bucket="week", **window)
    assert table(weeks["reports_over_time"]) == {
        "2025-12-22": 2,
        "2025-12-29": 3,
        "2026-01-05": 1,
    }
    assert weeks["reports_total"] == 6
    months = stats(client, token, bucket="month", **window)
    assert table(months["reports_over_time"]) == {"2025-12-01": 3, "2026-01-01": 3}
    days = stats(client, token, bucket="day", **window)
    assert len(days["reports_over_time"]["labels"]) == 21
    assert days["reports_over_time"]["labels"][0] == "2025-12-22"
    assert nonzero(days["reports_over_time"]) == {
        "2025-12-22": 1,
        "2025-12-28": 1,
        "2025-12-29": 1,
        "2026-01-01": 1,
        "2026-01-04": 1,
        "2026-01-05": 1,
    }
    # A time without a zone is UTC; a date alone is its midnight.
    naive = stats(client, token, bucket="week", since="2025-12-22", until="2026-01-12T00:00")
    assert naive["reports_over_time"] == weeks["reports_over_time"]


def test_time_to_triage_and_service_levels_use_nearest_rank_whole_seconds(
    client: TestClient, rt: Runtime
) -> None:
    start = datetime(2026, 2, 2, 9, 0, 0, 400000, tzinfo=UTC)
    later = datetime.now(UTC) + timedelta(days=1)
    plan = [  # priority, seconds to triage, seconds to decision, due after (s) or a time
        ("P1", 10, 100, 60),  # decided late: missed
        ("P2", 20, 30, 60),  # decided in time: met
        ("P2", 30, None, 60),  # undecided and past due: missed
        ("P2", 40, None, later),  # undecided, not yet due: pending
        ("P2", 50.7, 3600, 7200),  # decided in time: met; 50.7 s from .4 ends in second 51
    ]
    for priority, to_triage, to_decision, due in plan:
        ref = submit(client, minimal_report(description=VAGUE))
        place(
            rt,
            ref,
            received_at=start,
            priority=priority,
            priority_rank=int(priority[1]),
            triaged_at=start + timedelta(seconds=to_triage),
            due_at=due if isinstance(due, datetime) else start + timedelta(seconds=due),
            decided_at=None if to_decision is None else start + timedelta(seconds=to_decision),
            state="new" if to_decision is None else "decided",
            outcome=None if to_decision is None else "no_further_action",
        )
    body = stats(client, supervisor(rt), since="2026-02-01T00:00:00Z", until="2026-02-03T00:00:00Z")
    triage = {
        r["label"]: (r["reports"], r["p50_seconds"], r["p90_seconds"])
        for r in body["time_to_triage"]
    }
    assert triage == {
        "all": (5, 30, 51),
        "P1": (1, 10, 10),
        "P2": (4, 30, 51),
        "P3": (0, None, None),
        "P4": (0, None, None),
    }
    decision = {
        r["label"]: (r["reports"], r["p50_seconds"], r["p90_seconds"])
        for r in body["time_to_decision"]
    }
    assert decision["all"] == (3, 100, 3600)
    assert decision["P2"] == (2, 30, 3600)
    levels = {r["priority"]: r for r in body["service_levels"]}
    assert (levels["P1"]["met"], levels["P1"]["missed"], levels["P1"]["share_met"]) == (0, 1, 0)
    assert (levels["P2"]["met"], levels["P2"]["missed"], levels["P2"]["pending"]) == (2, 1, 1)
    assert levels["P2"]["share_met"] == round(2 / 3, 4)
    assert levels["P3"]["share_met"] is None
    assert levels["P1"]["target_minutes"] > 0
    assert body["backlog"]["open_total"] == 2 and body["backlog"]["overdue"] == 1
    assert nonzero(body["backlog"]["by_priority"]) == {"P2": 2}


def test_bad_parameters_answer_422_naming_the_parameter_and_are_not_audited(
    client: TestClient, rt: Runtime
) -> None:
    token = supervisor(rt)
    before = summary_reads(rt)
    cases = {
        "#/query/bucket": {"bucket": "year"},
        "#/query/since": {"since": "last tuesday"},
        "#/query/until": {"since": "2026-03-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
    }
    for pointer, params in cases.items():
        response = client.get(URL, params=params, headers=auth(token))
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer], params
    too_long = client.get(
        URL,
        params={"since": "2020-01-01", "until": "2026-01-01", "bucket": "day"},
        headers=auth(token),
    )
    assert too_long.status_code == 422
    (error,) = too_long.json()["errors"]
    assert error["pointer"] == "#/query/since" and "at most 1000" in error["detail"]
    future = client.get(URL, params={"since": "2999-01-01"}, headers=auth(token))
    assert future.status_code == 422
    assert future.json()["errors"][0]["pointer"] == "#/query/since"
    # The same long window is fine by month.
    by_month = {"since": "2020-01-01", "until": "2026-01-01", "bucket": "month"}
    assert len(stats(client, token, **by_month)["reports_over_time"]["labels"]) == 72
    assert summary_reads(rt) == before + 1


def test_only_supervisors_and_administrators_may_read_the_statistics(
    client: TestClient, rt: Runtime
) -> None:
    assert client.get(URL).status_code == 401
    for role in (Role.triage_analyst, Role.auditor, Role.partner_practitioner):
        token = staff_token(rt, f"{role.value}@example.org", role=role)
        assert client.get(URL, headers=auth(token)).status_code == 403, role
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    assert client.get(URL, headers=auth(admin)).status_code == 200
    assert client.get(URL, headers=auth(supervisor(rt))).status_code == 200


def test_bucket_labels_cover_the_window_without_gaps() -> None:
    from vigil.stats.schemas import Bucket
    from vigil.stats.services import summary_window

    now = utc(2026, 3, 4, 10, 0, 0)
    window = summary_window(utc(2026, 2, 27, 18, 0, 0), None, Bucket.day, now)
    assert window.bucket_labels() == [
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    default = summary_window(None, None, Bucket.month, now)
    assert default.since == now - timedelta(days=90) and default.until == now
    assert default.bucket_labels()[0] == date(2025, 12, 1).isoformat()
    assert default.bucket_labels()[-1] == "2026-03-01"
    year_end = summary_window(utc(2025, 11, 30), utc(2026, 2, 1), Bucket.month, now)
    assert year_end.bucket_labels() == ["2025-11-01", "2025-12-01", "2026-01-01"]
    last_month = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    end_of_time = summary_window(utc(9999, 12, 1), last_month, Bucket.week, now)
    assert end_of_time.bucket_labels()[-1] == "9999-12-27"  # no day past the calendar's end
