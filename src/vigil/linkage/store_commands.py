"""``vigil entities import|export``: known people and subjects in and out of the store.

The command line is for the big loads an upload would not suit (a partner's list of a
million people); it runs the same parser and store as the API, as one transaction, with a
progress bar, and prints every row error (by row and column) instead of importing part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.commands import CLI_ACTOR
from vigil.access.markings import Classification
from vigil.access.models import Organisation, Team
from vigil.audit.services import record_event
from vigil.linkage.entities import Marking
from vigil.linkage.imports import parse_import, store_import
from vigil.linkage.models import Entity
from vigil.linkage.online import scorer_for
from vigil.linkage.views import entity_record
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

entities_app = typer.Typer(help="Known people, vehicles and subjects.", no_args_is_help=True)
err = Console(stderr=True)


def _owner(session: Session, org_name: str, team_name: str | None) -> tuple[int, int | None]:
    org = session.scalar(select(Organisation).where(Organisation.name == org_name))
    if org is None:
        raise typer.BadParameter(f"no organisation called {org_name!r}", param_hint="--org")
    if team_name is None:
        return org.id, None
    team = session.scalar(
        select(Team).where(Team.organisation_id == org.id, Team.name == team_name)
    )
    if team is None:
        raise typer.BadParameter(f"no team {team_name!r} in {org_name}", param_hint="--team")
    return org.id, team.id


@entities_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The file")],
    org: Annotated[str, typer.Option(help="Owning organisation")],
    team: Annotated[str | None, typer.Option(help="Owning team")] = None,
    classification: Annotated[
        Classification, typer.Option(help="Marking of every record")
    ] = Classification.official_sensitive,
    format: Annotated[str, typer.Option(help="csv (person CSV) or ftm (JSON lines)")] = "csv",
    link: Annotated[bool, typer.Option(help="Queue the new entities for linking")] = True,
) -> None:
    """Import known people (and subjects) from person CSV or FollowTheMoney JSON lines;
    any row error imports nothing."""
    if format not in {"csv", "ftm"}:
        raise typer.BadParameter("use csv or ftm", param_hint="--format")
    settings = get_settings()
    data = path.read_bytes()
    batch = parse_import(data, format, settings.linkage_import_max_rows)
    if batch.errors:
        for error in batch.errors[:200]:
            where = f"row {error.row}" + (f", {error.column}" if error.column else "")
            err.print(f"{where}: {error.message}", highlight=False, markup=False, soft_wrap=True)
        more = len(batch.errors) - 200
        if more > 0:
            err.print(f"… and {more} more")
        err.print(f"[red]{len(batch.errors)} problem(s); nothing was imported.[/red]")
        raise typer.Exit(1)
    rt = Runtime.build(settings)
    scorer = scorer_for(settings.linkage_model_path)
    try:
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("Importing", total=len(batch.records))

            def work(session: Session) -> str:
                org_id, team_id = _owner(session, org, team)
                answer = store_import(
                    session,
                    rt,
                    batch,
                    data,
                    filename=path.name,
                    fmt=format,
                    scorer=scorer,
                    marking=Marking(org_id, team_id, classification.value),
                    user_id=None,
                    link=link,
                    on_progress=lambda n: progress.advance(task, n),
                )
                record_event(
                    session,
                    CLI_ACTOR,
                    "entities.imported",
                    record_type="import",
                    record_ids=[answer.import_id],
                    purpose=f"{path.name} ({answer.entities})",
                )
                dropped = ", ".join(f"{k} ×{v}" for k, v in sorted(answer.dropped.items()))
                return f"Imported {answer.entities} entities and {answer.subjects} subjects" + (
                    f"; dropped {dropped}" if dropped else ""
                )

            summary = rt.db.write_sync(work)
    finally:
        rt.db.close()
    typer.echo(summary)


@entities_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="File to write")],
    org: Annotated[str, typer.Option(help="Organisation whose records to export")],
    format: Annotated[str, typer.Option(help="csv (people only) or ftm (every kind)")] = "csv",
) -> None:
    """Export an organisation's entities in the import formats (audited)."""
    from vigil.linkage.formats import write_people_csv
    from vigil.linkage.ftm import FTM_KINDS, write_ftm

    if format not in {"csv", "ftm"}:
        raise typer.BadParameter("use csv or ftm", param_hint="--format")
    rt = Runtime.build(get_settings())

    def work(session: Session) -> int:
        org_id, _ = _owner(session, org, None)
        query = select(Entity).where(Entity.owning_org_id == org_id).order_by(Entity.id)
        if format == "csv":
            query = query.where(Entity.kind == "person")
        else:  # FtM has no schema for a bare phone or e-mail: those travel on their person
            query = query.where(Entity.kind.in_(sorted(FTM_KINDS)))
        rows = list(session.scalars(query))
        tmp = out.with_name(out.name + ".part")
        with tmp.open("w", encoding="utf-8", newline="") as stream:
            (write_people_csv if format == "csv" else write_ftm)(
                [entity_record(e) for e in rows], stream
            )
        tmp.replace(out)
        record_event(
            session,
            CLI_ACTOR,
            "entities.exported",
            record_type="entity",
            record_ids=[e.id for e in rows],
            purpose=f"{out.name} format={format}",
        )
        return len(rows)

    try:
        count = rt.db.write_sync(work)
    finally:
        rt.db.close()
    typer.echo(f"Exported {count} entities to {out}")
