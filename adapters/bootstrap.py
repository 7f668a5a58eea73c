"""The composition root: the one place where infrastructure is built and wired."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from adapters import remote_rule_fetch
from adapters.branches import BranchFilter
from adapters.effector import Effector
from adapters.ingest import IngestSummary, Progress, ingest_files
from adapters.policy_loader import load_policy_set
from adapters.settings import Settings, database_url, load_settings
from adapters.store import open_app
from adapters.view_store import SQLViewStore
from domain import ids
from domain.application import RelengApp
from policies.spec import PolicySet
from projections.config import ComposerConfig, KindTraits
from projections.processes.composer import Composer, ComposerReport
from projections.processes.decider import Decider, DeciderReport

if TYPE_CHECKING:
    from adapters.artifacts.kinds import ArtifactKind
    from adapters.koji_gateway import KojiGateway


def settings(config: str | None = None) -> Settings:
    return load_settings(config)


def application(
    db: str | None = None, cfg: Settings | None = None, *, create: bool = True
) -> RelengApp:
    """The store ``--db``/``RELENGOTRON_DB``/``[store] url`` names; ``create=False``
    (read-only commands): a missing store is an error and nothing is created."""
    return open_app(database_url(db, configured=cfg.db if cfg else None), create=create)


def policy_set(cfg: Settings, directory: str | None = None) -> PolicySet:
    return load_policy_set(directory or cfg.policies)


def decider(app: RelengApp, cfg: Settings, policies: PolicySet | None = None) -> Decider:
    return Decider(app, policies or policy_set(cfg), cfg.gating, views=SQLViewStore(app.recorder))


def decide(app: RelengApp, cfg: Settings) -> DeciderReport:
    """Bring decisions, then compose plans, up to date with the log."""
    return decide_all(app, cfg)[0]


def decide_all(app: RelengApp, cfg: Settings) -> tuple[DeciderReport, ComposerReport]:
    policies = policy_set(cfg)  # read once: synced to the log, then decided with
    sync_policies(app, cfg, policies)  # the policy set in force is part of the log
    return decide_with(app, cfg, policies), composer(app, cfg).run()


def decide_with(app: RelengApp, cfg: Settings, policies: PolicySet) -> DeciderReport:
    """Run the decider; then fetch and record the gating.yaml files open gates need and
    the log lacks (RemoteRule), and decide those builds again."""
    return run_decider(app, cfg, decider(app, cfg, policies))


def run_decider(app: RelengApp, cfg: Settings, deciding: Decider) -> DeciderReport:
    """One decide run of ``deciding``, with the gating.yaml fetches it needs."""
    report = deciding.run()
    gateway: list[Any] = []

    def koji() -> Any:  # made only when a build's source must be asked of koji
        if not gateway:
            gateway.append(koji_gateway(cfg))
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


def kinds() -> dict[str, ArtifactKind]:
    from adapters.artifacts.registry import load_kinds

    return load_kinds()


def composer_config(cfg: Settings, kinds_: dict[str, ArtifactKind] | None = None) -> ComposerConfig:
    kinds_ = kinds() if kinds_ is None else kinds_
    traits = tuple(
        (
            name,
            KindTraits(
                propagates=bool(k.propagates),
                contains_tags=bool(k.contains_tags),
                backend=cfg.compose.kinds.get(name),
            ),
        )
        for name, k in sorted(kinds_.items())
    )
    return ComposerConfig(
        promoted_tag=cfg.gating.promoted_tag,
        kinds=traits,
        release_configured=bool(cfg.compose.release),
    )


def composer(app: RelengApp, cfg: Settings) -> Composer:
    return Composer(app, composer_config(cfg), views=SQLViewStore(app.recorder))


def koji_gateway(cfg: Settings) -> KojiGateway | None:
    if not cfg.koji.hub:
        return None
    from adapters.koji_gateway import KojiGateway

    return KojiGateway(
        cfg.koji.hub,
        cfg.koji.auth,
        timeout=cfg.koji.timeout,
        retries=cfg.koji.retries,
        task_timeout=cfg.koji.task_timeout,
        poll_interval=cfg.koji.poll_interval,
        backoff=cfg.koji.backoff,
    )


def compose_effects(cfg: Settings, koji: KojiGateway | None) -> Any:
    from adapters.compose_backends import (
        CommandBackend,
        ComposeBackend,
        KojiTaskBackend,
        OdcsBackend,
    )
    from adapters.compose_effects import ComposeEffects

    c = cfg.compose
    backends: dict[str, ComposeBackend] = {}
    if koji is not None:
        backends["koji"] = KojiTaskBackend(koji.session)
    if c.odcs_url:
        token = None
        if c.odcs_token_file:
            from pathlib import Path

            token = Path(c.odcs_token_file).read_text(encoding="utf-8").strip()
        backends["odcs"] = OdcsBackend(c.odcs_url, token, timeout=c.odcs_timeout)
    if c.command:
        backends["command"] = CommandBackend(c.command, timeout=c.command_timeout)
    return ComposeEffects(kinds(), backends, release=c.release, release_timeout=c.release_timeout)


def effector(app: RelengApp, cfg: Settings, *, scan: Any = None) -> Effector:
    """The effector; ``scan`` (``adapters.effector.PendingScan``) keeps its place in the
    log between runs, for a process that acts again and again."""
    koji = koji_gateway(cfg)
    publisher = factory = None
    if cfg.bus.enabled:
        from adapters.messaging.catalog import message_for
        from adapters.messaging.publisher import FedoraMessagingPublisher

        publisher = FedoraMessagingPublisher(cfg.bus.amqp_url, config_file=cfg.bus.config_file)
        factory = message_for
    return Effector(
        app,
        cfg.gating,
        koji=koji,
        publisher=publisher,
        message_factory=factory,
        composes=compose_effects(cfg, koji),
        scan=scan,
    )


def ingest(
    app: RelengApp,
    paths: Sequence[str],
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    cfg: Settings | None = None,
) -> IngestSummary:
    branches = BranchFilter(cfg.monitored_branches) if cfg is not None else None
    return ingest_files(app, paths, batch_size=batch_size, progress=progress, branches=branches)


_INTERNAL = {"originator_id", "originator_version", "timestamp", "msg", "at"}


def subject_history(app: RelengApp, subject_type: str, identifier: str) -> list[dict[str, Any]]:
    """A subject's events, oldest first, each with the message it came from."""
    topics: dict[str, str | None] = {}
    listing: list[dict[str, Any]] = []
    for e in app.events.get(ids.subject_id(subject_type, identifier)):
        key = getattr(e, "msg", None)
        if key is not None and key not in topics:
            stored = app.stored_message(key)
            topics[key] = stored.topic if stored is not None else None
        row: dict[str, Any] = {
            "version": e.originator_version,
            "event": type(e).__qualname__,
            "recorded_at": e.timestamp.isoformat(),  # type: ignore[attr-defined]
            "sent_at": getattr(e, "at", None),
            "message": key,
            "topic": topics.get(key) if key else None,
        }
        row.update({k: v for k, v in vars(e).items() if k not in _INTERNAL})
        listing.append(row)
    return listing


def projector(
    app: RelengApp,
    cfg: Settings,
    *,
    page_size: int = 5000,
    progress: Any = None,
) -> Any:
    """The read models' projector (``relengotron project``)."""
    from adapters.readmodels import Projector

    return Projector(app, cfg.gating, page_size=page_size, progress=progress)


def read_model(app: RelengApp, cfg: Settings) -> Any:
    """The read side the API, the page and the audit commands ask (SQL tables)."""
    from adapters.readmodel_queries import SQLReadModel

    return SQLReadModel.of(app, cfg.gating)


# ------------------------------------------------------------------ the policy log

POLICY_ACTIVATED = "relengotron.policy.activated"


def active_policy_hash(app: RelengApp) -> str | None:
    """The hash of the policy set last activated in the log, if any."""
    from eventsourcing.application import AggregateNotFoundError

    from domain.policyset import PolicyLog, policy_log_id

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
    import uuid

    policies = policies or policy_set(cfg)
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
OVERRIDE_ACTIONS = ("promote", "hold", "release")


def record_input(app: RelengApp, topic: str, key: str, body: dict[str, Any], source: str) -> str:
    """Record one message of our own (sent now, by the wall clock: an input, like a
    message from the bus), the same way ingest records one. Returns its key."""
    from adapters.effector import utc_now
    from adapters.envelope import to_envelope
    from adapters.ingest import to_incoming

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
    The caller decides afterwards (:func:`decide`)."""
    import uuid

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
    import uuid

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
