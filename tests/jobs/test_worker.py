"""The worker: batches per kind, retries with back-off, isolates poison, reclaims leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.jobs import Clock
from vigil.jobs import (
    Failure,
    Job,
    NewJob,
    PartialFailure,
    Registry,
    Worker,
    enqueue_many,
)
from vigil.jobs.worker import describe_error
from vigil.web.runtime import Runtime

Payloads = list[dict[str, Any]]


def add_jobs(rt: Runtime, kind: str, ids: range | list[int], **extra: Any) -> None:
    rows = [NewJob(kind, f"{kind}:{n}", {"report_id": n}, **extra) for n in ids]
    rt.db.write_sync(lambda s: enqueue_many(s, rows))


def stored(rt: Runtime) -> dict[str, Job]:
    with rt.db.session() as session:
        return {j.key: j for j in session.scalars(select(Job).order_by(Job.id))}


class Recorder:
    """A handler that remembers every call, and fails for the report ids it is told to."""

    def __init__(self, poison: set[int] | None = None, fails: int = 0) -> None:
        self.calls: list[list[int]] = []
        self.succeeded: list[int] = []
        self.poison = poison or set()
        self.fails = fails

    def __call__(self, rt: Runtime, payloads: Payloads) -> None:
        ids = [p["report_id"] for p in payloads]
        self.calls.append(ids)
        if self.fails > 0:
            self.fails -= 1
            raise ConnectionError("scoring service unavailable\nwhile scoring: secret words")
        bad = self.poison.intersection(ids)
        if bad:
            raise ValueError(f"report {min(bad)} has no description")
        self.succeeded += ids


def registry_of(**handlers: Callable[[Runtime, Payloads], None]) -> Registry:
    registry = Registry()
    for kind, fn in handlers.items():
        registry.register(kind, fn)
    return registry


def test_the_worker_runs_one_handler_call_per_kind_and_marks_the_jobs_done(rt: Runtime) -> None:
    reports, followups = Recorder(), Recorder()
    add_jobs(rt, "report", range(1, 6))
    add_jobs(rt, "followup", [10, 11])
    worker = Worker(rt, registry_of(report=reports, followup=followups), batch_size=64)
    assert worker.run_until_idle() == 7
    assert reports.calls == [[1, 2, 3, 4, 5]] and followups.calls == [[10, 11]]
    jobs = stored(rt)
    assert {j.status for j in jobs.values()} == {"done"}
    assert all(j.attempts == 1 and j.finished_at and j.locked_by is None for j in jobs.values())
    assert (worker.processed, worker.succeeded, worker.errors) == (7, 7, 0)
    assert worker.run_until_idle() == 0


def test_batches_are_no_larger_than_batch_size(rt: Runtime) -> None:
    handler = Recorder()
    add_jobs(rt, "report", range(10))
    assert Worker(rt, registry_of(report=handler), batch_size=4).run_until_idle() == 10
    assert [len(c) for c in handler.calls] == [4, 4, 2]


def test_the_registry_decorator_registers_and_refuses_a_second_handler_for_a_kind() -> None:
    registry = Registry()

    @registry.register("report")
    def handle(rt: Runtime, payloads: Payloads) -> None:
        return None

    assert registry.handler("report") is handle and "report" in registry
    with pytest.raises(ValueError, match="already registered"):
        registry.register("report", handle)


def test_jobs_of_kinds_the_worker_cannot_handle_are_left_for_another_worker(rt: Runtime) -> None:
    add_jobs(rt, "other", [1])
    assert Worker(rt, registry_of(report=Recorder())).run_until_idle() == 0
    assert Worker(rt, Registry()).run_until_idle() == 0
    assert stored(rt)["other:1"].status == "queued"


def test_a_failing_job_is_retried_with_back_off_and_finally_failed_with_its_error(
    rt: Runtime,
) -> None:
    clock = Clock()
    handler = Recorder(poison={7})
    add_jobs(rt, "report", [7], max_attempts=3)
    worker = Worker(rt, registry_of(report=handler), clock=clock, backoff_base_s=2)

    assert worker.run_until_idle() == 1
    job = stored(rt)["report:7"]
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.last_error == "ValueError: report 7 has no description"
    assert job.run_after == clock.now + timedelta(seconds=2)
    clock.advance(1.9)
    assert worker.run_until_idle() == 0  # still backing off

    clock.advance(0.1)
    assert worker.run_until_idle() == 1
    job = stored(rt)["report:7"]
    assert (job.status, job.attempts, job.run_after) == (
        "queued",
        2,
        clock.now + timedelta(seconds=4),
    )

    clock.advance(4)
    assert worker.run_until_idle() == 1
    job = stored(rt)["report:7"]
    assert (job.status, job.attempts, job.finished_at) == ("failed", 3, clock.now)
    assert job.last_error == "ValueError: report 7 has no description"
    clock.advance(86_400)
    assert worker.run_until_idle() == 0  # failed for good: waits for an operator
    assert (worker.processed, worker.succeeded, worker.errors) == (3, 0, 3)


def test_back_off_is_capped_and_a_job_that_recovers_is_done(rt: Runtime) -> None:
    clock = Clock()
    handler = Recorder(fails=3)
    add_jobs(rt, "report", [1], max_attempts=10)
    worker = Worker(rt, registry_of(report=handler), clock=clock, backoff_cap_s=5)
    delays = []
    for _ in range(3):
        assert worker.run_until_idle() == 1
        job = stored(rt)["report:1"]
        delays.append((job.run_after - clock.now).total_seconds())
        clock.advance(delays[-1])
    assert delays == [2, 4, 5]
    assert worker.run_until_idle() == 1
    job = stored(rt)["report:1"]
    assert (job.status, job.attempts, job.last_error) == ("done", 4, None)


def test_a_poison_job_does_not_fail_its_batch_neighbours(rt: Runtime) -> None:
    handler = Recorder(poison={3})
    add_jobs(rt, "report", range(1, 6))
    worker = Worker(rt, registry_of(report=handler))
    assert worker.run_until_idle() == 5
    assert handler.calls == [[1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]
    assert sorted(handler.succeeded) == [1, 2, 4, 5]
    jobs = stored(rt)
    assert {k: j.status for k, j in jobs.items()} == {
        "report:1": "done",
        "report:2": "done",
        "report:3": "queued",
        "report:4": "done",
        "report:5": "done",
    }
    assert jobs["report:3"].last_error == "ValueError: report 3 has no description"
    assert (worker.succeeded, worker.errors) == (4, 1)


def test_a_handler_naming_its_failed_payloads_has_only_those_retried(rt: Runtime) -> None:
    calls: list[list[int]] = []

    def handle(rt: Runtime, payloads: Payloads) -> None:
        calls.append([p["report_id"] for p in payloads])
        if len(payloads) > 1:  # it committed the others, and knows which one failed
            raise PartialFailure({1: ValueError("report 2 has no description")})

    add_jobs(rt, "report", range(1, 4))
    worker = Worker(rt, registry_of(report=handle))
    assert worker.run_once() == 3
    assert calls == [[1, 2, 3]]  # nothing already committed is run again
    jobs = stored(rt)
    assert {k: j.status for k, j in jobs.items()} == {
        "report:1": "done",
        "report:2": "queued",
        "report:3": "done",
    }
    assert jobs["report:2"].last_error == "ValueError: report 2 has no description"
    assert (worker.succeeded, worker.errors) == (2, 1)


def test_a_batch_comes_in_the_order_its_jobs_fell_due(rt: Runtime) -> None:
    """As a worker taking one job at a time would run them (a batch handler may rely on
    it), not in the order the jobs were first created."""
    clock = Clock()
    add_jobs(rt, "report", [1], run_after=clock.now + timedelta(seconds=1))
    add_jobs(rt, "report", [2, 3])  # due now (a second before the clock)
    add_jobs(rt, "report", [4], run_after=clock.now - timedelta(seconds=5))
    handler = Recorder()
    Worker(
        rt, registry_of(report=handler), clock=lambda: clock.now + timedelta(seconds=2)
    ).run_once()
    assert handler.calls == [[4, 2, 3, 1]]


def test_urgent_jobs_go_first_and_the_others_keep_a_share_of_each_batch(rt: Runtime) -> None:
    """Linkage waits for triage, never the other way round, but is never stalled."""
    add_jobs(rt, "linkage", range(1, 6))  # older
    add_jobs(rt, "triage", range(1, 21))
    linkage, triage = Recorder(), Recorder()
    registry = registry_of(linkage=linkage)
    registry.register("triage", triage, urgent=True)
    worker = Worker(rt, registry, batch_size=16)
    assert worker.run_once() == 17
    assert (triage.calls, linkage.calls) == ([list(range(1, 17))], [[1]])
    assert worker.run_once() == 4 + 4  # the rest of triage; linkage fills the batch
    assert (triage.calls[-1], linkage.calls[-1]) == ([17, 18, 19, 20], [2, 3, 4, 5])


def test_an_expired_lease_is_reclaimed_and_the_late_worker_cannot_overwrite(rt: Runtime) -> None:
    clock = Clock()
    handler = Recorder()
    add_jobs(rt, "report", [1, 2, 3])
    registry = registry_of(report=handler)
    crashed = Worker(rt, registry, lease_s=30, clock=clock, worker_id="crashed")
    held = crashed.claim()  # ... and then the process dies without finishing
    assert [j.payload["report_id"] for j in held] == [1, 2, 3]
    assert {j.locked_by for j in stored(rt).values()} == {"crashed"}

    rescuer = Worker(rt, registry, lease_s=30, clock=clock, worker_id="rescuer")
    assert rescuer.run_until_idle() == 0  # the lease still holds
    clock.advance(30.001)
    assert rescuer.run_until_idle() == 3
    assert handler.calls == [[1, 2, 3]]
    jobs = stored(rt)
    assert {(j.status, j.attempts, j.locked_by) for j in jobs.values()} == {("done", 2, None)}

    # The crashed worker was only stalled: its late outcome changes nothing.
    crashed.finish([held[0].id], [Failure(held[1].id, "late", clock.now, final=True)])
    assert {j.status for j in stored(rt).values()} == {"done"}


def test_a_job_that_keeps_killing_its_worker_runs_out_of_attempts(rt: Runtime) -> None:
    clock = Clock()
    add_jobs(rt, "report", [1], max_attempts=2)
    worker = Worker(rt, registry_of(report=Recorder()), lease_s=10, clock=clock)
    assert len(worker.claim()) == 1  # the worker dies
    clock.advance(11)
    assert len(worker.claim()) == 1  # dies again on the second attempt
    clock.advance(11)
    assert worker.claim() == []
    job = stored(rt)["report:1"]
    assert (job.status, job.attempts, job.finished_at) == ("failed", 2, clock.now)
    assert job.last_error is not None and job.last_error.startswith("WorkerLost")


def test_a_slow_batch_renews_its_lease_before_the_next_handler(rt: Runtime) -> None:
    add_jobs(rt, "a", [1])
    add_jobs(rt, "b", [2])
    leases: list[datetime] = []

    def lease_of_b(rt: Runtime, payloads: Payloads) -> None:
        lease = stored(rt)["b:2"].lease_until
        assert lease is not None
        leases.append(lease)
        time.sleep(0.15)  # more than half the lease

    worker = Worker(rt, registry_of(a=lease_of_b, b=lease_of_b), lease_s=0.2)
    assert worker.run_until_idle() == 2
    assert leases[1] - leases[0] >= timedelta(seconds=0.15)
    assert {j.status for j in stored(rt).values()} == {"done"}


def test_wake_makes_the_background_worker_look_at_once(rt: Runtime) -> None:
    handler = Recorder()
    worker = Worker(rt, registry_of(report=handler), poll_s=60)
    worker.start()
    try:
        time.sleep(0.1)  # it has looked, found nothing, and sleeps for a minute
        add_jobs(rt, "report", [1, 2])
        worker.wake()
        deadline = time.monotonic() + 10
        while worker.processed < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.processed == 2
    finally:
        assert worker.stop(timeout=10)
    assert not worker.alive
    assert {j.status for j in stored(rt).values()} == {"done"}


def test_stop_lets_the_batch_in_hand_finish(rt: Runtime) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocking(rt: Runtime, payloads: Payloads) -> None:
        entered.set()
        release.wait(10)

    add_jobs(rt, "report", [1])
    worker = Worker(rt, registry_of(report=blocking), poll_s=0.01)
    worker.start()
    assert entered.wait(10)
    stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 10})
    stopper.start()
    release.set()
    stopper.join(10)
    assert not worker.alive
    assert stored(rt)["report:1"].status == "done"


def test_stored_errors_keep_only_the_first_line_bounded() -> None:
    assert (
        describe_error(RuntimeError("boom\n[parameters: ('Jo Bloggs',)]")) == "RuntimeError: boom"
    )
    assert describe_error(KeyError()) == "KeyError"
    assert len(describe_error(ValueError("x" * 5000))) == 500


def run_in_background(worker: Worker, *, jobs: int) -> None:
    """Start the worker's thread, wait (at most 10 s) until it has run ``jobs``, stop it."""
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while worker.processed < jobs and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        assert worker.stop(timeout=10)


def test_a_started_worker_warms_up_once_before_its_first_claim(rt: Runtime) -> None:
    events: list[str] = []
    handler = Recorder()
    registry = registry_of(report=handler)
    registry.on_start(lambda _rt: events.append("warm"))
    add_jobs(rt, "report", [1])
    worker = Worker(rt, registry, poll_s=0.01)
    original = worker.claim

    def claim(kinds: Any = None) -> Any:
        events.append("claim")
        return original(kinds)

    worker.claim = claim  # type: ignore[method-assign]
    run_in_background(worker, jobs=1)
    worker.warm_up()  # a second call does nothing
    assert events[0] == "warm" and events.count("warm") == 1 and "claim" in events
    assert handler.succeeded == [1]


def test_a_failing_warm_up_leaves_the_worker_running(rt: Runtime) -> None:
    def broken(_rt: Runtime) -> None:
        raise OSError("model file unreadable")

    handler = Recorder()
    registry = registry_of(report=handler)
    registry.on_start(broken)
    add_jobs(rt, "report", [7])
    run_in_background(Worker(rt, registry, poll_s=0.01), jobs=1)
    assert handler.succeeded == [7]


def test_the_default_workers_load_the_person_scorer_when_they_start(rt: Runtime) -> None:
    from vigil.linkage.online import scorer_for
    from vigil.triage.tasks import default_registry

    scorer_for.cache_clear()
    default_registry().warm_up(rt)
    assert scorer_for.cache_info().currsize == 1
