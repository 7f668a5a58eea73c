"""The artifacts view's state: what it keeps about each definition, manifest,
compose, push and outbox action (``projections.folds.artifacts`` folds it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relengotron.domain.composing import WAITING


@dataclass
class Definition:
    name: str
    kind: str
    data: dict[str, Any]
    digest: str
    source: str | None
    defined_at: str | None
    retired: bool = False


@dataclass
class ManifestRecord:
    source: str
    packages: dict[str, str | None]
    ref: str | None
    rpms: int
    at: str | None


@dataclass
class ComposeState:
    key: str
    artifact: str
    kind: str
    generation: int
    push: str | None
    planned_at: str | None
    state: str = WAITING
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # nvr -> change
    reasons: list[dict[str, Any]] = field(default_factory=list)
    waits_for: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)  # koji.move action keys
    action: str | None = None
    backend: str | None = None
    ref: str | None = None
    location: str | None = None
    detail: str | None = None
    updated_at: str | None = None
    version: int = 0


@dataclass
class PushState:
    key: str  # <bodhi compose>#<n>
    compose: str
    release: str | None
    request: str | None
    updates: list[str]
    builds: list[str]
    problems: list[str]
    opened_at: str | None
    stage: str = "repos"
    stopped: str | None = None
    composes: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0


@dataclass
class ActionView:
    key: str
    kind: str
    params: dict[str, Any]
    at: str | None
    version: int = 1
    done: bool = False
    outcome: str | None = None
    detail: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
