"""Intake benchmark: durable report submissions/s beside two same-run ceilings.

Run by hand or by ``make bench`` (never as a timed test)::

    .venv/bin/python benchmarks/intake.py            # ~3 minutes
    .venv/bin/python benchmarks/intake.py --quick    # ~30 s smoke run

It starts ``vigil serve`` on a free 127.0.0.1 port over a scratch, migrated database, then
for each concurrency level loads it with ``wrk`` for ``--duration`` seconds:

* ``GET /healthz``: the framework ceiling (same app, same middleware, no work);
* ``POST /api/v1/reports`` with ~2 KB JSON reports: durable intake (a 201 means committed).

It also measures, in this process, the raw SQLite ceiling: single-row inserts of the same
2 KB body into a WAL database with ``synchronous=FULL``, one commit (one fsync) per row.
Then a soak run at the highest concurrency samples the server's RSS every second.

Every answer that is not the expected status counts as an error, and after each intake run
the rows in ``reports`` are counted directly in the database: every 201 must have its row.
Everything is printed with ratios against the ceilings, ending with a markdown snippet for
docs/benchmarks.md. Only the loopback address is used; every load run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks._measure import (
    NOISY_OTHER_PCT,
    closed_loop,
    machine_busy_s,
    percentile,
    target_table,
    wait_for_quiet,
)
from benchmarks._server import HOST, BenchServer, filesystem_of, source_version, tree_cpu_s

REPORTS_PATH = "/api/v1/reports"
BODY_BYTES = 2048
# Targets from the issue, checked at the highest concurrency.
TARGET_RATE = 1000.0
TARGET_CEILING_RATIO = 0.5
TARGET_P99_MS = 100.0
FLAT_SLOPE_MB_PER_MIN = 1.0  # second-half RSS growth we still call "flat" (falling is fine)
MIN_SOAK_S = 30.0  # shorter soaks (e.g. --quick) print RSS but do not judge flatness
CLIENT_MAX_REQUESTS = 5_000_000  # hard cap per run for the Python fallback client


# --------------------------------------------------------------------------------------
# The report body: synthetic, ~2 KB
# --------------------------------------------------------------------------------------
_FILLER = (
    "Synthetic benchmark report. A white van was parked on Mill Lane for several hours with "
    "its engine running; two people were seen carrying boxes between the van and a lock-up "
    "garage and photographing the entrance of the nearby station. "
)


def report_body(size: int = BODY_BYTES) -> bytes:
    """A valid report whose JSON encoding is ``size`` bytes (synthetic data only)."""
    doc: dict[str, object] = {
        "kind": "vehicle",
        "description": "",
        "where": {
            "address": "Mill Lane, Leeds",
            "postcode": "LS6 2QT",
            "lat": 53.82,
            "lon": -1.57,
        },
        "people": [{"age": "30s", "appearance": "tall", "clothing": "grey hoodie"}],
        "vehicles": [
            {"registration": "AB12 CDE", "make": "Ford", "model": "Transit", "colour": "white"}
        ],
        "online": [{"url": "https://example.org/post/1", "where_seen": "forum"}],
        "reporter": {"anonymous": True},
    }
    overhead = len(json.dumps(doc, separators=(",", ":")).encode())
    want = max(1, size - overhead)
    doc["description"] = (_FILLER * (want // len(_FILLER) + 1))[:want].rstrip() + "."
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    concurrency: int
    duration_s: float
    completed: int  # answers received (any status)
    ok: int  # answers with the expected status
    socket_errors: int
    p50_ms: float
    p99_ms: float
    p999_ms: float = 0.0
    max_ms: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    other_cpu_s: float = 0.0  # everything else on the machine meanwhile (noise)
    rows_added: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.completed - self.ok + self.socket_errors

    @property
    def server_cpu_pct(self) -> float:
        return 100.0 * self.server_cpu_s / self.duration_s if self.duration_s else 0.0

    @property
    def client_cpu_pct(self) -> float:
        return 100.0 * self.client_cpu_s / self.duration_s if self.duration_s else 0.0

    @property
    def other_cpu_pct(self) -> float:
        return 100.0 * self.other_cpu_s / self.duration_s if self.duration_s else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return 1e6 * self.server_cpu_s / self.completed if self.completed else 0.0


@dataclass
class RawSqlite:
    inserts: int
    duration_s: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.inserts / self.duration_s


@dataclass
class Soak:
    run: Run
    samples: list[tuple[float, int]]  # (seconds since start, RSS KiB)
    rss_idle_kib: int

    @property
    def start_mb(self) -> float:
        return self.samples[0][1] / 1024

    @property
    def end_mb(self) -> float:
        return self.samples[-1][1] / 1024

    @property
    def max_mb(self) -> float:
        return max(kib for _, kib in self.samples) / 1024

    @property
    def slope_mb_per_min(self) -> float:
        """Least-squares RSS slope over the second half of the samples."""
        half = self.samples[len(self.samples) // 2 :]
        if len(half) < 2:
            return 0.0
        xs = [t for t, _ in half]
        ys = [kib / 1024 for _, kib in half]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        den = sum((x - mx) ** 2 for x in xs)
        if den == 0:
            return 0.0
        return 60.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


# --------------------------------------------------------------------------------------
# Load generation: wrk (preferred) or a Python asyncio client (client-bound fallback)
# --------------------------------------------------------------------------------------
WRK_LUA = r"""
-- Generated by benchmarks/intake.py. Counts answers by status; prints parseable results.
wrk.method = "{method}"
{body_lines}
ok = 0
other = 0
statuses = {{}}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status == {expected} then
    ok = ok + 1
  else
    other = other + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local good, bad = 0, 0
  local seen = {{}}
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    bad = bad + t:get("other")
    for code, n in pairs(t:get("statuses")) do
      seen[code] = (seen[code] or 0) + n
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d ok=%d other=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, good, bad, e.connect, e.read, e.write, e.timeout))
  io.write(string.format("BENCH p50=%d p99=%d p999=%d max=%d\n",
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
  for code, n in pairs(seen) do
    io.write(string.format("BENCH status %d=%d\n", code, n))
  end
end
"""


def _lua_script(workdir: Path, method: str, body: bytes | None, expected: int) -> Path:
    name = f"{method.lower()}-{expected}.lua"
    if body is not None:
        body_path = workdir / "body.json"
        body_path.write_bytes(body)
        body_lines = (
            f'local f = assert(io.open("{body_path}", "rb"))\n'
            'wrk.body = f:read("*a")\nf:close()\n'
            'wrk.headers["Content-Type"] = "application/json"'
        )
    else:
        body_lines = ""
    path = workdir / name
    path.write_text(WRK_LUA.format(method=method, body_lines=body_lines, expected=expected))
    return path


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Loader:
    def __init__(self, server: BenchServer, workdir: Path, wrk_threads: int, client: str):
        self.server = server
        self.workdir = workdir
        self.wrk_threads = wrk_threads
        self.client = client

    def run(
        self,
        label: str,
        method: str,
        path: str,
        body: bytes | None,
        expected: int,
        concurrency: int,
        duration_s: float,
    ) -> Run:
        rows_before = self.server.count_reports() if method == "POST" else None
        cpu_before = tree_cpu_s(self.server.pid)
        machine_before = machine_busy_s()
        if self.client == "wrk":
            run = self._wrk(label, method, path, body, expected, concurrency, duration_s)
        else:
            run = self._python(label, method, path, body, expected, concurrency, duration_s)
        run.server_cpu_s = tree_cpu_s(self.server.pid) - cpu_before
        machine = machine_busy_s() - machine_before
        run.other_cpu_s = max(0.0, machine - run.server_cpu_s - run.client_cpu_s)
        if not self.server.alive():
            raise RuntimeError(f"the server died during {label}:\n{self.server.log_tail()}")
        if rows_before is not None:
            time.sleep(0.5)  # let requests still in flight at the cut-off commit
            run.rows_added = self.server.count_reports() - rows_before
        return run

    def _wrk(
        self,
        label: str,
        method: str,
        path: str,
        body: bytes | None,
        expected: int,
        concurrency: int,
        duration_s: float,
    ) -> Run:
        script = _lua_script(self.workdir, method, body, expected)
        threads = max(1, min(self.wrk_threads, concurrency))
        cmd = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            f"{self.server.base_url}{path}",
        ]
        cpu_before = _children_cpu_s()
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
        client_cpu = _children_cpu_s() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        values: dict[str, int] = {}
        statuses: dict[str, int] = {}
        for line in done.stdout.splitlines():
            if not line.startswith("BENCH "):
                continue
            rest = line[len("BENCH ") :]
            if rest.startswith("status "):
                code, n = rest[len("status ") :].split("=")
                statuses[code] = int(n)
                continue
            for item in rest.split():
                key, value = item.split("=")
                values[key] = int(value)
        if "requests" not in values:
            raise RuntimeError(f"could not parse wrk output:\n{done.stdout}\n{done.stderr}")
        return Run(
            label=label,
            concurrency=concurrency,
            duration_s=values["duration_us"] / 1e6,
            completed=values["requests"],
            ok=values["ok"],
            socket_errors=values["connect"] + values["read"] + values["write"] + values["timeout"],
            p50_ms=values["p50"] / 1000,
            p99_ms=values["p99"] / 1000,
            p999_ms=values["p999"] / 1000,
            max_ms=values["max"] / 1000,
            client_cpu_s=client_cpu,
            statuses=statuses,
        )

    def _python(
        self,
        label: str,
        method: str,
        path: str,
        body: bytes | None,
        expected: int,
        concurrency: int,
        duration_s: float,
    ) -> Run:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.server.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        request = head.encode() + b"\r\n" + (body or b"")
        started = time.perf_counter()
        cpu_before = time.process_time()
        latencies, statuses, socket_errors = asyncio.run(
            closed_loop(
                self.server.port,
                [request],
                concurrency,
                duration_s,
                max_requests=CLIENT_MAX_REQUESTS,
                timeout_s=10,
            )
        )
        elapsed = time.perf_counter() - started
        latencies.sort()
        ok = statuses.pop(expected, 0)
        return Run(
            label=label,
            concurrency=concurrency,
            duration_s=elapsed,
            completed=len(latencies),
            ok=ok,
            socket_errors=socket_errors,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
            p999_ms=percentile(latencies, 99.9) * 1000,
            max_ms=(latencies[-1] if latencies else 0.0) * 1000,
            client_cpu_s=time.process_time() - cpu_before,
            statuses={str(k): v for k, v in statuses.items()},
        )


# --------------------------------------------------------------------------------------
# Raw SQLite ceiling (in this process, stdlib sqlite3)
# --------------------------------------------------------------------------------------
def raw_sqlite_ceiling(folder: Path, payload: bytes, duration_s: float) -> RawSqlite:
    """Single-row inserts of ``payload``, WAL + synchronous=FULL, one commit per insert."""
    path = folder / "raw-ceiling.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE reports (id INTEGER PRIMARY KEY, received_at TEXT, body TEXT NOT NULL)"
        )
        text = payload.decode()
        latencies: list[float] = []
        started = time.perf_counter()
        stop_at = started + duration_s
        now = started
        while now < stop_at and len(latencies) < CLIENT_MAX_REQUESTS:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO reports (received_at, body) VALUES (?, ?)",
                (dt.datetime.now(dt.UTC).isoformat(), text),
            )
            conn.execute("COMMIT")
            after = time.perf_counter()
            latencies.append(after - now)
            now = after
        elapsed = now - started
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    latencies.sort()
    return RawSqlite(
        len(latencies),
        elapsed,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
    )


# --------------------------------------------------------------------------------------
# Soak: RSS sampled every second while intake runs at the highest concurrency
# --------------------------------------------------------------------------------------
def soak(loader: Loader, body: bytes, concurrency: int, duration_s: float) -> Soak:
    server = loader.server
    idle = server.rss_kib() or 0
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            kib = server.rss_kib()
            if kib is not None:
                samples.append((time.monotonic() - started, kib))
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        run = loader.run("soak", "POST", REPORTS_PATH, body, 201, concurrency, duration_s)
    finally:
        stop.set()
        sampler.join(timeout=5)
    return Soak(run, samples, idle)


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------
def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def _check_rows(run: Run) -> str:
    """Every 201 has its row; rows may exceed 201s by requests cut off in flight (< c)."""
    if run.rows_added is None:
        return "-"
    extra = run.rows_added - run.ok
    if 0 <= extra <= run.concurrency:
        return f"ok ({run.rows_added:,} rows, +{extra} in flight)"
    return f"MISMATCH ({run.rows_added:,} rows vs {run.ok:,} x 201)"


def print_run(run: Run) -> None:
    line = (
        f"  {run.label:<8} c={run.concurrency:<3} {_fmt_rate(run.rate):>7}/s  "
        f"p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms  max {run.max_ms:6.1f} ms  "
        f"errors {run.errors}  server CPU {run.server_cpu_pct:3.0f}% "
        f"({run.server_cpu_us_per_request:,.0f} µs/req)  client CPU {run.client_cpu_pct:3.0f}%  "
        f"other {run.other_cpu_pct:3.0f}%"
    )
    if run.statuses:
        line += f"  other statuses {run.statuses}"
    if run.rows_added is not None:
        line += f"\n           rows check: {_check_rows(run)}"
    print(line, flush=True)


@dataclass
class Results:
    command: str
    version: str
    engine: str
    client: str
    filesystem: str
    body_bytes: int
    duration_s: float
    raw: RawSqlite
    levels: list[tuple[Run, Run]]  # (healthz, intake) per concurrency
    soak: Soak | None


def summary_rows(res: Results) -> list[list[str]]:
    rows = []
    for health, intake in res.levels:
        rows.append(
            [
                str(intake.concurrency),
                _fmt_rate(intake.rate),
                f"{intake.p50_ms:.1f}",
                f"{intake.p99_ms:.1f}",
                str(intake.errors),
                _fmt_rate(health.rate),
                f"{health.p50_ms:.1f}",
                f"{health.p99_ms:.1f}",
                f"{intake.rate / health.rate:.2f}" if health.rate else "-",
                f"{intake.rate / res.raw.rate:.2f}" if res.raw.rate else "-",
                f"{intake.server_cpu_us_per_request:,.0f} / "
                f"{health.server_cpu_us_per_request:,.0f}",
            ]
        )
    return rows


HEADERS = [
    "c",
    "intake reports/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "/healthz req/s",
    "p50 ms",
    "p99 ms",
    "intake ÷ healthz",
    "intake ÷ raw SQLite",
    "server CPU µs/req (intake / healthz)",
]


def targets(res: Results) -> list[tuple[str, bool | None, str]]:
    health, intake = res.levels[-1]
    c = intake.concurrency
    ratio = intake.rate / health.rate if health.rate else 0.0
    out: list[tuple[str, bool | None, str]] = [
        (
            f"intake ≥ {TARGET_CEILING_RATIO} × /healthz at c={c}",
            ratio >= TARGET_CEILING_RATIO,
            f"{ratio:.2f} ({_fmt_rate(intake.rate)} vs {_fmt_rate(health.rate)})",
        ),
        (
            f"intake > {TARGET_RATE:,.0f} reports/s at c={c}",
            intake.rate > TARGET_RATE,
            f"{_fmt_rate(intake.rate)}/s",
        ),
        (
            f"p99 < {TARGET_P99_MS:.0f} ms at c={c}",
            intake.p99_ms < TARGET_P99_MS,
            f"{intake.p99_ms:.1f} ms",
        ),
    ]
    errors = sum(i.errors for _, i in res.levels) + (res.soak.run.errors if res.soak else 0)
    out.append(("no intake errors", errors == 0, f"{errors} errors"))
    if res.soak is not None:
        s = res.soak
        value = (
            f"{s.slope_mb_per_min:+.2f} MB/min; RSS {s.start_mb:.1f} → {s.end_mb:.1f} MB, "
            f"max {s.max_mb:.1f} MB"
        )
        short = s.run.duration_s < MIN_SOAK_S
        out.append(
            (
                f"memory flat over {s.run.duration_s:.0f} s "
                f"(2nd-half slope < {FLAT_SLOPE_MB_PER_MIN:g} MB/min)",
                None if short else s.slope_mb_per_min < FLAT_SLOPE_MB_PER_MIN,
                value + (f" (soak under {MIN_SOAK_S:.0f} s: not judged)" if short else ""),
            )
        )
    return out


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _all_runs(res: Results) -> list[Run]:
    runs = [r for pair in res.levels for r in pair]
    return runs + ([res.soak.run] if res.soak else [])


def noise_note(res: Results) -> str:
    others = [r.other_cpu_pct for r in _all_runs(res)]
    mean, peak = statistics.fmean(others), max(others)
    note = (
        f"Other processes on the machine used {mean:.0f}% of a core on average during the "
        f"runs (max {peak:.0f}%)"
    )
    if peak > NOISY_OTHER_PCT:
        return note + ": the machine was not quiet, so these figures understate it."
    return note + "."


def print_summary(res: Results) -> None:
    print("\n=== Summary ===")
    print(_text_table(HEADERS, summary_rows(res)))
    print(
        f"raw SQLite ceiling (WAL, synchronous=FULL, 1 commit per 2 KB row): "
        f"{_fmt_rate(res.raw.rate)} inserts/s, p50 {res.raw.p50_ms:.2f} ms, "
        f"p99 {res.raw.p99_ms:.2f} ms"
    )
    if res.soak is not None:
        s = res.soak
        print(
            f"soak c={s.run.concurrency} {s.run.duration_s:.0f} s: {_fmt_rate(s.run.rate)} "
            f"reports/s, p99 {s.run.p99_ms:.1f} ms; server RSS idle {s.rss_idle_kib / 1024:.1f} "
            f"MB, start {s.start_mb:.1f}, end {s.end_mb:.1f}, max {s.max_mb:.1f} MB, "
            f"second-half slope {s.slope_mb_per_min:+.2f} MB/min"
        )
    print(noise_note(res))
    print("\nTargets:")
    for name, met, value in targets(res):
        mark = "n/a " if met is None else "MET " if met else "MISS"
        print(f"  [{mark}] {name}: {value}")


def markdown(res: Results) -> str:
    out = [
        f"Command: `{res.command}`",
        "",
        f"Code {res.version}; engine {res.engine}; load generator {res.client}; "
        f"database on {res.filesystem}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{res.body_bytes:,}-byte JSON reports; {res.duration_s:g} s per run.",
        "",
        _md_table(HEADERS, summary_rows(res)),
        "",
        f"Raw SQLite ceiling (same run, same disk; WAL, `synchronous=FULL`, one 2 KB row and "
        f"one commit per insert): **{_fmt_rate(res.raw.rate)} inserts/s** "
        f"(p50 {res.raw.p50_ms:.2f} ms, p99 {res.raw.p99_ms:.2f} ms).",
    ]
    if res.soak is not None:
        s = res.soak
        out += [
            "",
            f"Memory (soak, c={s.run.concurrency}, {s.run.duration_s:.0f} s, "
            f"{_fmt_rate(s.run.rate)} reports/s): server RSS {s.start_mb:.1f} MB at start, "
            f"{s.end_mb:.1f} MB at end, max {s.max_mb:.1f} MB; second-half slope "
            f"{s.slope_mb_per_min:+.2f} MB/min.",
        ]
    out += ["", noise_note(res)]
    out += ["", *target_table(targets(res))]
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--concurrency", default="16,64", help="comma-separated connection counts")
    parser.add_argument(
        "--soak", type=float, default=60.0, help="memory soak seconds at the top level (0 skips)"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="web processes (`vigil serve --processes N`; server CPU and RSS are summed)",
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (~30 s)")
    parser.add_argument(
        "--raw-seconds", type=float, default=5.0, help="seconds for the raw SQLite ceiling"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per endpoint")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk -t (client threads)")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk when installed, else a Python asyncio client)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="wait up to this many seconds for other load to stop before measuring",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="parent folder for the scratch data"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.soak, args.raw_seconds, args.warmup = 3.0, 8.0, 1.0, 1.0
    args.levels = [int(x) for x in str(args.concurrency).split(",") if x.strip()]
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 1000:
        parser.error("--concurrency takes 1..1000, comma-separated")
    if not 1 <= args.duration <= 600 or not 0 <= args.soak <= 3600:
        parser.error("--duration is 1..600 s and --soak 0..3600 s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = ".venv/bin/python benchmarks/intake.py" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), or use --client python")
    body = report_body()
    version = source_version()
    busy = wait_for_quiet(args.wait_idle)
    print(f"Vigil intake benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  code {version}; engine {args.engine}; {args.processes} web process(es); "
        f"{os.cpu_count()} cores; "
        f"Python {platform.python_version()}; "
        f"client {client}"
        + (" (figures are client-bound)" if client == "python" else f" -t{args.wrk_threads}")
        + f"; body {len(body):,} bytes"
    )
    if busy > NOISY_OTHER_PCT:
        print(f"  WARNING: the machine is busy before we start ({busy:.0f}% of a core)")

    with BenchServer(args.engine, workdir=args.workdir, processes=args.processes) as server:
        fs = filesystem_of(server.tmp)
        print(f"  server pid {server.pid} on {server.base_url}; scratch in {server.tmp} ({fs})")
        if fs in {"tmpfs", "ramfs"}:
            print("  WARNING: scratch data is in memory; fsync is free here. Use --workdir.")
        raw = raw_sqlite_ceiling(server.tmp, body, args.raw_seconds)
        print(
            f"  raw SQLite ceiling: {_fmt_rate(raw.rate)} inserts/s "
            f"(p50 {raw.p50_ms:.2f} ms, p99 {raw.p99_ms:.2f} ms), 1 fsync'd commit per 2 KB row",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="vigil-wrk-") as scratch:
            loader = Loader(server, Path(scratch), args.wrk_threads, client)
            top = max(args.levels)
            if args.warmup > 0:
                for label, method, path, payload, expected in (
                    ("warm-up", "GET", "/healthz", None, 200),
                    ("warm-up", "POST", REPORTS_PATH, body, 201),
                ):
                    print_run(loader.run(label, method, path, payload, expected, top, args.warmup))
            levels: list[tuple[Run, Run]] = []
            for c in args.levels:
                health = loader.run("healthz", "GET", "/healthz", None, 200, c, args.duration)
                print_run(health)
                intake = loader.run("intake", "POST", REPORTS_PATH, body, 201, c, args.duration)
                print_run(intake)
                levels.append((health, intake))
            soaked = None
            if args.soak > 0:
                soaked = soak(loader, body, top, args.soak)
                print_run(soaked.run)
        results = Results(
            command=command,
            version=version,
            engine=args.engine,
            client=client if client == "python" else f"wrk -t{args.wrk_threads}",
            filesystem=fs,
            body_bytes=len(body),
            duration_s=args.duration,
            raw=raw,
            levels=levels,
            soak=soaked,
        )
    print_summary(results)
    print("\n--- markdown for docs/benchmarks.md ---")
    print(markdown(results))
    bad_rows = [r for _, r in levels if _check_rows(r).startswith("MISMATCH")]
    if soaked is not None and _check_rows(soaked.run).startswith("MISMATCH"):
        bad_rows.append(soaked.run)
    if bad_rows:
        print("\nDURABILITY CHECK FAILED: rows in `reports` do not match the 201 answers.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
