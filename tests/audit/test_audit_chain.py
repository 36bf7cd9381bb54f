"""The audit log is a hash chain; `vigil audit verify` catches every kind of tampering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.scratch import Cli, flat
from vigil import migrate
from vigil.audit.chain import GENESIS, Signer, event_digest, verify
from vigil.audit.models import AuditChainHead, AuditEvent
from vigil.audit.services import SYSTEM, record_event
from vigil.web.runtime import Runtime


def write_events(cli: Cli, n: int) -> None:
    with cli.runtime() as rt:
        for i in range(n):
            rt.db.write_sync(
                lambda s, i=i: record_event(
                    s, SYSTEM, "test.event", record_type="report", record_ids=[f"R{i}"]
                )
            )


def sql(cli: Cli, statement: str) -> None:
    with cli.engine() as engine, engine.begin() as conn:
        conn.execute(text(statement))


def test_events_link_to_the_one_before(rt: Runtime) -> None:
    for i in range(3):
        rt.db.write_sync(lambda s, i=i: record_event(s, SYSTEM, "test.event", record_ids=[i]))
    with rt.db.session() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        head = session.get(AuditChainHead, 1)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        previous = GENESIS
        for event in events:
            assert event.prev_hash == previous
            assert event.hash == event_digest(previous, event)
            previous = event.hash
        assert head is not None and head.hash == previous
        assert verify(session, Signer(rt.settings.audit_seed).public_key).ok


def test_verify_passes_on_an_untouched_log(migrated: Cli) -> None:
    write_events(migrated, 5)
    migrated("audit", "checkpoint")
    result = migrated("audit", "verify")
    assert "intact: 5 entries, 1 checkpoint verified" in flat(result.stderr)


def test_with_its_head_row_gone_the_chain_refuses_new_events(migrated: Cli) -> None:
    """Without the head the next event would restart the chain at 1: the write fails (and
    with it the act it records) rather than fork the log."""
    write_events(migrated, 2)
    sql(migrated, "DELETE FROM audit_chain_head")
    with pytest.raises(IntegrityError):
        write_events(migrated, 1)
    with migrated.runtime() as rt, rt.db.session() as session:
        assert [e.seq for e in session.scalars(select(AuditEvent))] == [1, 2]


def edit(cli: Cli) -> None:
    sql(cli, "UPDATE audit_events SET action = 'report.innocent' WHERE seq = 3")


def delete(cli: Cli) -> None:
    sql(cli, "DELETE FROM audit_events WHERE seq = 3")


def insert(cli: Cli) -> None:
    """Make room at position 3 and slip a forged entry in."""
    sql(cli, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3")
    sql(cli, "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103")
    sql(
        cli,
        "INSERT INTO audit_events (seq, prev_hash, hash, occurred_at, actor_label, action,"
        " record_ids, outcome) SELECT 3, hash, hash, occurred_at, 'system', 'forged',"
        " record_ids, 'success' FROM audit_events WHERE seq = 2",
    )


def reorder(cli: Cli) -> None:
    sql(cli, "UPDATE audit_events SET seq = -3 WHERE seq = 3")
    sql(cli, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    sql(cli, "UPDATE audit_events SET seq = 4 WHERE seq = -3")


TAMPERING: dict[str, tuple[Callable[[Cli], None], int]] = {
    "edited": (edit, 3),
    "deleted": (delete, 3),
    "inserted": (insert, 3),
    "reordered": (reorder, 3),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_detected_at_the_first_bad_entry(migrated: Cli, kind: str) -> None:
    write_events(migrated, 6)
    tamper, first_bad = TAMPERING[kind]
    tamper(migrated)
    result = migrated("audit", "verify", code=1)
    assert f"broken at entry {first_bad}" in flat(result.stderr)


def test_truncation_after_a_checkpoint_is_detected_with_the_exported_checkpoints(
    migrated: Cli, tmp_path: Path
) -> None:
    write_events(migrated, 6)
    migrated("audit", "checkpoint")
    exported = tmp_path / "checkpoints.jsonl"
    migrated("audit", "export-checkpoints", "--out", str(exported))
    # The intruder cuts the tail, rewinds the head and removes the stored checkpoints too.
    with migrated.engine() as engine, engine.begin() as conn:
        last = conn.execute(
            text("SELECT seq, prev_hash FROM audit_events ORDER BY seq DESC")
        ).first()
        assert last is not None
        conn.execute(text("DELETE FROM audit_events WHERE seq >= :s"), {"s": last.seq - 1})
        head = conn.execute(text("SELECT hash FROM audit_events ORDER BY seq DESC")).scalar()
        conn.execute(
            text("UPDATE audit_chain_head SET seq = :s, hash = :h"), {"s": last.seq - 2, "h": head}
        )
        conn.execute(text("DELETE FROM audit_checkpoints"))
    migrated("audit", "verify")  # on its own, a cleanly cut chain looks whole...
    result = migrated("audit", "verify", "--checkpoints", str(exported), code=1)
    assert "truncated" in flat(result.stderr)  # ...but not against the checkpoints kept apart
    assert f"broken at entry {last.seq - 1}" in flat(result.stderr)  # the first entry cut


def test_truncation_without_rewinding_the_head_is_detected(migrated: Cli) -> None:
    write_events(migrated, 4)
    sql(migrated, "DELETE FROM audit_events WHERE seq = 4")
    result = migrated("audit", "verify", code=1)
    assert "broken at entry 4" in flat(result.stderr)


def test_truncation_with_the_head_row_deleted_is_detected(migrated: Cli) -> None:
    """Cutting the tail and deleting the head row with it leaves a chain that links up
    to its new end: the missing head is what gives it away."""
    write_events(migrated, 4)
    sql(migrated, "DELETE FROM audit_events WHERE seq = 4")
    sql(migrated, "DELETE FROM audit_chain_head")
    result = migrated("audit", "verify", code=1)
    assert "broken at entry 4" in flat(result.stderr)
    assert "head row is missing" in flat(result.stderr)


def test_forged_checkpoint_signature_is_detected(migrated: Cli) -> None:
    write_events(migrated, 3)
    migrated("audit", "checkpoint")
    # Change the first hex digit (whatever it is) of the signed hash.
    sql(
        migrated,
        "UPDATE audit_checkpoints SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' "
        "ELSE 'f' END || substr(hash, 2)",
    )
    result = migrated("audit", "verify", code=1)
    assert "signature" in flat(result.stderr)


def test_events_written_before_the_chain_are_linked_by_the_migration(
    owner_connection: Connection,
) -> None:
    connection = owner_connection
    migrate.downgrade(connection=connection, revision="0002")
    connection.execute(
        text(
            "INSERT INTO audit_events (occurred_at, actor_label, action, record_ids, outcome)"
            " VALUES ('2026-01-02 03:04:05.000006', 'system', 'old.event', '[\"a\"]', 'success')"
        )
    )
    migrate.upgrade(connection=connection)
    with Session(bind=connection) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "old.event"))
        assert event is not None and event.seq == 1 and event.prev_hash == GENESIS
        assert event.hash == event_digest(GENESIS, event)
