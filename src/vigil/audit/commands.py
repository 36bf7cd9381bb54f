"""``vigil audit``: prove the audit chain, make and export signed checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.audit.chain import Signer, checkpoint_record, make_checkpoint, verify
from vigil.audit.models import AuditCheckpoint
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
err = Console(stderr=True)


def _runtime() -> Runtime:
    return Runtime.build(get_settings())


@app.command("verify")
def verify_command(
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Checkpoints exported to a separate store (JSON lines)", exists=True),
    ] = None,
) -> None:
    """Check every link of the chain and every signed checkpoint; exit 1 at the first bad entry."""
    rt = _runtime()
    try:
        external = []
        if checkpoints is not None:
            external = [
                orjson.loads(line) for line in checkpoints.read_bytes().splitlines() if line
            ]
        signer = Signer(rt.settings.audit_seed)
        with rt.db.session() as session:
            verdict = verify(session, signer.public_key, external)
    finally:
        rt.db.close()
    if verdict.ok:
        err.print(
            f"[green]Audit chain intact: {verdict.checked} entries, "
            f"{verdict.checkpoints} checkpoints verified.[/green]"
        )
        return
    err.print(
        f"[red]Audit chain broken at entry {verdict.first_bad_seq}: {verdict.reason}. "
        f"({verdict.checked} entries verified before it.)[/red]"
    )
    raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign the chain's current head now (also done periodically by the server)."""
    rt = _runtime()
    try:
        signer = Signer(rt.settings.audit_seed)

        def work(session: Session) -> tuple[int, str] | None:
            made = make_checkpoint(session, signer)
            return (made.seq, made.hash) if made else None

        made = rt.db.write_sync(work)
    finally:
        rt.db.close()
    if made is None:
        err.print("No new audit entries since the last checkpoint.")
    else:
        err.print(f"Checkpoint signed at entry {made[0]} ({made[1][:12]}…).")


@app.command("export-checkpoints")
def export_checkpoints(
    out: Annotated[Path, typer.Option(help="File to write (JSON lines), e.g. on separate storage")],
) -> None:
    """Write every signed checkpoint, with the public key, for keeping somewhere else."""
    rt = _runtime()
    try:
        signer = Signer(rt.settings.audit_seed)
        with rt.db.session() as session:
            rows = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
            lines = [orjson.dumps(checkpoint_record(row, signer)) for row in rows]
    finally:
        rt.db.close()
    out.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
    err.print(f"Wrote {len(lines)} checkpoints to {out}.")
