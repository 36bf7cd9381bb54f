"""The search index: one document per searchable record, its name words, and a to-do list.

The index is derived data. A document holds the text of one report, entity or case; the
engine's own full-text index follows it (SQLite: an FTS5 table fed by triggers; PostgreSQL:
a ``tsvector`` column set by a trigger, under a GIN index). Nothing here decides who may see
what: every query joins a document back to its record and filters that through
``vigil.access.policy``, and on PostgreSQL the record's own row-level security applies inside
that join (migration 0013 says why the index tables themselves are not row-filtered).

Database triggers on the source tables write ``search_pending`` rows whenever a record's text
changes, whichever code path changed it, so no area has to remember to tell search.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, deferred, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from vigil.db import Base, UTCDateTime

FTS_TABLE = "search_fts"
# FTS5 keeps its index in shadow tables it creates and names itself (columnsize=0 and
# external content leave these three).
FTS_TABLES = frozenset({FTS_TABLE, *(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "config"))})


class SearchVector(TypeDecorator[str]):
    """PostgreSQL's ``tsvector``; on SQLite an always-empty column (FTS5 does that job)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TSVECTOR())
        return dialect.type_descriptor(Text())


class SearchDocument(Base):
    """The searchable text of one record. ``at`` is the record's own time (received,
    created), which never changes, so it orders hits and pages them by keyset."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("record_type", "record_id"),
        # PostgreSQL's full-text index. SQLite never fills it (FTS5 is its index there).
        Index("ix_search_documents_tsv", "tsv", postgresql_using="gin", sqlite_where=text("0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(10))  # report|entity|case
    record_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str | None] = mapped_column(String(8))  # outward postcode, for the facet
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tsv: Mapped[str | None] = deferred(mapped_column(SearchVector()))


class SearchName(Base):
    """A name word of a document (a person named in a report, a person entity): what
    ``name:`` searches look up, after widening the word to its variants."""

    __tablename__ = "search_names"
    __table_args__ = (Index("ix_search_names_term", "term", "doc_id"),)

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("search_documents.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(60), primary_key=True)


class SearchNameKey(Base):
    """Every name word in the index once, with the keys that find its variants: the sound
    (metaphone, soundex) and the first and last three letters (a single typo in a longer
    name leaves one of them intact). Words no document uses any more are removed."""

    __tablename__ = "search_name_keys"

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    metaphone: Mapped[str] = mapped_column(String(20), index=True)
    soundex: Mapped[str] = mapped_column(String(4), index=True)
    head: Mapped[str] = mapped_column(String(3), index=True)
    tail: Mapped[str] = mapped_column(String(3), index=True)


class SearchPending(Base):
    """A record whose text changed (or vanished) since it was last indexed."""

    __tablename__ = "search_pending"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int] = mapped_column(Integer)


@comparators.dispatch_for("schema", qualifier="sqlite", priority=DispatchPriority.LAST)
def _fts_tables_are_not_drift(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: Any
) -> PriorityDispatchResult:
    """SQLite lists an FTS5 table and its shadow tables as ordinary tables, and SQLAlchemy
    cannot model a virtual table, so Alembic's comparison would call them strays to drop.
    They are created and dropped by migration 0013; this stops autogenerate proposing to
    drop them (and nothing else)."""
    upgrade_ops.ops[:] = [
        op
        for op in upgrade_ops.ops
        if not (isinstance(op, ops.DropTableOp) and op.table_name in FTS_TABLES)
    ]
    return PriorityDispatchResult.CONTINUE
