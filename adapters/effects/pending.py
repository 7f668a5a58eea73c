"""Which outbox actions are pending: requested, neither completed nor cancelled, read
from the log incrementally (the effector carries them out, ``adapters.effects.effector``)."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from relengotron.domain import topics
from relengotron.domain.application import RelengApp
from relengotron.domain.log_scan import LogScan
from relengotron.domain.outbox import Action

__all__ = ["ACTION_TOPICS", "PendingScan", "pending_actions"]

ACTION_TOPICS = (
    topics.ACTION_REQUESTED,
    topics.ACTION_COMPLETED,
    topics.ACTION_CANCELLED,
)


def pending_actions(app: RelengApp, scan: PendingScan | None = None) -> list[Action]:
    """Requested actions that are neither completed nor cancelled, in request order
    (``scan`` keeps its place between calls, for a process that acts again and again)."""
    return (scan or PendingScan())(app)


class PendingScan:
    """Which actions are pending, kept up to date from the log incrementally: each call
    reads only the action events recorded since the previous one, and reloads only the
    actions they are about (the others are kept as loaded, or as this process changed
    them and saved)."""

    def __init__(self) -> None:
        self.scan = LogScan(ACTION_TOPICS)
        self.order: dict[str, None] = {}
        self.loaded: dict[str, Action] = {}

    def __call__(self, app: RelengApp) -> list[Action]:
        for n in self.scan(app):
            key = str(n.originator_id)
            if n.topic.endswith(".Requested"):
                self.order[key] = None
            else:
                self.order.pop(key, None)
                self.loaded.pop(key, None)
        out: list[Action] = []
        for key in list(self.order):
            action = self.loaded.get(key)
            if action is None or action._pending_events:  # new, or a save that failed
                action = cast(Action, app.repository.get(UUID(key)))
                self.loaded[key] = action
            if action.done:
                self.order.pop(key, None)  # completed by a write this scan has not read yet
                self.loaded.pop(key, None)
            else:
                out.append(action)
        return out
