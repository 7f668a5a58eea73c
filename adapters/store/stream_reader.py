"""Many aggregate streams read at once: ``domain.ports.StreamReader`` on the event
store's table (``adapters.store.persistence``).

Which of these aggregates exist, their heads (last version, first topic), their events,
and the last position of some topics: one query per chunk of ids (SQLite: one
parameter each; PostgreSQL: one array), straight to the driver.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from relengotron.adapters.store.persistence import as_uuid

CHUNK = 500  # ids a query names (SQLite: one parameter each)
PG_CHUNK = 10_000  # ids a PostgreSQL probe names (one array parameter)


class SQLStreamReader:
    """Reads many aggregate streams with one query per chunk of ids."""

    def __init__(self, recorder: SQLAlchemyApplicationRecorder) -> None:
        self.recorder = recorder
        self.table = recorder.events_record_cls.__table__

    def last_position(self, topics: Collection[str], after: int = 0) -> int:
        """The last position of these topics after ``after`` (else ``after``): the log
        read back from its end to ``after`` at most. (Without the bound, a run walked
        back to the last such event however far: no index on the topic.)"""
        topics = list(topics)
        if not topics:
            return after
        with self.recorder.transaction(commit=False) as session:
            conn = session.connection()
            table = conn.dialect.identifier_preparer.format_table(self.table)
            params: tuple[Any, ...]
            if conn.dialect.name == "postgresql":
                sql = f"SELECT MAX(id) FROM {table} WHERE id > %s AND topic = ANY(%s)"
                params = (after, topics)
            else:
                marks = ", ".join("?" * len(topics))
                sql = f"SELECT MAX(id) FROM {table} WHERE id > ? AND topic IN ({marks})"
                params = (after, *topics)
            return int(conn.exec_driver_sql(sql, params).scalar() or after)

    def existing(self, ids: Collection[UUID]) -> set[UUID]:
        sql = "SELECT originator_id FROM {table} WHERE originator_version = 1 AND {ids}"
        with self.recorder.transaction(commit=False) as session:
            return {oid for (oid,) in self._select_in(session, sql, ids)}

    def heads(self, ids: Collection[UUID]) -> dict[UUID, tuple[int, str]]:
        """Last version and first topic of each existing stream, in one query a chunk
        (one round trip: workers record small batches).

        PostgreSQL: two index probes per id, whatever the planner knows of the table.
        Asked which rows have one of the ids, it scanned the whole table while a fresh
        store filled faster than autovacuum analysed it (a backfill: a full scan per
        batch); a union of two such queries was also twice one. SQLite probes the index
        for an ``IN`` list by itself: one scan of the streams' rows, grouped."""
        sql = (
            "SELECT originator_id, MAX(originator_version),"
            " MAX(CASE WHEN originator_version = 1 THEN topic END)"
            " FROM {table} WHERE {ids} GROUP BY originator_id"
        )
        probes = (
            "SELECT u.id,"
            " (SELECT MAX(e.originator_version) FROM {table} e WHERE e.originator_id = u.id),"
            " (SELECT e.topic FROM {table} e"
            " WHERE e.originator_id = u.id AND e.originator_version = 1)"
            " FROM unnest(%s::uuid[]) AS u(id)"
        )
        with self.recorder.transaction(commit=False) as session:
            if session.connection().dialect.name == "postgresql":
                rows = self._probe(session, probes, ids)
            else:
                rows = self._select_in(session, sql, ids)
            return {
                oid: (version, first)
                for oid, version, first in rows
                if first is not None  # a stream that exists has its first event
            }

    def _probe(
        self, session: Session, sql: str, ids: Collection[UUID]
    ) -> Iterator[tuple[Any, ...]]:
        """PostgreSQL: rows of ``sql`` (``{table}``: the events table; its one parameter
        the ids, as an array), a chunk of ids at a time."""
        conn = session.connection()
        query = sql.format(table=conn.dialect.identifier_preparer.format_table(self.table))
        ids = list(ids)
        for i in range(0, len(ids), PG_CHUNK):
            for row in conn.exec_driver_sql(query, (ids[i : i + PG_CHUNK],)):
                yield (as_uuid(row[0]), *row[1:])

    def _select_in(
        self, session: Session, sql: str, ids: Collection[UUID]
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (``{table}``: the events table; each ``{ids}``: "originator_id
        is one of ``ids``"), a chunk of ids at a time, straight to the driver
        (SQLAlchemy would compile a statement of up to CHUNK parameters each time);
        the first column, an originator id, read as a UUID."""
        conn = session.connection()
        dialect = conn.dialect.name
        table = conn.dialect.identifier_preparer.format_table(self.table)
        times = sql.count("{ids}")
        ids = list(ids)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            if dialect == "postgresql":
                query = sql.format(table=table, ids="originator_id = ANY(%s)")
                for row in conn.exec_driver_sql(query, (chunk,) * times):
                    yield tuple(row)
            elif dialect == "sqlite":
                marks = ", ".join("?" * len(chunk))
                query = sql.format(table=table, ids=f"originator_id IN ({marks})")
                params = tuple(u.bytes for u in chunk) * times
                for row in conn.exec_driver_sql(query, params):
                    yield (UUID(bytes=bytes(row[0])), *row[1:])
            else:  # not reached with our stores; the same query through SQLAlchemy
                names = [f"ids{n}" for n in range(times)]
                query = sql.replace("{table}", table)
                for n in names:
                    query = query.replace("{ids}", f"originator_id IN :{n}", 1)
                kind = self.table.c.originator_id.type
                q = text(query).bindparams(
                    *(bindparam(n, expanding=True, type_=kind) for n in names)
                )
                for row in session.execute(q, dict.fromkeys(names, chunk)):
                    yield (as_uuid(row[0]), *row[1:])

    def load(self, ids: Collection[UUID]) -> dict[UUID, list[StoredEvent]]:
        c = self.table.c
        out: dict[UUID, list[StoredEvent]] = {}
        ids = list(ids)
        with self.recorder.transaction(commit=False) as session:
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                q = (
                    select(c.originator_id, c.originator_version, c.topic, c.state)
                    .where(c.originator_id.in_(chunk))
                    .order_by(c.originator_id, c.originator_version)
                )
                for oid, version, topic, state in session.execute(q):
                    oid = as_uuid(oid)
                    out.setdefault(oid, []).append(
                        StoredEvent(
                            originator_id=oid,
                            originator_version=version,
                            topic=topic,
                            state=bytes(state) if isinstance(state, memoryview) else state,
                        )
                    )
        return out
