"""The composition root: the one place where infrastructure is built and wired. It only
builds; the use cases that run these parts are in ``adapters.services``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relengotron.adapters.effects.effector import Effector
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import Settings, database_url
from relengotron.adapters.settings_file import load_settings
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet
from relengotron.projections.config import ComposerConfig, KindTraits
from relengotron.projections.processes.composer import Composer
from relengotron.projections.processes.decider import Decider

if TYPE_CHECKING:
    from relengotron.adapters.artifacts.kinds import ArtifactKind
    from relengotron.adapters.koji.koji_gateway import KojiGateway


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


def kinds() -> dict[str, ArtifactKind]:
    from relengotron.adapters.artifacts.registry import load_kinds

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
    from relengotron.adapters.koji.koji_gateway import KojiGateway

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
    from relengotron.adapters.effects.compose_backends import (
        CommandBackend,
        ComposeBackend,
        KojiTaskBackend,
        OdcsBackend,
    )
    from relengotron.adapters.effects.compose_effects import ComposeEffects

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
    from relengotron.adapters.effects.mirror_sync import MirrorSync

    return ComposeEffects(
        kinds(),
        backends,
        release=c.release,
        release_timeout=c.release_timeout,
        mirror=MirrorSync(cfg.sync.rsync, timeout=cfg.sync.timeout),
    )


def effector(app: RelengApp, cfg: Settings, *, scan: Any = None) -> Effector:
    """The effector; ``scan`` (``adapters.effects.pending.PendingScan``) keeps its place in the
    log between runs, for a process that acts again and again."""
    from relengotron.adapters.effects.ostree_effects import Effects, OstreeEffects

    koji = koji_gateway(cfg)
    publisher = factory = None
    if cfg.bus.enabled:
        from relengotron.adapters.messaging.catalog import message_for
        from relengotron.adapters.messaging.publisher import FedoraMessagingPublisher

        publisher = FedoraMessagingPublisher(cfg.bus.amqp_url, config_file=cfg.bus.config_file)
        factory = message_for
    return Effector(
        app,
        cfg.gating,
        koji=koji,
        publisher=publisher,
        message_factory=factory,
        composes=Effects(compose_effects(cfg, koji), OstreeEffects()),
        scan=scan,
        signer=signer(cfg, koji),
    )


def signer(cfg: Settings, koji: KojiGateway | None) -> Any:
    """The signing backend of ``[signing]`` (None: not configured, or no koji hub)."""
    s = cfg.signing
    if s.backend is None or koji is None:
        return None
    from relengotron.adapters.effects.signing import CommandSigner, RobosignatorySigner
    from relengotron.adapters.koji.koji_signing import KojiSigning

    if s.backend == "command":
        return CommandSigner(KojiSigning(koji), s.argv, s.timeout)
    return RobosignatorySigner(KojiSigning(koji), s.pending_tag)


def projector(
    app: RelengApp,
    cfg: Settings,
    *,
    page_size: int = 5000,
    progress: Any = None,
) -> Any:
    """The read models' projector (``relengotron project``)."""
    from relengotron.adapters.store.readmodels import Projector

    return Projector(app, cfg.gating, page_size=page_size, progress=progress)


def read_model(app: RelengApp, cfg: Settings) -> Any:
    """The read side the API, the page and the audit commands ask (SQL tables)."""
    from relengotron.adapters.store.readmodel_queries import SQLReadModel

    return SQLReadModel.of(app, cfg.gating)
