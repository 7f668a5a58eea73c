"""The outbox: what the engine decided to do to the world, and what came of it.

An ``Action`` is requested in the same transaction as the decision that wants
it, so a crash can never lose it; effectors (``adapters.effects.effector``) execute
pending actions and record each outcome. Kinds:

* ``koji.move`` — params ``nvr``, ``from_tag``, ``to_tag``;
* ``bus.publish`` — params ``kind`` (a schema of ``adapters.messaging``) and ``body``;
* ``sign.request`` — params ``nvr``, ``sigkey``: sign every rpm of the build with the key
  (the effector's signing backend: robosignatory through a koji tag, or a command); its
  result names the build's ``rpms`` as koji listed them.
* ``compose.sync`` — a compose whose gate passed, to sync to the master mirror: params
  ``compose``, ``source``, ``target``, ``link`` and the ``decision`` that let it go
  (``adapters.services.sync`` requests it, ``adapters.effects.mirror_sync`` carries it out).

The composer's kinds (``compose.request``, ``push.release``) are named in
``projections.processes.outbox``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

KOJI_MOVE = "koji.move"
BUS_PUBLISH = "bus.publish"
COMPOSE_SYNC = "compose.sync"
SIGN_REQUEST = "sign.request"


class Action(StoredAggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.action_id(key)

    @event("Requested")
    def __init__(
        self,
        key: str,
        kind: str,
        params: dict[str, Any],
        gate: str | None,
        reason: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.key = key
        self.kind = kind
        self.params = params
        self.gate = gate
        self.done = False
        self.attempts = 0

    @event("Attempted")
    def attempt(self, at: str, outcome: str, detail: str) -> None:
        """A try that did not settle the action (a transient error): it stays pending."""
        self.attempts += 1

    @event("Completed")
    def complete(self, at: str, outcome: str, detail: str, result: dict[str, Any]) -> None:
        self.attempts += 1
        self.done = True

    @event("Cancelled")
    def cancel(self, trigger: str | None, at: str | None, reason: str) -> None:
        """Superseded by a newer decision before it was carried out."""
        self.done = True
