"""Deciding: bring decisions, then compose plans, up to date with the log; the gating.yaml
files open gates need are fetched and recorded on the way (``adapters.rules.remote_rule_fetch``)."""

from __future__ import annotations

from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.rules import remote_rule_fetch
from relengotron.adapters.services.inputs import sync_policies
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet
from relengotron.projections.processes.composer import ComposerReport
from relengotron.projections.processes.decider import Decider, DeciderReport


def decide(app: RelengApp, cfg: Settings) -> DeciderReport:
    """Bring decisions, then compose plans, up to date with the log."""
    return decide_all(app, cfg)[0]


def decide_all(app: RelengApp, cfg: Settings) -> tuple[DeciderReport, ComposerReport]:
    policies = bootstrap.policy_set(cfg)  # read once: synced to the log, then decided with
    sync_policies(app, cfg, policies)  # the policy set in force is part of the log
    return decide_with(app, cfg, policies), bootstrap.composer(app, cfg).run()


def decide_with(app: RelengApp, cfg: Settings, policies: PolicySet) -> DeciderReport:
    """Run the decider; then fetch and record the gating.yaml files open gates need and
    the log lacks (RemoteRule), and decide those builds again."""
    return run_decider(app, cfg, bootstrap.decider(app, cfg, policies))


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
