"""The ``vigil`` command line (Typer). Every command has --help."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil import migrate
from vigil.access.commands import (
    CLI_ACTOR,
    agreements_app,
    orgs_app,
    teams_app,
    tokens_app,
    users_app,
)
from vigil.access.oidc_commands import idp_app
from vigil.audit.commands import app as audit_app
from vigil.audit.services import record_event
from vigil.db import as_utc
from vigil.intake.export import ExportFormat, ReportExportWriter, report_rows
from vigil.intake.models import Report
from vigil.intake.reading import iter_reports
from vigil.jobs.commands import app as jobs_app
from vigil.keys_rotation import SEALED_PLACES, rotate, to_examine
from vigil.linkage.commands import link_app
from vigil.linkage.store_commands import entities_app
from vigil.settings import Environment, get_settings
from vigil.web.runtime import Runtime

app = typer.Typer(
    help="Vigil: counter-terrorism reporting and multi-agency intelligence.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Synthetic demo data (never real people).", no_args_is_help=True)
reports_app = typer.Typer(help="Reports.", no_args_is_help=True)
keys_app = typer.Typer(help="Master keys that protect reporter identity.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (demo_app, "demo"),
    (users_app, "users"),
    (orgs_app, "orgs"),
    (teams_app, "teams"),
    (tokens_app, "tokens"),
    (agreements_app, "agreements"),
    (reports_app, "reports"),
    (keys_app, "keys"),
    (audit_app, "audit"),
    (idp_app, "idp"),
    (jobs_app, "jobs"),
    (entities_app, "entities"),
    (link_app, "link"),
):
    app.add_typer(sub, name=name)

err = Console(stderr=True)


def _runtime() -> Runtime:
    return Runtime.build(get_settings())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default VIGIL_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default VIGIL_PORT)")] = None,
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Web processes (default VIGIL_WEB_PROCESSES)"),
    ] = None,
) -> None:
    """Serve Vigil over HTTP with uvicorn: one process by default, or one per core.

    Each process commits through its own writer thread; on SQLite the processes take turns
    for the database's one write lock, each still committing its waiting work together.
    """
    import uvicorn

    from vigil.web.app import create_app

    settings = get_settings()
    count = processes or settings.web_processes
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "proxy_headers": settings.trust_forwarded_for,
    }
    if count == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Each process builds its own app from the environment; the count travels with it, so
    # every process shares its rate limits out correctly.
    os.environ["VIGIL_WEB_PROCESSES"] = str(count)
    # Each process counts into files of one folder and /metrics adds them up, whichever
    # process answers (prometheus_client's multi-process mode; emptied at every start).
    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run("vigil.web.app:create_app", factory=True, workers=count, **options)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Create the database if needed and apply migrations."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.migration_database_url or settings.database_url, revision=revision)
    err.print(f"[green]Database at {revision}.[/green]")


@demo_app.command("seed")
def demo_seed(
    reports: Annotated[int, typer.Option(min=0, max=1_000_000, help="How many reports")] = 200,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only when there are no reports")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 2026,
) -> None:
    """Create realistic synthetic reports, and demo staff accounts with tokens."""
    from vigil.demo import seed_demo

    rt = _runtime()
    if rt.settings.environment is Environment.production:
        err.print("[red]Demo data is synthetic and never seeded into production.[/red]")
        raise typer.Exit(1)
    try:
        with rt.db.session() as session:
            existing = session.scalar(select(func.count()).select_from(Report)) or 0
        if if_empty and existing:
            err.print(f"{existing} reports already present; demo data not added.")
            return
        with Progress(console=err) as progress:
            task = progress.add_task("Seeding reports", total=reports)
            summary = seed_demo(
                rt, reports, seed=seed, on_progress=lambda n: progress.update(task, advance=n)
            )
        for line in summary:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
    finally:
        rt.db.close()


@reports_app.command("export")
def reports_export(
    since: Annotated[
        datetime | None, typer.Option(help="Only reports received at or after (UTC)")
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl or csv")
    ] = ExportFormat.jsonl,
    purpose: Annotated[str, typer.Option(help="Why (recorded in the audit log)")] = "export",
) -> None:
    """Write reports (never reporter identity) to standard output."""
    rt = _runtime()
    since_utc = as_utc(since)
    try:
        writer = ReportExportWriter(sys.stdout, format)
        references: list[str] = []
        with rt.db.session() as session, Progress(console=err, transient=True) as progress:
            total = (
                session.scalar(
                    select(func.count()).select_from(Report).where(Report.received_at >= since_utc)
                    if since_utc
                    else select(func.count()).select_from(Report)
                )
                or 0
            )
            task = progress.add_task("Exporting", total=total)
            batch: list[Report] = []
            for row in iter_reports(session, since=since_utc, org_id=None):
                batch.append(row)
                if len(batch) >= 500:
                    _write_batch(session, batch, writer, references)
                    progress.update(task, advance=len(batch))
                    batch = []
            _write_batch(session, batch, writer, references)
        rt.db.write_sync(
            lambda s: record_event(
                s,
                CLI_ACTOR,
                "report.exported",
                record_type="report",
                record_ids=references,
                purpose=purpose,
            )
        )
        err.print(f"Exported {len(references)} reports.")
    finally:
        rt.db.close()


def _write_batch(
    session: Session, rows: list[Report], writer: ReportExportWriter, references: list[str]
) -> None:
    writer.write(report_rows(session, rows))
    references.extend(row.reference for row in rows)


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[int, typer.Option(min=1, help="Values re-wrapped per transaction")] = 500,
) -> None:
    """Re-wrap everything sealed under the current master key (VIGIL_MASTER_KEY_ID).

    That is reporter identities, TOTP secrets, OpenID client secrets, idempotency records
    and browser sessions. Runs in small transactions while Vigil serves (restart it with the
    new VIGIL_MASTER_KEY_ID first); both keys stay configured until it ends. Safe to run
    again. Exit 0 when everything is under the current key (the old key can then go); exit 1
    when some value could not be opened with the configured keys (keep the old key).
    """
    rt = _runtime()
    current = rt.sealer.current_key_id
    try:
        totals = to_examine(rt.db, rt.sealer)
        with Progress(console=err) as progress:
            tasks = {
                place.kind: progress.add_task(
                    f"Re-wrapping {place.kind} under {current}", total=totals[place.kind]
                )
                for place in SEALED_PLACES
            }
            tallies = rotate(
                rt.db,
                rt.sealer,
                CLI_ACTOR,
                batch=batch,
                on_progress=lambda kind, n: progress.update(tasks[kind], advance=n),
            )
    finally:
        rt.db.close()
    for tally in tallies:
        line = f"{tally.kind}: {tally.rewrapped} re-wrapped"
        if tally.unreadable:
            line += f", [red]{tally.unreadable} could not be opened[/red]"
        err.print(line, highlight=False)
    unreadable = sum(t.unreadable for t in tallies)
    if unreadable:
        err.print(
            f"[red]{unreadable} sealed value(s) could not be opened with the configured keys and "
            "were left as they were: keep the old key until they are resolved.[/red]"
        )
        raise typer.Exit(1)
    err.print(f"[green]Everything sealed is now wrapped by key {current}.[/green]")


if __name__ == "__main__":
    app()
