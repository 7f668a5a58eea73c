"""Workers started together on an empty database all start.

On PostgreSQL, two sessions creating the same table at once make one of them fail on
the catalog's unique index (``pg_type_typname_nsp_index``), ``IF NOT EXISTS`` or not:
``bench/live.py`` once lost its ``act --follow`` process that way. Every opener
(consumers, followers, the read-model projector) creates the tables one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect

from adapters.readmodel_tables import ReadModelTables
from adapters.store import open_app
from domain.application import RelengApp
from tests.conftest import _service_missing
from tests.services import pg_answers, pg_database

OPENERS = 8


def _open_all_at_once(url: str, opener: Callable[[str], RelengApp]) -> list[BaseException]:
    """``OPENERS`` threads, each with its own engine, open ``url`` at the same instant;
    the errors they met."""
    barrier = threading.Barrier(OPENERS)
    errors: list[BaseException] = []
    apps: list[RelengApp] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            app = opener(url)
        except BaseException as exc:  # what each opener met is the result
            with lock:
                errors.append(exc)
            return
        with lock:
            apps.append(app)

    threads = [threading.Thread(target=run) for _ in range(OPENERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for app in apps:
        app.close()
    return errors


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
            errors = _open_all_at_once(url, _store_and_read_models)
            assert errors == [], [repr(e)[:300] for e in errors]
            tables = _tables(url)
            assert {"relengotron_events", "relengotron_rm_builds"} <= tables, tables


def test_workers_opening_a_fresh_sqlite_file_together_all_start(tmp_path: Path) -> None:
    for i in range(3):
        url = f"sqlite:///{tmp_path / f's{i}.db'}"
        errors = _open_all_at_once(url, _store_and_read_models)
        assert errors == [], [repr(e)[:300] for e in errors]
        assert "relengotron_events" in _tables(url)


def test_a_store_where_tables_cannot_be_created_says_so(tmp_path: Path) -> None:
    """The lock taken, a creation that fails is the caller's to see, not swallowed."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine
    from sqlalchemy.exc import DatabaseError

    from adapters.persistence import create_tables

    db = tmp_path / "ro.db"
    create_engine(f"sqlite:///{db}").connect().close()
    db.chmod(0o444)
    engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True))
    with pytest.raises(DatabaseError, match="readonly"):
        create_tables(engine, [table])
