"""The single writer: group commit, a failing submission kept apart, answers after commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.orm import Session

from vigil.db import Database, create_db_engine

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(50), unique=True),
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    metadata.create_all(engine)
    db = Database(engine, batch_max=64)
    yield db
    db.close()


def count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(notes)) or 0


def add(text: str):  # type: ignore[no-untyped-def]
    def work(session: Session) -> str:
        session.execute(insert(notes).values(text=text))
        return text

    return work


def test_concurrent_submissions_share_commits(database: Database) -> None:
    block = threading.Event()
    first = database.writer.submit(lambda s: block.wait(5))  # hold the writer busy
    futures = [database.writer.submit(add(f"n{i}")) for i in range(50)]
    block.set()
    assert first.result(5) is True
    assert sorted(f.result(5) for f in futures) == sorted(f"n{i}" for i in range(50))
    assert count(database) == 50
    assert database.writer.batches < database.writer.items  # several per commit


def test_a_failing_submission_does_not_undo_the_others(database: Database) -> None:
    block = threading.Event()
    database.writer.submit(lambda s: block.wait(5))
    good = [database.writer.submit(add(f"ok{i}")) for i in range(5)]
    bad = database.writer.submit(add("ok0"))  # violates the unique constraint
    block.set()
    assert [f.result(5) for f in good] == [f"ok{i}" for i in range(5)]
    with pytest.raises(Exception, match="UNIQUE"):
        bad.result(5)
    assert count(database) == 5


class Note:
    """A work the writer may commit together with its neighbours in one statement."""

    calls: ClassVar[list[int]] = []  # sizes of the groups written together

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, session: Session) -> str:
        return Note.together(session, [self])[0]

    @staticmethod
    def together(session: Session, works: list[Note]) -> list[str]:
        Note.calls.append(len(works))
        session.execute(insert(notes), [{"text": w.text} for w in works])
        return [w.text for w in works]


def test_neighbouring_works_of_one_kind_are_written_together(database: Database) -> None:
    Note.calls = []
    block = threading.Event()
    database.writer.submit(lambda s: block.wait(5))
    first = [database.writer.submit(Note(f"a{i}")) for i in range(10)]
    plain = database.writer.submit(add("between"))  # not groupable: splits the run
    second = [database.writer.submit(Note(f"b{i}")) for i in range(5)]
    block.set()
    assert [f.result(5) for f in first + second] == [f"a{i}" for i in range(10)] + [
        f"b{i}" for i in range(5)
    ]
    assert plain.result(5) == "between"
    assert Note.calls == [10, 5]
    assert count(database) == 16


def test_a_failing_group_is_redone_one_work_at_a_time(database: Database) -> None:
    Note.calls = []
    database.write_sync(add("taken"))
    block = threading.Event()
    database.writer.submit(lambda s: block.wait(5))
    good = [database.writer.submit(Note(f"g{i}")) for i in range(4)]
    bad = database.writer.submit(Note("taken"))  # violates the unique constraint
    block.set()
    assert [f.result(5) for f in good] == [f"g{i}" for i in range(4)]
    with pytest.raises(Exception, match="UNIQUE"):
        bad.result(5)
    assert Note.calls[0] == 5  # tried together, then each on its own
    assert Note.calls[1:] == [1, 1, 1, 1, 1]
    assert count(database) == 5


def test_a_work_failing_alone_is_not_run_twice(database: Database) -> None:
    runs: list[int] = []

    def refuse(session: Session) -> None:
        runs.append(1)
        session.execute(insert(notes).values(text="half-done"))
        raise LookupError("no such record")

    with pytest.raises(LookupError, match="no such record"):
        database.writer.submit(refuse).result(5)
    assert runs == [1]
    assert count(database) == 0  # what it wrote before failing was rolled back
    assert database.writer.submit(add("next")).result(5) == "next"
    assert count(database) == 1


def test_result_is_only_given_after_commit(database: Database) -> None:
    seen_inside: list[int] = []

    def work(session: Session) -> str:
        session.execute(insert(notes).values(text="durable"))
        seen_inside.append(count(database))  # another connection: not yet visible
        return "done"

    assert database.write_sync(work) == "done"
    assert seen_inside == [0]
    assert count(database) == 1


def test_sqlite_runs_in_wal_mode_with_full_sync(database: Database) -> None:
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_every_engine_commits_durably(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert connection.exec_driver_sql("SHOW fsync").scalar() == "on"
    else:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
