"""The artifacts read model: definitions, manifests, the graph, composes and pushes.

``ArtifactView.apply(event, position)`` folds one stored event. Besides the
state, it queues what the composer (``projections.composer``) must react to:
builds on their way to the promoted tag, Bodhi pushes listing their updates,
compose statuses, koji task ends, outcomes of our own actions and test results
on composes. The model is pure: it never reads the store or the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain import topics
from domain.composing import WAITING
from domain.facts import INVALID, MANIFEST_SOURCES
from domain.topics import EventHandlers
from projections.config import ComposerConfig
from projections.graph import ArtifactGraph, ArtifactNode

# Subjects whose results are about builds, not artifacts.
_BUILD_SUBJECTS = frozenset(
    {"koji_build", "koji_build_scratch", "koji_build_group", "bodhi_update"}
    | {"dist_git_commit", "dist_git_pr"}
)
_TRUST = {source: i for i, source in enumerate(MANIFEST_SOURCES)}


@dataclass
class Definition:
    name: str
    kind: str
    data: dict[str, Any]
    digest: str
    source: str | None
    defined_at: str | None
    retired: bool = False


@dataclass
class ManifestRecord:
    source: str
    packages: dict[str, str | None]
    ref: str | None
    rpms: int
    at: str | None


@dataclass
class ComposeState:
    key: str
    artifact: str
    kind: str
    generation: int
    push: str | None
    planned_at: str | None
    state: str = WAITING
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # nvr -> change
    reasons: list[dict[str, Any]] = field(default_factory=list)
    waits_for: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)  # koji.move action keys
    action: str | None = None
    backend: str | None = None
    ref: str | None = None
    location: str | None = None
    detail: str | None = None
    updated_at: str | None = None
    version: int = 0


@dataclass
class PushState:
    key: str  # <bodhi compose>#<n>
    compose: str
    release: str | None
    request: str | None
    updates: list[str]
    builds: list[str]
    problems: list[str]
    opened_at: str | None
    stage: str = "repos"
    stopped: str | None = None
    composes: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0


@dataclass
class ActionView:
    key: str
    kind: str
    params: dict[str, Any]
    at: str | None
    version: int = 1
    done: bool = False
    outcome: str | None = None
    detail: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


class ArtifactView:
    def __init__(self, config: ComposerConfig) -> None:
        self.config = config
        self.now: str | None = None
        self._names: dict[UUID, str] = {}  # aggregate id -> natural key
        self.definitions: dict[str, Definition] = {}
        self.problems: dict[str, str] = {}  # artifact -> why it is not in the graph
        self.manifests: dict[str, dict[str, ManifestRecord]] = {}
        self.graph = ArtifactGraph()
        self.composes: dict[str, ComposeState] = {}
        self.by_artifact: dict[str, list[str]] = {}  # artifact -> compose keys, oldest first
        self.by_ref: dict[str, str] = {}  # backend ref -> compose key
        self.runs: dict[str, dict[str, Any]] = {}  # backend ref -> last status
        self.pushes: dict[str, PushState] = {}
        self.push_runs: dict[str, list[str]] = {}  # bodhi compose -> push keys
        self.updates: dict[str, list[str]] = {}  # bodhi alias -> builds
        self.actions: dict[str, ActionView] = {}
        self._action_key: dict[UUID, str] = {}
        self.results: dict[str, dict[str, tuple[str, str | None]]] = {}  # subject -> tc -> out
        # What the composer must react to (cleared by settle()).
        self.promotions: list[tuple[str, str, str | None]] = []  # (move key, nvr, package)
        self.push_messages: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.completed: list[str] = []  # keys of our own actions that completed
        self.touched = False  # anything a compose or push may be waiting for changed

    # ----------------------------------------------------------------- folding

    def apply(self, e: Any, position: int) -> None:
        at = getattr(e, "at", None)
        if at and getattr(e, "msg", None) and (self.now is None or at > self.now):
            self.now = at  # input-message time only, as for the decider
        handler = HANDLERS.for_event(e)
        if handler is not None:
            handler(self, e, position)

    def settle(self) -> None:
        self.promotions.clear()
        self.push_messages.clear()
        self.statuses.clear()
        self.completed.clear()
        self.touched = False

    def _on_artifact_defined(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = e.name
        self._define(e.name, e.kind, e.definition, e.digest, e.source, e.at)

    def _on_artifact_redefined(self, e: Any, position: int) -> None:
        name = self._names[e.originator_id]
        self._define(name, e.kind, e.definition, e.digest, e.source, e.at)

    def _define(
        self, name: str, kind: str, data: dict[str, Any], digest: str, source: Any, at: Any
    ) -> None:
        self.definitions[name] = Definition(name, kind, dict(data), digest, source, at)
        traits = self.config.traits(kind)
        parents = tuple((p, "composed_from") for p in data.get("repositories") or ()) + tuple(
            (p, "built_from") for p in data.get("built_from") or ()
        )
        node = ArtifactNode(
            name, kind, parents, tuple(data.get("tags") or ()), traits.propagates,
            traits.contains_tags,
        )  # fmt: skip
        try:
            self.graph.define(node)
        except ValueError as exc:  # a cycle (definitions from elsewhere): not in the graph
            self.problems[name] = str(exc)
            return
        self.problems.pop(name, None)
        own = {p: None for p in data.get("packages") or ()}
        self.manifests.setdefault(name, {})["definition"] = ManifestRecord(
            "definition", dict(own), source, len(own), at
        )
        self._best_manifest(name)
        self.touched = True

    def _on_artifact_retired(self, e: Any, position: int) -> None:
        name = self._names[e.originator_id]
        d = self.definitions.get(name)
        if d is not None:
            d.retired = True
        if name in self.graph.nodes:
            self.graph.remove(name)
        self.touched = True

    def _on_artifact_manifest_learned(self, e: Any, position: int) -> None:
        name = self._names[e.originator_id]
        self.manifests.setdefault(name, {})[e.source] = ManifestRecord(
            e.source, dict(e.packages), e.ref, e.rpms, e.at
        )
        self._best_manifest(name)

    def _best_manifest(self, name: str) -> None:
        d = self.definitions.get(name)
        records = self.manifests.get(name)
        if d is None or d.retired or not records:
            return
        best = min(records.values(), key=lambda r: _TRUST.get(r.source, 99))
        self.graph.set_manifest(name, best.packages, best.source)

    def _on_compose_run_status_changed(self, e: Any, position: int) -> None:
        ref = self._names.get(e.originator_id) or ""
        status = {
            "ref": ref,
            "status": e.status,
            "origin": e.origin,
            "artifact": e.artifact,
            "compose": e.compose,
            "target": e.target,
            "location": e.location,
            "detail": e.detail,
            "msg": e.msg,
            "at": e.at,
        }
        self.runs[ref] = status
        self.statuses.append(status)

    def _on_compose_run_seen(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = e.ref

    def _on_koji_task_seen(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = f"koji-task:{e.task_id}"

    def _on_koji_task_state_changed(self, e: Any, position: int) -> None:
        ref = self._names.get(e.originator_id)
        status = {"CLOSED": "FINISHED", "FAILED": "FAILED", "CANCELED": "FAILED"}.get(e.state)
        if ref is None or status is None or ref not in self.by_ref:
            return
        self.statuses.append(
            {
                "ref": ref,
                "status": status,
                "origin": "koji",
                "detail": f"koji task {e.state.lower()}",
                "msg": e.msg,
                "at": e.at,
            }
        )

    def _on_push_seen(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = e.key

    def _on_push_progressed(self, e: Any, position: int) -> None:
        self.push_messages.append(
            {
                "compose": self._names.get(e.originator_id, ""),
                "phase": e.phase,
                "updates": list(e.updates),
                "release": e.release,
                "request": e.request,
                "success": e.success,
                "msg": e.msg,
            }
        )

    def _on_update_seen(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = e.identifier

    def _on_update_changed(self, e: Any, position: int) -> None:
        alias = self._names.get(e.originator_id)
        if alias and e.builds:
            self.updates[alias] = list(e.builds)

    def _on_subject_result_recorded(self, e: Any, position: int) -> None:
        if e.subject_type in _BUILD_SUBJECTS or e.outcome == INVALID:
            return  # an invalid message (failed its spec's schema) is no result
        self.results.setdefault(e.subject_identifier, {})[e.testcase] = (e.outcome, e.msg)
        self.touched = True

    # ----------------------------------------------------------- our records

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

    def active(self) -> list[str]:
        """Artifacts in definition order that are defined and not retired."""
        rank = self.graph.rank()
        names = [n for n, d in self.definitions.items() if not d.retired and n in self.graph.nodes]
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def latest(self, artifact: str, *, push: Any = ...) -> ComposeState | None:
        for key in reversed(self.by_artifact.get(artifact, [])):
            c = self.composes[key]
            if push is ... or c.push == push:
                return c
        return None

    def test_outcomes(self, key: str) -> dict[str, str | None]:
        """The outcome of each test its definition requires, on one compose (None: no result).

        Results name a compose by our key, the backend's ref (with or without its
        ``backend:`` prefix) or its location.
        """
        c = self.composes[key]
        names = [n for n in (c.key, c.ref, (c.ref or "").split(":", 1)[-1], c.location) if n]
        required = self.definitions[c.artifact].data.get("tests") or []
        return {
            t: next((self.results[n][t][0] for n in names if t in self.results.get(n, {})), None)
            for t in required
        }

    def last_composed(self, artifact: str) -> ComposeState | None:
        for key in reversed(self.by_artifact.get(artifact, [])):
            if self.composes[key].state == "composed":
                return self.composes[key]
        return None


# The fold's one handler table; its topics are what the composer reads.
HANDLERS: EventHandlers[Callable[[ArtifactView, Any, int], None]] = EventHandlers(
    {
        topics.ARTIFACT_DEFINED: ArtifactView._on_artifact_defined,
        topics.ARTIFACT_REDEFINED: ArtifactView._on_artifact_redefined,
        topics.ARTIFACT_RETIRED: ArtifactView._on_artifact_retired,
        topics.ARTIFACT_MANIFEST_LEARNED: ArtifactView._on_artifact_manifest_learned,
        topics.COMPOSE_RUN_SEEN: ArtifactView._on_compose_run_seen,
        topics.COMPOSE_RUN_STATUS_CHANGED: ArtifactView._on_compose_run_status_changed,
        topics.KOJI_TASK_SEEN: ArtifactView._on_koji_task_seen,
        topics.KOJI_TASK_STATE_CHANGED: ArtifactView._on_koji_task_state_changed,
        topics.PUSH_SEEN: ArtifactView._on_push_seen,
        topics.PUSH_PROGRESSED: ArtifactView._on_push_progressed,
        topics.UPDATE_SEEN: ArtifactView._on_update_seen,
        topics.UPDATE_CHANGED: ArtifactView._on_update_changed,
        topics.SUBJECT_RESULT_RECORDED: ArtifactView._on_subject_result_recorded,
        topics.ACTION_REQUESTED: ArtifactView._on_action_requested,
        topics.ACTION_COMPLETED: ArtifactView._on_action_completed,
        topics.ACTION_CANCELLED: ArtifactView._on_action_cancelled,
        topics.ARTIFACT_COMPOSE_PLANNED: ArtifactView._on_artifact_compose_planned,
        topics.ARTIFACT_COMPOSE_CHANGES_ADDED: ArtifactView._on_artifact_compose_changes_added,
        topics.ARTIFACT_COMPOSE_REQUESTED: ArtifactView._on_artifact_compose_requested,
        topics.ARTIFACT_COMPOSE_STARTED: ArtifactView._on_artifact_compose_started,
        topics.ARTIFACT_COMPOSE_FINISHED: ArtifactView._on_artifact_compose_finished,
        topics.ARTIFACT_COMPOSE_CANCELLED: ArtifactView._on_artifact_compose_cancelled,
        topics.PUSH_RUN_OPENED: ArtifactView._on_push_run_opened,
        topics.PUSH_RUN_ADVANCED: ArtifactView._on_push_run_advanced,
        topics.PUSH_RUN_STOPPED: ArtifactView._on_push_run_stopped,
    }
)
TOPICS = HANDLERS.topics
