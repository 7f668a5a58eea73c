"""The policy log and overrides, without a store: canonical policies read back, and
our two input topics translated (or refused with a reason)."""

from __future__ import annotations

from typing import Any

import pytest

from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.rules.policy_loader import load_policy_set, load_policy_text
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.translate import translate
from relengotron.domain.facts import GateOverridden, PolicySetActivated
from relengotron.policies.spec import PolicyError, PolicySet, policy_set_from_canonical

MIXED = """
--- !Policy
id: one
product_versions: [fedora-*]
decision_contexts: [a, b]
subject_type: koji_build
packages: ["vim*"]
excluded_packages: [vim-minimal]
rules:
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint, scenario: x86_64}
  - !PassingPipelineStageRule {stage: package.test.functional, pipeline: allpackages-build}
  - !BatchIntegrityRule {test_case_name: fedora-ci.koji-build-group.integrity.functional}
--- !Policy
id: two
product_versions: [fedora-rawhide]
decision_context: rawhide_pending
subject_type: koji_build
rules: []
"""


def _canonical(ps: PolicySet) -> list[dict[str, Any]]:
    return [p.canonical() for p in ps.policies]


@pytest.mark.parametrize("which", ["shipped", "mixed"])
def test_canonical_policies_read_back_to_the_same_hash(which: str) -> None:
    ps = (
        load_policy_set(DEFAULT_POLICIES)
        if which == "shipped"
        else PolicySet(load_policy_text(MIXED, "m.yaml"))
    )
    again = policy_set_from_canonical(_canonical(ps))
    assert again.content_hash == ps.content_hash
    assert _canonical(again) == _canonical(ps)


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [1],
        [{"id": "x"}],
        [
            {
                "id": "x",
                "product_versions": ["f"],
                "decision_contexts": ["c"],
                "subject_type": "koji_build",
                "rules": [{"rule": "RemoteRule", "required": "yes"}],
            }
        ],
    ],
)
def test_malformed_canonical_policies_are_refused(bad: Any) -> None:
    with pytest.raises(PolicyError):
        policy_set_from_canonical(bad)


def test_a_rule_with_a_wrong_key_is_refused() -> None:
    (policy,) = load_policy_text(MIXED, "m.yaml")[:1]
    data = policy.canonical()
    data["rules"][0]["test_case_nam"] = data["rules"][0].pop("test_case_name")
    with pytest.raises(PolicyError, match="PassingTestCaseRule"):
        policy_set_from_canonical([data])


def _activation(body: dict[str, Any]) -> Any:
    return translate(
        to_envelope({"topic": "relengotron.policy.activated", "body": body, "id": "p-1"})
    )


def test_an_activation_becomes_a_fact_with_the_canonical_policies() -> None:
    ps = PolicySet(load_policy_text(MIXED, "m.yaml"))
    t = _activation(
        {
            "policy_set_hash": ps.content_hash,
            "policies": _canonical(ps),
            "source": "/etc/policies",
            "username": "releng",
        }
    )
    (fact,) = t.facts
    assert isinstance(fact, PolicySetActivated)
    assert fact.policy_set_hash == ps.content_hash
    assert list(fact.policies) == _canonical(ps)
    assert (fact.source, fact.username) == ("/etc/policies", "releng")


def test_an_activation_whose_hash_does_not_match_is_refused() -> None:
    ps = PolicySet(load_policy_text(MIXED, "m.yaml"))
    t = _activation({"policy_set_hash": "sha256:" + "0" * 64, "policies": _canonical(ps)})
    assert t.facts == ()
    assert "hash to" in t.problems[0]
    t = _activation({"policy_set_hash": ps.content_hash, "policies": [{"id": 1}]})
    assert t.facts == () and t.problems


def test_an_override_becomes_a_fact() -> None:
    body = {"nvr": "vim-1-1", "action": "promote", "reason": "ok", "username": "u"}
    t = translate(to_envelope({"topic": "relengotron.gate.override", "body": body}))
    assert t.facts == (GateOverridden("vim-1-1", "promote", "ok", "u", None),)
    body = {"nvr": "vim-1-1", "action": "bless", "reason": "ok", "context": "c"}
    t = translate(to_envelope({"topic": "relengotron.gate.override", "body": body}))
    assert t.facts == () and "'action'" in t.problems[0]
