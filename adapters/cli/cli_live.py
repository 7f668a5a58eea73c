"""``relengotron consume``: record the bus as it arrives (fedora-messaging), nothing dropped.

Contract:

* ``relengotron consume [--db URL] [--config FILE] [--fm-config FILE] [--no-followers]
  [--json]``
* the fedora-messaging configuration: ``--fm-config``, else ``[bus] config_file`` of the
  settings, else ``$FEDORA_MESSAGING_CONF``, else ``/etc/fedora-messaging/config.toml``
  (the file used is named on stderr; it must exist). Its ``queues`` are consumed, each
  declared with ``x-dead-letter-exchange`` = the dead-letter exchange; its
  ``[consumer_config]`` may set ``db_url``, ``dead_letter_exchange`` and
  ``dead_letter_queue``.
* the store: ``--db``, else ``$RELENGOTRON_DB``, else ``[consumer_config] db_url``, else
  ``[store] url``, else the default file.
* once the dead-letter queue is declared and the consumers are registered, one line on
  stdout: ``relengotron consume: ready (queue NAME[,NAME...], pid PID)``.
* SIGTERM or SIGINT: the message in hand is finished (or, while the store is unavailable,
  returned to the queue), the consumers are cancelled, the counters are printed (one JSON
  object with ``--json``), exit 0.
* exit 1: the broker ended consuming (queue deleted, access refused, a queue declared
  with other arguments, the login refused) or the dead-letter drainer failed; exit 2:
  usage (missing or invalid configuration, bad database URL).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE
from relengotron.adapters.cli.cli_live_config import (
    DEFAULT_FM_CONF,
    ENV_FM_CONF,
    ConsumeConfig,
    ConsumeUsageError,
    load_consume_config,
    setup_logging,
)
from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.settings import Settings, database_url

if TYPE_CHECKING:
    from relengotron.domain.application import RelengApp

EXIT_FAILED = EXIT_PROBLEM
STATUS_EVERY = 60.0  # seconds between status lines in the log (when something changed)
CANCEL_TIMEOUT = 60.0

log = logging.getLogger("relengotron.adapters.live")


class Followers(Protocol):
    """What ``followers_factory(app, cfg)`` returns (``adapters.live.followers``)."""

    def wake(self, key: str | None = None, /) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


FollowersFactory = Callable[["RelengApp", Settings], Followers]


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "consume", help="record messages from the bus as they arrive (fedora-messaging)"
    )
    common(p)
    p.add_argument(
        "--fm-config",
        metavar="FILE",
        help="fedora-messaging configuration (TOML); default: [bus] config_file, "
        f"${ENV_FM_CONF}, or {DEFAULT_FM_CONF}",
    )
    p.add_argument(
        "--no-followers",
        action="store_true",
        help="record only: no deciding, composing, acting or read models in this process",
    )
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")


def run(args: argparse.Namespace) -> int | None:
    if args.command != "consume":
        return None
    from relengotron.adapters.live.followers import start_followers

    return run_consume(args, followers_factory=start_followers)


# ------------------------------------------------------------------ the command


def run_consume(args: argparse.Namespace, followers_factory: FollowersFactory | None = None) -> int:
    """Consume until a signal (see the module docstring).

    ``followers_factory(app, cfg)``: HOOK for the followers (``adapters.live.followers.
    start_followers`` fits): called once with an application of their own, unless
    ``--no-followers``; its ``wake(key)`` is called after each new message is committed
    and its ``stop()`` at the end. None: this process records only.
    """
    try:
        cfg = bootstrap.settings(args.config)
        cc = load_consume_config(args.fm_config, cfg)
        db_url = database_url(args.db, configured=cc.db_url or cfg.db)
    except ConsumeUsageError as exc:
        print(f"relengotron consume: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(
        cc.fm_config,
        cc.conf,
        getattr(args, "log_level", None),
        getattr(args, "log_format", "text"),
    )
    print(
        f"relengotron consume: fedora-messaging configuration {cc.fm_config} "
        f"({cc.fm_config_origin})",
        file=sys.stderr,
        flush=True,
    )
    return Consume(args, cfg, cc, db_url, followers_factory).run()


class Consume:
    """One ``consume`` process: drainer thread, fedora-messaging consumers, followers."""

    def __init__(
        self,
        args: argparse.Namespace,
        cfg: Settings,
        cc: ConsumeConfig,
        db_url: str,
        followers_factory: FollowersFactory | None,
    ) -> None:
        from relengotron.adapters.live.storage import LiveStats
        from relengotron.adapters.store.store import open_app

        self.args = args
        self.cfg = cfg
        self.cc = cc
        self.app_factory = partial(open_app, db_url)
        self.followers_factory = None if args.no_followers else followers_factory
        self.stats = LiveStats()
        self.stop = threading.Event()
        self.followers: Followers | None = None
        self.consumers: list[Any] = []
        self.gc_thresholds: tuple[int, ...] | None = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        if not self.stop.is_set():
            log.info("%s: stopping after the message in hand", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        from fedora_messaging.exceptions import ConfigurationException

        from relengotron.adapters.ingest.collector import fewer_collections
        from relengotron.adapters.live.consumer import Recorder, RelengConsumer
        from relengotron.adapters.live.deadletter import (
            DeadLetterDrainer,
            DeadLetterSettings,
            dead_letter_parameters,
        )
        from relengotron.adapters.live.storage import AppHolder, StorageRetry

        try:
            params = dead_letter_parameters(self.cc.conf)
        except ConfigurationException as exc:  # [tls] files missing or unusable
            print(f"relengotron consume: {self.cc.fm_config}: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        consumer: RelengConsumer | None = None
        code = EXIT_OK
        try:
            # The store first (it may be starting too): wait for it like for a message.
            probe = AppHolder(self.app_factory)
            StorageRetry(probe, self.stop, self.stats).run(lambda app: app, "nothing (start-up)")
            probe.close()
            on_recorded = None
            if self.followers_factory is not None and not self.stop.is_set():
                self.followers = self.followers_factory(self.app_factory(), self.cfg)
                on_recorded = self.followers.wake
            branches = BranchFilter(self.cfg.monitored_branches)
            consumer = RelengConsumer(
                self.app_factory,
                stats=self.stats,
                stop=self.stop,
                on_recorded=on_recorded,
                branches=branches,
            )
            drainer = DeadLetterDrainer(
                params,
                DeadLetterSettings(
                    self.cc.dead_letter_exchange, self.cc.dead_letter_queue, self.cc.passive
                ),
                Recorder(
                    self.app_factory, stats=self.stats, stop=self.stop, on_recorded=on_recorded
                ),
                stats=self.stats,
                stop=self.stop,
                branches=branches,
            )
            drainer.start()
            # The dead-letter exchange must exist before anything is refused: the broker
            # drops what it dead-letters to a missing exchange.
            while not (self.stop.is_set() or drainer.ready.wait(0.2) or not drainer.is_alive()):
                pass
            if drainer.error is not None or not drainer.is_alive():
                print(
                    f"relengotron consume: dead-letter queue: {drainer.error!r}",
                    file=sys.stderr,
                )
                return self._finish(EXIT_FAILED, drainer)
            if not self.stop.is_set():
                # Consuming is bulk work too: what start-up made is never walked again,
                # and the youngest generation is collected every 50,000 allocations
                # instead of 700 (measured: a tenth less CPU, deciding caught up twice
                # as soon). Cycles are still collected.
                with fewer_collections():
                    self.gc_thresholds = gc.get_threshold()
                    code = self._consume(consumer, drainer)
            return self._finish(code, drainer)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if consumer is not None:
                consumer.close()

    def _consume(self, consumer: Any, drainer: threading.Thread) -> int:
        import crochet
        from fedora_messaging import api
        from twisted.internet import defer

        from relengotron.adapters.live import decoding
        from relengotron.adapters.live.schemas import install

        install()  # each schema checked once, not once per message
        decoding.install()  # a body fedora-messaging cannot read is refused, never a halt

        crochet.setup()

        @crochet.run_in_reactor
        def consume_in_parallel() -> defer.Deferred[Any]:
            # ``parallel`` consumers of the queue(s): fedora-messaging runs one callback
            # at a time per consumer, in the reactor's thread pool; their messages are
            # committed together (``GroupCommit``), each acknowledged after its commit.
            from twisted.internet import reactor

            reactor.suggestThreadPoolSize(self.cc.parallel + 4)
            return defer.gatherResults(
                [api.twisted_consume(consumer) for _ in range(self.cc.parallel)],
                consumeErrors=True,
            )

        started = consume_in_parallel()
        while True:
            try:
                groups = cast(list[list[Any]], started.wait(0.5))
                self.consumers = [c for group in groups for c in group]
                break
            except crochet.TimeoutError:
                if self.stop.is_set():
                    started.cancel()
                    return EXIT_OK
            except Exception as exc:
                print(f"relengotron consume: cannot consume: {exc}", file=sys.stderr)
                return EXIT_FAILED
        print(
            f"relengotron consume: ready (queue {','.join(self.cc.queues)}, pid {os.getpid()})",
            flush=True,
        )

        @crochet.run_in_reactor
        def halted() -> defer.Deferred[Any]:
            return defer.DeferredList(
                [c.result for c in self.consumers],
                fireOnOneCallback=True,
                fireOnOneErrback=True,
                consumeErrors=True,
            )

        ended = halted()
        code = EXIT_OK
        last, shown = time.monotonic(), self.stats.as_json()
        while not self.stop.is_set():
            try:
                ended.wait(0.5)
            except crochet.TimeoutError:
                pass
            except Exception as exc:
                cause = getattr(getattr(exc, "subFailure", None), "value", exc)
                print(f"relengotron consume: consuming stopped: {cause!r}", file=sys.stderr)
                code = EXIT_FAILED
                break
            else:
                print("relengotron consume: consuming stopped by the broker", file=sys.stderr)
                code = EXIT_FAILED
                break
            if self.stop.is_set():
                break
            if not drainer.is_alive():
                error = getattr(drainer, "error", None)
                print(f"relengotron consume: dead-letter drainer ended: {error!r}", file=sys.stderr)
                code = EXIT_FAILED
                break
            if time.monotonic() - last >= STATUS_EVERY:
                now = self.stats.as_json()
                if {**now, "seconds": 0} != {**shown, "seconds": 0}:
                    log.info("status: %s", self.stats.status_line())
                last, shown = time.monotonic(), now
        self.stop.set()
        self._cancel()
        return code

    def _cancel(self) -> None:
        """Cancel the consumers: the message in hand is finished (acknowledged) first;
        the prefetched ones go back to the queue when the channel closes."""
        import crochet
        from twisted.internet import defer

        @crochet.run_in_reactor
        def cancel() -> defer.Deferred[Any]:
            return defer.gatherResults([c.cancel() for c in self.consumers], consumeErrors=True)

        try:
            cancel().wait(CANCEL_TIMEOUT)
        except Exception as exc:  # the connection may be gone: unacknowledged ones return
            log.warning("cancelling the consumers: %r", exc)

    def _finish(self, code: int, drainer: threading.Thread | None) -> int:
        self.stop.set()
        if drainer is not None:
            drainer.join(CANCEL_TIMEOUT)
        out: dict[str, Any] = {
            "queues": list(self.cc.queues),
            "dead_letter_queue": self.cc.dead_letter_queue,
            **self.stats.as_json(),
            "exit": code,
        }
        if self.gc_thresholds is not None:  # the garbage collector's, while consuming
            out["gc_thresholds"] = list(self.gc_thresholds)
        if self.followers is not None:
            try:
                self.followers.stop()
            except Exception:  # the counters are printed whatever happens to them
                log.exception("stopping the followers failed")
            stats = getattr(self.followers, "stats", None)
            if stats is not None and hasattr(stats, "as_json"):
                out["followers"] = stats.as_json()
        if self.args.json:
            print(json.dumps(out), flush=True)
        else:
            print(f"relengotron consume: stopped; {self.stats.status_line()}", flush=True)
        return code
