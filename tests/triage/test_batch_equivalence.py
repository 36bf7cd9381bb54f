"""Triaging reports in batches gives exactly what triaging them one job at a time gives.

The pipeline reads a batch's clustering lookups once and lets the batch's reports see each
other in memory (``vigil.triage.cluster_round``); these tests run the same reports through
a worker taking one job at a time and through one taking them all at once, from the same
starting point, and compare everything triage stored: priorities, scores, factors (with
their evidence, which names the cluster size at the time), categories, items, clusters,
links, the history of every run and the jobs queued. Every report here is synthetic.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import Connection, event, select

from tests.factories import minimal_report
from vigil.audit.services import PUBLIC
from vigil.intake import services as intake_services
from vigil.intake.models import Report
from vigil.intake.schemas import ReportIn
from vigil.intake.services import ensure_receiving_org, submit_report
from vigil.intake.thread import add_followup
from vigil.jobs.models import Job
from vigil.jobs.registry import Registry
from vigil.jobs.worker import Worker
from vigil.triage import pipeline
from vigil.triage.models import ClusterLink, TriageDecision, TriageItem, TriageResult
from vigil.triage.tasks import TRIAGE_REPORT
from vigil.web.runtime import Runtime

EXPLOSION = (
    "Large explosion heard near Victoria Street shopping centre at about 3pm. "
    "Smoke coming from the east entrance and people running towards the car park. "
    "A man in a dark jacket was seen leaving quickly on a blue bicycle."
)
SURGE = [
    EXPLOSION,
    EXPLOSION.replace("explosion", "explosoin").replace("bicycle", "bicyle"),
    "Hello, I want to report this. " + EXPLOSION + " Thanks.",
    EXPLOSION.replace("dark jacket", "black jacket"),
    "Urgent: " + EXPLOSION.replace("quickly", "fast"),
    EXPLOSION + " Please send someone.",
]
PARAPHRASE = (
    "Heard a loud explosion by the Victoria Street shopping centre around 3pm, smoke at the "
    "east entrance, people running to the car park. Man in dark jacket left fast on a bike."
)
VAN = (
    "A white van has been parked outside the warehouse on Mill Lane for three nights and two "
    "men keep carrying heavy boxes into the lock-up behind it after midnight. "
    "One of them gave his number as 07700 900123."
)
FLAT = (
    "My neighbour in flat 3 keeps getting deliveries of chemicals and fertiliser sacks and "
    "there is a strong smell from the balcony late in the evening. His phone is 07700900123."
)
DRONE = (
    "Somebody flew a small drone over the football stadium during the match on Saturday and "
    "filmed the stands from very low down before landing it in the park next door."
)
PLATE_SEEN = (
    "The same silver hatchback AB12 CDE has circled the primary school gates every afternoon "
    "this week, the driver takes photos of the children's entrance and leaves quickly."
)
T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
HERE = {"lat": 53.4794, "lon": -2.2453}
NEARBY = {"lat": 53.4815, "lon": -2.2453}  # about 230 m north


def first_reports() -> list[dict[str, Any]]:
    return [
        minimal_report(description=SURGE[0], when={"start": T0.isoformat()}, where=HERE),
        minimal_report(description=VAN),
        minimal_report(description=SURGE[1]),
        minimal_report(description=DRONE, kind="other"),
        minimal_report(
            description=PARAPHRASE,
            when={"start": (T0 + timedelta(minutes=30)).isoformat()},
            where=NEARBY,
        ),
        minimal_report(description=SURGE[2]),
        minimal_report(description=PLATE_SEEN, kind="vehicle"),
        minimal_report(description=FLAT),
        minimal_report(description=SURGE[3]),
    ]


def later_reports() -> list[dict[str, Any]]:
    return [
        minimal_report(description=SURGE[4]),
        minimal_report(
            description=DRONE.replace("Saturday", "Sunday"),
            vehicles=[{"registration": "AB12 CDE", "colour": "silver"}],
        ),
        minimal_report(description=SURGE[5]),
    ]


class Run:
    """Submits the scenario through intake's services and triages it with one worker batch
    size, recording the size of each batch the handler was given. (No web app: its
    background housekeeping would write on the test's connection meanwhile.)"""

    def __init__(self, rt: Runtime, batch_size: int) -> None:
        self.rt, self.batch_size = rt, batch_size
        self.received_at = T0 + timedelta(hours=2)
        self.references: list[str] = []
        self.codes: list[str] = []
        self.batches: list[int] = []

    def submit(self, documents: list[dict[str, Any]]) -> None:
        """Reports received a second apart from a fixed moment, the same in every run (the
        pipeline reads times in the text relative to receipt)."""
        ensure_receiving_org(self.rt)
        for document in documents:
            self.received_at += timedelta(seconds=1)
            report = ReportIn.model_validate(document)
            with patch.object(intake_services, "utcnow", lambda: self.received_at):
                accepted = asyncio.run(submit_report(self.rt, PUBLIC, report, [], channel="api"))
            self.references.append(accepted.reference)
            self.codes.append(accepted.followup_code)

    def report_ids(self) -> list[int]:
        with self.rt.db.session() as session:
            found = dict(
                session.execute(
                    select(Report.reference, Report.id).where(Report.reference.in_(self.references))
                ).all()
            )
        return [found[ref] for ref in self.references]

    def follow_up(self, n: int, text: str) -> None:
        ref, code = self.references[n], self.codes[n]
        asyncio.run(add_followup(self.rt, "test", ref, code, text, [], channel="api"))

    def triage(self) -> None:
        registry = Registry()

        def handler(rt: Runtime, payloads: list[dict[str, Any]]) -> None:
            self.batches.append(len(payloads))
            pipeline.triage_reports(rt, payloads)

        registry.register(TRIAGE_REPORT, handler)
        Worker(self.rt, registry, batch_size=self.batch_size).run_until_idle()

    def scenario(self) -> dict[str, Any]:
        """Reports arrive, are triaged; follow-ups and more reports arrive (so the second
        batch mixes re-runs with first runs, and re-scoring of earlier cluster members),
        and are triaged."""
        self.submit(first_reports())
        self.triage()
        first = outcome(self.rt, self.references)
        self.follow_up(3, "I think the drone belonged to the man with the van, 07700 900123.")
        self.follow_up(7, "Correction: the smell is strongest on Sunday mornings.")
        self.submit(later_reports())
        self.triage()
        return {"after the first reports": first, "at the end": outcome(self.rt, self.references)}


def outcome(rt: Runtime, references: list[str]) -> dict[str, Any]:
    """Everything triage stored, with report ids replaced by their order of submission (ids
    differ between runs on PostgreSQL, whose sequences a rollback does not rewind)."""
    order = {ref: n for n, ref in enumerate(references)}
    with rt.db.session() as session:
        n_of = {
            rid: order[ref] for rid, ref in session.execute(select(Report.id, Report.reference))
        }

        def n(report_id: int | None) -> int | None:
            return None if report_id is None else n_of[report_id]

        results = {
            n(r.report_id): (
                r.status,
                r.priority,
                r.score,
                r.factors,
                r.categories,
                r.category_codes,
                r.due_at,
                r.config_version,
                n(r.cluster_id),
            )
            for r in session.scalars(select(TriageResult))
        }
        items = sorted(
            (
                n(i.report_id),
                i.kind,
                i.value,
                i.text,
                i.start,
                i.end,
                i.confidence,
                i.source,
                i.detail or "",
                i.status,
                i.followup_id is not None,
            )
            for i in session.scalars(select(TriageItem))
        )
        links = sorted(
            (n(k.report_id), n(k.other_report_id), k.reason, k.detail, k.score)
            for k in session.scalars(select(ClusterLink))
        )
        history = [
            (n(d.report_id), d.action, d.detail.get("priority"), n(d.detail.get("cluster_id")))
            for d in session.scalars(select(TriageDecision).order_by(TriageDecision.id))
        ]
        jobs = sorted(
            (job.kind, job.status, job_key(job.key, n_of)) for job in session.scalars(select(Job))
        )
    return {"results": results, "items": items, "links": links, "history": history, "jobs": jobs}


def first_difference(got: Any, expected: Any) -> Any:
    """Where two outcomes first part (for a readable failure)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        for key in sorted(set(got) | set(expected)):
            if got.get(key) != expected.get(key):
                return key, first_difference(got.get(key), expected.get(key))
    if isinstance(got, list | tuple) and isinstance(expected, list | tuple):
        for n, (a, b) in enumerate(zip(got, expected, strict=False)):
            if a != b:
                return n, first_difference(a, b)
        return "lengths", len(got), len(expected)
    return got, expected


def job_key(key: str, n_of: dict[int, int]) -> str:
    """A job's key with its report id as an order of submission, and without follow-up ids
    (both differ between runs on PostgreSQL)."""
    key = re.sub(r"^([a-z.]+):(\d+)", lambda m: f"{m[1]}:#{n_of[int(m[2])]}", key)
    return re.sub(r"followup:\d+", "followup", key)


@pytest.fixture
def starting_point(connection: Connection) -> Iterator[Any]:
    """Runs a function from the same database state each time it is called."""

    def run_from_start(fn: Any) -> Any:
        savepoint = connection.begin_nested()
        try:
            return fn()
        finally:
            savepoint.rollback()

    yield run_from_start


def test_a_batch_triages_exactly_as_one_job_at_a_time(rt: Runtime, starting_point: Any) -> None:
    alone = Run(rt, batch_size=1)
    together = Run(rt, batch_size=64)
    one_by_one = starting_point(alone.scenario)
    batched = starting_point(together.scenario)

    assert set(alone.batches) == {1}
    assert together.batches[:2] == [9, 6]  # the first reports; then 3 new and 2 follow-ups
    for moment in ("after the first reports", "at the end"):
        for part in ("results", "items", "links", "history", "jobs"):
            got, expected = batched[moment][part], one_by_one[moment][part]
            assert got == expected, (moment, part, first_difference(got, expected))

    # What was compared is not trivial: clusters formed and grew past both thresholds, and
    # reports were triaged again within a batch.
    end = batched["at the end"]
    surge = {n for n, row in end["results"].items() if row[8] == 0}
    assert {0, 2, 5, 8, 9, 11} <= surge
    for moment, expected in (("after the first reports", "several"), ("at the end", "many")):
        codes = {f["code"] for row in batched[moment]["results"].values() for f in row[3]}
        assert f"{expected}_reports" in codes
    assert {reason for _, _, reason, _, _ in end["links"]} >= {"text", "identifier", "time_place"}
    runs_of = [entry[0] for entry in end["history"]]
    assert runs_of.count(3) >= 2 and runs_of.count(0) >= 3


def test_a_failing_report_does_not_hold_back_the_others_in_its_batch(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(rt, batch_size=64)
    run.submit(first_reports()[:4])
    real = pipeline.prioritise

    def flaky(text: str, *args: Any, **kwargs: Any) -> Any:
        if "drone" in text:
            raise RuntimeError("synthetic failure")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(pipeline, "prioritise", flaky)
    run.triage()
    with rt.db.session() as session:
        statuses = dict(
            session.execute(
                select(Report.description, TriageResult.status).join(
                    TriageResult, TriageResult.report_id == Report.id
                )
            ).all()
        )
        failed = session.scalars(select(Job).where(Job.last_error.is_not(None))).all()
    assert statuses == {
        SURGE[0]: "done",
        VAN: "done",
        SURGE[1]: "done",
        DRONE: "pending",  # still workable in the queue, its job waiting to be retried
    }
    assert [job.status for job in failed] == ["queued"]
    assert failed[0].last_error == "RuntimeError: synthetic failure"
    # The pipeline itself triaged the failing chunk again report by report and told the
    # worker which job failed: the batch ran once, then the first report's re-scoring.
    assert run.batches == [4, 1]


def unrelated(n: int) -> str:
    """A text of its own (words drawn at random), so the reports form no cluster."""
    words = (DRONE + " " + VAN + " " + FLAT).replace(".", "").split()
    rng = random.Random(n)
    return " ".join(rng.choice(words) for _ in range(40)) + "."


def test_a_batch_costs_a_few_statements_whatever_its_size(
    rt: Runtime, connection: Connection, starting_point: Any
) -> None:
    def statements_for(count: int) -> int:
        """Statements the pipeline sends for a batch of ``count`` unrelated reports."""

        def triage() -> int:
            run = Run(rt, batch_size=count)
            run.submit([minimal_report(description=unrelated(n)) for n in range(count)])
            sent = [0]

            def counted(*_args: Any) -> None:
                sent[0] += 1

            event.listen(connection, "before_cursor_execute", counted)
            try:
                pipeline.triage_reports(rt, [{"report_id": rid} for rid in run.report_ids()])
            finally:
                event.remove(connection, "before_cursor_execute", counted)
            return sent[0]

        return int(starting_point(triage))

    few, many = statements_for(4), statements_for(24)
    # One job at a time cost about 13 statements a report; a batch costs a fixed few, and
    # one more for every 64 text bands looked up (25 a report).
    assert many - few <= 10, (few, many)
    assert many < 24 * 2, many
