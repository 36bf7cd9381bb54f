"""Triage quality: extraction, categories and priority measured against the labelled set.

Run by hand (it is a measurement, never a timed test; the exit status is always 0)::

    .venv/bin/python benchmarks/triage_quality.py                  # the table
    .venv/bin/python benchmarks/triage_quality.py --errors person  # what to fix for one kind
    .venv/bin/python benchmarks/triage_quality.py --errors priority
    .venv/bin/python benchmarks/triage_quality.py --json           # the figures as JSON
    .venv/bin/python benchmarks/triage_quality.py --split dev      # only the half used for fixing

Honest tuning: the set is split in two by report number (even ids: ``dev``, odd ids:
``test``). Whoever improves the rules looks at errors on ``dev`` only; ``test`` is the
held-out half that shows whether a fix generalises. The figures recorded in
docs/benchmarks.md are for the whole set and for ``test`` alone.

For every report of ``benchmarks/data/triage_eval.jsonl`` (see the README beside it) it runs
the real pipeline: ``extract(description, reported_at=...)``, ``merge_structured(items,
StructuredFields(...))`` with the fields the reporter filled in, ``categorise(text, items)``
and ``prioritise(...)`` with a cluster size of 1 (duplicate groups are labels, so the
benchmark never feeds them to the code under test). The signatures are read with
``inspect`` and each function gets the arguments it asks for by name (the text, the report
time, the reporter's chosen kind, the items, the categories, the shipped triage config); any
other optional parameter keeps its default.

Scoring. Within one report, items are compared as sets of (kind, value): a predicted item is
a true positive when an expected item has the same kind and value (case-insensitive for
person, place, organisation and weapon; whitespace tidied for all), and each expected value
is matched at most once. Saying the same value twice is neither rewarded nor punished.
Spans are not scored. Categories are scored per code (multi-label); priority by a confusion
matrix, accuracy and P1 recall. "identifiers" pools phone, email, url, vrm and postcode.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script
DATA = ROOT / "benchmarks" / "data" / "triage_eval.jsonl"

ITEM_KINDS = (
    "phone",
    "email",
    "url",
    "handle",
    "vrm",
    "postcode",
    "datetime",
    "money",
    "place",
    "person",
    "organisation",
    "weapon",
)
IDENTIFIERS = ("phone", "email", "url", "vrm", "postcode")
CASELESS = frozenset({"person", "place", "organisation", "weapon"})
CATEGORY_CODES = (
    "breach",
    "misrepresentation",
    "theft_loss_diversion",
    "sabotage_tampering",
    "cyberattack",
    "expressed_threat",
    "aviation",
    "eliciting_information",
    "testing_security",
    "recruiting_financing",
    "photography",
    "observation_surveillance",
    "materials_acquisition",
    "acquisition_of_expertise",
    "weapons",
    "sector_specific",
    "online_material",
)
PRIORITIES = ("P1", "P2", "P3", "P4")
NO_ANSWER = "none"  # the pipeline crashed or gave no priority

# (figure, threshold): F1 for the item groups, recall for P1.
TARGETS = {
    "identifiers": 0.97,
    "datetime": 0.90,
    "person": 0.85,
    "p1_recall": 1.0,
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Item:
    kind: str
    value: str
    text: str = ""
    start: int | None = None
    end: int | None = None


@dataclass
class Prediction:
    items: list[Item] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    priority: str | None = None
    error: str | None = None  # the pipeline raised for this report


def in_split(report_id: str, split: str) -> bool:
    """``dev`` holds the even-numbered reports, ``test`` the odd ones."""
    if split == "all":
        return True
    even = int("".join(ch for ch in report_id if ch.isdigit())) % 2 == 0
    return even if split == "dev" else not even


def load(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def expected_items(record: dict[str, Any]) -> list[Item]:
    return [
        Item(it["kind"], it["value"], it.get("text", ""), it.get("start"), it.get("end"))
        for it in record["expected"]["items"]
    ]


def key(kind: str, value: str) -> tuple[str, str]:
    """What two items must share to be the same item."""
    tidy = " ".join(str(value).split())
    return (kind, tidy.casefold() if kind in CASELESS else tidy)


# --------------------------------------------------------------------------- scoring


@dataclass
class Match:
    tp: list[Item] = field(default_factory=list)  # the predicted items that matched
    fp: list[Item] = field(default_factory=list)
    fn: list[Item] = field(default_factory=list)


def match_items(expected: Iterable[Item], predicted: Iterable[Item]) -> Match:
    """Match one report's predicted items to its expected items (see the module doc)."""
    unmatched: dict[tuple[str, str], Item] = {}
    for item in expected:
        unmatched.setdefault(key(item.kind, item.value), item)
    seen: set[tuple[str, str]] = set()
    result = Match()
    for item in predicted:
        k = key(item.kind, item.value)
        if k in seen:
            continue  # the same value said twice
        seen.add(k)
        if k in unmatched:
            del unmatched[k]
            result.tp.append(item)
        else:
            result.fp.append(item)
    result.fn = list(unmatched.values())
    return result


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, tp: int = 0, fp: int = 0, fn: int = 0) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        if self.tp + self.fp == 0:
            return 1.0 if self.fn == 0 else 0.0
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        if self.tp + self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class Results:
    reports: int = 0
    items: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    categories: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    # per report: (record id, Match, expected categories, predicted categories, exp/got priority)
    details: list[dict[str, Any]] = field(default_factory=list)
    crashes: list[tuple[str, str]] = field(default_factory=list)


def evaluate(
    records: Sequence[dict[str, Any]], predict: Callable[[dict[str, Any]], Prediction]
) -> Results:
    results = Results()
    for record in records:
        results.reports += 1
        try:
            pred = predict(record)
        except Exception as exc:  # one bad report must not stop the measurement
            pred = Prediction(error=f"{type(exc).__name__}: {exc}")
        if pred.error:
            results.crashes.append((record["id"], pred.error))
        match = match_items(expected_items(record), pred.items)
        for kind in {i.kind for i in match.tp + match.fp + match.fn} | set(ITEM_KINDS):
            results.items[kind].add(
                tp=sum(i.kind == kind for i in match.tp),
                fp=sum(i.kind == kind for i in match.fp),
                fn=sum(i.kind == kind for i in match.fn),
            )
        want = set(record["expected"]["categories"])
        got = set(pred.categories)
        for code in CATEGORY_CODES:
            results.categories[code].add(
                tp=int(code in want and code in got),
                fp=int(code not in want and code in got),
                fn=int(code in want and code not in got),
            )
        for code in got - set(CATEGORY_CODES):  # codes outside the taxonomy are all wrong
            results.categories[code].add(fp=1)
        exp_p = record["expected"]["priority"]
        got_p = pred.priority if pred.priority in PRIORITIES else NO_ANSWER
        results.confusion[(exp_p, got_p)] += 1
        results.details.append(
            {
                "id": record["id"],
                "match": match,
                "categories": (sorted(want), sorted(got)),
                "priority": (exp_p, got_p),
            }
        )
    return results


def pooled(results: Results, kinds: Iterable[str]) -> Counts:
    total = Counts()
    for kind in kinds:
        c = results.items[kind]
        total.add(c.tp, c.fp, c.fn)
    return total


def figures(results: Results) -> dict[str, Any]:
    """Everything measured, as plain JSON-able data."""
    items = {kind: results.items[kind].as_dict() for kind in ITEM_KINDS}
    extra = sorted(set(results.items) - set(ITEM_KINDS))
    items.update({kind: results.items[kind].as_dict() for kind in extra})
    groups = {
        "identifiers": pooled(results, IDENTIFIERS).as_dict(),
        "all_items": pooled(results, list(results.items)).as_dict(),
    }
    cats = {code: results.categories[code].as_dict() for code in CATEGORY_CODES}
    cats.update(
        {c: results.categories[c].as_dict() for c in sorted(set(results.categories) - set(cats))}
    )
    micro = Counts()
    for c in results.categories.values():
        micro.add(c.tp, c.fp, c.fn)
    labels = (*PRIORITIES, NO_ANSWER)
    matrix = {e: {g: results.confusion[(e, g)] for g in labels} for e in PRIORITIES}
    p1_total = sum(matrix["P1"].values())
    correct = sum(matrix[p][p] for p in PRIORITIES)
    p1_recall = matrix["P1"]["P1"] / p1_total if p1_total else 1.0
    predicted_p1 = sum(matrix[e]["P1"] for e in PRIORITIES)
    measured = {
        "identifiers": groups["identifiers"]["f1"],
        "datetime": items["datetime"]["f1"],
        "person": items["person"]["f1"],
        "p1_recall": round(p1_recall, 4),
    }
    return {
        "reports": results.reports,
        "crashes": len(results.crashes),
        "items": items,
        "groups": groups,
        "categories": cats,
        "categories_micro": micro.as_dict(),
        "priority": {
            "confusion": matrix,
            "accuracy": round(correct / results.reports, 4) if results.reports else 0.0,
            "p1_recall": round(p1_recall, 4),
            "p1_precision": round(matrix["P1"]["P1"] / predicted_p1, 4) if predicted_p1 else 0.0,
        },
        "targets": {
            name: {
                "target": target,
                "measured": measured[name],
                "pass": measured[name] >= target,
            }
            for name, target in TARGETS.items()
        },
    }


# --------------------------------------------------------------------------- the pipeline

_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "description", "body", "report_text", "content"),
    "reported_at": ("reported_at", "now", "reference", "received_at", "relative_to", "base", "at"),
    "items": ("items", "extracted", "entities"),
    "fields": ("fields", "structured", "structured_fields"),
    "categories": ("categories", "category_assignments", "assignments", "cats"),
    "cluster_size": ("cluster_size", "cluster", "similar", "duplicates", "similar_count"),
    "kind": ("kind", "report_kind"),
    "config": ("config", "triage_config"),
}


def call_by_name(fn: Callable[..., Any], available: dict[str, Any]) -> Any:
    """Call ``fn`` with the available values its parameters ask for (by name or alias)."""
    lookup = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        source = name if name in available else lookup.get(name)
        if source in available:
            value = available[source]
            annotation = str(param.annotation)
            if source == "reported_at" and "str" in annotation and "datetime" not in annotation:
                value = value.isoformat().replace("+00:00", "Z")
            if param.kind == param.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[name] = value
        elif param.default is param.empty:
            raise TypeError(f"{fn.__qualname__} needs {name!r}, which the benchmark cannot supply")
    return fn(*args, **kwargs)


def _plain(value: Any) -> str:
    value = getattr(value, "value", value)
    return str(value)


def _structured(cls: type, fields: dict[str, Any]) -> Any:
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in params:
            continue
        wants_tuple = "tuple" in str(params[name].annotation).lower()
        kwargs[name] = tuple(value) if wants_tuple and isinstance(value, list) else value
    return cls(**kwargs)


def _default_config() -> Any:
    """The shipped triage configuration (priority weights and thresholds), if there is one."""
    try:
        from vigil.triage import config as cfg
    except ImportError:
        return None
    path = getattr(cfg, "DEFAULT_CONFIG_PATH", None)
    loader = getattr(cfg, "load_config_file", None)
    return loader(path) if path is not None and loader is not None else None


def real_predictor() -> Callable[[dict[str, Any]], Prediction]:
    """The pipeline under test (raises ImportError while a module is missing)."""
    from vigil.triage import categories as cat_mod
    from vigil.triage import extraction, priority

    config = _default_config()

    def predict(record: dict[str, Any]) -> Prediction:
        reported_at = datetime.fromisoformat(record["reported_at"].replace("Z", "+00:00"))
        text = record["description"]
        available: dict[str, Any] = {
            "text": text,
            "reported_at": reported_at,
            "kind": record["kind"],
            "cluster_size": 1,
        }
        if config is not None:
            available["config"] = config
        items = list(call_by_name(extraction.extract, available))
        available["items"] = items
        available["fields"] = _structured(extraction.StructuredFields, record["fields"])
        items = list(call_by_name(extraction.merge_structured, available))
        available["items"] = items
        assigned = list(call_by_name(cat_mod.categorise, available))
        available["categories"] = assigned
        verdict = call_by_name(priority.prioritise, available)
        level = getattr(verdict, "priority", verdict)
        return Prediction(
            items=[Item(_plain(i.kind), str(i.value), i.text, i.start, i.end) for i in items],
            categories=[_plain(getattr(a, "code", a)) for a in assigned],
            priority=_plain(level),
        )

    return predict


# --------------------------------------------------------------------------- output


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _counts_table(title: str, first: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    """Support, tp/fp/fn and precision/recall/F1, one row per item kind or category."""
    table = Table(title=title)
    for col in (first, "support", "tp", "fp", "fn", "precision", "recall", "F1"):
        table.add_column(col, justify="left" if col == first else "right")
    for name, c in rows:
        table.add_row(
            name,
            str(c["support"]),
            str(c["tp"]),
            str(c["fp"]),
            str(c["fn"]),
            _pct(c["precision"]),
            _pct(c["recall"]),
            _pct(c["f1"]),
        )
    return table


def print_report(fig: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]Triage quality[/bold] on {fig['reports']} reports ({DATA.name})"
        + (f", [red]{fig['crashes']} crashed[/red]" if fig["crashes"] else "")
    )
    rows = [(k, fig["items"][k]) for k in fig["items"]]
    rows += [(f"[bold]{k}[/bold]", v) for k, v in fig["groups"].items()]
    console.print(_counts_table("Items (set of kind+value per report)", "kind", rows))
    rows = [*fig["categories"].items(), ("[bold]micro[/bold]", fig["categories_micro"])]
    console.print(_counts_table("Categories (multi-label, per code)", "code", rows))

    pr = fig["priority"]
    labels = (*PRIORITIES, NO_ANSWER)
    table = Table(title="Priority: rows expected, columns predicted")
    table.add_column("expected")
    for g in labels:
        table.add_column(g, justify="right")
    table.add_column("recall", justify="right")
    for e in PRIORITIES:
        row = pr["confusion"][e]
        total = sum(row.values())
        table.add_row(e, *(str(row[g]) for g in labels), _pct(row[e] / total if total else 1.0))
    console.print(table)
    console.print(
        f"accuracy {_pct(pr['accuracy'])}, P1 recall {_pct(pr['p1_recall'])}, "
        f"P1 precision {_pct(pr['p1_precision'])}"
    )

    table = Table(title="Targets")
    for col in ("figure", "measured", "target", ""):
        table.add_column(col)
    names = {
        "identifiers": "identifiers F1",
        "datetime": "datetime F1",
        "person": "person F1",
        "p1_recall": "P1 recall",
    }
    for name, t in fig["targets"].items():
        verdict = "[green]PASS[/green]" if t["pass"] else "[red]MISS[/red]"
        table.add_row(names[name], _pct(t["measured"]), f">= {t['target']:.2f}", verdict)
    console.print(table)


def error_lines(results: Results, records: Sequence[dict[str, Any]], what: str) -> list[str]:
    """False positives and negatives for one item kind, "identifiers", a category code,
    "categories" or "priority", report by report."""
    by_id = {r["id"]: r for r in records}
    kinds = set(IDENTIFIERS) if what == "identifiers" else {what}
    lines: list[str] = []
    for d in results.details:
        rid = d["id"]
        if what == "priority":
            exp, got = d["priority"]
            if exp != got:
                lines.append(f"{rid}  expected {exp} got {got}: {_short(by_id[rid])}")
            continue
        if what == "categories" or what in CATEGORY_CODES:
            want, got = (set(x) for x in d["categories"])
            if what != "categories":
                want, got = want & {what}, got & {what}
            missing, extra = sorted(want - got), sorted(got - want)
            if missing or extra:
                lines.append(f"{rid}  missing {missing} extra {extra}: {_short(by_id[rid])}")
            continue
        match: Match = d["match"]
        fns = [i for i in match.fn if i.kind in kinds]
        fps = [i for i in match.fp if i.kind in kinds]
        for i in fns:
            lines.append(f"{rid}  FN {i.kind} {i.value!r} (text {i.text!r})")
        for i in fps:
            lines.append(f"{rid}  FP {i.kind} {i.value!r} (text {i.text!r})")
    return lines


def _short(record: dict[str, Any], width: int = 110) -> str:
    text = " ".join(record["description"].split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- main


def main(
    argv: list[str] | None = None,
    predictor: Callable[[dict[str, Any]], Prediction] | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled set (JSON lines)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--errors",
        metavar="KIND",
        help="list false positives/negatives for an item kind, 'identifiers', a category code, "
        "'categories' or 'priority'",
    )
    parser.add_argument(
        "--split",
        choices=("all", "dev", "test"),
        default="all",
        help="dev: even report numbers (for error analysis); test: odd (held out)",
    )
    args = parser.parse_args(argv)
    records = [r for r in load(args.data) if in_split(r["id"], args.split)]
    if predictor is None:
        try:
            predictor = real_predictor()
        except ImportError as exc:
            message = f"triage pipeline not available yet ({exc}); nothing measured"
            if args.json:
                print(json.dumps({"reports": len(records), "error": message}))
            else:
                print(message)
            return 0
    results = evaluate(records, predictor)
    fig = figures(results)
    if args.json:
        print(json.dumps(fig, indent=2))
    elif args.errors:
        lines = error_lines(results, records, args.errors)
        print("\n".join(lines) if lines else f"no errors for {args.errors}")
    else:
        print_report(fig)
    if results.crashes and not args.json:
        print(f"\n{len(results.crashes)} report(s) crashed the pipeline, first: ", end="")
        print(f"{results.crashes[0][0]}: {results.crashes[0][1]}")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception:  # a measurement: report the failure, never fail the caller
        traceback.print_exc()
    raise SystemExit(0)
