"""Input messages of our own (waivers, overrides, policy activations) and input files:
each recorded the way ingest records a message from the bus. The caller decides afterwards
(``adapters.services.decisions``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.ingest.ingest import IngestSummary, Progress, ingest_files
from relengotron.adapters.ingest.reader import MAX_LINE
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet


def ingest(
    app: RelengApp,
    paths: Sequence[str],
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    cfg: Settings | None = None,
    max_line: int = MAX_LINE,
) -> IngestSummary:
    branches = BranchFilter(cfg.monitored_branches) if cfg is not None else None
    return ingest_files(
        app,
        paths,
        batch_size=batch_size,
        progress=progress,
        branches=branches,
        max_line=max_line,
    )


# ------------------------------------------------------------------ the policy log

POLICY_ACTIVATED = "relengotron.policy.activated"


def active_policy_hash(app: RelengApp) -> str | None:
    """The hash of the policy set last activated in the log, if any."""
    from eventsourcing.application import AggregateNotFoundError

    from relengotron.domain.policyset import PolicyLog, policy_log_id

    log: Any
    try:
        log = app.repository.get(policy_log_id())
    except AggregateNotFoundError:
        return None
    return log.policy_set_hash if isinstance(log, PolicyLog) else None


def sync_policies(
    app: RelengApp, cfg: Settings, policies: PolicySet | None = None, username: str | None = None
) -> str | None:
    """Record a ``relengotron.policy.activated`` input message when the configured
    policy set differs from the one last activated in the log (by content hash).
    Returns the new message's key, or None when the log is up to date. Its time is
    the wall clock now: an activation is an input, like a waiver."""
    import getpass

    policies = policies or bootstrap.policy_set(cfg)
    if active_policy_hash(app) == policies.content_hash:
        return None
    key = f"relengotron-policy-{uuid.uuid4()}"
    try:
        user = username or getpass.getuser()
    except (KeyError, OSError):
        user = None
    body = {
        "policy_set_hash": policies.content_hash,
        "policies": [p.canonical() for p in policies.policies],
        "source": str(cfg.policies),
        "username": user,
    }
    return record_input(app, POLICY_ACTIVATED, key, body, "relengotron policy sync")


# ------------------------------------------------------------------ input messages of our own

WAIVER_NEW = "relengotron.waiver.new"
GATE_OVERRIDE = "relengotron.gate.override"
TEST_RERUN = "relengotron.test.rerun"
OVERRIDE_ACTIONS = ("promote", "hold", "release")


def record_input(app: RelengApp, topic: str, key: str, body: dict[str, Any], source: str) -> str:
    """Record one message of our own (sent now, by the wall clock: an input, like a
    message from the bus), the same way ingest records one. Returns its key."""
    from relengotron.adapters.effects.effector import utc_now
    from relengotron.adapters.ingest.envelope import to_envelope
    from relengotron.adapters.ingest.ingest import to_incoming

    record = {"topic": topic, "id": key, "headers": {"sent-at": utc_now()}, "body": body}
    app.record([to_incoming(to_envelope(record), source=source)])
    return key


def record_waiver(
    app: RelengApp,
    cfg: Settings,
    *,
    subject_identifier: str,
    testcase: str,
    comment: str,
    username: str,
    subject_type: str = "koji_build",
    scenario: str | None = None,
    product_version: str | None = None,
    waived: bool = True,
    source: str = "relengotron waive",
) -> str:
    """Record a waiver (WaiverDB's body shape, topic ``relengotron.waiver.new``) and return
    its id, which is also the message key. ``product_version`` defaults to the gating one.
    The caller decides afterwards (:func:`adapters.services.decisions.decide`)."""
    waiver_id = f"relengotron-{uuid.uuid4()}"
    body = {
        "id": waiver_id,
        "subject_type": subject_type,
        "subject_identifier": subject_identifier,
        "testcase": testcase,
        "scenario": scenario,
        "waived": waived,
        "product_version": product_version or cfg.gating.product_version,
        "username": username,
        "comment": comment,
    }
    return record_input(app, WAIVER_NEW, waiver_id, body, source)


def record_override(
    app: RelengApp,
    cfg: Settings,
    *,
    nvr: str,
    action: str,
    reason: str,
    username: str,
    context: str | None = None,
    source: str = "relengotron api",
) -> str:
    """Record a ``relengotron.gate.override`` message (promote, hold or release a build in
    a decision context, default the gating one) and return its key."""
    if action not in OVERRIDE_ACTIONS:
        raise ValueError(f"unknown override action {action!r}; expected one of {OVERRIDE_ACTIONS}")
    key = f"relengotron-override-{uuid.uuid4()}"
    body = {
        "nvr": nvr,
        "action": action,
        "reason": reason,
        "username": username,
        "context": context or cfg.gating.decision_context,
    }
    return record_input(app, GATE_OVERRIDE, key, body, source)


def record_rerun(
    app: RelengApp,
    *,
    nvr: str,
    testcase: str,
    reason: str,
    username: str,
    scenario: str | None = None,
    source: str = "relengotron rerun",
) -> str:
    """Record a ``relengotron.test.rerun`` message (ask for a build's test to run again)
    and return its key. The decider publishes the request and awaits the rerun."""
    key = f"relengotron-rerun-{uuid.uuid4()}"
    body = {
        "nvr": nvr,
        "testcase": testcase,
        "scenario": scenario,
        "reason": reason,
        "username": username,
    }
    return record_input(app, TEST_RERUN, key, body, source)
