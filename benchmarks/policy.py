"""Cost of need-to-know filtering and auditing on list and get, at 100k reports.

Each figure is printed beside the same query without the policy filter and without the
audit write, measured in the same run on the same database, as a ratio (target <= 1.3x).

    .venv/bin/python benchmarks/policy.py [--reports 100000] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from vigil import migrate
from vigil.access import policy
from vigil.access.fields import restrict_report
from vigil.access.markings import Classification
from vigil.access.models import RecordShare, User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import (
    StaffUser,
    create_user,
    ensure_organisation,
    ensure_team,
    staff_user,
)
from vigil.audit.services import SYSTEM
from vigil.db import SWITCH_INTERVAL_S, create_db_engine
from vigil.intake import reading
from vigil.intake.codes import new_reference
from vigil.intake.models import Report
from vigil.intake.schemas import ReportOut, ReportPage
from vigil.intake.views import report_out
from vigil.settings import Settings
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime

ORGS = [
    ("National CT Reporting Hub", OrganisationKind.ct_policing),
    ("Synthetic Constabulary", OrganisationKind.police),
    ("Synthetic Health Trust", OrganisationKind.health),
]
MARKINGS = ["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET"]


def populate(rt: Runtime, n: int) -> tuple[int, dict[str, list[str]]]:
    """n reports over three organisations and markings, a few shared; returns the benchmark
    user and references: "own" (their team's, within clearance), "secret" (their team's,
    above their clearance) and "other" (an organisation's that shares nothing with them)."""

    def setup(session: Session) -> tuple[int, list[tuple[int, int]]]:
        units = []
        for name, kind in ORGS:
            org = ensure_organisation(session, name, kind)
            units.append((org.id, ensure_team(session, org, "Triage").id))
        user = create_user(
            session,
            SYSTEM,
            "bench@example.org",
            ORGS[0][0],
            Role.triage_analyst,
            ORGS[0][1],
            teams=("Triage",),
            clearance=Classification.official_sensitive,
        )
        return user.id, units

    user_id, units = rt.db.write_sync(setup)
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    references: dict[str, list[str]] = {"own": [], "secret": [], "other": []}
    seen: set[str] = set()
    batch = []
    for i in range(n):
        org_id, team_id = units[i % 3]
        marking = MARKINGS[rng.randrange(3)]
        reference = new_reference()
        while reference in seen:
            reference = new_reference()
        seen.add(reference)
        if i % 3 == 0:
            references["secret" if marking == "SECRET" else "own"].append(reference)
        elif i % 3 == 2:
            references["other"].append(reference)  # the health trust's: never shared
        batch.append(
            {
                "reference": reference,
                "received_at": start + timedelta(seconds=i * 17),
                "channel": "api",
                "kind": "behaviour",
                "description": "Synthetic benchmark report about a parked van and gas cylinders.",
                "owning_org_id": org_id,
                "owning_team_id": team_id,
                "classification": marking,
                "anonymous": True,
                "when_ongoing": False,
                "when_unsure": False,
                "content_sha256": "0" * 64,
            }
        )
        if len(batch) == 5000:
            rt.db.write_sync(lambda s, rows=batch: s.execute(insert(Report), rows))
            batch = []
    if batch:
        rt.db.write_sync(lambda s, rows=batch: s.execute(insert(Report), rows))

    def share_some(session: Session) -> None:
        ids = session.scalars(
            select(Report.id).where(Report.owning_org_id == units[1][0]).limit(2000)
        )
        session.execute(
            insert(RecordShare),
            [
                {
                    "record_type": "report",
                    "record_id": rid,
                    "org_id": units[0][0],
                    "purpose": "bench",
                    "shared_at": start,
                }
                for rid in ids
            ],
        )

    rt.db.write_sync(share_some)
    return user_id, references


def timed(ops: Sequence[Callable[[], object]], repeat: int) -> list[list[float]]:
    """``repeat`` calls of each op, interleaved in a shuffled order, so that the machine's
    drift during the run (other work, CPU frequency) falls on every op alike."""
    plan = [k for k in range(len(ops)) for _ in range(repeat)]
    random.Random(5).shuffle(plan)
    samples: list[list[float]] = [[] for _ in ops]
    for k in plan:
        t = time.perf_counter()
        ops[k]()
        samples[k].append((time.perf_counter() - t) * 1000)
    return samples


def concurrent_rate(op: Callable[[], object], seconds: float, workers: int) -> float:
    deadline = time.monotonic() + seconds
    done = [0] * workers

    def loop(k: int) -> None:
        while time.monotonic() < deadline:
            op()
            done[k] += 1

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as in `vigil serve`, where these calls run
    tmp = Path(tempfile.mkdtemp(prefix="vigil-policy-"))
    if args.engine == "sqlite":
        url = owner = f"sqlite:///{tmp / 'bench.db'}"
    else:
        admin = create_db_engine("postgresql://postgres@127.0.0.1:5432/postgres").execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "vigil_policy_bench" WITH (FORCE)'))
            conn.execute(text('CREATE DATABASE "vigil_policy_bench"'))
        owner = "postgresql://postgres@127.0.0.1:5432/vigil_policy_bench"
        url = make_url(owner).set(username="vigil_app").render_as_string(hide_password=False)
    migrate.upgrade(owner)
    rt = Runtime.build(
        Settings(environment="test", database_url=url, data_dir=tmp / "var", log_level="warning")
    )
    t0 = time.perf_counter()
    user_id, references = populate(rt, args.reports)
    if args.engine == "postgresql":  # what autovacuum would have done to a settled database
        with create_db_engine(owner).connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    print(f"populated {args.reports:,} reports in {time.perf_counter() - t0:.1f}s ({args.engine})")
    with rt.db.session() as session:
        account = session.get(User, user_id)
        assert account is not None
        user = staff_user(session, account)
        visible = session.scalar(
            select(func.count()).select_from(Report).where(policy.reports(user))
        )
    print(f"the benchmark user may see {visible:,} of {args.reports:,}")
    own = references["own"][-5000:]
    rng = random.Random(3)

    # The three ways run the same statements and the same serialisation as the service
    # (reading.list_reports / reading.get_report); only the policy filter and the audit
    # event are added in turn, so the ratios are the cost of those two alone.
    def page_of(session: Session, where: list[ColumnElement[bool]]) -> ReportPage:
        rows = list(
            session.scalars(
                select(Report)
                .where(*where)
                .order_by(Report.received_at.desc(), Report.id.desc())
                .limit(51)
            )
        )[:50]
        counts = reading.followup_counts(session, [r.id for r in rows])
        items = [restrict_report(report_out(r, counts.get(r.id, 0)), user.role) for r in rows]
        return ReportPage(items=items, next_cursor=None)

    def shown(session: Session, where: list[ColumnElement[bool]]) -> ReportOut:
        row = session.scalar(select(Report).where(Report.reference == rng.choice(own), *where))
        assert row is not None
        return reading.report_as_shown(session, user, row, reading.followup_count(session, row.id))

    def plain_list() -> ReportPage:
        with rt.db.session() as session:
            return page_of(session, [])

    def filtered_list() -> ReportPage:
        with rt.db.session(as_user=user.id) as session:
            return page_of(session, [policy.reports(user)])

    def policy_list() -> ReportPage:
        return reading.list_reports(rt, user, cursor=None, limit=50)

    def plain_get() -> ReportOut:
        with rt.db.session() as session:
            return shown(session, [])

    def filtered_get() -> ReportOut:
        with rt.db.session(as_user=user.id) as session:
            return shown(session, [policy.reports(user)])

    def policy_get() -> ReportOut:
        return reading.get_report(rt, user, rng.choice(own))

    print("p50 latency of one call (ms), and calls per second with 16 threads; ratio = x plain")
    print(
        f"{'operation':<10}{'plain':>9}{'policy':>9}{'ratio':>7}{'+audit':>9}{'ratio':>7}"
        f"{'plain/s':>9}{'policy/s':>10}{'ratio':>7}{'+audit/s':>10}{'ratio':>7}"
    )
    cases = (
        ("list", plain_list, filtered_list, policy_list),
        ("get", plain_get, filtered_get, policy_get),
    )
    for name, plain, filtered, audited in cases:
        for op in (plain, filtered, audited):
            op()
        a, b, c = map(statistics.median, timed((plain, filtered, audited), args.repeat))
        ra, rb, rc = (concurrent_rate(op, args.seconds, 16) for op in (plain, filtered, audited))
        print(
            f"{name:<10}{a:>9.2f}{b:>9.2f}{b / a:>7.2f}{c:>9.2f}{c / a:>7.2f}"
            f"{ra:>9.0f}{rb:>10.0f}{ra / rb:>7.2f}{rc:>10.0f}{ra / rc:>7.2f}"
        )
        if args.engine == "sqlite":
            commit_floor(tmp, name, a, args.repeat)
    not_found_timing(rt, user, references, args.repeat * 4)
    rt.db.close()


def commit_floor(folder: Path, name: str, plain_ms: float, repeat: int) -> None:
    """What one durable commit costs on this disk, measured with bare ``sqlite3`` beside the
    database (WAL, ``synchronous=FULL``, one small row): straight after another commit, and
    after the disk has been left alone for as long as the plain reading takes, which is how
    an audited call on an idle server meets it. An audited reading waits for at least this
    commit, so (plain + commit) / plain is the least its ratio can be."""
    connection = sqlite3.connect(folder / "commit-floor.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")

    def commit() -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t (body) VALUES (?)", ("x" * 300,))
        connection.execute("COMMIT")

    def after_pause() -> None:
        end = time.perf_counter() + plain_ms / 1000  # busy, as the reading is
        while time.perf_counter() < end:
            pass
        t = time.perf_counter()
        commit()
        paused.append((time.perf_counter() - t) * 1000)

    paused: list[float] = []
    back_to_back = statistics.median(timed((commit,), repeat)[0])
    for _ in range(repeat):
        after_pause()
    connection.close()
    idle = statistics.median(paused)
    print(
        f"{'':<10}bare fsync'd commit {back_to_back:.2f} ms back to back, {idle:.2f} ms after "
        f"{plain_ms:.1f} ms without I/O: floor for one {name} + its commit "
        f"{(plain_ms + idle) / plain_ms:.2f}x"
    )


def not_found_timing(
    rt: Runtime, user: StaffUser, references: dict[str, list[str]], samples: int
) -> None:
    """A report the user may not see must answer like one that does not exist, in the same
    timing class too. Times the real service call (policy filter; a 404 writes no audit
    event, so none is waited for) for a reference that exists nowhere, one another
    organisation holds and shares with nobody, and one the user's own team holds above their
    clearance, interleaved in random order so that drift affects all three alike. The noise
    floor is the difference between the two halves of the missing-reference samples."""
    rng = random.Random(11)
    groups = {
        "missing": [new_reference() for _ in range(samples)],
        "other organisation": rng.sample(
            references["other"], min(samples, len(references["other"]))
        ),
        "above clearance": rng.sample(
            references["secret"], min(samples, len(references["secret"]))
        ),
    }
    plan = [(name, ref) for name, refs in groups.items() for ref in refs]
    rng.shuffle(plan)
    times: dict[str, list[float]] = {name: [] for name in groups}
    for name, reference in plan:
        t = time.perf_counter()
        try:
            reading.get_report(rt, user, reference)
        except Problem as problem:
            assert problem.status == 404, (name, problem.status)
        else:
            raise AssertionError(f"{name}: {reference} was shown")
        times[name].append((time.perf_counter() - t) * 1000)
    base = times["missing"]
    floor = abs(statistics.median(base[0::2]) - statistics.median(base[1::2]))
    print(f"\n404 timing ({samples:,} calls each, interleaved): p50 and p95 ms, x missing")
    print(f"{'reference':<20}{'p50':>8}{'p95':>8}{'ratio':>7}{'p50 - missing':>15}")
    for name, values in times.items():
        p50 = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        gap = (p50 - statistics.median(base)) * 1000
        print(
            f"{name:<20}{p50:>8.3f}{p95:>8.3f}{p50 / statistics.median(base):>7.2f}{gap:>12.0f} µs"
        )
    print(f"noise floor (two halves of 'missing'): {floor * 1000:.0f} µs")


if __name__ == "__main__":
    main()
