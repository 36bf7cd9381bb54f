"""Database ground: engines for SQLite and PostgreSQL, sessions, and the single writer.

SQLite allows one writer at a time, and every commit with ``synchronous=FULL`` costs an
fsync. The :class:`Writer` therefore funnels every write through one thread that takes
whatever submissions are waiting, runs them in one transaction and commits once (group
commit). Each caller is answered only after the commit that holds its work, so an
acknowledgement always means "on disk". The same writer serves PostgreSQL, where it simply
saves round trips.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger(__name__)
T = TypeVar("T")

SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval in a serving process (the default is 5 ms).
The writer thread hands each statement to the database without the GIL and must then win
it back from the threads serving requests; a shorter interval keeps the single writer,
which every acknowledgement and every audited reading waits for, from idling."""

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC instants; always hands back timezone-aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A time from outside in UTC; one without a zone is taken as UTC (the service's clock)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": "-c synchronous_commit=on -c timezone=UTC"},
    )


def _configure_sqlite(engine: Engine) -> None:
    """WAL, full fsync, foreign keys; and transactions that SQLAlchemy really controls."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (savepoints work)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


class Database:
    """Sessions for reading, and the writer for every change.

    ``bind`` may be an open :class:`Connection` inside a transaction: tests use that so each
    test runs in a transaction that is rolled back afterwards. In that mode the writer runs
    submissions inline, and a lock keeps threads from sharing the connection at once.
    """

    def __init__(self, engine: Engine, *, batch_max: int = 256, bind: Connection | None = None):
        self.engine = engine
        self.bound = bind
        # PostgreSQL enforces row-level security for the application's role: every
        # transaction says who is acting (see migration 0005).
        self.row_security = engine.dialect.name == "postgresql"
        self._lock = threading.RLock() if bind is not None else None
        if bind is not None:
            self._sessions = sessionmaker(
                bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        else:
            self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.writer = Writer(self, batch_max=batch_max)
        # made once: each call of execution_options() builds a new engine proxy
        self._immediate = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._process_lock = WriterFileLock.for_engine(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, as_user: int | None = None) -> Iterator[Session]:
        """A session for reading, acting as staff user ``as_user`` or as the system."""
        with self._lock or nullcontext(), self._sessions() as session:
            self.act_as(session, as_user)
            yield session
            _end_reading(session)

    def act_as(self, session: Session, as_user: int | None) -> None:
        """Tell PostgreSQL's row-level security who acts, for this transaction only."""
        if self.row_security:
            session.execute(
                ACTING, {"actor": "staff" if as_user else "system", "user_id": str(as_user or "")}
            )

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        if self._lock is not None:
            with self._lock, self._sessions() as session:
                yield session
            return
        session = self._sessions(bind=self._immediate)
        with self._process_lock, session:
            yield session

    def write_sync(self, work: Callable[[Session], T], as_user: int | None = None) -> T:
        """Run ``work`` in a committed transaction and return its result."""
        return self.writer.submit(work, as_user).result()

    async def write(self, work: Callable[[Session], T], as_user: int | None = None) -> T:
        """Await ``work`` being committed with whatever else is waiting (group commit)."""
        return await asyncio.wrap_future(self.writer.submit(work, as_user))

    def close(self) -> None:
        self.writer.stop()
        self.engine.dispose()
        self._process_lock.close()


def _end_reading(session: Session) -> None:
    """End a reading that changed nothing with COMMIT rather than ROLLBACK (the same thing
    for a reading): psycopg forgets every prepared statement on a rollback, so on PostgreSQL
    each reading would plan its statements afresh, and with row-level security planning is
    most of a small query's time. A session that wrote anything (which readings should not)
    is closed and rolled back as before, so nothing is ever committed outside the writer."""
    if not (session.info.get("flushed") or session.new or session.dirty or session.deleted):
        session.commit()


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: object) -> None:
    session.info["flushed"] = True


class WriterFileLock:
    """Several processes writing one SQLite file take turns through an OS file lock.

    SQLite's own wait for its write lock polls with sleeps of up to 100 ms, so two web
    processes committing side by side would keep each other waiting for whole sleeps; a
    blocking ``flock`` hands over the moment the other commits. Writers that do not take it
    (another tool) are still safe: SQLite's lock decides, only more slowly.
    """

    def __init__(self, path: Path | None) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path is not None else None

    @classmethod
    def for_engine(cls, engine: Engine) -> WriterFileLock:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return cls(None)
        return cls(Path(f"{database}-writer.lock"))

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # waits without holding the interpreter

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_STOP = object()
_Item = tuple[Callable[[Session], Any], Future[Any], int | None]
ACTING = text(
    "SELECT set_config('vigil.actor', :actor, true), set_config('vigil.user_id', :user_id, true)"
)


class Writer:
    """One thread, one transaction per batch of waiting submissions, one commit per batch."""

    def __init__(self, db: Database, *, batch_max: int) -> None:
        self._db = db
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.items = 0

    @property
    def alive(self) -> bool:
        return self._db.bound is not None or (self._thread is not None and self._thread.is_alive())

    def submit(self, work: Callable[[Session], T], as_user: int | None = None) -> Future[T]:
        future: Future[T] = Future()
        if self._db.bound is not None:
            self._run_batch([(work, future, as_user)])
            return future
        self._ensure_started()
        self._queue.put((work, future, as_user))
        return future

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._loop, name="vigil-writer", daemon=True
                    )
                    self._thread.start()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Item]) -> None:
        live = [item for item in batch if item[1].set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._commit_together(live)
        except _ItemFailed as failed:
            # Alone in its batch, the failed work has nothing to be kept apart from: its
            # error is the answer, without running it a second time under a savepoint.
            alone = len(live) == 1 and failed.__cause__ is not None
            results = [(False, failed.__cause__)] if alone else self._commit_one_by_one(live)
        except Exception as exc:  # the commit itself failed: nobody is acknowledged
            log.error("writer.batch_failed", error=type(exc).__name__, size=len(live))
            for _work, fut, _user in live:
                fut.set_exception(exc)
            return
        self.batches += 1
        self.items += len(live)
        for (_work, fut, _user), (ok, value) in zip(live, results, strict=True):
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _commit_together(self, live: list[_Item]) -> list[tuple[bool, Any]]:
        with self._db.write_session() as session:
            results: list[tuple[bool, Any]] = []
            for group, as_user in _runs(live):
                try:
                    self._db.act_as(session, as_user)
                    if len(group) == 1:
                        results.append((True, group[0](session)))
                    else:  # works of one kind, written with a statement per table
                        values = group[0].together(session, group)  # type: ignore[attr-defined]
                        results.extend((True, value) for value in values)
                except Exception as exc:
                    session.rollback()
                    raise _ItemFailed from exc
            session.commit()
            return results

    def _commit_one_by_one(self, live: list[_Item]) -> list[tuple[bool, Any]]:
        """A submission failed: redo the batch with a savepoint around each one."""
        with self._db.write_session() as session:
            results: list[tuple[bool, Any]] = []
            for work, _fut, as_user in live:
                try:
                    with session.begin_nested():
                        self._db.act_as(session, as_user)
                        results.append((True, work(session)))
                except Exception as exc:
                    results.append((False, exc))
            session.commit()
            return results


class _ItemFailed(Exception):
    pass


def _runs(live: list[_Item]) -> Iterator[tuple[list[Callable[[Session], Any]], int | None]]:
    """The batch in order, with neighbouring works that share a ``together`` function (and
    the acting user) grouped: a work offering ``together(session, works) -> results`` writes
    many of its kind in one statement per table instead of one each. If a group fails, the
    batch is redone one by one, each work on its own, so one bad work never sinks the rest."""
    index = 0
    while index < len(live):
        work, _fut, as_user = live[index]
        together = getattr(work, "together", None)
        end = index + 1
        while (
            together is not None
            and end < len(live)
            and getattr(live[end][0], "together", None) is together
            and live[end][2] == as_user
        ):
            end += 1
        yield [item[0] for item in live[index:end]], as_user
        index = end
