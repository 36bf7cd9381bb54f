"""Organisations, teams, staff users, API tokens, sign-in sessions, sharing agreements and
record shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vigil.db import Base, UTCDateTime, utcnow


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Team(Base):
    """A team inside an organisation; new records are visible to their receiving team only."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamMembership(Base):
    __tablename__ = "team_memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True, index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    clearance: Mapped[str] = mapped_column(
        String(20), default="OFFICIAL-SENSITIVE", server_default="OFFICIAL-SENSITIVE"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Sign-in (vigil.access.signin). The password is kept only as an argon2id hash and the
    # TOTP secret only sealed (encrypted) with the master keys; neither is ever readable here.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last accepted TOTP time step: a code for it or an earlier step is a replay.
    totp_last_step: Mapped[int | None]
    # Per-account lockout: failures counted since ``failures_since``, locked until a time.
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    failures_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class StaffSession(Base):
    """A staff member's signed-in browser session, held on the server.

    The cookie carries a random 256-bit token; only its SHA-256 is the id here, so a copy of
    this table signs nobody in. A row without ``second_factor_at`` is half-way (password
    accepted, code not yet). Rows are ended, never reused: ``ended_reason`` says why.

    ``second_factor_at`` is when the second factor was last proved. A whole session is
    created at the moment its second factor passes (``created_at == second_factor_at``), so
    the column moves past ``created_at`` only when the holder re-authenticates
    (``/staff/reauthenticate``): that is :attr:`reauthenticated_at`, the step-up that
    sensitive acts ask for, kept apart from sign-in without a column of its own.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def reauthenticated_at(self) -> datetime | None:
        """When the session last re-authenticated after signing in, or None if it never has.

        Signing in, with a code, a key or single sign-on, never counts: only a second factor
        proved later than the session's creation does.
        """
        at = self.second_factor_at
        return at if at is not None and at > self.created_at else None


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is kept: tokens carry 256 random bits."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The permissions this token may use (values of Permission); None means all the role's.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)

    user: Mapped[User] = relationship(lazy="joined")


class SharingAgreement(Base):
    """A data-sharing agreement between two organisations: which kinds of record, up to which
    classification, for which purpose, for how long. Sharing outside one is refused."""

    __tablename__ = "sharing_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_a_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_b_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    record_types: Mapped[list[str]] = mapped_column(JSON)
    max_classification: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text)
    sensitive_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class RecordShare(Base):
    """One record shared with an organisation or a team, under an agreement where needed."""

    __tablename__ = "record_shares"
    __table_args__ = (Index("ix_record_shares_record", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int]
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_agreements.id"))
    purpose: Mapped[str] = mapped_column(Text)
    shared_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
