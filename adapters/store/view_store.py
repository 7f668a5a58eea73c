"""The followers' views in tables: one JSON document per (view, kind, key).

``relengotron_view_docs`` holds the documents of each folded view (the decider's
gating view, the composer's artifacts view; ``projections.folds.view_docs``),
``relengotron_view_meta`` each view's format and the log position it reached.
They live beside the event store (same database, same schema) and are written in
the follower's own transaction, with its tracked position and the events it
recorded (``RelengApp.save_tracked``): the stored view is always the view at the
follower's position. A change of format only costs one fold from the start.

Stores written before kept a pickled view in ``relengotron_views``; that table is
dropped when the view tables are first opened (it was only a cache).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    inspect,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from relengotron.adapters.store.persistence import create_tables
from relengotron.adapters.store.table_writer import TableWriter
from relengotron.projections.folds.view_docs import ViewMeta

CHUNK = 500
_OLD_PICKLES = "relengotron_views"


class SQLViewStore:
    """``projections.folds.view_docs.DocStore`` in the store's database."""

    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore
        self.schema = recorder.events_record_cls.__table__.schema
        md = MetaData(schema=self.schema)
        self.docs = Table(
            "relengotron_view_docs",
            md,
            Column("view", String(64), primary_key=True),
            Column("kind", String(32), primary_key=True),
            Column("key", Text, primary_key=True),
            Column("doc", LargeBinary, nullable=False),
        )
        self.meta_table = Table(
            "relengotron_view_meta",
            md,
            Column("view", String(64), primary_key=True),
            Column("format", String(200), nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("tracked", BigInteger, nullable=False),
            Column("saved_at", DateTime(timezone=True), nullable=False),
        )
        create_tables(self.datastore.engine, [self.docs, self.meta_table])
        self._drop_old_pickles()
        d = self.docs
        self._writer: TableWriter | None = None  # made with the first connection
        # Built once: the statement is compiled once and cached (loads are many and small).
        self._select = select(d.c.key, d.c.doc).where(
            d.c.view == bindparam("view"),
            d.c.kind == bindparam("kind"),
            d.c.key.in_(bindparam("keys", expanding=True)),
        )

    def meta(self, view: str) -> ViewMeta | None:
        m = self.meta_table
        q = select(m.c.format, m.c.position, m.c.tracked).where(m.c.view == view)
        with self.datastore.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else ViewMeta(str(row[0]), int(row[1]), int(row[2]))

    def load(self, view: str, kind: str, keys: Collection[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        keys = list(keys)
        with self.datastore.engine.connect() as conn:
            for i in range(0, len(keys), CHUNK):
                params = {"view": view, "kind": kind, "keys": keys[i : i + CHUNK]}
                out.update((k, bytes(doc)) for k, doc in conn.execute(self._select, params))
        return out

    def load_all(self, view: str, kind: str) -> dict[str, bytes]:
        d = self.docs
        q = select(d.c.key, d.c.doc).where(d.c.view == view, d.c.kind == kind)
        with self.datastore.engine.connect() as conn:
            return {k: bytes(doc) for k, doc in conn.execute(q)}

    def write(
        self,
        view: str,
        meta: ViewMeta,
        docs: Mapping[tuple[str, str], bytes | None],
        *,
        reset: bool = False,
    ) -> None:
        d, m = self.docs, self.meta_table
        # Documents that are gone are deleted; the others are written over (an upsert:
        # deleting each one first cost PostgreSQL a scan of the table per chunk).
        gone: dict[str, list[str]] = defaultdict(list)
        for (kind, key), doc in docs.items():
            if doc is None:
                gone[kind].append(key)
        with self.datastore.transaction(commit=True) as session:
            if reset:
                session.execute(d.delete().where(d.c.view == view))
            else:
                for kind, keys in gone.items():
                    for i in range(0, len(keys), CHUNK):
                        session.execute(
                            d.delete().where(
                                d.c.view == view, d.c.kind == kind, d.c.key.in_(keys[i : i + CHUNK])
                            )
                        )
            rows = [
                {"view": view, "kind": kind, "key": key, "doc": doc}
                for (kind, key), doc in docs.items()
                if doc is not None
            ]
            # Driver SQL, COPY on PostgreSQL (SQLAlchemy's rows of parameters were a
            # sixth of deciding a log from its start there, issue 18).
            conn = session.connection()
            if self._writer is None:
                self._writer = TableWriter(conn, d)
            self._writer.rows(conn, rows, upsert=("view", "kind", "key"))
            session.execute(m.delete().where(m.c.view == view))
            session.execute(
                m.insert().values(
                    view=view,
                    format=meta.format,
                    position=meta.position,
                    tracked=meta.tracked,
                    saved_at=datetime.now(UTC),
                )
            )

    def _drop_old_pickles(self) -> None:
        engine = self.datastore.engine
        if inspect(engine).has_table(_OLD_PICKLES, schema=self.schema):
            old = Table(_OLD_PICKLES, MetaData(schema=self.schema))
            with suppress(SQLAlchemyError):  # another process dropped it first
                old.drop(engine, checkfirst=True)
