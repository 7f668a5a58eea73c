"""The followers of a live store: decider, composer, effector and read models, once per store.

Any number of processes may record messages into one store (``relengotron consume``
workers). What follows the log — deciding, planning composes, carrying out koji
moves and compose requests, publishing, keeping the read models — runs in one of
them at a time: the holder of the store's *leader lock*.

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept
  for it. If that connection dies (the server restarted), the lock is gone with it:
  the holder notices before its next round and competes again; another worker may
  take over meanwhile.
* SQLite: an exclusive ``flock`` on ``<store file>.leader``, released when the
  process ends, however it ends.

Even without the lock, deciding twice could not record a decision twice (the store's
optimistic concurrency rejects the second writer and the decider retries from the
log); the lock is what keeps two effectors from calling koji for the same move.

Each round (woken by a commit, or every ``interval`` seconds) runs the
decider and the composer (keeping their folded views in memory between rounds), the
effector (its pending actions scanned incrementally), and the read-model projector.
A worker wakes its followers after its own commits; on PostgreSQL the leader is also
woken by everybody else's (:class:`CommitWakeups`, ``LISTEN`` on the channel every
event insert notifies), so what the other workers record is decided as soon.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy.engine import Connection, Engine

from relengotron.adapters import bootstrap
from relengotron.adapters.effects.pending import PendingScan
from relengotron.adapters.services import decisions, inputs
from relengotron.adapters.services.sync import ReadyComposes
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """True when this process holds the lock now (taking it if free)."""
        ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session advisory lock, on a connection of its own."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._conn: Connection | None = None
        self._held = False

    def acquire(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
                self._conn.exec_driver_sql("SET application_name = 'relengotron-leader'")
                self._conn.commit()
                self._held = False
            if self._held:
                self._conn.exec_driver_sql("SELECT 1").scalar()  # still connected = still held
            else:
                got = self._conn.exec_driver_sql(
                    "SELECT pg_try_advisory_lock(%s)", (self.key,)
                ).scalar()
                self._held = bool(got)
            self._conn.commit()
            return self._held
        except Exception as exc:  # the server went away: so did the lock
            log.warning("leader lock lost or not available: %s", exc)
            self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken
                pass

    def release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (self.key,))
                self._conn.commit()
            except Exception:  # the lock ends with the session anyway
                pass
        self._drop()


class FileLeaderLock:
    """``flock`` on a file beside a SQLite store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def leader_lock(app: RelengApp, name: str = "followers") -> LeaderLock:
    """The lock of this store (its database and schema)."""
    recorder: Any = app.recorder
    engine: Engine = recorder.datastore.engine
    schema = recorder.events_record_cls.__table__.schema or ""
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine, f"relengotron:{name}:{engine.url.database}:{schema}")
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("a live store needs a database file or server, not :memory:")
    return FileLeaderLock(Path(f"{database}.{name}.leader"))


class CommitWakeups(threading.Thread):
    """Calls ``on_commit`` whenever any process commits events to a PostgreSQL store.

    Every transaction that inserts events sends ``NOTIFY <channel>``
    (eventsourcing-sqlalchemy's recorder does, and ours keeps it); this thread
    ``LISTEN``s on a connection of its own. Without it, what the other workers record
    would wait for the leader's next periodic round: with N workers, (N - 1)/N of the
    traffic. A wakeup is only ever early work: if the connection is lost it is
    opened again every ``retry`` seconds, and meanwhile the periodic rounds go on.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        on_commit: Callable[[], None],
        *,
        retry: float = 5.0,
        poll: float = 0.5,
    ) -> None:
        super().__init__(name="relengotron-commit-wakeups", daemon=True)
        self.url = url
        self.channel = channel.lower()  # NOTIFY names it unquoted: folded to lower case
        self.on_commit = on_commit
        self.retry = retry
        self.poll = poll
        self.listening = threading.Event()
        self.notified = 0
        self._halt = threading.Event()

    @classmethod
    def of(cls, app: RelengApp, on_commit: Callable[[], None]) -> CommitWakeups | None:
        """The wakeups of ``app``'s store; None where there are none (SQLite)."""
        recorder: Any = app.recorder
        engine: Engine = recorder.datastore.engine
        channel = getattr(recorder, "channel_name", None)
        if engine.dialect.name != "postgresql" or not channel:
            return None
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(url, channel, on_commit)

    def stop(self, timeout: float = 5.0) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        warned = False
        while not self._halt.is_set():
            try:
                with psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="relengotron-wakeups",
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening.set()
                    if warned:
                        log.info("commit wakeups: listening again")
                        warned = False
                    while not self._halt.is_set():
                        for _ in conn.notifies(timeout=self.poll):
                            self.notified += 1
                            self.on_commit()
                            if self._halt.is_set():
                                break
            except psycopg.Error as exc:
                self.listening.clear()
                if not warned:  # once per outage: the periodic rounds go on meanwhile
                    log.warning(
                        "commit wakeups: not listening (%s); rounds every interval only, "
                        "retrying every %.0f s",
                        str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                        self.retry,
                    )
                    warned = True
                self._halt.wait(self.retry)
        self.listening.clear()


@dataclass
class RoundStats:
    rounds: int = 0
    led: int = 0
    decisions: int = 0
    actions_done: int = 0
    errors: int = 0
    last_error: str | None = None
    leader: bool = False
    seconds: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "rounds_as_leader": self.led,
            "decisions": self.decisions,
            "actions_done": self.actions_done,
            "errors": self.errors,
            "last_error": self.last_error,
            "leader": self.leader,
        }


class Followers(threading.Thread):
    """Runs the followers of ``app`` while this process holds the store's leader lock.

    ``wake()`` asks for a round now (after a message was recorded); otherwise a round
    runs every ``interval`` seconds, so outcomes and timers are never left waiting.
    ``act=False`` leaves the effector to another process (``relengotron act --follow``).
    """

    def __init__(
        self,
        app: RelengApp,
        cfg: Settings,
        *,
        lock: LeaderLock | None = None,
        interval: float = 1.0,
        act: bool = True,
        project: bool = True,
        compose: bool = True,
        coalesce: float = 0.05,
        project_every: float = 1.0,
    ) -> None:
        super().__init__(name="relengotron-followers", daemon=True)
        self.app = app
        self.cfg = cfg
        self.lock = lock or leader_lock(app)
        self.interval = interval
        self.do_act, self.do_project, self.do_compose = act, project, compose
        # Under load every recorded message wakes us: a round waits ``coalesce`` seconds
        # so the messages of a burst are decided in one round, and the read models are
        # brought up to date at most every ``project_every`` seconds.
        self.coalesce = coalesce
        self.project_every = project_every
        self._projected_at = float("-inf")
        self.stats = RoundStats()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._parts: dict[str, Any] | None = None
        self.wakeups = CommitWakeups.of(app, self._on_commit)

    def _on_commit(self) -> None:
        """Any process committed events: the leader has work (the others wait)."""
        if self.stats.leader:
            self._wake.set()

    # ------------------------------------------------------------------ control

    def wake(self, _key: str | None = None) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._halt.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)
        if self.wakeups is not None:
            self.wakeups.stop()
        self.lock.release()

    def run(self) -> None:
        if self.wakeups is not None:
            self.wakeups.start()
        self._wake.set()  # the first round at once: take the lead if it is free
        while not self._halt.is_set():
            if self._wake.wait(self.interval) and self.coalesce > 0:
                self._halt.wait(self.coalesce)  # let the rest of a burst arrive
            self._wake.clear()
            if self._halt.is_set():
                break
            self.round()

    # ------------------------------------------------------------------ a round

    def _build(self) -> dict[str, Any]:
        """The followers, built once and kept: their folded views live between rounds."""
        decider = bootstrap.decider(self.app, self.cfg)
        composer = bootstrap.composer(self.app, self.cfg)
        for f in (decider, composer):
            f.keep_view = True  # its view is written at every flush; memory keeps what it read
        return {
            "decider": decider,
            "composer": composer,
            "effector": bootstrap.effector(self.app, self.cfg, scan=PendingScan())
            if self.do_act
            else None,
            "projector": bootstrap.projector(self.app, self.cfg) if self.do_project else None,
            "syncs": ReadyComposes(),
        }

    def round(self) -> bool:
        """One round, if this process leads; True when it did."""
        self.stats.rounds += 1
        self.stats.leader = self.lock.acquire()
        if not self.stats.leader:
            self._parts = None  # someone else leads: our views would go stale
            return False
        started = time.perf_counter()
        try:
            if self._parts is None:
                inputs.sync_policies(self.app, self.cfg)
                self._parts = self._build()
            parts = self._parts
            report = decisions.run_decider(self.app, self.cfg, parts["decider"])
            self.stats.decisions += len(report.decisions)
            if self.do_compose:
                parts["composer"].run()
            if parts["effector"] is not None:
                acted = parts["effector"].run()
                self.stats.actions_done += len(acted.done)
                if acted.done:
                    self._wake.set()  # outcomes change gates: decide on them right away
            due = time.monotonic() - self._projected_at >= self.project_every
            if parts["projector"] is not None and due:
                parts["projector"].run()
                self._projected_at = time.monotonic()
                # Composes whose gate passed (on read models just brought up to date):
                # their syncs requested, carried out by the effector next round.
                if parts["syncs"](self.app, self.cfg):
                    self._wake.set()
            self.stats.last_error = None
        except Exception as exc:  # a store or koji outage: the next round tries again
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("followers: round failed: %s", self.stats.last_error)
            self._parts = None  # rebuild from the log: a failed run may have folded half
            time.sleep(min(self.interval, 1.0))
            return True
        self.stats.led += 1
        self.stats.seconds.append(time.perf_counter() - started)
        del self.stats.seconds[:-1000]
        return True


def start_followers(app: RelengApp, cfg: Settings, **kwargs: Any) -> Followers:
    followers = Followers(app, cfg, **kwargs)
    followers.start()
    return followers
