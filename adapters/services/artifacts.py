"""The composer's view as JSON-able rows: an artifact with its composes, a push with its
stages (``relengotron artifacts``/``push`` and the API's artifact endpoints)."""

from __future__ import annotations

from typing import Any

from relengotron.projections.folds.artifacts import ArtifactView, ComposeState, PushState
from relengotron.projections.folds.graph import explain


def compose_row(c: ComposeState | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "compose": c.key,
        "state": c.state,
        "ref": c.ref,
        "location": c.location,
        "backend": c.backend,
        "changes": list(c.changes),
        "waits_for": c.waits_for,
        "push": c.push,
        "planned_at": c.planned_at,
        "updated_at": c.updated_at,
        "detail": c.detail,
        "reasons": explain(c.reasons),
    }


def artifact_row(view: ArtifactView, name: str) -> dict[str, Any]:
    d = view.definitions[name]
    latest = view.latest(name)
    return {
        "name": name,
        "kind": d.kind,
        "release": d.data.get("release"),
        "arches": d.data.get("arches"),
        "parents": [p for p, _ in view.graph.nodes[name].parents],
        "manifest_source": view.graph.sources.get(name),
        "packages": len(view.graph.manifests.get(name, {})),
        "manifests": {
            s: {"packages": len(r.packages), "ref": r.ref, "at": r.at}
            for s, r in view.manifests.get(name, {}).items()
        },
        "state": latest.state if latest else "idle",
        "last_compose": compose_row(latest),
        "last_composed": compose_row(view.last_composed(name)),
        "definition": {"digest": d.digest, "source": d.source, "defined_at": d.defined_at},
    }


def push_status(view: ArtifactView, p: PushState) -> dict[str, Any]:
    composes = [compose_row(view.composes[k]) for k in p.composes]
    tests = {k: view.test_outcomes(k) for k in p.composes}
    return {
        "push": p.key,
        "stage": p.stage,
        "state": "stopped" if p.stopped else ("done" if p.stage == "done" else "in progress"),
        "stopped": p.stopped,
        "release": p.release,
        "request": p.request,
        "updates": p.updates,
        "builds": p.builds,
        "problems": p.problems,
        "composes": composes,
        "tests": tests,
        "history": p.history,
    }
