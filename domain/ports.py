"""Ports the application needs from its infrastructure (adapters implement them)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent


class StreamReader(Protocol):
    """Reads many aggregate streams at once (one query instead of one per aggregate)."""

    def existing(self, ids: Collection[UUID]) -> set[UUID]:
        """Which of these aggregates have at least one event."""
        ...

    def load(self, ids: Collection[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of each existing aggregate, in version order."""
        ...

    def heads(self, ids: Collection[UUID]) -> dict[UUID, tuple[int, str]]:
        """Each existing aggregate's last version and the topic of its first event."""
        ...

    def last_position(self, topics: Collection[str], after: int = 0) -> int:
        """The position (notification id) of the last stored event of these topics, if
        it is after ``after``; else ``after`` (what lies before is not read)."""
        ...
