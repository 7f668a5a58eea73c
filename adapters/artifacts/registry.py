"""The artifact kinds installed: entry points of the group ``relengotron.artifacts``.

A distribution adds a kind by declaring, in its ``pyproject.toml``::

    [project.entry-points."relengotron.artifacts"]
    iso = "mypackage.kinds:IsoKind"

where ``IsoKind`` subclasses :class:`ArtifactKind` and sets ``name = "iso"``. Nothing
else changes: definitions of kind ``iso`` then load, and the engine reads its traits
through :func:`kind_traits`.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Mapping

from relengotron.adapters.artifacts.kinds import ArtifactKind

GROUP = "relengotron.artifacts"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")


class KindLoadError(RuntimeError):
    """An artifact-kind plugin cannot be used; the message names its entry point."""


def _describe(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f" (from {dist.name})" if dist is not None and getattr(dist, "name", None) else ""
    return f"entry point {ep.name} = {ep.value!r} in group {GROUP}{where}"


def _load_one(ep: importlib.metadata.EntryPoint) -> ArtifactKind:
    what = _describe(ep)
    if not _NAME.match(ep.name):
        raise KindLoadError(f"{what}: kind names are [a-z0-9][a-z0-9._-]*")
    try:
        obj = ep.load()
    except Exception as exc:
        raise KindLoadError(f"{what} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, ArtifactKind)):
        raise KindLoadError(
            f"{what} is {obj!r}, not a subclass of adapters.artifacts.kinds.ArtifactKind"
        )
    if obj.name != ep.name:
        raise KindLoadError(f"{what}: the class says its name is {obj.name!r}")
    try:
        kind = obj()
    except Exception as exc:
        raise KindLoadError(f"{what} cannot be created: {type(exc).__name__}: {exc}") from exc
    for attr in ("propagates", "contains_tags"):
        if not isinstance(getattr(kind, attr, None), bool):
            raise KindLoadError(f"{what}: `{attr}` must be True or False")
    return kind


def load_kinds(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> dict[str, ArtifactKind]:
    """Every installed kind by name (``entry_points``: these instead of the installed
    ones). Raises :class:`KindLoadError` for a broken plugin, or two plugins claiming
    one name."""
    eps = (
        list(importlib.metadata.entry_points(group=GROUP))
        if entry_points is None
        else list(entry_points)
    )
    kinds: dict[str, ArtifactKind] = {}
    values: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in eps:
        if ep.name in values:
            if values[ep.name].value == ep.value:
                continue  # the same plugin seen twice (e.g. an editable install)
            raise KindLoadError(f"two plugins define kind {ep.name}: "
                                f"{_describe(values[ep.name])} and {_describe(ep)}")  # fmt: skip
        values[ep.name] = ep
        kinds[ep.name] = _load_one(ep)
    return dict(sorted(kinds.items()))


def kind_traits(kinds: Mapping[str, ArtifactKind]) -> dict[str, tuple[bool, bool]]:
    """Kind name -> (propagates, contains_tags)."""
    return {name: (bool(k.propagates), bool(k.contains_tags)) for name, k in kinds.items()}


__all__ = ["GROUP", "KindLoadError", "kind_traits", "load_kinds"]
