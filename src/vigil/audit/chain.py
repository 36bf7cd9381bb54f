"""The audit log as a hash chain, with signed checkpoints that can be kept elsewhere.

Each event's hash covers its content and the previous event's hash, so editing, deleting,
inserting or reordering any event breaks every link after it. A checkpoint signs the chain's
position with an Ed25519 key; kept in a separate store, checkpoints also reveal a log that
was cut short after them, which a chain on its own cannot.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from vigil.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from vigil.db import utcnow
from vigil.web.said import said

GENESIS = "0" * 64


def event_digest(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 over the previous hash and the event's fields, in a fixed order."""
    content = orjson.dumps(
        [
            event.seq,
            event.occurred_at.isoformat(),
            event.actor_user_id,
            event.actor_org_id,
            event.actor_label,
            event.action,
            event.record_type,
            list(event.record_ids),
            event.outcome,
            event.purpose,
            event.client_address,
        ]
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + content).hexdigest()


_READ_HEAD = select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_MOVE_HEAD = update(AuditChainHead).where(AuditChainHead.id == 1)
_EVENT_COLUMNS = tuple(c.key for c in AuditEvent.__table__.columns if c.key != "id")
_INSERT_EVENTS = insert(AuditEvent)


def chain_head(connection: Connection, *, lock: bool = False) -> tuple[int, str] | None:
    """The chain's last position and hash (the row migration 0003 made; None without it),
    locked for the rest of the transaction when ``lock`` (PostgreSQL; SQLite's writer
    already holds the file)."""
    row = connection.execute(_LOCK_HEAD if lock else _READ_HEAD).first()
    return (row.seq, row.hash) if row is not None else None


def append(session: Session, event: AuditEvent) -> AuditEvent:
    """Link ``event`` to the chain inside the caller's transaction (the head row is locked)."""
    append_many(session, [event])
    return event


def append_many(session: Session, events: Sequence[AuditEvent]) -> None:
    """Link events in order and write them, with the head moved onto the last one.

    Written with three Core statements on the session's connection (read the head, insert
    the events, move the head) and no unit of work: the event is in the transaction at once,
    so an access is audited for the price of a small insert, and a savepoint rolled back
    takes its events and its head move with it. Nothing is cached between calls, so works
    sharing one writer transaction each link onto whatever the one before them wrote.
    """
    if not events:
        return
    connection = session.connection()
    head = chain_head(connection, lock=True)
    seq, digest = head or (0, GENESIS)
    rows = []
    for event in events:
        event.occurred_at = event.occurred_at or utcnow()
        event.seq, event.prev_hash = seq + 1, digest
        event.hash = event_digest(digest, event)
        seq, digest = event.seq, event.hash
        rows.append({key: getattr(event, key) for key in _EVENT_COLUMNS})
    connection.execute(_INSERT_EVENTS, rows)
    if head is None:
        connection.execute(insert(AuditChainHead), {"id": 1, "seq": seq, "hash": digest})
    else:
        connection.execute(_MOVE_HEAD, {"seq": seq, "hash": digest})


def key_id(public_key: Ed25519PublicKey) -> str:
    """The name a checkpoint gives the key that signed it: the start of its SHA-256."""
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


class Signer:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key()
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.public_key)
        self.public_key_b64 = base64.b64encode(raw).decode()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()


def checkpoint_message(seq: int, digest: str, created_at: datetime) -> bytes:
    return f"vigil-audit-checkpoint:{seq}:{digest}:{created_at.isoformat()}".encode()


def make_checkpoint(session: Session, signer: Signer) -> AuditCheckpoint | None:
    """Sign the chain's current head (nothing to do when no event came since the last one)."""
    seq, digest = chain_head(session.connection()) or (0, GENESIS)
    if seq == 0:
        return None
    last = session.scalar(select(func.max(AuditCheckpoint.seq)))
    if last == seq:
        return None
    now = utcnow()
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=digest,
        created_at=now,
        key_id=signer.key_id,
        signature=signer.sign(checkpoint_message(seq, digest, now)),
    )
    session.add(checkpoint)
    return checkpoint


def checkpoint_record(checkpoint: AuditCheckpoint, signer: Signer) -> dict[str, object]:
    """A checkpoint as exported to a separate store (with the key that checks it)."""
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at.isoformat(),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "public_key": signer.public_key_b64,
    }


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found. ``first_bad_seq`` names the first bad entry when one entry can
    be named. When the chain links up but disagrees with a signed checkpoint or with its
    recorded head, the entry that was changed cannot be told from the entries re-hashed
    after it: ``first_bad_seq`` is then None (unless the range holds one entry) and the
    change lies somewhere from ``suspect_from`` to ``suspect_to``, the entry after the last
    checkpoint that still matches to the entry where the difference shows."""

    ok: bool
    checked: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str = ""
    suspect_from: int | None = None
    suspect_to: int | None = None


def _events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(
    session: Session, public_key: Ed25519PublicKey, external: Iterable[dict[str, object]] = ()
) -> Verdict:
    """Walk the whole chain; check the head, and every checkpoint (stored and external)."""
    checkpoints = [checkpoint_record_from_row(c) for c in session.scalars(select(AuditCheckpoint))]
    checkpoints += list(external)
    wanted: dict[int, list[dict[str, object]]] = {}
    for cp in checkpoints:
        if not _signature_ok(cp, public_key):
            return Verdict(
                False, 0, 0, int(str(cp["seq"])), said("checkpoint signature is not valid")
            )
        if not _names_its_key(cp, public_key):
            return Verdict(
                False,
                0,
                0,
                int(str(cp["seq"])),
                said("checkpoint names a key that did not sign it"),
            )
        wanted.setdefault(int(str(cp["seq"])), []).append(cp)
    # The last entry a signed checkpoint still vouches for: everything up to it is as signed.
    confirmed = 0
    expected_seq, prev, checked = 1, GENESIS, 0
    for event in _events(session):
        if event.seq != expected_seq:
            return Verdict(False, checked, 0, expected_seq, said("entry is missing (deleted)"))
        if event.prev_hash != prev:
            return Verdict(
                False, checked, 0, event.seq, said("entry does not follow the one before it")
            )
        if event_digest(prev, event) != event.hash:
            return Verdict(False, checked, 0, event.seq, said("entry was altered"))
        matching = wanted.pop(event.seq, [])
        if any(cp["hash"] != event.hash for cp in matching):
            # The chain links up to here, so whatever was changed, inserted or deleted was
            # re-hashed onwards: it lies after the last checkpoint that still matches.
            return Verdict(
                False,
                checked,
                0,
                _only(confirmed + 1, event.seq),
                said(
                    "the chain differs from a signed checkpoint: something after the last "
                    "checkpoint that still matches was changed, inserted or deleted"
                ),
                suspect_from=confirmed + 1,
                suspect_to=event.seq,
            )
        if matching:
            confirmed = event.seq
        prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    if wanted:  # the first entry the log lacks is the first bad one, not the checkpoint's
        return Verdict(
            False, checked, 0, expected_seq, said("log ends before a signed checkpoint (truncated)")
        )
    head = chain_head(session.connection())
    if head is None:  # migration 0003 made it; only a deletion removes it
        return Verdict(
            False, checked, 0, checked + 1, said("the chain's head row is missing (deleted)")
        )
    head_seq, head_hash = head
    if head_seq > checked:
        return Verdict(
            False, checked, 0, checked + 1, said("log ends before its recorded head (truncated)")
        )
    if head_seq < checked:
        return Verdict(
            False,
            checked,
            0,
            head_seq + 1,
            said("log goes on past its recorded head (entries added)"),
        )
    if head_hash != prev:  # as long as the head says, but not the chain it recorded
        return Verdict(
            False,
            checked,
            0,
            _only(confirmed + 1, checked),
            said(
                "the chain differs from its recorded head: something after the last "
                "checkpoint that still matches, or the head itself, was changed, inserted "
                "or deleted"
            ),
            suspect_from=confirmed + 1,
            suspect_to=checked,
        )
    return Verdict(True, checked, len(checkpoints))


def _only(first: int, last: int) -> int | None:
    """The one entry a range holds, or None when it holds more than one."""
    return first if first == last else None


def checkpoint_record_from_row(row: AuditCheckpoint) -> dict[str, object]:
    return {
        "seq": row.seq,
        "hash": row.hash,
        "created_at": row.created_at.isoformat(),
        "key_id": row.key_id,
        "signature": row.signature,
    }


def _names_its_key(cp: dict[str, object], public_key: Ed25519PublicKey) -> bool:
    """Whether a checkpoint names the key whose signature verified it: its ``key_id`` (and an
    exported one's ``public_key``) are not signed, so they are checked against the key."""
    if cp.get("key_id") != key_id(public_key):
        return False
    given = cp.get("public_key")
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return given is None or given == base64.b64encode(raw).decode()


def _signature_ok(cp: dict[str, object], public_key: Ed25519PublicKey) -> bool:
    try:
        message = checkpoint_message(
            int(str(cp["seq"])), str(cp["hash"]), datetime.fromisoformat(str(cp["created_at"]))
        )
        public_key.verify(base64.b64decode(str(cp["signature"])), message)
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True
