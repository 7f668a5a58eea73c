"""``!BatchIntegrityRule`` ``recheck: after-quarantine`` (issue 20, part 2): read from our
policy dialect, kept in the canonical form only when given (older policy sets keep
their hash, so stores recorded before replay identically), anything else refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.policies.spec import (
    RECHECK_AFTER_QUARANTINE,
    BatchIntegrityRule,
    PolicyError,
    PolicySet,
    policy_set_from_canonical,
)

TC = "fedora-ci.koji-build-group.integrity.functional"
POLICY = (
    "--- !Policy\nid: batch\nproduct_versions: [fedora-rawhide]\n"
    "decision_context: rawhide_pending\nsubject_type: koji_build\nrules:\n"
    "  - !BatchIntegrityRule {{test_case_name: {tc}{extra}}}\n"
)


def load(tmp_path: Path, extra: str = "") -> PolicySet:
    (tmp_path / "p.yaml").write_text(POLICY.format(tc=TC, extra=extra))
    return load_policy_set(tmp_path)


def test_recheck_is_read_and_kept(tmp_path: Path) -> None:
    plain = load(tmp_path)
    rechecked = load(tmp_path, ", recheck: after-quarantine")
    assert rechecked.policies[0].rules == (BatchIntegrityRule(TC, RECHECK_AFTER_QUARANTINE),)
    assert plain.policies[0].canonical()["rules"] == [
        {"rule": "BatchIntegrityRule", "test_case_name": TC}
    ]  # as before: the same hash as a set written before the key existed
    canonical = [p.canonical() for p in rechecked.policies]
    assert canonical[0]["rules"][0]["recheck"] == "after-quarantine"
    assert policy_set_from_canonical(canonical).content_hash == rechecked.content_hash
    assert rechecked.content_hash != plain.content_hash


def test_another_recheck_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="recheck must be 'after-quarantine'"):
        load(tmp_path, ", recheck: sometimes")
    rule = {"rule": "BatchIntegrityRule", "test_case_name": TC, "recheck": "no"}
    bad = [{"id": "b", "product_versions": ["x"], "decision_contexts": ["c"],
            "subject_type": "koji_build", "rules": [rule]}]  # fmt: skip
    with pytest.raises(PolicyError, match="recheck"):
        policy_set_from_canonical(bad)
