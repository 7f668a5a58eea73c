"""Where ``replay --verify`` runs its decider: in this process, or in one of its own.

The replay records the log's messages into a store of its own and decides there, as
``ingest`` and ``decide`` did. Recording (translating, writing) and deciding each take
about half the time; on a machine with a core to spare the decider runs in a process
of its own that follows the replay store while this one records, as a live worker's
decider follows the log. What it decides does not depend on when it runs: it decides
message after message, whatever batches it finds (the serial replay already decides
after batches of 500 and at every fed outcome). Wherever the replay feeds an original
outcome or fetch, it first waits until the decider has caught up with everything
recorded, exactly as the serial replay decides first.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from multiprocessing.connection import Connection

from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.settings import Settings
from relengotron.adapters.store.store import open_app, while_locked
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet
from relengotron.projections.processes.decider import Decider

# The two processes write one SQLite file: a transaction that read before writing is
# refused at once ("database is locked"), whatever the busy timeout; every write of the
# replay is a whole transaction, tried again (``adapters.store.store.while_locked``).
LOCKED_PATIENCE = 120.0


class ReplayDeciderFailed(RuntimeError):
    """The decider process of a replay failed; the message holds its traceback."""


def _decider(store: RelengApp, policies: PolicySet, cfg: Settings) -> Decider:
    """The replay's decider. Its view is kept in memory between runs and never written
    to tables (``views=None``): nobody else decides in the replay's store, which is
    thrown away at the end, so writing the view at every flush (about a fifth of
    deciding) would be for nothing."""
    decider = Decider(store, policies, cfg.gating, views=None)
    decider.keep_view = True
    return decider


class DecideHere:
    """The decider in this process: it runs when the replay asks it to catch up."""

    def __init__(self, store: RelengApp, policies: PolicySet, cfg: Settings) -> None:
        self.decider = _decider(store, policies, cfg)

    def recorded(self) -> None:
        """More input is recorded (deciding waits for :meth:`catch_up`)."""

    def catch_up(self) -> None:
        self.decider.run()

    def close(self) -> None:
        pass


class DecideApart:
    """The decider in a process of its own, deciding while the replay records."""

    def __init__(self, url: str, policies: PolicySet, cfg: Settings) -> None:
        ctx = multiprocessing.get_context("spawn")  # no engine or thread of ours copied
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(
            target=_decide_apart,
            args=(theirs, url, policies, cfg),
            name="relengotron-replay-decider",
            daemon=True,
        )
        self.proc.start()
        theirs.close()

    def recorded(self) -> None:
        self._send("run")  # not waited for: it decides while more is recorded

    def catch_up(self) -> None:
        """Return once the decider has decided everything recorded before this call."""
        self._send("sync")
        try:
            answer = self.conn.recv()
        except EOFError:
            raise self._ended() from None
        if answer[0] == "failed":
            raise ReplayDeciderFailed(answer[1])

    def _send(self, what: str) -> None:
        try:
            self.conn.send(what)
        except OSError:  # it is gone: why, if it said so
            if self.conn.poll() and (answer := self.conn.recv())[0] == "failed":
                raise ReplayDeciderFailed(answer[1]) from None
            raise self._ended() from None

    def _ended(self) -> ReplayDeciderFailed:
        self.proc.join(timeout=5)
        return ReplayDeciderFailed(
            f"the replay's decider process ended (exit code {self.proc.exitcode})"
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _decide_apart(conn: Connection, url: str, policies: PolicySet, cfg: Settings) -> None:
    """The decider process: runs on every request, answers each ``sync`` after a run
    that started once the request was made (the requests that came meanwhile are
    answered by one run)."""
    try:
        with fewer_collections():
            store = open_app(url, create=False, scratch=True)
            decider = _decider(store, policies, cfg)
            while True:
                asked = [conn.recv()]
                while conn.poll():
                    asked.append(conn.recv())
                if "stop" in asked:
                    return
                while_locked(decider.run, LOCKED_PATIENCE)
                if "sync" in asked:
                    conn.send(("synced",))
    except (EOFError, KeyboardInterrupt):
        return  # the replay is gone or interrupted: nothing to tell
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send(("failed", traceback.format_exc()))


def deciding(
    store: RelengApp, url: str, policies: PolicySet, cfg: Settings, apart: bool
) -> DecideHere | DecideApart:
    return DecideApart(url, policies, cfg) if apart else DecideHere(store, policies, cfg)
