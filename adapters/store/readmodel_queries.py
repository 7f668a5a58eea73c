"""The read models' queries: ``projections.queries.ReadModel`` over the SQL tables.

The decision API's hot path (``subject_facts``) is prepared driver SQL; the rest uses
SQLAlchemy Core. Tables and the projector that fills them: ``adapters.store.readmodels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Table, func, or_, select
from sqlalchemy.engine import Connection

from relengotron.adapters.store.readmodel_tables import ReadModelTables, chunks, decode_row
from relengotron.domain.application import RelengApp
from relengotron.domain.facts import INVALID
from relengotron.domain.message import RECEIVED_TOPIC as _RECEIVED
from relengotron.policies.snapshot import ResultView, WaiverView, public_id
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating import package_of
from relengotron.projections.folds.greenwave_records import VALUE_CHARS
from relengotron.projections.queries import Subject, SubjectFacts, flaky_rows


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
        self, subjects: Sequence[Subject], when: str | None = None, *, records: bool = False
    ) -> dict[Subject, SubjectFacts]:
        # The decision API's hot path: prepared driver-level SQL (statement building
        # costs more than SQLite's own work here), one query per table and chunk.
        wanted = set(subjects)
        idents = sorted({ident for _, ident in wanted})
        results: dict[Subject, list[Any]] = {s: [] for s in wanted}
        waivers: dict[Subject, list[Any]] = {s: [] for s in wanted}
        builds: dict[str, Any] = {}
        created: dict[str, Any] = {}
        nvrs = sorted({i for t, i in wanted if t == "koji_build"})
        with self.engine.connect() as conn:
            sql = self._sql(conn)
            for chunk in chunks(idents):
                params = (*chunk, when) if when is not None else tuple(chunk)
                for row in conn.exec_driver_sql(sql.results(len(chunk), when, records), params):
                    key = (row[1], row[2])
                    if key in results:
                        results[key].append(row)
                for row in conn.exec_driver_sql(sql.waivers(len(chunk), when, records), params):
                    key = (row[1], row[2])
                    if key in waivers:
                        waivers[key].append(row)
            for chunk in chunks(nvrs):
                rows = conn.exec_driver_sql(sql.build_times(len(chunk)), tuple(chunk))
                for nvr, first, made in rows:
                    builds[nvr], created[nvr] = first, made
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
            # The build's creation time as the decider knows it (dated rules); None
            # when no BUILDING message was seen (then dated rules count: fail closed).
            made = created.get(ident) if typ == "koji_build" else None
            if when is not None and made is not None and made > when:
                made = None
            out[key] = SubjectFacts(
                subject_type=typ,
                subject_identifier=ident,
                known=bool(rs or ws or (typ == "koji_build" and ident in builds)),
                first_seen=first,
                created=made,
                package=package_of(ident) if typ == "koji_build" else None,
                results=tuple(_result_view(x) for x in rs),
                waivers=tuple(_waiver_view(x) for x in ws),
                # The records' JSON text, decoded only for what an answer shows.
                result_records=tuple(x[_RESULT_RECORD] for x in rs) if records else (),
                waiver_records=tuple(x[_WAIVER_RECORD] for x in ws) if records else (),
            )
        return out

    def _sql(self, conn: Connection) -> _FactSQL:
        if self._fact_sql is None:
            self._fact_sql = _FactSQL(conn, self.t)
        return self._fact_sql

    def _build_dict(self, row: Any) -> dict[str, Any]:
        d = decode_row(row._mapping)
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
        return [decode_row(r._mapping) for r in rows]

    def flaky(self) -> list[dict[str, Any]]:
        h = self.t["history"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(h).where(h.c.kind == "flaky").order_by(h.c.position)).all()
        return flaky_rows(decode_row(r._mapping) for r in rows)

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
            return [decode_row(r._mapping) for r in conn.execute(q)]

    def builds_by_gate(self, gate: str, *, limit: int = 200) -> list[dict[str, Any]]:
        b = self.t["builds"]
        q = select(b).where(b.c.gate == gate).order_by(b.c.position.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [self._build_dict(r) for r in conn.execute(q)]

    def actions(self, nvr: str) -> list[dict[str, Any]]:
        a = self.t["actions"]
        q = select(a).where(a.c.nvr == nvr).order_by(a.c.requested_at, a.c.key)
        with self.engine.connect() as conn:
            rows = [decode_row(r._mapping) for r in conn.execute(q)]
        for row in rows:
            row.pop("aggregate", None)
        return rows

    def health(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            fmt = conn.dialect.identifier_preparer.format_table
            events = fmt(self.tables.events)
            head = int(conn.exec_driver_sql(f"SELECT MAX(id) FROM {events}").scalar() or 0)
            positions: dict[str, int] = {}
            followers = self.tables.followers
            if followers is not None and self.engine.dialect.has_table(
                conn, followers.name, schema=followers.schema
            ):
                rows = conn.execute(
                    select(followers.c.application_name, followers.c.notification_id)
                )
                positions.update({str(a): int(p or 0) for a, p in rows})
            positions["readmodels"] = self.tables.tracked(conn)[0]
            a = self.t["actions"]
            pending, oldest = conn.execute(
                select(func.count(), func.min(a.c.requested_at)).where(a.c.outcome.is_(None))
            ).one()
            m = self.t["messages"]
            messages = conn.execute(select(func.count()).select_from(m)).scalar()
            # The decider and the composer stay behind their own writes until the next
            # input arrives: what they lag is input messages not yet decided on.
            waiting = {
                name: int(
                    conn.exec_driver_sql(
                        f"SELECT COUNT(*) FROM {events} WHERE id > {pos} AND topic = '{_RECEIVED}'"
                    ).scalar()
                    or 0
                )
                for name, pos in positions.items()
                if name != "readmodels"
            }
        lags = {
            name: {"position": pos, "lag": waiting.get(name, max(0, head - pos))}
            for name, pos in sorted(positions.items())
        }
        return {
            "head": head,
            "followers": lags,
            "outbox": {"pending": int(pending or 0), "oldest_requested_at": oldest},
            "messages": int(messages or 0),
        }

    def result_records(
        self,
        contains: Sequence[Sequence[str]] = (),
        *,
        data: Mapping[str, Sequence[str]] | None = None,
        testcases: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        r, d = self.t["results"], self.t["result_data"]
        q = select(r.c.record).where(r.c.record.is_not(None)).order_by(r.c.position)
        with self.engine.connect() as conn:
            # The results of the most selective data filter (an indexed lookup each, cut
            # at NARROW rows: ``type=koji_build`` names nearly everything); the other
            # filters are the caller's to check.
            best: list[int] | None = None
            for cap in NARROW:  # a small cap first: an item names a few results
                for key, values in (data or {}).items():
                    cut = sorted({v[:VALUE_CHARS] for v in values})
                    lookup = select(d.c.position).where(d.c.key == key, d.c.value.in_(cut))
                    found = conn.execute(lookup.limit(cap + 1)).scalars().all()
                    if len(found) <= cap and (best is None or len(found) < len(best)):
                        best = list(found)
                if best is not None:
                    break
            if best is not None:
                if not best:
                    return []
                q = q.where(r.c.position.in_(sorted(set(best))))
        for group in contains:
            q = q.where(or_(*[r.c.record.like(f"%{_like_text(s)}%", escape="\\") for s in group]))
        if testcases is not None:
            q = q.where(r.c.testcase.in_(list(testcases)))
        with self.engine.connect() as conn:
            return [orjson.loads(text) for (text,) in conn.execute(q)]

    def result_page(
        self,
        *,
        testcases: Sequence[str] | None = None,
        outcomes: Sequence[str] | None = None,
        since: tuple[str | None, str | None] = (None, None),
        order: str = "desc",
        offset: int = 0,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        r = self.t["results"]
        q = select(r.c.record).where(r.c.record.is_not(None), r.c.outcome != INVALID)
        if testcases is not None:
            q = q.where(r.c.testcase.in_(list(testcases)))
        if outcomes is not None:
            q = q.where(r.c.outcome.in_(list(outcomes)))
        if since[0] is not None:
            q = q.where(r.c.submit_time >= since[0])
        if since[1] is not None:
            q = q.where(r.c.submit_time <= since[1])
        if order == "desc":
            q = q.order_by(r.c.submit_time.desc().nulls_last(), r.c.position.desc())
        elif order == "asc":
            q = q.order_by(r.c.submit_time.asc().nulls_first(), r.c.position.asc())
        else:
            q = q.order_by(r.c.position)
        q = q.offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [orjson.loads(text) for (text,) in conn.execute(q)]

    def messages(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        m = self.t["messages"]
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(keys)):
                for row in conn.execute(select(m).where(m.c.key.in_(chunk))):
                    out[row.key] = dict(row._mapping)
        return out


# Column order of the prepared fact queries (``_FactSQL``).
# (``record``, last, is selected only when the records are asked for.)
RESULT_COLUMNS = (
    "position", "subject_type", "subject_identifier", "testcase", "scenario", "outcome",
    "result_id", "stage", "pipeline", "ref_url", "note", "origin", "at", "msg", "event",
    "system_architecture", "system_variant", "record",
)  # fmt: skip
WAIVER_COLUMNS = (
    "position", "subject_type", "subject_identifier", "testcase", "scenario", "waived",
    "waiver_id", "product_version", "username", "comment", "at", "msg", "event", "record",
)  # fmt: skip
_RESULT_AT = RESULT_COLUMNS.index("at")
_WAIVER_AT = WAIVER_COLUMNS.index("at")
_RESULT_RECORD = RESULT_COLUMNS.index("record")
_WAIVER_RECORD = WAIVER_COLUMNS.index("record")


NARROW = (200, 5000)  # at most this many results from one data filter's lookup


def _like_text(text: str) -> str:
    """``text`` as itself in a ``LIKE`` pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _FactSQL:
    """The fact queries as driver SQL, per dialect, for n identifiers."""

    def __init__(self, conn: Connection, t: dict[str, Table]) -> None:
        fmt = conn.dialect.identifier_preparer.format_table
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.names = {k: fmt(t[k]) for k in ("results", "waivers", "builds")}
        self._cache: dict[tuple[str, int, bool, bool], str] = {}

    def _marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def _facts(
        self, table: str, columns: tuple[str, ...], n: int, when: str | None, records: bool
    ) -> str:
        key = (table, n, when is not None, records)
        sql = self._cache.get(key)
        if sql is None:
            if not records:
                columns = columns[:-1]
            sql = (
                f"SELECT {', '.join(columns)} FROM {self.names[table]} "
                f"WHERE subject_identifier IN ({self._marks(n)})"
                + (f" AND at <= {self.mark}" if when is not None else "")
                + " ORDER BY position"
            )
            self._cache[key] = sql
        return sql

    def results(self, n: int, when: str | None, records: bool) -> str:
        return self._facts("results", RESULT_COLUMNS, n, when, records)

    def waivers(self, n: int, when: str | None, records: bool) -> str:
        return self._facts("waivers", WAIVER_COLUMNS, n, when, records)

    def build_times(self, n: int) -> str:
        key = ("builds", n, False, False)
        sql = self._cache.get(key)
        if sql is None:
            sql = (
                f"SELECT nvr, first_seen, created FROM {self.names['builds']} "
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
        result_id=public_id(x[6], x[14]),
        stage=x[7],
        pipeline=x[8],
        ref_url=x[9],
        at=x[12],
        note=x[10],  # an INVALID result's schema errors (the engine's detail)
        system_architecture=x[15],
        system_variant=x[16],
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
        waiver_id=public_id(x[6], x[12]),
        product_version=x[7],
        username=x[8],
        comment=x[9],
    )
