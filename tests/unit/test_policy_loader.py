"""The policy loader: the shipped policy, Greenwave's dialect, and errors that name the
file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from relengotron.adapters.rules.policy_loader import load_policy_set, load_policy_text
from relengotron.policies.engine import evaluate
from relengotron.policies.snapshot import ResultView, Snapshot
from relengotron.policies.spec import (
    BatchIntegrityRule,
    PassingPipelineStageRule,
    PassingTestCaseRule,
    Policy,
    PolicyError,
    PolicySet,
    RemoteRule,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED_DIR = REPO / "config" / "policies"

GOOD = """\
--- !Policy
id: one
product_versions: [fedora-*]
decision_context: rawhide_pending
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}
"""


def error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "p.yaml")
    return info.value


# ------------------------------------------------------------------ the shipped policy


def test_the_shipped_policy_loads() -> None:
    ps = load_policy_set(SHIPPED_DIR)
    assert {x.id for x in ps.policies} == {
        "rawhide_pending_gating",
        "fedora_ci_tier0_for_testing",
        "fedora_ci_tier0_for_stable",
        "openqa_release_critical_tasks_for_testing",
        "openqa_release_critical_tasks_for_stable",
    }
    p = ps.by_id("rawhide_pending_gating")
    assert p is not None
    # Only the rawhide policy applies to the rawhide_pending gating point.
    assert [x.id for x in ps.policies if "rawhide_pending" in x.decision_contexts] == [p.id]
    assert p == Policy(
        id="rawhide_pending_gating",
        product_versions=("fedora-rawhide",),
        decision_contexts=("rawhide_pending",),
        subject_type="koji_build",
        rules=(
            PassingPipelineStageRule(stage="package.test.functional", pipeline="allpackages-build"),
            PassingTestCaseRule(test_case_name="dist.rpmdeplint"),
            BatchIntegrityRule(test_case_name="fedora-ci.koji-build-group.integrity.functional"),
        ),
        source=p.source,
    )
    name, line = p.source.rsplit(":", 1)
    assert name == "rawhide-pending.yaml"
    lines = (SHIPPED_DIR / name).read_text().splitlines()
    assert lines[int(line) - 1].startswith("--- !Policy")


def test_the_shipped_policy_decides() -> None:
    ps = load_policy_set(SHIPPED_DIR)
    snapshot = Snapshot(
        subject_type="koji_build",
        subject_identifier="bash-5.2-1.fc42",
        package="bash",
        product_version="fedora-rawhide",
        decision_context="rawhide_pending",
        results=(
            ResultView("dist.rpmdeplint", "PASSED", "koji_build", "bash-5.2-1.fc42", "e/1", 1),
        ),
    )
    d = evaluate(ps, snapshot)
    assert d.applicable_policies == ("rawhide_pending_gating",)
    assert d.summary == "Of 3 required tests, 2 results missing"
    assert d.verdict == "hold"


# ------------------------------------------------------------------ the dialect


def test_greenwave_dialect() -> None:
    text = """\
# a comment
--- !Policy
id: "two"
product_versions:
  - fedora-rawhide
  - fedora-4*
decision_contexts: [a, b]
subject_type: koji_build
packages: [python-*]
excluded_packages:
  - python-skip
rules:
  - !PassingTestCaseRule
    test_case_name: dist.abicheck
    scenario: x86_64
  - !PassingTestCaseRule {test_case_name: t, scenario: null}
  - !PassingPipelineStageRule {stage: package.test.functional}
--- !Policy
id: three
product_versions: [fedora-rawhide]
decision_context: c
subject_type: compose
rules: []
"""
    two, three = load_policy_text(text, "g.yaml")
    text = text.replace("--- !Policy\nid: three", "---\n--- !Policy\nid: three")
    assert two == Policy(
        id="two",
        product_versions=("fedora-rawhide", "fedora-4*"),
        decision_contexts=("a", "b"),
        subject_type="koji_build",
        rules=(
            PassingTestCaseRule("dist.abicheck", "x86_64"),
            PassingTestCaseRule("t"),
            PassingPipelineStageRule("package.test.functional"),
        ),
        packages=("python-*",),
        excluded_packages=("python-skip",),
        source="g.yaml:2",
    )
    assert (three.id, three.rules, three.decision_contexts, three.source) == (
        "three",
        (),
        ("c",),
        "g.yaml:18",
    )
    # An empty document between them: Greenwave refuses the file (its loader reads every
    # document as a !Policy: greenwave/tests/test_policies.py
    # test_parse_policies_unexpected_type).
    with pytest.raises(PolicyError, match="Expected mapping for !Policy tagged object"):
        load_policy_text(text, "g.yaml")


def test_directory_files_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(GOOD.replace("id: one", "id: bee"))
    (tmp_path / "a.yaml").write_text("# nothing before\n\n" + GOOD)
    (tmp_path / ".hidden.yaml").write_text("not: a policy\n")
    (tmp_path / "README.txt").write_text("not yaml at all: [")
    ps = load_policy_set(str(tmp_path))
    assert [(p.id, p.source) for p in ps.policies] == [("one", "a.yaml:3"), ("bee", "b.yml:1")]


def test_content_hash_is_stable_across_reloads_and_formatting(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(GOOD)
    first = load_policy_set(tmp_path).content_hash
    assert load_policy_set(tmp_path).content_hash == first
    reformatted = """\
# The same policy, commented and laid out differently.

--- !Policy
subject_type: koji_build    # a trailing comment
id: 'one'
decision_context: rawhide_pending
product_versions:
    - "fedora-*"
rules:
    - !PassingTestCaseRule
      test_case_name: dist.rpmdeplint
"""
    (tmp_path / "p.yaml").write_text(reformatted)
    assert load_policy_set(tmp_path).content_hash == first
    assert load_policy_set(tmp_path).policies[0].source == "p.yaml:3"
    # Renaming the file changes sources only.
    (tmp_path / "p.yaml").rename(tmp_path / "q.yaml")
    assert load_policy_set(tmp_path).content_hash == first
    (tmp_path / "q.yaml").write_text(GOOD.replace("dist.rpmdeplint", "dist.abicheck"))
    assert load_policy_set(tmp_path).content_hash != first
    (tmp_path / "q.yaml").write_text(
        GOOD.replace(
            "{test_case_name: dist.rpmdeplint}", "{test_case_name: dist.rpmdeplint, scenario: s}"
        )
    )
    assert load_policy_set(tmp_path).content_hash != first


def test_shipped_hash_matches_a_fresh_parse() -> None:
    policies: list[Policy] = []
    for path in sorted(SHIPPED_DIR.glob("*.yaml")):
        policies += load_policy_text(path.read_text(), path.name)
    ps = PolicySet(tuple(policies))
    assert len(ps.policies) == 5
    assert ps.content_hash == load_policy_set(SHIPPED_DIR).content_hash
    assert ps == load_policy_set(SHIPPED_DIR)


# ------------------------------------------------------------------ errors


def test_error_format() -> None:
    err = error(GOOD.replace("id: one", "id: one\nbogus: 1"))
    assert (err.source, err.line) == ("p.yaml", 3)
    assert str(err) == f"p.yaml:3: {err.message}"
    assert isinstance(err, ValueError)
    assert str(PolicyError("m", "f.yaml")) == "f.yaml: m"
    assert str(PolicyError("m")) == "m"


def test_yaml_syntax_error() -> None:
    err = error(GOOD.replace("subject_type: koji_build", "subject_type: [koji_build"))
    assert err.line == 6
    assert err.message.startswith("YAML syntax error")
    err = error("--- !Policy\nid: a\n  b: c\n")
    assert (err.line, err.message.startswith("YAML syntax error")) == (3, True)


def test_unknown_policy_key() -> None:
    err = error(GOOD.replace("subject_type: koji_build", "subject_type: koji_build\nsubjekt: x"))
    assert err.line == 6
    assert "unknown key `subjekt` in !Policy" in err.message
    assert (
        "allowed keys: decision_context, decision_contexts, excluded_packages, id, "
        "packages, product_versions, relevance_key, relevance_value, rules, subject_type, "
        "subject_types (Greenwave would ignore it)"
    ) in err.message


@pytest.mark.parametrize("key", ["blacklist", "whitelist"])
def test_unsupported_greenwave_policy_keys(key: str) -> None:
    # Greenwave dropped `blacklist` in 2.2.0 (docs/release-notes.rst) and ignores it, as it
    # ignores `whitelist`: a policy relying on them gates more than its author meant.
    err = error(GOOD.replace("rules:", f"{key}: [x]\nrules:"))
    assert err.line == 6
    assert f"`{key}` in !Policy is not supported" in err.message


def test_unknown_rule_key() -> None:
    err = error(GOOD + "  - !PassingTestCaseRule\n    test_case_name: x\n    senario: y\n")
    assert err.line == 10
    assert (
        "unknown key `senario` in !PassingTestCaseRule; allowed keys: scenario, test_case_name"
        in err.message
    )


def test_remote_rule_as_greenwave() -> None:
    """greenwave/policies.py RemoteRule: sources (list) and required (bool), optional."""
    (policy,) = load_policy_text(GOOD + "  - !RemoteRule {}\n")
    assert policy.rules[-1] == RemoteRule()
    (policy,) = load_policy_text(GOOD + "  - !RemoteRule\n")
    assert policy.rules[-1] == RemoteRule()
    (policy,) = load_policy_text(GOOD + "  - !RemoteRule {required: true, sources: ['u/{rev}']}\n")
    assert policy.rules[-1] == RemoteRule(sources=("u/{rev}",), required=True)
    err = error(GOOD + "  - !RemoteRule {required: yes please}\n")
    assert (err.line, "`required` of !RemoteRule must be true or false" in err.message) == (8, True)
    err = error(GOOD + "  - !RemoteRule {sources: u}\n")
    assert "`sources` of !RemoteRule must be a list" in err.message
    err = error(GOOD + "  - !RemoteRule {source: [u]}\n")
    assert "unknown key `source` in !RemoteRule" in err.message


def test_obsolete_greenwave_rule() -> None:
    err = error(GOOD + "  - !PackageSpecificBuild {test_case_name: x, repos: [a]}\n")
    assert (err.line, err.message) == (
        8,
        # greenwave/policies.py ObsoleteRule, word for word
        '!PackageSpecificBuild is obsolete. Please use the "packages" allowlist instead.',
    )


def test_unknown_rule_tag() -> None:
    err = error(GOOD + "\n  - !FooRule {test_case_name: x}\n")
    assert err.line == 9
    assert err.message == (
        "unknown rule tag !FooRule; known rule tags: "
        "!BatchIntegrityRule, !PassingPipelineStageRule, !PassingTestCaseRule, !RemoteRule,"
        " !SignedRule"
        " [Greenwave: Policy 'one': Attribute 'rules': "
        "could not determine a constructor for the tag '!FooRule']"
    )


def test_untagged_and_malformed_rules() -> None:
    err = error(GOOD + "  - {test_case_name: x}\n")
    assert (err.line, err.message.startswith("a rule needs a tag")) == (8, True)
    # greenwave/tests/test_policies.py test_misconfigured_policy_rules
    assert err.message.endswith(
        "[Greenwave: Policy 'one': Attribute 'rules': Expected list of Rule objects]"
    )
    err = error(GOOD + "  - dist.abicheck\n")
    assert (err.line, err.message.startswith("a rule needs a tag")) == (8, True)
    err = error(GOOD + "  - !PassingTestCaseRule dist.abicheck\n")
    assert (err.line, err.message.startswith("!PassingTestCaseRule must be a mapping")) == (8, True)
    err = error(GOOD.replace("rules:\n  - !Pass", "rules: !Pass"))
    assert (err.line, err.message) == (
        6,
        "`rules` must be a list of rules, got a mapping [Greenwave: Policy 'one': "
        "Attribute 'rules': expected a sequence node, but found mapping]",
    )


def test_missing_required_keys() -> None:
    err = error("# x\n--- !Policy\nid: one\nproduct_versions: [a]\ndecision_context: c\n")
    assert err.line == 2
    assert err.message == (
        "!Policy is missing required key(s) `rules` "
        "[Greenwave: Policy 'one': Attribute 'rules' is required]"
    )
    # greenwave/tests/test_policies.py test_parse_policies_missing_id,
    # test_parse_policies_missing_product_versions
    err = error(GOOD.replace("id: one\n", ""))
    assert err.message.endswith("[Greenwave: Policy 'untitled': Attribute 'id' is required]")
    err = error(GOOD.replace("product_versions: [fedora-*]\n", ""))
    assert err.message.endswith(
        "[Greenwave: Policy 'one': Attribute 'product_versions' is required]"
    )
    err = error(GOOD + "  - !BatchIntegrityRule {}\n")
    assert (err.line, err.message) == (
        8,
        "!BatchIntegrityRule is missing required key(s) `test_case_name`",
    )
    err = error(GOOD + "  - !PassingPipelineStageRule\n    pipeline: p\n")
    assert (err.line, err.message) == (
        8,
        "!PassingPipelineStageRule is missing required key(s) `stage`",
    )


def test_decision_context_one_or_the_other() -> None:
    err = error(GOOD.replace("subject_type:", "decision_contexts: [x]\nsubject_type:"))
    assert err.line == 5
    # greenwave/tests/test_policies.py test_parse_policies_both_decision_contexts_set,
    # test_parse_policies_missing_decision_context
    assert "not both" in err.message
    assert err.message.endswith(
        """[Greenwave: Policy 'one': Both properties "decision_contexts" and "decision_context" """
        "were set]"
    )
    err = error(GOOD.replace("decision_context: rawhide_pending\n", ""))
    assert (err.line, err.message) == (
        1,
        "!Policy needs `decision_context` or a non-empty `decision_contexts` "
        "[Greenwave: Policy 'one': No decision contexts provided]",
    )


def test_subject_type_one_or_the_other() -> None:
    # greenwave/tests/test_policies.py test_parse_policies_both_subject_types_set,
    # test_parse_policies_missing_subject_type
    err = error(GOOD.replace("subject_type:", "subject_types: [x]\nsubject_type:"))
    assert err.line == 6
    assert err.message.endswith(
        """[Greenwave: Policy 'one': Both properties "subject_types" and "subject_type" were set]"""
    )
    err = error(GOOD.replace("subject_type: koji_build\n", ""))
    assert (err.line, err.message) == (
        1,
        "!Policy needs `subject_type` or a non-empty `subject_types` "
        "[Greenwave: Policy 'one': No subject types provided]",
    )
    err = error(GOOD.replace("subject_type: koji_build", "subject_types: []"))
    assert (err.line, err.message.endswith("No subject types provided]")) == (5, True)


GW = "[Greenwave: Policy 'one': Attribute "


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("product_versions: [fedora-*]", "product_versions: fedora-*", 3,
         "`product_versions` must be a list of strings, got a string "
         "(write `product_versions: [fedora-*]`) "
         f"{GW}'product_versions': expected a sequence node, but found scalar]"),
        ("product_versions: [fedora-*]", "product_versions: [fedora-*, [x]]", 3,
         f"`product_versions` items must be strings, got a list "
         f"{GW}'product_versions': Expected list of str objects]"),
        ("product_versions: [fedora-*]", "product_versions: [fedora-*, 38]", 3,
         f"`product_versions` items must be strings, got an integer (quote it) "
         f"{GW}'product_versions': Expected list of str objects]"),
        ("id: one", "id: [one]", 2,
         "`id` must be a string, got a list [Greenwave: Policy 'untitled': Attribute 'id': "
         "expected a scalar node, but found sequence]"),
        ("id: one", "id: ''", 2, "`id` must not be empty"),
        ("decision_context: rawhide_pending", "decision_context: [rawhide_pending]", 4,
         f"`decision_context` must be a string, got a list "
         f"{GW}'decision_context': expected a scalar node, but found sequence]"),
        ("decision_context: rawhide_pending", "decision_contexts: rawhide_pending", 4,
         "`decision_contexts` must be a list of strings, got a string "
         "(write `decision_contexts: [rawhide_pending]`) "
         f"{GW}'decision_contexts': expected a sequence node, but found scalar]"),
        ("subject_type: koji_build", "subject_type:\n  type: koji_build", 6,
         f"`subject_type` must be a string, got a mapping "
         f"{GW}'subject_type': expected a scalar node, but found mapping]"),
        ("{test_case_name: dist.rpmdeplint}", "{test_case_name: [dist.rpmdeplint]}", 7,
         f"`test_case_name` must be a string, got a list {GW}'rules': YAML object "
         "!PassingTestCaseRule: Attribute 'test_case_name': expected a scalar node, "
         "but found sequence]"),
        ("rules:", "packages: python\nrules:", 6,
         "`packages` must be a list of strings, got a string (write `packages: [python]`) "
         f"{GW}'packages': expected a sequence node, but found scalar]"),
    ],
)  # fmt: skip
def test_wrong_types(old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    err = error(GOOD.replace(old, new))
    assert (err.line, err.message) == (line, message)


def test_duplicate_key() -> None:
    err = error(GOOD.replace("subject_type: koji_build", "subject_type: koji_build\nid: two"))
    assert (err.line, err.message) == (6, "duplicate key `id` in !Policy (first on line 2)")


def test_document_that_is_not_a_mapping() -> None:
    # greenwave/tests/test_policies.py test_parse_policies_unexpected_type
    err = error("--- !Policy [a, b]\n")
    assert (err.line, err.message) == (
        1,
        "a policy document must be a mapping, got a list "
        "[Greenwave: Expected mapping for !Policy tagged object]",
    )
    err = error("--- !Policy\n42\n")
    assert (err.line, err.message.startswith("a policy document must be a mapping")) == (1, True)


def test_duplicate_ids_in_one_text() -> None:
    err = error(GOOD + GOOD)
    assert (err.line, err.message) == (8, "duplicate policy id `one` (first defined at p.yaml:1)")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("# b\n\n" + GOOD)
    with pytest.raises(PolicyError) as info:
        load_policy_set(tmp_path)
    err = info.value
    assert (err.source, err.line) == (str(tmp_path / "b.yaml"), 3)
    assert err.message == "duplicate policy id `one` (first defined at a.yaml:1)"


def test_errors_in_a_directory_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("id: one", "id: two") + "  - !FooRule {}\n")
    with pytest.raises(PolicyError) as info:
        load_policy_set(tmp_path)
    assert (info.value.source, info.value.line) == (str(tmp_path / "b.yaml"), 8)
    assert str(info.value).startswith(f"{tmp_path / 'b.yaml'}:8: unknown rule tag !FooRule")


def test_missing_and_empty_directories(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_set(tmp_path / "nope")
    assert (info.value.source, info.value.line) == (str(tmp_path / "nope"), None)
    assert info.value.message == "the policy directory does not exist"
    with pytest.raises(PolicyError, match="no policy files"):
        load_policy_set(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(PolicyError, match="no policy files"):
        load_policy_set(tmp_path)
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    with pytest.raises(PolicyError, match="hold no `--- !Policy` documents"):
        load_policy_set(tmp_path)
    with pytest.raises(PolicyError, match="not a directory"):
        load_policy_set(tmp_path / "notes.txt")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"--- !Policy\nid: \xff\xfe\n")
    with pytest.raises(PolicyError) as info:
        load_policy_set(tmp_path)
    assert info.value.source == str(tmp_path / "bad.yaml")
    assert "cannot read" in info.value.message
