"""When the store cannot be used: which failures those are, and how they are named.

A failure of the store (it is missing, the server refuses or cannot be reached, the
file is not a database) is told apart from a bug by the exception's chain: the
DB-API driver's (``sqlite3``, ``psycopg``), SQLAlchemy's or eventsourcing's
*operational* and *interface* errors, SQLite's "not a database" kind of
``DatabaseError`` and PostgreSQL's "permission denied". Integrity, other
programming and data errors are not among them: those are ours. URLs are shown
with the password masked.
"""

from __future__ import annotations

import re
import sqlite3

_last_url: str | None = None


class StoreError(Exception):
    """The store at a URL cannot be used; the message names it (password masked)."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = mask_url(url)
        self.cause = cause
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"cannot use the store at {self.url}: {self.cause}"


class StoreMissing(StoreError):
    """No releng-o-tron store at the URL (and a read-only command creates none)."""

    def describe(self) -> str:
        return f"no store at {self.url} ({self.cause})"


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: mask what looks like user:password@
        return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)  # up to the last @


def remember(url: str) -> None:
    """The store this process opened last: named when it fails later, mid-command."""
    global _last_url
    _last_url = url


def last_url() -> str | None:
    return _last_url


def _failure_types() -> tuple[type[BaseException], ...]:
    import eventsourcing.persistence as es
    import sqlalchemy.exc as sa

    types: list[type[BaseException]] = [
        sa.OperationalError,
        sa.InterfaceError,
        sa.TimeoutError,
        es.OperationalError,
        es.InterfaceError,
        sqlite3.OperationalError,
        sqlite3.InterfaceError,
    ]
    try:
        import psycopg
    except ImportError:  # pragma: no cover (a dependency)
        pass
    else:
        # A role without the rights it needs (e.g. a read-only role where tables are
        # missing): the store cannot be used as it is, as much as a refused login.
        types += [psycopg.OperationalError, psycopg.InterfaceError]
        types.append(psycopg.errors.InsufficientPrivilege)
    return tuple(types)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, ``__context__``, SQLAlchemy's
    ``orig``: the driver's error), outermost first."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if any(e is seen for seen in out):
            continue
        out.append(e)
        for nxt in (getattr(e, "orig", None), e.__cause__, e.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _not_a_database(e: BaseException) -> bool:
    """SQLite's own ``DatabaseError`` (not a subclass): "file is not a database",
    "database disk image is malformed"."""
    return type(e) is sqlite3.DatabaseError


def store_failure(exc: BaseException) -> str | None:
    """The cause in one line when ``exc`` is a failure of the store; else None."""
    chain = _chain(exc)
    types = _failure_types()
    if not any(isinstance(e, types) or _not_a_database(e) for e in chain):
        return None
    drivers = [e for e in chain if _is_driver_error(e)]
    return _one_line(drivers[-1] if drivers else chain[-1])


def _is_driver_error(e: BaseException) -> bool:
    if isinstance(e, sqlite3.Error):
        return True
    module = type(e).__module__ or ""
    return module.split(".")[0] == "psycopg"


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"^\([\w.]+\)\s*", "", first)  # SQLAlchemy's "(psycopg.OperationalError) "
    return first or type(e).__name__
