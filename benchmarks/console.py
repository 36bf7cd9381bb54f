"""Console at national scale: queue, report, search and link graph over 1M reports.

Run by hand (never as a test)::

    .venv/bin/python benchmarks/console.py                       # both engines, 1M / 2M
    .venv/bin/python benchmarks/console.py --engine sqlite --quick
    .venv/bin/python benchmarks/console.py --reports 100000 --entities 200000

Issue 7's targets, p95 server time on 2 cores with SQLite and with PostgreSQL: the queue and a
report page under 100 ms, a search under 200 ms, a two-hop link graph under 300 ms.

1. **Data** (``_console_data.py``, ``_console_build.py``): ``--reports`` synthetic reports
   over three years and six organisations, triaged, with ``--entities`` entities, their
   identities, values and proposed matches, record shares and the search index, bulk-loaded
   into a migrated database. The result is cached (``var/bench-cache/``; PostgreSQL: a
   template database) and reused by later runs, so re-measuring takes minutes; ``--rebuild``
   builds it again. The build time is printed (from the cache's notes when reused).
2. **Server**: ``vigil serve`` on a free 127.0.0.1 port over the cached SQLite file (in
   place), or over a fresh copy of the PostgreSQL template, served as the ``vigil_app``
   role so row-level security applies as in production.
3. **Reader**: an analyst of the hub's triage team (``vigil users create … --token``) with a
   signed-in console session (a ``staff_sessions`` row, as after password and TOTP) and a
   supervisor with a token for the dashboard API.
4. **Load**: per case, ``--threads`` keep-alive clients share ``--requests`` GETs over a
   list of URLs (random visible references, random visible entities, common words and
   names); p50/p95/p99 as the client saw them (loopback, so an upper bound on server time)
   and the server's own latency histogram (``/metrics``) p95. ``GET /healthz`` is measured
   the same way in the same run as the framework's floor; the ratio to it is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

import contextlib

from benchmarks import _console_build as build
from benchmarks import _console_data as data
from benchmarks._measure import percentile
from benchmarks._server import (
    PG_BENCH_DB,
    BenchServer,
    proc_cpu_s,
    source_version,
    vigil_executable,
)
from benchmarks.pages import server_buckets, server_pct

TARGETS_MS = {"queue": 100.0, "report": 100.0, "search": 200.0, "graph": 300.0}
STAFF_COOKIE = "vigil_staff"
WORDS = (
    "photographing", "rucksack", "fertiliser", "station", "drone", "cash", "suitcase",
    "CCTV", "gas cylinders", "storage unit", "timers", "notebook", "van", "forum",
    "hydrogen peroxide", "festival", "Transit", "airport terminal", "bollards", "fire exits",
)  # fmt: skip


@dataclass
class Case:
    label: str
    kind: str  # queue | report | search | graph | stats | floor
    paths: list[str]
    bearer: bool = False
    requests: int = 0


@dataclass
class Timing:
    case: Case
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    server_p95: float = float("nan")
    cpu_ms: float = float("nan")  # server CPU per request: the app, plus PostgreSQL's backends

    def pct(self, q: float) -> float:
        return percentile(sorted(self.ms), q)


class ConsoleServer(BenchServer):
    """A BenchServer over the cached dataset instead of an empty scratch database."""

    def __init__(self, engine: str, sizes: data.Sizes, rebuild: bool) -> None:
        super().__init__(engine)
        self.sizes, self.rebuild = sizes, rebuild
        self.meta: dict[str, Any] = {}
        self.copy_s = 0.0

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.engine == "sqlite":
            path, self.meta = build.sqlite_ready(self.sizes, rebuild=self.rebuild, say=say)
            self.db_path = path
            self.database_url = f"sqlite:///{path}"
            self.owner_url = self.database_url
        else:
            template, self.meta = build.pg_ready(self.sizes, rebuild=self.rebuild, say=say)
            self.copy_s = build.pg_copy(template, PG_BENCH_DB)
            self._pg_created = True
            self.database_url = build.pg_url(PG_BENCH_DB, "vigil_app")
            self.owner_url = build.pg_url(PG_BENCH_DB)
            self.env["VIGIL_MIGRATION_DATABASE_URL"] = self.owner_url
        self.env["VIGIL_DATABASE_URL"] = self.database_url

    def start(self, timeout_s: float = 300.0, argv: list[str] | None = None) -> None:
        super().start(timeout_s, argv)  # a busy machine starts the server slowly

    def close(self) -> None:
        # The SQLite file is the cache: never removed here (BenchServer only removes tmp).
        super().close()


def say(text: str) -> None:
    print(text, flush=True)


# --- the reader ---------------------------------------------------------------------------------


def _cli_user(server: ConsoleServer, email: str, role: str) -> str:
    done = subprocess.run(
        [vigil_executable(), "users", "create", email, "--org", data.HUB_ORG, "--team",
         data.HUB_TEAM, "--role", role, "--org-kind", "ct_policing", "--token"],
        env=server.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"`vigil users create` failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


class Owner:
    """Direct SQL as the database owner (outside the server): sampling and sessions."""

    def __init__(self, server: ConsoleServer) -> None:
        self.engine = server.engine
        if self.engine == "sqlite":
            import sqlite3

            self.conn: Any = sqlite3.connect(server.db_path, timeout=60, isolation_level=None)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(server.owner_url, autocommit=True)
            self.mark = "%s"

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql.replace("?", self.mark), args).fetchall())

    def run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql.replace("?", self.mark), args)

    def close(self) -> None:
        self.conn.close()


def signed_in(owner: Owner, email: str) -> str:
    """A console session for ``email`` as if password and TOTP had just been accepted."""
    token = secrets.token_urlsafe(32)
    (uid,) = owner.rows("SELECT id FROM users WHERE email = ?", (email,))[0]
    now: Any = (
        data.sqlite_time(time.time()) if owner.engine == "sqlite" else data.pg_time(time.time())
    )
    owner.run(
        "INSERT INTO staff_sessions (id, user_id, created_at, last_seen_at, authenticated_at, "
        "second_factor_at) VALUES (?, ?, ?, ?, ?, ?)",
        (hashlib.sha256(token.encode()).hexdigest(), uid, now, now, now, now),
    )
    return token


def _visible_sample(owner: Owner, table: str, rtype: str, column: str, n: int,
                    top: int, rng: random.Random) -> list[Any]:  # fmt: skip
    """``n`` random rows the hub analyst may see (team Triage or shared with the hub)."""
    found: list[Any] = []
    while len(found) < n:
        ids = sorted(rng.sample(range(1, top + 1), min(top, 4 * n)))
        marks = ",".join(str(i) for i in ids)
        found += [
            r[0]
            for r in owner.rows(
                f"SELECT t.{column} FROM {table} t WHERE t.id IN ({marks}) "
                "AND t.classification <> 'SECRET' AND (t.owning_team_id = 1 OR EXISTS ("
                "SELECT 1 FROM record_shares s WHERE s.record_type = ? AND s.record_id = t.id "
                "AND s.org_id = 1 AND s.revoked_at IS NULL))",
                (rtype,),
            )
        ]
    rng.shuffle(found)
    return found[:n]


def cases(owner: Owner, server: ConsoleServer, n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    top_r = owner.rows("SELECT max(id) FROM reports")[0][0]
    top_e = owner.rows("SELECT max(id) FROM linkage_entities")[0][0]
    refs = _visible_sample(owner, "reports", "report", "reference", n, top_r, rng)
    ents = _visible_sample(owner, "linkage_entities", "entity", "id", n, top_e, rng)
    surnames = [r[0] for r in owner.rows(
        "SELECT term FROM search_name_keys ORDER BY term")]  # fmt: skip
    names = rng.sample(surnames, min(40, len(surnames)))
    # A word or phrase (a phrase in quotes), a name (name:), and both. The third group used
    # to quote word and name together, as one three-word phrase that nothing matched.
    phrase = [f'"{w}"' if " " in w else w for w in WORDS]
    quoted = (
        phrase
        + [f"name:{t}" for t in names[:20]]
        + [f"{rng.choice(phrase)} name:{t}" for t in names[20:]]
    )
    return [
        Case("GET /healthz (floor)", "floor", ["/healthz"]),
        Case("queue (default)", "queue", ["/console/queue"]),
        Case(
            "queue (P2, photography)", "queue", ["/console/queue?priority=P2&category=photography"]
        ),
        Case("report page", "report", [f"/console/reports/{r}" for r in refs]),
        Case("search", "search", [f"/console/search?{httpx.QueryParams(q=q)}" for q in quoted]),
        Case("graph, 2 hops", "graph", [f"/console/entities/{e}/graph?depth=2" for e in ents]),
        Case("stats summary (API, 90 days)", "stats", ["/api/v1/stats/summary"], bearer=True),
    ]


# --- load -----------------------------------------------------------------------------------------


def measure(
    base_url: str,
    case: Case,
    cookie: str,
    bearer: str,
    threads: int,
    warmup: int,
    cpu: Callable[[], float],
) -> Timing:
    timing = Timing(case)
    lock = threading.Lock()
    counter = iter(range(case.requests))
    paths = case.paths
    start = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        headers = {"Authorization": f"Bearer {bearer}"} if case.bearer else {}
        cookies = {} if case.bearer else {STAFF_COOKIE: cookie}
        with httpx.Client(base_url=base_url, headers=headers, cookies=cookies, timeout=120) as c:
            for w in range(warmup):
                c.get(paths[(n * warmup + w) % len(paths)])
            start.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                began = time.perf_counter()
                try:
                    status = c.get(paths[i % len(paths)]).status_code
                except httpx.HTTPError:
                    status = 0
                spent = (time.perf_counter() - began) * 1000
                with lock:
                    timing.ms.append(spent)
                    timing.statuses[status] = timing.statuses.get(status, 0) + 1
                    timing.errors += status != 200

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    before, cpu_before = server_buckets(base_url), cpu()
    for w in workers:
        w.join()
    cpu_after, after = cpu(), server_buckets(base_url)
    timing.server_p95 = server_pct(before, after, 95)[1]
    timing.cpu_ms = 1000 * (cpu_after - cpu_before) / max(len(timing.ms), 1)
    return timing


def cpu_probe(server: ConsoleServer) -> Callable[[], float]:
    """CPU seconds used so far by the server process and (PostgreSQL) every backend
    connected to the benchmark database: a figure the machine's other load barely moves."""
    if server.engine == "sqlite":
        return lambda: proc_cpu_s(server.pid)
    import psycopg

    conn = psycopg.connect(build.pg_url("postgres"), autocommit=True)
    seen: dict[int, float] = {}

    def probe() -> float:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (PG_BENCH_DB,))]  # fmt: skip
        for pid in pids:
            with contextlib.suppress(OSError):
                seen[pid] = proc_cpu_s(pid)
        return proc_cpu_s(server.pid) + sum(seen.values())

    return probe


def machine_busy() -> float:
    with open("/proc/stat") as stat:
        f = [int(x) for x in stat.readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def run_engine(engine: str, args: argparse.Namespace, sizes: data.Sizes) -> list[str]:
    say(f"\n== {engine}: {sizes.reports:,} reports, {sizes.entities:,} entities ==")
    began = time.monotonic()
    with ConsoleServer(engine, sizes, args.rebuild) as server:
        ready = time.monotonic() - began
        meta = server.meta
        say(f"  data: built in {meta['build_s']:.0f} s on "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(meta['built_at']))} UTC "
            f"({meta['bytes'] / 2**30:.1f} GiB); schema upgrade {meta.get('upgrade_s', 0):.0f} s"
            + (f"; template copy {server.copy_s:.0f} s" if engine == "postgresql" else "")
            + f"; ready in {ready:.0f} s")  # fmt: skip
        say("  rows: " + ", ".join(f"{k} {v:,}" for k, v in meta["rows"].items()))
        stamp = int(time.time())
        analyst = f"bench-console-{stamp}@example.org"
        _cli_user(server, analyst, "triage_analyst")
        bearer = _cli_user(server, f"bench-supervisor-{stamp}@example.org", "supervisor")
        owner = Owner(server)
        try:
            cookie = signed_in(owner, analyst)
            todo = cases(owner, server, args.requests, args.seed)
        finally:
            owner.close()
        lines: list[str] = []
        results: list[Timing] = []
        busy0, wall0 = machine_busy(), time.monotonic()
        probe = cpu_probe(server)
        todo = [c for c in todo if c.kind == "floor" or not args.only or c.kind in args.only]
        for case in todo:
            case.requests = args.stats_requests if case.kind == "stats" else args.requests
            t = measure(server.base_url, case, cookie, bearer, args.threads, args.warmup, probe)
            results.append(t)
            say(f"  {case.label:<30} p50 {t.pct(50):7.1f}  p95 {t.pct(95):7.1f}  p99 "
                f"{t.pct(99):7.1f} ms  (server p95 {t.server_p95:6.1f}; CPU {t.cpu_ms:6.1f} "
                f"ms/request; {t.errors} errors)")  # fmt: skip
        busy = 100 * (machine_busy() - busy0) / max(time.monotonic() - wall0, 1e-9)
        alive = server.alive()
        log = server.log_tail(15)
    floor = results[0].pct(95)
    lines += [
        f"### {engine}",
        "",
        "| case | requests | p50 ms | p95 ms | p99 ms | server p95 ms | server CPU ms/req "
        "| p95 / healthz | target p95 | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in results:
        target = TARGETS_MS.get(t.case.kind)
        met = "-" if target is None else ("PASS" if t.pct(95) < target and not t.errors else "MISS")
        lines.append(
            f"| {t.case.label} | {len(t.ms)} | {t.pct(50):.1f} | {t.pct(95):.1f} | "
            f"{t.pct(99):.1f} | {t.server_p95:.1f} | {t.cpu_ms:.1f} | {t.pct(95) / floor:.1f}x | "
            f"{'-' if target is None else f'< {target:.0f}'} | {met} |"
        )
        if t.errors:
            lines.append(f"|   answers: {dict(sorted(t.statuses.items()))} | | | | | | | | | |")
    lines += ["", f"Machine busy (all processes) during the load: {busy:.0f}% of one core "
              f"(2 clients + server ≈ up to 200%)."]  # fmt: skip
    if not alive:
        lines.append(f"THE SERVER DIED:\n{log}")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300, help="GETs per case")
    parser.add_argument("--stats-requests", type=int, default=20, help="GETs of the dashboard")
    parser.add_argument("--threads", type=int, default=2, help="concurrent clients")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured GETs per client")
    parser.add_argument("--rebuild", action="store_true", help="build the data again")
    parser.add_argument("--quick", action="store_true", help="60 requests per case")
    parser.add_argument(
        "--only",
        type=lambda v: set(v.split(",")),
        default=set(),
        help="measure only these: queue,report,search,graph,stats (healthz always)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.stats_requests = 60, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A terminated run still stops its server and drops its PostgreSQL copy (the with-blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = data.Sizes(args.reports, args.entities, args.seed)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    say(f"vigil {source_version()} on {platform.node()}: {os.cpu_count()} CPUs; "
        f"{args.threads} clients, {args.requests} requests per case")  # fmt: skip
    out: list[str] = []
    for engine in engines:
        out += [*run_engine(engine, args, sizes), ""]
    command = "python benchmarks/console.py " + " ".join(argv if argv is not None else sys.argv[1:])
    say("\nmarkdown for docs/benchmarks.md:\n")
    say(f"Command: `{command.strip()}`\n")
    say("\n".join(out))
    return 1 if any("MISS" in line or "DIED" in line for line in out) else 0


if __name__ == "__main__":
    raise SystemExit(main())
