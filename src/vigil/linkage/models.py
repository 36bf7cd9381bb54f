"""The entity store: identities, entities with their sources, subjects, matches and alerts.

An *entity* is one source's view of a person, vehicle, phone, …: a report's "man in a red
coat called Dave", a partner's referral, a row of an imported list. Entities are never
edited into each other: a person confirms a match and the two entities then share one
*identity* (the older identity's id survives, so ids are stable across re-runs). Every
entity carries the marking of the record it came from, so the one access policy filters it
like any other record. Matching reads two compact side tables — the prepared person row and
its blocking keys — that exist only to make online matching against millions cheap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime, utcnow


class Identity(Base):
    """One real-world thing as far as people have confirmed it (entities point here)."""

    __tablename__ = "linkage_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("linkage_identities.id"))


class Entity(Base):
    """One source's record of a person, vehicle, phone, e-mail, account, place or org."""

    __tablename__ = "linkage_entities"
    __table_args__ = (
        Index("ix_linkage_entities_source", "source_type", "source_id"),
        Index("ix_linkage_entities_identity", "identity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    identity_id: Mapped[int] = mapped_column(ForeignKey("linkage_identities.id"))
    label: Mapped[str] = mapped_column(String(300))  # what a person sees in a list
    properties: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    # Where it came from: report | referral | import | analyst; the source row's id.
    source_type: Mapped[str] = mapped_column(String(10))
    source_id: Mapped[int | None] = mapped_column(Integer)
    source_ref: Mapped[str | None] = mapped_column(String(120))  # report reference, file row id
    # Marked like the record it came from (vigil.access.policy.visible filters on these).
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    classification: Mapped[str] = mapped_column(String(20), default="OFFICIAL-SENSITIVE")
    benign: Mapped[bool] = mapped_column(Boolean, default=False)  # on a known-benign list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EntityValue(Base):
    """An exact identifier (phone E.164, e-mail, plate, account, id number) of an entity:
    two entities sharing one link deterministically, without a model."""

    __tablename__ = "linkage_values"
    __table_args__ = (Index("ix_linkage_values_lookup", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_entities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))


class PersonRow(Base):
    """A person entity prepared for the model (normalised columns, JSON), kept so the online
    matcher never re-normalises a million known people."""

    __tablename__ = "linkage_person_rows"

    entity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_entities.id", ondelete="CASCADE"), primary_key=True
    )
    prepared: Mapped[str] = mapped_column(Text)


class BlockKey(Base):
    """The blocking index: a 64-bit hash of each blocking key of each person row.

    A hash collision only adds a candidate (the model then scores it low), never loses one.
    """

    __tablename__ = "linkage_block_keys"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_entities.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )


class Subject(Base):
    """A person or group of interest. Closed subjects stay matchable: re-appearing is news."""

    __tablename__ = "linkage_subjects"
    __table_args__ = (UniqueConstraint("owning_org_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    external_ref: Mapped[str | None] = mapped_column(String(120))  # the owner's own reference
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|closed|never
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    classification: Mapped[str] = mapped_column(String(20), default="SECRET")
    handling_code: Mapped[str | None] = mapped_column(String(4))
    alert_threshold: Mapped[float] = mapped_column(Float, default=0.95)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubjectEntity(Base):
    """An entity known to belong to a subject."""

    __tablename__ = "linkage_subject_entities"

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_subjects.id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_entities.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Match(Base):
    """A proposed link between two entities, with its reasons; a person decides it.

    ``entity_id`` is the newer record, ``other_entity_id`` the known one. One row per pair:
    a rejected pair is remembered and never raised again.
    """

    __tablename__ = "linkage_matches"
    __table_args__ = (
        UniqueConstraint("entity_id", "other_entity_id"),
        Index("ix_linkage_matches_other", "other_entity_id"),
        Index("ix_linkage_matches_state", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("linkage_entities.id", ondelete="CASCADE"))
    other_entity_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_entities.id", ondelete="CASCADE")
    )
    method: Mapped[str] = mapped_column(String(10))  # exact|model
    match_probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float | None] = mapped_column(Float)
    is_match: Mapped[bool] = mapped_column(Boolean)  # the model's advice at its threshold
    model_version: Mapped[str | None] = mapped_column(String(80))
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # pending -> positive | negative | unsure (a person's label; never retrains by itself)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_reason: Mapped[str | None] = mapped_column(Text)
    blind: Mapped[bool | None] = mapped_column(Boolean)  # reviewed without seeing the score
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Alert(Base):
    """New information touched a subject's entity: the owning team is told, with evidence.

    Owned and marked like the subject (the team that owns the subject reads it); the record
    that triggered it may be one the team cannot see — then the alert says whom to ask.
    """

    __tablename__ = "linkage_alerts"
    __table_args__ = (
        UniqueConstraint("subject_id", "record_type", "record_id"),
        Index("ix_linkage_alerts_inbox", "owning_org_id", "state", "created_at"),
        Index("ix_linkage_alerts_record", "record_type", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("linkage_subjects.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(20))  # report | entity (a referral, import)
    record_id: Mapped[int] = mapped_column(Integer)
    record_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # The record's reference (a report's, or entity:N), kept so that a team that may not see
    # the record can still tell its holder which one to share (vigil.linkage.views.alert_out)
    record_ref: Mapped[str | None] = mapped_column(String(40))
    # [{match_id, entity_id, subject_entity_id, method, probability, reason}]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subject_status: Mapped[str] = mapped_column(String(10))  # at the time of the alert
    reappeared: Mapped[bool] = mapped_column(Boolean, default=False)  # a closed subject
    best_probability: Mapped[float] = mapped_column(Float)
    # new -> reviewed -> actioned | dismissed (with a reason)
    state: Mapped[str] = mapped_column(String(10), default="new")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    classification: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BenignValue(Base):
    """A known-benign identifier (like a MISP warning list): the force's own numbers, a
    landmark's address, a public figure — never raised as a match."""

    __tablename__ = "linkage_benign_values"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EntityImport(Base):
    """One imported file: the source every imported entity points back to."""

    __tablename__ = "linkage_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(10))  # csv|ftm
    sha256: Mapped[str] = mapped_column(String(64))
    entities: Mapped[int] = mapped_column(Integer, default=0)
    subjects: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    classification: Mapped[str] = mapped_column(String(20))
    imported_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
