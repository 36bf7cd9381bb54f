"""Staff sign-in: argon2id passwords, a TOTP second factor, server-side sessions, lockout.

The shape follows from what an attacker at the sign-in page must not learn or do:

- Which accounts exist. Every refusal of the first step (unknown e-mail, wrong password,
  locked or disabled account) runs exactly one argon2id verification (against a dummy hash
  when there is no real one), writes one audit event and gets the same answer.
- Guess passwords or codes for long. Failures of either step count against the account (in
  the database, so every worker sees them) and against the client address (in memory, in
  :mod:`vigil.access.pages`: addresses are never stored outside the audit log). The account's
  count is reset only when both steps have succeeded, so knowing the password does not buy
  unlimited code guesses.
- Reuse a code or a session. A TOTP code is accepted once (the time step is remembered), and
  every sign-in, half or whole, gets a new random session id; sessions are never revived.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.requests import Request

from vigil.access.models import StaffSession, User
from vigil.access.services import StaffUser, staff_user
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow
from vigil.sealing import Sealed, Sealer
from vigil.settings import Settings
from vigil.web.runtime import Runtime

TOTP_DIGITS = 6
TOTP_INTERVAL_S = 30
TOTP_WINDOW = 1  # steps either side, for clocks a little out
TOTP_ISSUER = "Vigil"
MIN_PASSWORD = 12
MAX_PASSWORD = 1000
TOUCH_EVERY_S = 60  # refresh last_seen_at at most this often: one write a minute, not a request
REAUTH_WINDOW_S = 300  # how long a re-authentication (step-up) counts for a sensitive act


@dataclass(frozen=True)
class SignInLimits:
    """Timeouts and lockout thresholds (defaults: 30 min idle, 12 h absolute, 5 failures in
    15 min lock an account for 15 min, 20 failures in 15 min refuse an address)."""

    idle_timeout_s: int = 1800
    absolute_timeout_s: int = 43_200
    code_timeout_s: int = 300  # between an accepted password and the code
    account_max_failures: int = 5
    address_max_failures: int = 20
    failure_window_s: int = 900
    lockout_s: int = 900


def limits(settings: Settings) -> SignInLimits:
    """The limits in force, from the ``VIGIL_STAFF_*`` settings."""
    return SignInLimits(
        idle_timeout_s=settings.staff_idle_timeout_s,
        absolute_timeout_s=settings.staff_absolute_timeout_s,
        account_max_failures=settings.staff_max_failures,
        address_max_failures=settings.staff_address_max_failures,
        failure_window_s=settings.staff_failure_window_s,
        lockout_s=settings.staff_lockout_s,
    )


# --- passwords ----------------------------------------------------------------------------


class Passwords:
    """argon2id with strong costs, and a dummy hash so that a missing hash costs the same."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536, parallelism: int = 1):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return str(self._hasher.hash(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """Always runs one argon2id verification, whether or not there is a real hash.

        The dummy is a hash of a random secret nobody knows, made by the first call of
        either kind, so that even the first attempt does not tell the two apart.
        """
        if self._dummy is None:
            self._dummy = self.hash(secrets.token_urlsafe(24))
        try:
            return bool(self._hasher.verify(stored or self._dummy, password)) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return bool(self._hasher.check_needs_rehash(stored))


PASSWORDS = Passwords()


class WeakPassword(ValueError):
    """A new password that the policy refuses; the message says what to change."""


def new_password_hash(password: str, email: str) -> str:
    """Check a new password (length only, as NCSC advises, and not the e-mail) and hash it."""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"The password must be at least {MIN_PASSWORD} characters long.")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"The password must be at most {MAX_PASSWORD} characters long.")
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("The password must not be the e-mail address.")
    return PASSWORDS.hash(password)


# --- credentials (administration) ---------------------------------------------------------


def end_sessions(session: Session, user_id: int, reason: str, *, keep: str | None = None) -> int:
    """End every live session of a user (except ``keep``): on credential change, for example."""
    query = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = session.execute(query.values(ended_at=utcnow(), ended_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def set_password(
    session: Session, actor: Actor, user: User, password_hash: str, *, keep: str | None = None
) -> None:
    """Store a new password hash, clear any lockout and end every other session."""
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    _clear_failures(user)
    end_sessions(session, user.id, "credential_changed", keep=keep)
    record_event(session, actor, "user.password_set", record_type="user", record_ids=[user.id])


def _totp_context(user_id: int) -> bytes:
    return f"totp-secret:user:{user_id}".encode()


def enrol_totp(
    session: Session, sealer: Sealer, actor: Actor, user: User, *, keep: str | None = None
) -> str:
    """Give the user a new TOTP secret (returned once; kept only sealed) and end every other
    session, since the old second factor no longer holds."""
    secret = pyotp.random_base32(length=32)  # 160 bits, as RFC 4226 recommends
    user.totp_sealed = sealer.seal(secret.encode(), _totp_context(user.id)).pack()
    user.totp_enrolled_at = utcnow()
    user.totp_last_step = None
    end_sessions(session, user.id, "credential_changed", keep=keep)
    record_event(session, actor, "user.totp_enrolled", record_type="user", record_ids=[user.id])
    return secret


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL_S)
    return totp.provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


class CodeCheck(StrEnum):
    ok = "ok"
    wrong = "wrong"
    replayed = "replayed"


def check_totp(secret: str, code: str, last_step: int | None, at: float) -> tuple[CodeCheck, int]:
    """Which time step ``code`` belongs to (±1 step); a step not after ``last_step`` is a
    replay. Every candidate is compared in constant time."""
    hotp = pyotp.HOTP(secret, digits=TOTP_DIGITS)
    current = int(at // TOTP_INTERVAL_S)
    matched = [
        step
        for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1)
        if hmac.compare_digest(hotp.at(step).encode(), code.encode())
    ]
    fresh = [step for step in matched if last_step is None or step > last_step]
    if fresh:
        return CodeCheck.ok, max(fresh)
    return (CodeCheck.replayed if matched else CodeCheck.wrong), 0


# --- lockout ------------------------------------------------------------------------------


def _locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _clear_failures(user: User) -> None:
    user.failed_sign_ins, user.failures_since, user.locked_until = 0, None, None


def _count_failure(
    session: Session, user: User, lim: SignInLimits, now: datetime, client: str
) -> bool:
    """Count one failure against the account; True when this one locks it."""
    window = timedelta(seconds=lim.failure_window_s)
    if user.failures_since is None or now - user.failures_since > window:
        user.failed_sign_ins, user.failures_since = 0, now
    user.failed_sign_ins += 1
    if user.failed_sign_ins < lim.account_max_failures:
        return False
    user.locked_until = now + timedelta(seconds=lim.lockout_s)
    user.failed_sign_ins, user.failures_since = 0, None
    record_event(
        session,
        _anonymous(client),
        "staff.account_locked",
        record_type="user",
        record_ids=[user.id],
        outcome="locked",
        purpose=f"{lim.account_max_failures} failed attempts",
    )
    return True


def _first_step_refusal(user: User, correct: bool, now: datetime) -> str | None:
    if user.disabled_at is not None:
        return "disabled"
    if _locked(user, now):
        return "locked"  # even with the right password: the lock must hold
    return None if correct else "wrong_password"


def address_locked(rt: Runtime, client: str, lim: SignInLimits) -> None:
    """Audit that an address has just reached its failure limit (once, not per refusal, so
    that a flood of refused attempts writes nothing)."""
    rt.db.write_sync(
        lambda session: record_event(
            session,
            _anonymous(client),
            "staff.address_locked",
            outcome="locked",
            purpose=f"{lim.address_max_failures} failed attempts",
        )
    )


def _anonymous(client: str) -> Actor:
    """Whoever is at the sign-in page: not yet anybody, whatever e-mail they typed."""
    return Actor(label="anonymous", client_address=client)


def _refused(session: Session, client: str, reason: str, user_id: int | None = None) -> None:
    record_event(
        session,
        _anonymous(client),
        "staff.sign_in_failed",
        record_type="user" if user_id is not None else None,
        record_ids=[user_id] if user_id is not None else [],
        outcome="failure",
        purpose=reason,
    )


# --- the two steps ------------------------------------------------------------------------


class Outcome(StrEnum):
    accepted = "accepted"
    refused = "refused"  # the one answer for every first-step refusal
    no_second_factor = "no_second_factor"  # right password, but no TOTP enrolled yet
    wrong_code = "wrong_code"
    replayed_code = "replayed_code"
    locked = "locked"  # too many wrong codes: the half-way session is ended
    expired = "expired"  # no (or no longer a) half-way session


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    token: str | None = None  # the new session's cookie value, when accepted


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_session(
    session: Session, user_id: int, now: datetime, authenticated_at: datetime, second: bool
) -> str:
    token = secrets.token_urlsafe(32)  # 256 bits
    session.add(
        StaffSession(
            id=session_id(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            authenticated_at=authenticated_at,
            second_factor_at=now if second else None,
        )
    )
    return token


def start_signed_in_session(
    session: Session, user_id: int, authenticated_at: datetime | None = None
) -> str:
    """A whole session for a user another party has vouched for (single sign-on: the
    provider has done both factors). Returns the cookie value."""
    now = utcnow()
    return _new_session(session, user_id, now, authenticated_at or now, second=True)


def check_password(rt: Runtime, email: str, password: str, client: str) -> Step:
    """The first step. Accepted means a half-way session (its token) awaiting the code."""
    email = email.strip().lower()
    lim = limits(rt.settings)
    with rt.db.session() as session:
        found = session.execute(
            select(User.id, User.password_hash).where(User.email == email)
        ).first()
    user_id, stored = (found[0], found[1]) if found else (None, None)
    correct = PASSWORDS.verify(stored, password)  # always exactly one verification

    def work(session: Session) -> Step:
        user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            _refused(session, client, "unknown_account")
            return Step(Outcome.refused)
        now = utcnow()
        reason = _first_step_refusal(user, correct, now)
        if reason is not None:
            if reason == "wrong_password":
                _count_failure(session, user, lim, now, client)
            _refused(session, client, reason, user.id)
            return Step(Outcome.refused)
        if user.password_hash and PASSWORDS.needs_rehash(user.password_hash):
            user.password_hash = PASSWORDS.hash(password)
        if user.totp_sealed is None:
            _refused(session, client, "no_second_factor", user.id)
            return Step(Outcome.no_second_factor)
        token = _new_session(session, user.id, now, now, second=False)
        record_event(
            session,
            _anonymous(client),
            "staff.password_accepted",
            record_type="user",
            record_ids=[user.id],
        )
        return Step(Outcome.accepted, token)

    return rt.db.write_sync(work)


def _half_way(
    session: Session, token: str, lim: SignInLimits, now: datetime
) -> StaffSession | None:
    row = session.get(StaffSession, session_id(token))
    if row is None or row.ended_at is not None or row.second_factor_at is not None:
        return None
    if now - row.created_at > timedelta(seconds=lim.code_timeout_s):
        return None
    return row


def has_half_way_session(rt: Runtime, token: str) -> bool:
    lim = limits(rt.settings)
    with rt.db.session() as session:
        return _half_way(session, token, lim, utcnow()) is not None


def check_code(rt: Runtime, token: str, code: str, client: str) -> Step:
    """The second step. Accepted means a new, whole session; the half-way one is ended."""
    lim = limits(rt.settings)
    at = time.time()

    def work(session: Session) -> Step:
        now = utcnow()
        row = _half_way(session, token, lim, now)
        if row is None:
            return Step(Outcome.expired)
        user = row.user
        if user.disabled_at is not None or _locked(user, now) or user.totp_sealed is None:
            _end(session, row, "refused", now)
            _refused(session, client, "locked_or_disabled", user.id)
            return Step(Outcome.locked)
        sealed = Sealed.unpack(user.totp_sealed)
        secret = rt.sealer.open(sealed, _totp_context(user.id)).decode()
        verdict, step = check_totp(secret, code, user.totp_last_step, at)
        if verdict is not CodeCheck.ok:
            _refused(session, client, f"{verdict.value}_code", user.id)
            if _count_failure(session, user, lim, now, client):
                _end(session, row, "locked", now)
                return Step(Outcome.locked)
            bad = Outcome.replayed_code if verdict is CodeCheck.replayed else Outcome.wrong_code
            return Step(bad)
        user.totp_last_step = step
        _clear_failures(user)
        _end(session, row, "second_factor_passed", now)
        new_token = _new_session(session, user.id, now, row.authenticated_at, second=True)
        actor = Actor(f"user:{user.id}", user.id, user.organisation_id, client)
        record_event(session, actor, "staff.signed_in", record_type="user", record_ids=[user.id])
        return Step(Outcome.accepted, new_token)

    return rt.db.write_sync(work)


def _end(session: Session, row: StaffSession, reason: str, now: datetime) -> None:
    row.ended_at, row.ended_reason = now, reason


# --- the signed-in session ----------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """A live, whole staff session, as pages need it (the identity bar included)."""

    session_id: str
    user: StaffUser
    organisation: str
    idle_ends_at: datetime  # when it ends unless used again
    absolute_ends_at: datetime  # when it ends whatever happens

    @property
    def ends_at(self) -> datetime:
        """When it ends unless used again (idle) or at the latest (absolute)."""
        return min(self.idle_ends_at, self.absolute_ends_at)


COOKIE = "vigil_staff"
SECURE_COOKIE = "__Host-vigil_staff"


def cookie_name(request: Request) -> str:
    """``__Host-`` (Secure, Path=/, no Domain) under HTTPS; plain over HTTP in development."""
    return SECURE_COOKIE if request.url.scheme == "https" else COOKIE


def staff_cookie(request: Request) -> str | None:
    """The staff session token the browser sent, if it has a plausible length."""
    value = request.cookies.get(cookie_name(request))
    return value if value and len(value) <= 100 else None


def current(
    rt: Runtime, token: str, client: str | None = None, *, touch: bool | None = None
) -> tuple[SignedIn | None, bool]:
    """The live session for ``token`` and whether one has just ended (or had ended).

    Checked on every request: the user's disablement, the idle timeout and the absolute
    timeout each end the session for good. ``touch`` says whether this use counts as
    activity: None (a page) refreshes the idle clock at most once a minute, True ("stay
    signed in") always, False never (the page's own countdown asking how long is left must
    not keep an unattended session alive).
    """
    lim = limits(rt.settings)
    now = utcnow()
    idle, absolute = (timedelta(seconds=s) for s in (lim.idle_timeout_s, lim.absolute_timeout_s))
    sid = session_id(token)
    with rt.db.session() as session:
        row = session.get(StaffSession, sid)
        if row is None or row.second_factor_at is None:
            return None, False
        if row.ended_at is not None:
            return None, True
        user = row.user
        reason = _session_over(row, now, idle, absolute)
        if touch is None:
            touch = now - row.last_seen_at > timedelta(seconds=TOUCH_EVERY_S)
        # The idle end as the server will enforce it: from the last recorded activity,
        # which a page's visit moves only once a minute.
        signed_in = SignedIn(
            sid,
            staff_user(session, user),
            user.organisation.name,
            (now if touch else row.last_seen_at) + idle,
            row.created_at + absolute,
        )
    if reason is not None:
        rt.db.write_sync(lambda s: _end_live(s, sid, reason, now, client))
        return None, True
    if touch:
        rt.db.write_sync(
            lambda s: s.execute(
                update(StaffSession).where(StaffSession.id == sid).values(last_seen_at=now)
            )
        )
    return signed_in, False


def _session_over(
    row: StaffSession, now: datetime, idle: timedelta, absolute: timedelta
) -> str | None:
    if row.user.disabled_at is not None:
        return "user_disabled"
    if now - row.last_seen_at > idle:
        return "idle_timeout"
    if now - row.created_at > absolute:
        return "absolute_timeout"
    return None


def _end_live(session: Session, sid: str, reason: str, now: datetime, client: str | None) -> bool:
    """End a session once (a concurrent request may have ended it already) and audit it."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.id == sid, StaffSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )
    if not getattr(result, "rowcount", 0):
        return False
    row = session.get(StaffSession, sid)
    assert row is not None
    user = row.user
    actor = Actor(f"user:{user.id}", user.id, user.organisation_id, client)
    action = "staff.signed_out" if reason == "signed_out" else "staff.session_ended"
    record_event(session, actor, action, record_type="user", record_ids=[user.id], purpose=reason)
    return True


def sign_out(rt: Runtime, token: str, client: str | None) -> bool:
    """End the session (half-way or whole); False when there was none to end."""
    sid = session_id(token)
    return rt.db.write_sync(lambda s: _end_live(s, sid, "signed_out", utcnow(), client))


# --- re-authentication (step-up) ----------------------------------------------------------


def stepped_up(row: StaffSession | None, now: datetime, window_s: int = REAUTH_WINDOW_S) -> bool:
    """Whether this live session proved its second factor again *after* signing in, within
    the last ``window_s`` seconds.

    Signing in is not re-authentication: a sensitive act (disclosing a reporter's identity,
    adding or removing a security key) needs a step-up at ``/staff/reauthenticate``, so that
    whoever holds a session, even one that has just been opened, is asked to prove it again.
    """
    if row is None or row.ended_at is not None:
        return False
    at = row.reauthenticated_at
    return at is not None and now - at <= timedelta(seconds=window_s)


def fresh_step_up(rt: Runtime, sid: str, window_s: int = REAUTH_WINDOW_S) -> bool:
    """:func:`stepped_up` for the session ``sid``, read now."""
    with rt.db.session() as session:
        return stepped_up(session.get(StaffSession, sid), utcnow(), window_s)


def mark_reauthenticated(row: StaffSession, now: datetime) -> None:
    """Record a step-up: the session's second factor was proved again, later than sign-in."""
    row.second_factor_at = max(now, row.created_at + timedelta(microseconds=1))


def purge_staff_sessions(rt: Runtime) -> int:
    """Delete rows that can no longer be live (a day past the absolute timeout)."""
    lim = limits(rt.settings)
    cutoff = utcnow() - timedelta(seconds=lim.absolute_timeout_s + 86_400)

    def work(session: Session) -> int:
        rows = session.execute(delete(StaffSession).where(StaffSession.last_seen_at < cutoff))
        return int(getattr(rows, "rowcount", 0) or 0)

    return rt.db.write_sync(work)
