"""Recording artifact definitions and manifests as input messages.

Definitions live in ``config/artifacts/*.yaml``; ``relengotron artifacts sync``
records each new or changed one as a ``relengotron.artifact.defined`` message
(and each removed one as ``relengotron.artifact.retired``), so the log shows
when every definition changed and a replay sees the same graph. Manifests
learned by depsolving repository metadata or from a compose's ``rpms.json``
are recorded as ``relengotron.manifest.learned`` messages, with their source.
Message ids derive from the content: syncing twice records nothing new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relengotron.adapters.artifacts.definitions import Definition, load_definitions
from relengotron.adapters.artifacts.kinds import ArtifactKind
from relengotron.adapters.artifacts.manifests import Manifest, RepoMetadata
from relengotron.adapters.artifacts.rpms_json import parse_rpms_json
from relengotron.adapters.effects.effector import utc_now
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.domain.application import RelengApp
from relengotron.projections.folds.artifacts import ArtifactView

DEFINED, RETIRED, LEARNED = (
    "relengotron.artifact.defined",
    "relengotron.artifact.retired",
    "relengotron.manifest.learned",
)


@dataclass
class SyncReport:
    directory: str
    defined: list[str] = field(default_factory=list)
    redefined: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "defined": self.defined,
            "redefined": self.redefined,
            "retired": self.retired,
            "unchanged": self.unchanged,
        }


def _record(app: RelengApp, records: Sequence[dict[str, Any]], source: str) -> int:
    if not records:
        return 0
    out = app.record([to_incoming(to_envelope(r), source=source) for r in records])
    return len(out.recorded)


def _message(topic: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return {"topic": topic, "id": f"relengotron-{digest}", "headers": {"sent-at": utc_now()},
            "body": body}  # fmt: skip


def sync_definitions(
    app: RelengApp, view: ArtifactView, directory: Path, kinds: Mapping[str, ArtifactKind]
) -> SyncReport:
    """Record what changed in the definition files since the log last saw them."""
    definitions = load_definitions(directory, kinds)  # DefinitionError: nothing recorded
    report = SyncReport(str(directory))
    records = []
    names = set()
    for d in definitions:
        names.add(d.name)
        known = view.definitions.get(d.name)
        if known is not None and known.digest == d.digest and not known.retired:
            report.unchanged.append(d.name)
            continue
        (report.defined if known is None else report.redefined).append(d.name)
        records.append(_defined(d))
    for name, known in view.definitions.items():
        if name not in names and not known.retired:
            report.retired.append(name)
            body = {"name": name, "reason": f"no longer defined in {directory}"}
            records.append(_message(RETIRED, f"retired:{name}:{known.digest}", body))
    _record(app, records, "relengotron artifacts sync")
    return report


def _defined(d: Definition) -> dict[str, Any]:
    body = {"name": d.name, "kind": d.kind, "definition": d.data, "digest": d.digest,
            "source": d.source}  # fmt: skip
    return _message(DEFINED, f"defined:{d.name}:{d.digest}", body)


def manifest_record(
    artifact: str, source: str, manifest: Manifest, ref: str | None
) -> dict[str, Any]:
    packages = dict(sorted(manifest.packages.items()))
    content = json.dumps({"source": source, "packages": packages}, sort_keys=True)
    body = {"artifact": artifact, "source": source, "packages": packages, "ref": ref,
            "rpms": len(manifest.rpms)}  # fmt: skip
    return _message(LEARNED, f"manifest:{artifact}:{content}", body)


@dataclass
class SolveReport:
    repository: str
    packages: int
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    recorded: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "packages_in_repository": self.packages,
            "artifacts": self.artifacts,
            "recorded": self.recorded,
        }


def solve_manifests(
    app: RelengApp,
    view: ArtifactView,
    kinds: Mapping[str, ArtifactKind],
    repository: str,
    *,
    arch: str = "x86_64",
    only: Sequence[str] = (),
    weak_deps: bool = False,
) -> SolveReport:
    """Depsolve every artifact's top-level list against one repository; record the closures."""
    repo = RepoMetadata.load(repository, arch=arch)
    report = SolveReport(repository, repo.count)
    wanted: dict[str, list[str]] = {}
    for name in view.active():
        d = view.definitions[name]
        kind = kinds.get(d.kind)
        if kind is None or (only and name not in only):
            continue
        top = kind.top_level(d.data)
        if top:
            wanted[name] = top
    closures = repo.closures(wanted, weak_deps=weak_deps)
    records = []
    for name, manifest in closures.items():
        report.artifacts[name] = {
            "top_level": len(wanted[name]),
            "packages": len(manifest.packages),
            "rpms": len(manifest.rpms),
            "missing": list(manifest.missing),
            "problems": list(manifest.problems),
        }
        records.append(manifest_record(name, "depsolve", manifest, repository))
    report.recorded = _record(app, records, "relengotron manifest solve")
    return report


def load_compose_manifest(
    app: RelengApp,
    artifact: str,
    rpms_json: str,
    *,
    variant: str | None = None,
    arch: str | None = None,
) -> tuple[Manifest, int]:
    """Record an artifact's manifest from a compose's ``rpms.json`` (file or URL)."""
    manifest = parse_rpms_json(rpms_json, variant=variant, arch=arch)
    recorded = _record(
        app,
        [manifest_record(artifact, "compose", manifest, rpms_json)],
        "relengotron manifest load",
    )
    return manifest, recorded
