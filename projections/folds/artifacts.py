"""The artifacts read model: definitions, manifests, the graph, composes and pushes.

``ArtifactView.apply(event, position)`` folds one stored event. Besides the
state, it queues what the composer (``projections.processes.composer``) must react to:
builds on their way to the promoted tag, Bodhi pushes listing their updates,
compose statuses, koji task ends, outcomes of our own actions and test results
on composes. The model is pure: it never reads the store or the clock. What it
keeps per definition, manifest, compose, push and action is in
``projections.folds.artifact_state``; what the composer recorded (its composes, push runs
and actions) is folded by ``projections.folds.compose_records``, which this view extends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relengotron.domain import topics
from relengotron.domain.facts import INVALID, MANIFEST_SOURCES
from relengotron.domain.topics import EventHandlers
from relengotron.projections.config import ComposerConfig
from relengotron.projections.folds.artifact_state import (
    ComposeState as ComposeState,  # importers' path
)
from relengotron.projections.folds.artifact_state import Definition, ManifestRecord
from relengotron.projections.folds.artifact_state import PushState as PushState  # importers' path
from relengotron.projections.folds.compose_records import RECORD_HANDLERS, ComposeRecords
from relengotron.projections.folds.graph import ArtifactNode
from relengotron.projections.folds.view_docs import Docs

# Subjects whose results are about builds, not artifacts.
_BUILD_SUBJECTS = frozenset(
    {"koji_build", "koji_build_scratch", "koji_build_group", "bodhi_update"}
    | {"dist_git_commit", "dist_git_pr"}
)
_TRUST = {source: i for i, source in enumerate(MANIFEST_SOURCES)}


class ArtifactView(ComposeRecords):
    def __init__(self, config: ComposerConfig, docs: Docs | None = None) -> None:
        super().__init__(config, docs)
        docs = self.docs
        self._now = docs.cell("now", str | None)
        self.definitions = docs.map("definitions", Definition)
        self.problems = docs.map("problems", str)  # artifact -> why it is not in the graph
        self.manifests = docs.map("manifests", dict[str, ManifestRecord])
        self.runs = docs.map("runs", dict[str, Any])  # backend ref -> last status
        self.updates = docs.map("updates", list[str])  # bodhi alias -> builds
        # subject -> testcase -> (outcome, message)
        self.results = docs.map("results", dict[str, tuple[str, str | None]])
        # What the composer must react to (cleared by settle(); never stored).
        self.push_messages: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []

    @property
    def now(self) -> str | None:
        """The view's clock: the latest send time of an input message."""
        value: str | None = self._now.value
        return value

    # ----------------------------------------------------------------- folding

    def prefetch(self, events: list[Any]) -> None:
        """Load, a few queries per page, the entries folding ``events`` reads."""
        if self.docs.complete:
            return
        ids = {e.originator_id for e in events}
        self._names.prefetch(ids)
        self._action_key.prefetch(ids)
        keys: set[str] = set()
        for e in events:
            for key in (self._names.peek(e.originator_id), getattr(e, "key", None)):
                if isinstance(key, str):
                    keys.add(key)
            action = self._action_key.peek(e.originator_id)
            if action is not None:
                keys.add(action)
        for m in (self.composes, self.pushes, self.actions, self.by_ref):
            m.prefetch(keys)

    def apply(self, e: Any, position: int) -> None:
        at = getattr(e, "at", None)
        if at and getattr(e, "msg", None) and (self.now is None or at > self.now):
            self._now.value = at  # input-message time only, as for the decider
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

    # ----------------------------------------------------------------- reading

    def active(self) -> list[str]:
        """Artifacts in definition order that are defined and not retired."""
        rank = self.graph.rank()
        names = [n for n, d in self.definitions.items() if not d.retired and n in self.graph.nodes]
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

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


# The fold's one handler table; its topics are what the composer reads.
HANDLERS: EventHandlers[Callable[[Any, Any, int], None]] = RECORD_HANDLERS | EventHandlers(
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
    }
)
TOPICS = HANDLERS.topics
