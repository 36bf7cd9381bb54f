"""Retrain Vigil's packaged person model (src/vigil/linkage/data/person_model.json).

    .venv/bin/python tools/train_person_model.py [--people 300000] [--seed 6]

The model is trained exactly as ``vigil link train`` trains one (unsupervised: Splink's
prior, u sampling and EM) on a synthetic UK population from ``vigil.linkage.synthetic``
— never on real people. Only the is_match threshold uses the synthetic truth: the model
scores a second, independently seeded population and the threshold with the best F1 there
is kept, so the packaged model's decisions are tuned on data it was not trained on.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from vigil.linkage.matching import batch
from vigil.linkage.synthetic import generate_population, write_people_csv

PACKAGED = Path(__file__).resolve().parents[1] / "src/vigil/linkage/data/person_model.json"
MAX_BYTES = 1_000_000


def true_pairs(cluster_of: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for record_id, person_id in cluster_of.items():
        members[person_id].append(record_id)
    return {(a, b) for ids in members.values() for a, b in itertools.combinations(sorted(ids), 2)}


def best_threshold(pairs_csv: Path, truth: set[tuple[str, str]]) -> tuple[float, float]:
    """The threshold (0.05 steps, then 0.01 near the best) with the highest F1."""
    scored: list[tuple[float, bool]] = []
    with pairs_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            pair = tuple(sorted((row["id_l"], row["id_r"])))
            scored.append((float(row["match_probability"]), pair in truth))

    def f1(threshold: float) -> float:
        tp = sum(1 for p, ok in scored if p >= threshold and ok)
        predicted = sum(1 for p, _ in scored if p >= threshold)
        return 2 * tp / (predicted + len(truth)) if predicted else 0.0

    coarse = max((round(t * 0.05, 2) for t in range(1, 20)), key=f1)
    fine = [round(coarse + d / 100, 2) for d in range(-4, 5) if 0 < coarse + d / 100 < 1]
    best = max(fine, key=f1)
    return best, f1(best)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300_000, help="synthetic people to train on")
    parser.add_argument("--validation-people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, default=PACKAGED)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vigil-train-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        population = generate_population(args.people, seed=args.seed)
        training_csv = work / "training.csv"
        write_people_csv(population.records, training_csv)
        del population
        model = batch.train(training_csv, work / "model.json")
        print(f"trained {model.version} on {model.training_rows:,} records", file=sys.stderr)

        validation = generate_population(args.validation_people, seed=args.seed + 1000)
        validation_csv = work / "validation.csv"
        write_people_csv(validation.records, validation_csv)
        truth = true_pairs(validation.cluster_of)
        pairs_csv = work / "pairs.csv"
        batch.dedupe(validation_csv, pairs_csv, model=model)
        threshold, f1 = best_threshold(pairs_csv, truth)
        print(f"validation F1 {f1:.4f} at threshold {threshold}", file=sys.stderr)

        final = model.with_threshold(threshold)
        final.save(args.out)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size:,} bytes, version {final.version}) "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    if size > MAX_BYTES:
        print(f"model file is over {MAX_BYTES:,} bytes: lower TF_TABLE_CAP", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
