"""A follower of the event log: folds a read model and decides as the log grows.

The decider (gating) and the composer (artifacts, composes, pushes) are both
followers. Each reads the stored events of its topics in log order, folds them
into its view and, for events recorded after its tracked position, decides at
every *group boundary*: a group is the events of one input message, or the
events one decision round recorded (same ``trigger``), as the subclass says.
What it records is saved with its new tracked position in one transaction, so a
crash never loses a decision nor takes one twice, and a replay of the same log
re-derives the same events.

Its folded view is kept in tables (``projections.folds.view_docs``): documents written
with its tracked position, in the same transaction, at every flush. A run resumes
from them and reads only the entries its new input touches.

A follower's own events are stored *after* input it had not read when it decided
(a bulk ingest writes every message before the decider runs; another writer
commits while it decides), so the log order is not the order the follower saw
them in. Folding the log as it lies would give a view that lacks decisions it
took (a crash after an intermediate flush left gates out of the view, and builds
were never obsoleted). ``_stream`` therefore puts each of its own events right
after the input group that triggered it, as when it was taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification

from relengotron.domain.application import RelengApp
from relengotron.projections.folds.view_docs import Docs, DocStore, ViewMeta
from relengotron.projections.processes.view_format import belongs, view_format

PAGE = 20_000  # events a query reads, and a catch-up's commits (1,000: 30 % slower; issue 18)
ATTEMPTS = 3


class Report(Protocol):
    read: int
    position: int


class View(Protocol):
    docs: Docs

    def apply(self, e: Any, position: int) -> None: ...

    def prefetch(self, events: list[Any]) -> None:
        """Load in a few queries what folding ``events`` will ask of the stored view."""
        ...

    def settle(self) -> None: ...


V = TypeVar("V", bound=View)
R = TypeVar("R", bound=Report)
VT = TypeVar("VT", covariant=True)
CT = TypeVar("CT", covariant=True)
RT = TypeVar("RT", covariant=True)


class Host(Protocol[VT, CT, RT]):
    """What a follower's collaborators (the outbox, the bisector, the pushes) use of
    the follower they work for: its view as folded so far, its settings, the report
    of the run, and the aggregates the run records to (see ``Follower.get``)."""

    @property
    def view(self) -> VT: ...

    @property
    def config(self) -> CT: ...

    @property
    def report(self) -> RT: ...

    def get(self, aggregate_id: UUID, *, recorded: bool = True) -> Any: ...

    def has_action(self, key: str) -> bool: ...

    def add(self, agg: Aggregate) -> None: ...

    def fold(self, agg: Aggregate) -> None: ...


class Follower(Generic[V, R]):
    NAME: ClassVar[str]
    VIEW_FORMAT: ClassVar[int]  # bump when the view's documents change: stored views are refolded
    # Creation topics of the aggregates whose absence the view can vouch for (see ``get``).
    CREATIONS: ClassVar[tuple[str, ...]] = ()
    _creations_head: float = float("inf")  # outside a run: always ask the store
    _folded: int = 0
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
        views: DocStore | None = None,
    ) -> None:
        self.app = app
        self.page_size = page_size
        self.progress = progress
        self.views = views  # None: the view lives in memory only (folded from 0 each run)
        # A long-running process keeps its view (the entries it loaded) between runs
        # instead of loading them again (``keep_view``).
        self.keep_view = False
        self._kept: tuple[V, ViewMeta] | None = None
        # The format names the view's fields, the settings and the code that folds it:
        # a stored view of other settings or an older projection is folded again.
        self.view_format = view_format(self.VIEW_FORMAT, config)

    VIEW_KIND: ClassVar[str]

    # ------------------------------------------------------------ subclass API

    def new_view(self, docs: Docs | None = None) -> V:
        """An empty view (its maps in ``docs``; None: in memory)."""
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
        for _, position, e in self._stream(start, self.app.tracked_position(self.NAME), view):
            view.apply(e, position)
        return view

    def _start_view(self) -> tuple[V, int]:
        """The view kept from this process's last successful run, else the stored view
        and the position it is folded through, else an empty view at 0. A view that
        does not belong with the tracked position (another format, or written with a
        position the follower has not reached) is folded again from the start."""
        kept, self._kept = self._kept, None  # a run that fails must not leave it half-folded
        cursor = self.app.tracked_position(self.NAME)
        meta = self.views.meta(self.VIEW_KIND) if self.views is not None else None
        # A kept view holds some entries in memory and reads the rest from the tables:
        # it is that view only while the tables are still as this process wrote them
        # (another worker that led meanwhile wrote them on).
        same_tables = self.views is None or meta == kept[1] if kept is not None else False
        if kept is not None and belongs(kept[1], cursor) and same_tables:
            return kept[0], kept[1].position
        if self.views is None:
            return self.new_view(), 0
        if meta is not None and meta.format == self.view_format and belongs(meta, cursor):
            docs = Docs(self.views, self.VIEW_KIND, self.view_format)
            docs.complete = False
            return self.new_view(docs), meta.position
        return self._empty_view(), 0

    def _empty_view(self) -> V:
        """An empty view whose first write replaces whatever view is stored."""
        docs = Docs(self.views, self.VIEW_KIND, self.view_format)
        docs.reset, docs.complete = self.views is not None, True
        return self.new_view(docs)

    def _notifications(
        self, after: int, topics: tuple[str, ...] | None = None
    ) -> Iterator[Notification]:
        for page in self._pages(after, topics):
            yield from page

    def _pages(
        self, after: int, topics: tuple[str, ...] | None = None
    ) -> Iterator[Sequence[Notification]]:
        recorder = self.app.recorder
        while True:
            page = recorder.select_notifications(
                start=after + 1, limit=self.page_size, topics=topics or self.TOPICS
            )
            if not page:
                return
            yield page
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

    def _stream(
        self, start: int, cursor: int, view: View | None = None
    ) -> Iterator[tuple[int, int, Any]]:
        """The events after ``start`` in the order this follower took them in, as
        ``(at, position, event)``: input where the log holds it (``at`` is its
        position), and each event of its own (triggered by a group that ends at or
        before ``cursor``, the tracked position) right after that group, ``at`` being
        the group's last position. Own events whose group is not met (before
        ``start``: the saved view holds them) stay where the log holds them.
        ``view`` is asked to load, a page at a time, what the page's events need."""
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
        for page in self._pages(start):
            events = [(n, mapper.to_domain_event(n)) for n in page if n.id not in placed]
            if view is not None:
                view.prefetch([e for _, e in events])
            for n, e in events:
                if n.id in placed:
                    continue
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
        self.view = view
        # Where the view knows every aggregate of CREATIONS (it folded those before start).
        head = self.app.last_position(self.CREATIONS, start) if self.CREATIONS else 0
        self._creations_head = head if head is not None else float("inf")
        self._folded = start
        live = due = False
        group: str | None = None
        boundary = prev = cursor
        for at, position, e in self._stream(start, cursor, view):
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
                    if due:  # the view is exactly the view at the boundary: save both
                        self._flush(boundary)
                        tracked, due = boundary, False
            view.apply(e, position)
            self._folded = at
            self.report.read += 1
            if key is not None:
                group = key
            prev = at
            if self.report.read % self.page_size == 0:
                if self.progress:
                    self.progress(self.report.read, 0)
                due = live
        if live:
            self.decide(group)
            boundary = prev
        view.settle()
        folded = max(start, prev)
        if boundary > tracked:
            self._flush(boundary)
            tracked = folded = boundary
        # The events this run recorded itself are folded: a view written with nothing
        # else after it is folded through them, and the next run reads none of them.
        through = self._own_tail(folded)
        meta = ViewMeta(self.view_format, through, tracked)
        if through > start or folded > start:
            self._save_view(meta)
        self.report.position = tracked
        if self.keep_view:
            self._kept = (view, meta)
        return self.report

    def _own_tail(self, after: int) -> int:
        """The last position of an unbroken run of this run's own events after ``after``."""
        through = after
        if not self._written:
            return through
        for n in self._notifications(after, None):
            if (n.originator_id, n.originator_version) not in self._written:
                break
            through = n.id
        return through

    def _flush(self, position: int) -> None:
        """Save the new events, the view and the position ``position`` in one transaction."""
        aggs = [a for a in self._aggs.values() if a._pending_events]
        for a in aggs:
            for ev in a._pending_events:
                self._written.add((ev.originator_id, ev.originator_version))
        if self.views is None:
            self.app.save_tracked(aggs, self.NAME, position)
            return
        docs = self.view.docs
        changes = docs.changes()
        views, meta = self.views, ViewMeta(self.view_format, position, position)

        def write_view() -> None:
            views.write(self.VIEW_KIND, meta, changes, reset=docs.reset)

        self.app.save_tracked(aggs, self.NAME, position, also=write_view)
        docs.written(changes)

    def _save_view(self, meta: ViewMeta) -> None:
        """Write the view alone (it folded input decided before, or its own events)."""
        if self.views is not None:
            docs = self.view.docs
            changes = docs.changes()
            self.views.write(self.VIEW_KIND, meta, changes, reset=docs.reset)
            docs.written(changes)

    # -------------------------------------------------------------- aggregates

    # What a run records is saved at its next flush, with the view and the position.

    def get(self, aggregate_id: UUID, *, recorded: bool = True) -> Any:
        """An aggregate as this run left it (loaded once from the store), or None.

        ``recorded=False``: the view, which folds every ``CREATIONS`` event, has none for
        it; once the view is past the last stored one, the store is not asked.
        """
        agg = self._aggs.get(aggregate_id)
        if agg is None:
            if not recorded and self._folded >= self._creations_head:
                return None
            try:
                agg = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self._aggs[aggregate_id] = agg
        return agg

    def add(self, agg: Aggregate) -> None:
        """Record a new aggregate (its first event is folded into the view)."""
        self._aggs[agg.id] = agg
        self.fold(agg)

    def fold(self, agg: Aggregate) -> None:
        """Show the view the event just triggered (it is skipped when read back)."""
        self.view.apply(agg._pending_events[-1], 0)
