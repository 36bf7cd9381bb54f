"""Triage's records: the result per report, extracted items, clusters, decisions, weights.

The report itself is never changed by automation; everything triage adds lives here, keyed by
the report, so a re-run of the pipeline replaces its own output and nothing a person decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime, utcnow


class TriageResult(Base):
    """One per report: what the pipeline advised and where the analyst's work stands."""

    __tablename__ = "triage_results"
    __table_args__ = (
        Index("ix_triage_queue", "state", "priority_rank", "received_at"),
        Index("ix_triage_cluster", "cluster_id"),
        # The open queue (new or claimed) in queue order: a page reads only what it shows.
        Index(
            "ix_triage_open_queue",
            "priority_rank",
            "received_at",
            "report_id",
            sqlite_where=text("state IN ('new', 'claimed')"),
            postgresql_where=text("state IN ('new', 'claimed')"),
        ),
    )

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the report's, for ordering
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|done|failed
    pipeline_version: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[str | None] = mapped_column(String(2))  # P1..P4
    # 1..4 for P1..P4; 5 while pending so unscored reports still show, after the scored ones.
    priority_rank: Mapped[int] = mapped_column(Integer, default=5)
    score: Mapped[float | None] = mapped_column(Float)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    categories: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # ",photography,weapons," — the active category codes, so the queue can filter in SQL.
    category_codes: Mapped[str] = mapped_column(String(400), default=",")
    config_version: Mapped[int | None] = mapped_column(Integer)
    cluster_id: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # service level
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # new -> claimed -> decided (an outcome is recorded); released claims go back to new.
    state: Mapped[str] = mapped_column(String(10), default="new")
    claimed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    outcome_detail: Mapped[str | None] = mapped_column(String(200))  # case ref, partner, …
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TriageItem(Base):
    """An extracted item with its span; analysts can reject or correct it (kept, counted)."""

    __tablename__ = "triage_items"
    __table_args__ = (Index("ix_triage_items_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(String(2000))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(10))  # text|reporter|analyst
    detail: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="active")  # active|rejected
    corrects_item_id: Mapped[int | None] = mapped_column(ForeignKey("triage_items.id"))


class TriageDecision(Base):
    """The history of a report's triage: every claim, grade, correction and outcome, with
    who made it and why (domain-facts §6: a named person decides)."""

    __tablename__ = "triage_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the pipeline
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClusterLink(Base):
    """Why two reports are near-duplicates: text, a shared identifier, time and place, or
    the same image."""

    __tablename__ = "triage_cluster_links"
    __table_args__ = (Index("ix_cluster_links_pair", "report_id", "other_report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    other_report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(20))  # text|identifier|time_place|image
    detail: Mapped[str] = mapped_column(String(500))
    score: Mapped[float] = mapped_column(Float)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TextBand(Base):
    """A MinHash LSH band of a report's text: reports sharing a band are candidates."""

    __tablename__ = "triage_text_bands"
    __table_args__ = (Index("ix_text_bands_lookup", "band", "hash"),)

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str | None] = mapped_column(Text)  # on band 0 only: the MinHash, hex


class ImageHash(Base):
    """A perceptual hash of an image attachment, split into chunks for candidate lookup."""

    __tablename__ = "triage_image_hashes"
    __table_args__ = (
        Index("ix_image_hash_chunk", "chunk_no", "chunk"),
        Index("ix_image_hash_report", "report_id"),  # a report's erasure cascades here
    )

    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    phash: Mapped[str] = mapped_column(String(16))  # 64-bit hash, hex


class TriageConfig(Base):
    """A version of the priority weights and service levels; the newest is in force."""

    __tablename__ = "triage_configs"

    version: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
