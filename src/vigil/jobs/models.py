"""The ``jobs`` table: background work that must survive a crash.

A job row is written in the same transaction as the record it is about, so the work is
durable exactly when the record is. Payloads and keys carry identifiers only, never report
content: the table has no row-level security, and staff who may list jobs need not be
allowed to read reports.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime, utcnow

# Millions of jobs a day at full intake: 64-bit ids on PostgreSQL. SQLite's rowid is already
# 64-bit, and only a column declared exactly INTEGER becomes that rowid.
JOB_ID = BigInteger().with_variant(Integer(), "sqlite")
ERROR_MAX = 500


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Job(Base):
    """One unit of background work, identified by its idempotency ``key``."""

    __tablename__ = "jobs"
    # Claiming reads "queued and due" (and "running with an expired lease") in run_after order.
    __table_args__ = (Index("ix_jobs_claim", "status", "run_after"),)

    id: Mapped[int] = mapped_column(JOB_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
