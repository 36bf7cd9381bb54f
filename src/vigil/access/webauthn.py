"""WebAuthn security keys: a phishing-resistant second factor, with py_webauthn.

Why it is shaped like this:

- Phishing resistance comes from the browser binding every signature to the origin and the
  relying-party id. So the origin and RP id the server expects are never taken from what the
  browser sends: in production they come from ``VIGIL_PUBLIC_ORIGIN``; only in development and
  test (where the port is random) are they derived from the request's own base URL.
- A challenge is stored on the server, bound to the staff session (half-way during sign-in,
  whole for registration and re-authentication) and to one purpose, and is consumed by the
  first verification that reads it, whatever its outcome: a replayed response finds nothing.
- A signature counter that does not move forward (when either side is non-zero) suggests a
  cloned authenticator: the assertion is refused and audited.
- Failures count against the account exactly like wrong TOTP codes (same lockout), and every
  success and refusal is audited without any key material.
- Adding or removing a key changes how the account signs in and ends its other sessions, so
  it needs a step-up (re-authentication after sign-in, within the last 5 minutes; see
  :func:`vigil.access.signin.stepped_up`), checked in the same transaction as the change:
  otherwise a hijacked or unattended session could plant its own key and shut the owner out.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vigil.access import signin
from vigil.access.models import StaffSession, User
from vigil.audit.services import Actor, record_event
from vigil.db import Base, UTCDateTime, utcnow
from vigil.sealing import Sealed
from vigil.settings import Environment, Settings
from vigil.web.runtime import Runtime

RP_NAME = "Vigil"
CHALLENGE_TTL_S = 300
OPTIONS_TIMEOUT_MS = 120_000
MAX_KEYS = 10
MAX_NAME = 60
MAX_RESPONSE_BYTES = 64 * 1024


class WebAuthnCredential(Base):
    """A staff member's registered security key: only public material is kept."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebAuthnChallenge(Base):
    """One outstanding challenge per staff session and purpose; deleted when used.

    Keyed by the staff session's id (itself a hash of the cookie), not a foreign key, so that
    purging old sessions never trips over a forgotten challenge; expired ones are purged here.
    """

    __tablename__ = "webauthn_challenges"

    staff_session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Purpose(StrEnum):
    register = "register"
    sign_in = "sign_in"
    reauthenticate = "reauthenticate"


class KeyRefused(Exception):
    """A registration or assertion that is not accepted; ``reason`` is audited."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReauthenticationRequired(Exception):
    """A key change asked for by a session that has not re-authenticated within the window.

    Raised after the refusal has been audited (and committed); the page sends the user to
    ``/staff/reauthenticate`` and back.
    """


REAUTH_REQUIRED = "reauthentication_required"


def _refuse_unless_stepped_up(session: Session, sid: str, actor: Actor, action: str) -> bool:
    """True (and the refusal audited, as a disclosure's is) when the session has not
    re-authenticated recently enough for a credential change."""
    if signin.stepped_up(session.get(StaffSession, sid), utcnow()):
        return False
    assert actor.user_id is not None
    _audit(session, actor, action, actor.user_id, REAUTH_REQUIRED, outcome="denied")
    return True


@dataclass(frozen=True)
class RelyingParty:
    """What the browser must have signed for: this origin and this RP id (its host)."""

    origin: str
    rp_id: str


def relying_party(settings: Settings, base_url: str) -> RelyingParty:
    """The configured origin; only outside production the request's own base URL."""
    configured = str(getattr(settings, "public_origin", "") or "").rstrip("/")
    if configured:
        origin = configured
    elif settings.environment is not Environment.production:
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
    else:
        raise KeyRefused("public_origin_not_configured")
    host = urlsplit(origin).hostname
    if not host:
        raise KeyRefused("public_origin_not_configured")
    return RelyingParty(origin, host)


def user_handle(settings: Settings, user_id: int) -> bytes:
    """A stable, opaque user handle (the spec forbids personal data such as the e-mail)."""
    key = settings.secret_key.encode()
    return hmac.new(key, f"webauthn-user:{user_id}".encode(), hashlib.sha256).digest()[:32]


# --- challenges ---------------------------------------------------------------------------


def _store_challenge(
    session: Session, sid: str, purpose: Purpose, user_id: int, challenge: bytes
) -> None:
    now = utcnow()
    stale = WebAuthnChallenge.created_at < now - timedelta(seconds=CHALLENGE_TTL_S)
    same = (WebAuthnChallenge.staff_session_id == sid) & (WebAuthnChallenge.purpose == purpose)
    session.execute(delete(WebAuthnChallenge).where(stale | same))
    session.add(
        WebAuthnChallenge(
            staff_session_id=sid,
            purpose=purpose.value,
            user_id=user_id,
            challenge=challenge,
            created_at=now,
        )
    )


def _take_challenge(session: Session, sid: str, purpose: Purpose, user_id: int) -> bytes:
    """The outstanding challenge, deleted now whatever happens next (single use)."""
    row = session.get(WebAuthnChallenge, (sid, purpose.value))
    if row is None:
        raise KeyRefused("no_challenge")
    challenge, owner, created = row.challenge, row.user_id, row.created_at
    session.delete(row)
    session.flush()
    if owner != user_id or utcnow() - created > timedelta(seconds=CHALLENGE_TTL_S):
        raise KeyRefused("no_challenge")
    return challenge


# --- credentials --------------------------------------------------------------------------


def credentials_of(session: Session, user_id: int) -> list[WebAuthnCredential]:
    query = select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)
    return list(session.scalars(query.order_by(WebAuthnCredential.id)))


def has_keys(rt: Runtime, user_id: int) -> bool:
    with rt.db.session() as session:
        query = select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user_id)
        return session.scalar(query.limit(1)) is not None


def _descriptors(rows: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=_b64decode(row.credential_id),
            transports=[AuthenticatorTransport(t) for t in row.transports if t in known],
        )
        for row in rows
    ]


def _b64decode(text: str) -> bytes:
    return base64url_to_bytes(text)


def parse_json(body: bytes) -> dict[str, Any]:
    """A JSON object from the browser, size-limited; anything else is refused as malformed."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise KeyRefused("malformed")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise KeyRefused("malformed") from exc
    if not isinstance(data, dict):
        raise KeyRefused("malformed")
    return data


# --- registration (signed in) -------------------------------------------------------------


def registration_options(rt: Runtime, sid: str, actor: Actor, rp: RelyingParty) -> str:
    """The JSON options for ``navigator.credentials.create`` (existing keys excluded).

    Raises :class:`ReauthenticationRequired` (audited) without a recent step-up, so that no
    challenge is handed to a session that may not add a key.
    """
    user_id = actor.user_id
    assert user_id is not None

    def work(session: Session) -> str | None:
        if _refuse_unless_stepped_up(session, sid, actor, "staff.security_key_refused"):
            return None
        user = session.get(User, user_id)
        assert user is not None
        existing = credentials_of(session, user_id)
        if len(existing) >= MAX_KEYS:
            raise KeyRefused("too_many_keys")
        options = generate_registration_options(
            rp_id=rp.rp_id,
            rp_name=RP_NAME,
            user_name=user.email,
            user_id=user_handle(rt.settings, user_id),
            user_display_name=user.email,
            timeout=OPTIONS_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.DISCOURAGED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        _store_challenge(session, sid, Purpose.register, user_id, options.challenge)
        return str(options_to_json(options))

    found = rt.db.write_sync(work)
    if found is None:
        raise ReauthenticationRequired
    return found


def register(
    rt: Runtime,
    sid: str,
    actor: Actor,
    rp: RelyingParty,
    credential: dict[str, Any],
    name: str,
) -> int:
    """Verify the browser's attestation and keep the new key; returns its row id (-1 when
    the key is refused).

    Registering a key changes the account's credentials, so every other session ends; and so
    it needs a recent step-up, checked here in the same transaction: without one the
    challenge is spent, nothing changes and :class:`ReauthenticationRequired` is raised.
    """
    user_id = actor.user_id
    assert user_id is not None
    name = " ".join(name.split())[:MAX_NAME] or "Security key"

    def work(session: Session) -> int | None:
        if _refuse_unless_stepped_up(session, sid, actor, "staff.security_key_refused"):
            session.execute(
                delete(WebAuthnChallenge).where(
                    WebAuthnChallenge.staff_session_id == sid,
                    WebAuthnChallenge.purpose == Purpose.register.value,
                )
            )
            return None
        try:
            challenge = _take_challenge(session, sid, Purpose.register, user_id)
            try:
                parsed = parse_registration_credential_json(credential)
                verified = verify_registration_response(
                    credential=parsed,
                    expected_challenge=challenge,
                    expected_rp_id=rp.rp_id,
                    expected_origin=rp.origin,
                    require_user_verification=False,
                )
            except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
                raise KeyRefused("invalid_registration") from exc
            credential_id = bytes_to_base64url(verified.credential_id)
            taken = select(WebAuthnCredential.id).where(
                WebAuthnCredential.credential_id == credential_id
            )
            if session.scalar(taken) is not None:
                raise KeyRefused("already_registered")
        except KeyRefused as refused:
            _audit(session, actor, "staff.security_key_refused", user_id, refused.reason)
            return -1
        transports = [t.value for t in parsed.response.transports or []]
        row = WebAuthnCredential(
            user_id=user_id,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports,
            name=name,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        signin.end_sessions(session, user_id, "credential_changed", keep=sid)
        record_event(
            session, actor, "staff.security_key_added", record_type="user", record_ids=[user_id]
        )
        return row.id

    found = rt.db.write_sync(work)
    if found is None:
        raise ReauthenticationRequired
    return found


def remove_key(rt: Runtime, sid: str, actor: Actor, key_id: int) -> bool:
    """Remove one of the actor's own keys (ending their other sessions); False when there is
    no such key of theirs. Like adding one, it needs a recent step-up, or nothing changes and
    :class:`ReauthenticationRequired` is raised (the refusal audited)."""
    user_id = actor.user_id
    assert user_id is not None

    def work(session: Session) -> bool | None:
        row = session.get(WebAuthnCredential, key_id)
        if row is None or row.user_id != user_id:
            return False
        if _refuse_unless_stepped_up(session, sid, actor, "staff.security_key_removal_refused"):
            return None
        session.delete(row)
        signin.end_sessions(session, user_id, "credential_changed", keep=sid)
        record_event(
            session, actor, "staff.security_key_removed", record_type="user", record_ids=[user_id]
        )
        return True

    found = rt.db.write_sync(work)
    if found is None:
        raise ReauthenticationRequired
    return found


# --- assertions: sign-in and re-authentication --------------------------------------------


def _auth_options(session: Session, sid: str, purpose: Purpose, user_id: int, rp_id: str) -> str:
    rows = credentials_of(session, user_id)
    if not rows:
        raise KeyRefused("no_keys")
    options = generate_authentication_options(
        rp_id=rp_id,
        timeout=OPTIONS_TIMEOUT_MS,
        allow_credentials=_descriptors(rows),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _store_challenge(session, sid, purpose, user_id, options.challenge)
    return str(options_to_json(options))


def _assert(
    session: Session, sid: str, purpose: Purpose, user_id: int, rp: RelyingParty, data: Any
) -> WebAuthnCredential:
    """Check an assertion against the stored challenge and the user's own key."""
    challenge = _take_challenge(session, sid, purpose, user_id)
    raw_id = (data.get("rawId") or data.get("id")) if isinstance(data, dict) else None
    if not isinstance(raw_id, str) or len(raw_id) > 1400:
        raise KeyRefused("malformed")
    row = session.scalar(
        select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == raw_id, WebAuthnCredential.user_id == user_id
        )
    )
    if row is None:
        raise KeyRefused("unknown_key")
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
            require_user_verification=False,
        )
    except WebAuthnException as exc:
        reason = "sign_count_not_increased" if "sign count" in str(exc) else "invalid_assertion"
        raise KeyRefused(reason) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyRefused("malformed") from exc
    row.sign_count = verified.new_sign_count
    row.last_used_at = utcnow()
    return row


def sign_in_options(rt: Runtime, token: str, rp: RelyingParty) -> str | None:
    """Options for the half-way session's user, or None when there is no such session."""
    lim = signin.limits(rt.settings)

    def work(session: Session) -> str | None:
        row = signin._half_way(session, token, lim, utcnow())
        if row is None:
            return None
        return _auth_options(session, row.id, Purpose.sign_in, row.user_id, rp.rp_id)

    return rt.db.write_sync(work)


def sign_in_with_key(
    rt: Runtime, token: str, rp: RelyingParty, data: dict[str, Any] | None, client: str
) -> signin.Step:
    """The second step with a key instead of a code: as :func:`signin.check_code`."""
    lim = signin.limits(rt.settings)

    def work(session: Session) -> signin.Step:
        now = utcnow()
        row = signin._half_way(session, token, lim, now)
        if row is None:
            return signin.Step(signin.Outcome.expired)
        user = row.user
        if user.disabled_at is not None or signin._locked(user, now):
            signin._end(session, row, "refused", now)
            signin._refused(session, client, "locked_or_disabled", user.id)
            return signin.Step(signin.Outcome.locked)
        try:
            if data is None:
                raise KeyRefused("malformed")
            _assert(session, row.id, Purpose.sign_in, user.id, rp, data)
        except KeyRefused as refused:
            signin._refused(session, client, f"security_key_{refused.reason}", user.id)
            if signin._count_failure(session, user, lim, now, client):
                signin._end(session, row, "locked", now)
                return signin.Step(signin.Outcome.locked)
            return signin.Step(signin.Outcome.wrong_code)
        signin._clear_failures(user)
        signin._end(session, row, "second_factor_passed", now)
        new_token = signin._new_session(session, user.id, now, row.authenticated_at, second=True)
        actor = Actor(f"user:{user.id}", user.id, user.organisation_id, client)
        record_event(
            session,
            actor,
            "staff.signed_in",
            record_type="user",
            record_ids=[user.id],
            purpose="security_key",
        )
        return signin.Step(signin.Outcome.accepted, new_token)

    return rt.db.write_sync(work)


def reauth_options(rt: Runtime, sid: str, user_id: int, rp: RelyingParty) -> str:
    return rt.db.write_sync(
        lambda session: _auth_options(session, sid, Purpose.reauthenticate, user_id, rp.rp_id)
    )


def reauthenticate_with_key(
    rt: Runtime, sid: str, actor: Actor, rp: RelyingParty, data: dict[str, Any] | None
) -> bool:
    """Prove presence again with a key: the session counts as re-authenticated from now."""
    user_id = actor.user_id
    assert user_id is not None

    def work(session: Session) -> bool:
        try:
            if data is None:
                raise KeyRefused("malformed")
            _assert(session, sid, Purpose.reauthenticate, user_id, rp, data)
        except KeyRefused as refused:
            return _reauth_failed(rt, session, actor, f"security_key_{refused.reason}")
        return _reauthenticated(session, sid, actor, "security_key")

    return rt.db.write_sync(work)


def reauthenticate_with_code(rt: Runtime, sid: str, actor: Actor, code: str, at: float) -> bool:
    """Prove presence again with a TOTP code (single use, as at sign-in)."""
    user_id = actor.user_id
    assert user_id is not None

    def work(session: Session) -> bool:
        user = session.get(User, user_id)
        assert user is not None
        if user.totp_sealed is None:
            return _reauth_failed(rt, session, actor, "no_totp")
        secret = rt.sealer.open(
            Sealed.unpack(user.totp_sealed), signin._totp_context(user.id)
        ).decode()
        verdict, step = signin.check_totp(secret, code, user.totp_last_step, at)
        if verdict is not signin.CodeCheck.ok:
            return _reauth_failed(rt, session, actor, f"{verdict.value}_code")
        user.totp_last_step = step
        return _reauthenticated(session, sid, actor, "totp")

    return rt.db.write_sync(work)


def _reauth_failed(rt: Runtime, session: Session, actor: Actor, reason: str) -> bool:
    """Audit and count the failure against the account: re-authentication is guessable too."""
    user = session.get(User, actor.user_id)
    assert user is not None
    lim = signin.limits(rt.settings)
    _audit(session, actor, "staff.reauthentication_failed", user.id, reason)
    if signin._count_failure(session, user, lim, utcnow(), actor.client_address or ""):
        signin.end_sessions(session, user.id, "locked")
    return False


def _reauthenticated(session: Session, sid: str, actor: Actor, how: str) -> bool:
    row = session.get(StaffSession, sid)
    assert row is not None
    signin.mark_reauthenticated(row, utcnow())
    user = row.user
    signin._clear_failures(user)
    _audit(session, actor, "staff.reauthenticated", user.id, how, outcome="success")
    return True


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    user_id: int,
    reason: str,
    outcome: str = "failure",
) -> None:
    record_event(
        session,
        actor,
        action,
        record_type="user",
        record_ids=[user_id],
        outcome=outcome,
        purpose=reason,
    )
