"""Saved read models: a folded view and the log position it reached, per key.

A cache beside the event store (same database, same schema): commands resume
folding from the saved position instead of from the start of the log. Losing
it, or a format change, only costs one full fold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, MetaData, String, Table

from adapters.persistence import create_tables


class SQLViewStore:
    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore
        schema = recorder.events_record_cls.__table__.schema
        self.table = Table(
            "relengotron_views",
            MetaData(schema=schema),
            Column("key", String(200), primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("saved_at", DateTime(timezone=True), nullable=False),
            Column("data", LargeBinary, nullable=False),
        )
        create_tables(self.datastore.engine, [self.table])

    def load(self, key: str) -> tuple[int, bytes] | None:
        with self.datastore.engine.connect() as conn:
            row = conn.execute(self.table.select().where(self.table.c.key == key)).first()
        if row is None:
            return None
        return int(row.position), bytes(row.data)

    def save(self, key: str, position: int, data: bytes) -> None:
        with self.datastore.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.key == key))
            conn.execute(
                self.table.insert().values(
                    key=key, position=position, saved_at=datetime.now(UTC), data=data
                )
            )
