"""The demo's third part: the promoted batch -> affected artifacts -> compose requests.

The artifact definitions of ``config/artifacts`` are recorded (as ``artifacts
sync`` does). The demo then plays koji (the promote moves succeed) and the
compose backends (each requested compose finishes, as pungi or koji would
report it), so the composer's plan unfolds: the rawhide repository first,
then what is composed from it, then what is built from those. Only artifacts
whose manifest really changes are composed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from relengotron.adapters import bootstrap
from relengotron.adapters.artifacts.artifact_sync import sync_definitions
from relengotron.adapters.effects.effector import Effector
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.koji.koji_values import MOVED, WOULD_MOVE, Move, MoveResult
from relengotron.adapters.settings import Settings
from relengotron.domain.application import RelengApp
from relengotron.domain.composing import REQUESTED
from relengotron.projections.folds.graph import BuildChange, explain


class SimulatedKoji:
    """The demo's koji: every move succeeds (``relengotron act`` uses the real hub)."""

    def move(self, moves: Sequence[Move], *, dry_run: bool = False) -> list[MoveResult]:
        outcome = WOULD_MOVE if dry_run else MOVED
        return [
            MoveResult(m.action_id, m.nvr, outcome, f"{m.from_tag} -> {m.to_tag} (simulated)")
            for m in moves
        ]


def record_definitions(app: RelengApp, cfg: Settings) -> None:
    """What ``relengotron artifacts sync`` does, before the night starts."""
    composer = bootstrap.composer(app, cfg)
    report = sync_definitions(app, composer.read_view(), cfg.artifacts, bootstrap.kinds())
    print(f"== Artifacts: {len(report.defined)} definitions recorded from {cfg.artifacts}\n")


def run_artifacts(app: RelengApp, cfg: Settings) -> None:
    composer = bootstrap.composer(app, cfg)
    view = composer.read_view()
    print("== Artifacts (config/artifacts, recorded before the night)")
    for name in view.active():
        d = view.definitions[name]
        parents = ", ".join(p for p, _ in view.graph.nodes[name].parents) or "koji tags"
        size = len(view.graph.manifests.get(name, {}))
        print(f"  {name:<26} {d.kind:<10} from {parents}; {size} top-level packages")

    promoted = sorted(
        (a.params["nvr"], a.params.get("package") or "")
        for a in view.actions.values()
        if a.kind == "koji.move" and a.params.get("to_tag") == cfg.gating.promoted_tag
    )
    tag = cfg.gating.promoted_tag
    changes = [BuildChange(nvr, pkg, tag) for nvr, pkg in promoted]
    print(f"\n== Affected by the promoted batch ({len(changes)} builds), parents first")
    affected = view.graph.affected(changes)
    for i, a in enumerate(affected, 1):
        after = f"  (after {', '.join(a.waits_for)})" if a.waits_for else ""
        print(f"  {i}. {a.artifact}{after}")
        for line in explain(a.reasons)[:4]:
            print(f"       - {line}")
        if len(a.reasons) > 4:
            print(f"       - ... and {len(a.reasons) - 4} more")
    untouched = [n for n in view.active() if n not in {a.artifact for a in affected}]
    print(f"  not affected: {', '.join(untouched) or 'none'}")

    print("\n== Simulated koji: the promote moves are carried out")
    act = Effector(app, cfg.gating, koji=SimulatedKoji(), publisher=None).run()
    moved = [r for r in act.done if r["kind"] == "koji.move"]
    print(f"  {len(moved)} move(s) done; the composer now requests composes in order:")
    for round_ in range(1, 10):
        composer.run()
        view = composer.read_view()
        requested = [c for c in view.composes.values() if c.state == REQUESTED]
        if not requested:
            break
        for c in requested:
            waiting = [w.key for w in view.composes.values() if c.key in w.waits_for]
            then = f"; then {', '.join(waiting)}" if waiting else ""
            print(f"  step {round_}: compose {c.key} via {c.backend} "
                  f"({len(c.changes)} change(s)){then}")  # fmt: skip
        _finish(app, [c.key for c in requested])
    view = composer.read_view()
    print("\n== Artifacts after the night")
    for name in view.active():
        last = view.last_composed(name)
        if last is None:
            print(f"  {name:<26} unchanged: no package of its manifest changed")
        else:
            what = ", ".join(last.changes) or "its parent's new content"
            print(f"  {name:<26} composed by {last.key}: {what}")


def _finish(app: RelengApp, keys: list[str]) -> None:
    """Play the backends: each requested compose reports FINISHED."""
    now = datetime.now(UTC).isoformat()
    records = [
        {
            "topic": "relengotron.compose.status",
            "id": f"demo-compose-{key}",
            "headers": {"sent-at": now},
            "body": {"ref": f"demo:{key}", "status": "FINISHED", "compose": key},
        }
        for key in keys
    ]
    app.record([to_incoming(to_envelope(r), source="demo backends") for r in records])
