"""The gating read model: builds, their tags, results and waivers, batch checks, gates.

``GatingView.apply(event, position)`` folds one stored event into the model and
marks what it affects as dirty; the decider (``projections.processes.decider``) reads
the model to build policy snapshots. The model is pure: it never reads the store.
What it keeps per build, change, batch check, policy set and override is in
``projections.folds.gating_state`` (importable from here too); where a build stands in
batch checks, in ``projections.folds.gating_batch``.
"""

from __future__ import annotations

from typing import Any

from relengotron.domain import topics
from relengotron.domain.facts import INVALID, KOJI_BUILD, KOJI_BUILD_GROUP, canonical_subject_type
from relengotron.domain.topics import EventHandlers
from relengotron.policies.snapshot import BatchView, RemoteFileView, Snapshot
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating_batch import Rechecked, batch_views
from relengotron.projections.folds.gating_reruns import Reruns
from relengotron.projections.folds.gating_signing import on_build_signed, signing_views
from relengotron.projections.folds.gating_state import (
    ActivePolicies,
    BuildState,
    ChangeState,
    GroupCheck,
    OverrideState,
    creation_time,
    result_view,
    waiver_view,
)
from relengotron.projections.folds.gating_state import (
    package_of as package_of,  # its importers' path
)
from relengotron.projections.folds.records import RECORD_HANDLERS, DecisionRecords, Handler, ref
from relengotron.projections.folds.remote_files import decode_files, encode_files, file_view
from relengotron.projections.folds.view_docs import Docs
from relengotron.projections.policy_input import policy_input
from relengotron.projections.queries import SubjectFacts

Batch = tuple[BatchView, ...]
# The stored event topics the model reads (the store filters on them).
SUBJECT_TOPICS = (
    # Results and waivers are Subject events whatever the subject's class; the
    # aggregate they belong to (a build, a change, a group) tells them apart.
    topics.SUBJECT_SEEN,
    topics.BUILD_SEEN,
    topics.BUILD_STATE_CHANGED,
    topics.BUILD_TAGGED,
    topics.BUILD_UNTAGGED,
    topics.BUILD_SIGNED,
    topics.BUILD_RERUN_REQUESTED,
    topics.CHANGE_BUILD_LINKED,
    topics.SUBJECT_RESULT_RECORDED,
    topics.SUBJECT_WAIVER_RECORDED,
)
DECIDER_TOPICS = (
    topics.GATE_OPENED,
    topics.GATE_DECIDED,
    topics.GATE_WITHDRAWN,
    topics.GATE_REOPENED,
    topics.GATE_FLAKY_FOUND,
    topics.BISECTION_STARTED,
    topics.BISECTION_HALVES_REQUESTED,
    topics.BISECTION_FELL_BACK,
    topics.BISECTION_RECHECK_REQUESTED,
    topics.ACTION_REQUESTED,
    topics.ACTION_COMPLETED,
    topics.ACTION_CANCELLED,
)
# What the decider records itself (Action.Completed is the effector's).
OWN_TOPICS = tuple(t for t in DECIDER_TOPICS if t != topics.ACTION_COMPLETED)
# Input that steers the decider itself: the policy set in force, manual overrides.
CONTROL_TOPICS = (
    topics.POLICY_LOG_ACTIVATED,
    topics.GATE_OVERRIDE_OPENED,
    topics.GATE_OVERRIDE_RECORDED,
)
# What a package's gating.yaml was, and where a build came from (the fetcher's records).
REMOTE_TOPICS = (topics.REMOTE_RULE_FILE_FETCHED, topics.BUILD_SOURCE_OBSERVED)
TOPICS = SUBJECT_TOPICS + DECIDER_TOPICS + CONTROL_TOPICS + REMOTE_TOPICS
# Input events that move the decider's clock (message time). Policy activations do
# not: they are recorded at the wall-clock time of a sync, which may be far later
# than the messages ingested after them (an archive), and must not expire bisections.
_CLOCK_MODULES = ("relengotron.domain.subjects", "relengotron.domain.overrides")


class GatingView(DecisionRecords):
    def __init__(self, config: GatingConfig, docs: Docs | None = None) -> None:
        super().__init__(config, docs)
        docs = self.docs
        self.builds = docs.map("builds", BuildState)
        self.changes = docs.map("changes", ChangeState)
        self.checks = docs.map("checks", list[GroupCheck])  # group -> its results, in order
        self.checks_by_nvr = docs.map("checks_by_nvr", list[GroupCheck])
        # Checks from invalid CI messages: never a status, only why one is missing.
        self.invalid_checks_by_nvr = docs.map("invalid_checks_by_nvr", list[GroupCheck])
        self._now = docs.cell("now", str | None)
        # The policy set the log activated (None: the decider's own set).
        self._active = docs.cell("active_policies", ActivePolicies | None)
        self.overrides = docs.map("overrides", OverrideState)
        # Remote rule files (gating.yaml) as fetched: URL -> its fetches, in log order.
        self.remote_files = docs.map(
            "remote_files", list[RemoteFileView], encode=encode_files, decode=decode_files
        )
        # Builds' sources as koji's getBuild answered: nvr -> (source, error).
        self.observed_sources = docs.map("observed_sources", tuple[str | None, str | None])
        self.reruns = Reruns(docs)  # reruns asked for, and the flaky tests they found
        # What the next decision round reacts to (cleared by settle(); never stored).
        self.dirty_groups: set[str] = set()  # groups with a new result
        self.tag_changes: list[tuple[str, str, bool, str | None]] = []  # nvr, tag, added, user

    @property
    def now(self) -> str | None:
        """The view's clock: the latest send time of an input message."""
        value: str | None = self._now.value
        return value

    @property
    def active_policies(self) -> ActivePolicies | None:
        value: ActivePolicies | None = self._active.value
        return value

    # ------------------------------------------------------------ folding

    def apply(self, e: Any, position: int) -> None:
        at = getattr(e, "at", None)
        # The clock is the send time of input messages only: outcomes recorded
        # by the effector carry wall-clock times, which must not move it.
        if at and type(e).__module__ in _CLOCK_MODULES and (self.now is None or at > self.now):
            self._now.value = at
        handler = HANDLERS.for_event(e)
        if handler is not None:
            handler(self, e, position)

    def prefetch(self, events: list[Any]) -> None:
        """Load, a few queries per page, the entries folding ``events`` and deciding
        after them read (what is missed is loaded one by one)."""
        if self.docs.complete:
            return
        ids = {e.originator_id for e in events}
        self._names.prefetch(ids)
        self._action_by_id.prefetch(ids)
        nvrs: set[str] = set()
        changes: set[str] = set()
        actions: set[str] = set()
        for e in events:
            name = self._names.peek(e.originator_id)
            if name is not None:
                (changes if name[0] == "change" else nvrs).add(name[1])
            for attr in ("nvr", "identifier"):
                value = getattr(e, attr, None)
                if isinstance(value, str):
                    nvrs.add(value)
            nvrs.update(getattr(e, "covered_nvrs", None) or ())
            key = getattr(e, "key", None) or self._action_by_id.peek(e.originator_id)
            if isinstance(key, str):
                actions.add(key)
        for m in (self.builds, self.gates, self.actions_of, self.checks_by_nvr):
            m.prefetch(nvrs)
        for m in (self.invalid_checks_by_nvr, self.overrides, self.observed_sources):
            m.prefetch(nvrs)
        self.actions.prefetch(actions)
        for nvr in nvrs:
            build = self.builds.peek(nvr)
            if build is not None and build.change:
                changes.add(build.change)
        self.changes.prefetch(changes)

    def build(self, nvr: str) -> BuildState:
        b = self.builds.get(nvr)
        if b is None:
            b = self.builds[nvr] = BuildState(nvr)
        return b

    def _change(self, identifier: str) -> ChangeState:
        c = self.changes.get(identifier)
        if c is None:
            c = self.changes[identifier] = ChangeState(identifier)
        return c

    def _on_build_seen(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = ("build", e.identifier)
        self.build(e.identifier)

    def _on_subject_seen(self, e: Any, position: int) -> None:
        if e.subject_type == "dist_git_commit":
            self._names[e.originator_id] = ("change", e.identifier)
        elif canonical_subject_type(e.subject_type) == KOJI_BUILD:
            # A build under an alias (brew-build; recorded so before waivers were
            # translated to the type it stands for): its waivers are the build's.
            self._names[e.originator_id] = ("build", e.identifier)

    def _nvr(self, e: Any) -> str | None:
        kind, ident = self._names.get(e.originator_id, (None, None))
        return ident if kind == "build" else None

    def _on_build_state_changed(self, e: Any, position: int) -> None:
        nvr = self._nvr(e)
        if nvr is None:
            return
        b = self.build(nvr)
        b.owner = e.owner or b.owner
        b.koji_id = e.build_id if e.build_id is not None else b.koji_id
        b.created = creation_time(b.created, e.state, e.at)
        b.task_id = e.task_id if e.task_id is not None else b.task_id
        if e.change:
            b.change = e.change
            self._change(e.change).nvrs.add(nvr)
        self.dirty.add(nvr)

    def _on_remote_rule_file_fetched(self, e: Any, position: int) -> None:
        self.remote_files.setdefault(e.url, []).append(file_view(e, position, ref(e)))
        self.dirty.update(e.subjects)  # the builds that asked for it decide again

    def _on_build_source_observed(self, e: Any, position: int) -> None:
        self.observed_sources[e.nvr] = (e.source, e.error)
        self.dirty.add(e.nvr)

    def _on_change_build_linked(self, e: Any, position: int) -> None:
        kind, ident = self._names.get(e.originator_id, (None, None))
        if kind == "change" and ident:
            self._change(ident).nvrs.add(e.nvr)
            self.build(e.nvr).change = self.build(e.nvr).change or ident
            self.dirty.add(e.nvr)

    def _on_build_tagged(self, e: Any, position: int) -> None:
        nvr = self._nvr(e)
        if nvr is None:
            return
        b = self.build(nvr)
        b.tags.add(e.tag)
        b.owner = e.owner or b.owner
        b.koji_id = e.build_id if e.build_id is not None else b.koji_id
        self.tag_changes.append((nvr, e.tag, True, e.user))
        if e.tag == self.config.promoted_tag and nvr in self.gates:
            g = self.gates[nvr]
            g.promoted = True
            self._candidate(g)
        self.dirty.add(nvr)

    def _on_build_untagged(self, e: Any, position: int) -> None:
        nvr = self._nvr(e)
        if nvr is None:
            return
        self.build(nvr).tags.discard(e.tag)
        self.tag_changes.append((nvr, e.tag, False, e.user))
        self.dirty.add(nvr)

    def _on_subject_result_recorded(self, e: Any, position: int) -> None:
        kind, ident = self._names.get(e.originator_id, (None, None))
        if kind == "build" and ident:
            result = result_view(e, position)
            self.build(ident).results.append(result)
            self.reruns.on_result(self, ident, result)
            self.dirty.add(ident)
        elif kind == "change" and ident:
            if e.nvr:
                return  # also recorded in the build's own stream
            c = self._change(ident)
            c.results.append(result_view(e, position))
            self.dirty.update(c.nvrs)
        elif e.subject_type == KOJI_BUILD_GROUP:
            self._group_check(e, position)

    def _group_check(self, e: Any, position: int) -> None:
        invalid = e.outcome == INVALID  # an invalid message is no batch check result
        check = GroupCheck(
            group=e.subject_identifier,
            testcase=e.testcase,
            outcome=e.outcome,
            covered=tuple(e.covered_nvrs),
            suspects=tuple(e.suspect_nvrs),
            position=position,
            event=ref(e),
            result_id=e.result_id,
            at=e.at,
            note=e.note if invalid else None,
        )
        covered = check.covered or self.members(check.group)
        by_nvr = self.invalid_checks_by_nvr if invalid else self.checks_by_nvr
        for nvr in covered:
            by_nvr.setdefault(nvr, []).append(check)
        self.dirty.update(covered)
        if invalid:
            return
        self.checks.setdefault(check.group, []).append(check)
        self.dirty_groups.add(check.group)

    def _on_subject_waiver_recorded(self, e: Any, position: int) -> None:
        kind, ident = self._names.get(e.originator_id, (None, None))
        if kind == "build" and ident:
            self.build(ident).waivers.append(waiver_view(e, position, "koji_build", ident))
            self.dirty.add(ident)
        elif kind == "change" and ident:
            c = self._change(ident)
            c.waivers.append(waiver_view(e, position, "dist_git_commit", ident))
            self.dirty.update(c.nvrs)

    def _on_policy_log_activated(self, e: Any, position: int) -> None:
        previous = self.active_policies
        self._active.value = ActivePolicies(
            e.policy_set_hash, tuple(e.policies), e.msg, ref(e), e.at
        )
        if previous is None or previous.policy_set_hash != e.policy_set_hash:
            # Another policy set: every open candidate is evaluated again.
            self.dirty.update(self.candidates())

    def _on_gate_override_opened(self, e: Any, position: int) -> None:
        if e.context is None or e.context == self.config.decision_context:
            self._names[e.originator_id] = ("override", e.nvr)

    def _on_gate_override_recorded(self, e: Any, position: int) -> None:
        kind, nvr = self._names.get(e.originator_id, (None, None))
        if kind != "override" or nvr is None:
            return
        if e.action == "release":
            self.overrides.pop(nvr, None)
        else:
            self.overrides[nvr] = OverrideState(e.action, e.reason, e.username, e.msg, ref(e), e.at)
        self.dirty.add(nvr)

    def settle(self) -> None:
        """Forget what changed: it has been decided (or was decided by an earlier run)."""
        self.dirty.clear()
        self.dirty_groups.clear()
        self.tag_changes.clear()
        self.reruns.requested.clear()
        self.reruns.found.clear()

    # --------------------------------------------------------------- reading

    def is_candidate(self, nvr: str) -> bool:
        g = self.gates.get(nvr)
        return g is not None and g.open and not g.promoted

    def candidates_in(self, nvrs: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(n for n in nvrs if self.is_candidate(n)))

    def batch_views(self, nvr: str, rechecked: frozenset[str] = frozenset()) -> Batch:
        """Where the build stands in each batch testcase (``folds.gating_batch``)."""
        r = Rechecked(rechecked, self.checks, self.config.pending_tag) if rechecked else None
        return batch_views(nvr, self.checks_by_nvr, self.invalid_checks_by_nvr, self, r)

    def subject_facts(self, nvr: str) -> SubjectFacts:
        """What this view knows about a build, in the read side's shape: its results
        and waivers, and those of the change it belongs to."""
        b = self.build(nvr)
        results = list(b.results)
        waivers = list(b.waivers)
        if b.change and b.change in self.changes:
            c = self.changes[b.change]
            results.extend(c.results)
            waivers.extend(c.waivers)
        return SubjectFacts(
            "koji_build",
            nvr,
            package=b.package,
            created=b.created,
            results=tuple(results),
            waivers=tuple(waivers),
        )

    def snapshot(
        self, nvr: str, sigkeys: tuple[str, ...] = (), rechecked: frozenset[str] = frozenset()
    ) -> Snapshot:
        """The policy input for a build (``projections.policy_input``); ``sigkeys`` and
        ``rechecked`` (batch testcases re-checked after quarantine): as the policies ask."""
        return policy_input(
            self.subject_facts(nvr),
            product_version=self.config.product_version,
            decision_context=self.config.decision_context,
            batch=self.batch_views(nvr, rechecked),
            signing=signing_views(self, nvr, sigkeys),
            reruns=Reruns.views(self.builds.get(nvr), self.now),
        )


# The fold's one handler table: what the decider recorded, and its input.
HANDLERS: EventHandlers[Handler] = RECORD_HANDLERS | EventHandlers(
    {
        topics.SUBJECT_SEEN: GatingView._on_subject_seen,
        topics.BUILD_SEEN: GatingView._on_build_seen,
        topics.BUILD_STATE_CHANGED: GatingView._on_build_state_changed,
        topics.BUILD_TAGGED: GatingView._on_build_tagged,
        topics.BUILD_UNTAGGED: GatingView._on_build_untagged,
        topics.BUILD_SIGNED: on_build_signed,
        topics.BUILD_RERUN_REQUESTED: lambda v, e, p: v.reruns.on_requested(v, e, p),
        topics.GATE_FLAKY_FOUND: lambda v, e, p: v.reruns.on_flaky_found(v, e, p),
        topics.CHANGE_BUILD_LINKED: GatingView._on_change_build_linked,
        topics.SUBJECT_RESULT_RECORDED: GatingView._on_subject_result_recorded,
        topics.SUBJECT_WAIVER_RECORDED: GatingView._on_subject_waiver_recorded,
        topics.POLICY_LOG_ACTIVATED: GatingView._on_policy_log_activated,
        topics.GATE_OVERRIDE_OPENED: GatingView._on_gate_override_opened,
        topics.GATE_OVERRIDE_RECORDED: GatingView._on_gate_override_recorded,
        topics.REMOTE_RULE_FILE_FETCHED: GatingView._on_remote_rule_file_fetched,
        topics.BUILD_SOURCE_OBSERVED: GatingView._on_build_source_observed,
    }
)
