"""Read models in SQL: the tables and the projector that keeps them (their queries:
``adapters.store.readmodel_queries``).

The tables live beside the event store (same database, same schema), named
``relengotron_rm_*``. The projector follows the log page by page: it reads raw
rows of the topics it folds (``projections.folds.readmodel.TOPICS``), decodes each
state once with orjson (the stored JSON of eventsourcing's transcoder; the
read models use no transcoded field but ``timestamp``, which they ignore),
folds them (``projections.folds.readmodel.ReadModelFold``) and writes the page's rows
and its new position in one transaction. A crash loses at most the page in
flight, which the next run folds again; a second projector running at the same
time loses the race on the position (optimistic check) and rolls back.

A change of the read-model format or of the gating settings they depend on is
noticed (the tracking row keeps a digest of both) and the tables are rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import (
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from relengotron.adapters.store.readmodel_tables import (
    JSON_COLUMNS,
    NAME,
    ReadModelTables,
    chunks,
    decode_row,
)
from relengotron.adapters.store.table_writer import TableWriter
from relengotron.domain.application import RelengApp
from relengotron.domain.message import RECEIVED_TOPIC as _RECEIVED
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.readmodel import TOPICS, ReadModelFold
from relengotron.projections.folds.readmodel_rows import Changes, Name

log = logging.getLogger(__name__)

_MESSAGE_FIELDS = ("key", "topic", "family", "status", "sent_at")  # what the fold reads

# Bump when a table or the fold changes: stored read models are rebuilt.
# 2: results keep system_architecture/system_variant and the ResultsDB record, waivers
#    the WaiverDB record; waivers about a subject type alias count for the type.
# 3: builds keep their creation time (``created``, for dated rules in the decision API).
# 4: a compose's rebuilt ResultsDB record names it by ``productmd.compose.id`` too; a
#    finished sync to the master mirror is a result on its compose.
FORMAT = 4
PAGE = 5000
RACES = 5  # pages lost to another projector in one run before giving up


@dataclass
class ProjectReport:
    position: int = 0
    start: int = 0
    events: int = 0
    pages: int = 0
    rows: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    reason: str | None = None

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "start": self.start,
            "events": self.events,
            "pages": self.pages,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "rebuilt": self.rebuilt,
            "rebuild_reason": self.reason,
        }


class _SQLLookup:
    """What the fold asks about earlier pages, answered from the tables."""

    def __init__(self, tables: ReadModelTables, conn: Connection) -> None:
        self.t = tables.t
        self.conn = conn

    def names(self, ids_: Iterable[bytes]) -> dict[bytes, Name]:
        n = self.t["names"]
        out: dict[bytes, Name] = {}
        for chunk in chunks(list(ids_)):
            q = select(n.c.id, n.c.kind, n.c.subject_type, n.c.identifier).where(n.c.id.in_(chunk))
            for oid, kind, typ, ident in self.conn.execute(q):
                out[bytes(oid)] = (kind, typ, ident)
        return out

    def builds(self, nvrs: Iterable[str]) -> dict[str, dict[str, Any]]:
        b = self.t["builds"]
        out: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(nvrs)):
            for row in self.conn.execute(select(b).where(b.c.nvr.in_(chunk))):
                d = decode_row(row._mapping)
                d["tags"] = d["tags"] or []
                out[d["nvr"]] = d
        return out

    def actions(self, aggregate_ids: Iterable[bytes]) -> dict[bytes, dict[str, Any]]:
        a = self.t["actions"]
        out: dict[bytes, dict[str, Any]] = {}
        for chunk in chunks(list(aggregate_ids)):
            for row in self.conn.execute(select(a).where(a.c.aggregate.in_(chunk))):
                d = decode_row(row._mapping)
                d["aggregate"] = bytes(d["aggregate"])
                out[d["aggregate"]] = d
        return out


class Projector:
    """Keeps the read models up to date with the log (``relengotron project``)."""

    def __init__(
        self,
        app: RelengApp,
        config: GatingConfig,
        *,
        page_size: int = PAGE,
        progress: Callable[[int, int | None, int | None], None] | None = None,
    ) -> None:
        self.tables = ReadModelTables.of(app)
        self.config = config
        self.page_size = page_size
        self.progress = progress
        self.digest = hashlib.sha256(f"{FORMAT}\n{config!r}".encode()).hexdigest()[:32]
        self._read_sql: str | None = None
        self._inserts: dict[str, TableWriter] | None = None

    def _sql(self, conn: Connection) -> str:
        if self._read_sql is None:
            name = conn.dialect.identifier_preparer.format_table(self.tables.events)
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            topics = ", ".join("'" + t.replace("'", "''") + "'" for t in TOPICS)
            state = "state"
            if conn.dialect.name == "sqlite":
                # A received message's state holds its whole body; the read models
                # want five fields of it: SQLite's JSON functions pick them out in C.
                fields = ", ".join(f"'{f}', json_extract(s, '$.{f}')" for f in _MESSAGE_FIELDS)
                state = (
                    f"CASE WHEN topic = '{_RECEIVED}' THEN "
                    f"(SELECT json_object({fields}) FROM (SELECT CAST(state AS TEXT) AS s)) "
                    "ELSE state END"
                )
            self._read_sql = (
                f"SELECT id, originator_id, originator_version, topic, {state} FROM {name} "
                f"WHERE id > {mark} AND topic IN ({topics}) ORDER BY id LIMIT {mark}"
            )
        return self._read_sql

    def head(self) -> int:
        """The last position of the log."""
        with self.tables.engine.connect() as conn:
            name = conn.dialect.identifier_preparer.format_table(self.tables.events)
            return int(conn.exec_driver_sql(f"SELECT MAX(id) FROM {name}").scalar() or 0)

    def rebuild(self) -> ProjectReport:
        """Drop the read models and fold the whole log again."""
        self.tables.drop()
        report = self.run()
        report.rebuilt, report.reason = True, "asked for"
        return report

    def run(self, *, until: int | None = None) -> ProjectReport:
        """Fold everything recorded since the tracked position (up to ``until``).

        Another projector folding the same store meanwhile (``serve`` beside ``ingest``)
        wins some pages: this one's page is rolled back and it goes on from where the
        other got to (up to ``RACES`` times, then :class:`ConcurrentProjection`)."""
        for attempt in range(RACES):
            try:
                return self._run(until=until)
            except ConcurrentProjection:
                if attempt == RACES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self, *, until: int | None = None) -> ProjectReport:
        started = time.perf_counter()
        self.tables.create()
        report = ProjectReport()
        with self.tables.engine.connect() as conn:
            position, digest = self.tables.tracked(conn)
        if digest is not None and digest != self.digest:
            self.tables.drop()
            self.tables.create()
            position, digest = 0, None
            report.rebuilt = True
            report.reason = "read-model format or gating settings changed"
        report.start = position
        # From the start of a log of more than a page, every row is new: the indexes
        # are built once, at the end (a round on an empty log leaves them alone).
        deferred = position == 0 and self.head() > self.page_size
        with self.tables.engine.begin() as conn:
            if deferred:
                self.tables.drop_indexes(conn)
            elif not self.tables.indexed:  # once a process: a fold that stopped left them out
                self.tables.ensure_indexes(conn)
        try:
            self._fold(report, position, until)
        finally:
            if deferred:
                with self.tables.engine.begin() as conn:
                    self.tables.ensure_indexes(conn)
        report.seconds = time.perf_counter() - started
        return report

    def _fold(self, report: ProjectReport, position: int, until: int | None) -> None:
        head = self.head() if self.progress else 0
        with self.tables.engine.connect() as conn:
            fold = ReadModelFold(
                self.config, _SQLLookup(self.tables, conn), from_empty=position == 0
            )
            while until is None or position < until:
                # One transaction per page: the rows read, the lookups, the rows
                # written and the new position all belong to one snapshot.
                try:
                    with conn.begin():
                        page = self._page(conn, position, until)
                        if not page:
                            break
                        fold.prefetch(page)
                        for pos, oid, version, topic, state in page:
                            fold.apply(pos, oid, version, topic, state)
                        new_position = page[-1][0]
                        changes = fold.take()
                        self._write(conn, changes, position, new_position)
                except IntegrityError as exc:
                    # a row of this page is there already: another projector wrote
                    # the page first (its position moved), else a real error
                    with self.tables.engine.connect() as other:
                        moved = self.tables.tracked(other)[0] != position
                    if moved:
                        raise ConcurrentProjection(
                            f"another projector moved the read models past {position}"
                        ) from exc
                    raise
                report.events += len(page)
                report.rows += len(changes)
                report.pages += 1
                position = new_position
                if self.progress:
                    self.progress(report.events, position - report.start, head - report.start)
            if until is not None and position < until:
                # Everything up to ``until`` is folded (the rest are topics the read
                # models do not read): say so, so that "tracked position >= the log's
                # head" means "up to date" (the API's catch-up compares the two).
                with conn.begin():
                    self._write(conn, Changes(), position, until)
                position = until
        report.position = position

    def _page(
        self, conn: Connection, after: int, until: int | None
    ) -> list[tuple[int, bytes, int, str, dict[str, Any]]]:
        rows = conn.exec_driver_sql(self._sql(conn), (after, self.page_size)).fetchall()
        loads = orjson.loads
        page = []
        for pos, oid, version, topic, state in rows:
            if until is not None and pos > until:
                break
            oid = oid.bytes if isinstance(oid, UUID) else bytes(oid)
            page.append((pos, oid, version, topic, loads(state)))
        return page

    def _write(self, conn: Connection, changes: Changes, old: int, new: int) -> None:
        t = self.tables.t
        if self._inserts is None:
            self._inserts = {
                name: TableWriter(conn, table, JSON_COLUMNS) for name, table in t.items()
            }
        for table, rows in changes.rows.items():
            self._inserts[table].rows(conn, rows)
        if changes.builds:
            self._inserts["builds"].rows(conn, changes.builds.values(), upsert="nvr")
        if changes.actions:
            self._inserts["actions"].rows(conn, changes.actions.values(), upsert="key")
        tr = t["tracking"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if old == 0 and not conn.execute(select(tr.c.name).where(tr.c.name == NAME)).first():
            conn.execute(
                tr.insert().values(name=NAME, position=new, digest=self.digest, updated=now)
            )
            return
        done = conn.execute(
            tr.update()
            .where(tr.c.name == NAME, tr.c.position == old)
            .values(position=new, digest=self.digest, updated=now)
        )
        if done.rowcount != 1:
            raise ConcurrentProjection(f"another projector moved the read models past {old}")


class ConcurrentProjection(RuntimeError):
    """Another projector wrote the same page first (this one's page is rolled back)."""


class ProjectorThread(threading.Thread):
    """Keeps the read models current inside a long-running process (``serve``).

    Runs the projector every ``interval`` seconds until stopped. Another process
    projecting the same store at the same time is not an error: the loser of a
    page's race rolls back and catches up on the next round.
    """

    def __init__(self, projector: Projector, interval: float = 1.0) -> None:
        super().__init__(name="relengotron-projector", daemon=True)
        self.projector = projector
        self.interval = interval
        self.stopped = threading.Event()
        self.rounds = 0
        self.last_error: str | None = None

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.projector.run()
                self.last_error = None
            except ConcurrentProjection:
                pass
            except Exception as exc:  # keep serving; say why the read models lag
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("read models not updated: %s", self.last_error)
            self.rounds += 1
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
