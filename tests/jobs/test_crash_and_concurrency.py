"""Real processes and real connections: a worker killed with SIGKILL mid-handler loses no
job, and workers claiming at the same moment on PostgreSQL never share one.

Both use a scratch database, because what is proven is what other connections and processes
see after a commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.jobs import scratch_database, settings_for
from vigil.db import ACTING, Database, create_db_engine, utcnow
from vigil.jobs import Job, NewJob, Registry, Worker, claim, enqueue_many
from vigil.web.runtime import Runtime

pytestmark = pytest.mark.slow

KIND = "crash.test"
JOBS = 200
BATCH = 16
HANG_AT_BATCH = 4  # the handler hangs in its 4th batch, and is killed there

# The doomed worker: a fresh interpreter that runs the real Worker until it is killed.
DOOMED = f"""
import os, sys, time
from pathlib import Path
from vigil.jobs import Registry, Worker
from vigil.settings import Settings
from vigil.web.runtime import Runtime

url, folder = sys.argv[1], Path(sys.argv[2])
rt = Runtime.build(Settings(environment="test", database_url=url, data_dir=folder / "var",
                            log_level="warning"))
batches = 0

def handle(rt, payloads):
    global batches
    batches += 1
    ids = " ".join(str(p["n"]) for p in payloads)
    if batches == {HANG_AT_BATCH}:
        (folder / "hanging").write_text(ids)
        time.sleep(600)  # killed here, with the batch claimed and not finished
    with open(folder / "effects.log", "a") as log:
        log.write(ids + "\\n")
        log.flush()
        os.fsync(log.fileno())

registry = Registry()
registry.register({KIND!r}, handle)
Worker(rt, registry, batch_size={BATCH}, lease_s=30, worker_id="doomed").run_until_idle()
print("the doomed worker finished without being killed", flush=True)
"""


@contextmanager
def runtime(url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.build(settings_for(url, tmp_path))
    try:
        yield rt
    finally:
        rt.db.close()


def statuses(rt: Runtime) -> Counter[tuple[str, str | None]]:
    with rt.db.session() as session:
        return Counter(session.execute(select(Job.status, Job.locked_by)).all())


def effects(folder: Path) -> Counter[int]:
    path = folder / "effects.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(int(n) for line in lines for n in line.split())


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_handler_loses_no_job(engine_name: str, tmp_path: Path) -> None:
    with scratch_database(engine_name, tmp_path) as url:
        with runtime(url, tmp_path) as rt:
            rows = [NewJob(KIND, f"{KIND}:{n}", {"n": n}) for n in range(JOBS)]
            rt.db.write_sync(lambda s: enqueue_many(s, rows))

        log_path = tmp_path / "doomed.log"
        with log_path.open("wb") as log:
            doomed = subprocess.Popen(
                [sys.executable, "-c", DOOMED, url, str(tmp_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while not (tmp_path / "hanging").exists():
                assert doomed.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.02)
            os.kill(doomed.pid, signal.SIGKILL)
            assert doomed.wait(timeout=30) == -signal.SIGKILL
        finally:
            if doomed.poll() is None:
                os.killpg(doomed.pid, signal.SIGKILL)
                doomed.wait(timeout=30)

        in_flight = [int(n) for n in (tmp_path / "hanging").read_text().split()]
        before = effects(tmp_path)
        assert len(in_flight) == BATCH and not set(in_flight) & set(before)
        with runtime(url, tmp_path) as rt:
            assert statuses(rt) == Counter(
                {
                    ("done", None): BATCH * (HANG_AT_BATCH - 1),
                    ("running", "doomed"): BATCH,
                    ("queued", None): JOBS - BATCH * HANG_AT_BATCH,
                }
            )

            def handle(rt: Runtime, payloads: list[dict[str, Any]]) -> None:
                with (tmp_path / "effects.log").open("a") as log:
                    log.write(" ".join(str(p["n"]) for p in payloads) + "\n")

            registry = Registry()
            registry.register(KIND, handle)
            after_lease = Worker(
                rt, registry, clock=lambda: utcnow() + timedelta(seconds=31), worker_id="next"
            )
            assert after_lease.run_until_idle() == JOBS - BATCH * (HANG_AT_BATCH - 1)
            assert statuses(rt) == Counter({("done", None): JOBS})
            with rt.db.session() as session:
                retried = dict(session.execute(select(Job.key, Job.attempts)).all())
            assert {retried[f"{KIND}:{n}"] for n in in_flight} == {2}
            if engine_name == "sqlite":
                with rt.db.engine.connect() as conn:
                    assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        done = effects(tmp_path)
        assert set(done) == set(range(JOBS)), "a job was lost"
        assert all(done[n] == 1 for n in in_flight)  # the killed batch ran once, afterwards


def test_workers_claiming_at_the_same_moment_never_share_a_job(tmp_path: Path) -> None:
    """Each worker holds its claim's transaction open until every other worker has claimed
    too: without SKIP LOCKED they would block each other, without the lock they would share."""
    workers, rounds, batch = 3, 8, 25
    with scratch_database("postgresql", tmp_path) as url:
        engines = [create_db_engine(url, pool_size=1) for _ in range(workers)]
        try:
            setup = Database(engines[0])
            rows = [NewJob(KIND, f"{KIND}:{n}", {"n": n}) for n in range(workers * rounds * batch)]
            setup.write_sync(lambda s: enqueue_many(s, rows))
            setup.writer.stop()
            together = threading.Barrier(workers, timeout=30)
            taken: list[list[int]] = [[] for _ in range(workers)]

            def claim_rounds(index: int) -> None:
                for _ in range(rounds):
                    with Session(engines[index]) as session, session.begin():
                        session.execute(ACTING, {"actor": "system", "user_id": ""})
                        now = utcnow()
                        got = claim(
                            session,
                            f"w{index}",
                            [KIND],
                            batch,
                            now=now,
                            lease_until=now + timedelta(seconds=60),
                        )
                        taken[index] += [job.id for job in got]
                        together.wait()  # everyone has claimed before anyone commits

            threads = [threading.Thread(target=claim_rounds, args=(i,)) for i in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            everything = [job_id for ids in taken for job_id in ids]
            assert [len(ids) for ids in taken] == [rounds * batch] * workers
            assert len(set(everything)) == len(everything) == len(rows)
            with Session(engines[0]) as session:
                holders = Counter(session.scalars(select(Job.locked_by)))
            assert holders == Counter({f"w{i}": rounds * batch for i in range(workers)})
        finally:
            for engine in engines:
                engine.dispose()


def test_worker_processes_sharing_a_postgresql_queue_run_each_job_once(tmp_path: Path) -> None:
    with scratch_database("postgresql", tmp_path) as url:
        runtimes = [Runtime.build(settings_for(url, tmp_path)) for _ in range(2)]
        try:
            rows = [NewJob(KIND, f"{KIND}:{n}", {"n": n}) for n in range(400)]
            runtimes[0].db.write_sync(lambda s: enqueue_many(s, rows))
            seen: Counter[int] = Counter()
            lock = threading.Lock()

            def handle(rt: Runtime, payloads: list[dict[str, Any]]) -> None:
                time.sleep(0.002)
                with lock:
                    seen.update(p["n"] for p in payloads)

            registry = Registry()
            registry.register(KIND, handle)
            pool = [Worker(rt, registry, batch_size=10) for rt in runtimes]
            threads = [threading.Thread(target=w.run_until_idle) for w in pool]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert seen == Counter(range(400))
            assert all(w.succeeded > 0 for w in pool), [w.succeeded for w in pool]
        finally:
            for rt in runtimes:
                rt.db.close()
