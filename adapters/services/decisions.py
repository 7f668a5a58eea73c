"""Deciding: bring decisions, then compose plans, up to date with the log; the gating.yaml
files open gates need are fetched and recorded on the way (``adapters.rules.remote_rule_fetch``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.rules import remote_rule_fetch
from relengotron.adapters.services.inputs import sync_policies
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet
from relengotron.projections.processes.composer import ComposerReport
from relengotron.projections.processes.decider import Decider, DeciderReport

Progress = Callable[[int, int], None]  # (events read so far, 0): the follower's report


def decide(app: RelengApp, cfg: Settings, progress: Progress | None = None) -> DeciderReport:
    """Bring decisions, then compose plans, up to date with the log."""
    return decide_all(app, cfg, progress)[0]


def decide_all(
    app: RelengApp, cfg: Settings, progress: Progress | None = None
) -> tuple[DeciderReport, ComposerReport]:
    policies = bootstrap.policy_set(cfg)  # read once: synced to the log, then decided with
    sync_policies(app, cfg, policies)  # the policy set in force is part of the log
    return decide_with(app, cfg, policies, progress), bootstrap.composer(app, cfg).run()


def decide_with(
    app: RelengApp, cfg: Settings, policies: PolicySet, progress: Progress | None = None
) -> DeciderReport:
    """Run the decider; then fetch and record the gating.yaml files open gates need and
    the log lacks (RemoteRule), and decide those builds again."""
    deciding = bootstrap.decider(app, cfg, policies)
    deciding.progress = progress
    return run_decider(app, cfg, deciding)


def run_decider(app: RelengApp, cfg: Settings, deciding: Decider) -> DeciderReport:
    """One decide run of ``deciding``, with the gating.yaml fetches it needs."""
    report = deciding.run()
    gateway: list[Any] = []

    def koji() -> Any:  # made only when a build's source must be asked of koji
        if not gateway:
            gateway.append(bootstrap.koji_gateway(cfg))
        return gateway[0]

    hub = koji if cfg.koji.hub else None
    if remote_rule_fetch.fetch_needed(app, deciding, cfg.remote_rules, koji=hub):
        more = deciding.run()
        report.read += more.read
        report.evaluated += more.evaluated
        report.decisions.extend(more.decisions)
        report.actions += more.actions
        report.bisections += more.bisections
        report.position = more.position
    return report
