"""Core statements compiled once per database dialect and handed to the driver as they are.

The pipeline's hottest statements are large (a ``UNION ALL`` of a hundred capped lookups)
or run with thousands of rows (an ``executemany`` of text bands). For those, the work
SQLAlchemy repeats on every execution (walking the statement for its cache key, building
and processing every bound parameter, wrapping every result row) cost more than the
database spent answering them. :class:`Compiled` does that work once: the SQL text, the
order of its parameters and their type processors (datetimes, JSON) are kept per dialect,
and each execution only lines the values up. Statements run through
``Connection.exec_driver_sql``, so they stay inside the caller's transaction and are seen
by the engine's events like any other. Not for statements with expanding (``IN``)
parameters, whose SQL changes with the number of values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class _Form:
    sql: str
    names: tuple[str, ...]  # parameters in the order the SQL takes them
    positional: bool  # the driver takes a tuple (SQLite) or a mapping (psycopg)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position in names, processor)
    defaults: dict[str, Any]  # values fixed in the statement (literals, SQLite's OFFSET 0)
    pick: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # the values, in ``names`` order


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        return lambda values: (values[names[0]],)
    return cast(Callable[[Mapping[str, Any]], tuple[Any, ...]], itemgetter(*names))


class Compiled:
    """One statement, compiled on first use for each dialect (and parameter style) it meets."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}
        # per dialect: (column, type processor) for the columns whose values need one
        self._results: dict[str, tuple[tuple[int, Callable[[Any], Any]], ...]] = {}

    def _form(self, dialect: Dialect) -> _Form:
        key = f"{dialect.name}:{dialect.paramstyle}"
        form = self._forms.get(key)
        if form is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            rendered = compiled.bind_names  # each parameter -> its name in the SQL
            processors: dict[str, Callable[[Any], Any]] = {}
            defaults: dict[str, Any] = {}
            for bind, name in rendered.items():
                if bind.expanding:
                    raise ValueError("expanding parameters change the SQL; run these as usual")
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
                if not bind.required and bind.value is not None:
                    defaults[name] = bind.value
            positional = bool(compiled.positional)
            names = (
                tuple(compiled.positiontup or ())
                if positional
                else tuple(dict.fromkeys(rendered.values()))
            )
            form = _Form(
                compiled.string,
                names,
                positional,
                tuple((n, processors[name]) for n, name in enumerate(names) if name in processors),
                defaults,
                _picker(names) if names else lambda _values: (),
            )
            self._forms[key] = form
        return form

    def _args(self, form: _Form, params: Mapping[str, Any]) -> Any:
        """The driver's parameters: values in the SQL's order (SQLite) or by name (psycopg),
        each through its type's processor."""
        values = form.pick({**form.defaults, **params} if form.defaults else params)
        if form.processors:
            processed = list(values)
            for n, processor in form.processors:
                processed[n] = processor(processed[n])
            values = tuple(processed)
        return values if form.positional else dict(zip(form.names, values, strict=True))

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """Run it once with ``params`` (by name); every row, its values typed as the
        statement's columns say (datetimes as aware UTC, and so on)."""
        dialect = conn.dialect
        form = self._form(dialect)
        result = conn.exec_driver_sql(form.sql, self._args(form, params))
        processors = self._results.get(dialect.name)
        if processors is None:
            columns = getattr(self.statement, "selected_columns", ())
            described = result.cursor.description if result.cursor is not None else None
            found = []
            for n, column in enumerate(columns):
                coltype = described[n][1] if described else None
                processor = column.type.dialect_impl(dialect).result_processor(dialect, coltype)
                if processor is not None:
                    found.append((n, processor))
            processors = self._results[dialect.name] = tuple(found)
        rows = result.all()
        if not processors:
            return rows
        typed = []
        for row in rows:
            values = list(row)
            for n, processor in processors:
                values[n] = processor(values[n])
            typed.append(values)
        return typed

    def many_rows(
        self, conn: Connection, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """:meth:`many` with each row's values in ``columns`` order. A driver taking values
        by position, in that order and without type processing (SQLite, for plain
        columns), is handed the rows as they are: no mapping built and unpicked per row."""
        if not rows:
            return
        form = self._form(conn.dialect)
        if form.positional and form.names == columns and not (form.processors or form.defaults):
            conn.exec_driver_sql(form.sql, rows)
            return
        self.many(conn, [dict(zip(columns, row, strict=True)) for row in rows])

    def many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run it once per mapping in ``params``, as one ``executemany``."""
        if not params:
            return
        form = self._form(conn.dialect)
        conn.exec_driver_sql(form.sql, [self._args(form, p) for p in params])
