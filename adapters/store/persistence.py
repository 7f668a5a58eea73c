"""Persistence tuned for bulk writes and batch reads, on eventsourcing-sqlalchemy.

Same tables, same stored format as ``eventsourcing_sqlalchemy``; two changes:

* events are inserted with one driver-level ``executemany`` per transaction
  instead of one ORM object per event; on PostgreSQL a batch of
  :data:`COPY_MIN` events or more goes in with one ``COPY`` (psycopg 3's
  ``cursor.copy()``), the same rows. Both under the library's table lock, so
  notification ids still commit in order; a unique violation fails the whole
  batch either way and ends as the library's ``IntegrityError``;
* tables are created one creator at a time (:func:`create_tables`), so workers
  started together on an empty database all start.

The queries of many streams at once (``domain.ports.StreamReader``) are in
``adapters.store.stream_reader``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent, Transcoder
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyApplicationRecorder,
    SQLAlchemyProcessRecorder,
)
from sqlalchemy import Table, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from relengotron.adapters.store.transcoder import OrjsonTranscoder

#: From this many events on, PostgreSQL inserts them with ``COPY`` (below it, the
#: round trip that starts a COPY costs about what it saves).
COPY_MIN = 32

#: The PostgreSQL advisory lock that table creators take (a transaction-scoped one).
SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"relengotron schema").digest()[:8], "big", signed=True)


def create_tables(engine: Engine, tables: Iterable[Table]) -> None:
    """Create the ``tables`` that do not exist yet, one creator at a time.

    On PostgreSQL, two sessions creating the same table at once (several workers
    started together on a fresh database) make one of them fail on the catalog's
    unique index (``pg_type_typname_nsp_index``), ``IF NOT EXISTS`` or not; on SQLite
    the loser of the race between looking and creating sees "already exists". So when
    a table is missing, the creator takes a lock (PostgreSQL: a transaction-scoped
    advisory lock; SQLite: the database's write lock, ``BEGIN IMMEDIATE``), looks again
    and creates what is still missing; the DDL commits as the lock is released. When
    nothing is missing (every start but the first) no lock is taken: opening a store
    never waits for another process's write transaction.
    """
    tables = list(tables)
    with engine.connect() as conn:
        seen = inspect(conn)
        if all(seen.has_table(t.name, schema=t.schema) for t in tables):
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        elif conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        for table in tables:
            table.create(conn, checkfirst=True)


class _SerializedCreate:
    """``create_table`` through :func:`create_tables` (see there why)."""

    datastore: Any
    tables: list[Table]

    def create_table(self) -> None:
        tables = list(self.tables)
        tracking = getattr(self, "tracking_table", None)
        if tracking is not None:
            tables.append(tracking)
        create_tables(self.datastore.engine, tables)


# How each dialect stores an originator id (sqlalchemy_utils.UUIDType):
# 16 raw bytes on SQLite, the native uuid type on PostgreSQL.
_DRIVER_SQL: dict[str, Any] = {
    "sqlite": lambda u: u.bytes,
    "postgresql": lambda u: u,
}


class _BulkInsert:
    """Core executemany instead of ORM unit-of-work inserts."""

    events_record_cls: Any
    _has_autoincrementing_ids: bool

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        self._lock_table(session)  # type: ignore[attr-defined]
        conn = session.connection()
        dialect = conn.dialect.name
        if dialect in _DRIVER_SQL:
            # Straight to the driver's executemany: the column types' Python-side
            # processing (uuid -> bytes on SQLite) is done here, once, cheaply.
            to_id = _DRIVER_SQL[dialect]
            rows = [
                (to_id(as_uuid(e.originator_id)), e.originator_version, e.topic, e.state)
                for e in stored_events
            ]
            name = conn.dialect.identifier_preparer.format_table(table)
            columns = "(originator_id, originator_version, topic, state)"
            if dialect == "postgresql" and len(rows) >= COPY_MIN:
                copy_rows(conn, f"COPY {name} {columns} FROM STDIN", rows)
            else:
                mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
                sql = f"INSERT INTO {name} {columns} VALUES ({mark}, {mark}, {mark}, {mark})"
                conn.exec_driver_sql(sql, rows)
        else:
            session.execute(
                table.insert(),
                [
                    {
                        "originator_id": e.originator_id,
                        "originator_version": e.originator_version,
                        "topic": e.topic,
                        "state": e.state,
                    }
                    for e in stored_events
                ],
            )
        self._notify_channel(session)  # type: ignore[attr-defined]
        return []  # notification ids are not needed by our callers


class _DriverSelect:
    """The log read a page at a time straight from the driver (followers, audits and
    projections read every event this way): the library's ORM query builds an object
    per row, which cost more than decoding the event. The same rows, in the same order,
    with the same filters."""

    events_record_cls: Any

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        with self.transaction(commit=False) as session:  # type: ignore[attr-defined]
            conn = session.connection()
            dialect = conn.dialect.name
            if dialect not in _DRIVER_SQL:  # not reached with our stores
                return super().select_notifications(  # type: ignore[misc]
                    start, limit, stop, topics, inclusive_of_start=inclusive_of_start
                )
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            where: list[str] = []
            params: list[Any] = []
            if start is not None:
                where.append(f"id {'>=' if inclusive_of_start else '>'} {mark}")
                params.append(start)
            if stop is not None:
                where.append(f"id <= {mark}")
                params.append(stop)
            if topics:
                if dialect == "postgresql":
                    where.append(f"topic = ANY({mark})")
                    params.append(list(topics))
                else:
                    where.append(f"topic IN ({', '.join(mark * len(topics))})")
                    params.extend(topics)
            table = conn.dialect.identifier_preparer.format_table(self.events_record_cls.__table__)
            sql = (
                f"SELECT id, originator_id, originator_version, topic, state FROM {table}"
                f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id LIMIT {int(limit)}"
            )
            rows = conn.exec_driver_sql(sql, tuple(params)).fetchall()
        if dialect == "sqlite":
            return [
                Notification(id=i, originator_id=UUID(bytes=bytes(o)), originator_version=v,
                             topic=t, state=bytes(st) if isinstance(st, memoryview) else st)
                for i, o, v, t, st in rows
            ]  # fmt: skip
        return [
            Notification(id=i, originator_id=as_uuid(o), originator_version=v, topic=t,
                         state=bytes(st) if isinstance(st, memoryview) else st)
            for i, o, v, t, st in rows
        ]  # fmt: skip


def copy_rows(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows`` into the table with one PostgreSQL ``COPY``, in the connection's
    transaction (the table lock taken before holds). A driver error is raised as
    SQLAlchemy raises it from ``executemany`` (``sqlalchemy.exc.IntegrityError`` for a
    duplicate, which the library's transaction turns into its ``IntegrityError``)."""
    import psycopg

    raw: Any = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc


class BulkApplicationRecorder(
    _SerializedCreate, _DriverSelect, _BulkInsert, SQLAlchemyApplicationRecorder
):
    pass


class BulkProcessRecorder(_SerializedCreate, _DriverSelect, _BulkInsert, SQLAlchemyProcessRecorder):
    """Events plus tracking positions (followers such as the decider record both at once).

    eventsourcing-sqlalchemy 1.0.1's tracking recorder keeps ``schema_name`` to
    itself, so the events table of a process recorder would silently be the one
    in the default schema. The events record class is defined again here with
    the schema (same naming as the library's aggregate recorder).
    """

    def __init__(
        self,
        datastore: Any,
        *,
        events_table_name: str,
        tracking_table_name: str,
        schema_name: str | None = None,
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
            schema_name=schema_name,
        )
        if schema_name and self.events_record_cls.__table__.schema != schema_name:
            self.schema_name = schema_name
            old = self.events_record_cls.__table__
            name = "".join(
                part.capitalize()
                for part in schema_name.split("_") + events_table_name.rstrip("s").split("_")
            )
            self.events_record_cls = self.datastore.define_record_class(
                cls_name=name,
                table_name=events_table_name,
                schema_name=schema_name,
                base_cls=self.datastore.base_stored_event_record_cls,
            )
            self.tables = [t for t in self.tables if t is not old]
            self.tables.append(self.events_record_cls.__table__)


class RelengFactory(SQLAlchemyFactory):
    """The one place every reader and writer gets its recorders and transcoder from
    (``adapters.store.store.open_app`` names it as the persistence module)."""

    application_recorder_class = BulkApplicationRecorder
    process_recorder_class = BulkProcessRecorder

    def transcoder(self) -> Transcoder:
        # eventsourcing's JSON format, with orjson (adapters.store.transcoder);
        # TRANSCODER_TOPIC still chooses another one.
        if self.env.get(self.TRANSCODER_TOPIC):
            return super().transcoder()
        return OrjsonTranscoder()


def as_uuid(value: Any) -> UUID:
    """An originator id as the driver gives it (a UUID, or its text), as a UUID."""
    return value if isinstance(value, UUID) else UUID(str(value))
