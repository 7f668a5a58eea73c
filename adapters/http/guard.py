"""Is the store ``serve`` answers from still the one it opened, and readable?

A running server keeps pooled connections open. On SQLite they go on reading a file
that was deleted (the open descriptors keep the old inode alive) or mixing a file
copied over it with their own write-ahead log, so reads alone would go on answering
"satisfied" from a store that is gone. :class:`StoreGuard` notices:

* **SQLite**: on every call, one ``stat`` of the file: gone, or another file (another
  inode) at its path, is a lost store; and its first 16 bytes must still be SQLite's
  header. When the file's size or modification time changed since the last look (a
  checkpoint, or someone writing over it), and anyway on every round of the catch-up
  thread (a copy of the same size within the same clock tick), a deeper look: the log's
  first event, read from the main file alone (``immutable=1``: not through the
  write-ahead log, which belongs to the store we opened), must be the one we pinned
  when we opened it.
  At start (and once the log has a first event) a passive checkpoint makes the main
  file hold it, so a file copied over ours is noticed even when its own tables are
  still in a write-ahead log that was not copied.
* **PostgreSQL** (no file): the same first-event identity, checked by ``check_identity``
  (the catch-up thread calls it every round); a server or database that cannot be
  reached shows as errors of the reads themselves.

A lost store stays lost for this process (restart ``serve`` once the store is back:
the read positions it holds belong to the old one). Errors of a store that is merely
unreachable are not latched.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import Table
from sqlalchemy.engine import Engine

__all__ = ["SQLITE_MAGIC", "StoreGuard", "StoreUnavailable", "describe"]

SQLITE_MAGIC = b"SQLite format 3\x00"

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The store cannot be read, or is not the one the server opened (a 503)."""


def describe(exc: BaseException) -> str:
    """One line about a store error (no driver banner, no SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {text}" if text else type(orig).__name__


class StoreGuard:
    def __init__(self, engine: Engine, events: Table) -> None:
        self.engine = engine
        self.events = events
        url = engine.url
        self.path: str | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.path = os.path.abspath(str(url.database))
        self.lost: str | None = None
        self._lock = threading.Lock()
        self._pinned: str | None = None
        self._file: tuple[int, int] | None = None
        self._looked: tuple[int, int] | None = None
        self._main_seen = False  # the main file (not only the WAL) holds the first event
        self._fd: int | None = None
        self._pin()
        if self.path is not None:
            self._settle()

    # ---------------------------------------------------------------- identity

    def _identity_sql(self) -> str:
        name = self.events.name if self.path else self._qualified()
        return (
            f"SELECT id, originator_id, originator_version, topic, state FROM {name} "
            "ORDER BY id LIMIT 1"
        )

    def _qualified(self) -> str:
        preparer = self.engine.dialect.identifier_preparer
        return preparer.format_table(self.events)

    @staticmethod
    def _digest(row: Any) -> str | None:
        if row is None:
            return None
        h = hashlib.sha256()
        for value in row:
            raw = value if isinstance(value, bytes | memoryview) else str(value).encode()
            h.update(bytes(raw))
            h.update(b"\x00")
        return h.hexdigest()

    def _read_identity(self) -> str | None:
        """The log's first event, as this process's connections see it."""
        with self.engine.connect() as conn:
            return self._digest(conn.exec_driver_sql(self._identity_sql()).first())

    def _pin(self) -> None:
        if self.path is not None:
            # Kept open to read the file's first bytes on every check (an overwrite in
            # place shows there at once, whatever the file's times say), and never
            # closed while serving (that would drop SQLite's locks: _look_inside).
            self._fd = os.open(self.path, os.O_RDONLY)
            st = os.fstat(self._fd)
            self._file = (st.st_dev, st.st_ino)
            self._looked = (st.st_size, st.st_mtime_ns)
        self._pinned = self._read_identity()

    def lose(self, why: str) -> None:
        """Mark the store lost for this process (and raise :class:`StoreUnavailable`)."""
        self.lost = why
        raise StoreUnavailable(why)

    # ---------------------------------------------------------------- checks

    def verify(self) -> None:
        """Raise :class:`StoreUnavailable` when the store is lost (cheap: one ``stat``
        and a 16-byte read on SQLite, nothing on PostgreSQL)."""
        if self.lost is not None:
            raise StoreUnavailable(self.lost)
        if self.path is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.lose(f"the store file {self.path} was deleted")
        except OSError as exc:
            raise StoreUnavailable(f"the store file {self.path}: {exc}") from None
        if (st.st_dev, st.st_ino) != self._file:
            self.lose(f"the store file {self.path} was replaced by another file")
        if self._fd is not None and os.pread(self._fd, len(SQLITE_MAGIC), 0) != SQLITE_MAGIC:
            self.lose(f"the store file {self.path} is no longer a SQLite database")
        if (st.st_size, st.st_mtime_ns) != self._looked:
            with self._lock:
                if (st.st_size, st.st_mtime_ns) != self._looked:
                    self._look_inside()
                    self._looked = (st.st_size, st.st_mtime_ns)

    def _look_inside(self) -> None:
        assert self.path is not None
        try:
            # Through the descriptor kept open, never a new one: closing any descriptor
            # of the file drops every POSIX lock this process holds on it, SQLite's
            # included (https://sqlite.org/howtocorrupt.html, 2.2); another process
            # would then delete the write-ahead log our connections still read.
            assert self._fd is not None
            head = os.pread(self._fd, len(SQLITE_MAGIC), 0)
        except OSError as exc:
            raise StoreUnavailable(f"the store file {self.path}: {exc}") from None
        if head != SQLITE_MAGIC:
            self.lose(f"the store file {self.path} is no longer a SQLite database")
        if self._pinned is None:  # an empty log when we opened it: pin its first event now
            self._pinned = self._read_identity()
            return
        # Confirmed three times, a little apart: a read racing a checkpoint must not
        # take a healthy store for another one.
        for attempt in range(3):
            found = self._main_file_identity()
            if not self._foreign(found):
                return
            if attempt < 2:
                time.sleep(0.02)
        self.lose(f"the store file {self.path} was replaced by another store")

    def _foreign(self, found: str | None) -> bool:
        return (found is None and self._main_seen) or (found is not None and found != self._pinned)

    def _settle(self) -> None:
        """Have the main file hold the first event (a passive checkpoint, as SQLite runs
        by itself), and remember that it does: from then on a main file without it is
        another store, even when our write-ahead log still covers it up."""
        if self._pinned is None:
            self._pinned = self._read_identity()
            if self._pinned is None:
                return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:
            log.info("checkpoint before pinning the store's identity: %s", describe(exc))
        if self._main_file_identity() == self._pinned:
            self._main_seen = True

    def _main_file_identity(self) -> str | None:
        """The first event as the main file alone has it (None: not there yet, the
        write-ahead log holds it still). A read torn by a concurrent checkpoint is
        retried; a file that is not a database at all is a lost store."""
        assert self.path is not None
        uri = f"file:{quote(self.path)}?mode=ro&immutable=1"
        last: Exception | None = None
        for attempt in range(3):
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=1)
                try:
                    row = conn.execute(self._identity_sql()).fetchone()
                finally:
                    conn.close()
                return self._digest(row)
            except sqlite3.DatabaseError as exc:
                if "no such table" in str(exc):
                    return None
                if "not a database" in str(exc) or "encrypted" in str(exc):
                    self.lose(f"the store file {self.path} is no longer a SQLite database")
                last = exc
                time.sleep(0.01 * (attempt + 1))
        why = describe(last) if last is not None else "unknown"
        raise StoreUnavailable(f"the store file {self.path} cannot be read: {why}")

    def check_identity(self) -> None:
        """The deep check on any backend: the log's first event is still the pinned one
        (PostgreSQL: a database or schema dropped and made again, or restored from
        another store). Called off the event loop."""
        if self.lost is not None:
            raise StoreUnavailable(self.lost)
        if self.path is not None:
            self.verify()
            with self._lock:
                if not self._main_seen:
                    self._settle()
                else:  # also when size and times did not change (same size, same tick)
                    self._look_inside()
            return
        try:
            found = self._read_identity()
        except Exception as exc:
            raise StoreUnavailable(f"the store cannot be read: {describe(exc)}") from None
        if self._pinned is None:
            self._pinned = found
        elif found != self._pinned:
            self.lose("the store was replaced by another store (its first event changed)")
