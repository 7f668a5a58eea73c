"""Release lifecycle runs: a new release branched, or a release brought to its End Of Life.

A ``ReleaseRun`` (key ``branch:<version>`` or ``eol:<version>``) is planned once, with
the ordered steps of the step plugins (``adapters.lifecycle``); each step is then
recorded as done (with its outcome: ``done``, or ``already`` when the world was in that
state already) or as failed (with the reason). A run stops at its first failure; a
later run of the same operation resumes at the first step not recorded as done, so a
step is never redone once recorded, and a step whose effect happened before a crash
(but was not recorded) finds the world in that state: every step checks before it
writes. Times are the wall clock of the command (these runs are not replayed from
input messages).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

BRANCH, EOL = "branch", "eol"


class ReleaseRun(StoredAggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.release_run_id(key)

    @event("Planned")
    def __init__(
        self, key: str, operation: str, release: str, steps: list[dict[str, Any]], at: str
    ) -> None:
        self.key = key
        self.operation = operation
        self.release = release
        self.steps = steps
        self.done: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.finished = False

    @event("StepDone")
    def step_done(
        self, step: str, outcome: str, detail: str, result: dict[str, Any], at: str
    ) -> None:
        self.done[step] = outcome
        self.failed.pop(step, None)

    @event("StepFailed")
    def step_failed(self, step: str, reason: str, at: str) -> None:
        self.failed[step] = reason

    @event("Finished")
    def finish(self, at: str) -> None:
        self.finished = True

    def pending_steps(self) -> list[dict[str, Any]]:
        """The planned steps not recorded as done, in plan order."""
        return [s for s in self.steps if s["id"] not in self.done]
