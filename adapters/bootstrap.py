"""The composition root: the one place where infrastructure is built and wired."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.effector import Effector
from adapters.ingest import IngestSummary, Progress, ingest_files
from adapters.policy_loader import load_policy_set
from adapters.settings import Settings, database_url, load_settings
from adapters.store import open_app
from adapters.view_store import SQLViewStore
from domain import ids
from domain.application import RelengApp
from policies.spec import PolicySet
from projections.decider import Decider, DeciderReport


def settings(config: str | None = None) -> Settings:
    return load_settings(config)


def application(db: str | None = None, cfg: Settings | None = None) -> RelengApp:
    return open_app(database_url(db, configured=cfg.db if cfg else None))


def policy_set(cfg: Settings, directory: str | None = None) -> PolicySet:
    return load_policy_set(directory or cfg.policies)


def decider(app: RelengApp, cfg: Settings, policies: PolicySet | None = None) -> Decider:
    return Decider(
        app, policies or policy_set(cfg), cfg.gating, snapshots=SQLViewStore(app.recorder)
    )


def decide(app: RelengApp, cfg: Settings) -> DeciderReport:
    return decider(app, cfg).run()


def effector(app: RelengApp, cfg: Settings) -> Effector:
    koji = None
    if cfg.koji.hub:
        from adapters.koji_gateway import KojiGateway

        koji = KojiGateway(
            cfg.koji.hub,
            cfg.koji.auth,
            timeout=cfg.koji.timeout,
            retries=cfg.koji.retries,
            task_timeout=cfg.koji.task_timeout,
            poll_interval=cfg.koji.poll_interval,
            backoff=cfg.koji.backoff,
        )
    publisher = factory = None
    if cfg.bus.enabled:
        from adapters.messaging.publisher import FedoraMessagingPublisher
        from adapters.messaging.schemas import message_for

        publisher = FedoraMessagingPublisher(cfg.bus.amqp_url, config_file=cfg.bus.config_file)
        factory = message_for
    return Effector(app, cfg.gating, koji=koji, publisher=publisher, message_factory=factory)


def ingest(
    app: RelengApp, paths: Sequence[str], *, batch_size: int = 500, progress: Progress | None = None
) -> IngestSummary:
    return ingest_files(app, paths, batch_size=batch_size, progress=progress)


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
