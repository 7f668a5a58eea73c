"""Settings: one TOML file, plus the store URL. This module holds their values (one frozen
dataclass per table) and the store URL's precedence; ``adapters.settings_file`` reads the file.

Precedence for the store: ``--db``, then ``RELENGOTRON_DB``, then the default
file. The settings file: ``--config FILE``, then ``RELENGOTRON_CONFIG``; with
neither, the built-in defaults below (the embedded demo needs no file). Every
key is documented in the README; ``config/relengotron.example.toml`` has them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from relengotron.adapters.ingest.branches import DEFAULT_MONITORED_BRANCHES
from relengotron.adapters.koji.koji_values import KojiAuth
from relengotron.adapters.lifecycle.config import LifecycleSettings
from relengotron.adapters.store.store import default_url, normalize_url
from relengotron.projections.config import GatingConfig

ENV_DB = "RELENGOTRON_DB"
ENV_CONFIG = "RELENGOTRON_CONFIG"
ENV_API_TOKEN = "RELENGOTRON_API_TOKEN"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICIES = PROJECT_ROOT / "config" / "policies"
DEFAULT_ARTIFACTS = PROJECT_ROOT / "config" / "artifacts"


class SettingsError(ValueError):
    """A settings file that cannot be used: the message names the file and the key."""


def database_url(option: str | None, cwd: Path | None = None, configured: str | None = None) -> str:
    """``--db`` wins, then ``RELENGOTRON_DB``, then ``[store] url``, then the default file."""
    return normalize_url(option or os.environ.get(ENV_DB) or configured or default_url(cwd))


@dataclass(frozen=True)
class KojiSettings:
    hub: str | None = None
    auth: KojiAuth = field(default_factory=KojiAuth)
    weburl: str | None = None  # koji's web UI (links)
    topurl: str | None = None  # koji's file tree (downloads)
    profile: str | None = None  # the koji profile these came from, if any
    timeout: float = 60.0
    retries: int = 4
    task_timeout: float = 900.0
    poll_interval: float = 2.0
    backoff: float = 1.0


@dataclass(frozen=True)
class BusSettings:
    enabled: bool = False
    amqp_url: str | None = None
    config_file: str | None = None
    topic_prefix: str = "relengotron"


@dataclass(frozen=True)
class ComposeSettings:
    """Where composes go: a backend per artifact kind, and each backend's options."""

    kinds: dict[str, str] = field(default_factory=dict)  # kind -> backend (else the kind's own)
    odcs_url: str | None = None
    odcs_token_file: str | None = None
    odcs_timeout: float = 30.0
    command: tuple[str, ...] = ()
    command_timeout: float = 3600.0
    release: tuple[str, ...] = ()  # the push release step ("sync bits live")
    release_timeout: float = 3600.0


@dataclass(frozen=True)
class SigningSettings:
    """``[signing]``: how a signing request is carried out (``adapters.effects.signing``)."""

    backend: str | None = None  # "robosignatory" | "command"; None: requests wait
    pending_tag: str = "rawhide-signing-pending"  # robosignatory's ``from`` tag
    argv: tuple[str, ...] = ()  # the command backend: argv + [NVR, SIGKEY]
    timeout: float = 600.0


@dataclass(frozen=True)
class SyncSettings:
    """``[sync]``: syncing a compose whose gate passes to the master mirror (``relengotron
    sync``, ``adapters.effects.mirror_sync``)."""

    target: str | None = None  # the master mirror's directory; None: syncing not configured
    compose_root: str | None = None  # where composes are when their location is a URL
    decision_context: str = "rawhide_compose_sync_to_mirrors"  # Fedora's compose gate
    product_version: str = "fedora-rawhide"
    rsync: tuple[str, ...] = ("rsync",)  # the command, and any options of the site's
    timeout: float = 6 * 3600.0
    auto: bool = True  # the live followers sync every finished compose whose gate passes


@dataclass(frozen=True)
class ApiSettings:
    """``relengotron serve``: where it listens and who may write."""

    host: str = "127.0.0.1"
    port: int = 8090
    token_file: str | None = None  # bearer token for writes; RELENGOTRON_API_TOKEN wins
    overdue_hours: float = 24.0  # a missing result older than this is "overdue"
    workers: int = 1
    project_interval: float = 1.0  # seconds between read-model rounds while serving; 0: on demand
    cors_url: str | None = None  # Greenwave's CORS_URL: Access-Control-Allow-Origin (Bodhi)
    max_body_bytes: int = 1024 * 1024  # larger request bodies: 413
    max_subjects: int = 1000  # more subjects in one decision request: 400
    catch_up_timeout: float = 5.0  # longest wait for the read models before a 503
    decision_threads: int = 2  # threads answering large decision requests

    def token(self) -> str | None:
        """The write token: ``RELENGOTRON_API_TOKEN``, else the token file; None = no writes."""
        env = os.environ.get(ENV_API_TOKEN, "").strip()
        if env:
            return env
        if self.token_file:
            try:
                text = Path(self.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(f"[api] token_file {self.token_file}: {exc}") from exc
            return text or None
        return None


@dataclass(frozen=True)
class LinkSettings:
    """``[links]``: where the page's links point (Fedora's services by default)."""

    koji_web: str | None = None  # koji's web UI; default: [koji] weburl, else Fedora's
    distgit: str = "https://src.fedoraproject.org"
    bodhi: str = "https://bodhi.fedoraproject.org"
    datagrepper: str = "https://apps.fedoraproject.org/datagrepper"  # bus messages by id

    def bases(self, koji_weburl: str | None) -> dict[str, str]:
        """The link bases, without a trailing slash."""
        koji = self.koji_web or koji_weburl or "https://koji.fedoraproject.org/koji"
        return {
            "koji": koji.rstrip("/"),
            "distgit": self.distgit.rstrip("/"),
            "bodhi": self.bodhi.rstrip("/"),
            "datagrepper": self.datagrepper.rstrip("/"),
        }


@dataclass(frozen=True)
class RemoteRuleSettings:
    """``[gating.remote_rules]``: fetching gating.yaml (adapters/rules/remote_rule_fetch.py)."""

    timeout: float = 30.0  # Greenwave's REMOTE_RULE_GIT_TIMEOUT
    retries: int = 3  # attempts per fetch
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled each time


@dataclass(frozen=True)
class Settings:
    source: str | None = None  # the file they came from, if any
    koji: KojiSettings = field(default_factory=KojiSettings)
    gating: GatingConfig = field(default_factory=GatingConfig)
    policies: Path = DEFAULT_POLICIES
    bus: BusSettings = field(default_factory=BusSettings)
    db: str | None = None  # [store] url; --db and RELENGOTRON_DB win
    artifacts: Path = DEFAULT_ARTIFACTS
    compose: ComposeSettings = field(default_factory=ComposeSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    remote_rules: RemoteRuleSettings = field(default_factory=RemoteRuleSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    signing: SigningSettings = field(default_factory=SigningSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    # [gating] monitored_branches: dist-git branches whose pushes count (regular
    # expressions, whole name); pushes to others are recorded as ignored.
    monitored_branches: tuple[str, ...] = DEFAULT_MONITORED_BRANCHES
    release: LifecycleSettings = field(default_factory=LifecycleSettings)  # [release]
