"""The event-sourced application: records messages and their facts atomically.

``record(messages)`` writes, in one transaction, each new message's raw record
and every event its facts produce on builds, changes, updates, tags, tasks and
pushes. A message already recorded (same key) changes nothing. A batch that
hits a conflict (a duplicate recorded concurrently, or another writer that
advanced an aggregate) is retried without the duplicates and with fresh
aggregates, so one bad apple never loses the rest of the batch.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

from relengotron.domain import ids
from relengotron.domain.handlers import APPEND_ONLY, apply_fact, targets
from relengotron.domain.message import InboundMessage, RejectedInput
from relengotron.domain.ports import StreamReader
from relengotron.domain.redelivery import rekeyed, same_message, store_safe_line
from relengotron.domain.unit_of_work import Appends, UnitOfWork
from relengotron.domain.values import IncomingMessage, RecordOutcome, RejectedLine

MAX_ATTEMPTS = 12


class RelengApp(Application[UUID]):
    """releng-o-tron's event store and the commands that write to it.

    ``stream_reader`` (a port, see ``domain.ports``) lets the store answer
    "which of these exist" and "load these" in one query per batch; without
    it the application falls back to one query per aggregate.
    """

    name = "relengotron"
    cache_size = 20_000
    #: The aggregates ``record`` writes as appended events, without the aggregates
    #: (``domain.unit_of_work``); empty: every one as an aggregate (the same events).
    append_only: frozenset[type] = APPEND_ONLY

    def __init__(self, env: Any = None, stream_reader: StreamReader | None = None) -> None:
        super().__init__(env)
        self.stream_reader = stream_reader
        self._cache: OrderedDict[UUID, Aggregate | Appends] = OrderedDict()

    # ------------------------------------------------------------ the cache
    # Aggregates saved by this process, reused by later batches. Entries are
    # only put after a successful save and dropped when a save fails, so the
    # cache never holds unsaved changes; another writer advancing an aggregate
    # makes the next save conflict, which drops the stale entry and retries.

    def cache_get(self, aggregate_id: UUID) -> Aggregate | Appends | None:
        agg = self._cache.get(aggregate_id)
        if agg is not None:
            self._cache.move_to_end(aggregate_id)
        return agg

    def _cache_put(self, aggregates: Iterable[Aggregate | Appends]) -> None:
        for agg in aggregates:
            if isinstance(agg, InboundMessage | RejectedInput) or (
                isinstance(agg, Appends) and agg.cls is InboundMessage
            ):
                continue  # never touched again
            self._cache[agg.id] = agg
            self._cache.move_to_end(agg.id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _evict(self, aggregates: Iterable[UUID]) -> None:
        for aggregate_id in aggregates:
            self._cache.pop(aggregate_id, None)

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder: the same events table, plus tracking positions
        # written atomically with the events a projection derives from them.
        return self.factory.process_recorder()

    def tracked_position(self, name: str) -> int:
        """The last log position a follower (e.g. the decider) recorded as processed."""
        recorder = cast(ProcessRecorder, self.recorder)
        return recorder.max_tracking_id(name) or 0

    def save_tracked(
        self,
        aggregates: Iterable[Aggregate],
        name: str,
        position: int,
        also: Callable[[], None] | None = None,
    ) -> int:
        """Save the aggregates' new events and a follower's position in one transaction;
        ``also`` writes in that transaction too (the follower's view at ``position``)."""
        batch: ProcessingEvent[UUID] = ProcessingEvent(
            tracking=Tracking(application_name=name, notification_id=position)
        )
        for agg in aggregates:
            if agg._pending_events:
                batch.events.extend(agg.collect_events())
                batch.aggregates[agg.id] = agg
        if also is None:
            self._record(batch)
        else:
            # The SQLAlchemy recorders join a transaction already open in this context.
            with cast(Any, self.recorder).transaction(commit=True):
                also()
                self._record(batch)
        return len(batch.events)

    def read_streams(self, ids_: Collection[UUID]) -> dict[UUID, list[StoredEvent]]:
        if self.stream_reader is not None:
            return self.stream_reader.load(ids_)
        return {i: list(evs) for i in ids_ if (evs := self.recorder.select_events(i))}

    def read_heads(self, ids_: Collection[UUID]) -> dict[UUID, tuple[int, str]]:
        """Each existing stream's last version and first event's topic."""
        if self.stream_reader is not None:
            return self.stream_reader.heads(ids_)
        heads: dict[UUID, tuple[int, str]] = {}
        for i in ids_:
            first = self.recorder.select_events(i, limit=1)
            if first:
                last = self.recorder.select_events(i, desc=True, limit=1)
                heads[i] = (last[0].originator_version, first[0].topic)
        return heads

    def last_position(self, topics: Collection[str], after: int = 0) -> int | None:
        """The position of the last event of these topics if after ``after`` (else
        ``after``); None when the store cannot say cheaply (no stream reader)."""
        if self.stream_reader is not None:
            return self.stream_reader.last_position(topics, after)
        return None

    def log_head(self) -> int:
        """The position of the last stored event (0: an empty log)."""
        return int(self.recorder.max_notification_id() or 0)

    def since(self, after: int, topics: Sequence[str], until: int) -> Iterator[Notification]:
        """The events of these topics after ``after`` up to ``until`` (a head read before),
        in log order (``domain.log_scan.LogScan`` goes on from ``until`` next time)."""
        while after < until:
            batch = self.recorder.select_notifications(after + 1, 1000, until, topics)
            if not batch:
                return
            yield from batch
            after = batch[-1].id

    def existing(self, ids_: Collection[UUID]) -> set[UUID]:
        if self.stream_reader is not None:
            return self.stream_reader.existing(ids_)
        return {i for i in ids_ if self._exists(i)}

    def reconstruct(self, stored: Sequence[StoredEvent]) -> Aggregate:
        aggregate: Any = None
        for s in stored:
            aggregate = cast(Aggregate.Event, self.mapper.to_domain_event(s)).mutate(aggregate)
        return cast(Aggregate, aggregate)

    def record(self, messages: Sequence[IncomingMessage]) -> RecordOutcome:
        """Record messages (raw and normalized) in one transaction; skip redeliveries.

        A redelivery is a message whose key is recorded already with the same
        topic and body. The same key with other content is a different message
        (ids reused by a buggy publisher): it is recorded under a derived key.
        """
        duplicate: list[str] = []
        todo: list[IncomingMessage] = []
        in_batch: dict[str, IncomingMessage] = {}
        for m in messages:
            while m.key in in_batch:
                if same_message(in_batch[m.key], m):
                    duplicate.append(m.key)
                    break
                m = rekeyed(m)
            else:
                in_batch[m.key] = m
                todo.append(m)
        for attempt in range(MAX_ATTEMPTS):
            todo = self._without_recorded(todo, duplicate)
            uow = UnitOfWork(self, self.append_only)
            uow.preload(t for m in todo for fact in m.facts for t in targets(fact))
            try:
                for m in todo:
                    self._apply(uow, m)
            except BaseException:
                # A handler failed half-way: cached streams may hold its unsaved events.
                self._evict(uow.aggregates)
                raise
            try:
                events = self._save(uow, {m.key: i for i, m in enumerate(todo)})
            except IntegrityError:
                # A redelivery recorded meanwhile, or another writer advanced
                # an aggregate: forget what we loaded and try again.
                self._evict(uow.aggregates)
                # Back off with jitter so competing writers stop colliding.
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
                if attempt >= 2 and len(todo) > 1:
                    # A conflict that keeps coming back (a hot aggregate under
                    # concurrent writers): one message at a time.
                    return self._record_one_by_one(todo, duplicate)
                continue
            except BaseException:
                # Nothing was saved (the store is down, the process is stopping), but
                # the loaded aggregates were changed: the cache must not keep them.
                self._evict(uow.aggregates)
                raise
            self._cache_put(uow.aggregates.values())
            return RecordOutcome(recorded=tuple(todo), duplicate=tuple(duplicate), events=events)
        raise IntegrityError(f"could not record a batch of {len(todo)} after {MAX_ATTEMPTS} tries")

    def _without_recorded(
        self, todo: list[IncomingMessage], duplicate: list[str]
    ) -> list[IncomingMessage]:
        """Drop redeliveries; re-key messages whose key another message holds."""
        if not todo:
            return todo
        taken = self.existing([ids.message_id(m.key) for m in todo])
        # The recorded messages of the taken keys, read with one query (not one each).
        recorded = self.read_streams(taken) if taken else {}
        keep: list[IncomingMessage] = []
        for m in todo:
            while (mid := ids.message_id(m.key)) in taken:
                first = recorded.get(mid)
                if first:
                    stored: Any = self.mapper.to_domain_event(first[0])
                else:
                    stored = self.stored_message(m.key)
                if stored is not None and same_message(stored, m):
                    duplicate.append(m.key)
                    break
                m = rekeyed(m)
                taken |= self.existing([ids.message_id(m.key)])
            else:
                keep.append(m)
        return keep

    def _record_one_by_one(
        self, todo: list[IncomingMessage], duplicate: list[str]
    ) -> RecordOutcome:
        recorded: list[IncomingMessage] = []
        events = 0
        for m in todo:
            out = self.record([m])
            recorded.extend(out.recorded)
            duplicate.extend(out.duplicate)
            events += out.events
        return RecordOutcome(recorded=tuple(recorded), duplicate=tuple(duplicate), events=events)

    def stored_message(self, key: str) -> Any:
        """The recorded message with this key (its ``Received`` event), if any."""
        for e in self.events.get(ids.message_id(key), lte=1):
            return e
        return None

    def record_rejected(self, lines: Iterable[RejectedLine]) -> int:
        """Keep input that was not a message; how many records were written."""
        return len(self.keep_rejected(lines))

    def keep_rejected(self, lines: Iterable[RejectedLine]) -> list[RejectedLine]:
        """Keep input that was not a message, one record per line (or delivery); returns
        the lines written (store-safe). A line recorded already (same place, same
        content: a rerun) is not written again, also when a store from before issue 14
        holds it under its content alone."""
        aggs: dict[UUID, RejectedInput] = {}
        written: dict[UUID, RejectedLine] = {}
        for line in lines:
            line = store_safe_line(line)
            rid = ids.rejected_line_id(line.source, line.line, line.raw, line.original)
            if rid in aggs or self._exists(rid) or self._kept_before(line):
                continue
            agg = RejectedInput(
                raw=line.raw,
                reason=line.reason,
                source=line.source,
                line=line.line,
                original=line.original,
            )
            aggs[rid] = agg
            written[rid] = line
        if aggs:
            try:
                self.save(*aggs.values())
            except IntegrityError:  # recorded concurrently: keep each that is not
                for rid, agg in aggs.items():
                    if self._exists(rid):
                        del written[rid]
                    else:
                        self.save(agg)
        return list(written.values())

    def _kept_before(self, line: RejectedLine) -> bool:
        """A record by content alone (stores before issue 14) for this very line."""
        for e in self.events.get(ids.rejected_id(line.raw), lte=1):
            old = cast(Any, e)
            return bool(old.source == line.source and old.line == line.line)
        return False

    def has_message(self, key: str) -> bool:
        return self._exists(ids.message_id(key))

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    # ---------------------------------------------------------------- internals

    def _save(self, uow: UnitOfWork, order: dict[str, int]) -> int:
        """Write every pending event of the unit of work in one transaction.

        Events are written in message order (``order``: message key -> index),
        each message's events together, so the log reads like the input did
        whatever the batch size: followers that decide "after each message"
        see the same sequence however the messages were batched.
        """
        ranked: list[tuple[int, int, StoredEvent]] = []
        rank = len(order)
        to_stored = self.mapper.to_stored_event
        encode = self._state_encoder()
        for agg in uow.aggregates.values():
            if isinstance(agg, Appends):
                if not agg.pending:
                    continue
                rank = len(order)
                # Walk backwards: an event without a message (an aggregate's
                # creation) belongs to the message of the event that follows it.
                for version, topic, state, msg in reversed(agg.collect()):
                    if msg is not None and msg in order:
                        rank = order[msg]
                    stored = StoredEvent(agg.id, version, topic, encode(state))
                    ranked.append((rank, len(ranked), stored))
            elif agg._pending_events:
                # Collected directly: Application.save() would re-check each
                # object against runtime protocols, a hot spot in bulk ingest.
                rank = len(order)
                for e in reversed(agg.collect_events()):
                    key = getattr(e, "msg", None) or getattr(e, "key", None)
                    if key is not None and key in order:
                        rank = order[key]
                    ranked.append((rank, len(ranked), to_stored(e)))
        if ranked:
            # Stable within an aggregate: the reversed walk is undone by the index.
            ranked.sort(key=lambda r: (r[0], -r[1]))
            self.recorder.insert_events([e for _, _, e in ranked])
        return len(ranked)

    def _state_encoder(self) -> Callable[[Any], bytes]:
        """An event's state to stored bytes, as the mapper writes them
        (``Mapper.to_stored_event``: transcoded, compressed, encrypted)."""
        mapper = self.mapper
        encode = mapper.transcoder.encode
        if not mapper.compressor and not mapper.cipher:
            return encode

        def stored(state: Any) -> bytes:
            data = encode(state)
            if mapper.compressor:
                data = mapper.compressor.compress(data)
            if mapper.cipher:
                data = mapper.cipher.encrypt(data)
            return data

        return stored

    def _apply(self, uow: UnitOfWork, m: IncomingMessage) -> None:
        uow.next_message()
        uow.new(
            ids.message_id(m.key),
            InboundMessage,
            key=m.key,
            msg_id=m.msg_id,
            topic=m.topic,
            body_topic=m.body_topic,
            headers=dict(m.headers),
            body=m.body,
            sent_at=m.sent_at,
            family=m.family,
            status=m.status,
            reason=m.reason,
            problems=list(m.problems),
            facts=len(m.facts),
            source=m.source,
            original=m.original,
        )
        for fact in m.facts:
            apply_fact(uow, fact, m.key, m.sent_at)
