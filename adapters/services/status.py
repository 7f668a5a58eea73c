"""A build's gating status: state, tags, latest decision and koji moves, from the gating
view (``relengotron status``, ``waive``, ``override``, ``explain``, ``replay --until``
and the demo)."""

from __future__ import annotations

from typing import Any

from relengotron.domain import gating
from relengotron.domain.outbox import KOJI_MOVE
from relengotron.projections.folds.gating import GatingView


def build_status(view: GatingView, nvr: str, pending_tag: str) -> dict[str, Any] | None:
    gate = view.gates.get(nvr)
    build = view.builds.get(nvr)
    if gate is None and build is None:
        return None
    tags = set(build.tags) if build else set()
    if gate is not None and gate.location:
        tags -= {pending_tag, view.config.quarantine_tag}
        tags.add(gate.location)
    state: str | None = None
    if gate is not None:
        state = gating.gate_state(
            gate.verdict, withdrawn=bool(gate.withdrawn), promoted=gate.promoted
        )
    actions = [
        {
            "action": a.key,
            "kind": a.kind,
            "from_tag": a.params.get("from_tag"),
            "to_tag": a.params.get("to_tag"),
            "status": a.outcome or "pending",
            "detail": a.detail,
            "requested_at": a.requested_at,
        }
        for a in view.actions_for(nvr)
        if a.kind == KOJI_MOVE and a.params.get("nvr") == nvr
    ]
    return {
        "nvr": nvr,
        "state": state,
        "candidate": gate is not None,
        "owner": build.owner if build else None,
        "tags": sorted(tags),
        "withdrawn": (
            {"reason": gate.withdrawn, "detail": gate.withdrawn_detail}
            if gate is not None and gate.withdrawn
            else None
        ),
        "decided_at": gate.decided_at if gate else None,
        "decision_id": gate.decided_by if gate else None,
        "decision": gate.decision if gate else None,
        "actions": actions,
    }
