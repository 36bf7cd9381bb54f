"""What ``benchmarks/linkage.py`` measures the same way for Vigil and for Splink: a child
process's wall time and peak memory, and the pairwise precision, recall and F1 of a file of
scored pairs against the truth.

Both matchers run as child processes started the same way, and ``os.wait4`` returns the
child's own resource usage, so the peak resident memory of one run is never mixed with
another's (``RUSAGE_CHILDREN`` would give the largest child so far). Scoring happens in the
parent with DuckDB, outside the measured process.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._measure import machine_busy_s

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ChildRun:
    label: str
    argv: list[str]
    wall_s: float
    peak_rss_mib: float
    returncode: int
    log: Path
    stats: dict[str, Any] = field(default_factory=dict)
    cpu_s: float = 0.0  # the child's user + system CPU (its own children included)
    other_cpu_pct: float = 0.0  # other processes' CPU meanwhile, % of one core

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def run_child(
    label: str,
    argv: list[str],
    log: Path,
    *,
    timeout_s: float,
    stats_path: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildRun:
    """Run ``argv`` to the end (or ``timeout_s``), its output to ``log``; wall time from
    spawn to exit and the child's peak RSS from its own rusage."""
    with log.open("wb") as out:
        busy0 = machine_busy_s()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env or dict(os.environ)
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout_s:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                out.write(f"\n[benchmark] killed after {timeout_s:.0f} s\n".encode())
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        busy = machine_busy_s() - busy0
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    stats: dict[str, Any] = {}
    if stats_path is not None and stats_path.exists():
        stats = json.loads(stats_path.read_text())
    cpu = usage.ru_utime + usage.ru_stime
    other = max(0.0, 100 * (busy - cpu) / wall) if wall else 0.0
    run = ChildRun(label, argv, wall, usage.ru_maxrss / 1024, proc.returncode, log, stats)
    run.cpu_s, run.other_cpu_pct = cpu, other
    return run


@dataclass
class Accuracy:
    """Pairwise accuracy of the pairs called matches, and the best any threshold could do."""

    predicted: int
    true_positive: int
    truth: int
    best_threshold: float | None = None
    best_f1: float | None = None
    best_precision: float | None = None
    best_recall: float | None = None
    candidates_found: int | None = None  # true pairs among every scored pair (blocking recall)

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        total = self.predicted + self.truth
        return 2 * self.true_positive / total if total else 0.0

    def line(self) -> str:
        text = f"P {self.precision:.4f}  R {self.recall:.4f}  F1 {self.f1:.4f}"
        if self.best_f1 is not None:
            text += (
                f"  (best threshold {self.best_threshold:.6g}: P {self.best_precision:.4f} "
                f"R {self.best_recall:.4f} F1 {self.best_f1:.4f})"
            )
        return text


_IS_MATCH = "lower(trim(cast(is_match as varchar))) in ('true', '1', 'yes', 't')"


def _source(path: Path) -> str:
    quoted = "'" + str(path).replace("'", "''") + "'"
    if path.suffix == ".parquet":
        return f"read_parquet({quoted})"
    return f"read_csv({quoted}, header = true, all_varchar = true)"


def score_pairs(
    pairs: Path,
    *,
    same: str | None,
    truth_total: int,
    left: str = "id_l",
    right: str = "id_r",
    threshold: float | None = None,
    tables: dict[str, Any] | None = None,
) -> Accuracy:
    """Score a file of pairs: those with ``is_match`` (or, with ``threshold``, a match
    probability at or above it) are the predictions; ``same`` is a SQL condition on
    ``a`` and ``b`` (the two ids) that is true for a true pair, or None to join both ids to
    a registered ``truth`` table (id, person). Unordered pairs are counted
    once. The best-threshold figures sweep every probability in the file."""
    import duckdb

    con = duckdb.connect()
    for name, table in (tables or {}).items():
        con.register(name, table)
    call = f"match_probability >= {threshold}" if threshold is not None else _IS_MATCH
    con.execute(
        f"""
        create table scored as
        select least(a, b) as a, greatest(a, b) as b, max(p) as p, bool_or(called) as called
        from (
            select cast({left} as varchar) as a, cast({right} as varchar) as b,
                cast(match_probability as double) as p, {call} as called
            from {_source(pairs)}
        )
        group by 1, 2
        """
    )
    if same is None:  # the truth table: same person on both sides
        con.execute(
            "create table judged as select p, called, coalesce(ta.person = tb.person, false) "
            "as ok from scored left join truth ta on ta.id = a left join truth tb on tb.id = b"
        )
    else:
        con.execute(f"create table judged as select p, called, ({same}) as ok from scored")
    predicted, tp, found = con.execute(
        "select count(*) filter (where called), count(*) filter (where called and ok), "
        "count(*) filter (where ok) from judged"
    ).fetchall()[0]
    best = con.execute(
        f"""
        select p, tp, n from (
            select p, sum(ok::int) over w as tp, count(*) over w as n
            from judged window w as (order by p desc rows unbounded preceding)
        ) order by 2 * tp / (n + {truth_total}) desc limit 1
        """
    ).fetchall()
    con.close()
    acc = Accuracy(int(predicted or 0), int(tp or 0), truth_total, candidates_found=int(found))
    if best:
        p, best_tp, n = best[0]
        acc.best_threshold = float(p)
        acc.best_precision = best_tp / n if n else 0.0
        acc.best_recall = best_tp / truth_total if truth_total else 0.0
        acc.best_f1 = 2 * best_tp / (n + truth_total) if (n + truth_total) else 0.0
    return acc


def truth_table(cluster_of: dict[str, str]) -> Any:
    """The truth as an Arrow table (id, person) for DuckDB to join on."""
    import pyarrow as pa

    return pa.table({"id": list(cluster_of), "person": list(cluster_of.values())})


def true_pair_count(cluster_of: dict[str, str]) -> int:
    """All pairs of records of the same person (a person seen k times gives k(k-1)/2)."""
    sizes: dict[str, int] = {}
    for person in cluster_of.values():
        sizes[person] = sizes.get(person, 0) + 1
    return sum(k * (k - 1) // 2 for k in sizes.values())
