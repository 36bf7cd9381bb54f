"""search: documents, name words, pending changes; FTS5 on SQLite, tsvector + GIN on PostgreSQL

The search index is derived from reports, entities and cases. Triggers on those tables (and
on the children that hold their text) note each change in ``search_pending``; the search
area indexes those rows (``vigil.search.index.catch_up``). Every record that exists when
this migration runs is noted too, so existing data is indexed without a separate step.

SQLite: ``search_fts`` is an external-content FTS5 table over ``search_documents`` (the text
is stored once), kept in step by triggers; the Porter stemmer over unicode61 without
diacritics. PostgreSQL: a ``tsvector`` column set by a trigger, under a GIN index, with the
``vigil_search`` configuration (English Snowball stemming and, like FTS5, no stop words; "<"
and ">" read as spaces, or the parser would skip text shaped like HTML tags), so both engines
find the same documents for the same words.

Row-level security (PostgreSQL): only the system writes the index, and only the system
reads the vocabulary of name words and the pending list; anyone may note a change (intake
runs as 'public'). Documents and their name words are derived indexes, readable by the
application role: a row-level policy on them would stop PostgreSQL using the GIN index at
all (``@@`` is not leakproof, so it may not run before a policy's filter), leaving every
search to scan every document. Instead every read joins each document back to its record
through ``vigil.access.policy``, and those records' own row-level security applies inside
that join, so what a reader is shown is still filtered twice.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import vigil.db
from vigil.migrations.policies import protect, unprotect

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYSTEM = "coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system')"
ONLY_SYSTEM = "coalesce(current_setting('vigil.actor', true), '') = 'system'"
# Which changes make a record's document stale: (table, record type, id column, columns).
SOURCES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "reports",
        "report",
        "id",
        (
            "reference",
            "kind",
            "received_at",
            "description",
            "when_description",
            "where_description",
            "where_address",
            "where_postcode",
        ),
    ),
    (
        "report_people",
        "report",
        "report_id",
        ("report_id", "name", "age", "appearance", "clothing", "behaviour"),
    ),
    (
        "report_vehicles",
        "report",
        "report_id",
        ("report_id", "registration", "make", "model", "colour"),
    ),
    ("report_online", "report", "report_id", ("report_id", "url", "where_seen")),
    ("followups", "report", "report_id", ("report_id", "text")),
    ("linkage_entities", "entity", "id", ("kind", "label", "properties", "created_at")),
    ("cases", "case", "id", ("reference", "title", "summary", "created_at")),
    ("case_meetings", "case", "case_id", ("case_id", "attendees", "minutes")),
    ("case_decisions", "case", "case_id", ("case_id", "decision", "reason")),
)
BACKFILL = (
    ("report", "reports", "received_at"),
    ("entity", "linkage_entities", "created_at"),
    ("case", "cases", "created_at"),
)
# table -> (who may read, who may insert, who may update and delete)
POLICIES = {
    "search_documents": ("true", ONLY_SYSTEM, ONLY_SYSTEM),
    "search_names": ("true", ONLY_SYSTEM, ONLY_SYSTEM),
    "search_name_keys": (ONLY_SYSTEM, ONLY_SYSTEM, ONLY_SYSTEM),
    "search_pending": (ONLY_SYSTEM, "true", ONLY_SYSTEM),
}


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("at", vigil.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=8), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "tsv", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint(
            "record_type", "record_id", name=op.f("uq_search_documents_record_type")
        ),
    )
    op.create_index(
        "ix_search_documents_tsv",
        "search_documents",
        ["tsv"],
        unique=False,
        postgresql_using="gin",
        sqlite_where=sa.text("0"),
    )
    op.create_table(
        "search_name_keys",
        sa.Column("term", sa.String(length=60), nullable=False),
        sa.Column("metaphone", sa.String(length=20), nullable=False),
        sa.Column("soundex", sa.String(length=4), nullable=False),
        sa.Column("head", sa.String(length=3), nullable=False),
        sa.Column("tail", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_name_keys")),
    )
    for column in ("metaphone", "soundex", "head", "tail"):
        op.create_index(
            op.f(f"ix_search_name_keys_{column}"), "search_name_keys", [column], unique=False
        )
    op.create_table(
        "search_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_pending")),
    )
    op.create_table(
        "search_names",
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["doc_id"],
            ["search_documents.id"],
            name=op.f("fk_search_names_doc_id_search_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("doc_id", "term", name=op.f("pk_search_names")),
    )
    op.create_index("ix_search_names_term", "search_names", ["term", "doc_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_up()
    else:
        _sqlite_up()
    # Everything already there, oldest first (document ids then follow the records' times).
    existing = " UNION ALL ".join(
        f"SELECT '{record_type}' AS t, id, {at} AS at FROM {table}"
        for record_type, table, at in BACKFILL
    )
    op.execute(
        "INSERT INTO search_pending (record_type, record_id) "
        f"SELECT t, id FROM ({existing}) AS existing ORDER BY at, t, id"
    )


def _sqlite_up() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_documents', "
        "content_rowid='id', columnsize=0, tokenize='porter unicode61 remove_diacritics 2')"
    )
    fts_in = "INSERT INTO search_fts (rowid, title, body) VALUES (new.id, new.title, new.body);"
    fts_out = (
        "INSERT INTO search_fts (search_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body);"
    )
    op.execute(
        f"CREATE TRIGGER search_fts_insert AFTER INSERT ON search_documents BEGIN {fts_in} END"
    )
    op.execute(
        f"CREATE TRIGGER search_fts_delete AFTER DELETE ON search_documents BEGIN {fts_out} END"
    )
    op.execute(
        "CREATE TRIGGER search_fts_update AFTER UPDATE OF title, body ON search_documents "
        f"BEGIN {fts_out} {fts_in} END"
    )
    for table, record_type, id_column, columns in SOURCES:
        for event, row in (("INSERT", "new"), ("DELETE", "old"), ("UPDATE", "new")):
            what = f"UPDATE OF {', '.join(columns)}" if event == "UPDATE" else event
            op.execute(
                f"CREATE TRIGGER search_pending_{table}_{event.lower()} AFTER {what} ON {table} "
                f"BEGIN INSERT INTO search_pending (record_type, record_id) "
                f"VALUES ('{record_type}', {row}.{id_column}); END"
            )


def _postgresql_up() -> None:
    op.execute(
        "CREATE TEXT SEARCH DICTIONARY vigil_search_stem (TEMPLATE = snowball, Language = english)"
    )
    op.execute("CREATE TEXT SEARCH CONFIGURATION vigil_search (COPY = english)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION vigil_search ALTER MAPPING FOR "
        "asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH vigil_search_stem"
    )
    op.execute("""
        CREATE FUNCTION search_documents_tsv() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          NEW.tsv := to_tsvector(
            'vigil_search', translate(NEW.title || ' ' || NEW.body, '<>', '  ')
          );
          RETURN NEW;
        END $fn$
    """)
    op.execute(
        "CREATE TRIGGER search_documents_tsv BEFORE INSERT OR UPDATE OF title, body "
        "ON search_documents FOR EACH ROW EXECUTE FUNCTION search_documents_tsv()"
    )
    op.execute("""
        CREATE FUNCTION search_note_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
          row_data jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
        BEGIN
          INSERT INTO search_pending (record_type, record_id)
          VALUES (TG_ARGV[0], (row_data ->> TG_ARGV[1])::integer);
          RETURN NULL;
        END $fn$
    """)
    for table, record_type, id_column, columns in SOURCES:
        op.execute(
            f"CREATE TRIGGER search_pending_{table} "
            f"AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION search_note_change('{record_type}', '{id_column}')"
        )
    for table, (read, write, change) in POLICIES.items():
        protect(table, read=read, write=write, change=change)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        unprotect(POLICIES)
        for table, *_rest in SOURCES:
            op.execute(f"DROP TRIGGER IF EXISTS search_pending_{table} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS search_documents_tsv ON search_documents")
        op.execute("DROP FUNCTION IF EXISTS search_note_change()")
        op.execute("DROP FUNCTION IF EXISTS search_documents_tsv()")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS vigil_search")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS vigil_search_stem")
    else:
        for table, *_rest in SOURCES:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS search_pending_{table}_{event}")
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS search_fts_{event}")
        op.execute("DROP TABLE IF EXISTS search_fts")  # and its shadow tables
    op.drop_index("ix_search_names_term", table_name="search_names")
    op.drop_table("search_names")
    op.drop_table("search_pending")
    for column in ("tail", "head", "soundex", "metaphone"):
        op.drop_index(op.f(f"ix_search_name_keys_{column}"), table_name="search_name_keys")
    op.drop_table("search_name_keys")
    op.drop_index("ix_search_documents_tsv", table_name="search_documents")
    op.drop_table("search_documents")
