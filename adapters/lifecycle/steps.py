"""Release lifecycle steps and the plugins that plan and carry them out.

A plugin (entry point of the group ``relengotron.release_steps``, as artifact kinds are
of ``relengotron.artifacts``) subclasses :class:`StepPlugin`: it plans the steps of
one system for an operation (``branch`` or ``eol``) and carries out one step at a time.
Every step checks the world before it writes, so carrying out a step that was done
already (a run killed after the write, before the record) answers ``already``.
Plugins run in ``order``; a plugin whose system is not configured plans its steps all
the same (a release engineer sees them) and each fails with that reason.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relengotron.adapters.lifecycle.config import LifecycleSettings

GROUP = "relengotron.release_steps"
BRANCH, EOL = "branch", "eol"
DONE, ALREADY, FAILED, WOULD = "done", "already", "failed", "would-do"


class StepError(RuntimeError):
    """A step cannot be carried out; the message is the reason the run stops."""


class PluginLoadError(RuntimeError):
    """A step plugin cannot be used; the message names its entry point."""


@dataclass(frozen=True)
class Release:
    """The release an operation is about, and the names derived from its version."""

    operation: str
    version: str  # "45"
    settings: LifecycleSettings
    policies: Any = None  # Path of the policy files
    artifacts: Any = None  # Path of the artifact definitions

    @property
    def tag(self) -> str:
        return f"f{self.version}"

    @property
    def product_version(self) -> str:
        return f"fedora-{self.version}"

    @property
    def previous(self) -> str:
        return str(int(self.version) - 1)


@dataclass(frozen=True)
class Step:
    id: str  # unique in a plan: "koji.tag:f45-updates"
    system: str
    summary: str  # one line a release engineer reads in the plan
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "system": self.system, "summary": self.summary,
                "params": self.params}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        return cls(d["id"], d["system"], d["summary"], dict(d.get("params") or {}))


@dataclass(frozen=True)
class Outcome:
    outcome: str  # DONE, ALREADY or WOULD (dry run); failures raise StepError
    detail: str
    result: dict[str, Any] = field(default_factory=dict)


class StepPlugin:
    """One system's part of the lifecycle. Subclasses set ``name`` and ``order``."""

    name = ""
    order = 100

    def __init__(self, context: Any) -> None:
        self.context = context  # adapters.services.lifecycle.Context

    @property
    def settings(self) -> LifecycleSettings:
        return self.context.release.settings

    def plan(self, release: Release) -> list[Step]:
        raise NotImplementedError

    def apply(self, step: Step, release: Release) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (after a run)."""


def load_plugins(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> list[type[StepPlugin]]:
    """The installed step plugins, in their order."""
    eps = entry_points if entry_points is not None else importlib.metadata.entry_points(group=GROUP)
    out: list[type[StepPlugin]] = []
    for ep in eps:
        what = f"entry point {ep.name} = {ep.value!r} in group {GROUP}"
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginLoadError(f"{what} cannot be loaded: {exc}") from exc
        if not (isinstance(obj, type) and issubclass(obj, StepPlugin)):
            raise PluginLoadError(f"{what} is not a StepPlugin")
        if obj.name != ep.name:
            raise PluginLoadError(f"{what}: the class says its name is {obj.name!r}")
        out.append(obj)
    return sorted(out, key=lambda p: (p.order, p.name))
