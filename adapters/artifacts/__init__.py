"""Artifacts: their kinds (plugins, entry point group ``relengotron.artifacts``) and
their definitions (``config/artifacts/*.yaml``)."""

from relengotron.adapters.artifacts.definitions import Definition, DefinitionError, load_definitions
from relengotron.adapters.artifacts.kinds import (
    BACKENDS,
    ArtifactKind,
    ContainerKind,
    OstreeKind,
    Qcow2Kind,
    RepoKind,
)
from relengotron.adapters.artifacts.registry import GROUP, KindLoadError, kind_traits, load_kinds

__all__ = [
    "BACKENDS",
    "GROUP",
    "ArtifactKind",
    "ContainerKind",
    "Definition",
    "DefinitionError",
    "KindLoadError",
    "OstreeKind",
    "Qcow2Kind",
    "RepoKind",
    "kind_traits",
    "load_definitions",
    "load_kinds",
]
