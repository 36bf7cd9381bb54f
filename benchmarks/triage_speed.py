"""Triage speed: pipeline reports/s per core, and report-to-triaged latency under load.

Run by hand or by ``make bench`` (never as a timed test)::

    .venv/bin/python benchmarks/triage_speed.py            # ~2.5 minutes
    .venv/bin/python benchmarks/triage_speed.py --quick    # ~45 s smoke run
    .venv/bin/python benchmarks/triage_speed.py --part throughput --profile
    .venv/bin/python benchmarks/triage_speed.py --engine postgresql --part throughput

Two parts, each beside a baseline measured in the same run:

1. **Throughput** (``--part throughput``). In this process, over a scratch migrated database
   (SQLite, or with ``--engine postgresql`` a scratch ``vigil_bench_triage`` database that is
   dropped again), it submits ``--reports`` synthetic reports through
   ``vigil.intake.services.submit_report`` (so each gets its ``triage_results`` row and its
   ``triage.report`` job exactly as intake makes them), then runs
   a ``Worker(rt, registry, batch_size=64)`` until nothing is due and measures wall time
   and process CPU time (``time.process_time``: every thread, the writer's included). The
   registry holds only ``triage.report`` (``--jobs all``: every kind of
   ``default_registry()``, so the linkage jobs triage queues run too and are in the CPU).
   Reports/s per core = reports ÷ CPU seconds; the rescoring jobs of earlier cluster members
   count in the CPU, not as reports. On PostgreSQL the CPU of the backends serving
   the scratch database is read from /proc as well, and a second figure counts both.
   *Baseline*: the same number of jobs through the same Worker with a no-op handler, i.e.
   the queue's own claim/finish overhead. A breakdown then times the content-only stages
   (extract, categorise, prioritise, text signature) over the same texts in-process; what is
   left of the per-report CPU is database work, clustering and the ORM. ``--profile`` prints
   cProfile's top functions for the pipeline run, with the writer thread (where ``_store``
   runs) profiled as well, both timed in per-thread CPU.
2. **Latency** (``--part latency``). ``vigil serve`` on 127.0.0.1 over a scratch database,
   in-process worker on (the default), loaded with ``POST /api/v1/reports`` by a closed-loop
   keep-alive Python client at ``--concurrency`` connections for ``--duration`` seconds,
   cycling through varied synthetic reports. Then it waits (at most ``--drain`` seconds)
   until every report accepted during the load has ``triage_results.status = 'done'`` and
   computes per report ``triaged_at − received_at`` from the database: p50, p95, max.
   ``--rate R`` offers R reports per second instead (the k-th leaves k / R seconds after the
   start, unless the connections are all still waiting for answers): the question a service
   plans with, how large a steady surge is triaged within the target.
   *Baseline*: the same load against a fresh server with ``VIGIL_JOBS_IN_PROCESS=false``
   (pipeline off), so the ratio of the intake rates is what the pipeline costs intake.

Targets from the issue: ≥ 200 reports/s per core through the pipeline; p95 < 2 s from
receipt to triaged under load. The script ends with PASS/MISS lines and a markdown snippet
for docs/benchmarks.md. Every report is synthetic (phones 07700 900xxx, addresses at
example.org, invented people); only 127.0.0.1 is used; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks import _server
from benchmarks._measure import (
    NOISY_OTHER_PCT,
    machine_busy_s,
    percentile,
    target_table,
    wait_for_quiet,
)
from benchmarks._server import (
    BenchServer,
    filesystem_of,
    proc_cpu_s,
    source_version,
    vigil_executable,
)
from benchmarks._triage_load import (
    LoadResult,
    make_reports,
    request_bytes,
    run_load,
)

# Our own scratch PostgreSQL database, so a concurrent benchmarks/intake.py run (which drops
# and recreates `vigil_bench`) cannot pull it from under us, nor we from under it.
_server.PG_BENCH_DB = "vigil_bench_triage"

TARGET_PER_CORE = 200.0  # reports/s per CPU second through the pipeline
TARGET_P95_S = 2.0  # receipt to triaged, under load
NOOP_KIND = "bench.noop"
SUBMIT_CHUNK = 128  # reports submitted together (the writer group-commits them)


# --------------------------------------------------------------------------------------
# Part 1: pipeline throughput, in this process
# --------------------------------------------------------------------------------------
@dataclass
class WorkerRun:
    label: str
    jobs: int
    wall_s: float
    cpu_s: float
    errors: int
    timed_out: bool = False
    db_cpu_s: float | None = None  # PostgreSQL backends' CPU meanwhile (not in cpu_s)
    statements: int = 0  # SQL statements sent (an executemany counts once)
    # What the run is measured per: the reports triaged (rescoring jobs for earlier cluster
    # members are part of a report's cost, not extra output); 0 means per job.
    reports: int = 0

    @property
    def units(self) -> int:
        return self.reports or self.jobs

    @property
    def per_cpu_s(self) -> float:
        return self.units / self.cpu_s if self.cpu_s else 0.0

    @property
    def per_cpu_s_with_db(self) -> float | None:
        if self.db_cpu_s is None:
            return None
        total = self.cpu_s + self.db_cpu_s
        return self.units / total if total else 0.0

    @property
    def per_wall_s(self) -> float:
        return self.units / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_job(self) -> float:
        return 1000 * self.cpu_s / self.units if self.units else 0.0

    @property
    def statements_each(self) -> float:
        return self.statements / self.units if self.units else 0.0


@dataclass
class Stage:
    name: str
    cpu_s: float
    count: int

    @property
    def ms_each(self) -> float:
        return 1000 * self.cpu_s / self.count if self.count else 0.0


@dataclass
class Throughput:
    reports: int
    insert_wall_s: float
    baseline: WorkerRun
    pipeline: WorkerRun
    stages: list[Stage]
    prepare: Stage | None  # the pipeline's own read-and-analyse step, timed alone
    done: int  # triage_results rows with status 'done' afterwards
    clusters: int  # distinct clusters among them (with more than one member)
    failure: str | None = None
    profile_text: str = ""


def _settings(server: BenchServer) -> Any:
    from vigil.settings import Settings

    return Settings(
        database_url=server.database_url,
        data_dir=server.data_dir,
        log_level="warning",
        public_rate_limit=0,
        jobs_in_process=False,
    )


async def _submit_all(rt: Any, docs: Sequence[dict[str, object]]) -> None:
    from vigil.audit.services import PUBLIC
    from vigil.intake.schemas import ReportIn
    from vigil.intake.services import submit_report

    for first in range(0, len(docs), SUBMIT_CHUNK):
        chunk = docs[first : first + SUBMIT_CHUNK]
        await asyncio.gather(
            *(
                submit_report(rt, PUBLIC, ReportIn.model_validate(doc), [], channel="api")
                for doc in chunk
            )
        )


def _timed_worker(
    rt: Any,
    registry: Any,
    label: str,
    batch_size: int,
    max_s: float,
    expected: int,
    *,
    reports: int = 0,
) -> WorkerRun:
    """Run ``registry``'s due jobs to the end (or ``max_s``), timing wall and process CPU."""
    from sqlalchemy import event

    from vigil.jobs.worker import Worker

    worker = Worker(rt, registry, batch_size=batch_size)
    gc.collect()
    deadline = time.monotonic() + max_s
    timed_out = False
    backends0 = _backend_cpu(rt)
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    event.listen(rt.db.engine, "before_cursor_execute", count)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        while worker.run_once():
            if time.monotonic() > deadline:
                timed_out = True
                break
    finally:
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        event.remove(rt.db.engine, "before_cursor_execute", count)
    run = WorkerRun(label, worker.processed, wall, cpu, worker.errors, timed_out)
    run.statements = sent[0]
    run.reports = reports
    if backends0 is not None:
        backends1 = _backend_cpu(rt) or {}
        run.db_cpu_s = sum(t - backends0.get(pid, 0.0) for pid, t in backends1.items())
    if run.jobs < expected and not timed_out:
        print(f"  WARNING: {label} ran {run.jobs} jobs, expected {expected}", flush=True)
    return run


def _backend_cpu(rt: Any) -> dict[int, float] | None:
    """PostgreSQL only: CPU seconds so far of each backend serving our scratch database
    (a local server, so /proc shows them). The pool keeps its connections, so the change
    over a run is the database's share of the work. None on SQLite (it runs in-process)."""
    if rt.db.dialect != "postgresql":
        return None
    from sqlalchemy import text

    with rt.db.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        found: dict[int, float] = {}
        for pid in pids:
            try:
                found[int(pid)] = proc_cpu_s(int(pid))
            except OSError:  # not on this machine, or gone
                continue
    return found


def _noop_registry() -> Any:
    from vigil.jobs.registry import Registry

    registry = Registry()
    registry.register(NOOP_KIND, lambda _rt, _payloads: None)
    return registry


def _triage_only(full: Any) -> Any:
    """Only the triage pipeline's own kind: the linkage jobs it queues for each report are
    left queued, so the figure is triage's cost (``--jobs all`` runs them too)."""
    from vigil.jobs.registry import Registry
    from vigil.triage.tasks import TRIAGE_REPORT

    registry = Registry()
    registry.register(TRIAGE_REPORT, full.handler(TRIAGE_REPORT))
    return registry


def _enqueue_noops(rt: Any, count: int) -> None:
    from vigil.jobs.queue import NewJob, enqueue_many

    rows = [NewJob(NOOP_KIND, f"{NOOP_KIND}:{i}", {"report_id": i + 1}) for i in range(count)]
    rt.db.write_sync(lambda session: enqueue_many(session, rows))


def _warm_content_stages(docs: Sequence[dict[str, object]]) -> None:
    """Load rules, lexicons and name lists once (start-up cost, not per-report cost)."""
    from vigil.db import utcnow
    from vigil.triage import extraction, similarity
    from vigil.triage.categories import categorise
    from vigil.triage.config import load_default_config
    from vigil.triage.priority import prioritise

    now = utcnow()
    for doc in docs[:5]:
        text = str(doc["description"])
        items = extraction.extract(text, reported_at=now)
        cats = categorise(text, items, report_kind=str(doc["kind"]))
        prioritise(text, items, cats, reported_at=now, config=load_default_config())
        similarity.text_signature(text)


def content_stages(docs: Sequence[dict[str, object]]) -> list[Stage]:
    """CPU per stage over the same texts, the pipeline's content-only work, one at a time."""
    from vigil.db import utcnow
    from vigil.triage import extraction, similarity
    from vigil.triage.categories import categorise
    from vigil.triage.config import load_default_config
    from vigil.triage.priority import prioritise

    now = utcnow()
    config = load_default_config()
    texts = [(str(d["description"]), str(d["kind"])) for d in docs]
    gc.collect()
    stages: list[Stage] = []

    def timed(name: str, fn: Callable[[], list[Any]]) -> list[Any]:
        cpu0 = time.process_time()
        out = fn()
        stages.append(Stage(name, time.process_time() - cpu0, len(texts)))
        return out

    items = timed("extract", lambda: [extraction.extract(t, reported_at=now) for t, _ in texts])
    cats = timed(
        "categorise",
        lambda: [categorise(t, i, report_kind=k) for (t, k), i in zip(texts, items, strict=True)],
    )
    timed(
        "prioritise",
        lambda: [
            prioritise(t, i, c, reported_at=now, config=config)
            for (t, _), i, c in zip(texts, items, cats, strict=True)
        ],
    )
    timed("text signature", lambda: [similarity.text_signature(t) for t, _ in texts])
    return stages


def prepare_stage(rt: Any) -> Stage | None:
    """The pipeline's ``_prepare`` (read a batch of reports, extract, categorise, sign) over
    every report in batches of 64, alone and read-only; None if the pipeline has no such step."""
    from sqlalchemy import select

    from vigil.intake.models import Report
    from vigil.triage import pipeline

    prepare = getattr(pipeline, "_prepare", None)
    if prepare is None:
        return None
    with rt.db.session() as session:
        ids = list(session.scalars(select(Report.id).order_by(Report.id)))
    gc.collect()
    cpu0 = time.process_time()
    for at in range(0, len(ids), 64):
        prepare(rt, ids[at : at + 64])
    return Stage("prepare", time.process_time() - cpu0, len(ids))


def _db_counts(rt: Any) -> tuple[int, int, str | None]:
    """(triage results done, clusters with 2+ members, a failed job's last error)."""
    from sqlalchemy import func, select

    from vigil.jobs.models import Job
    from vigil.triage.models import TriageResult

    with rt.db.session() as session:
        done = session.scalar(
            select(func.count()).select_from(TriageResult).where(TriageResult.status == "done")
        )
        multi = (
            select(TriageResult.cluster_id)
            .where(TriageResult.cluster_id.is_not(None))
            .group_by(TriageResult.cluster_id)
            .having(func.count() > 1)
            .subquery()
        )
        clusters = session.scalar(select(func.count()).select_from(multi))
        error = session.scalar(
            select(Job.last_error).where(Job.last_error.is_not(None)).order_by(Job.id).limit(1)
        )
    return int(done or 0), int(clusters or 0), error


def _profiled(rt: Any, fn: Callable[[], WorkerRun], top: int) -> tuple[WorkerRun, str]:
    """Run ``fn`` under cProfile in this thread *and* the database writer's thread, both
    timed in per-thread CPU (so waiting on the other thread does not count)."""
    main = cProfile.Profile(time.thread_time)
    writer = cProfile.Profile(time.thread_time)
    rt.db.write_sync(lambda _session: writer.enable())  # runs on the writer thread
    main.enable()
    try:
        run = fn()
    finally:
        main.disable()
        rt.db.write_sync(lambda _session: writer.disable())
    out = io.StringIO()
    stats = pstats.Stats(main, stream=out)
    stats.add(writer)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return run, out.getvalue()


def throughput(args: argparse.Namespace, docs: Sequence[dict[str, object]]) -> Throughput:
    from vigil.intake.services import ensure_receiving_org
    from vigil.logging import configure_logging
    from vigil.triage.tasks import default_registry
    from vigil.web.runtime import Runtime

    configure_logging("error")  # failed jobs are summarised below, not logged one by one
    registry = default_registry()  # imports the pipeline (fails here if it cannot)
    if args.jobs == "triage":
        registry = _triage_only(registry)
    _warm_content_stages(docs)
    server = BenchServer(args.engine, workdir=args.workdir)
    try:
        server.prepare()
        rt = Runtime.build(_settings(server))
        try:
            rt.store.prepare()
            ensure_receiving_org(rt)
            wall0 = time.perf_counter()
            asyncio.run(_submit_all(rt, docs))
            insert_wall = time.perf_counter() - wall0
            n = len(docs)
            print(
                f"  submitted {n:,} reports in {insert_wall:.1f} s "
                f"({n / insert_wall:,.0f}/s, each with its triage row and job)",
                flush=True,
            )
            _enqueue_noops(rt, n)
            baseline = _timed_worker(
                rt, _noop_registry(), "no-op", args.batch_size, args.max_seconds, n
            )
            print_worker(baseline)

            def run_pipeline() -> WorkerRun:
                return _timed_worker(
                    rt, registry, "pipeline", args.batch_size, args.max_seconds, n, reports=n
                )

            profile_text = ""
            if args.profile:
                pipeline, profile_text = _profiled(rt, run_pipeline, args.profile_top)
            else:
                pipeline = run_pipeline()
            print_worker(pipeline)
            done, clusters, error = _db_counts(rt)
            ok = not pipeline.errors and done == n
            prepared = prepare_stage(rt) if ok else None
        finally:
            rt.db.close()
    finally:
        server.close()
    failure = None
    if pipeline.errors or done < n:
        failure = f"{pipeline.errors} failed batches/jobs, {done}/{n} done; last error: {error}"
    stages = content_stages(docs) if failure is None else []
    return Throughput(
        n, insert_wall, baseline, pipeline, stages, prepared, done, clusters, failure, profile_text
    )


def print_worker(run: WorkerRun) -> None:
    print(
        f"  {run.label:<8} {run.jobs:>6,} jobs"
        + (f" for {run.reports:,} reports" if run.reports else "")
        + f"  wall {run.wall_s:6.2f} s  CPU {run.cpu_s:6.2f} s"
        f"  → {run.per_cpu_s:8,.0f} {'reports' if run.reports else 'jobs'}/s per core, "
        f"{run.per_wall_s:8,.0f}/s wall  ({run.cpu_ms_per_job:.2f} ms CPU, "
        f"{run.statements_each:.1f} SQL statements each)"
        + (
            f"; + PostgreSQL backends {run.db_cpu_s:.2f} s → "
            f"{run.per_cpu_s_with_db:,.0f}/s per core counting both"
            if run.db_cpu_s is not None and run.per_cpu_s_with_db is not None
            else ""
        )
        + (f"  errors {run.errors}" if run.errors else "")
        + ("  TIMED OUT" if run.timed_out else ""),
        flush=True,
    )


# --------------------------------------------------------------------------------------
# Part 2: latency under intake load, against `vigil serve`
# --------------------------------------------------------------------------------------
class Probe:
    """Plain SQL against the bench server's database, from this process (read-only use)."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.pg = server.engine == "postgresql"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.pg:
            import psycopg

            with psycopg.connect(self.server.database_url) as conn:
                return list(conn.execute(sql.replace("?", "%s"), params).fetchall())
        lite = sqlite3.connect(f"file:{self.server.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return list(lite.execute(sql, tuple(params)).fetchall())
        finally:
            lite.close()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> int:
        found = self.rows(sql, params)
        return int(found[0][0] or 0) if found else 0

    def max_report_id(self) -> int:
        return self.scalar("SELECT max(id) FROM reports")

    def job_error(self) -> str | None:
        found = self.rows("SELECT last_error FROM jobs WHERE last_error IS NOT NULL LIMIT 1")
        return str(found[0][0]) if found else None

    def pending_after(self, report_id: int) -> int:
        return self.scalar(
            "SELECT count(*) FROM triage_results WHERE report_id > ? AND status <> 'done'",
            (report_id,),
        )

    def latencies_after(self, report_id: int) -> list[float]:
        """Seconds from receipt to first appearing triaged in the queue, for the reports
        with a larger id: the pipeline's first "triaged" entry in the report's history.
        (``triage_results.triaged_at`` moves on each re-scoring: when a later report makes
        its cluster larger, or an alert is raised; the report was in the queue, triaged,
        long before that.)"""
        if self.pg:
            delta = "EXTRACT(EPOCH FROM (f.first_at - r.received_at))"
        else:
            delta = "(julianday(f.first_at) - julianday(r.received_at)) * 86400.0"
        found = self.rows(
            f"SELECT {delta} FROM (SELECT report_id, MIN(made_at) AS first_at "
            "FROM triage_decisions WHERE report_id > ? AND action = 'triaged' "
            "AND user_id IS NULL GROUP BY report_id) f JOIN reports r ON r.id = f.report_id",
            (report_id,),
        )
        return sorted(float(r[0]) for r in found)


@dataclass
class LatencyRun:
    label: str
    load: LoadResult
    server_cpu_s: float
    other_cpu_s: float
    accepted: int  # triage rows created during the load (reports accepted)
    pending_at_end: int | None = None
    backlog_peak: int | None = None
    drain_s: float | None = None
    drained: bool | None = None
    error: str | None = None  # a failed job's last error, when triage did not finish
    latencies: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    @property
    def max(self) -> float:
        return self.latencies[-1] if self.latencies else 0.0

    @property
    def server_cpu_pct(self) -> float:
        return 100 * self.server_cpu_s / self.load.elapsed_s

    @property
    def other_cpu_pct(self) -> float:
        return 100 * self.other_cpu_s / self.load.elapsed_s


STALL_S = 10.0  # a failing pipeline: give up waiting after this long without progress


def _wait_pending(probe: Probe, after_id: int, timeout_s: float) -> tuple[bool, float, str | None]:
    """Wait until no report after ``after_id`` is pending: (drained, seconds, job error).

    Gives up early when jobs are failing and the backlog has not shrunk for ``STALL_S``.
    """
    started = last_change = time.monotonic()
    last = -1
    while True:
        pending = probe.pending_after(after_id)
        now = time.monotonic()
        if pending == 0:
            return True, now - started, None
        if pending != last:
            last, last_change = pending, now
        if now - started > timeout_s:
            return False, now - started, probe.job_error()
        if now - last_change > STALL_S and (error := probe.job_error()) is not None:
            return False, now - started, error
        time.sleep(0.2)


@contextlib.contextmanager
def _worker_process(server: BenchServer, wanted: bool) -> Iterator[None]:
    """``vigil jobs work`` beside the server (its own process, so its own core and GIL)."""
    if not wanted:
        yield
        return
    worker = subprocess.Popen(
        [vigil_executable(), "jobs", "work", "--poll", "0.05"],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def latency_run(
    args: argparse.Namespace, docs: Sequence[dict[str, object]], *, pipeline_on: bool
) -> LatencyRun:
    label = "pipeline on" if pipeline_on else "pipeline off"
    if args.wait_idle > 0:
        wait_for_quiet(args.wait_idle)
    server = BenchServer(args.engine, workdir=args.workdir)
    in_process = pipeline_on and args.worker == "inprocess"
    server.env["VIGIL_JOBS_IN_PROCESS"] = "true" if in_process else "false"
    with server, _worker_process(server, pipeline_on and not in_process):
        probe = Probe(server)
        port = server.port
        requests = [request_bytes(port, doc) for doc in docs]
        warm = int(args.warmup * 200)
        if args.warmup > 0:
            run_load(port, requests[-warm:], args.concurrency, args.warmup)
            if pipeline_on:
                drained, _, error = _wait_pending(probe, 0, args.drain)
                if not drained:
                    raise RuntimeError(f"the warm-up reports were not triaged; job error: {error}")
        before_id = probe.max_report_id()
        samples: list[int] = []
        stop = threading.Event()

        def sample_backlog() -> None:
            while not stop.wait(1.0):
                samples.append(probe.pending_after(before_id))

        sampler = threading.Thread(target=sample_backlog, name="backlog", daemon=True)
        if pipeline_on:
            sampler.start()
        cpu0, busy0 = proc_cpu_s(server.pid), machine_busy_s()
        try:
            load = run_load(port, requests, args.concurrency, args.duration, rate=args.rate)
        finally:
            stop.set()
            if sampler.is_alive():
                sampler.join(timeout=10)
        server_cpu = proc_cpu_s(server.pid) - cpu0
        other = max(0.0, machine_busy_s() - busy0 - server_cpu - load.client_cpu_s)
        time.sleep(0.3)  # requests cut off in flight commit now
        accepted = probe.scalar(
            "SELECT count(*) FROM triage_results WHERE report_id > ?", (before_id,)
        )
        run = LatencyRun(label, load, server_cpu, other, accepted)
        if pipeline_on:
            run.pending_at_end = probe.pending_after(before_id)
            run.backlog_peak = max([*samples, run.pending_at_end])
            run.drained, run.drain_s, run.error = _wait_pending(probe, before_id, args.drain)
            run.latencies = probe.latencies_after(before_id)
        if not server.alive():
            raise RuntimeError(f"the server died during {label}:\n{server.log_tail()}")
    return run


def print_latency(run: LatencyRun) -> None:
    load = run.load
    line = (
        f"  {run.label:<12} intake {load.rate:6,.0f} reports/s ({load.created:,} x 201 in "
        f"{load.elapsed_s:.1f} s; HTTP p50 {percentile(load.latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(load.latencies, 99) * 1000:.0f} ms; errors {load.errors})  "
        f"server CPU {run.server_cpu_pct:3.0f}%  client CPU "
        f"{100 * load.client_cpu_s / load.elapsed_s:3.0f}%  other {run.other_cpu_pct:3.0f}%"
    )
    if run.latencies or run.pending_at_end is not None:
        line += (
            f"\n               received → triaged: p50 {run.p50:.2f} s, p95 {run.p95:.2f} s, "
            f"max {run.max:.2f} s over {len(run.latencies):,} reports; pending when the load "
            f"stopped {run.pending_at_end:,} (peak backlog {run.backlog_peak:,}); "
            + (
                f"all triaged {run.drain_s:.1f} s after the load"
                if run.drained
                else f"NOT all triaged after {run.drain_s:.0f} s"
            )
            + (f"; a job failed: {run.error}" if run.error else "")
        )
    print(line, flush=True)


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------
@dataclass
class Results:
    command: str
    version: str
    engine: str
    filesystem: str
    args: argparse.Namespace
    tp: Throughput | None = None
    off: LatencyRun | None = None
    on: LatencyRun | None = None


def breakdown(tp: Throughput) -> list[tuple[str, float]]:
    """Where one report's pipeline CPU goes (ms): rows that add up to the measured total."""
    total = tp.pipeline.cpu_ms_per_job
    ms = {s.name: s.ms_each for s in tp.stages}
    queue = tp.baseline.cpu_ms_per_job
    if not ms:
        return []
    if tp.prepare is None:
        rows = [*ms.items(), ("queue claim/finish (no-op baseline)", queue)]
        rest = total - sum(ms.values()) - queue
        return [*rows, ("the rest: reads, writes, clustering, ORM", rest)]
    analysed = ms["extract"] + ms["categorise"] + ms["text signature"]
    prepare = tp.prepare.ms_each
    return [
        ("_prepare: read the batch (and what the stages timed alone miss)", prepare - analysed),
        ("_prepare: extract", ms["extract"]),
        ("_prepare: categorise", ms["categorise"]),
        ("_prepare: text signature", ms["text signature"]),
        ("_store: prioritise", ms["prioritise"]),
        (
            "_store: clustering lookups and writes (the rest)",
            total - prepare - ms["prioritise"] - queue,
        ),
        ("queue claim/finish (no-op baseline)", queue),
    ]


def targets(res: Results) -> list[tuple[str, bool | None, str]]:
    out: list[tuple[str, bool | None, str]] = []
    if res.tp is not None:
        p = res.tp.pipeline
        ok = res.tp.failure is None and not p.timed_out
        out.append(
            (
                f"pipeline ≥ {TARGET_PER_CORE:.0f} reports/s per core",
                ok and p.per_cpu_s >= TARGET_PER_CORE,
                f"{p.per_cpu_s:,.0f} reports/s per CPU second ({p.cpu_ms_per_job:.2f} ms each)"
                + (
                    f"; {p.per_cpu_s_with_db:,.0f} counting PostgreSQL's CPU too"
                    if p.per_cpu_s_with_db is not None
                    else ""
                )
                + ("" if ok else f"; FAILED: {res.tp.failure or 'timed out'}"),
            )
        )
    if res.on is not None:
        on = res.on
        out.append(
            (
                f"received → triaged p95 < {TARGET_P95_S:g} s, {load_shape(res.args)}",
                bool(on.drained) and on.p95 < TARGET_P95_S,
                f"p95 {on.p95:.2f} s (p50 {on.p50:.2f}, max {on.max:.2f}) at "
                f"{on.load.rate:,.0f} reports/s intake"
                + ("" if on.drained else "; backlog not cleared in time")
                + (f"; a job failed: {on.error}" if on.error else ""),
            )
        )
    return out


def summary_lines(res: Results) -> list[str]:
    lines: list[str] = []
    if res.tp is not None:
        tp, p, b = res.tp, res.tp.pipeline, res.tp.baseline
        ratio = p.per_cpu_s / b.per_cpu_s if b.per_cpu_s else 0.0
        lines.append(
            f"Pipeline: {p.per_cpu_s:,.0f} reports/s per core ({p.per_wall_s:,.0f}/s wall, "
            f"{p.cpu_ms_per_job:.2f} ms CPU each) vs no-op jobs {b.per_cpu_s:,.0f}/s per core "
            f"({b.cpu_ms_per_job:.2f} ms each): ratio {ratio:.3f}; the queue's own overhead is "
            f"{100 * b.cpu_s / p.cpu_s if p.cpu_s else 0:.0f}% of the pipeline's CPU."
        )
        if rows := breakdown(tp):
            parts = "; ".join(f"{name} {value:.2f}" for name, value in rows)
            lines.append(f"Per report, ms CPU (of {p.cpu_ms_per_job:.2f}): {parts}.")
        lines.append(
            f"SQL statements per report: {p.statements_each:.1f} "
            f"(the no-op queue alone, per job: {b.statements_each:.2f})."
        )
        lines.append(f"{tp.done:,}/{tp.reports:,} reports triaged; {tp.clusters:,} clusters of 2+.")
    if res.on is not None and res.off is not None:
        on, off = res.on, res.off
        ratio = on.load.rate / off.load.rate if off.load.rate else 0.0
        lines.append(
            f"Latency, {load_shape(res.args)}, {res.args.duration:g} s: received → triaged "
            f"p50 {on.p50:.2f} s, p95 {on.p95:.2f} s, max {on.max:.2f} s; pending when the "
            f"load stopped {on.pending_at_end:,} of {on.accepted:,}; intake "
            f"{on.load.rate:,.0f}/s with the pipeline vs {off.load.rate:,.0f}/s without: "
            f"ratio {ratio:.2f}."
        )
    return lines


def noise_note(res: Results) -> str | None:
    runs = [r for r in (res.off, res.on) if r is not None]
    if not runs:
        return None
    peak = max(r.other_cpu_pct for r in runs)
    note = f"Other processes on the machine used up to {peak:.0f}% of a core during the load runs"
    if peak > NOISY_OTHER_PCT:
        return note + ": the machine was not quiet, so the latency figures understate it."
    return note + "."


def markdown(res: Results) -> str:
    a = res.args
    out = [
        f"Command: `{res.command}`",
        "",
        f"Code {res.version}; engine {res.engine}; database on {res.filesystem}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; synthetic reports of "
        f"300–1,500 characters (about 12% near-duplicates).",
        "",
    ]
    if res.tp is not None:
        tp, p, b = res.tp, res.tp.pipeline, res.tp.baseline
        out += [
            f"Throughput ({tp.reports:,} reports, batch {a.batch_size}):",
            "",
            "| run | jobs | wall s | CPU s | reports (no-op: jobs)/s per core | per s wall "
            "| ms CPU each | PostgreSQL CPU s | per core, app + PostgreSQL |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for w in (p, b):
            db = (
                f"{w.db_cpu_s:.2f} | {w.per_cpu_s_with_db:,.0f}"
                if w.db_cpu_s is not None and w.per_cpu_s_with_db is not None
                else "- | -"
            )
            out.append(
                f"| {w.label} | {w.jobs:,} | {w.wall_s:.2f} | {w.cpu_s:.2f} | "
                f"{w.per_cpu_s:,.0f} | {w.per_wall_s:,.0f} | {w.cpu_ms_per_job:.2f} | {db} |"
            )
        ratio = p.per_cpu_s / b.per_cpu_s if b.per_cpu_s else 0.0
        out += ["", f"Pipeline ÷ no-op queue baseline (per core): {ratio:.3f}."]
        out += [
            "",
            f"SQL statements per report: {p.statements_each:.1f} "
            f"(no-op queue, per job: {b.statements_each:.2f}).",
        ]
        if rows := breakdown(tp):
            out += ["", "| per report | ms CPU | share |", "|---|---:|---:|"]
            for name, value in rows:
                share = 100 * value / p.cpu_ms_per_job if p.cpu_ms_per_job else 0.0
                out.append(f"| {name} | {value:.2f} | {share:.0f}% |")
        out.append("")
    if res.on is not None and res.off is not None:
        on, off = res.on, res.off
        ratio = on.load.rate / off.load.rate if off.load.rate else 0.0
        out += [
            f"Latency (Python client, {load_shape(a)}, {a.duration:g} s):",
            "",
            "| run | intake reports/s | HTTP p99 ms | received→triaged p50 s | p95 s | max s "
            "| pending at end of load | server CPU | other CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in (on, off):
            tri = (
                f"{r.p50:.2f} | {r.p95:.2f} | {r.max:.2f} | {r.pending_at_end:,}"
                if r.pending_at_end is not None
                else "- | - | - | -"
            )
            out.append(
                f"| {r.label} | {r.load.rate:,.0f} | "
                f"{percentile(r.load.latencies, 99) * 1000:.0f} | {tri} | "
                f"{r.server_cpu_pct:.0f}% | {r.other_cpu_pct:.0f}% |"
            )
        out += ["", f"Intake with the pipeline ÷ without: {ratio:.2f}. {noise_note(res)}"]
        out.append("")
    out += target_table(targets(res))
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def load_shape(args: argparse.Namespace) -> str:
    """How the latency part loads the server, in words."""
    if args.rate > 0:
        return f"c={args.concurrency} offering a steady {args.rate:g} reports/s"
    return f"c={args.concurrency} flat out"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["throughput", "latency", "all"], default="all")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="short smoke run (~45 s)")
    parser.add_argument("--reports", type=int, default=None, help="reports (default 2,000)")
    parser.add_argument("--duration", type=float, default=None, help="load seconds (20)")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="latency part: offer reports at this steady rate per second (default 0: each "
        "connection sends again as soon as it is answered, as the intake benchmark does)",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="worker batch size")
    parser.add_argument(
        "--jobs",
        choices=("triage", "all"),
        default="triage",
        help="throughput part: run only triage jobs, or also the linkage jobs triage queues",
    )
    parser.add_argument(
        "--worker",
        choices=("inprocess", "process"),
        default="inprocess",
        help="latency part: the pipeline inside the web process, or `vigil jobs work` beside it",
    )
    parser.add_argument(
        "--drain", type=float, default=120.0, help="most seconds to wait for triage to finish"
    )
    parser.add_argument("--warmup", type=float, default=None, help="warm-up load seconds (2)")
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="cap on each worker run (seconds)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the pipeline run (both threads)"
    )
    parser.add_argument("--profile-top", type=int, default=25, help="lines of profile shown")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each load run, wait up to this many seconds for other load to stop",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="parent folder for the scratch data"
    )
    args = parser.parse_args(argv)
    if args.reports is None:
        args.reports = 300 if args.quick else 2000
    if args.duration is None:
        args.duration = 5.0 if args.quick else 20.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    if not 10 <= args.reports <= 100_000:
        parser.error("--reports is 10..100000")
    if not 1 <= args.duration <= 600 or not 1 <= args.concurrency <= 1000:
        parser.error("--duration is 1..600 s and --concurrency 1..1000")
    if args.rate < 0:
        parser.error("--rate is 0 (flat out) or a number of reports per second")
    if not 1 <= args.drain <= 3600 or not 0 <= args.warmup <= 60:
        parser.error("--drain is 1..3600 s and --warmup 0..60 s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = ".venv/bin/python benchmarks/triage_speed.py" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    version = source_version()
    print(f"Vigil triage speed benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  code {version}; engine {args.engine}; {os.cpu_count()} cores; "
        f"Python {platform.python_version()}; part {args.part}",
        flush=True,
    )
    fs_probe = BenchServer(args.engine, workdir=args.workdir)
    fs = filesystem_of(fs_probe.tmp)
    fs_probe.close()
    res = Results(command, version, args.engine, fs, args)

    if args.part in {"throughput", "all"}:
        print(f"\n[1] Pipeline throughput: {args.reports:,} reports, in this process", flush=True)
        try:
            res.tp = throughput(args, make_reports(args.reports))
        except ImportError as exc:
            print(f"  the pipeline cannot be imported yet: {type(exc).__name__}: {exc}")
            return 2
        if res.tp.failure:
            print(f"  PIPELINE FAILED: {res.tp.failure}")
        for part, ms in breakdown(res.tp):
            print(f"    {part:<50} {ms:6.2f} ms CPU per report")
        if res.tp.profile_text:
            print(
                "\n--- profile of the pipeline run (per-thread CPU, both threads; the profiler "
                "makes it 2-3x slower, so take the figures above from a run without it) ---"
            )
            print(res.tp.profile_text)

    if args.part in {"latency", "all"}:
        print(
            f"\n[2] Latency under load: {load_shape(args)}, {args.duration:g} s, "
            f"vigil serve on 127.0.0.1",
            flush=True,
        )
        pool = max(2000, min(40_000, int(args.duration * 800)))
        docs = make_reports(pool + int(args.warmup * 200), seed=7)
        res.off = latency_run(args, docs, pipeline_on=False)
        print_latency(res.off)
        res.on = latency_run(args, docs, pipeline_on=True)
        print_latency(res.on)

    print("\n=== Summary ===")
    for line in summary_lines(res):
        print(line)
    if (note := noise_note(res)) is not None:
        print(note)
    print("\nTargets:")
    for target, met, result in targets(res):
        mark = "n/a " if met is None else "PASS" if met else "MISS"
        print(f"  [{mark}] {target}: {result}")
    print("\n--- markdown for docs/benchmarks.md ---")
    print(markdown(res))
    failed = res.tp is not None and res.tp.failure is not None
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
