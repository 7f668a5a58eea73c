"""Workers started together on an empty database all start.

On PostgreSQL, two sessions creating the same table at once make one of them fail on
the catalog's unique index (``pg_type_typname_nsp_index``), ``IF NOT EXISTS`` or not:
``bench/live.py`` once lost its ``act --follow`` process that way. Every opener
(consumers, followers, the read-model projector) creates the tables one at a time.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from relengotron.adapters.store.readmodel_tables import ReadModelTables
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp
from tests.conftest import _service_missing
from tests.services import pg_answers, pg_database

OPENERS = 8


def _open_one(url: str, barrier: Any, errors: Any) -> None:
    """One worker process: wait for the others, open the store, report what it met."""
    barrier.wait(60)
    try:
        _store_and_read_models(url).close()
    except BaseException as exc:  # what each opener met is the result
        errors.put(repr(exc)[:300])


def _open_all_at_once(url: str) -> list[str]:
    """``OPENERS`` processes (forked, so started at once) open ``url`` at the same
    instant, each with its own engine, as workers started together do; the errors."""
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [ctx.Process(target=_open_one, args=(url, barrier, errors)) for _ in range(OPENERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    found = []
    while not errors.empty():
        found.append(errors.get(timeout=5))
    found += [f"exit code {p.exitcode}" for p in procs if p.exitcode != 0]
    return found


def _store_and_read_models(url: str) -> RelengApp:
    app = open_app(url)
    ReadModelTables.of(app).create()
    return app


def _tables(url: str) -> set[str]:
    app = open_app(url)
    try:
        engine = app.recorder.datastore.engine  # type: ignore[attr-defined]
        return set(inspect(engine).get_table_names())
    finally:
        app.close()


def test_workers_opening_a_fresh_postgres_database_together_all_start() -> None:
    if not pg_answers():
        _service_missing("PostgreSQL", "nothing answers at 127.0.0.1:5432")
    for _ in range(3):  # the race was lost about one time in two without the lock
        with pg_database() as url:
            errors = _open_all_at_once(url)
            assert errors == []
            tables = _tables(url)
            assert {"relengotron_events", "relengotron_rm_builds"} <= tables, tables


def test_workers_opening_a_fresh_sqlite_file_together_all_start(tmp_path: Path) -> None:
    for i in range(3):
        url = f"sqlite:///{tmp_path / f's{i}.db'}"
        errors = _open_all_at_once(url)
        assert errors == []
        assert "relengotron_events" in _tables(url)


def test_a_store_where_tables_cannot_be_created_says_so(tmp_path: Path) -> None:
    """The lock taken, a creation that fails is the caller's to see, not swallowed."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine
    from sqlalchemy.exc import DatabaseError

    from relengotron.adapters.store.persistence import create_tables

    db = tmp_path / "ro.db"
    create_engine(f"sqlite:///{db}").connect().close()
    db.chmod(0o444)
    engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True))
    with pytest.raises(DatabaseError, match="readonly"):
        create_tables(engine, [table])


def test_opening_an_existing_store_waits_for_no_writer(tmp_path: Path) -> None:
    """The lock is taken only when a table is missing: opening a store whose tables all
    exist goes on while another process holds a write transaction (an ``ingest``)."""
    import sqlite3

    db = tmp_path / "s.db"
    _store_and_read_models(f"sqlite:///{db}").close()
    holder = sqlite3.connect(db, timeout=30, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")  # as the store's first transaction leaves it
    holder.execute("BEGIN EXCLUSIVE")  # WAL: readers go on, writers wait
    try:
        app = _store_and_read_models(f"sqlite:///{db}")
        app.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _threads_open_at_once(url: str) -> list[str]:
    barrier = threading.Barrier(OPENERS)
    errors: list[str] = []

    def one() -> None:
        barrier.wait(60)
        try:
            _store_and_read_models(url).close()
        except BaseException as exc:  # what each opener met is the result
            errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=one) for _ in range(OPENERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_threads_opening_one_store_at_once_all_open() -> None:
    """A worker opens several applications in threads of its own (the committer, the
    dead-letter drainer, the followers): eventsourcing-sqlalchemy's shared record-class
    registry must not make one of them fail."""
    if not pg_answers():
        _service_missing("PostgreSQL", "nothing answers at 127.0.0.1:5432")
    for _ in range(3):
        with pg_database() as url:
            assert _threads_open_at_once(url) == []


def test_a_sqlite_store_is_in_wal_mode_once_opened(tmp_path: Path) -> None:
    """Not at its first transaction: switching needs the file to itself, and a second
    writer already at work made that switch fail ("database is locked")."""
    import sqlite3

    db = tmp_path / "s.db"
    open_app(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
