"""Read models in SQL: the tables, the projector that keeps them, and their queries.

The tables live beside the event store (same database, same schema), named
``relengotron_rm_*``. The projector follows the log page by page: it reads raw
rows of the topics it folds (``projections.readmodel.TOPICS``), decodes each
state once with orjson (the stored JSON of eventsourcing's transcoder; the
read models use no transcoded field but ``timestamp``, which they ignore),
folds them (``projections.readmodel.ReadModelFold``) and writes the page's rows
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

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
    select,
)
from sqlalchemy.engine import Connection, Engine

from domain.application import RelengApp
from policies.snapshot import ResultView, WaiverView
from projections.config import GatingConfig
from projections.gating import package_of
from projections.queries import Subject, SubjectFacts
from projections.readmodel import (
    TOPICS,
    Changes,
    Name,
    ReadModelFold,
)

log = logging.getLogger(__name__)

_RECEIVED = "domain.message:InboundMessage.Received"
_MESSAGE_FIELDS = ("key", "topic", "family", "status", "sent_at")  # what the fold reads

FORMAT = 1  # bump when a table or the fold changes: stored read models are rebuilt
NAME = "readmodels"
PAGE = 5000
CHUNK = 500
_JSON_COLUMNS = {"tags", "decision", "withdrawn", "params", "data"}


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
    Index(p + "waivers_subject", t["waivers"].c.subject_identifier)
    Index(p + "history_nvr", t["history"].c.nvr, t["history"].c.position)
    Index(p + "decisions_nvr", t["decisions"].c.nvr, t["decisions"].c.position)
    Index(p + "builds_gate", t["builds"].c.gate, t["builds"].c.position)
    Index(p + "actions_nvr", t["actions"].c.nvr)
    return t


# ---------------------------------------------------------------- the tables


class ReadModelTables:
    """The read-model tables of one store."""

    def __init__(self, engine: Engine, events: Table) -> None:
        self.engine = engine
        self.events = events
        self.schema = events.schema
        self.t = _tables(self.schema)
        self._created = False

    @classmethod
    def of(cls, app: RelengApp) -> ReadModelTables:
        recorder: Any = app.recorder
        return cls(recorder.datastore.engine, recorder.events_record_cls.__table__)

    def create(self) -> None:
        if not self._created:
            md = next(iter(self.t.values())).metadata
            md.create_all(self.engine, checkfirst=True)
            self._created = True

    def drop(self) -> None:
        md = next(iter(self.t.values())).metadata
        md.drop_all(self.engine, checkfirst=True)
        self._created = False

    def tracked(self, conn: Connection) -> tuple[int, str | None]:
        tr = self.t["tracking"]
        row = conn.execute(select(tr.c.position, tr.c.digest).where(tr.c.name == NAME)).first()
        return (int(row[0]), row[1]) if row else (0, None)


# ---------------------------------------------------------------- projector


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
        for chunk in _chunks(list(ids_)):
            q = select(n.c.id, n.c.kind, n.c.subject_type, n.c.identifier).where(n.c.id.in_(chunk))
            for oid, kind, typ, ident in self.conn.execute(q):
                out[bytes(oid)] = (kind, typ, ident)
        return out

    def builds(self, nvrs: Iterable[str]) -> dict[str, dict[str, Any]]:
        b = self.t["builds"]
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(nvrs)):
            for row in self.conn.execute(select(b).where(b.c.nvr.in_(chunk))):
                d = _decode_row(row._mapping)
                d["tags"] = d["tags"] or []
                out[d["nvr"]] = d
        return out

    def actions(self, aggregate_ids: Iterable[bytes]) -> dict[bytes, dict[str, Any]]:
        a = self.t["actions"]
        out: dict[bytes, dict[str, Any]] = {}
        for chunk in _chunks(list(aggregate_ids)):
            for row in self.conn.execute(select(a).where(a.c.aggregate.in_(chunk))):
                d = _decode_row(row._mapping)
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
        self._inserts: dict[str, _Insert] | None = None

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
        """Fold everything recorded since the tracked position (up to ``until``)."""
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
        head = self.head() if self.progress else 0
        with self.tables.engine.connect() as conn:
            fold = ReadModelFold(
                self.config, _SQLLookup(self.tables, conn), from_empty=position == 0
            )
            while until is None or position < until:
                # One transaction per page: the rows read, the lookups, the rows
                # written and the new position all belong to one snapshot.
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
                report.events += len(page)
                report.rows += len(changes)
                report.pages += 1
                position = new_position
                if self.progress:
                    self.progress(report.events, position - report.start, head - report.start)
        report.position = position
        report.seconds = time.perf_counter() - started
        return report

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
            self._inserts = {name: _Insert(conn, table) for name, table in t.items()}
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


class _Insert:
    """One table's INSERT (or upsert) as driver SQL, rows as tuples: SQLAlchemy's
    per-row parameter processing would cost as much as the rest of the fold."""

    def __init__(self, conn: Connection, table: Table) -> None:
        self.columns = [c.name for c in table.columns]
        self.json = [i for i, c in enumerate(self.columns) if c in _JSON_COLUMNS]
        self.dialect = conn.dialect.name
        preparer = conn.dialect.identifier_preparer
        self.quote = preparer.quote
        cols = ", ".join(self.quote(c) for c in self.columns)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        values = ", ".join([mark] * len(self.columns))
        self.insert = f"INSERT INTO {preparer.format_table(table)} ({cols}) VALUES ({values})"

    def upsert_sql(self, key: str) -> str:
        if self.dialect == "sqlite":
            return self.insert.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
        updates = ", ".join(
            f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in self.columns if c != key
        )
        return f"{self.insert} ON CONFLICT ({self.quote(key)}) DO UPDATE SET {updates}"

    def rows(
        self, conn: Connection, rows: Iterable[dict[str, Any]], upsert: str | None = None
    ) -> None:
        dumps = orjson.dumps
        out = []
        for row in rows:
            values = [row[c] for c in self.columns]
            for i in self.json:
                if values[i] is not None:
                    values[i] = dumps(values[i]).decode()
            out.append(tuple(values))
        if out:
            conn.exec_driver_sql(self.upsert_sql(upsert) if upsert else self.insert, out)


def _decode_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in _JSON_COLUMNS.intersection(out):
        if out[k] is not None:
            out[k] = orjson.loads(out[k])
    return out


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---------------------------------------------------------------- queries


class SQLReadModel:
    """``projections.queries.ReadModel`` over the read-model tables."""

    def __init__(self, tables: ReadModelTables, config: GatingConfig) -> None:
        self.tables = tables
        self.t = tables.t
        self.engine = tables.engine
        self.config = config
        self._fact_sql: _FactSQL | None = None
        tables.create()

    @classmethod
    def of(cls, app: RelengApp, config: GatingConfig) -> SQLReadModel:
        return cls(ReadModelTables.of(app), config)

    def position(self) -> int:
        with self.engine.connect() as conn:
            return self.tables.tracked(conn)[0]

    def subject_facts(
        self, subjects: Sequence[Subject], when: str | None = None
    ) -> dict[Subject, SubjectFacts]:
        # The decision API's hot path: prepared driver-level SQL (statement building
        # costs more than SQLite's own work here), one query per table and chunk.
        wanted = set(subjects)
        idents = sorted({ident for _, ident in wanted})
        results: dict[Subject, list[Any]] = {s: [] for s in wanted}
        waivers: dict[Subject, list[Any]] = {s: [] for s in wanted}
        builds: dict[str, Any] = {}
        nvrs = sorted({i for t, i in wanted if t == "koji_build"})
        with self.engine.connect() as conn:
            sql = self._sql(conn)
            for chunk in _chunks(idents):
                params = (*chunk, when) if when is not None else tuple(chunk)
                for row in conn.exec_driver_sql(sql.results(len(chunk), when), params):
                    key = (row[1], row[2])
                    if key in results:
                        results[key].append(row)
                for row in conn.exec_driver_sql(sql.waivers(len(chunk), when), params):
                    key = (row[1], row[2])
                    if key in waivers:
                        waivers[key].append(row)
            for chunk in _chunks(nvrs):
                rows = conn.exec_driver_sql(sql.first_seen(len(chunk)), tuple(chunk))
                builds.update((nvr, first) for nvr, first in rows)
            conn.rollback()
        out: dict[Subject, SubjectFacts] = {}
        for key in wanted:
            typ, ident = key
            rs, ws = results[key], waivers[key]
            first = builds.get(ident) if typ == "koji_build" else None
            times = [x[_RESULT_AT] for x in rs if x[_RESULT_AT]]
            times += [x[_WAIVER_AT] for x in ws if x[_WAIVER_AT]]
            if first is None and times:
                first = min(times)
            if when is not None and first is not None and first > when:
                first = None
            out[key] = SubjectFacts(
                subject_type=typ,
                subject_identifier=ident,
                known=bool(rs or ws or (typ == "koji_build" and ident in builds)),
                first_seen=first,
                package=package_of(ident) if typ == "koji_build" else None,
                results=tuple(_result_view(x) for x in rs),
                waivers=tuple(_waiver_view(x) for x in ws),
                result_records=tuple(_result_record(x) for x in rs),
                waiver_records=tuple(_waiver_record(x) for x in ws),
            )
        return out

    def _sql(self, conn: Connection) -> _FactSQL:
        if self._fact_sql is None:
            self._fact_sql = _FactSQL(conn, self.t)
        return self._fact_sql

    def _build_dict(self, row: Any) -> dict[str, Any]:
        d = _decode_row(row._mapping)
        tags = set(d.pop("tags") or [])
        if d.get("location"):
            tags -= {self.config.pending_tag, self.config.quarantine_tag}
            tags.add(d["location"])
        d["tags"] = sorted(tags)
        d["promoted"] = bool(d["promoted"])
        return d

    def build(self, nvr: str) -> dict[str, Any] | None:
        b = self.t["builds"]
        with self.engine.connect() as conn:
            row = conn.execute(select(b).where(b.c.nvr == nvr)).first()
        return self._build_dict(row) if row is not None else None

    def build_history(self, nvr: str) -> list[dict[str, Any]]:
        h = self.t["history"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(h).where(h.c.nvr == nvr).order_by(h.c.position)).all()
        return [_decode_row(r._mapping) for r in rows]

    def decisions(
        self, nvr: str | None = None, *, limit: int = 50, when: str | None = None
    ) -> list[dict[str, Any]]:
        d = self.t["decisions"]
        q = select(d)
        if nvr is not None:
            q = q.where(d.c.nvr == nvr)
        if when is not None:
            q = q.where(d.c.at <= when)
        q = q.order_by(d.c.position.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_decode_row(r._mapping) for r in conn.execute(q)]

    def builds_by_gate(self, gate: str, *, limit: int = 200) -> list[dict[str, Any]]:
        b = self.t["builds"]
        q = select(b).where(b.c.gate == gate).order_by(b.c.position.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [self._build_dict(r) for r in conn.execute(q)]

    def actions(self, nvr: str) -> list[dict[str, Any]]:
        a = self.t["actions"]
        q = select(a).where(a.c.nvr == nvr).order_by(a.c.requested_at, a.c.key)
        with self.engine.connect() as conn:
            rows = [_decode_row(r._mapping) for r in conn.execute(q)]
        for row in rows:
            row.pop("aggregate", None)
        return rows

    def messages(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        m = self.t["messages"]
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                for row in conn.execute(select(m).where(m.c.key.in_(chunk))):
                    out[row.key] = dict(row._mapping)
        return out


# Column order of the prepared fact queries (``_FactSQL``).
RESULT_COLUMNS = (
    "position", "subject_type", "subject_identifier", "testcase", "scenario", "outcome",
    "result_id", "stage", "pipeline", "ref_url", "note", "origin", "at", "msg", "event",
)  # fmt: skip
WAIVER_COLUMNS = (
    "position", "subject_type", "subject_identifier", "testcase", "scenario", "waived",
    "waiver_id", "product_version", "username", "comment", "at", "msg", "event",
)  # fmt: skip
_RESULT_AT = RESULT_COLUMNS.index("at")
_WAIVER_AT = WAIVER_COLUMNS.index("at")


class _FactSQL:
    """The fact queries as driver SQL, per dialect, for n identifiers."""

    def __init__(self, conn: Connection, t: dict[str, Table]) -> None:
        fmt = conn.dialect.identifier_preparer.format_table
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.names = {k: fmt(t[k]) for k in ("results", "waivers", "builds")}
        self._cache: dict[tuple[str, int, bool], str] = {}

    def _marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def _facts(self, table: str, columns: tuple[str, ...], n: int, when: str | None) -> str:
        key = (table, n, when is not None)
        sql = self._cache.get(key)
        if sql is None:
            sql = (
                f"SELECT {', '.join(columns)} FROM {self.names[table]} "
                f"WHERE subject_identifier IN ({self._marks(n)})"
                + (f" AND at <= {self.mark}" if when is not None else "")
                + " ORDER BY position"
            )
            self._cache[key] = sql
        return sql

    def results(self, n: int, when: str | None) -> str:
        return self._facts("results", RESULT_COLUMNS, n, when)

    def waivers(self, n: int, when: str | None) -> str:
        return self._facts("waivers", WAIVER_COLUMNS, n, when)

    def first_seen(self, n: int) -> str:
        key = ("builds", n, False)
        sql = self._cache.get(key)
        if sql is None:
            sql = (
                f"SELECT nvr, first_seen FROM {self.names['builds']} "
                f"WHERE nvr IN ({self._marks(n)})"
            )
            self._cache[key] = sql
        return sql


def _result_view(x: Any) -> ResultView:
    return ResultView(
        testcase=x[3],
        outcome=x[5],
        subject_type=x[1],
        subject_identifier=x[2],
        event=x[14],
        position=x[0],
        scenario=x[4],
        result_id=x[6],
        stage=x[7],
        pipeline=x[8],
        ref_url=x[9],
        at=x[12],
    )


def _waiver_view(x: Any) -> WaiverView:
    return WaiverView(
        testcase=x[3],
        waived=bool(x[5]),
        subject_type=x[1],
        subject_identifier=x[2],
        event=x[12],
        position=x[0],
        scenario=x[4],
        waiver_id=x[6],
        product_version=x[7],
        username=x[8],
        comment=x[9],
    )


def _result_record(x: Any) -> dict[str, Any]:
    """A result as ResultsDB shows it (Greenwave's verbose ``results``)."""
    data: dict[str, list[str]] = {"type": [x[1]], "item": [x[2]]}
    if x[4] is not None:
        data["scenario"] = [x[4]]
    return {
        "id": x[6] if x[6] is not None else x[14],
        "outcome": x[5],
        "testcase": {"name": x[3]},
        "data": data,
        "submit_time": x[12],
        "ref_url": x[9],
        "note": x[10],
        "origin": x[11],
        "event": x[14],
        "msg": x[13],
    }


def _waiver_record(x: Any) -> dict[str, Any]:
    """A waiver as WaiverDB shows it (Greenwave's verbose ``waivers``)."""
    return {
        "id": x[6] if x[6] is not None else x[12],
        "subject_type": x[1],
        "subject_identifier": x[2],
        "subject": {"type": x[1], "item": x[2]},
        "testcase": x[3],
        "scenario": x[4],
        "waived": bool(x[5]),
        "product_version": x[7],
        "username": x[8],
        "comment": x[9],
        "timestamp": x[10],
        "event": x[12],
        "msg": x[11],
    }


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
