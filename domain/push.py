"""A Bodhi push (compose/mash batch) as seen on the bus."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate


class Push(StoredAggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.push_id(key)

    @event("Seen")
    def __init__(self, key: str) -> None:
        self.key = key
        self.phase: str | None = None

    @event("Progressed")
    def progress(
        self,
        msg: str,
        at: str | None,
        phase: str,
        updates: list[str],
        release: str | None,
        request: str | None,
        success: bool | None,
        agent: str | None,
    ) -> None:
        self.phase = phase
