"""The in-process worker: claim a batch, run each kind's handler once, finish in one go.

Per job the cost is a share of three statements (claim, finish, and the handler's own
work), which is what lets triage keep pace with intake. Delivery is at least once:

* A worker that dies mid-batch loses nothing. Its jobs stay ``running`` with a lease, and any
  worker takes them again once the lease has passed.
* A failing batch is retried one job at a time, so one poison job fails alone and its
  neighbours are done (a handler that already knows which of its payloads failed says so
  with :class:`~vigil.jobs.registry.PartialFailure`, and only those fail). A failed job
  waits an exponential back-off, and after ``max_attempts`` it is ``failed`` and stays for
  an operator (``requeue``).
* Finishing only touches jobs this worker still holds, so a worker that comes back after its
  lease was taken over cannot overwrite the newer outcome.

Logs name job ids, kinds and error types, never payload contents.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.jobs.models import ERROR_MAX
from vigil.jobs.queue import Claimed, Failure, claim, mark_done, mark_failed, renew
from vigil.jobs.registry import PartialFailure, Registry

if TYPE_CHECKING:
    from vigil.web.runtime import Runtime

log = structlog.get_logger(__name__)


def describe_error(exc: BaseException) -> str:
    """The error's type and the first line of its message, bounded.

    Only the first line: database errors go on to quote the statement's parameters, and
    ``last_error`` is shown to staff who may not read the records those parameters are from.
    """
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:ERROR_MAX]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:100]


class Worker:
    """Runs due jobs in a background thread (``start``) or in the caller's (``run_until_idle``).

    ``clock`` gives the current UTC time; tests pass a clock they move forward to expire
    leases and back-offs without sleeping.
    """

    def __init__(
        self,
        rt: Runtime,
        registry: Registry,
        *,
        batch_size: int = 64,
        lease_s: float = 60,
        poll_s: float = 1.0,
        worker_id: str | None = None,
        backoff_base_s: float = 2.0,
        backoff_cap_s: float = 3600.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.rt = rt
        self.registry = registry
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.worker_id = worker_id or default_worker_id()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.clock = clock
        self.processed = 0  # jobs run by this worker, whatever the outcome
        self.succeeded = 0  # of which marked done
        self.errors = 0  # of which failed (retried later, or failed for good)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_set_at = 0.0
        self._warmed = False

    # --- running in the background ---------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="vigil-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Finish the batch in hand, then stop. True when the thread has ended."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    def wake(self) -> None:
        """New work was committed: look now rather than at the end of the poll interval."""
        self._wake.set()

    def warm_up(self) -> None:
        """Load what the handlers load on first use (once; see ``Registry.on_start``). A
        failure is logged, not raised: the handler that needs it will fail and be retried."""
        if self._warmed:
            return
        self._warmed = True
        try:
            self.registry.warm_up(self.rt)
        except Exception as exc:
            log.error("jobs.warm_up_failed", worker_id=self.worker_id, error=describe_error(exc))

    def _loop(self) -> None:
        self.warm_up()
        log.info("jobs.worker_started", worker_id=self.worker_id, kinds=self.registry.kinds)
        while not self._stopping.is_set():
            self._wake.clear()  # before looking, so a wake() during the round is not lost
            try:
                ran = self.run_once()
            except Exception as exc:  # the database is away: try again after a pause
                log.error("jobs.round_failed", worker_id=self.worker_id, error=type(exc).__name__)
                self._stopping.wait(self.poll_s)
                continue
            if ran == 0:
                self._wake.wait(self.poll_s)
        log.info("jobs.worker_stopped", worker_id=self.worker_id, processed=self.processed)

    # --- one round -------------------------------------------------------------------------

    def run_until_idle(self, max_rounds: int | None = 10_000) -> int:
        """Run rounds in this thread until nothing is due; the number of jobs run."""
        total = 0
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            ran = self.run_once()
            if ran == 0:
                break
            total += ran
            rounds += 1
        return total

    def run_once(self) -> int:
        """Claim one batch, run it, record the outcomes; the number of jobs run."""
        kinds = self.registry.kinds
        if not kinds:
            return 0
        jobs = self.claim(kinds)
        if not jobs:
            return 0
        done: list[int] = []
        failures: list[Failure] = []
        by_kind: dict[str, list[Claimed]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            ok, bad = self._run_kind(kind, group, held=jobs)
            done += ok
            failures += bad
        self.finish(done, failures)
        return len(jobs)

    def claim(self, kinds: Sequence[str] | None = None) -> list[Claimed]:
        """Take a batch of due jobs for this worker (one write transaction).

        Urgent kinds (:class:`~vigil.jobs.registry.Registry`) go first, up to
        ``batch_size``, in the order they fell due; the other kinds fill what is left of the
        batch, and take ``batch_size // 16`` (at least one) more when urgent jobs fill it, so
        a backlog of urgent work delays them but cannot stall them for good.
        """
        now = self.clock()
        wanted = tuple(kinds if kinds is not None else self.registry.kinds)
        urgent = tuple(kind for kind in wanted if self.registry.is_urgent(kind))
        rest = tuple(kind for kind in wanted if kind not in urgent)
        share = max(1, self.batch_size // 16)
        self._lease_set_at = time.monotonic()

        def work(session: Session) -> list[Claimed]:
            def take(of: tuple[str, ...], limit: int) -> list[Claimed]:
                return claim(
                    session, self.worker_id, of, limit, now=now, lease_until=now + self.lease
                )

            taken = take(urgent, self.batch_size) if urgent else []
            if rest:
                taken += take(rest, max(self.batch_size - len(taken), share if urgent else 0))
            return taken

        return self.rt.db.write_sync(work)

    def finish(self, done: Sequence[int], failures: Sequence[Failure]) -> None:
        """Mark the batch's outcomes in one write transaction."""
        now = self.clock()

        def work(session: Session) -> int:
            marked = mark_done(session, self.worker_id, done, now=now)
            mark_failed(session, self.worker_id, failures, now=now)
            return marked

        marked = self.rt.db.write_sync(work)
        if marked < len(done):  # our lease ran out and another worker took them over
            log.warning("jobs.lease_lost", worker_id=self.worker_id, lost=len(done) - marked)
        self.processed += len(done) + len(failures)
        self.succeeded += len(done)
        self.errors += len(failures)

    def _run_kind(
        self, kind: str, jobs: list[Claimed], *, held: list[Claimed]
    ) -> tuple[list[int], list[Failure]]:
        """One handler call for the whole group; on failure, one call per job."""
        handler = self.registry.handler(kind)
        self._keep_lease(held)
        started = time.monotonic()
        try:
            handler(self.rt, [dict(job.payload) for job in jobs])
        except PartialFailure as partial:
            failed = {n: exc for n, exc in partial.failures.items() if 0 <= n < len(jobs)}
            return (
                [job.id for n, job in enumerate(jobs) if n not in failed],
                [self._failure(jobs[n], exc) for n, exc in sorted(failed.items())],
            )
        except Exception as exc:
            if len(jobs) == 1:
                return [], [self._failure(jobs[0], exc)]
            log.warning("jobs.batch_failed", kind=kind, size=len(jobs), error=type(exc).__name__)
        else:
            log.debug(
                "jobs.batch_done",
                kind=kind,
                size=len(jobs),
                ms=round((time.monotonic() - started) * 1000, 1),
            )
            return [job.id for job in jobs], []
        ok: list[int] = []
        bad: list[Failure] = []
        for job in jobs:
            self._keep_lease(held)
            try:
                handler(self.rt, [dict(job.payload)])
            except Exception as exc:
                bad.append(self._failure(job, exc))
            else:
                ok.append(job.id)
        return ok, bad

    def _failure(self, job: Claimed, exc: Exception) -> Failure:
        final = job.attempts >= job.max_attempts
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(job.attempts - 1, 0))
        log.log(
            logging.ERROR if final else logging.WARNING,
            "jobs.job_failed",
            job_id=job.id,
            kind=job.kind,
            attempt=job.attempts,
            final=final,
            retry_in_s=None if final else delay,
            error=type(exc).__name__,
        )
        return Failure(job.id, describe_error(exc), self.clock() + timedelta(seconds=delay), final)

    def _keep_lease(self, held: list[Claimed]) -> None:
        """Half the lease gone: extend it, so a slow batch is not handed to another worker."""
        if time.monotonic() - self._lease_set_at < self.lease.total_seconds() / 2:
            return
        now = self.clock()
        self._lease_set_at = time.monotonic()
        ids = [job.id for job in held]
        self.rt.db.write_sync(
            lambda session: renew(session, self.worker_id, ids, lease_until=now + self.lease)
        )
