"""Person columns for many people at once, as Arrow tables: the batch matcher's input.

Row for row the same values as ``normalise.prepare_person`` (the same functions run, once per
distinct value). Kept apart from ``normalise`` so that the web app, which prepares one person
at a time, never imports Arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from vigil.linkage.matching.names import first_name_variants, phonetic, surname_keys
from vigil.linkage.matching.normalise import (
    LIST_COLUMNS,
    PREPARED_COLUMNS,
    address_key,
    as_list,
    birth_year,
    clean_address,
    clean_id_number,
    clean_name,
    clean_town,
    normalise_email,
    normalise_phone,
    parse_date_of_birth,
    split_postcode,
)
from vigil.linkage.records import PERSON_COLUMNS, PersonRecord

PREPARED_SCHEMA = pa.schema(
    [(c, pa.list_(pa.string()) if c in LIST_COLUMNS else pa.string()) for c in PREPARED_COLUMNS]
)
"""The prepared columns, in order, as Arrow types."""


def _map_distinct(
    column: pa.Array | pa.ChunkedArray, fn: Callable[[Any], Any], out_type: pa.DataType
) -> pa.Array:
    """``fn`` applied once per distinct value, spread back over the rows (nulls stay null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    results = [fn(value) for value in encoded.dictionary.to_pylist()]
    mapped = pa.array([as_list(r) if isinstance(r, tuple) else r for r in results], out_type)
    return mapped.take(encoded.indices)


def _pick(index: int, fn: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], Any]:
    return lambda value: fn(value)[index]


def prepare_table(raw: pa.Table) -> pa.Table:
    """Prepared columns for a table of raw person columns (strings, nulls for empty).

    Row for row equal to ``prepare_person`` on the same records: the same functions run,
    once per distinct value.
    """
    text = pa.string()
    words = pa.list_(pa.string())
    first = _map_distinct(raw["first_name"], clean_name, text)
    last = _map_distinct(raw["last_name"], clean_name, text)
    dob = _map_distinct(raw["date_of_birth"], parse_date_of_birth, text)
    postcode_raw = raw["postcode"]
    address_raw = raw["address"]
    columns = {
        "id": raw["id"].combine_chunks().cast(text),
        "first_name": first,
        "last_name": last,
        "first_name_variants": _map_distinct(first, first_name_variants, words),
        "last_name_keys": _map_distinct(last, surname_keys, words),
        "first_name_phonetic": _map_distinct(first, phonetic, text),
        "last_name_phonetic": _map_distinct(last, phonetic, text),
        "dob": dob,
        "birth_year": _map_distinct(dob, birth_year, text),
        "postcode": _map_distinct(postcode_raw, _pick(0, split_postcode), text),
        "postcode_sector": _map_distinct(postcode_raw, _pick(1, split_postcode), text),
        "postcode_outward": _map_distinct(postcode_raw, _pick(2, split_postcode), text),
        "address": _map_distinct(address_raw, _pick(0, clean_address), text),
        "address_tokens": _map_distinct(address_raw, _pick(1, clean_address), words),
        "address_key": _map_distinct(address_raw, lambda a: address_key(clean_address(a)[0]), text),
        "town": _map_distinct(raw["town"], clean_town, text),
        "phone": _map_distinct(raw["phone"], normalise_phone, text),
        "email": _map_distinct(raw["email"], normalise_email, text),
        "id_number": _map_distinct(raw["id_number"], clean_id_number, text),
    }
    return pa.table(columns, schema=PREPARED_SCHEMA)


RAW_SCHEMA = pa.schema([(name, pa.string()) for name in PERSON_COLUMNS])
"""The person CSV's columns as Arrow strings (empty cells are nulls)."""


def records_table(records: Iterable[PersonRecord | Mapping[str, Any]]) -> pa.Table:
    """Raw person columns as an Arrow table; empty strings become nulls like empty cells."""
    rows: dict[str, list[str | None]] = {name: [] for name in PERSON_COLUMNS}
    for record in records:
        for name in PERSON_COLUMNS:
            value = record.get(name) if isinstance(record, Mapping) else getattr(record, name)
            rows[name].append(str(value) if value not in (None, "") else None)
    return pa.table(rows, schema=RAW_SCHEMA)


def prepare_people(
    records: Iterable[PersonRecord | Mapping[str, Any]], *, chunk_size: int = 200_000
) -> pa.Table:
    """Prepared columns for many people as one Arrow table, built a chunk at a time."""
    parts: list[pa.Table] = []
    chunk: list[PersonRecord | Mapping[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= chunk_size:
            parts.append(prepare_table(records_table(chunk)))
            chunk = []
    if chunk or not parts:
        parts.append(prepare_table(records_table(chunk)))
    return pa.concat_tables(parts)
