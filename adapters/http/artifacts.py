"""The composer's view for the API: artifacts and pushes as JSON-able dicts (the same
shapes as ``relengotron artifacts --json`` and ``relengotron push --json``)."""

from __future__ import annotations

from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.services.artifacts import artifact_row, push_status
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp
from relengotron.projections.folds.artifacts import ArtifactView

__all__ = ["ArtifactQueries"]


class ArtifactQueries:
    """``artifacts()``, ``artifact(name)`` and ``push(id)`` over the composer's view,
    folded up to the end of the log on each call (no decisions are made here)."""

    def __init__(self, app: RelengApp, cfg: Settings) -> None:
        self.app = app
        self.cfg = cfg

    def _view(self) -> ArtifactView:
        return bootstrap.composer(self.app, self.cfg).read_view()

    def artifacts(self) -> list[dict[str, Any]]:
        view = self._view()
        return [artifact_row(view, name) for name in view.active()]

    def artifact(self, name: str) -> dict[str, Any] | None:
        view = self._view()
        if name not in view.definitions:
            return None
        return artifact_row(view, name)

    def push(self, key: str) -> dict[str, Any] | None:
        """A push by its key (``<bodhi compose>#<n>``), or a Bodhi compose's latest push."""
        view = self._view()
        if key not in view.pushes and view.push_runs.get(key):
            key = view.push_runs[key][-1]
        p = view.pushes.get(key)
        return None if p is None else push_status(view, p)
