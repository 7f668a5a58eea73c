"""The aggregates one batch loads, creates and changes, before they are saved together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    from domain.application import RelengApp


class UnitOfWork:
    """Aggregates loaded or created while applying one batch."""

    def __init__(self, app: RelengApp) -> None:
        self.app = app
        self.aggregates: dict[UUID, Aggregate] = {}
        self.absent: set[UUID] = set()  # known not to exist (so no query to find out)

    def preload(self, wanted: Iterable[UUID]) -> None:
        """Load many aggregates with one query; remember which do not exist."""
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
        streams = self.app.read_streams(missing)
        for aggregate_id in missing:
            stored = streams.get(aggregate_id)
            if stored:
                self.aggregates[aggregate_id] = self.app.reconstruct(stored)
            else:
                self.absent.add(aggregate_id)

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        agg = self.aggregates.get(aggregate_id)
        if agg is None and aggregate_id not in self.absent:
            agg = self.app.cache_get(aggregate_id)
            if agg is None:
                try:
                    agg = self.app.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    self.absent.add(aggregate_id)
                    return None
            self.aggregates[aggregate_id] = agg
        return agg

    def get_or_create(self, aggregate_id: UUID, factory: Any) -> Any:
        """The aggregate with this id, or a new one from ``factory`` (same id)."""
        agg = self.get(aggregate_id)
        if agg is None:
            agg = factory()
            assert agg.id == aggregate_id, (agg.id, aggregate_id)
            self.aggregates[aggregate_id] = agg
            self.absent.discard(aggregate_id)
        return agg

    def add(self, agg: Aggregate) -> None:
        self.aggregates[agg.id] = agg
