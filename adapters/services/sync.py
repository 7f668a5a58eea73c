"""Syncing a compose to the master mirror once its gate passes (``relengotron sync``).

Seed 003: the engine syncs bits to the master mirror itself, instead of a cron job, and
only a compose whose gate passes: the decision Greenwave would give for the compose
(subject type ``compose``, Fedora's ``rawhide_compose_sync_to_mirrors`` context, ``[sync]``
settings) over what the log holds, from the read models brought up to date first.

* The gate fails, or cannot be known (no policy for that gating point, the compose not
  finished, nowhere to sync to): nothing is recorded, nothing is synced (fail closed).
* It passes: a ``compose.sync`` outbox action is requested, with the decision in its
  params, and carried out by the effector (at once by ``sync``) (``adapters.effects.mirror_sync``:
  rsync into a staging copy, then an atomic switch of the ``latest-…`` link); when done
  it asks for the ``compose.synced`` message. A sync interrupted by a crash is a pending
  action: ``sync`` again, or ``act``, finishes it; a finished one is not done twice.

Without anyone asking, :class:`ReadyComposes` is the engine's own trigger (the live
followers run it each round, ``[sync] auto``): every compose pungi reports FINISHED is
kept waiting until its gate passes, then its sync is requested for the effector; one
whose gate never passes is never synced, and waiting ones older than a compose of the
same ``latest-`` name that was synced are dropped.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from relengotron.adapters import bootstrap
from relengotron.adapters.effects.mirror_sync import is_newer, latest_link
from relengotron.adapters.settings import Settings
from relengotron.domain import ids, topics
from relengotron.domain.application import RelengApp
from relengotron.domain.artifacts import ComposeRun
from relengotron.domain.facts import COMPOSE
from relengotron.domain.log_scan import LogScan
from relengotron.domain.outbox import COMPOSE_SYNC, Action
from relengotron.policies.spec import PolicySet
from relengotron.projections.decision_api import DecisionService
from relengotron.projections.decision_request import DecisionRequest, DecisionRequestError

log = logging.getLogger(__name__)

# Outcomes of a sync request, besides the effector's.
BLOCKED, UNKNOWN, NOT_CONFIGURED = "gate-failed", "unknown", "not-configured"


class SyncUsageError(Exception):
    """No mirror configured, or no policy for the gating point: exit 2."""


@dataclass
class SyncReport:
    compose: str
    outcome: str
    detail: str
    dry_run: bool = False
    action: str | None = None
    source: str | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def synced(self) -> bool:
        return self.outcome in ("synced", "already", "would-sync")

    def as_json(self) -> dict[str, Any]:
        return {
            "compose": self.compose,
            "outcome": self.outcome,
            "detail": self.detail,
            "dry_run": self.dry_run,
            "action": self.action,
            "source": self.source,
            "policies_satisfied": self.decision.get("policies_satisfied"),
            "summary": self.decision.get("summary"),
            "decision": self.decision,
            "result": self.result,
        }


def action_key(compose: str) -> str:
    return f"{COMPOSE_SYNC}:{compose}"


def sync_compose(
    app: RelengApp, cfg: Settings, compose: str, *, dry_run: bool = False
) -> SyncReport:
    s = cfg.sync
    if not s.target:
        raise SyncUsageError("no master mirror to sync to: set [sync] target")
    key = action_key(compose)
    action = _action(app, key)
    if action is not None and action.done:
        return SyncReport(compose, "already", f"synced before ({key})", dry_run, key)
    if action is None:
        bootstrap.projector(app, cfg).run()  # answer from everything recorded
        decision = gate(app, cfg, compose)
        report = SyncReport(compose, BLOCKED, decision["summary"], dry_run, None)
        report.decision = decision
        if not decision["policies_satisfied"]:
            return report
        source, why = compose_source(app, cfg, compose)
        report.source = source
        if source is None:
            report.outcome, report.detail = UNKNOWN, why
            return report
        action = _sync_action(cfg, compose, source, decision)
        if dry_run:
            return _carry_out_dry(cfg, action, report)
        app.save(action)  # recorded before anything is copied: a crash leaves it pending
    report = SyncReport(compose, "pending", "", dry_run, key, action.params.get("source"))
    report.decision = dict(action.params.get("decision") or {})
    if dry_run:
        return _carry_out_dry(cfg, action, report)
    acted = bootstrap.effector(app, cfg).run(only=key)
    for row in acted.done + acted.pending:
        if row["action"] == key:
            report.outcome, report.detail = row["outcome"], row["detail"]
            report.result = row.get("result") or {}
    return report


def _sync_action(cfg: Settings, compose: str, source: str, decision: dict[str, Any]) -> Action:
    params = {
        "compose": compose,
        "source": source,
        "target": cfg.sync.target,
        "link": latest_link(compose),
        "decision": {k: decision.get(k) for k in _DECISION_KEYS},
    }
    reason = f"gate passed: {decision['summary']}"
    return Action(action_key(compose), COMPOSE_SYNC, params, None, reason, None,
                  datetime.now(UTC).isoformat())  # fmt: skip


class ReadyComposes:
    """Finished pungi composes waiting for their gate; ``__call__`` requests the syncs of
    those whose gate passes now (the read models must be up to date) and returns their
    ids. The composes are read from the log incrementally."""

    def __init__(self) -> None:
        self.status_changes = LogScan((topics.COMPOSE_RUN_STATUS_CHANGED,))
        self.waiting: dict[str, None] = {}
        self.problem: str | None = None  # why no gate can be evaluated (logged once)
        self.policies: PolicySet | None = None

    def __call__(self, app: RelengApp, cfg: Settings) -> list[str]:
        if not cfg.sync.target or not cfg.sync.auto:
            return []
        self._read(app)
        requested: list[str] = []
        for compose in list(self.waiting):
            if _action(app, action_key(compose)) is not None:  # asked by hand, or before
                self.waiting.pop(compose, None)
                continue
            if self.policies is None:  # read once, as the decider reads them
                self.policies = bootstrap.policy_set(cfg)
            try:
                decision = gate(app, cfg, compose, self.policies)
            except SyncUsageError as exc:  # no policy for the gating point: nothing passes
                if self.problem != str(exc):
                    log.warning("compose syncs: %s", exc)
                self.problem = str(exc)
                return requested
            source, _ = compose_source(app, cfg, compose)
            if not decision["policies_satisfied"] or source is None:
                continue  # not yet: results may still come
            with contextlib.suppress(IntegrityError):  # requested meanwhile elsewhere
                app.save(_sync_action(cfg, compose, source, decision))
            requested.append(compose)
            link = latest_link(compose)
            for other in list(self.waiting):
                if other == compose or (latest_link(other) == link and is_newer(compose, other)):
                    self.waiting.pop(other, None)
        return requested

    def _read(self, app: RelengApp) -> None:
        for n in self.status_changes(app):
            run = cast(ComposeRun, app.repository.get(UUID(str(n.originator_id))))
            if run.ref.startswith("pungi:") and run.status == "FINISHED":
                self.waiting.setdefault(run.ref.removeprefix("pungi:"), None)


def _carry_out_dry(cfg: Settings, action: Action, report: SyncReport) -> SyncReport:
    from relengotron.adapters.effects.mirror_sync import MirrorSync

    done = MirrorSync(cfg.sync.rsync, timeout=cfg.sync.timeout).sync(action.params, dry_run=True)
    report.outcome, report.detail, report.result = done.outcome, done.detail, done.result
    report.source = action.params["source"]
    return report


def gate(
    app: RelengApp, cfg: Settings, compose: str, policies: PolicySet | None = None
) -> dict[str, Any]:
    """The compose's decision at its gating point (``[sync]``), as Greenwave gives it
    (``policies``: the set in force, else read from ``[gating] policies``)."""
    s = cfg.sync
    policies = policies if policies is not None else bootstrap.policy_set(cfg)
    service = DecisionService(bootstrap.read_model(app, cfg), policies)
    request = DecisionRequest(
        product_version=s.product_version,
        contexts=(s.decision_context,),
        context_label=s.decision_context,
        subjects=((COMPOSE, compose),),
    )
    try:
        out = service.decide(request, datetime.now(UTC))
    except DecisionRequestError as exc:  # 404: no policy for the gating point
        raise SyncUsageError(exc.message) from exc
    return {**out, "decision_context": s.decision_context, "product_version": s.product_version}


def compose_source(app: RelengApp, cfg: Settings, compose: str) -> tuple[str | None, str]:
    """Where the finished compose is (pungi's ``location``; under ``[sync] compose_root``
    when that is a URL), or None and why."""
    try:
        run = cast(ComposeRun, app.repository.get(ids.compose_run_id(f"pungi:{compose}")))
    except AggregateNotFoundError:
        return None, f"no pungi compose {compose} recorded"
    if run.status != "FINISHED":
        return None, f"compose {compose} is {run.status or 'not finished'}"
    location = _location(app, run)
    root = cfg.sync.compose_root
    if location and not location.startswith(("http://", "https://")):
        return location, ""
    if root:
        return str(Path(root) / compose / "compose"), ""
    return None, f"compose {compose} is at {location}, not a path: set [sync] compose_root"


def _location(app: RelengApp, run: ComposeRun) -> str | None:
    """The location its last status change named."""
    events = app.events.get(run.id)
    location = None
    for e in events:
        location = getattr(e, "location", None) or location
    return location


def _action(app: RelengApp, key: str) -> Action | None:
    try:
        return cast(Action, app.repository.get(ids.action_id(key)))
    except AggregateNotFoundError:
        return None


_DECISION_KEYS = ("decision_context", "product_version", "policies_satisfied", "summary",
                  "applicable_policies", "policy_set_hash")  # fmt: skip
