"""Online matching: one new record against every person in the store, in milliseconds.

The batch matcher (Splink on DuckDB or Spark) learns the model; here the same model's
parameters are applied in process (``PersonScorer``, proven equal to Splink's weights) to
the few candidates a blocking index returns. The index is two plain tables in the main
database — prepared person rows and 64-bit hashes of their blocking keys — so it needs no
extra service and stays consistent with the entities in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, text
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.linkage.entities import Marking, identifiers_of, is_benign, label_of
from vigil.linkage.matching.blocking import blocking_keys
from vigil.linkage.matching.model import PersonModel
from vigil.linkage.matching.scorer import PairScore, PersonScorer
from vigil.linkage.models import BlockKey, Entity, EntityValue, Identity, PersonRow
from vigil.linkage.records import (
    EntityKind,
    EntityRecord,
    PersonRecord,
    person_entity,
    person_record,
)

T = TypeVar("T")


@lru_cache(maxsize=4)
def scorer_for(model_path: Path | None) -> PersonScorer:
    """The scorer of the configured model (the packaged one when none is configured)."""
    model = PersonModel.load(model_path) if model_path else PersonModel.default()
    return PersonScorer(model)


def key_hash(key: str) -> int:
    """A signed 64-bit hash of a blocking key (fits BIGINT on every engine)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True, slots=True)
class Candidate:
    entity_id: int
    match_probability: float
    match_weight: float
    is_match: bool
    score: PairScore

    def explanation(self) -> list[dict[str, Any]]:
        return self.score.explanation()


def index_person(conn: Connection, entity_id: int, prepared: Mapping[str, Any]) -> None:
    """Add (or refresh) one person row and its blocking keys."""
    conn.execute(delete(PersonRow).where(PersonRow.entity_id == entity_id))
    conn.execute(delete(BlockKey).where(BlockKey.entity_id == entity_id))
    conn.execute(insert(PersonRow), [{"entity_id": entity_id, "prepared": _dumps(prepared)}])
    keys = {key_hash(k) for k in blocking_keys(prepared)}
    if keys:
        conn.execute(insert(BlockKey), [{"key": k, "entity_id": entity_id} for k in keys])


def index_people(
    conn: Connection,
    records: Iterable[PersonRecord],
    *,
    scorer: PersonScorer,
    owning_org_id: int,
    owning_team_id: int | None = None,
    classification: str = "OFFICIAL-SENSITIVE",
    source_type: str = "import",
    source_id: int | None = None,
    chunk: int = 5_000,
) -> int:
    """Bulk-load known people as entities with their index rows (benchmarks, big imports).

    Runs on the caller's connection and transaction; returns how many were loaded.
    """
    marking = Marking(owning_org_id, owning_team_id, classification)
    loaded = 0
    for part in _chunks((person_entity(r) for r in records), chunk):
        loaded += len(
            insert_entities(
                conn,
                part,
                scorer=scorer,
                marking=marking,
                source_type=source_type,
                source_id=source_id,
            )
        )
    return loaded


def insert_entities(
    conn: Connection,
    records: Sequence[EntityRecord],
    *,
    scorer: PersonScorer,
    marking: Marking,
    source_type: str,
    source_id: int | None,
    benign: frozenset[tuple[str, str]] = frozenset(),
) -> list[int]:
    """Insert new entities with their identifiers, person rows and blocking keys, a few
    statements per chunk (a new import's entities are all new: no lookups needed)."""
    if not records:
        return []
    now = utcnow()
    identity_ids = _insert_returning_ids(
        conn,
        [{"kind": r.kind.value, "created_at": now, "merged_into_id": None} for r in records],
        Identity,
    )
    entity_rows, values_of = [], []
    for record, identity_id in zip(records, identity_ids, strict=True):
        values = identifiers_of(record)
        values_of.append(values)
        entity_rows.append(
            {
                "kind": record.kind.value,
                "identity_id": identity_id,
                "label": label_of(record),
                "properties": {k: list(v) for k, v in record.properties.items()},
                "source_type": source_type,
                "source_id": source_id,
                "source_ref": record.id[:120],
                "owning_org_id": marking.owning_org_id,
                "owning_team_id": marking.owning_team_id,
                "classification": marking.classification,
                "benign": is_benign(record, benign),
                "created_at": now,
            }
        )
    entity_ids = _insert_returning_ids(conn, entity_rows)
    value_rows: list[dict[str, Any]] = []
    person_rows: list[dict[str, Any]] = []
    key_rows: list[dict[str, Any]] = []
    for record, entity_id, values in zip(records, entity_ids, values_of, strict=True):
        value_rows.extend(
            {"entity_id": entity_id, "kind": k, "value": v}
            for k, v in values
            if (k, v) not in benign
        )
        if record.kind is EntityKind.person:
            prepared = scorer.prepare(person_record(record))
            person_rows.append({"entity_id": entity_id, "prepared": _dumps(prepared)})
            key_rows.extend(
                {"key": k, "entity_id": entity_id}
                for k in {key_hash(key) for key in blocking_keys(prepared)}
            )
    for model, rows in ((EntityValue, value_rows), (PersonRow, person_rows), (BlockKey, key_rows)):
        if rows:
            conn.execute(insert(model), rows)
    return entity_ids


def candidate_ids(
    conn: Connection, keys: Iterable[str], *, cap: int, exclude: Sequence[int] = ()
) -> list[int]:
    """Entities sharing at least one blocking key; a key shared by more than ``cap`` people
    is too common to say anything and is skipped (its people are found by other keys)."""
    found: dict[int, None] = {}
    for key in dict.fromkeys(keys):
        ids = conn.execute(_BLOCK, {"key": key_hash(key), "cap": cap + 1}).scalars().all()
        if len(ids) <= cap:
            found.update(dict.fromkeys(ids))
    for entity_id in exclude:
        found.pop(entity_id, None)
    return list(found)


def match_prepared(
    conn: Connection,
    prepared: Mapping[str, Any],
    *,
    scorer: PersonScorer,
    cap: int = 500,
    floor: float = 0.5,
    limit: int = 5,
    exclude: Sequence[int] = (),
) -> list[Candidate]:
    """The best-scoring known people for one prepared person, best first."""
    ids = candidate_ids(conn, blocking_keys(prepared), cap=cap, exclude=exclude)
    if not ids:
        return []
    threshold = scorer.model.threshold_probability
    found = []
    rows = conn.execute(_ROWS, {"ids": ids}).all()
    for entity_id, blob in rows:
        score = scorer.score(prepared, orjson.loads(blob))
        if score.match_probability >= floor:
            found.append(
                Candidate(
                    entity_id,
                    score.match_probability,
                    score.match_weight,
                    score.match_probability >= threshold,
                    score,
                )
            )
    found.sort(key=lambda c: (-c.match_weight, c.entity_id))
    return found[:limit]


def match_person(
    session: Session | Connection,
    record: PersonRecord,
    *,
    scorer: PersonScorer,
    limit: int = 5,
    cap: int = 500,
    floor: float = 0.0,
) -> list[Candidate]:
    """Match one person record against the whole store (the benchmark's and API's entry)."""
    conn = session.connection() if isinstance(session, Session) else session
    return match_prepared(
        conn, scorer.prepare(record), scorer=scorer, cap=cap, floor=floor, limit=limit
    )


_BLOCK = text("SELECT entity_id FROM linkage_block_keys WHERE key = :key LIMIT :cap")
_ROWS = text(
    "SELECT entity_id, prepared FROM linkage_person_rows WHERE entity_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _dumps(prepared: Mapping[str, Any]) -> str:
    return orjson.dumps(prepared, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _chunks(records: Iterable[T], size: int) -> Iterator[list[T]]:
    part: list[T] = []
    for record in records:
        part.append(record)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


def _insert_returning_ids(
    conn: Connection, rows: list[dict[str, Any]], model: Any = Entity
) -> list[int]:
    """Insert many rows and return their ids in order (RETURNING on both engines)."""
    if not rows:
        return []
    result = conn.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]
