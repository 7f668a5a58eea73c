"""The event store: eventsourcing's SQLAlchemy persistence, chosen by URL.

SQLite (one file, the embedded default) and PostgreSQL run the same code.
A store that cannot be used (missing, unreachable, not a database) raises
:class:`StoreError`, whose message names the URL with its password masked.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from relengotron.adapters.store.store_errors import (
    StoreError,
    StoreMissing,
    mask_url,
    remember,
    store_failure,
)
from relengotron.adapters.store.stream_reader import SQLStreamReader
from relengotron.domain.application import RelengApp

T = TypeVar("T")

DEFAULT_DIR = ".relengotron"
DEFAULT_FILE = "relengotron.db"

# eventsourcing-sqlalchemy defines each application's record classes on one shared
# declarative base: two threads opening applications at once (a worker's committer
# and its dead-letter drainer) can collide there ("Table ... is already defined for
# this MetaData instance"). Applications are opened one at a time.
_OPENING = threading.Lock()


class StoreURLError(ValueError):
    """A database URL we cannot use."""


__all__ = ["StoreError", "StoreMissing", "StoreURLError", "open_app", "store_failure"]


def default_url(cwd: Path | None = None) -> str:
    base = (cwd or Path.cwd()) / DEFAULT_DIR
    return f"sqlite:///{base / DEFAULT_FILE}"


def normalize_url(url: str) -> str:
    """Accept the spellings people type; return a SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` use psycopg 3; a bare path is a SQLite file.
    """
    url = url.strip()
    if not url:
        raise StoreURLError("empty database URL")
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return _parsed(f"postgresql+psycopg://{rest}")
    if scheme.startswith("postgresql+") or scheme.startswith("sqlite"):
        return _parsed(url)
    raise StoreURLError(
        f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def _parsed(url: str) -> str:
    """``url`` if SQLAlchemy can read it (host, port, database); else StoreURLError,
    naming it with the password masked (SQLAlchemy's own message repeats it whole)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ValueError(f"port {parsed.port} out of range")
    except ArgumentError:
        raise StoreURLError(f"not a database URL: {mask_url(url)}") from None
    except ValueError as exc:
        raise StoreURLError(f"not a database URL: {mask_url(url)} ({exc})") from None
    return url


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        return None
    return Path(database.removeprefix("file:"))


def _prepare(url: str) -> None:
    path = _sqlite_file(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(url, f"cannot create {path.parent}: {exc.strerror}") from exc


EVENTS_TABLE = f"{RelengApp.name.lower()}_events"
_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')


def require_store(url: str, schema: str | None = None) -> None:
    """Raise :class:`StoreMissing` unless a releng-o-tron store is at ``url``.

    Creates nothing: a missing SQLite file is not opened (SQLite would create it),
    and a database (or schema) without the event table is no store either.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is None:
            raise StoreMissing(url, "an in-memory database holds nothing yet")
        if not path.exists():
            raise StoreMissing(url, "no such file")
        if not path.is_file():
            raise StoreMissing(url, "not a file")
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    try:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                found = inspect(conn).has_table(EVENTS_TABLE, schema=schema)
        finally:
            engine.dispose()
    except ArgumentError:
        raise StoreURLError(f"not a database URL: {mask_url(url)}") from None
    except Exception as exc:
        cause = store_failure(exc)
        if cause is None:
            raise
        missing = _NO_DATABASE.search(cause)  # PostgreSQL gives no SQLSTATE on connecting
        if missing:
            raise StoreMissing(url, missing.group(0)) from exc
        raise StoreError(url, cause) from exc
    if not found:
        where = f"schema {schema}" if schema else "this database"
        raise StoreMissing(url, f"no releng-o-tron tables in {where}")


def _pre_ping(app: RelengApp) -> None:
    """Test each pooled connection before use (SQLAlchemy's ``pool_pre_ping``).

    Without it the first transaction after a PostgreSQL restart (or a connection the
    server or a proxy closed while idle) fails on the stale connection; SQLAlchemy then
    empties the pool, so only the next one recovers. eventsourcing-sqlalchemy builds the
    engine without a way to pass ``pool_pre_ping``; the pool keeps the flag when it is
    recreated (``engine.dispose()``).
    """
    engine = cast(SQLAlchemyApplicationRecorder, app.recorder).datastore.engine
    pool = getattr(engine, "pool", None)
    if pool is not None:
        pool._pre_ping = True


def while_locked(write: Callable[[], T], patience: float = 30.0) -> T:
    """``write()``, tried again (after 0.05 s, doubling to 1 s) for ``patience`` seconds
    while SQLite says another connection holds the file ("database is locked", raised
    by SQLAlchemy or wrapped by eventsourcing's transaction); any other error at once.
    ``write`` must be safe to repeat (a whole transaction, or a no-op once done)."""
    deadline, delay = time.monotonic() + patience, 0.05
    while True:
        try:
            return write()
        except (OperationalError, StoreOperationalError) as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _wal(app: RelengApp, patience: float = 30.0) -> None:
    """Put a SQLite file in WAL mode now, while opening it.

    eventsourcing-sqlalchemy switches on the first transaction of each application,
    and switching needs the database to itself: on a fresh file, a writer that got
    there first made another application's first read fail with "database is
    locked". Here the switch waits (:func:`while_locked`); once the file is in WAL
    mode (it stays so) it is a no-op.
    """
    datastore = cast(SQLAlchemyApplicationRecorder, app.recorder).datastore
    while_locked(datastore.init_sqlite_wal_mode, patience)


def _scratch(app: RelengApp) -> None:
    """No ``fsync`` on commit (SQLite ``synchronous=OFF``): for a store that is
    thrown away when its command ends (``replay --verify``'s), where a crash loses
    nothing worth keeping. Every connection of the engine gets it."""
    engine = cast(Engine, cast(SQLAlchemyApplicationRecorder, app.recorder).datastore.engine)
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _no_sync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        # Two processes may write it (``adapters.audit.replay_decider``): wait for
        # the other's transaction rather than fail after SQLite's 5 s.
        dbapi_connection.execute("PRAGMA busy_timeout=60000")


def open_app(
    url: str,
    *,
    schema: str | None = None,
    cache_size: int = 20_000,
    create: bool = True,
    scratch: bool = False,
) -> RelengApp:
    """The application on the store at ``url``.

    ``scratch``: a SQLite store thrown away after the command (:func:`_scratch`).

    ``create``: make what is missing (the SQLite file's directory, the tables); else
    (read-only commands) a missing store is :class:`StoreMissing` and nothing is made.
    A store that cannot be reached or read raises the driver's error (see
    :func:`store_failure`).
    """
    url = normalize_url(url)
    remember(url)
    if create:
        _prepare(url)
    else:
        require_store(url, schema)
    try:
        app = _open(url, schema, cache_size)
    except ArgumentError:
        raise StoreURLError(f"not a database URL: {mask_url(url)}") from None
    # The driver's own errors go on as they are: long-running processes (consume, the
    # followers) retry on them; the command line names the store (``remember``ed above)
    # when one ends a command (``adapters.cli.cli_errors``).
    if scratch and url.startswith("sqlite"):
        _scratch(app)
    return app


def shown_url(app: RelengApp) -> str:
    """The URL of the store ``app`` is on, as shown to people (password masked)."""
    return mask_url(str(app.env.get("SQLALCHEMY_URL") or "?"))


def _open(url: str, schema: str | None, cache_size: int) -> RelengApp:
    env = {
        "PERSISTENCE_MODULE": "relengotron.adapters.store.persistence:RelengFactory",
        "SQLALCHEMY_URL": url,
    }
    if schema:
        env["SQLALCHEMY_SCHEMA"] = schema
    with _OPENING:
        app = RelengApp(env=env)
    app.cache_size = cache_size
    if not url.startswith("sqlite"):
        _pre_ping(app)
    elif ":memory:" not in url and "mode=memory" not in url:
        _wal(app)
    app.stream_reader = SQLStreamReader(cast(SQLAlchemyApplicationRecorder, app.recorder))
    return app
