"""Many rows written into one table at once, as the projector writes a page of read-model
rows (``adapters.store.readmodels``) and the followers their views' documents
(``adapters.store.view_store``): driver SQL with rows as tuples; on PostgreSQL, ``COPY``
from ``COPY_MIN`` rows on (upserts through a staging table)."""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterable
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from relengotron.adapters.store.persistence import COPY_MIN, copy_rows

Key = str | tuple[str, ...]  # the column(s) of a table's primary key


class TableWriter:
    """One table's INSERT (or upsert) as driver SQL, rows as tuples: SQLAlchemy's
    per-row parameter processing would cost as much as the rest of the fold."""

    def __init__(self, conn: Connection, table: Table, json_columns: Collection[str] = ()) -> None:
        """``json_columns``: the columns whose values are written as JSON text."""
        self.columns = [c.name for c in table.columns]
        self.json = [i for i, c in enumerate(self.columns) if c in json_columns]
        # A row's values in column order, as a tuple (one call in C per row).
        assert len(self.columns) > 1, table.name  # itemgetter of one key: no tuple
        self.values = operator.itemgetter(*self.columns)
        self.dialect = conn.dialect.name
        preparer = conn.dialect.identifier_preparer
        self.quote = preparer.quote
        cols = ", ".join(self.quote(c) for c in self.columns)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        values = ", ".join([mark] * len(self.columns))
        self.insert = f"INSERT INTO {preparer.format_table(table)} ({cols}) VALUES ({values})"
        self.copy = (
            f"COPY {preparer.format_table(table)} ({cols}) FROM STDIN"
            if self.dialect == "postgresql"
            else None
        )
        # PostgreSQL upserts many rows as COPY into a temporary table of the same
        # columns (emptied at each commit), then one INSERT ... SELECT ... ON CONFLICT.
        self.table = preparer.format_table(table)
        self.staging = preparer.quote(f"relengotron_staged_{table.name}")
        self.cols = cols

    def upsert_sql(self, key: Key, source: str | None = None) -> str:
        """The upsert of a row by its key column(s) (``source``: of every row of that
        table instead)."""
        if self.dialect == "sqlite":
            return self.insert.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
        keys = (key,) if isinstance(key, str) else key
        updates = ", ".join(
            f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in self.columns if c not in keys
        )
        insert = self.insert
        if source is not None:
            insert = f"INSERT INTO {self.table} ({self.cols}) SELECT {self.cols} FROM {source}"
        conflict = ", ".join(self.quote(k) for k in keys)
        return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"

    def _upsert_copied(self, conn: Connection, rows: list[tuple[Any, ...]], key: Key) -> None:
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.staging} "
            f"(LIKE {self.table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        conn.exec_driver_sql(f"DELETE FROM {self.staging}")  # written before in this page
        copy_rows(conn, f"COPY {self.staging} ({self.cols}) FROM STDIN", rows)
        conn.exec_driver_sql(self.upsert_sql(key, source=self.staging))

    def rows(
        self, conn: Connection, rows: Iterable[dict[str, Any]], upsert: Key | None = None
    ) -> None:
        values = self.values
        if self.json:
            dumps, json = orjson.dumps, self.json
            out = []
            for row in rows:
                v = list(values(row))
                for i in json:
                    if v[i] is not None:
                        v[i] = dumps(v[i]).decode()
                out.append(tuple(v))
        else:
            out = [values(row) for row in rows]
        if not out:
            return
        if self.copy is not None and len(out) >= COPY_MIN:  # PostgreSQL: COPY, not a row each
            if upsert:
                self._upsert_copied(conn, out, upsert)
            else:
                copy_rows(conn, self.copy, out)
        else:
            conn.exec_driver_sql(self.upsert_sql(upsert) if upsert else self.insert, out)
