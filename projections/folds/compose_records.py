"""What the composer recorded, as the artifacts view folds it: its composes (planned,
changes added, requested, started, finished, cancelled), its Bodhi push runs and
its outbox actions with their outcomes. Events of one aggregate may be read after
newer ones this process wrote itself, so each fold checks the aggregate version
first. ``projections.folds.artifacts.ArtifactView`` adds the input (definitions,
manifests, compose runs, koji tasks, Bodhi pushes and updates, results)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from relengotron.domain import topics
from relengotron.domain.composing import WAITING
from relengotron.domain.topics import EventHandlers
from relengotron.projections.config import ComposerConfig
from relengotron.projections.folds.artifact_state import ActionView, ComposeState, PushState
from relengotron.projections.folds.graph import ArtifactGraph, decode_graph, encode_graph
from relengotron.projections.folds.view_docs import Docs


class ComposeRecords:
    def __init__(self, config: ComposerConfig, docs: Docs | None = None) -> None:
        self.config = config
        self.docs = docs = docs if docs is not None else Docs()
        self._names = docs.map("names", str, unkey=UUID)  # aggregate id -> natural key
        self._graph = docs.cell(
            "graph", Any, ArtifactGraph, encode=encode_graph, decode=decode_graph
        )
        self.composes = docs.map("composes", ComposeState)
        self._compose_count = docs.cell("compose_count", int, int)
        self.waiting = docs.map("waiting", int)  # composes still waiting -> their order
        self.by_artifact = docs.map("by_artifact", list[str])  # artifact -> keys, oldest first
        self.by_ref = docs.map("by_ref", str)  # backend ref -> compose key
        self.pushes = docs.map("pushes", PushState)
        self._push_count = docs.cell("push_count", int, int)
        self.open_pushes = docs.map("open_pushes", int)  # pushes not done nor stopped
        self.push_runs = docs.map("push_runs", list[str])  # bodhi compose -> push keys
        self.actions = docs.map("actions", ActionView)
        self._action_key = docs.map("action_keys", str, unkey=UUID)
        # What the composer must react to (cleared by settle(); never stored).
        self.promotions: list[tuple[str, str, str | None]] = []  # (move key, nvr, package)
        self.completed: list[str] = []  # keys of our own actions that completed
        self.touched = False  # anything a compose or push may be waiting for changed

    def name(self, aggregate_id: UUID, key: str) -> None:
        """Know an aggregate (a compose, a push run) by its natural key."""
        self._names[aggregate_id] = key

    @property
    def graph(self) -> ArtifactGraph:
        graph: ArtifactGraph = self._graph.value
        return graph

    def waiting_composes(self) -> list[ComposeState]:
        """The composes still waiting to be requested, in the order they were planned."""
        keys = sorted(self.waiting, key=self.waiting.__getitem__)
        return [self.composes[k] for k in keys]

    def pushes_open(self) -> list[PushState]:
        """The push runs neither done nor stopped, in the order they were opened."""
        keys = sorted(self.open_pushes, key=self.open_pushes.__getitem__)
        return [self.pushes[k] for k in keys]

    def _settled(self, c: ComposeState) -> None:
        if c.state != WAITING and c.key in self.waiting:
            del self.waiting[c.key]

    def _push_settled(self, p: PushState) -> None:
        if (p.stopped is not None or p.stage == "done") and p.key in self.open_pushes:
            del self.open_pushes[p.key]

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
        n = self._compose_count.value
        self._compose_count.value = n + 1
        self.waiting[e.key] = n
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
            self._settled(c)

    def _on_artifact_compose_started(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is not None:
            c.state, c.ref, c.detail = "running", e.ref, e.detail
            self.by_ref[e.ref] = c.key
            self._settled(c)

    def _on_artifact_compose_finished(self, e: Any, position: int) -> None:
        c = self._compose(e)
        if c is None:
            return
        c.state, c.detail, c.location = e.outcome, e.detail, e.location
        self._settled(c)
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
            self._settled(c)
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
        n = self._push_count.value
        self._push_count.value = n + 1
        self.open_pushes[e.key] = n
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
            self._push_settled(p)

    def _on_push_run_stopped(self, e: Any, position: int) -> None:
        p = self._push(e)
        if p is not None:
            p.stopped = e.reason
            p.history.append({"stage": e.stage, "at": e.at, "detail": f"stopped: {e.reason}"})
            self._push_settled(p)

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
