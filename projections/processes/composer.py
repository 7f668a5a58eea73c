"""The composer: which artifacts to compose, in which order, and when.

A follower of the log (see ``projections.processes.follower``) next to the decider. It
reacts to:

* **promotions** — koji moves into the promoted tag that the decider requested
  (one decision round is one batch): the affected artifacts get a compose
  planned, parents first; a repository compose waits for the moves to be done,
  a child waits for its parents' composes;
* **Bodhi pushes** — its ``Pushes`` (``projections.processes.pushes``);
* **outcomes** — our compose requests' submissions (outbox), and completion or
  failure reported by the backends (pungi, ODCS, koji tasks, CI pipelines).

A compose not yet requested absorbs later changes; an artifact never has two
composes running at once (the newer waits for the older). Everything it
records carries the trigger and its message time, so a replay re-derives it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from relengotron.domain import ids, topics
from relengotron.domain.application import RelengApp
from relengotron.domain.composing import (
    CANCELLED,
    COMPOSED,
    FAILED,
    REQUESTED,
    RUNNING,
    WAITING,
    ArtifactCompose,
)
from relengotron.projections.config import ComposerConfig
from relengotron.projections.folds.artifacts import TOPICS, ArtifactView, ComposeState
from relengotron.projections.folds.gating import package_of
from relengotron.projections.folds.graph import BuildChange
from relengotron.projections.folds.view_docs import Docs, DocStore
from relengotron.projections.processes.follower import PAGE, Follower
from relengotron.projections.processes.outbox import (
    COMPOSE_REQUEST as COMPOSE_REQUEST,  # its importers' path
)
from relengotron.projections.processes.outbox import COMPOSER_ACTION_PREFIXES, Outbox
from relengotron.projections.processes.outbox import (
    PUSH_RELEASE as PUSH_RELEASE,  # its importers' path
)
from relengotron.projections.processes.pushes import Pushes
from relengotron.projections.processes.rounds import DECIDER_ROUND, INPUT_ROUND, is_legacy_trigger

NAME = "composer"
# Keys of the actions the composer requests (its own events never start a group).
OWN_ACTION_PREFIXES = COMPOSER_ACTION_PREFIXES
OWN_TOPICS = (
    topics.ARTIFACT_COMPOSE_PLANNED,
    topics.ARTIFACT_COMPOSE_CHANGES_ADDED,
    topics.ARTIFACT_COMPOSE_REQUESTED,
    topics.ARTIFACT_COMPOSE_STARTED,
    topics.ARTIFACT_COMPOSE_FINISHED,
    topics.ARTIFACT_COMPOSE_CANCELLED,
    topics.PUSH_RUN_OPENED,
    topics.PUSH_RUN_ADVANCED,
    topics.PUSH_RUN_STOPPED,
    topics.ACTION_REQUESTED,
)
_MOVED = {"moved", "already"}
_ACTIVE = {WAITING, REQUESTED, RUNNING}


@dataclass
class ComposerReport:
    read: int = 0
    position: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # statuses of composes we never asked
    actions: int = 0  # outbox actions requested

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "position": self.position,
            "planned": self.planned,
            "requested": self.requested,
            "finished": self.finished,
            "cancelled": self.cancelled,
            "pushes": self.pushes,
            "unmatched_statuses": self.unmatched,
            "actions_requested": self.actions,
        }


class Composer(Follower[ArtifactView, ComposerReport]):
    NAME = NAME
    VIEW_KIND = "artifact-view"
    VIEW_FORMAT = 2  # 2: kept in tables as documents (projections.folds.view_docs), no more pickles
    TOPICS = TOPICS
    CREATIONS = (topics.ACTION_REQUESTED,)

    def __init__(
        self,
        app: RelengApp,
        config: ComposerConfig,
        *,
        page_size: int = PAGE,
        progress: Callable[[int, int], None] | None = None,
        views: DocStore | None = None,
    ) -> None:
        super().__init__(app, config, page_size=page_size, progress=progress, views=views)
        self.config = config
        # Its collaborators: the outbox, and the pushes it coordinates (which plan
        # composes as promotions do).
        self.outbox = Outbox(self)
        self.pushes = Pushes(self, self.outbox, self.plan)

    def has_action(self, key: str) -> bool:
        """Whether an action of this key was requested (the view folds every request)."""
        return self.view.actions.peek(key) is not None

    def new_view(self, docs: Docs | None = None) -> ArtifactView:
        return ArtifactView(self.config, docs)

    def new_report(self) -> ComposerReport:
        return ComposerReport()

    def group_key(self, e: Any, position: int) -> str | None:
        """Input messages, the decider's rounds and each outcome are groups, each named
        uniquely (``projections.processes.rounds``): the name is the trigger of what it
        decides after."""
        if type(e).__module__ == "relengotron.domain.composing":
            return None
        key = getattr(e, "key", None)
        if isinstance(key, str) and key.startswith(OWN_ACTION_PREFIXES):
            return None
        msg = getattr(e, "msg", None)
        if msg is not None:
            return INPUT_ROUND + msg
        trigger = getattr(e, "trigger", None)
        if trigger is not None:  # recorded by the decider after that message
            return DECIDER_ROUND + trigger
        # An outcome recorded by the effector is named by its event (store-independent).
        return f"{e.originator_id}/{e.originator_version}"

    OWN_TOPICS = OWN_TOPICS

    def owns(self, e: Any) -> bool:
        """Composes, pushes and the actions it requested, when their trigger names the
        round they were decided in. A trigger that is a bare message key was written
        before rounds were named (it may be the message's or the decider's round after
        it): such an event stays where the log holds it, as that code folded it."""
        if type(e).__module__ != "relengotron.domain.composing":
            key = getattr(e, "key", None)
            if not (isinstance(key, str) and key.startswith(OWN_ACTION_PREFIXES)):
                return False
        trigger = getattr(e, "trigger", None)
        return isinstance(trigger, str) and not is_legacy_trigger(trigger)

    # ---------------------------------------------------------------- deciding

    def decide(self, trigger: str | None) -> None:
        v = self.view
        at = v.now
        if v.promotions:
            moves = {nvr: key for key, nvr, _ in v.promotions}
            changes = [
                BuildChange(nvr, package or package_of(nvr) or nvr, self.config.promoted_tag)
                for _, nvr, package in v.promotions
            ]
            self.plan(changes, moves, None, None, trigger, at)
        for m in list(v.push_messages):
            self.pushes.on_message(m, trigger, at)
        for status in list(v.statuses):
            self._on_status(status, trigger, at)
        for key in list(v.completed):
            self._on_completed(key, trigger, at)
        if v.touched or v.promotions or v.push_messages or v.statuses or v.completed:
            self._advance(trigger, at)
            self.pushes.advance(trigger, at)
        v.settle()

    def plan(
        self,
        changes: Iterable[BuildChange],
        moves: Mapping[str, str],
        push: str | None,
        repositories: Collection[str] | None,
        trigger: str | None,
        at: str | None,
    ) -> list[str]:
        """Plan composes of every affected artifact, parents first; their keys."""
        v = self.view
        planned: dict[str, str] = {}
        for a in v.graph.affected(changes, repositories=repositories):
            d = v.definitions.get(a.artifact)
            if d is None or d.retired:
                continue  # named as a parent, never defined
            waits = [planned[p] for p in a.waits_for if p in planned]
            own = [dict(c) for c in a.changes]
            own_moves = [moves[c["nvr"]] for c in own if c["nvr"] in moves]
            reasons = [dict(r) for r in a.reasons]
            current = v.latest(a.artifact, push=push)
            if current is not None and current.state == WAITING:
                agg = self._compose(current.key)
                agg.add_changes(
                    changes=own,
                    reasons=reasons,
                    waits_for=[w for w in waits if w not in current.waits_for],
                    moves=own_moves,
                    trigger=trigger,
                    at=at,
                )
                self.fold(agg)
                planned[a.artifact] = current.key
                continue
            previous = v.latest(a.artifact)
            if previous is not None and previous.state in _ACTIVE:
                waits.append(previous.key)  # one compose of an artifact at a time
            generation = len(v.by_artifact.get(a.artifact, ())) + 1
            key = f"{a.artifact}#{generation}"
            self.add(
                ArtifactCompose(
                    key, a.artifact, d.kind, generation, own, reasons, waits, own_moves, push,
                    trigger, at,
                )
            )  # fmt: skip
            planned[a.artifact] = key
            self.report.planned.append({"compose": key, "push": push, "waits_for": waits})
        return list(planned.values())

    def _compose(self, key: str) -> ArtifactCompose:
        agg = self.get(ids.artifact_compose_id(key))
        self.view.name(agg.id, key)
        return cast(ArtifactCompose, agg)

    def _advance(self, trigger: str | None, at: str | None) -> None:
        """Request every waiting compose that is ready; cancel what cannot be."""
        v = self.view
        rank = v.graph.rank()
        waiting = v.waiting_composes()
        for c in sorted(waiting, key=lambda c: (rank.get(c.artifact, 0), c.generation)):
            blocked = False
            for k in c.waits_for:
                parent = v.composes[k]
                if parent.state in _ACTIVE:
                    blocked = True
                elif parent.state != COMPOSED and parent.artifact != c.artifact:
                    why = f"parent compose {k} {parent.state}: {parent.detail or ''}".strip()
                    self._cancel(c, why.rstrip(":"), trigger, at)
                    blocked = True
                    break
            if blocked or c.state != WAITING:
                continue
            pending = [m for m in c.moves if not v.actions[m].done]
            if pending:
                continue
            kept = self._kept_changes(c)
            if c.moves and not kept and all(r["type"] != "parent" for r in c.reasons):
                self._cancel(c, "none of its builds reached the tag", trigger, at)
                continue
            self._request(c, kept, trigger, at)

    def _kept_changes(self, c: ComposeState) -> list[dict[str, Any]]:
        """Its changes, without builds whose koji move did not happen."""
        v = self.view
        failed = {
            v.actions[m].params.get("nvr") for m in c.moves if v.actions[m].outcome not in _MOVED
        }
        return [ch for nvr, ch in c.changes.items() if nvr not in failed]

    def _request(
        self, c: ComposeState, changes: list[dict[str, Any]], trigger: str | None, at: str | None
    ) -> None:
        v = self.view
        d = v.definitions[c.artifact]
        # The site's choice for the kind wins over the definition's (or its kind's default).
        backend = (
            self.config.traits(d.kind).backend
            or (d.data.get("compose") or {}).get("backend")
            or "koji"
        )
        key = f"compose:{c.key}"
        order = {
            "compose": c.key,
            "artifact": c.artifact,
            "kind": d.kind,
            "backend": backend,
            "definition": d.data,
            "changes": changes,
            "push": c.push,
            "reasons": c.reasons,
        }
        self.outbox.request(key, COMPOSE_REQUEST, order, None, f"compose {c.key}", trigger, at)
        agg = self._compose(c.key)
        agg.request(action=key, backend=backend, trigger=trigger, at=at)
        self.fold(agg)
        self.report.requested.append(c.key)

    def _cancel(self, c: ComposeState, reason: str, trigger: str | None, at: str | None) -> None:
        agg = self._compose(c.key)
        agg.cancel(reason=reason, trigger=trigger, at=at)
        self.fold(agg)
        self.report.cancelled.append({"compose": c.key, "reason": reason})

    def _finish(
        self,
        c: ComposeState,
        outcome: str,
        ref: str | None,
        location: str | None,
        detail: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        agg = self._compose(c.key)
        agg.finish(
            outcome=outcome, ref=ref, location=location, detail=detail, trigger=trigger, at=at
        )
        self.fold(agg)
        self.report.finished.append({"compose": c.key, "outcome": outcome, "detail": detail})

    def _start(
        self, c: ComposeState, ref: str, detail: str, trigger: str | None, at: str | None
    ) -> None:
        agg = self._compose(c.key)
        agg.start(ref=ref, detail=detail, trigger=trigger, at=at)
        self.fold(agg)

    # --------------------------------------------------------------- outcomes

    def _on_completed(self, key: str, trigger: str | None, at: str | None) -> None:
        a = self.view.actions[key]
        if a.kind == PUSH_RELEASE:
            return  # Pushes.advance reads it
        if a.kind != COMPOSE_REQUEST:
            return
        c = self.view.composes.get(a.params.get("compose", ""))
        if c is None or c.state not in (REQUESTED, RUNNING):
            return
        result = a.result
        ref = result.get("ref") or f"{a.params.get('backend')}:{c.key}"
        detail = a.detail or ""
        if a.outcome in ("submitted", "finished") and c.state == REQUESTED:
            self._start(c, ref, detail, trigger, at)
        status = result.get("status")
        if a.outcome == "finished" or status == "FINISHED":
            self._finish(c, COMPOSED, ref, result.get("location"), detail, trigger, at)
        elif a.outcome == "failed" or status == "FAILED":
            self._finish(c, FAILED, ref, None, f"{a.outcome}: {detail}", trigger, at)

    def _on_status(self, s: Mapping[str, Any], trigger: str | None, at: str | None) -> None:
        c = self._match(s)
        if c is None:
            self.report.unmatched.append(s["ref"])
            return
        if c.state not in (REQUESTED, RUNNING):
            return  # finished, cancelled, or never requested: the status changes nothing
        detail = s.get("detail") or f"{s['origin']} reported {s['status']}"
        if c.state == REQUESTED or c.ref != s["ref"]:
            self._start(c, s["ref"], detail, trigger, at)
        if s["status"] == "FINISHED":
            self._finish(c, COMPOSED, s["ref"], s.get("location"), detail, trigger, at)
        elif s["status"] == "FAILED":
            self._finish(c, FAILED, s["ref"], s.get("location"), detail, trigger, at)

    def _match(self, s: Mapping[str, Any]) -> ComposeState | None:
        """Our compose a status is about: by our key, the backend's ref, or the target."""
        v = self.view
        if s.get("compose") in v.composes:
            return v.composes[s["compose"]]
        if s["ref"] in v.by_ref:
            return v.composes[v.by_ref[s["ref"]]]
        for name in v.active():
            if name == s.get("artifact") or _matches(v.definitions[name].data, s.get("target")):
                c = v.latest(name)
                if c is not None and c.state in (REQUESTED, RUNNING):
                    return c
        return None


def _matches(data: Mapping[str, Any], target: str | None) -> bool:
    if not target:
        return False
    match = data.get("match") or {}
    if target in (match.get("ostree_ref"), match.get("image_name")):
        return True
    prefix = match.get("compose_id")
    return isinstance(prefix, str) and bool(prefix) and target.startswith(prefix)


__all__ = ["CANCELLED", "COMPOSE_REQUEST", "NAME", "PUSH_RELEASE", "Composer", "ComposerReport"]
