"""What a live process counts and how it waits out the store: :class:`LiveStats` (the
counters the consumer, the dead-letter drainer and ``relengotron consume`` report),
:class:`AppHolder` and :class:`StorageRetry` (an operation retried with back-off on a
freshly opened application while the store is unavailable). Used by
``adapters.live.consumer`` and ``adapters.live.deadletter``."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from relengotron.domain.application import RelengApp
from relengotron.domain.message import UNRECOGNIZED
from relengotron.domain.values import RecordOutcome

# The consumer's logger: its retry lines keep the name they have always had.
log = logging.getLogger("relengotron.adapters.live.consumer")

T = TypeVar("T")

#: What "the store is unavailable" looks like: eventsourcing's wrappers of the driver
#: errors (OperationalError for a lost connection or ``database is locked``,
#: IntegrityError for a conflict that persisted through ``record``'s own retries), and
#: the raw SQLAlchemy / driver errors raised while an application is being opened.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    PersistenceError,
    SQLAlchemyError,
    psycopg.Error,
    sqlite3.Error,
)

FIRST_DELAY = 0.5
MAX_DELAY = 30.0

AppFactory = Callable[[], RelengApp]


# ------------------------------------------------------------------ counters


@dataclass
class LiveStats:
    """Counters of one ``consume`` process (the consumer and the dead-letter drainer)."""

    received: int = 0  # messages handed to us by fedora-messaging
    new: int = 0  # recorded for the first time
    duplicate: int = 0  # redeliveries: recorded already
    unrecognized: int = 0  # of the new: no translator for the topic
    rejected: int = 0  # kept as rejected input (not a message)
    dead_letters: int = 0  # taken from the dead-letter queue (refused by fedora-messaging)
    storage_retries: int = 0  # transactions retried because the store was unavailable
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def count_outcome(self, outcome: RecordOutcome) -> None:
        new_keys = set(outcome.new)
        unrecognized = sum(
            1 for m in outcome.recorded if m.key in new_keys and m.status == UNRECOGNIZED
        )
        self.add(new=len(new_keys), duplicate=len(outcome.duplicate), unrecognized=unrecognized)

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": self.received,
                "new": self.new,
                "duplicate": self.duplicate,
                "unrecognized": self.unrecognized,
                "rejected": self.rejected,
                "dead_letters": self.dead_letters,
                "storage_retries": self.storage_retries,
                "seconds": round(time.monotonic() - self.started, 3),
            }

    def status_line(self) -> str:
        s = self.as_json()
        return (
            f"{s['received']:,} received: {s['new']:,} new, {s['duplicate']:,} duplicate, "
            f"{s['unrecognized']:,} unrecognized; {s['dead_letters']:,} dead letters, "
            f"{s['rejected']:,} rejected; {s['storage_retries']:,} storage retries "
            f"in {s['seconds']:.0f} s"
        )


# ------------------------------------------------------------------ the store, retried


def storage_reason(exc: BaseException) -> str:
    """One line saying why the store failed (the driver's message, without the SQL)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300]


class AppHolder:
    """The application one thread records with, reopened after a storage failure.

    Reopening gives a fresh engine (no connection to a server that went away) and an
    empty aggregate cache: a save that failed half-way may have left cached aggregates
    ahead of the store.
    """

    def __init__(self, factory: AppFactory) -> None:
        self.factory = factory
        self._app: RelengApp | None = None

    def get(self) -> RelengApp:
        if self._app is None:
            self._app = self.factory()
        return self._app

    def reset(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            try:
                app.close()
            except Exception:  # closing a broken engine may fail too; it is dropped anyway
                log.debug("closing the application failed", exc_info=True)

    close = reset


Sleep = Callable[[float], bool]  # waits; True when a stop was requested meanwhile


class StorageRetry:
    """Runs a storage operation until it succeeds or a stop is requested.

    Back-off: ``first`` seconds, doubling, capped at ``cap``; for ever. Each failure is
    logged at WARNING with the reason and counted in ``stats.storage_retries``; the
    application is reopened before the next try. ``run`` returns None when stopped.
    """

    def __init__(
        self,
        holder: AppHolder,
        stop: threading.Event,
        stats: LiveStats,
        *,
        first: float = FIRST_DELAY,
        cap: float = MAX_DELAY,
    ) -> None:
        self.holder = holder
        self.stop = stop
        self.stats = stats
        self.first = first
        self.cap = cap

    def run(self, op: Callable[[RelengApp], T], what: str, sleep: Sleep | None = None) -> T | None:
        wait = sleep or self.stop.wait
        delay = self.first
        while True:
            if self.stop.is_set():
                return None
            try:
                return op(self.holder.get())
            except STORAGE_ERRORS as exc:
                self.holder.reset()
                if self.stop.is_set():
                    return None
                self.stats.add(storage_retries=1)
                log.warning(
                    "store unavailable recording %s (%s); retrying in %.1f s",
                    what,
                    storage_reason(exc),
                    delay,
                )
            if wait(delay):
                return None
            delay = min(delay * 2, self.cap)
