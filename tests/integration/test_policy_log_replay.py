"""Policy activations and manual overrides are inputs like any other: decisions stay
a pure function of the message sequence (batching and resumption do not matter), and
``replay --verify`` re-derives them from the raw log alone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relengotron.adapters.audit.audit_verify import compare
from relengotron.adapters.audit.audit_verify import derived as verify_derived
from relengotron.adapters.rules.policy_loader import load_policy_text
from relengotron.policies.spec import PolicySet
from tests.integration.test_decision_replay import NVRS, POLICIES, derived, messages, operation, run

LENIENT = PolicySet(
    load_policy_text(
        "--- !Policy\nid: lenient\nproduct_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\n"
        "rules:\n  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}\n",
        "lenient.yaml",
    )
)
SETS = {"strict": POLICIES, "lenient": LENIENT}

extra = st.one_of(
    st.tuples(st.just("policy"), st.sampled_from(sorted(SETS))),
    st.tuples(
        st.just("override"), st.sampled_from(NVRS), st.sampled_from(["promote", "hold", "release"])
    ),
)


def with_control(ops: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The base scenario's messages, with activations and overrides spliced in."""
    out: list[dict[str, Any]] = []
    for n, op in enumerate(ops, 1):
        if op[0] == "policy":
            ps = SETS[op[1]]
            body = {
                "policy_set_hash": ps.content_hash,
                "policies": [p.canonical() for p in ps.policies],
                "source": op[1],
            }
            out.append(_msg("relengotron.policy.activated", body, n))
        elif op[0] == "override":
            body = {"nvr": op[1], "action": op[2], "reason": "test", "username": "u"}
            out.append(_msg("relengotron.gate.override", body, n))
        else:
            out += messages([op])
    return _renumber(out)


def _msg(topic: str, body: dict[str, Any], n: int) -> dict[str, Any]:
    return {"topic": topic, "body": body, "headers": {}, "id": f"control-{n}"}


def _renumber(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique ids and increasing send times across the spliced sequence."""
    out = []
    for i, m in enumerate(msgs):
        m = {
            **m,
            "id": f"m-{i:04d}",
            "headers": {"sent-at": f"2026-11-20T09:{i // 60:02d}:{i % 60:02d}+00:00"},
        }
        out.append(m)
    return out


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(st.one_of(operation, extra), min_size=1, max_size=14),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=4),
)
def test_activations_and_overrides_keep_decisions_pure(
    ops: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    msgs = with_control(ops)
    with tempfile.TemporaryDirectory() as tmp:
        one = run(Path(tmp) / "a.db", msgs, [])
        batched = run(Path(tmp) / "b.db", msgs, cuts, snapshots=True)
        assert derived(batched) == derived(one)
        assert compare(verify_derived(one), verify_derived(batched)) == []
