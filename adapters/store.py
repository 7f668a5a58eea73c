"""The event store: eventsourcing's SQLAlchemy persistence, chosen by URL.

SQLite (one file, the embedded default) and PostgreSQL run the same code.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import cast

from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.exc import OperationalError

from adapters.persistence import SQLStreamReader
from domain.application import RelengApp

DEFAULT_DIR = ".relengotron"
DEFAULT_FILE = "relengotron.db"

# eventsourcing-sqlalchemy defines each application's record classes on one shared
# declarative base: two threads opening applications at once (a worker's committer
# and its dead-letter drainer) can collide there ("Table ... is already defined for
# this MetaData instance"). Applications are opened one at a time.
_OPENING = threading.Lock()


class StoreURLError(ValueError):
    """A database URL we cannot use."""


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
        return f"postgresql+psycopg://{rest}"
    if scheme.startswith("postgresql+") or scheme.startswith("sqlite"):
        return url
    raise StoreURLError(
        f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def _prepare(url: str) -> None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)


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


def _wal(app: RelengApp, patience: float = 30.0) -> None:
    """Put a SQLite file in WAL mode now, while opening it.

    eventsourcing-sqlalchemy switches on the first transaction of each application,
    and switching needs the database to itself: on a fresh file, a writer that got
    there first made another application's first read fail with "database is
    locked". Here the switch is retried (0.05 s, doubling to 1 s) for ``patience``
    seconds; once the file is in WAL mode (it stays so) it is a no-op.
    """
    datastore = cast(SQLAlchemyApplicationRecorder, app.recorder).datastore
    deadline, delay = time.monotonic() + patience, 0.05
    while True:
        try:
            datastore.init_sqlite_wal_mode()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def open_app(url: str, *, schema: str | None = None, cache_size: int = 20_000) -> RelengApp:
    """The application on the store at ``url`` (tables created when missing)."""
    url = normalize_url(url)
    _prepare(url)
    env = {
        "PERSISTENCE_MODULE": "adapters.persistence:RelengFactory",
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
