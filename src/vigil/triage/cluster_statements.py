"""The statements behind clustering's capped lookups, in the form each database runs best.

Every lookup reads at most a cap of rows for its own key (a band, an identifier, a report's
time and place), so that one very common key cannot crowd out the others and a surge stays
bounded. A round asks hundreds of them at once; how to send them differs:

SQLite: a ``UNION ALL`` of capped subqueries, one per key, padded to one of three sizes so
    each size compiles once (:class:`vigil.triage.statements.Compiled`). SQLite prepares a
    statement quickly, and its query planner needs no statistics to use each index.
PostgreSQL: the keys as arrays, unnested and joined ``LATERAL`` to one capped subquery, so
    one small statement serves any number of keys. Planning a ``UNION`` of 64 subqueries
    took PostgreSQL 3.5 ms each time; the lateral form plans in 0.1 ms and psycopg prepares
    it after a few runs.

Each function returns, per key and in the order given, the rows in the order the index gave
them: the caps keep the first rows, and :mod:`vigil.triage.cluster_round` relies on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.selectable import CompoundSelect

from vigil.intake.models import Report
from vigil.triage.models import TextBand, TriageItem
from vigil.triage.statements import Compiled

# SQLite: subqueries in one statement, 4, 16 or 64 (it allows 500 in a compound select).
# Three sizes keep compiling them cheap (about a tenth of a second in all, once per
# process); padding a statement costs an index probe that finds nothing.
_SIZES = (4, 16, 64)
_NOWHERE = datetime(1, 1, 2, tzinfo=UTC)  # padding: a received_at range that holds nothing
PLACE_PARAMS = ("lo", "hi", "me", "until", "since", "la", "lb", "oa", "ob", "pc")


def first_ids(conn: Connection, los: Sequence[datetime]) -> list[int | None]:
    """The first report id received at or after each ``lo``: ids grow with received_at
    (intake assigns both in the single writer), so ``id >= first`` keeps a band lookup on
    its index and within the window without a join."""
    if not los:
        return []
    if _postgresql(conn):
        found: dict[int, int | None] = {
            row[0]: row[1] for row in _FIRST_IDS_PG.rows(conn, {"lo": list(los)})
        }
        return [found.get(n) for n in range(len(los))]
    ids: list[int | None] = []
    for size, part in _chunks(los):
        params = {f"lo{n}": part[n] if n < len(part) else _NOWHERE for n in range(size)}
        [row] = _first_ids_statement(size).rows(conn, params)
        ids += row[: len(part)]
    return ids


def band_rows(
    conn: Connection, keys: Sequence[tuple[int, int, int]], cap: int
) -> list[Sequence[int]]:
    """Report ids holding each (band, hash) from a first report id on, at most ``cap``."""
    if _postgresql(conn):
        params = {
            "band": [k[0] for k in keys],
            "hash": [k[1] for k in keys],
            "first": [k[2] for k in keys],
            "cap": cap,
        }
        return _per_key(len(keys), _BANDS_PG.rows(conn, params) if keys else ())

    return _union_rows(conn, _bands_statement, keys, {"cap": cap}, ("b", "h", "f"), (-1, 0, 0))


def identifier_rows(
    conn: Connection, keys: Sequence[tuple[str, str]], caps: Sequence[int]
) -> list[Sequence[tuple[int, int]]]:
    """(item id, report id) of active items naming each (kind, value), at most its cap."""
    if _postgresql(conn):
        params = {
            "kind": [k[0] for k in keys],
            "value": [k[1] for k in keys],
            "cap": list(caps),
        }
        return _per_key(len(keys), _IDENTIFIERS_PG.rows(conn, params) if keys else ())

    asks = [(kind, value, cap) for (kind, value), cap in zip(keys, caps, strict=True)]
    return _union_rows(conn, _identifiers_statement, asks, {}, ("k", "v", "c"), ("", "", 0))


def place_rows(
    conn: Connection, asks: Sequence[Mapping[str, Any]], cap: int
) -> list[Sequence[tuple[Any, ...]]]:
    """Reports close in time and place to each ask (its ``PLACE_PARAMS``), the most recently
    received first, at most ``cap``: (id, when_start, when_end, lat, lon, postcode)."""
    if _postgresql(conn):
        params: dict[str, Any] = {name: [ask[name] for ask in asks] for name in PLACE_PARAMS}
        params["cap"] = cap
        return _per_key(len(asks), _PLACES_PG.rows(conn, params) if asks else ())

    values = [tuple(ask[name] for name in PLACE_PARAMS) for ask in asks]
    padding = tuple(_NOWHERE_PLACE[name] for name in PLACE_PARAMS)
    return _union_rows(conn, _places_statement, values, {"cap": cap}, PLACE_PARAMS, padding)


_NOWHERE_PLACE: dict[str, Any] = dict.fromkeys(PLACE_PARAMS) | {
    "lo": _NOWHERE,
    "hi": _NOWHERE,
    "me": 0,
    "until": _NOWHERE,
    "since": _NOWHERE,
}


def _postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _per_key(count: int, rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows of a statement whose first column is the key's position, grouped by key. Most
    keys find nothing (a band shared with no other report): they share one empty tuple
    rather than each holding a list of its own for the round."""
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row[1] if len(row) == 2 else tuple(row[1:]))
    return [found.get(n, ()) for n in range(count)]


def _size(n: int) -> int:
    """The padded size of a statement for ``n`` lookups (at most the largest size)."""
    return next(size for size in _SIZES if size >= n)


def _chunks(items: Sequence[Any]) -> Iterable[tuple[int, Sequence[Any]]]:
    for at in range(0, len(items), _SIZES[-1]):
        part = items[at : at + _SIZES[-1]]
        yield _size(len(part)), part


@cache
def _param_names(prefixes: tuple[str, ...], size: int) -> tuple[tuple[str, ...], ...]:
    """Each subquery's parameter names, ``prefix + its number``, made once per shape."""
    return tuple(tuple(f"{prefix}{n}" for prefix in prefixes) for n in range(size))


def _union_rows(
    conn: Connection,
    statement: Callable[[int], Compiled],
    keys: Sequence[Sequence[Any]],
    shared: dict[str, Any],
    prefixes: tuple[str, ...],
    padding: Sequence[Any],
) -> list[Sequence[Any]]:
    """Run a padded ``UNION ALL`` statement over ``keys`` in chunks: each key's values go to
    its subquery's parameters, in ``prefixes`` order; unused subqueries get ``padding``."""
    found: list[Sequence[Any]] = []
    for size, part in _chunks(keys):
        params = dict(shared)
        for names, values in zip(_param_names(prefixes, size), part, strict=False):
            params.update(zip(names, values, strict=True))
        for names in _param_names(prefixes, size)[len(part) :]:
            params.update(zip(names, padding, strict=True))
        found += _per_key(len(part), statement(size).rows(conn, params))
    return found


# --- PostgreSQL ------------------------------------------------------------------------

_FIRST_IDS_PG = Compiled(
    text(
        "SELECT k.q - 1, (SELECT r.id FROM reports AS r WHERE r.received_at >= k.lo"
        " ORDER BY r.received_at, r.id LIMIT 1)"
        " FROM unnest(CAST(:lo AS timestamptz[])) WITH ORDINALITY AS k(lo, q)"
    )
)
_BANDS_PG = Compiled(
    text(
        "SELECT k.q - 1, b.report_id"
        " FROM unnest(CAST(:band AS integer[]), CAST(:hash AS bigint[]),"
        " CAST(:first AS integer[])) WITH ORDINALITY AS k(band, hash, first, q)"
        " CROSS JOIN LATERAL (SELECT t.report_id FROM triage_text_bands AS t"
        " WHERE t.band = k.band AND t.hash = k.hash AND t.report_id >= k.first"
        " LIMIT :cap) AS b"
    )
)
_IDENTIFIERS_PG = Compiled(
    text(
        "SELECT k.q - 1, i.id, i.report_id"
        " FROM unnest(CAST(:kind AS varchar[]), CAST(:value AS varchar[]),"
        " CAST(:cap AS integer[])) WITH ORDINALITY AS k(kind, value, cap, q)"
        " CROSS JOIN LATERAL (SELECT t.id, t.report_id FROM triage_items AS t"
        " WHERE t.kind = k.kind AND t.value = k.value AND t.status = 'active'"
        " LIMIT k.cap) AS i"
    )
)
_PLACES_PG = Compiled(
    text(
        "SELECT k.q - 1, r.id, r.when_start, r.when_end, r.where_lat, r.where_lon,"
        " r.where_postcode"
        " FROM unnest(CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[]),"
        " CAST(:me AS integer[]), CAST(:until AS timestamptz[]),"
        " CAST(:since AS timestamptz[]), CAST(:la AS float8[]), CAST(:lb AS float8[]),"
        " CAST(:oa AS float8[]), CAST(:ob AS float8[]), CAST(:pc AS varchar[]))"
        " WITH ORDINALITY AS k(lo, hi, me, until, since, la, lb, oa, ob, pc, q)"
        " CROSS JOIN LATERAL (SELECT p.id, p.when_start, p.when_end, p.where_lat,"
        " p.where_lon, p.where_postcode, p.received_at FROM reports AS p"
        " WHERE p.received_at BETWEEN k.lo AND k.hi AND p.id <> k.me"
        " AND p.when_start IS NOT NULL AND p.when_start <= k.until"
        " AND coalesce(p.when_end, p.when_start) >= k.since"
        " AND ((p.where_lat BETWEEN k.la AND k.lb AND p.where_lon BETWEEN k.oa AND k.ob)"
        " OR upper(replace(p.where_postcode, ' ', '')) = k.pc)"
        " ORDER BY p.received_at DESC LIMIT :cap) AS r"
    )
)


# --- SQLite ----------------------------------------------------------------------------


def _union(parts: list[Select[Any]]) -> Select[Any] | CompoundSelect[Any]:
    return parts[0] if len(parts) == 1 else union_all(*parts)


@cache
def _first_ids_statement(size: int) -> Compiled:
    """The first report id received at or after each ``lo``: ids grow with received_at
    (intake assigns both in the single writer), so ``id >= first`` keeps a band lookup on
    its index and within the window without a join."""
    return Compiled(
        select(
            *[
                select(Report.id)
                .where(Report.received_at >= bindparam(f"lo{n}", type_=Report.received_at.type))
                .order_by(Report.received_at, Report.id)
                .limit(1)
                .scalar_subquery()
                for n in range(size)
            ]
        )
    )


@cache
def _bands_statement(size: int) -> Compiled:
    """Report ids holding each (band, hash) from a first id on, each lookup capped alone."""
    parts = []
    for n in range(size):
        one = (
            select(TextBand.report_id)
            .where(
                TextBand.band == bindparam(f"b{n}", type_=Integer),
                TextBand.hash == bindparam(f"h{n}", type_=BigInteger),
                TextBand.report_id >= bindparam(f"f{n}", type_=Integer),
            )
            .limit(bindparam("cap", type_=Integer))
            .subquery()
        )
        parts.append(select(literal_column(str(n), Integer).label("q"), one.c.report_id))
    return Compiled(_union(parts))


@cache
def _identifiers_statement(size: int) -> Compiled:
    """Active item rows naming each (kind, value), each lookup capped alone."""
    parts = []
    for n in range(size):
        one = (
            select(TriageItem.id, TriageItem.report_id)
            .where(
                TriageItem.kind == bindparam(f"k{n}", type_=String),
                TriageItem.value == bindparam(f"v{n}", type_=String),
                TriageItem.status == "active",
            )
            .limit(bindparam(f"c{n}", type_=Integer))
            .subquery()
        )
        parts.append(select(literal_column(str(n), Integer).label("q"), one.c.id, one.c.report_id))
    return Compiled(_union(parts))


@cache
def _places_statement(size: int) -> Compiled:
    """Reports with a time and a place near each report's, the most recent first, capped.

    The place is a box of coordinates *or* the same full postcode; a report with only one of
    the two binds NULL for the other, which matches nothing, so one shape serves all."""
    compact = func.upper(func.replace(Report.where_postcode, " ", ""))
    parts = []
    for n in range(size):
        one = (
            select(
                Report.id,
                Report.when_start,
                Report.when_end,
                Report.where_lat,
                Report.where_lon,
                Report.where_postcode,
            )
            .where(
                Report.received_at.between(bindparam(f"lo{n}"), bindparam(f"hi{n}")),
                Report.id != bindparam(f"me{n}", type_=Integer),
                Report.when_start.is_not(None),
                Report.when_start <= bindparam(f"until{n}"),
                func.coalesce(Report.when_end, Report.when_start) >= bindparam(f"since{n}"),
                or_(
                    and_(
                        Report.where_lat.between(bindparam(f"la{n}"), bindparam(f"lb{n}")),
                        Report.where_lon.between(bindparam(f"oa{n}"), bindparam(f"ob{n}")),
                    ),
                    compact == bindparam(f"pc{n}", type_=String),
                ),
            )
            .order_by(Report.received_at.desc())
            .limit(bindparam("cap", type_=Integer))
            .subquery()
        )
        parts.append(select(literal_column(str(n), Integer).label("q"), *one.c))
    return Compiled(_union(parts))
