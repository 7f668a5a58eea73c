"""A build's gating status: state, tags, latest decision and koji moves, from the gating
view (``relengotron status``, ``waive``, ``override``, ``explain``, ``replay --until``
and the demo)."""

from __future__ import annotations

from typing import Any

from relengotron.domain import gating
from relengotron.domain.outbox import KOJI_MOVE, SIGN_REQUEST
from relengotron.policies.signing import unsigned_rpms
from relengotron.projections.folds.gating import GatingView
from relengotron.projections.folds.gating_signing import signing_views
from relengotron.projections.folds.gating_state import RerunState


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
            **({"sigkey": a.params.get("sigkey")} if a.kind == SIGN_REQUEST else {}),
            "status": a.outcome or "pending",
            "detail": a.detail,
            "requested_at": a.requested_at,
        }
        for a in view.actions_for(nvr)
        if a.kind in (KOJI_MOVE, SIGN_REQUEST) and a.params.get("nvr") == nvr
    ]
    out = {
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
    if build is not None and build.reruns:  # only for builds with reruns (as before)
        out["reruns"] = [_rerun(r) for r in build.reruns]
        out["flaky"] = view.reruns.flaky_counts(sorted({r.testcase for r in build.reruns}))
    rechecks = _rechecks(view, nvr)
    if rechecks:  # only for builds of a bisection that re-checked (as before otherwise)
        out["rechecks"] = rechecks
    found = _hints(gate.decision if gate else None, nvr)
    if found:  # what to do about unsatisfied requirements: rerun first, then waive
        out["hints"] = found
    signing = _signing(view, nvr, gate.decision if gate else None)
    if signing:  # only for builds a signing rule gates (older outputs stay as they were)
        out["signing"] = signing
    return out


def _signing(view: GatingView, nvr: str, decision: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Where signing stands now for each key the decision asks for (the recorded
    requirement's detail is as of the decision; signatures arrive one by one)."""
    reqs = [
        *(decision or {}).get("satisfied_requirements", ()),
        *(decision or {}).get("unsatisfied_requirements", ()),
    ]
    keys = tuple(
        str(r["testcase"]).removeprefix("signed-with:")
        for r in reqs
        if str(r.get("testcase") or "").startswith("signed-with:")
    )
    return [
        {
            "sigkey": v.sigkey,
            "request": v.state,
            "rpms": list(v.rpms) if v.rpms is not None else None,
            "unsigned": list(u) if (u := unsigned_rpms(v)) is not None else None,
        }
        for v in signing_views(view, nvr, keys)
    ]


def _rerun(r: RerunState) -> dict[str, Any]:
    state = "requested" if r.answered_by is None else ("flaky" if r.flaky else "answered")
    return {
        "testcase": r.testcase,
        "scenario": r.scenario,
        "state": state,
        "requested_at": r.at,
        "deadline": r.deadline,
        "username": r.username,
        "reason": r.reason,
        "answered_by": r.answered_by,
        "outcome": r.outcome,
    }


def hints(req: dict[str, Any], nvr: str) -> list[str]:
    """What a person can do about an unsatisfied requirement, the gentlest first: run a
    failed or errored test again, then waive it; a missing one (nothing ran) can only be
    waived, by the test case shown (for a pipeline stage no result named,
    ``pipeline-stage:<pipeline>:<stage>``: the name its waiver takes)."""
    tc = req.get("testcase")
    kind = req.get("type")
    if not tc or kind not in ("test-result-failed", "test-result-errored", "test-result-missing"):
        return []
    scenario = f" --scenario {req['scenario']}" if req.get("scenario") else ""
    out = []
    if kind != "test-result-missing" and not req.get("rerun_deadline"):
        out.append(f"relengotron rerun {nvr} {tc}{scenario} --reason TEXT")
    out.append(f"relengotron waive {nvr} {tc}{scenario} --reason TEXT")
    return out


def _hints(decision: dict[str, Any] | None, nvr: str) -> list[dict[str, Any]]:
    out = []
    for r in (decision or {}).get("unsatisfied_requirements", ()):
        found = hints(r, nvr)
        if found:
            out.append({"testcase": r.get("testcase"), "scenario": r.get("scenario"), "do": found})
    return out


def _rechecks(view: GatingView, nvr: str) -> list[dict[str, Any]]:
    """The re-checks after quarantine of the bisections the build was part of, each with
    its builds, the suspects that had left before it and its latest outcome."""
    out = []
    for state in view.bisections_in_order():
        if not state.rechecks or nvr not in state.members.get(state.root, ()):
            continue
        for group in state.rechecks:
            checks = view.checks.get(group)
            out.append(
                {
                    "group": group,
                    "root": state.root,
                    "builds": list(state.members.get(group, ())),
                    "outcome": checks[-1].outcome if checks else "requested",
                    "fallback": state.fallback_reason.get(group),
                }
            )
    return out


def waiver_warnings(view: GatingView, nvr: str, testcase: str) -> list[str]:
    """Why a waiver of ``testcase`` for ``nvr`` may not be what was meant: nothing is
    recorded about the build, or the test case is neither required of it (its latest
    decision) nor among its results. The waiver is recorded all the same (it may come
    before the build or its results, as in WaiverDB)."""
    if nvr not in view.builds and nvr not in view.gates:
        return [f"nothing is recorded about {nvr}; the waiver waits for it"]
    gate = view.gates.get(nvr)
    decision = (gate.decision if gate is not None else None) or {}
    known = {
        r.get("testcase")
        for key in ("satisfied_requirements", "unsatisfied_requirements")
        for r in decision.get(key, [])
    }
    known |= {r.testcase for r in view.snapshot(nvr).results}
    if testcase in known:
        return []
    names = ", ".join(sorted(str(k) for k in known if k)) or "none"
    return [f"{testcase} is neither required of {nvr} nor among its results (known: {names})"]
