"""The read-model tables (``relengotron_rm_*``), beside the event store.

Their rows are written by the projector (``adapters.store.readmodels``) and read by the
queries (``adapters.store.readmodel_queries``). JSON columns are text, encoded with orjson.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, DropIndex

from relengotron.adapters.store.persistence import SCHEMA_LOCK, create_tables
from relengotron.domain.application import RelengApp

NAME = "readmodels"  # the tracking row
# The schemas whose query indexes this process made sure of, by engine.
_INDEXED: weakref.WeakKeyDictionary[Engine, set[str | None]] = weakref.WeakKeyDictionary()
CHUNK = 500
JSON_COLUMNS = {"tags", "decision", "withdrawn", "params", "data", "record"}


def _tables(schema: str | None) -> dict[str, Table]:
    md = MetaData(schema=schema)
    p = "relengotron_rm_"
    t = {
        "tracking": Table(
            p + "tracking",
            md,
            Column("name", String(64), primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("digest", String(64), nullable=False),
            Column("updated", String(40)),
        ),
        "names": Table(
            p + "names",
            md,
            Column("id", LargeBinary(16), primary_key=True),
            Column("kind", String(16), nullable=False),
            Column("subject_type", Text, nullable=False),
            Column("identifier", Text, nullable=False),
        ),
        "messages": Table(
            p + "messages",
            md,
            Column("key", Text, primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("topic", Text, nullable=False),
            Column("family", Text),
            Column("status", Text),
            Column("at", Text),
        ),
        "results": Table(
            p + "results",
            md,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("subject_type", Text, nullable=False),
            Column("subject_identifier", Text, nullable=False),
            Column("testcase", Text, nullable=False),
            Column("scenario", Text),
            Column("outcome", Text, nullable=False),
            Column("result_id", Text),
            Column("stage", Text),
            Column("pipeline", Text),
            Column("ref_url", Text),
            Column("note", Text),
            Column("origin", Text),
            Column("at", Text),
            Column("msg", Text),
            Column("event", Text, nullable=False),
            Column("system_architecture", Text),
            Column("system_variant", Text),
            Column("record", Text),  # ResultsDB's record (projections.folds.greenwave_records)
            # The record's submit_time as sortable text (``submit_sort_time``): ResultsDB's
            # API pages and orders by it.
            Column("submit_time", Text),
        ),
        # Each value of each result's data (ResultsDB's result_data): what data filters
        # are looked up by. Values cut to VALUE_CHARS (an index entry has a size limit):
        # a match here is checked on the whole record.
        "result_data": Table(
            p + "result_data",
            md,
            Column("position", BigInteger, nullable=False),
            Column("key", Text, nullable=False),
            Column("value", Text, nullable=False),
        ),
        "waivers": Table(
            p + "waivers",
            md,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("subject_type", Text, nullable=False),
            Column("subject_identifier", Text, nullable=False),
            Column("testcase", Text, nullable=False),
            Column("scenario", Text),
            Column("waived", Boolean, nullable=False),
            Column("waiver_id", Text),
            Column("product_version", Text),
            Column("username", Text),
            Column("comment", Text),
            Column("at", Text),
            Column("msg", Text),
            Column("event", Text, nullable=False),
            Column("record", Text),  # WaiverDB's record (projections.folds.greenwave_records)
        ),
        "builds": Table(
            p + "builds",
            md,
            Column("nvr", Text, primary_key=True),
            Column("package", Text),
            Column("owner", Text),
            Column("koji_id", BigInteger),
            Column("state", Text),
            Column("change", Text),
            Column("tags", Text),
            Column("gate", Text),
            Column("context", Text),
            Column("verdict", Text),
            Column("decided_at", Text),
            Column("decision", Text),
            Column("withdrawn", Text),
            Column("location", Text),
            Column("promoted", Boolean),
            Column("first_seen", Text),
            Column("updated_at", Text),
            Column("created", Text),  # the creation time (projections.folds.gating_state)
            Column("position", BigInteger),
        ),
        "history": Table(
            p + "history",
            md,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("nvr", Text, nullable=False),
            Column("at", Text),
            Column("kind", String(32), nullable=False),
            Column("summary", Text, nullable=False),
            Column("msg", Text),
            Column("event", Text, nullable=False),
            Column("data", Text),
        ),
        "decisions": Table(
            p + "decisions",
            md,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("nvr", Text, nullable=False),
            Column("context", Text),
            Column("verdict", Text, nullable=False),
            Column("previous", Text),
            Column("at", Text),
            Column("trigger", Text),
            Column("policy_set_hash", Text),
            Column("fingerprint", Text),
            Column("summary", Text),
            Column("event", Text, nullable=False),
            Column("decision", Text, nullable=False),
        ),
        "actions": Table(
            p + "actions",
            md,
            Column("key", Text, primary_key=True),
            Column("aggregate", LargeBinary(16), nullable=False, unique=True),
            Column("nvr", Text),
            Column("kind", Text, nullable=False),
            Column("params", Text),
            Column("reason", Text),
            Column("gate", Text),
            Column("trigger", Text),
            Column("requested_at", Text),
            Column("outcome", Text),
            Column("detail", Text),
            Column("done_at", Text),
            Column("position", BigInteger),
        ),
    }
    Index(p + "results_subject", t["results"].c.subject_identifier)
    Index(p + "results_time", t["results"].c.submit_time, t["results"].c.position)
    Index(p + "result_data_value", t["result_data"].c.key, t["result_data"].c.value)
    Index(p + "waivers_subject", t["waivers"].c.subject_identifier)
    Index(p + "history_nvr", t["history"].c.nvr, t["history"].c.position)
    Index(p + "decisions_nvr", t["decisions"].c.nvr, t["decisions"].c.position)
    Index(p + "builds_gate", t["builds"].c.gate, t["builds"].c.position)
    Index(p + "actions_nvr", t["actions"].c.nvr)
    return t


class ReadModelTables:
    """The read-model tables of one store."""

    def __init__(self, engine: Engine, events: Table, followers: Table | None = None) -> None:
        self.engine = engine
        self.events = events
        self.followers = followers  # the event store's tracking table (decider, composer)
        self.schema = events.schema
        self.t = _tables(self.schema)
        self._created = False

    @classmethod
    def of(cls, app: RelengApp) -> ReadModelTables:
        recorder: Any = app.recorder
        tracking = getattr(recorder, "tracking_record_cls", None)
        return cls(
            recorder.datastore.engine,
            recorder.events_record_cls.__table__,
            tracking.__table__ if tracking is not None else None,
        )

    def create(self) -> None:
        if not self._created:
            md = next(iter(self.t.values())).metadata
            create_tables(self.engine, md.sorted_tables)
            self._created = True

    def secondary_indexes(self) -> list[Index]:
        """The indexes the queries use, apart from keys and unique constraints (the
        fold's own lookups go by key)."""
        return [
            i for table in self.t.values() for i in sorted(table.indexes, key=lambda i: str(i.name))
        ]

    @property
    def indexed(self) -> bool:
        """This process made sure of the query indexes (every projector of the store
        shares it: the API makes one for each write it answers)."""
        return self.schema in _INDEXED.get(self.engine, ())

    def drop_indexes(self, conn: Connection) -> None:
        """Drop the secondary indexes: a fold from the start writes every row once, and
        building each index once at the end (:meth:`ensure_indexes`) costs less than
        keeping it up to date row by row."""
        _INDEXED.get(self.engine, set()).discard(self.schema)
        for index in self.secondary_indexes():
            conn.execute(DropIndex(index, if_exists=True))

    def ensure_indexes(self, conn: Connection) -> None:
        """Create the secondary indexes that are missing (after a fold from the start, or
        one that stopped midway): on tables of the current format only (an older
        table may lack a column; the projector rebuilds it first). On PostgreSQL
        under the lock table creators take: two sessions creating one index at once
        collide in the catalog, ``IF NOT EXISTS`` or not
        (``adapters.store.persistence.create_tables``)."""
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        seen = inspect(conn)
        for index in self.secondary_indexes():
            table = index.table
            assert table is not None
            names = {i["name"] for i in seen.get_indexes(table.name, schema=table.schema)}
            if index.name not in names:
                conn.execute(CreateIndex(index, if_not_exists=True))
        _INDEXED.setdefault(self.engine, set()).add(self.schema)

    def drop(self) -> None:
        _INDEXED.get(self.engine, set()).discard(self.schema)
        md = next(iter(self.t.values())).metadata
        md.drop_all(self.engine, checkfirst=True)
        self._created = False

    def tracked(self, conn: Connection) -> tuple[int, str | None]:
        tr = self.t["tracking"]
        row = conn.execute(select(tr.c.position, tr.c.digest).where(tr.c.name == NAME)).first()
        return (int(row[0]), row[1]) if row else (0, None)


def decode_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in JSON_COLUMNS.intersection(out):
        if out[k] is not None:
            out[k] = orjson.loads(out[k])
    return out


def chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
