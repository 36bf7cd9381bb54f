"""Server-side browser sessions for the public website: language, CSRF token, answers.

The cookie holds only a random 256-bit id; the row is keyed by its SHA-256 and holds the
session's data sealed with a per-session data key. Sessions expire after a configurable idle
time (2 hours by default) and are deleted when a report is submitted, so abandoned answers
do not linger. Nothing here records addresses or devices.

An idle session's answers are purged by housekeeping, but the row stays for a day as a
*husk*: the visitor's language and whether the session held answers, nothing else. A
visitor who comes back is then told their answers were deleted only if there were some, and
in the language they chose. A session that ends (a report sent, answers expired) hands its
language on to a new, otherwise empty session, so the site does not switch back to English.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import LargeBinary, String, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from vigil.db import Base, UTCDateTime, utcnow
from vigil.sealing import UNREADABLE, Sealed
from vigil.web.runtime import Runtime

COOKIE = "vigil_session"
SECURE_COOKIE = "__Host-vigil_session"


class BrowserSession(Base):
    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


HUSK_KEEP_S = 86_400  # how long an ended session's language outlives its answers
KEPT = ("lang", "csrf")  # what a session holds that is not an answer


# Every page view reads its session: two columns by a plain Core select (no ORM identity
# map or object loading) costs about a third of ``session.get``.
_table = BrowserSession.__table__
_READ = select(_table.c.sealed, _table.c.last_seen_at, _table.c.ended_at).where(
    _table.c.id_hash == bindparam("id_hash")
)


@dataclass
class WebSession:
    """A visitor's session as the handlers see it. ``data`` is JSON-serialisable."""

    token: str | None
    data: dict[str, Any] = field(default_factory=dict)
    expired: bool = False
    dirty: bool = False
    deleted: bool = False
    last_seen_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.token is not None

    @property
    def csrf_token(self) -> str:
        token = self.data.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            self.data["csrf"] = token
            self.dirty = True
        return str(token)

    def csrf_ok(self, submitted: str | None) -> bool:
        expected = self.data.get("csrf")
        return bool(expected and submitted and hmac.compare_digest(str(expected), submitted))

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        self.dirty = True
        return self.data.pop(key, default)

    def clear_answers(self, keep: tuple[str, ...] = KEPT) -> None:
        self.data = {k: v for k, v in self.data.items() if k in keep}
        self.dirty = True


def _id_hash(token: str) -> str:
    return hashlib.sha256(b"browser-session:" + token.encode()).hexdigest()


def _context(id_hash: str) -> bytes:
    """What a session's sealed data is bound to: its own row."""
    return b"browser-session:" + id_hash.encode()


def answers_seen_since(rt: Runtime, since: datetime) -> Iterator[dict[str, Any]]:
    """The data of every session seen since ``since`` (for housekeeping: which staged files
    answers in progress still name). A session no configured key opens is passed over: it
    could not send anything either."""
    query = select(BrowserSession.id_hash, BrowserSession.sealed).where(
        BrowserSession.last_seen_at >= since
    )
    with rt.db.session() as session:
        rows = session.execute(query).all()
    for id_hash, sealed in rows:
        try:
            yield orjson.loads(rt.sealer.open(Sealed.unpack(sealed), _context(id_hash)))
        except UNREADABLE:
            continue


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if request.url.scheme == "https" else COOKIE


def load_session(rt: Runtime, request: Request) -> WebSession:
    """The visitor's session; ``expired`` is set when an idle session has just timed out."""
    token = request.cookies.get(cookie_name(request))
    if not token or len(token) > 100:
        return WebSession(token=None)
    idle = timedelta(seconds=rt.settings.form_idle_timeout_s)
    with rt.db.session() as session:
        row = session.execute(_READ, {"id_hash": _id_hash(token)}).first()
    if row is None:  # the cookie outlived even the husk: a day or more ago
        return WebSession(token=None, expired=True)
    data = orjson.loads(rt.sealer.open(Sealed.unpack(row.sealed), _context(_id_hash(token))))
    if row.ended_at is None and utcnow() - row.last_seen_at <= idle:
        return WebSession(token=token, data=data, last_seen_at=row.last_seen_at)
    # Ended: only its language goes on, and it counts as expired only if it held answers.
    lang = data.get("lang")
    return WebSession(
        token=None,
        data={"lang": lang} if isinstance(lang, str) else {},
        expired=_held_answers(data),
    )


def _held_answers(data: dict[str, Any]) -> bool:
    if "answers" in data and "husk" in data:
        return bool(data["answers"])
    return any(key not in KEPT for key in data)


def save_session(
    rt: Runtime,
    request: Request,
    web: WebSession,
    response: Response,
    keep_language: str | None = None,
) -> None:
    """Persist a changed session (always refreshing its idle clock) and set the cookie.

    A deleted session's row and cookie go; ``keep_language`` (a language other than the
    default) then lives on in a new session that holds nothing else."""
    name = cookie_name(request)
    if web.deleted:
        if web.token:
            id_hash = _id_hash(web.token)
            rt.db.write_sync(
                lambda s: s.execute(delete(BrowserSession).where(BrowserSession.id_hash == id_hash))
            )
        response.delete_cookie(
            name, path="/", secure=name == SECURE_COOKIE, httponly=True, samesite="strict"
        )
        if keep_language is not None:
            language_only = WebSession(None, {"lang": keep_language}, dirty=True)
            save_session(rt, request, language_only, response)
        return
    if web.token is None and not web.dirty:
        return
    if (  # unchanged and seen within the last minute: the idle clock is close enough
        not web.dirty
        and web.last_seen_at is not None
        and utcnow() - web.last_seen_at < timedelta(seconds=60)
    ):
        _set_cookie(request, response, name, web.token)
        return
    if web.token is None:
        web.token = secrets.token_urlsafe(32)
    id_hash = _id_hash(web.token)
    sealed = rt.sealer.seal(orjson.dumps(web.data), _context(id_hash)).pack()
    now = utcnow()

    def work(session: Session) -> None:
        row = session.get(BrowserSession, id_hash)
        if row is None:
            session.add(
                BrowserSession(id_hash=id_hash, sealed=sealed, created_at=now, last_seen_at=now)
            )
        else:
            row.sealed, row.last_seen_at = sealed, now

    rt.db.write_sync(work)
    _set_cookie(request, response, name, web.token)


def _set_cookie(request: Request, response: Response, name: str, token: str | None) -> None:
    if token is None:
        return
    response.set_cookie(
        name, token, path="/", secure=name == SECURE_COOKIE, httponly=True, samesite="strict"
    )


def _note_hash(name: str) -> str:
    return hashlib.sha256(b"session-note:" + name.encode()).hexdigest()


def leave_note(rt: Runtime, name: str, data: dict[str, Any]) -> None:
    """Keep a little of a session that is ending, for the same browser to find again.

    ``name`` must be something only that browser holds (a form's CSRF token, say). The note
    lives in the sessions' table, sealed like a session, so every web process reads it; it
    is read for as long as an idle session would last, and deleted with the husks. It is
    never a live session: its key is hashed differently, so no cookie opens it, and it is
    ended from the start, so housekeeping leaves it alone."""
    id_hash = _note_hash(name)
    sealed = rt.sealer.seal(orjson.dumps(data), _context(id_hash)).pack()
    now = utcnow()

    def work(session: Session) -> None:
        session.merge(
            BrowserSession(
                id_hash=id_hash, sealed=sealed, created_at=now, last_seen_at=now, ended_at=now
            )
        )

    rt.db.write_sync(work)


def read_note(rt: Runtime, name: str) -> tuple[dict[str, Any], datetime] | None:
    """A note left under ``name`` and when, while an idle session would still have lasted."""
    id_hash = _note_hash(name)
    with rt.db.session() as session:
        row = session.execute(_READ, {"id_hash": id_hash}).first()
    idle = timedelta(seconds=rt.settings.form_idle_timeout_s)
    if row is None or utcnow() - row.last_seen_at > idle:
        return None
    try:
        data = orjson.loads(rt.sealer.open(Sealed.unpack(row.sealed), _context(id_hash)))
    except UNREADABLE:
        return None
    return data, row.last_seen_at


def purge_idle_sessions(rt: Runtime) -> int:
    """Purge idle sessions' answers, leaving husks (see above); delete husks a day old.
    Returns how many sessions lost their answers or went."""
    now = utcnow()
    cutoff = now - timedelta(seconds=rt.settings.form_idle_timeout_s)
    gone = delete(BrowserSession).where(
        BrowserSession.last_seen_at < cutoff - timedelta(seconds=HUSK_KEEP_S)
    )
    idle = select(BrowserSession.id_hash, BrowserSession.sealed).where(
        BrowserSession.last_seen_at < cutoff, BrowserSession.ended_at.is_(None)
    )

    def work(session: Session) -> int:
        count = int(getattr(session.execute(gone), "rowcount", 0) or 0)
        for id_hash, sealed in session.execute(idle).all():
            try:
                data = orjson.loads(rt.sealer.open(Sealed.unpack(sealed), _context(id_hash)))
            except UNREADABLE:  # no configured key opens it: nothing to keep
                session.execute(delete(BrowserSession).where(BrowserSession.id_hash == id_hash))
                count += 1
                continue
            husk = {"husk": True, "answers": _held_answers(data)}
            if isinstance(data.get("lang"), str):
                husk["lang"] = data["lang"]
            resealed = rt.sealer.seal(orjson.dumps(husk), _context(id_hash)).pack()
            session.execute(
                update(BrowserSession)
                .where(BrowserSession.id_hash == id_hash)
                .values(sealed=resealed, ended_at=now)
            )
            count += 1
        return count

    return rt.db.write_sync(work)
