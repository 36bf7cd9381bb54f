"""Re-wrapping every sealed value under the current master key (``vigil keys rotate``).

Anything sealed with :class:`vigil.sealing.Sealer` names the master key that wraps its data
key, so removing a master key breaks every value still wrapped by it. Rotation therefore has
to reach *every* place a sealed value is kept, not only reporter identities: they are listed
once, here, in :data:`SEALED_PLACES`, and a test fails when a binary column appears that is
neither listed nor declared not sealed.

Each place is walked in primary-key order, a batch per transaction, with the rows locked
(``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the one write lock) so a web process
re-sealing a session or a TOTP secret at the same moment is never overwritten with the old
value. Re-wrapping keeps the data key, nonce and ciphertext, so no sealing context is needed
and nothing sealed changes meaning. A value already under the current key is left alone,
so running it again does nothing more; a value no configured key can open is counted and
left as it was (the caller keeps the old key until that is resolved).

Not stored, so not rotated: the OpenID sign-in flow cookie (sealed for at most
``FLOW_TIMEOUT_S``); a sign-in in flight while the old key is removed simply starts again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from vigil.access.models import User
from vigil.access.oidc import IdentityProvider
from vigil.audit.services import Actor, record_event
from vigil.db import Database
from vigil.intake.models import IdempotencyRecord, ReporterIdentity
from vigil.sealing import UNREADABLE, Sealed, Sealer
from vigil.web.sessions import BrowserSession


@dataclass(frozen=True)
class SealedPlace:
    """One place sealed values are kept: a table's primary key and the sealed value.

    ``blob`` holds :meth:`Sealed.pack` output; for reporter identities the four parts are
    separate columns (``parts``, in :class:`Sealed`'s order: key id, wrapped key, nonce,
    ciphertext). ``key_id`` is the column naming the wrapping key, when there is one: it is
    kept in step and lets rows already under the current key be skipped in SQL.
    ``audit_ids`` is False where the row's key is not something the audit log should hold
    (anonymous visitors' sessions).
    """

    kind: str
    record_type: str
    key: InstrumentedAttribute[Any]
    blob: InstrumentedAttribute[Any] | None = None
    parts: tuple[InstrumentedAttribute[Any], ...] = ()
    key_id: InstrumentedAttribute[Any] | None = None
    audit_ids: bool = True

    @property
    def columns(self) -> set[tuple[str, str]]:
        """(table, column) of everything sealed here, for the completeness test."""
        cols = [self.blob] if self.blob is not None else list(self.parts[1:])
        return {(self.key.class_.__tablename__, c.key) for c in cols}

    def pending(self, current: str) -> ColumnElement[bool] | None:
        return None if self.key_id is None else self.key_id != current


SEALED_PLACES: tuple[SealedPlace, ...] = (
    SealedPlace(
        "reporter identities",
        "reporter_identity",
        ReporterIdentity.report_id,
        parts=(
            ReporterIdentity.key_id,
            ReporterIdentity.wrapped_key,
            ReporterIdentity.nonce,
            ReporterIdentity.ciphertext,
        ),
        key_id=ReporterIdentity.key_id,
    ),
    SealedPlace("TOTP secrets", "user", User.id, blob=User.totp_sealed),
    SealedPlace(
        "OpenID client secrets",
        "identity_provider",
        IdentityProvider.id,
        blob=IdentityProvider.client_secret_sealed,
    ),
    SealedPlace(
        "idempotency records",
        "idempotency_record",
        IdempotencyRecord.key_hash,
        blob=IdempotencyRecord.sealed_response,
        key_id=IdempotencyRecord.key_id,
    ),
    SealedPlace(
        "browser sessions",
        "browser_session",
        BrowserSession.id_hash,
        blob=BrowserSession.sealed,
        audit_ids=False,
    ),
)


@dataclass
class Tally:
    """What rotation did to one place."""

    kind: str
    rewrapped: int = 0
    unreadable: int = 0


@dataclass
class _Batch:
    last: Any = None
    examined: int = 0
    rewrapped: list[Any] = field(default_factory=list)
    unreadable: int = 0


def to_examine(db: Database, sealer: Sealer) -> dict[str, int]:
    """Rows each place will look at (for a progress bar); a rough count is enough."""
    counts: dict[str, int] = {}
    with db.session() as session:
        for place in SEALED_PLACES:
            query = select(func.count()).select_from(place.key.class_)
            where = place.pending(sealer.current_key_id)
            if where is not None:
                query = query.where(where)
            if place.blob is not None:
                query = query.where(place.blob.is_not(None))
            counts[place.kind] = session.scalar(query) or 0
    return counts


def rotate(
    db: Database,
    sealer: Sealer,
    actor: Actor,
    *,
    batch: int = 500,
    on_progress: Callable[[str, int], None] | None = None,
    places: Sequence[SealedPlace] = SEALED_PLACES,
) -> list[Tally]:
    """Re-wrap every sealed value under ``sealer.current_key_id``; one tally per place.

    Each batch is one transaction that also writes its ``keys.rotated`` audit event.
    """
    tallies = []
    for place in places:
        tally = Tally(place.kind)
        after: Any = None
        while True:
            done = db.write_sync(
                partial(
                    _rewrap_batch, sealer=sealer, actor=actor, place=place, after=after, size=batch
                )
            )
            if not done.examined:
                break
            after = done.last
            tally.rewrapped += len(done.rewrapped)
            tally.unreadable += done.unreadable
            if on_progress is not None:
                on_progress(place.kind, done.examined)
        tallies.append(tally)
    return tallies


def _rewrap_batch(
    session: Session, sealer: Sealer, actor: Actor, place: SealedPlace, after: Any, size: int
) -> _Batch:
    current = sealer.current_key_id
    stored = (place.blob,) if place.blob is not None else place.parts
    query = select(place.key, *stored).order_by(place.key).limit(size).with_for_update()
    if after is not None:
        query = query.where(place.key > after)
    if place.blob is not None:
        query = query.where(place.blob.is_not(None))
    where = place.pending(current)
    if where is not None:
        query = query.where(where)
    out = _Batch()
    for row in session.execute(query).all():
        out.last, out.examined = row[0], out.examined + 1
        try:
            sealed = Sealed.unpack(row[1]) if place.blob is not None else Sealed(*row[1:])
            if sealed.key_id == current:
                continue
            new = sealer.rewrap(sealed)
        except UNREADABLE:
            out.unreadable += 1
            continue
        values: dict[str, Any]
        if place.blob is not None:
            values = {place.blob.key: new.pack()}
            if place.key_id is not None:
                values[place.key_id.key] = new.key_id
        else:
            key_id, wrapped_key = place.parts[:2]
            values = {key_id.key: new.key_id, wrapped_key.key: new.wrapped_key}
        table = place.key.class_.__table__
        session.execute(update(table).where(table.c[place.key.key] == row[0]).values(values))
        out.rewrapped.append(row[0])
    if out.rewrapped:
        record_event(
            session,
            actor,
            "keys.rotated",
            record_type=place.record_type,
            record_ids=out.rewrapped if place.audit_ids else (),
            purpose=f"{len(out.rewrapped)} {place.kind} re-wrapped under key {current}",
        )
    return out
