"""Build (or find in the cache) the console benchmark's database, on SQLite or PostgreSQL.

The rows come from ``benchmarks/_console_data.py``; this module owns the engine side: a
migrated empty database, triggers and secondary indexes off while loading, then the indexes
rebuilt once, the full-text index built in one pass (FTS5 ``rebuild``; PostgreSQL's own
``tsvector`` trigger and a fresh GIN index), statistics gathered, and the result kept:

* SQLite: ``var/bench-cache/console-<key>.db`` (with a ``.json`` beside it);
* PostgreSQL: a database ``vigil_console_<key>`` used as a template, each run getting a copy.

A cached database at an older schema revision is brought to head with ``vigil db upgrade``
in place, so adding a migration (new indexes) does not mean loading a million rows again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import _console_data as data
from benchmarks import _console_rows as rows
from benchmarks._server import PG_ADMIN_URL, vigil_executable

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench-cache"
# Tables written in bulk: their triggers and secondary indexes are off while loading.
BULK = (
    "reports", "triage_results", "triage_items", "report_people", "report_vehicles",
    "report_online", "linkage_entities", "linkage_values", "linkage_identities",
    "linkage_matches", "search_documents", "search_names", "search_name_keys",
    "record_shares", "triage_cluster_links",
)  # fmt: skip
SERIAL = (
    "reports", "triage_items", "report_people", "report_vehicles", "report_online",
    "linkage_entities", "linkage_values", "linkage_identities", "linkage_matches",
    "search_documents", "record_shares", "triage_cluster_links", "organisations", "teams",
    "users",
)  # fmt: skip
Say = Callable[[str], None]


def pg_url(db: str, user: str = "postgres") -> str:
    return f"postgresql://{user}@127.0.0.1:5432/{db}"


def pg_template(sizes: data.Sizes) -> str:
    return "vigil_console_" + sizes.key.replace("-", "_").lower()


def migrate(env_url: str, owner_url: str | None = None) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": env_url, "VIGIL_LOG_LEVEL": "warning"}
    if owner_url:
        env["VIGIL_MIGRATION_DATABASE_URL"] = owner_url
    done = subprocess.run(
        [vigil_executable(), "db", "upgrade"], env=env, capture_output=True, timeout=3600
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"`vigil db upgrade` failed:\n{tail}")


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_path(sizes: data.Sizes) -> Path:
    return CACHE / f"console-{sizes.key}.db"


def sqlite_ready(sizes: data.Sizes, *, rebuild: bool, say: Say) -> tuple[Path, dict[str, Any]]:
    """The cached SQLite database for ``sizes`` (built now when missing), at head."""
    path = sqlite_path(sizes)
    meta_path = path.with_suffix(".json")
    if rebuild:
        for p in (path, meta_path):
            p.unlink(missing_ok=True)
    if not (path.exists() and meta_path.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        meta = build_sqlite(sizes, path, say)
        meta_path.write_text(json.dumps(meta, indent=1))
    meta = json.loads(meta_path.read_text())
    began = time.monotonic()
    migrate(f"sqlite:///{path}")
    meta["upgrade_s"] = round(time.monotonic() - began, 1)
    return path, meta


def build_sqlite(sizes: data.Sizes, path: Path, say: Say) -> dict[str, Any]:
    tmp = path.with_suffix(".building")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    began = time.monotonic()
    migrate(f"sqlite:///{tmp}")
    conn = sqlite3.connect(tmp, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-400000",
                   "temp_store=MEMORY", "foreign_keys=OFF"):  # fmt: skip
        conn.execute(f"PRAGMA {pragma}")
    saved = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        f"AND sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(BULK))})",
        BULK,
    ).fetchall()
    for kind, name, _sql in saved:
        conn.execute(f"DROP {kind.upper()} {name}")
    now = time.time()
    conn.execute("BEGIN")
    _staff_sqlite(conn, now)
    p = data.plan(sizes, now)
    say(f"  SQLite: plan drawn in {time.monotonic() - began:.0f} s; writing rows")
    sink = rows.SqliteSink(conn)
    counts = rows.load(sink, p, data.ids_for(), say=say)
    conn.execute("COMMIT")
    loaded = time.monotonic()
    say(f"  SQLite: rows written in {loaded - began:.0f} s; indexes and FTS5")
    for kind, _name, sql in saved:
        if kind == "index":
            conn.execute(sql)
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('rebuild')")
    for kind, _name, sql in saved:
        if kind == "trigger":
            conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    tmp.rename(path)
    total = time.monotonic() - began
    say(f"  SQLite: built in {total:.0f} s ({path.stat().st_size / 2**30:.1f} GiB)")
    return {"engine": "sqlite", "built_at": now, "build_s": round(total, 1), "rows": counts,
            "bytes": path.stat().st_size}  # fmt: skip


def _staff_sqlite(conn: sqlite3.Connection, now: float) -> None:
    orgs, teams, users, members = data.staff_rows(now)
    t = data.sqlite_time(now)
    conn.executemany(
        "INSERT INTO organisations (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
        [(*o[:3], t) for o in orgs],
    )
    conn.executemany(
        "INSERT INTO teams (id, organisation_id, name, created_at) VALUES (?, ?, ?, ?)",
        [(*x[:3], t) for x in teams],
    )
    conn.executemany(
        "INSERT INTO users (id, email, organisation_id, role, clearance, created_at, "
        "failed_sign_ins) VALUES (?, ?, ?, ?, ?, ?, 0)",
        [(*u[:5], t) for u in users],
    )
    conn.executemany("INSERT INTO team_memberships (user_id, team_id) VALUES (?, ?)", members)


# --- PostgreSQL -------------------------------------------------------------------------------


def _admin(sql: str, db: str = "postgres") -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(pg_url(db), autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def pg_ready(sizes: data.Sizes, *, rebuild: bool, say: Say) -> tuple[str, dict[str, Any]]:
    """The template database for ``sizes`` (built now when missing), at head."""
    name = pg_template(sizes)
    exists = _admin(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    f"WHERE datname = '{name}'")  # fmt: skip
    if rebuild and exists:
        _admin(f"DROP DATABASE {name} WITH (FORCE)")
        exists = []
    if not exists or not exists[0][0]:
        if exists:
            _admin(f"DROP DATABASE {name} WITH (FORCE)")
        meta = build_pg(sizes, name, say)
        _admin(f"COMMENT ON DATABASE {name} IS '{json.dumps(meta)}'")
    meta = json.loads(_admin(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                             f"WHERE datname = '{name}'")[0][0])  # fmt: skip
    began = time.monotonic()
    migrate(pg_url(name, "vigil_app"), pg_url(name))
    meta["upgrade_s"] = round(time.monotonic() - began, 1)
    return name, meta


def build_pg(sizes: data.Sizes, name: str, say: Say) -> dict[str, Any]:
    import psycopg

    building = name + "_building"
    _admin(f"DROP DATABASE IF EXISTS {building} WITH (FORCE)")
    _admin(f"CREATE DATABASE {building}")
    began = time.monotonic()
    migrate(pg_url(building, "vigil_app"), pg_url(building))
    now = time.time()
    with psycopg.connect(pg_url(building)) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        saved = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)",
            (list(BULK),),
        ).fetchall()
        for index_name, _sql in saved:
            conn.execute(f"DROP INDEX {index_name}")
        for table in BULK:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        conn.execute("ALTER TABLE search_documents ENABLE TRIGGER search_documents_tsv")
        _staff_pg(conn, now)
        p = data.plan(sizes, now)
        say(f"  PostgreSQL: plan drawn in {time.monotonic() - began:.0f} s; writing rows")
        counts = rows.load(rows.PgSink(conn), p, data.ids_for(), say=say)
        conn.commit()
        say(f"  PostgreSQL: rows written in {time.monotonic() - began:.0f} s; indexes")
        for _index_name, sql in saved:
            conn.execute(sql)
        for table in BULK:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
        for table in SERIAL:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        conn.commit()
    with psycopg.connect(pg_url(building), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    _admin(f"ALTER DATABASE {building} RENAME TO {name}")
    total = time.monotonic() - began
    size = _admin(f"SELECT pg_database_size('{name}')")[0][0]
    say(f"  PostgreSQL: built in {total:.0f} s ({size / 2**30:.1f} GiB)")
    return {"engine": "postgresql", "built_at": now, "build_s": round(total, 1), "rows": counts,
            "bytes": size}  # fmt: skip


def _staff_pg(conn: Any, now: float) -> None:
    orgs, teams, users, members = data.staff_rows(now)
    t = data.pg_time(now)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO organisations (id, name, kind, created_at) VALUES (%s, %s, %s, %s)",
            [(*o[:3], t) for o in orgs],
        )
        cur.executemany(
            "INSERT INTO teams (id, organisation_id, name, created_at) VALUES (%s, %s, %s, %s)",
            [(*x[:3], t) for x in teams],
        )
        cur.executemany(
            "INSERT INTO users (id, email, organisation_id, role, clearance, created_at, "
            "failed_sign_ins) VALUES (%s, %s, %s, %s, %s, %s, 0)",
            [(*u[:5], t) for u in users],
        )
        cur.executemany("INSERT INTO team_memberships (user_id, team_id) VALUES (%s, %s)", members)


def pg_copy(template: str, target: str) -> float:
    """A fresh copy of the template for one run; returns the seconds it took."""
    began = time.monotonic()
    _admin(f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")
    _admin(f"CREATE DATABASE {target} TEMPLATE {template}")
    return time.monotonic() - began


def pg_drop(target: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")


ADMIN_URL = PG_ADMIN_URL
