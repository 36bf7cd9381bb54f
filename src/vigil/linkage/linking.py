"""Linking new information: its entities into the store, matched against everything known.

Runs as ``system`` inside the pipeline (after triage) and for referrals and imports, so the
radar sees every record; what people then see of the matches and alerts goes through the
access policy. Exact identifiers (phone, e-mail, plate, account, id number) link without a
model; people are scored by the trained model and kept for review above a floor. Values on
the known-benign list never link: they are put aside as signals (no exact link, no agreement
in the model's comparisons, marked "ignored" in the explanation) while the rest of the
entity still matches; an entity with nothing else to match on links nothing. A pair a
person rejected is remembered and never raised again; re-running the same record refreshes
its entities in place so ids stay stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.linkage import views
from vigil.linkage.entities import (
    Marking,
    benign_keys,
    benign_properties,
    identifiers_of,
    is_benign,
    label_of,
    without_benign,
)
from vigil.linkage.matching.scorer import PersonScorer
from vigil.linkage.models import (
    BenignValue,
    Entity,
    EntityValue,
    Identity,
    Match,
    PersonRow,
)
from vigil.linkage.online import index_person, match_prepared
from vigil.linkage.records import EntityKind, EntityRecord, person_record
from vigil.settings import Settings


@dataclass
class LinkOutcome:
    entity_ids: list[int] = field(default_factory=list)
    new_match_ids: list[int] = field(default_factory=list)
    match_ids: list[int] = field(default_factory=list)


def upsert_entities(
    session: Session,
    records: Sequence[EntityRecord],
    *,
    source_type: str,
    source_id: int | None,
    marking: Marking,
    scorer: PersonScorer,
    prune: bool = False,
) -> list[Entity]:
    """Store a source's entities, keyed by (source, record id) so re-runs keep their ids.

    With ``prune``, the source's entities no longer present are removed unless a person has
    already reviewed one of their matches (a decision is never silently lost).
    """
    existing = {
        e.source_ref: e
        for e in session.scalars(
            select(Entity).where(Entity.source_type == source_type, Entity.source_id == source_id)
        )
    }
    benign = benign_values(session, [v for r in records for v in benign_keys(r)])
    stored: list[Entity] = []
    conn = session.connection()
    for record in records:
        entity = existing.pop(record.id, None)
        if entity is None:
            identity = Identity(kind=record.kind.value, created_at=utcnow())
            session.add(identity)
            session.flush()
            entity = Entity(
                kind=record.kind.value,
                identity_id=identity.id,
                source_type=source_type,
                source_id=source_id,
                source_ref=record.id,
                created_at=utcnow(),
            )
            session.add(entity)
        entity.label = label_of(record)
        entity.properties = {k: list(v) for k, v in record.properties.items()}
        entity.owning_org_id = marking.owning_org_id
        entity.owning_team_id = marking.owning_team_id
        entity.classification = marking.classification
        values = identifiers_of(record)
        entity.benign = is_benign(record, benign)
        session.flush()
        session.execute(delete(EntityValue).where(EntityValue.entity_id == entity.id))
        session.add_all(
            EntityValue(entity_id=entity.id, kind=k, value=v)
            for k, v in values
            if (k, v) not in benign
        )
        if record.kind is EntityKind.person:
            # Indexed without its benign values: they make no blocking key and no agreement.
            matchable = person_record(without_benign(record, benign))
            index_person(conn, entity.id, scorer.prepare(matchable))
        stored.append(entity)
    if prune:
        for gone in existing.values():
            reviewed = session.scalar(
                select(Match.id).where(
                    (Match.entity_id == gone.id) | (Match.other_entity_id == gone.id),
                    Match.state != "pending",
                )
            )
            if reviewed is None:
                session.delete(gone)
    session.flush()
    return stored


def link_as_configured(
    session: Session, entities: Sequence[Entity], scorer: PersonScorer, settings: Settings
) -> LinkOutcome:
    """:func:`link_entities` with the review floor and candidate cap the service is set to."""
    return link_entities(
        session,
        entities,
        scorer=scorer,
        floor=settings.linkage_review_floor,
        cap=settings.linkage_block_cap,
    )


def link_entities(
    session: Session,
    entities: Sequence[Entity],
    *,
    scorer: PersonScorer,
    floor: float,
    cap: int,
) -> LinkOutcome:
    """Match each entity against the store; record (or refresh) one Match per pair."""
    outcome = LinkOutcome(entity_ids=[e.id for e in entities])
    own = {e.id for e in entities}
    conn = session.connection()
    records = {e.id: views.entity_record(e) for e in entities if not e.benign}
    # The known-benign values among all of them, in one statement.
    benign = benign_values(session, [key for r in records.values() for key in benign_keys(r)])
    for entity in entities:
        if entity.benign:
            continue  # nothing but known-benign values to match on: never raised as a match
        record = records[entity.id]
        ignored = benign_properties(record, benign)
        proposals: dict[int, dict[str, Any]] = {}
        for kind, value in _values_of(session, entity.id):
            if (kind, value) in benign:
                continue  # listed since the entity was stored: still never an exact link
            for other_id in session.scalars(
                select(EntityValue.entity_id).where(
                    EntityValue.kind == kind, EntityValue.value == value
                )
            ):
                if other_id in own:
                    continue
                proposals[other_id] = {
                    "method": "exact",
                    "match_probability": 1.0,
                    "match_weight": None,
                    "is_match": True,
                    "model_version": None,
                    "explanation": [{"comparison": kind, "level": "exact", "value_kind": kind}],
                }
        if entity.kind == EntityKind.person.value:
            prepared = (
                scorer.prepare(person_record(without_benign(record, benign)))
                if ignored
                else _prepared(session, entity.id)
            )
            if prepared is not None:
                for cand in match_prepared(
                    conn, prepared, scorer=scorer, cap=cap, floor=floor, limit=20, exclude=list(own)
                ):
                    steps = _benign_ignored(cand.explanation(), ignored)
                    if cand.entity_id in proposals:
                        proposals[cand.entity_id]["explanation"] += steps
                        continue
                    proposals[cand.entity_id] = {
                        "method": "model",
                        "match_probability": cand.match_probability,
                        "match_weight": cand.match_weight,
                        "is_match": cand.is_match,
                        "model_version": scorer.model.version,
                        "explanation": steps,
                    }
        quiet = _benign_entities(session, proposals)
        for other_id, proposal in proposals.items():
            if other_id in quiet:
                continue
            match_id, new = _record_match(session, entity.id, other_id, proposal)
            if match_id is not None:
                outcome.match_ids.append(match_id)
                if new:
                    outcome.new_match_ids.append(match_id)
    return outcome


BENIGN_IGNORED = "ignored: on the known-benign list"
# The model's comparison that reads each property a known-benign list can name.
_COMPARISON_OF = {
    "phone": "phone",
    "email": "email",
    "id_number": "id_number",
    "address": "location",
}


def _benign_ignored(
    steps: list[dict[str, Any]], ignored: Mapping[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    """The explanation with the known-benign values put aside shown as such: the analyst
    sees that the control-room number was there and was not counted, rather than a
    comparison that seems to have had nothing to compare."""
    if not ignored:
        return steps
    by_comparison: dict[str, list[str]] = {}
    for prop, values in ignored.items():
        by_comparison.setdefault(_COMPARISON_OF.get(prop, prop), []).extend(values)
    for step in steps:
        put_aside = by_comparison.get(str(step.get("comparison")))
        if step.get("step") != "comparison" or not put_aside:
            continue
        step["benign_ignored"] = list(put_aside)
        if step.get("left") is None:  # the benign value was all this side had to compare
            step["level"] = BENIGN_IGNORED
            step["left"] = ", ".join(put_aside)
        else:  # the rest of it was compared (an address put aside, the postcode kept)
            step["level"] = f"{step.get('level')} ({', '.join(put_aside)} {BENIGN_IGNORED})"
    return steps


def _record_match(
    session: Session, entity_id: int, other_id: int, proposal: Mapping[str, Any]
) -> tuple[int | None, bool]:
    """Insert or refresh the pair's match; a pair a person already labelled keeps its label
    and evidence (a rejection is remembered: the pair is not raised again)."""
    row = session.scalar(
        select(Match).where(
            ((Match.entity_id == entity_id) & (Match.other_entity_id == other_id))
            | ((Match.entity_id == other_id) & (Match.other_entity_id == entity_id))
        )
    )
    if row is not None:
        if row.state == "negative":
            return None, False
        if row.state == "pending":
            for key, value in proposal.items():
                setattr(row, key, value)
        return row.id, False
    row = Match(entity_id=entity_id, other_entity_id=other_id, created_at=utcnow(), **proposal)
    session.add(row)
    session.flush()
    return row.id, True


def _values_of(session: Session, entity_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(EntityValue.kind, EntityValue.value).where(EntityValue.entity_id == entity_id)
    )
    return [(k, v) for k, v in rows]


def _prepared(session: Session, entity_id: int) -> dict[str, Any] | None:
    blob = session.scalar(select(PersonRow.prepared).where(PersonRow.entity_id == entity_id))
    return None if blob is None else dict(orjson.loads(blob))


def _benign_entities(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = sorted(ids)
    if not wanted:
        return set()
    rows = session.scalars(select(Entity.id).where(Entity.id.in_(wanted), Entity.benign))
    return set(rows)


def benign_values(session: Session, values: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    wanted = set(values)
    if not wanted:
        return set()
    rows = session.execute(
        select(BenignValue.kind, BenignValue.value).where(
            BenignValue.value.in_(sorted({v for _, v in wanted}))
        )
    )
    return {(k, v) for k, v in rows} & wanted
