"""The stored topic of an aggregate or event class: its path without the namespace.

The package is installed as ``relengotron.domain`` (one distribution namespace), but the
topics in every store are the paths the classes had before: ``domain.subjects:Build.Seen``.
A topic is a schema (see :mod:`domain.topics`), so it must not follow the import path.

Every aggregate derives from :class:`StoredAggregate` and uses eventsourcing's own
mechanism for topics that differ from the class path, an explicit ``TOPIC``:

* the aggregate class gets ``TOPIC`` in its own namespace when it is defined (before
  eventsourcing checks and registers it);
* every event class reads ``TOPIC`` through a descriptor that answers for the class it
  is read from, so an event class that eventsourcing redefines in a subclass aggregate
  (``Build.ResultRecorded`` from ``Subject.ResultRecorded``) has its own topic, never its
  base's. eventsourcing registers each of them when the aggregate class is defined.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

NAMESPACE = "relengotron."


def stored_topic(cls: type) -> str:
    """``module:qualname`` of a class, the module without the distribution namespace."""
    return f"{cls.__module__.removeprefix(NAMESPACE)}:{cls.__qualname__}"


class StoredTopic:
    """A class attribute whose value is the stored topic of the class it is read from."""

    def __get__(self, obj: object, owner: type) -> str:
        return stored_topic(owner)


class StoredAggregate(Aggregate):
    """An aggregate whose class and event classes keep their stored topics."""

    class Event(Aggregate.Event):
        TOPIC = StoredTopic()

    class Created(Event, Aggregate.Created):
        pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        type.__setattr__(cls, "TOPIC", stored_topic(cls))
        super().__init_subclass__(**kwargs)
