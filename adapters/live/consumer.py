"""The live consumer: each fedora-messaging message recorded before it is acknowledged.

fedora-messaging calls :class:`RelengConsumer` with one message at a time, in a
thread, and acknowledges the message when the call returns. The call records the
message (raw and normalized, ``RelengApp.record``) in one transaction, so the
acknowledgement always follows the commit: a crash before it leaves the message on
the broker, and the redelivery is recognised as a duplicate.

Nothing is dropped:

* a topic nobody translates, or a body a translator cannot read, is recorded all the
  same (status ``unrecognized``, or problems on the message) and acknowledged;
* a body holding what no store can keep as it is (lone surrogates, NUL, NaN, integers
  beyond 64 bits: ``domain.safe_text``) is recorded store-safe, with its problems and
  its exact value in ``original``; one nested deeper than 100 levels is rejected input.
  So no message can fail its group commit (a lone surrogate used to fail it, and then
  its own rejection, for ever);
* the store unavailable (PostgreSQL restarting, SQLite ``database is locked``, a
  conflict that keeps coming back): the call does not return; it retries with an
  exponential back-off (0.5 s doubling to 30 s, for ever, one WARNING line per try)
  on a freshly opened application, while the message and the rest of the prefetch
  window wait on the broker. A stop request (SIGTERM) ends the wait: the message is
  returned to the queue (``Nack``);
* an error that is not the store's (a bug) never halts the consumer: the message is
  kept as rejected input (the whole envelope as JSON, the error as the reason);
* bodies fedora-messaging itself refuses never reach this class: see
  :mod:`adapters.live.deadletter`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fedora_messaging.exceptions import Nack
from fedora_messaging.message import Message

from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.live.messages import (
    Raw,
    canonical,
    incoming_from,
    message_record,
    raw_text,
)
from relengotron.adapters.live.storage import (
    FIRST_DELAY,
    MAX_DELAY,
    AppFactory,
    AppHolder,
    LiveStats,
    Sleep,
    StorageRetry,
)
from relengotron.domain.values import IncomingMessage, RecordOutcome, RejectedLine

log = logging.getLogger(__name__)

OnRecorded = Callable[[str], None]


class Recorder:
    """Records messages and rejected input with :class:`StorageRetry`, counting them and
    calling ``on_recorded(key)`` for each new message. Shared by the consumer and the
    dead-letter drainer (each with its own application)."""

    def __init__(
        self,
        app_factory: AppFactory,
        *,
        stats: LiveStats,
        stop: threading.Event,
        on_recorded: OnRecorded | None = None,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.holder = AppHolder(app_factory)
        self.stats = stats
        self.stop = stop
        self.on_recorded = on_recorded
        self.retry = StorageRetry(self.holder, stop, stats, first=first_delay, cap=max_delay)

    def record(
        self, item: IncomingMessage | RejectedLine, raw: Raw, sleep: Sleep | None = None
    ) -> bool:
        """Record ``item``; False when a stop was requested before it was recorded.

        ``raw`` is what is kept as rejected input if recording fails for a reason that is
        not the store's (a bug must neither halt the consumer nor lose the message).
        """
        if isinstance(item, RejectedLine):
            return self._reject(item, sleep)
        what = f"message {item.key} ({item.topic})"
        try:
            outcome = self.retry.run(lambda app: app.record([item]), what, sleep)
        except Exception as exc:
            log.exception("recording %s failed; keeping it as rejected input", what)
            reason = f"could not be recorded as a message: {exc!r}"
            line = RejectedLine(raw=raw_text(raw), reason=reason, source=item.source)
            return self._reject(line, sleep)
        if outcome is None:
            return False
        self.counted(outcome)
        return True

    def counted(self, outcome: RecordOutcome) -> None:
        """Count what a commit recorded and tell ``on_recorded`` of each new message."""
        self.stats.count_outcome(outcome)
        if self.on_recorded is not None:
            for key in outcome.new:
                try:
                    self.on_recorded(key)
                except Exception:  # the hook must not make us re-record or halt
                    log.exception("on_recorded(%s) failed", key)

    def _reject(self, line: RejectedLine, sleep: Sleep | None) -> bool:
        what = f"rejected input from {line.source}"
        delay = FIRST_DELAY
        while True:
            try:
                done = self.retry.run(lambda app: app.record_rejected([line]), what, sleep)
            except Exception:  # not the store's fault, and nowhere else to keep it: wait
                log.exception("keeping %s failed; retrying in %.1f s", what, delay)
                if (sleep or self.stop.wait)(delay):
                    return False
                delay = min(delay * 2, MAX_DELAY)
                continue
            if done is None:
                return False
            # A redelivery of a delivery kept already (same content, same message id)
            # is a duplicate: ``rejected`` counts the records written.
            self.stats.add(rejected=done, duplicate=1 - done)
            return True

    def close(self) -> None:
        self.holder.close()


@dataclass
class _Job:
    item: IncomingMessage | RejectedLine
    raw: Raw
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class GroupCommit(threading.Thread):
    """Records the messages of concurrent callbacks together: one transaction for all
    the messages waiting when the previous transaction ended (at most ``max_batch``).

    fedora-messaging hands each consumer one message at a time and acknowledges it when
    the callback returns; a process runs several consumers of the queue, and each
    callback waits here until its message is committed, so nothing is acknowledged
    before its commit. Under load the batches grow by themselves (what arrives during a
    commit waits for the next); a message alone is committed at once. A batch that fails
    for another reason than the store is recorded again one message at a time, so one
    bad message is kept as rejected input and the others recorded.
    """

    def __init__(self, recorder: Recorder, *, max_batch: int = 100) -> None:
        super().__init__(name="relengotron-group-commit", daemon=True)
        self.recorder = recorder
        self.max_batch = max_batch
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self.batches = 0

    def submit(self, item: IncomingMessage | RejectedLine, raw: Raw) -> bool:
        """Record ``item``; True once committed, False when stopped before that."""
        job = _Job(item, raw)
        self._jobs.put(job)
        while not job.done.wait(0.5):
            if not self.is_alive():  # never started, or ended: record it here
                return self.recorder.record(item, raw)
        return job.ok

    def run(self) -> None:
        while not self.recorder.stop.is_set() or not self._jobs.empty():
            try:
                batch = [self._jobs.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, jobs: list[_Job]) -> None:
        self.batches += 1
        batch: list[_Job] = []
        for job in jobs:  # the application is this thread's alone: everything goes here
            if isinstance(job.item, RejectedLine) or len(jobs) == 1:
                job.ok = self.recorder.record(job.item, job.raw)
                job.done.set()
            else:
                batch.append(job)
        if not batch:
            return
        items = [j.item for j in batch if isinstance(j.item, IncomingMessage)]
        try:
            outcome = self.recorder.retry.run(
                lambda app: app.record(items), f"{len(items)} messages"
            )
        except Exception:  # not the store's fault: find the culprit one at a time
            log.exception("recording %d messages together failed; one at a time", len(items))
            for j in batch:
                j.ok = self.recorder.record(j.item, j.raw)
                j.done.set()
            return
        if outcome is not None:
            self.recorder.counted(outcome)
        for j in batch:
            j.ok = outcome is not None
            j.done.set()


class RelengConsumer:
    """The fedora-messaging callback (see the module docstring).

    Args:
        app_factory: opens the application this consumer records with (called again
            after a storage failure). The consumer's application is its own: followers
            and the dead-letter drainer open theirs.
        stats: counters, shared with the drainer for one status line.
        stop: set it (``stop()``) to stop waiting for the store; messages arriving
            afterwards are returned to the queue.
        on_recorded: called with the key of each newly recorded message, after the
            commit (e.g. to wake the decider). Its exceptions are logged, never raised.
    """

    def __init__(
        self,
        app_factory: AppFactory,
        *,
        stats: LiveStats | None = None,
        stop: threading.Event | None = None,
        on_recorded: OnRecorded | None = None,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        branches: BranchFilter | None = None,
    ) -> None:
        self.branches = branches  # the monitored dist-git branches (None: the default)
        self.stats = stats or LiveStats()
        self.stop_event = stop or threading.Event()
        self.recorder = Recorder(
            app_factory,
            stats=self.stats,
            stop=self.stop_event,
            on_recorded=on_recorded,
            first_delay=first_delay,
            max_delay=max_delay,
        )
        self.committer = GroupCommit(self.recorder)
        self.committer.start()

    def __call__(self, message: Message) -> None:
        if self.stop_event.is_set():
            raise Nack()  # stopping: leave it to the next consumer
        self.stats.add(received=1)
        record = message_record(message)
        source = f"amqp:{message.queue}" if message.queue else "amqp"
        item = incoming_from(record, source, branches=self.branches)
        if not self.committer.submit(item, lambda: canonical(record)):
            raise Nack()  # stopped while the store was unavailable: back to the queue

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.stop_event.set()
        self.committer.join(10)
        self.recorder.close()
