"""What the composer recorded, as the artifacts view folds it: its composes (planned,
changes added, requested, started, finished, cancelled), its Bodhi push runs and
its outbox actions with their outcomes. Events of one aggregate may be read after
newer ones this process wrote itself, so each fold checks the aggregate version
first. ``projections.artifacts.ArtifactView`` adds the input (definitions,
manifests, compose runs, koji tasks, Bodhi pushes and updates, results)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain import topics
from domain.topics import EventHandlers
from projections.artifact_state import ActionView, ComposeState, PushState
from projections.config import ComposerConfig
from projections.graph import ArtifactGraph


class ComposeRecords:
    def __init__(self, config: ComposerConfig) -> None:
        self.config = config
        self._names: dict[UUID, str] = {}  # aggregate id -> natural key
        self.graph = ArtifactGraph()
        self.composes: dict[str, ComposeState] = {}
        self.by_artifact: dict[str, list[str]] = {}  # artifact -> compose keys, oldest first
        self.by_ref: dict[str, str] = {}  # backend ref -> compose key
        self.pushes: dict[str, PushState] = {}
        self.push_runs: dict[str, list[str]] = {}  # bodhi compose -> push keys
        self.actions: dict[str, ActionView] = {}
        self._action_key: dict[UUID, str] = {}
        # What the composer must react to (cleared by settle()).
        self.promotions: list[tuple[str, str, str | None]] = []  # (move key, nvr, package)
        self.completed: list[str] = []  # keys of our own actions that completed
        self.touched = False  # anything a compose or push may be waiting for changed

    def _on_action_requested(self, e: Any, position: int) -> None:
        if e.key in self.actions:
            return
        self._action_key[e.originator_id] = e.key
        self.actions[e.key] = ActionView(e.key, e.kind, dict(e.params), e.at)
        p = e.params
        if e.kind == "koji.move" and p.get("to_tag") == self.config.promoted_tag:
            self.promotions.append((e.key, p["nvr"], p.get("package")))

    def _on_action_completed(self, e: Any, position: int) -> None:
        a = self.actions.get(self._action_key.get(e.originator_id, ""))
        if a is None or e.originator_version <= a.version:
            return
        a.version = e.originator_version
        a.done, a.outcome, a.detail, a.result = True, e.outcome, e.detail, dict(e.result)
        self.completed.append(a.key)
        self.touched = True

    def _on_action_cancelled(self, e: Any, position: int) -> None:
        a = self.actions.get(self._action_key.get(e.originator_id, ""))
        if a is None or e.originator_version <= a.version:
            return
        a.version = e.originator_version
        a.done, a.outcome, a.detail = True, "cancelled", e.reason
        self.touched = True

    def _compose(self, e: Any) -> ComposeState | None:
        c = self.composes.get(self._names.get(e.originator_id, ""))
        if c is None or e.originator_version <= c.version:
            return None
        c.version = e.originator_version
        c.updated_at = e.at
        return c

    def _on_artifact_compose_planned(self, e: Any, position: int) -> None:
        if e.key in self.composes:
            return
        self._names[e.originator_id] = e.key
        c = ComposeState(e.key, e.artifact, e.kind, e.generation, e.push, e.at, version=1)
        c.updated_at = e.at
        self._absorb(c, e)
        self.composes[e.key] = c
        self.by_artifact.setdefault(e.artifact, []).append(e.key)

    def _on_artifact_compose_changes_added(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is not None:
            self._absorb(c, e)

    @staticmethod
    def _absorb(c: ComposeState, e: Any) -> None:
        for change in e.changes:
            c.changes[change["nvr"]] = dict(change)
        c.reasons.extend(e.reasons)
        c.waits_for.extend(k for k in e.waits_for if k not in c.waits_for)
        c.moves.extend(k for k in e.moves if k not in c.moves)

    def _on_artifact_compose_requested(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is not None:
            c.state, c.action, c.backend = "requested", e.action, e.backend

    def _on_artifact_compose_started(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is not None:
            c.state, c.ref, c.detail = "running", e.ref, e.detail
            self.by_ref[e.ref] = c.key

    def _on_artifact_compose_finished(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is None:
            return
        c.state, c.detail, c.location = e.outcome, e.detail, e.location
        if e.ref:
            c.ref = e.ref
            self.by_ref[e.ref] = c.key
        if e.outcome == "composed":
            new = {ch["package"]: ch["nvr"] for ch in c.changes.values() if ch.get("package")}
            self.graph.update_manifest(c.artifact, new)
        self.touched = True

    def _on_artifact_compose_cancelled(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is not None:
            c.state, c.detail = "cancelled", e.reason
            self.touched = True

    def _on_push_run_opened(self, e: Any, position: int) -> None:
        if e.key in self.pushes:
            return
        self._names[e.originator_id] = e.key
        compose = e.key.rsplit("#", 1)[0]
        p = PushState(
            e.key,
            compose,
            e.release,
            e.request,
            list(e.updates),
            list(e.builds),
            list(e.problems),
            e.at,
            version=1,
        )
        p.history.append({"stage": "repos", "at": e.at, "detail": "push opened"})
        self.pushes[e.key] = p
        self.push_runs.setdefault(compose, []).append(e.key)

    def _push(self, e: Any) -> PushState | None:
        p = self.pushes.get(self._names.get(e.originator_id, ""))
        if p is None or e.originator_version <= p.version:
            return None
        p.version = e.originator_version
        return p

    def _on_push_run_advanced(self, e: Any, position: int) -> None:
        p = self._push(e)
        if p is not None:
            p.stage = e.stage
            p.composes.extend(k for k in e.composes if k not in p.composes)
            p.history.append({"stage": e.stage, "at": e.at, "detail": e.detail})

    def _on_push_run_stopped(self, e: Any, position: int) -> None:
        p = self._push(e)
        if p is not None:
            p.stopped = e.reason
            p.history.append({"stage": e.stage, "at": e.at, "detail": f"stopped: {e.reason}"})

    # ----------------------------------------------------------------- reading

    def latest(self, artifact: str, *, push: Any = ...) -> ComposeState | None:
        for key in reversed(self.by_artifact.get(artifact, [])):
            c = self.composes[key]
            if push is ... or c.push == push:
                return c
        return None

    def last_composed(self, artifact: str) -> ComposeState | None:
        for key in reversed(self.by_artifact.get(artifact, [])):
            if self.composes[key].state == "composed":
                return self.composes[key]
        return None


# What the composer recorded: part of the artifacts view's one handler table.
RECORD_HANDLERS: EventHandlers[Callable[[Any, Any, int], None]] = EventHandlers(
    {
        topics.ACTION_REQUESTED: ComposeRecords._on_action_requested,
        topics.ACTION_COMPLETED: ComposeRecords._on_action_completed,
        topics.ACTION_CANCELLED: ComposeRecords._on_action_cancelled,
        topics.ARTIFACT_COMPOSE_PLANNED: ComposeRecords._on_artifact_compose_planned,
        topics.ARTIFACT_COMPOSE_CHANGES_ADDED: ComposeRecords._on_artifact_compose_changes_added,
        topics.ARTIFACT_COMPOSE_REQUESTED: ComposeRecords._on_artifact_compose_requested,
        topics.ARTIFACT_COMPOSE_STARTED: ComposeRecords._on_artifact_compose_started,
        topics.ARTIFACT_COMPOSE_FINISHED: ComposeRecords._on_artifact_compose_finished,
        topics.ARTIFACT_COMPOSE_CANCELLED: ComposeRecords._on_artifact_compose_cancelled,
        topics.PUSH_RUN_OPENED: ComposeRecords._on_push_run_opened,
        topics.PUSH_RUN_ADVANCED: ComposeRecords._on_push_run_advanced,
        topics.PUSH_RUN_STOPPED: ComposeRecords._on_push_run_stopped,
    }
)
