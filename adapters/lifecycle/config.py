"""``[release]`` settings: where the lifecycle's systems are (koji is ``[koji]``'s hub).

::

    [release]
    mirrors = "/srv/pub/fedora/linux"      # releases/<N>, updates/<N>, updates/testing/<N>
    archive = "/srv/pub/archive/fedora/linux"
    arches = ["x86_64", "aarch64"]
    packages = ["bash", "systemd"]          # the package set branched in dist-git
    [release.bodhi]
    url = "https://bodhi.fedoraproject.org/"
    token_file = "/etc/relengotron/bodhi.token"
    [release.bugzilla]
    url = "https://bugzilla.redhat.com/xmlrpc.cgi"
    api_key_file = "/etc/relengotron/bugzilla.key"
    product = "Fedora"
    batch = 100
    [release.distgit]
    url = "https://src.fedoraproject.org/"
    token_file = "/etc/relengotron/pagure.token"
    namespace = "rpms"
    [release.ostree]
    repo = "/srv/ostree/repo"
    archive_repo = "/srv/ostree/archive"
    os = "fedora"

A system without its URL (or directory) is not configured: its steps fail with that
reason (never done by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "release": {"mirrors": str, "archive": str, "arches": list, "packages": list},
    "release.bodhi": {"url": str, "token_file": str},
    "release.bugzilla": {"url": str, "api_key_file": str, "product": str, "batch": int},
    "release.distgit": {"url": str, "token_file": str, "namespace": str},
    "release.ostree": {"repo": str, "archive_repo": str, "os": str},
}


@dataclass(frozen=True)
class LifecycleSettings:
    mirrors: Path | None = None
    archive: Path | None = None
    arches: tuple[str, ...] = ("x86_64", "aarch64")
    packages: tuple[str, ...] = ()
    bodhi_url: str | None = None
    bodhi_token_file: str | None = None
    bugzilla_url: str | None = None
    bugzilla_api_key_file: str | None = None
    bugzilla_product: str = "Fedora"
    bugzilla_batch: int = 100
    distgit_url: str | None = None
    distgit_token_file: str | None = None
    distgit_namespace: str = "rpms"
    ostree_repo: Path | None = None
    ostree_archive_repo: Path | None = None
    ostree_os: str = "fedora"


def lifecycle_settings(
    tables: dict[str, dict[str, Any]], path: Callable[[str | None, Path], Path]
) -> LifecycleSettings:
    """The ``[release]`` tables (already checked against :data:`SCHEMA`); ``path``
    resolves a relative path against the settings file's directory."""

    def get(table: str, key: str, default: Any = None) -> Any:
        return tables.get(table, {}).get(key, default)

    def opt_path(table: str, key: str) -> Path | None:
        value = get(table, key)
        return path(value, Path(value)) if value else None

    def opt_file(table: str, key: str) -> str | None:
        p = opt_path(table, key)
        return str(p) if p else None

    return LifecycleSettings(
        mirrors=opt_path("release", "mirrors"),
        archive=opt_path("release", "archive"),
        arches=tuple(get("release", "arches", LifecycleSettings.arches)),
        packages=tuple(get("release", "packages", ())),
        bodhi_url=get("release.bodhi", "url"),
        bodhi_token_file=opt_file("release.bodhi", "token_file"),
        bugzilla_url=get("release.bugzilla", "url"),
        bugzilla_api_key_file=opt_file("release.bugzilla", "api_key_file"),
        bugzilla_product=get("release.bugzilla", "product", "Fedora"),
        bugzilla_batch=max(1, int(get("release.bugzilla", "batch", 100))),
        distgit_url=get("release.distgit", "url"),
        distgit_token_file=opt_file("release.distgit", "token_file"),
        distgit_namespace=get("release.distgit", "namespace", "rpms"),
        ostree_repo=opt_path("release.ostree", "repo"),
        ostree_archive_repo=opt_path("release.ostree", "archive_repo"),
        ostree_os=get("release.ostree", "os", "fedora"),
    )


def read_secret(path: str | None) -> str | None:
    """A token or key file's first line (None without a file)."""
    if not path:
        return None
    text = Path(path).read_text().strip()
    return text.splitlines()[0] if text else None
