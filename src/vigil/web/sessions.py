"""Server-side browser sessions for the public website: language, CSRF token, answers.

The cookie holds only a random 256-bit id; the row is keyed by its SHA-256 and holds the
session's data sealed with a per-session data key. Sessions expire after a configurable idle
time (2 hours by default) and are deleted when a report is submitted, so abandoned answers
do not linger. Nothing here records addresses or devices.
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
from sqlalchemy import LargeBinary, String, bindparam, delete, select
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


# Every page view reads its session: two columns by a plain Core select (no ORM identity
# map or object loading) costs about a third of ``session.get``.
_table = BrowserSession.__table__
_READ = select(_table.c.sealed, _table.c.last_seen_at).where(
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

    def clear_answers(self, keep: tuple[str, ...] = ("lang", "csrf")) -> None:
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
        if row is None:  # the cookie outlived its row: idle expiry purged it
            return WebSession(token=None, expired=True)
        if utcnow() - row.last_seen_at > idle:
            return WebSession(token=None, expired=True)
        sealed = Sealed.unpack(row.sealed)
        last_seen = row.last_seen_at
    data = orjson.loads(rt.sealer.open(sealed, _context(_id_hash(token))))
    return WebSession(token=token, data=data, last_seen_at=last_seen)


def save_session(rt: Runtime, request: Request, web: WebSession, response: Response) -> None:
    """Persist a changed session (always refreshing its idle clock) and set the cookie."""
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


def purge_idle_sessions(rt: Runtime) -> int:
    cutoff = utcnow() - timedelta(seconds=rt.settings.form_idle_timeout_s)

    def work(session: Session) -> int:
        result = session.execute(delete(BrowserSession).where(BrowserSession.last_seen_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    return rt.db.write_sync(work)
