"""`vigil audit verify` against cleverer tampering: a change re-hashed to the end of the
chain (only a range can honestly be named), a checkpoint's key id edited, and an external
checkpoints store emptied."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from tests.scratch import Cli, flat, runner
from vigil.audit.chain import GENESIS, Signer, Verdict, event_digest, verify
from vigil.audit.models import AuditChainHead, AuditEvent
from vigil.audit.services import SYSTEM, record_event
from vigil.cli import app


def write_events(cli: Cli, n: int) -> None:
    with cli.runtime() as rt:
        for i in range(n):
            rt.db.write_sync(
                lambda s, i=i: record_event(s, SYSTEM, "test.event", record_ids=[f"R{i}"])
            )


def checkpoint_after(cli: Cli, *counts: int) -> None:
    """Write events in runs, signing a checkpoint after each run (at the running total)."""
    for n in counts:
        write_events(cli, n)
        cli("audit", "checkpoint")


def sql(cli: Cli, statement: str) -> None:
    with cli.engine() as engine, engine.begin() as conn:
        conn.execute(text(statement))


def rehash_from(cli: Cli, seq: int, *, move_head: bool = True) -> None:
    """What a careful intruder does after editing entry ``seq``: recompute every hash from
    there to the end, so that each entry links to the one before it, and (unless told not
    to) move the recorded head onto the new last hash."""
    with cli.engine() as engine, Session(engine) as session:
        prev = GENESIS
        for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            if event.seq >= seq:
                event.prev_hash = prev
                event.hash = event_digest(prev, event)
            prev = event.hash
        if move_head:
            session.execute(update(AuditChainHead).values(hash=prev))
        session.commit()


def verdict(cli: Cli, external: list[dict[str, object]] | None = None) -> Verdict:
    with cli.runtime() as rt, rt.db.session() as session:
        return verify(session, Signer(rt.settings.audit_seed).public_key, external or [])


# --- 5. a re-hashed edit is placed in the range it can be in --------------------------------


def test_a_rehashed_edit_is_placed_between_the_last_matching_checkpoint_and_the_next(
    migrated: Cli,
) -> None:
    checkpoint_after(migrated, 4, 4, 4)  # checkpoints at 4, 8 and 12
    sql(migrated, "UPDATE audit_events SET actor_user_id = 7 WHERE seq = 6")
    rehash_from(migrated, 6)

    result = migrated("audit", "verify", code=1)
    said = flat(result.stderr)
    assert "Audit chain broken between entries 5 and 8:" in said
    assert "the chain differs from a signed checkpoint" in said
    assert "changed, inserted or deleted" in said
    assert "Entries 1 to 4 match a signed checkpoint" in said
    assert "at entry 8" not in said  # entry 8 is where it shows, not where it was made
    found = verdict(migrated)  # what the API and the console's page are given
    assert not found.ok
    assert (found.suspect_from, found.suspect_to, found.first_bad_seq) == (5, 8, None)


def test_with_no_earlier_checkpoint_matching_the_range_starts_at_the_first_entry(
    migrated: Cli,
) -> None:
    checkpoint_after(migrated, 5)
    write_events(migrated, 2)
    sql(migrated, "UPDATE audit_events SET action = 'report.innocent' WHERE seq = 2")
    rehash_from(migrated, 2)
    result = migrated("audit", "verify", code=1)
    said = flat(result.stderr)
    assert "Audit chain broken between entries 1 and 5:" in said
    assert "No signed checkpoint still matches" in said


def test_a_rehashed_edit_right_after_a_matching_checkpoint_is_named_exactly(
    migrated: Cli,
) -> None:
    checkpoint_after(migrated, 5, 1, 2)  # checkpoints at 5, 6 and 8
    sql(migrated, "UPDATE audit_events SET actor_user_id = 7 WHERE seq = 6")
    rehash_from(migrated, 6)
    found = verdict(migrated)
    assert (found.first_bad_seq, found.suspect_from, found.suspect_to) == (6, 6, 6)
    result = migrated("audit", "verify", code=1)
    assert "Audit chain broken at entry 6: the chain differs from a signed" in flat(result.stderr)


def test_a_rehashed_edit_after_the_last_checkpoint_shows_against_the_head(
    migrated: Cli,
) -> None:
    checkpoint_after(migrated, 4)
    write_events(migrated, 6)  # entries 5 to 10, after the last checkpoint
    sql(migrated, "UPDATE audit_events SET actor_user_id = 7 WHERE seq = 7")
    rehash_from(migrated, 7, move_head=False)
    result = migrated("audit", "verify", code=1)
    said = flat(result.stderr)
    assert "Audit chain broken between entries 5 and 10:" in said
    assert "the chain differs from its recorded head" in said
    assert "truncated" not in said  # what it used to say, wrongly

    rehash_from(migrated, 7)  # the head moved too: with no checkpoint after, nothing shows
    migrated("audit", "verify")


def test_entries_past_the_recorded_head_are_named_as_added(migrated: Cli) -> None:
    write_events(migrated, 4)
    sql(migrated, "UPDATE audit_chain_head SET seq = 3")  # as if entry 4 came round the head
    result = migrated("audit", "verify", code=1)
    said = flat(result.stderr)
    assert "broken at entry 4: log goes on past its recorded head (entries added)" in said


# --- 6. a checkpoint's key id --------------------------------------------------------------


def test_an_edited_checkpoint_key_id_is_detected(migrated: Cli) -> None:
    checkpoint_after(migrated, 3, 3)
    migrated("audit", "verify")  # checkpoints made before the check verify as they are
    sql(migrated, "UPDATE audit_checkpoints SET key_id = 'ffffffffffffffff' WHERE seq = 6")
    result = migrated("audit", "verify", code=1)
    said = flat(result.stderr)
    assert "broken at entry 6: checkpoint names a key that did not sign it" in said


def test_an_exported_checkpoint_with_its_key_id_or_public_key_edited_is_detected(
    migrated: Cli, tmp_path: Path
) -> None:
    checkpoint_after(migrated, 3)
    exported = tmp_path / "checkpoints.jsonl"
    migrated("audit", "export-checkpoints", "--out", str(exported))
    [record] = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    migrated("audit", "verify", "--checkpoints", str(exported))
    other_key = Signer(bytes(range(32)))
    for field, value in (("key_id", other_key.key_id), ("public_key", other_key.public_key_b64)):
        edited = tmp_path / f"{field}.jsonl"
        edited.write_bytes(orjson.dumps({**record, field: value}) + b"\n")
        result = migrated("audit", "verify", "--checkpoints", str(edited), code=1)
        assert "checkpoint names a key that did not sign it" in flat(result.stderr), field


# --- 7. an emptied checkpoints store ---------------------------------------------------------


def test_an_empty_or_blank_checkpoints_file_exits_2(migrated: Cli, tmp_path: Path) -> None:
    write_events(migrated, 2)
    for content in (b"", b"\n\n  \n"):
        empty = tmp_path / "empty.jsonl"
        empty.write_bytes(content)
        result = migrated("audit", "verify", "--checkpoints", str(empty), code=2)
        assert f"{empty} holds no checkpoints." in flat(result.stderr)
        assert "intact" not in result.stderr and "broken" not in result.stderr


def test_an_exported_checkpoint_without_its_key_id_is_not_a_checkpoint(
    migrated: Cli, tmp_path: Path
) -> None:
    checkpoint_after(migrated, 2)
    exported = tmp_path / "checkpoints.jsonl"
    migrated("audit", "export-checkpoints", "--out", str(exported))
    record = orjson.loads(exported.read_bytes().splitlines()[0])
    del record["key_id"]
    exported.write_bytes(orjson.dumps(record) + b"\n")
    result = migrated("audit", "verify", "--checkpoints", str(exported), code=2)
    assert "line 1 lacks key_id" in flat(result.stderr)


def test_verify_help_names_the_empty_file_and_the_range() -> None:
    shown = flat(runner.invoke(app, ["audit", "verify", "--help"]).stdout)
    assert "the range of entries it lies in" in shown
    assert "missing, unreadable, empty or not exported checkpoints" in shown
