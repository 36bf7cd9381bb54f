"""``vigil jobs``: see the queue, run a worker, re-run a failed job, forget old done ones.

``vigil jobs work`` runs the same :class:`~vigil.jobs.worker.Worker` the server runs in a
thread, as its own process: on PostgreSQL several can share the queue (claims skip each
other's locked rows); on SQLite they would only take turns at the single writer.
"""

from __future__ import annotations

import gc
import importlib
import signal
import threading
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from vigil.access.commands import CLI_ACTOR
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.jobs.models import JobStatus
from vigil.jobs.queue import job_summary, purge_done, requeue
from vigil.jobs.registry import Registry
from vigil.jobs.services import list_jobs_audited
from vigil.jobs.worker import Worker
from vigil.logging import configure_logging
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

app = typer.Typer(help="Background jobs (the triage pipeline's queue).", no_args_is_help=True)
err = Console(stderr=True)
TASKS_MODULE = "vigil.triage.tasks"


def load_registry() -> Registry:
    """The handlers of every area that has background work (an empty registry if none).

    Imported lazily: the areas that own handlers import this package, not the reverse.
    """
    try:
        tasks = importlib.import_module(TASKS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != TASKS_MODULE:
            raise  # the module exists but is broken: say so, do not run without it
        return Registry()
    factory: Any = getattr(tasks, "default_registry", None)
    if factory is None:
        return Registry()
    registry: Registry = factory()
    return registry


def _runtime() -> Runtime:
    return Runtime.build(get_settings())


@app.command("list")
def list_command(
    status: Annotated[
        JobStatus | None, typer.Option(help="Also list the newest jobs in this state")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Also list the newest jobs of this kind")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many jobs to list")] = 20,
) -> None:
    """Counts of jobs by kind and state; with --status or --kind, the newest such jobs too."""
    rt = _runtime()
    try:
        with rt.db.session() as session:
            summary = job_summary(session)
        rows: list[tuple[str, ...]] = []
        if status is not None or kind is not None:

            def work(session: Session) -> list[tuple[str, ...]]:
                jobs = list_jobs_audited(session, CLI_ACTOR, status=status, kind=kind, limit=limit)
                return [
                    (
                        str(j.id),
                        j.kind,
                        j.key,
                        j.status,
                        f"{j.attempts}/{j.max_attempts}",
                        j.run_after.isoformat(timespec="seconds"),
                        j.last_error or "",
                    )
                    for j in jobs
                ]

            rows = rt.db.write_sync(work)
    finally:
        rt.db.close()
    counts = Table("Kind", *(s.value for s in JobStatus), title="Jobs")
    for name, by_status in summary.items():
        counts.add_row(name, *(str(by_status.get(s.value, 0)) for s in JobStatus))
    out = Console()
    out.print(counts if summary else "No jobs.")
    if status is not None or kind is not None:
        listed = Table("Id", "Kind", "Key", "Status", "Attempts", "Run after", "Last error")
        for row in rows:
            listed.add_row(*row)
        out.print(listed)


@app.command("work")
def work_command(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Run what is due, then exit (no waiting)")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Jobs claimed at once")] = 64,
    lease: Annotated[
        float, typer.Option(min=1, help="Seconds a claim holds before others may retake it")
    ] = 60,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between looks for work")] = 1.0,
) -> None:
    """Run a job worker in the foreground until Ctrl-C (or SIGTERM), or --until-idle."""
    settings = get_settings()
    configure_logging(settings.log_level)
    registry = load_registry()
    if not len(registry) and not until_idle:
        err.print("[red]No job handlers are registered, so this worker has nothing to run.[/red]")
        raise typer.Exit(1)
    rt = Runtime.build(settings)
    worker = Worker(rt, registry, batch_size=batch_size, lease_s=lease, poll_s=poll)
    worker.warm_up()
    # What is loaded now lives as long as the worker: keep full collections from walking it
    # for every batch (as the web process does after start-up).
    gc.collect()
    gc.freeze()
    try:
        if until_idle:
            ran = worker.run_until_idle(max_rounds=None)
            err.print(f"{ran} jobs run: {worker.succeeded} done, {worker.errors} failed attempts.")
            return
        _serve(worker)
    finally:
        rt.db.close()


def _serve(worker: Worker) -> None:
    """Until Ctrl-C or SIGTERM (what service managers send); the batch in hand is finished."""
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    worker.start()
    err.print(f"Worker {worker.worker_id} running {', '.join(worker.registry.kinds)}.")
    try:
        while worker.alive and not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    err.print("Stopping after the batch in hand…")
    worker.stop()
    err.print(f"{worker.processed} jobs run: {worker.succeeded} done.")


@app.command("requeue")
def requeue_command(key: Annotated[str, typer.Argument(help="The job's key")]) -> None:
    """Run a done or failed job again, with its attempts counted afresh."""
    rt = _runtime()

    def work(session: Session) -> bool:
        again = requeue(session, key)
        if again:
            record_event(session, CLI_ACTOR, "jobs.requeued", record_type="job", record_ids=[key])
        return again

    try:
        again = rt.db.write_sync(work)
    finally:
        rt.db.close()
    if not again:
        err.print(f"[red]No done or failed job has the key {key!r}.[/red]", highlight=False)
        raise typer.Exit(1)
    err.print(f"Job {key!r} queued again.", highlight=False)


@app.command("purge")
def purge_command(
    days: Annotated[int, typer.Option(min=1, help="Keep done jobs for this many days")] = 30,
) -> None:
    """Delete done jobs finished more than --days ago (failed jobs are kept)."""
    rt = _runtime()
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    try:
        while n := rt.db.write_sync(lambda s: purge_done(s, finished_before=cutoff)):
            total += n
    finally:
        rt.db.close()
    err.print(f"{total} done jobs deleted.")
