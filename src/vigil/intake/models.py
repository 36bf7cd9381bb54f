"""Reports as received. Reporter identity and follow-up secrets live in their own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vigil.db import Base, UTCDateTime, utcnow


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_received", "received_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    owning_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    owning_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    classification: Mapped[str] = mapped_column(
        String(20), default="OFFICIAL-SENSITIVE", server_default="OFFICIAL-SENSITIVE"
    )
    grading_scheme: Mapped[str | None] = mapped_column(String(20))
    source_evaluation: Mapped[str | None] = mapped_column(String(4))
    intelligence_assessment: Mapped[str | None] = mapped_column(String(4))
    handling_code: Mapped[str | None] = mapped_column(String(4))
    handling_conditions: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool]
    when_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    when_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    when_ongoing: Mapped[bool] = mapped_column(default=False)
    when_unsure: Mapped[bool] = mapped_column(default=False)
    when_description: Mapped[str | None] = mapped_column(String(500))
    where_description: Mapped[str | None] = mapped_column(String(2000))
    where_address: Mapped[str | None] = mapped_column(String(500))
    where_postcode: Mapped[str | None] = mapped_column(String(10))
    where_lat: Mapped[float | None] = mapped_column(Float)
    where_lon: Mapped[float | None] = mapped_column(Float)
    content_sha256: Mapped[str] = mapped_column(String(64))

    people: Mapped[list[ReportPerson]] = relationship(
        order_by="ReportPerson.position", cascade="all, delete-orphan", lazy="selectin"
    )
    vehicles: Mapped[list[ReportVehicle]] = relationship(
        order_by="ReportVehicle.position", cascade="all, delete-orphan", lazy="selectin"
    )
    online: Mapped[list[ReportOnline]] = relationship(
        order_by="ReportOnline.position", cascade="all, delete-orphan", lazy="selectin"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.id", cascade="all, delete-orphan", lazy="selectin"
    )
    # Written with the report in one flush; never loaded with it ("raise" makes a slip loud).
    identity: Mapped[ReporterIdentity | None] = relationship(
        cascade="all, delete-orphan", lazy="raise", single_parent=True
    )
    credential: Mapped[FollowupCredential | None] = relationship(
        cascade="all, delete-orphan", lazy="raise", single_parent=True
    )
    idempotency: Mapped[list[IdempotencyRecord]] = relationship(
        cascade="all, delete-orphan", lazy="raise"
    )


class ReportPerson(Base):
    __tablename__ = "report_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    age: Mapped[str | None] = mapped_column(String(50))
    appearance: Mapped[str | None] = mapped_column(String(1000))
    clothing: Mapped[str | None] = mapped_column(String(1000))
    behaviour: Mapped[str | None] = mapped_column(String(2000))


class ReportVehicle(Base):
    __tablename__ = "report_vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    registration: Mapped[str | None] = mapped_column(String(20))
    registration_normalised: Mapped[str | None] = mapped_column(String(12), index=True)
    make: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    colour: Mapped[str | None] = mapped_column(String(50))


class ReportOnline(Base):
    __tablename__ = "report_online"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    where_seen: Mapped[str | None] = mapped_column(String(200))


class Followup(Base):
    """One message in a report's thread: the reporter adding information (with their code)
    or answering, or an analyst asking the reporter a question."""

    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(10), default="reporter", server_default="reporter")
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str | None] = mapped_column(Text)


class Attachment(Base):
    """A file as received (evidence, unchanged) plus, for images, a metadata-free display copy."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    display_key: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int | None]
    height: Mapped[int | None]


class ReporterIdentity(Base):
    """Who reported, sealed with a per-report data key that a master key wraps."""

    __tablename__ = "reporter_identities"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(40), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class FollowupCredential(Base):
    """The argon2id hash of a report's follow-up code and its failed-attempt counter."""

    __tablename__ = "followup_credentials"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """A submission's Idempotency-Key, so a retry gets the first answer back, sealed at rest."""

    __tablename__ = "idempotency_records"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    sealed_response: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
