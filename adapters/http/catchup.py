"""Answers from read models that reflect the whole log: ``serve``'s catch-up.

Before a decision is answered, :meth:`Readiness.check` compares the log's head (its
largest notification id) with the position the read models have folded, in one query.
When they are behind (a message was recorded by ``ingest``, the bus consumer or another
worker a moment ago), the request waits for :class:`CatchUp`, the thread that projects
in this process, to fold up to that head: it is woken at once, and folds every
``[api] project_interval`` seconds anyway. The wait is bounded (``[api]
catch_up_timeout``); past it the caller answers 503, never a verdict from stale data.

Several ``serve`` workers each run a ``CatchUp``; the projector's optimistic position
check lets one of them fold a page and the others find it done.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from relengotron.adapters.http.guard import StoreGuard, StoreUnavailable, describe
from relengotron.adapters.store.readmodel_tables import NAME, ReadModelTables
from relengotron.adapters.store.readmodels import ConcurrentProjection, Projector

__all__ = ["CatchUp", "Readiness"]

log = logging.getLogger(__name__)


class CatchUp(threading.Thread):
    """Projects the read models up to the log's head: on demand, and every
    ``interval`` seconds (0: on demand only)."""

    def __init__(
        self, projector: Projector, guard: StoreGuard | None = None, interval: float = 1.0
    ) -> None:
        super().__init__(name="relengotron-catch-up", daemon=True)
        self.projector = projector
        self.guard = guard
        self.interval = interval
        self.covered = 0  # every event up to here is folded (as seen by this process)
        self.rounds = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._starting = threading.Lock()

    # ---------------------------------------------------------------- the thread

    def ensure_started(self) -> None:
        with self._starting:
            if not self.is_alive() and not self._stopped.is_set() and self.ident is None:
                self.start()

    def run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            self.round()
            self._notify()
            if self.interval > 0:
                self._wake.wait(self.interval)
            else:
                self._wake.wait()

    def round(self) -> None:
        """Fold everything up to the head as it is now (twice if another process
        won a page's race: the second time finds its work done)."""
        try:
            if self.guard is not None:
                self.guard.check_identity()
            head = self.projector.head()
            for attempt in (1, 2):
                try:
                    self.projector.run(until=head)
                    break
                except ConcurrentProjection:
                    if attempt == 2:
                        raise
            self.covered = max(self.covered, head)
            self.last_error = None
        except ConcurrentProjection:
            pass  # the other projector is ahead; the next round sees it
        except StoreUnavailable as exc:
            self.last_error = str(exc)
        except Exception as exc:  # keep serving; say why the read models lag
            self.last_error = describe(exc)
            log.warning("read models not updated: %s", self.last_error)
        self.rounds += 1

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    # ---------------------------------------------------------------- waiting

    def _notify(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_resolve, fut)

    async def wait(self, head: int, timeout: float) -> bool:
        """Until a round has folded up to ``head`` (True), or ``timeout`` s (False)."""
        self.ensure_started()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.covered < head:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            fut: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.append((loop, fut))
            self._wake.set()
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                return self.covered >= head
            if self.guard is not None and self.guard.lost is not None:
                return False
        return True


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Readiness:
    """May the API answer from the read models now? (store present, and up to date)"""

    def __init__(
        self,
        guard: StoreGuard,
        tables: ReadModelTables,
        catch_up: CatchUp | None,
        timeout: float,
    ) -> None:
        self.guard = guard
        self.tables = tables
        self.catch_up = catch_up
        self.timeout = timeout
        self.folded = 0  # the read models' position, as last read
        self._sql: str | None = None
        # On SQLite the check is one statement on a connection of its own (5 us, where
        # a pooled SQLAlchemy connection costs 100 us: the check runs on every request).
        self._raw: sqlite3.Connection | None = None
        self._raw_lock = threading.Lock()
        self._identity: str | None = None  # PostgreSQL: pinned by the first check
        if self.remote:
            try:
                self.positions()
            except StoreUnavailable as exc:  # the requests will say so
                log.warning("store check at start: %s", exc)

    def _query(self, conn: Any) -> str:
        if self._sql is None:
            preparer = conn.dialect.identifier_preparer
            events = preparer.format_table(self.tables.events)
            tracking = preparer.format_table(self.tables.t["tracking"])
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            # On PostgreSQL the store's identity (its first event) comes with them: no
            # file to watch there, and a database dropped and made again, or restored
            # from another store, must not be answered from.
            identity = (
                f", (SELECT md5(state) || originator_id::text FROM {events} ORDER BY id LIMIT 1)"
                if conn.dialect.name == "postgresql"
                else ", NULL"
            )
            self._sql = (
                f"SELECT (SELECT MAX(id) FROM {events}), "
                f"(SELECT position FROM {tracking} WHERE name = {mark}){identity}"
            )
        return self._sql

    def positions(self) -> tuple[int, int]:
        """(the log's head, the read models' position); StoreUnavailable when unreadable."""
        self.guard.verify()
        try:
            if self.guard.path is not None:
                head, position, identity = self._raw_positions(self.guard.path)
            else:
                with self.tables.engine.connect() as conn:
                    row = conn.exec_driver_sql(self._query(conn), (NAME,)).one()
                    conn.rollback()
                head, position, identity = row
        except Exception as exc:
            raise StoreUnavailable(f"the store cannot be read: {describe(exc)}") from None
        if identity is not None:
            if self._identity is None:
                self._identity = identity
            elif identity != self._identity:
                self.guard.lose("the store was replaced by another store (its first event changed)")
        self.folded = int(position or 0)
        return int(head or 0), self.folded

    def _raw_positions(self, path: str) -> tuple[Any, Any, Any]:
        with self._raw_lock:
            if self._raw is None:
                with self.tables.engine.connect() as conn:
                    self._query(conn)
                self._raw = sqlite3.connect(path, timeout=5, check_same_thread=False)
            row = self._raw.execute(self._sql or "", (NAME,)).fetchone()
        return row[0], row[1], row[2]

    def behind(self) -> int | None:
        """None when the read models reflect the whole log; else the head to wait for."""
        head, position = self.positions()
        return None if position >= head else head

    async def wait(self, head: int) -> bool:
        if self.catch_up is None:
            return False
        return await self.catch_up.wait(head, self.timeout)

    @property
    def remote(self) -> bool:
        """A store over the network (PostgreSQL): its reads are kept off the event loop,
        where a server that stopped answering would stall every request."""
        return self.guard.path is None

    async def behind_off_loop(self, executor: Any) -> int | None:
        """:meth:`behind` in ``executor``, bounded by the catch-up timeout."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(executor, self.behind), self.timeout)
        except TimeoutError:
            raise StoreUnavailable(f"the store did not answer within {self.timeout:g} s") from None

    def healthy(self) -> str | None:
        """None when healthy, else why not (for ``/healthcheck``)."""
        try:
            self.positions()
        except StoreUnavailable as exc:
            return str(exc)
        return None

    async def health(self, also: Callable[[], object] | None = None) -> str | None:
        """:meth:`healthy`, then ``also`` (a read through the pool the answers use),
        off the event loop and bounded for a remote store."""

        def check() -> str | None:
            why = self.healthy()
            if why is None and also is not None:
                try:
                    also()
                except Exception as exc:
                    why = f"the store cannot be read: {describe(exc)}"
            return why

        if not self.remote:
            return check()
        try:
            return await asyncio.wait_for(asyncio.to_thread(check), self.timeout)
        except TimeoutError:
            return f"the store did not answer within {self.timeout:g} s"
