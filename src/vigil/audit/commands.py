"""``vigil audit``: prove the audit chain, make and export signed checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.audit.chain import Signer, Verdict, checkpoint_record, make_checkpoint, verify
from vigil.audit.models import AuditCheckpoint
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
err = Console(stderr=True)


def _runtime() -> Runtime:
    return Runtime.build(get_settings())


# Exit codes of ``audit verify`` and ``audit export-checkpoints``: a problem with the file
# named on the command line is never mistaken for a broken chain.
CHAIN_BROKEN = 1
FILE_PROBLEM = 2
# What an exported checkpoint must carry to be checked (``checkpoint_record``).
_CHECKPOINT_TEXT = ("hash", "created_at", "signature", "key_id")


class BadCheckpoints(ValueError):
    """The checkpoints file cannot be read as exported checkpoints."""


def read_checkpoints(path: Path) -> list[dict[str, object]]:
    """Checkpoints exported by ``export-checkpoints``: one JSON object per line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadCheckpoints(f"cannot read {path}: {exc.strerror or exc}") from exc
    found: list[dict[str, object]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadCheckpoints(f"{path} line {number} is not JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise BadCheckpoints(f"{path} line {number} is not a checkpoint (a JSON object)")
        seq = record.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise BadCheckpoints(f"{path} line {number} has no entry number (seq)")
        missing = [k for k in _CHECKPOINT_TEXT if not isinstance(record.get(k), str)]
        if missing:
            raise BadCheckpoints(f"{path} line {number} lacks {', '.join(missing)}")
        found.append(record)
    if not found:  # a store truncated to nothing must not pass for one with nothing to check
        raise BadCheckpoints(f"{path} holds no checkpoints")
    return found


@app.command(
    "verify",
    epilog=(
        f"Exit codes: 0 the chain is intact; {CHAIN_BROKEN} the chain is broken (the first bad "
        "entry is named, or, when a change was re-hashed to hide it, the range of entries it "
        f"lies in); {FILE_PROBLEM} the --checkpoints file is missing, unreadable, empty or "
        "not exported checkpoints (nothing was verified)."
    ),
)
def verify_command(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="Checkpoints exported to a separate store (JSON lines)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check every link of the chain and every signed checkpoint; exit 1 at the first bad entry."""
    external: list[dict[str, object]] = []
    if checkpoints is not None:
        try:
            external = read_checkpoints(checkpoints)
        except BadCheckpoints as exc:
            err.print(f"[red]{escape(str(exc))}.[/red]", highlight=False, soft_wrap=True)
            raise typer.Exit(FILE_PROBLEM) from exc
    rt = _runtime()
    try:
        signer = Signer(rt.settings.audit_seed)
        with rt.db.session() as session:
            verdict = verify(session, signer.public_key, external)
    finally:
        rt.db.close()
    if verdict.ok:
        err.print(
            f"[green]Audit chain intact: {verdict.checked} entries, {verdict.checkpoints} "
            f"checkpoint{'' if verdict.checkpoints == 1 else 's'} verified.[/green]"
        )
        return
    err.print(f"[red]{escape(broken_message(verdict))}[/red]", highlight=False)
    raise typer.Exit(CHAIN_BROKEN)


def broken_message(verdict: Verdict) -> str:
    """Where a broken chain is broken: one entry when one can be named, else the range."""
    first, last = verdict.suspect_from, verdict.suspect_to
    if first is None or last is None or first == last:
        return (
            f"Audit chain broken at entry {verdict.first_bad_seq}: {verdict.reason}. "
            f"({verdict.checked} entries verified before it.)"
        )
    vouched = (
        f"Entries 1 to {first - 1} match a signed checkpoint; after that"
        if first > 1
        else "No signed checkpoint still matches; throughout"
    )
    return (
        f"Audit chain broken between entries {first} and {last}: {verdict.reason}. "
        f"({vouched} the entries link up, so the change was re-hashed and no one entry in "
        "the range can be named.)"
    )


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


@app.command(
    "export-checkpoints",
    epilog=f"Exit codes: 0 written; {FILE_PROBLEM} the file could not be written.",
)
def export_checkpoints(
    out: Annotated[
        Path,
        typer.Option(help="File to write (JSON lines), e.g. on separate storage", dir_okay=False),
    ],
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
    try:
        out.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
    except OSError as exc:
        err.print(
            f"[red]Cannot write {escape(str(out))}: {escape(str(exc.strerror or exc))}.[/red]",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(FILE_PROBLEM) from exc
    err.print(f"Wrote {len(lines)} checkpoints to {out}.")
