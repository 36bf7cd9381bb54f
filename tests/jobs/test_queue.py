"""Enqueueing: durable with the caller's transaction, idempotent on key, one statement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.jobs import (
    Job,
    NewJob,
    enqueue,
    enqueue_many,
    job_summary,
    list_jobs,
    purge_done,
    requeue,
)
from vigil.web.runtime import Runtime


def jobs(rt: Runtime) -> list[Job]:
    with rt.db.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def set_status(rt: Runtime, key: str, status: str) -> None:
    def work(session: Session) -> None:
        job = session.scalars(select(Job).where(Job.key == key)).one()
        job.status = status
        job.finished_at = utcnow() if status in {"done", "failed"} else None

    rt.db.write_sync(work)


def test_enqueueing_the_same_key_twice_keeps_one_job_with_the_first_payload(rt: Runtime) -> None:
    rt.db.write_sync(lambda s: enqueue(s, "triage.report", "triage.report:1", {"report_id": 1}))
    rt.db.write_sync(lambda s: enqueue(s, "triage.report", "triage.report:1", {"report_id": 99}))
    (job,) = jobs(rt)
    assert (job.kind, job.key, job.payload) == (
        "triage.report",
        "triage.report:1",
        {"report_id": 1},
    )
    assert (job.status, job.attempts, job.max_attempts) == ("queued", 0, 5)
    assert job.run_after <= utcnow() and job.created_at.tzinfo is not None


@pytest.mark.parametrize("status", ["queued", "running", "failed"])
def test_enqueue_is_a_no_op_while_the_job_is_not_done(rt: Runtime, status: str) -> None:
    rt.db.write_sync(lambda s: enqueue(s, "k", "k:1", {"id": 1}))
    set_status(rt, "k:1", status)
    rt.db.write_sync(lambda s: enqueue(s, "k", "k:1", {"id": 2}))
    (job,) = jobs(rt)
    assert (job.status, job.payload) == (status, {"id": 1})


def test_enqueueing_a_done_key_again_runs_it_again_with_the_new_payload(rt: Runtime) -> None:
    rt.db.write_sync(lambda s: enqueue(s, "k", "k:1", {"id": 1}))
    set_status(rt, "k:1", "done")
    later = utcnow() + timedelta(minutes=5)
    rt.db.write_sync(lambda s: enqueue(s, "k", "k:1", {"id": 2}, run_after=later))
    (job,) = jobs(rt)
    assert (job.status, job.payload, job.finished_at, job.run_after) == (
        "queued",
        {"id": 2},
        None,
        later,
    )


def test_a_job_enqueued_in_a_transaction_that_rolls_back_does_not_exist(rt: Runtime) -> None:
    def store_then_fail(session: Session) -> None:
        enqueue(session, "triage.report", "triage.report:7", {"report_id": 7})
        raise RuntimeError("the report could not be stored")

    with pytest.raises(RuntimeError):
        rt.db.write_sync(store_then_fail)
    rt.db.write_sync(lambda s: enqueue(s, "triage.report", "triage.report:8", {"report_id": 8}))
    assert [j.key for j in jobs(rt)] == ["triage.report:8"]


def test_enqueue_many_sends_one_statement_and_skips_keys_already_there(
    rt: Runtime, connection: Connection
) -> None:
    rt.db.write_sync(lambda s: enqueue(s, "k", "k:3", {"id": 3}))
    statements: list[tuple[str, bool]] = []

    def seen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        if "jobs" in statement:
            statements.append((statement.split()[0], many))

    event.listen(connection, "before_cursor_execute", seen)
    try:
        rows = [NewJob("k", f"k:{i}", {"id": i}, max_attempts=2) for i in range(100)]
        rows.append(NewJob("k", "k:4", {"id": -4}))  # the same key twice in one call
        rt.db.write_sync(lambda s: enqueue_many(s, rows))
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert statements == [("INSERT", True)]
    stored = jobs(rt)
    assert len(stored) == 100
    by_key = {j.key: j for j in stored}
    assert by_key["k:3"].max_attempts == 5 and by_key["k:4"].payload == {"id": 4}
    rt.db.write_sync(lambda s: enqueue_many(s, []))
    assert len(jobs(rt)) == 100


def test_requeue_runs_a_done_or_failed_job_again_and_nothing_else(rt: Runtime) -> None:
    for n in (1, 2, 3):
        rt.db.write_sync(lambda s, n=n: enqueue(s, "k", f"k:{n}", {"id": n}))
    set_status(rt, "k:1", "failed")
    set_status(rt, "k:2", "done")
    assert rt.db.write_sync(lambda s: requeue(s, "k:1")) is True
    assert rt.db.write_sync(lambda s: requeue(s, "k:2")) is True
    assert rt.db.write_sync(lambda s: requeue(s, "k:3")) is False  # still queued
    assert rt.db.write_sync(lambda s: requeue(s, "k:404")) is False
    assert [(j.key, j.status, j.attempts, j.finished_at) for j in jobs(rt)] == [
        ("k:1", "queued", 0, None),
        ("k:2", "queued", 0, None),
        ("k:3", "queued", 0, None),
    ]


def test_summary_counts_every_status_by_kind_and_listing_filters(rt: Runtime) -> None:
    rows = [NewJob("a", f"a:{i}", {"id": i}) for i in range(3)]
    rows.append(NewJob("b", "b:1", {"id": 1}))
    rt.db.write_sync(lambda s: enqueue_many(s, rows))
    set_status(rt, "a:0", "done")
    with rt.db.session() as session:
        assert job_summary(session) == {
            "a": {"queued": 2, "running": 0, "done": 1, "failed": 0},
            "b": {"queued": 1, "running": 0, "done": 0, "failed": 0},
        }
        assert [j.key for j in list_jobs(session, kind="a", status="queued")] == ["a:2", "a:1"]
        assert [j.key for j in list_jobs(session, limit=2)] == ["b:1", "a:2"]


def test_purge_deletes_only_done_jobs_finished_before_the_cut_off(rt: Runtime) -> None:
    rt.db.write_sync(
        lambda s: enqueue_many(s, [NewJob("k", f"k:{i}", {"id": i}) for i in range(3)])
    )
    set_status(rt, "k:0", "done")
    set_status(rt, "k:1", "failed")
    assert rt.db.write_sync(lambda s: purge_done(s, finished_before=utcnow() - timedelta(1))) == 0
    cutoff = utcnow() + timedelta(seconds=1)
    assert rt.db.write_sync(lambda s: purge_done(s, finished_before=cutoff)) == 1
    assert [j.key for j in jobs(rt)] == ["k:1", "k:2"]
