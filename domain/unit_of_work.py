"""The aggregates one batch loads, creates and changes, before they are saved together.

Streams whose events are pure appends (no handler reads their state, no method
refuses anything: ``domain.handlers.APPEND_ONLY``) need not be aggregates at all
to be written: an :class:`Appends` knows the stream's id, class and version and
builds each new event's state as the aggregate's event class would hold it
(``event_spec``), without loading the stream, constructing event objects or
mutating an aggregate. The events are the same: topic, originator id, version,
state (its ``timestamp`` aside, one per message). A stream whose stored class is
not the one a handler expects, and every other aggregate, is loaded and changed
as an aggregate, as before.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Collection, Iterable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import (
    Aggregate,
    CanCreateTimestamp,
    _created_event_classes,
    decorated_func_callers,
)
from eventsourcing.utils import get_topic

if TYPE_CHECKING:
    from relengotron.domain.application import RelengApp

_COMMON = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_MISSING: Any = dataclasses.MISSING


class EventSpec(NamedTuple):
    """What a stored event of one aggregate method (or creation) holds."""

    topic: str
    params: tuple[str, ...]  # the method's parameters (positional arguments are these)
    fields: tuple[tuple[str, Any], ...]  # the event's (name, default or MISSING), stored order
    originator_topic: str | None  # creation events name the aggregate class
    class_version: int


@cache
def event_spec(cls: type[Aggregate], method: str) -> EventSpec:
    """The stored form of the event ``cls.method`` triggers (``__init__``: creation)."""
    event_cls: Any
    if method == "__init__":
        (event_cls,) = _created_event_classes[cls]
        func: Any = cls.__init__
        origin: str | None = get_topic(cls)
    else:
        decorator = getattr(cls, method).event_decorator
        event_cls = decorated_func_callers[decorator]
        func = decorator.decorated_func
        origin = None
    # As eventsourcing calls them: arguments by the method's signature, its defaults
    # filled in; the event keeps its fields (in their order), their defaults filled in.
    signature = inspect.signature(func).parameters.values()
    params = tuple(p.name for p in signature if p.name != "self")
    defaults = {p.name: p.default for p in signature if p.default is not p.empty}
    fields = []
    for f in dataclasses.fields(event_cls):
        if f.name in _COMMON:
            continue
        if f.default_factory is not _MISSING:  # not in our events; kept general
            raise TypeError(f"{event_cls.__qualname__}.{f.name}: default factories unsupported")
        fields.append((f.name, defaults.get(f.name, f.default)))
    return EventSpec(
        topic=get_topic(event_cls),
        params=params,
        fields=tuple(fields),
        originator_topic=origin,
        class_version=getattr(event_cls, "class_version", 1),
    )


def created_topic(cls: type[Aggregate]) -> str:
    return event_spec(cls, "__init__").topic


class Pending(NamedTuple):
    """A new event of an :class:`Appends` stream."""

    version: int
    topic: str
    state: dict[str, Any]
    msg: str | None  # the message it came from (None: a creation, owned by the next event)


class Appends:
    """A stream written by appending events, without its aggregate.

    Methods are those of ``cls`` (``appends.tag(msg=..., ...)`` writes ``cls.Tagged``);
    ``version`` is the stream's last version, counting the pending events.
    """

    __slots__ = ("cls", "created", "id", "pending", "uow", "version")

    def __init__(self, aggregate_id: UUID, version: int, created: str | None) -> None:
        self.id = aggregate_id
        self.cls: type[Aggregate] | None = None
        self.created = created  # the topic of the stream's first event
        self.version = version
        self.pending: list[Pending] = []
        self.uow: UnitOfWork | None = None

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_") or self.cls is None:
            raise AttributeError(method)
        spec = event_spec(self.cls, method)
        return lambda **kwargs: self._append(spec, (), kwargs)

    def _append(self, spec: EventSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        assert self.uow is not None
        state: dict[str, Any] = {"timestamp": self.uow.timestamp()}
        if spec.originator_topic is not None:
            state["originator_topic"] = spec.originator_topic
        if args:
            kwargs = {**dict(zip(spec.params, args, strict=False)), **kwargs}
        for name, default in spec.fields:
            value = kwargs.get(name, default)
            if value is _MISSING:
                raise TypeError(f"{spec.topic}: missing {name!r}")
            state[name] = value
        if spec.class_version > 1:
            state["class_version"] = spec.class_version
        self.version += 1
        msg = state.get("msg") or state.get("key")
        self.pending.append(Pending(self.version, spec.topic, state, msg))

    def collect(self) -> list[Pending]:
        """The pending events, taken (the stream is done with this unit of work)."""
        pending, self.pending = self.pending, []
        self.uow = None  # a cached stream must not keep its batch alive
        return pending


class UnitOfWork:
    """Aggregates (and :class:`Appends` streams) loaded or created while applying one batch.

    ``append_only``: the aggregate classes written as :class:`Appends` (none: every
    stream is an aggregate, as before issue 18).
    """

    def __init__(self, app: RelengApp, append_only: Collection[type] = ()) -> None:
        self.app = app
        self.append_only = frozenset(append_only)
        self.aggregates: dict[UUID, Aggregate | Appends] = {}
        self.absent: set[UUID] = set()  # known not to exist (so no query to find out)
        self._now: datetime | None = None

    # ------------------------------------------------------------ the clock
    def next_message(self) -> None:
        """The events of the next message get a new timestamp (one for all of them)."""
        self._now = None

    def timestamp(self) -> datetime:
        if self._now is None:
            self._now = CanCreateTimestamp.create_timestamp()
        return self._now

    # ---------------------------------------------------------- loading
    def preload(self, wanted: Iterable[UUID]) -> None:
        """Load many aggregates (or only their heads) with one query; remember which
        do not exist."""
        missing: list[UUID] = []
        for aggregate_id in set(wanted):
            if aggregate_id in self.aggregates:
                continue
            cached = self.app.cache_get(aggregate_id)
            if cached is not None:
                self.aggregates[aggregate_id] = cached
            else:
                missing.append(aggregate_id)
        if not missing:
            return
        if self.append_only:
            heads = self.app.read_heads(missing)
            for aggregate_id in missing:
                head = heads.get(aggregate_id)
                if head is not None:
                    self.aggregates[aggregate_id] = Appends(aggregate_id, *head)
                else:
                    self.absent.add(aggregate_id)
            return
        streams = self.app.read_streams(missing)
        for aggregate_id in missing:
            stored = streams.get(aggregate_id)
            if stored:
                self.aggregates[aggregate_id] = self.app.reconstruct(stored)
            else:
                self.absent.add(aggregate_id)

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _found(self, aggregate_id: UUID) -> Aggregate | Appends | None:
        """What this batch knows of the stream: loaded or cached, else the store's."""
        agg = self.aggregates.get(aggregate_id)
        if agg is not None or aggregate_id in self.absent:
            return agg
        agg = self.app.cache_get(aggregate_id)
        if agg is None:
            if self.append_only:
                head = self.app.read_heads([aggregate_id]).get(aggregate_id)
                agg = Appends(aggregate_id, *head) if head is not None else None
            else:
                agg = self._load(aggregate_id)
            if agg is None:
                self.absent.add(aggregate_id)
                return None
        self.aggregates[aggregate_id] = agg
        return agg

    def _as_aggregate(self, appends: Appends) -> Aggregate:
        """The stream as an aggregate (it was only a head): loaded, in its place."""
        assert not appends.pending, "a stream changed as appends is not loaded again"
        agg = self._load(appends.id)
        assert agg is not None, appends.id
        self.aggregates[appends.id] = agg
        return agg

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate with this id (loaded whole: its state is read), or None."""
        agg = self._found(aggregate_id)
        if isinstance(agg, Appends):
            return self._as_aggregate(agg)
        return agg

    def get_or_create(self, aggregate_id: UUID, cls: type[Aggregate], *args: Any) -> Any:
        """The stream with this id, or a new ``cls(*args)`` (same id); an :class:`Appends`
        when ``cls`` is append-only and the stream is of that class."""
        agg = self._found(aggregate_id)
        if isinstance(agg, Appends):
            if cls in self.append_only and agg.created == created_topic(cls):
                agg.cls, agg.uow = cls, self
                return agg
            return self._as_aggregate(agg)  # stored as another class: as before
        if agg is not None:
            return agg
        return self.new(aggregate_id, cls, *args)

    def new(self, aggregate_id: UUID, cls: type[Aggregate], *args: Any, **kwargs: Any) -> Any:
        """A new stream ``cls(*args, **kwargs)`` (its id ``aggregate_id``), not looked up:
        a stream by that id already stored makes the save conflict."""
        new: Aggregate | Appends
        if cls in self.append_only:
            appends = Appends(aggregate_id, 0, created_topic(cls))
            appends.cls, appends.uow = cls, self
            appends._append(event_spec(cls, "__init__"), args, kwargs)
            new = appends
        else:
            new = cls(*args, **kwargs)
            assert new.id == aggregate_id, (new.id, aggregate_id)
        self.aggregates[aggregate_id] = new
        self.absent.discard(aggregate_id)
        return new

    def add(self, agg: Aggregate) -> None:
        self.aggregates[agg.id] = agg
