"""A follower of the event log: folds a read model and decides as the log grows.

The decider (gating) and the composer (artifacts, composes, pushes) are both
followers. Each reads the stored events of its topics in log order, folds them
into its view and, for events recorded after its tracked position, decides at
every *group boundary*: a group is the events of one input message, or the
events one decision round recorded (same ``trigger``), as the subclass says.
What it records is saved with its new tracked position in one transaction, so a
crash never loses a decision nor takes one twice, and a replay of the same log
re-derives the same events.

A folded view can be kept between runs (``ViewSnapshots``, a cache): the next
run resumes from the saved position instead of folding the log from zero.

A follower's own events are stored *after* input it had not read when it decided
(a bulk ingest writes every message before the decider runs; another writer
commits while it decides), so the log order is not the order the follower saw
them in. Folding the log as it lies would give a view that lacks decisions it
took (a crash after an intermediate flush left gates out of the view, and builds
were never obsoleted). ``_stream`` therefore puts each of its own events right
after the input group that triggered it, as when it was taken.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification

from domain.application import RelengApp

PAGE = 1000
ATTEMPTS = 3


class ViewSnapshots(Protocol):
    """Where a folded view is kept between runs (a cache: losing it costs a re-fold)."""

    def load(self, key: str) -> tuple[int, bytes] | None: ...

    def save(self, key: str, position: int, data: bytes) -> None: ...


class Report(Protocol):
    read: int
    position: int


class View(Protocol):
    def apply(self, e: Any, position: int) -> None: ...

    def settle(self) -> None: ...


V = TypeVar("V", bound=View)
R = TypeVar("R", bound=Report)


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """A digest of the projection code (the views are pickles of its classes)."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class Follower(Generic[V, R]):
    NAME: ClassVar[str]
    VIEW_FORMAT: ClassVar[int]  # bump when the view's fields change: old snapshots are ignored
    TOPICS: ClassVar[tuple[str, ...]]
    view: V
    report: R

    def __init__(
        self,
        app: RelengApp,
        config: object,
        *,
        page_size: int = PAGE,
        progress: Callable[[int, int], None] | None = None,
        snapshots: ViewSnapshots | None = None,
    ) -> None:
        self.app = app
        self.page_size = page_size
        self.progress = progress
        self.snapshots = snapshots
        # A long-running process keeps its folded view between runs instead of loading
        # the saved one each time (``keep_view``), and saves it at most every
        # ``save_every`` seconds (it is only a cache for the next process).
        self.keep_view = False
        self.save_every = 0.0
        self._kept: tuple[V, int] | None = None
        self._saved_at = float("-inf")
        # The key names the view's format, the settings and the code that folds it:
        # a saved view of other settings or an older projection is never reused.
        digest = hashlib.sha256(f"{config!r}\n{_code_digest()}".encode()).hexdigest()[:16]
        self.snapshot_key = f"{self.VIEW_KIND}:v{self.VIEW_FORMAT}:{digest}"

    VIEW_KIND: ClassVar[str]

    # ------------------------------------------------------------ subclass API

    def new_view(self) -> V:
        raise NotImplementedError

    def new_report(self) -> R:
        raise NotImplementedError

    def group_key(self, e: Any, position: int) -> str | None:
        """The group an event belongs to; None joins the current group."""
        return getattr(e, "msg", None)

    def decide(self, trigger: str | None) -> None:
        raise NotImplementedError

    # Topics of the events this follower records itself (see ``owns``).
    OWN_TOPICS: ClassVar[tuple[str, ...]] = ()

    def owns(self, e: Any) -> bool:
        """Whether this follower recorded the event (a decision of its own, named by
        ``trigger``, the group it decided after). Its own events are folded right
        after that group, wherever the log holds them."""
        return False

    # ---------------------------------------------------------------- running

    def run(self) -> R:
        """Catch up with the log; retry from scratch if another writer got in the way."""
        for attempt in range(ATTEMPTS):
            try:
                return self._run()
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def read_view(self) -> V:
        """The read model of the whole log, without deciding anything."""
        view, start = self._start_view()
        for _, position, e in self._stream(start, self.app.tracked_position(self.NAME)):
            view.apply(e, position)
        return view

    def _start_view(self) -> tuple[V, int]:
        """The view kept from this process's last successful run, else the last saved
        view and its position, else an empty view at 0."""
        kept, self._kept = self._kept, None  # a run that fails must not leave it half-folded
        if kept is not None:
            return kept
        if self.snapshots is not None:
            saved = self.snapshots.load(self.snapshot_key)
            if saved is not None:
                position, data = saved
                try:
                    view = pickle.loads(data)
                except Exception:  # an unreadable cache is only a cache: fold again
                    view = None
                if isinstance(view, type(self.new_view())):
                    return view, position
        return self.new_view(), 0

    def _notifications(
        self, after: int, topics: tuple[str, ...] | None = None
    ) -> Iterator[Notification]:
        recorder = self.app.recorder
        while True:
            page = recorder.select_notifications(
                start=after + 1, limit=self.page_size, topics=topics or self.TOPICS
            )
            if not page:
                return
            yield from page
            after = page[-1].id

    def _own_events(self, after: int) -> dict[str, list[tuple[int, Any]]]:
        """This follower's own events after ``after``, by trigger, in log order."""
        own: dict[str, list[tuple[int, Any]]] = {}
        if not self.OWN_TOPICS:
            return own
        mapper = self.app.mapper
        for n in self._notifications(after, self.OWN_TOPICS):
            e = mapper.to_domain_event(n)
            trigger = getattr(e, "trigger", None)
            if trigger is not None and self.owns(e):
                own.setdefault(trigger, []).append((n.id, e))
        return own

    def _stream(self, start: int, cursor: int) -> Iterator[tuple[int, int, Any]]:
        """The events after ``start`` in the order this follower took them in, as
        ``(at, position, event)``: input where the log holds it (``at`` is its
        position), and each event of its own (triggered by a group that ends at or
        before ``cursor``, the tracked position) right after that group, ``at`` being
        the group's last position. Own events whose group is not met (before
        ``start``: the saved view holds them) stay where the log holds them."""
        own = self._own_events(start)
        pending = {position for events in own.values() for position, _ in events}
        placed: set[int] = set()
        group: str | None = None
        last = start
        mapper = self.app.mapper

        def place() -> Iterator[tuple[int, int, Any]]:
            for position, e in own.pop(group, ()) if group is not None else ():
                if position > last and position in pending:
                    pending.discard(position)
                    placed.add(position)
                    yield last, position, e

        crossed = False
        for n in self._notifications(start):
            if n.id in placed:
                continue
            e = mapper.to_domain_event(n)
            key = self.group_key(e, n.id)
            if not crossed and n.id > cursor:
                crossed = True
                if last <= cursor:
                    yield from place()
            if key is not None and key != group:
                if last <= cursor:
                    yield from place()
                group = key
            if n.id in placed:
                continue  # this very event, just placed with its group
            pending.discard(n.id)  # met where the log holds it: folded here
            yield n.id, n.id, e
            last = n.id
        if last <= cursor:
            yield from place()

    def _run(self) -> R:
        self.report = self.new_report()
        self._aggs: dict[UUID, Aggregate] = {}
        self._written: set[tuple[UUID, int]] = set()
        cursor = tracked = self.app.tracked_position(self.NAME)
        view, start = self._start_view()
        if start > cursor:  # a view ahead of the decisions cannot be trusted
            view, start = self.new_view(), 0
        self.view = view
        live = False
        group: str | None = None
        boundary = prev = cursor
        for at, position, e in self._stream(start, cursor):
            if (e.originator_id, e.originator_version) in self._written:
                continue
            key = self.group_key(e, position)
            if at > cursor:
                if not live:
                    live = True
                    view.settle()
                elif key is not None and group is not None and key != group:
                    self.decide(group)
                    boundary = prev
            view.apply(e, position)
            self.report.read += 1
            if key is not None:
                group = key
            prev = at
            if self.report.read % self.page_size == 0:
                if self.progress:
                    self.progress(self.report.read, 0)
                if live and boundary > tracked:
                    self._flush(boundary)
                    tracked = boundary
        if live:
            self.decide(group)
            boundary = prev
        if boundary > tracked:
            self._flush(boundary)
        self.report.position = max(boundary, tracked)
        if self.keep_view:
            view.settle()
            self._kept = (view, max(prev, start))
        due = time.monotonic() - self._saved_at >= self.save_every
        if self.snapshots is not None and prev > start and due:
            # Everything up to ``prev`` is folded and decided: the next run starts here.
            view.settle()
            self.snapshots.save(self.snapshot_key, prev, pickle.dumps(view))
            self._saved_at = time.monotonic()
        return self.report

    def _flush(self, position: int) -> None:
        aggs = [a for a in self._aggs.values() if a._pending_events]
        for a in aggs:
            for ev in a._pending_events:
                self._written.add((ev.originator_id, ev.originator_version))
        self.app.save_tracked(aggs, self.NAME, position)

    # -------------------------------------------------------------- aggregates

    def _get(self, aggregate_id: UUID) -> Any:
        agg = self._aggs.get(aggregate_id)
        if agg is None:
            try:
                agg = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self._aggs[aggregate_id] = agg
        return agg

    def _add(self, agg: Aggregate) -> None:
        self._aggs[agg.id] = agg
        self._fold(agg)

    def _fold(self, agg: Aggregate) -> None:
        """Show the view the event just triggered (it is skipped when read back)."""
        self.view.apply(agg._pending_events[-1], 0)
