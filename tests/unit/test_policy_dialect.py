"""The rest of Greenwave's policy dialect, with Greenwave's behaviour (issue 16, item 4).

Sources (release-engineering/greenwave at 8bde5e81): ``greenwave/policies.py`` (``Policy``,
``PassingTestCaseRule.check``), ``greenwave/safe_yaml.py`` (``SafeYAMLObjectMetaclass``: every
document is read as a ``!Policy``; ``SafeYAMLString``/``SafeYAMLList``/``SafeYAMLDateTime``),
``greenwave/subjects/subject_type.py`` and ``conf/subject_types``; the tests named below are
in ``greenwave/tests/test_policies.py`` and ``greenwave/tests/test_rules.py``. Fedora's policy:
fedora-infra/ansible ``roles/openshift-apps/greenwave/templates/fedora.yaml.j2``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relengotron.adapters.rules.policy_loader import load_policy_set, load_policy_text
from relengotron.adapters.rules.subject_types import (
    SUBJECT_TYPES_DIR,
    alias_table,
    load_subject_types,
)
from relengotron.domain.facts import SUBJECT_TYPE_ALIASES
from relengotron.policies.engine import evaluate
from relengotron.policies.spec import (
    PassingTestCaseRule,
    PolicyError,
    PolicySet,
    RemoteRule,
    policy_set_from_canonical,
)
from relengotron.projections.decision_api import IGNORE_MISSING_POLICY, policy_json
from tests.unit.test_policy_engine import result, snap

REPO = Path(__file__).resolve().parents[2]
FEDORA = REPO / "tests" / "fixtures" / "fedora-greenwave" / "fedora.yaml"

BASE = """\
id: a
product_versions: [fedora-*]
decision_context: ctx
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: t1}
"""


def one(text: str, **kw: bool):
    (policy,) = load_policy_text(text, "p.yaml", **kw)
    return policy


def decide(policy_text: str, **kw: object):
    ps = PolicySet((one(policy_text),))
    fields: dict[str, object] = {
        "product_version": "fedora-42",
        "decision_context": "ctx",
        "results": (),
    }
    fields.update(kw)
    return evaluate(ps, snap(**fields))


# ------------------------------------------------------------------ documents


@pytest.mark.parametrize("head", ["", "---\n", "--- !Policy\n", "--- !SomethingElse\n"])
def test_every_document_is_a_policy_tagged_or_not(head: str) -> None:
    # SafeYAMLObjectMetaclass.Loader.get_node gives every root node the !Policy tag.
    assert one(head + BASE).canonical() == one("--- !Policy\n" + BASE).canonical()


def test_empty_and_non_mapping_documents_are_refused_as_greenwave_does() -> None:
    # test_parse_policies_unexpected_type; a trailing `---` is an empty document.
    for text in ("--- !Policy\n" + BASE + "---\n", "--- !Policy\n42\n", "- a\n"):
        with pytest.raises(PolicyError, match="Expected mapping for !Policy tagged object"):
            load_policy_text(text, "p.yaml")
    assert load_policy_text("# only a comment\n", "p.yaml") == ()  # Greenwave: []


def test_any_scalar_is_read_as_its_text() -> None:
    # SafeYAMLString: construct_scalar, the raw text (`id: 010` is "010", not 8).
    p = one(BASE.replace("id: a", "id: 010").replace("{test_case_name: t1}", "{test_case_name: 1}"))
    assert (p.id, p.rules) == ("010", (PassingTestCaseRule("1"),))
    p = one(BASE.replace("{test_case_name: t1}", "{test_case_name: t, scenario: yes}"))
    assert p.rules == (PassingTestCaseRule("t", "yes"),)


def test_an_empty_product_versions_list_loads_and_matches_nothing() -> None:
    # SafeYAMLList accepts []; Policy.matches_product_version is then always False.
    text = BASE.replace("[fedora-*]", "[]")
    assert one(text).product_versions == ()
    d = decide(text)
    assert (d.applicable_policies, d.summary.startswith("Found no applicable policies")) == (
        (),
        True,
    )


# ------------------------------------------------------------------ subject types


def test_subject_types_list() -> None:
    # test_multiple_subject_types: one policy for koji_build and bodhi_update subjects.
    text = BASE.replace("subject_type: koji_build", "subject_types: [koji_build, bodhi_update]")
    p = one(text)
    assert (p.subject_type, p.subject_types, p.all_subject_types) == (
        "koji_build",
        ("koji_build", "bodhi_update"),
        ("koji_build", "bodhi_update"),
    )
    for subject_type in ("koji_build", "bodhi_update"):
        d = decide(text, subject_type=subject_type)
        assert d.applicable_policies == ("a",)
        assert d.summary == "Of 1 required test, 1 result missing"
    assert decide(text, subject_type="compose").applicable_policies == ()
    # /api/v1.0/policies: Greenwave's to_json has subject_types (test_policies_to_json).
    assert (policy_json(p)["subject_type"], policy_json(p)["subject_types"]) == (
        "koji_build",
        ["koji_build", "bodhi_update"],
    )
    assert policy_json(one(BASE))["subject_types"] == []
    # The list is part of what the policy means: in the hash, and read back from it.
    ps = PolicySet((p,))
    assert ps.content_hash != PolicySet((one(BASE),)).content_hash
    canonical = [x.canonical() for x in ps.policies]
    assert policy_set_from_canonical(canonical).content_hash == ps.content_hash


def test_a_subject_type_alias_matches_its_type() -> None:
    # SubjectType.matches (conf/subject_types/koji_build.yaml: aliases [brew-build]); a
    # policy written for brew-build applies to koji_build subjects and the other way round.
    text = BASE.replace("subject_type: koji_build", "subject_type: brew-build")
    d = decide(text, results=(result("PASSED", 1, testcase="t1"),))
    assert (d.applicable_policies, d.policies_satisfied) == (("a",), True)


def test_an_unknown_subject_type_is_its_own_type() -> None:
    # test_policy_with_arbitrary_subject_type (GenericSubjectType).
    text = BASE.replace("subject_type: koji_build", "subject_type: kind-of-magic")
    assert decide(text, subject_type="kind-of-magic").applicable_policies == ("a",)
    assert decide(text).applicable_policies == ()


def test_shipped_subject_types_are_greenwaves_and_the_code_tables_agree() -> None:
    types = {t.id: t for t in load_subject_types(SUBJECT_TYPES_DIR)}
    assert sorted(types) == [
        "bodhi_update",
        "compose",
        "koji_build",
        "redhat-container-image",
        "redhat-module",
    ]
    assert types["koji_build"].aliases == ("brew-build",)
    assert types["compose"].item_key == "productmd.compose.id"
    assert types["redhat-module"].product_version == "rhel-8"
    assert alias_table(tuple(types.values())) == SUBJECT_TYPE_ALIASES
    assert {t.id for t in types.values() if t.ignore_missing_policy} == IGNORE_MISSING_POLICY


# ------------------------------------------------------------------ valid_since/valid_until

CREATED = "2021-10-06 06:00:00.000000+00:00"  # test_passing_test_case_rule_valid_times


@pytest.mark.parametrize(
    ("properties", "is_valid"),
    [
        ("valid_since: 2021-10-06", True),
        ("valid_since: 2021-10-07", False),
        ("valid_until: 2021-10-07", True),
        ("valid_until: 2021-10-06", False),
        ("valid_since: 2021-10-06, valid_until: 2021-10-07", True),
        ("valid_since: 2021-10-07, valid_until: 2021-10-08", False),
        ("valid_since: 2021-10-05, valid_until: 2021-10-06", False),
    ],
)
def test_dated_rules(properties: str, is_valid: bool) -> None:
    # greenwave/tests/test_rules.py test_passing_test_case_rule_valid_times: the build was
    # created on 2021-10-06 06:00 UTC; no results; a rule in force answers "missing", a rule
    # out of its range answers nothing.
    text = BASE.replace("{test_case_name: t1}", f"{{test_case_name: t1, {properties}}}")
    d = decide(text, subject_time=CREATED)
    assert [r.type for r in d.unsatisfied_requirements] == (
        ["test-result-missing"] if is_valid else []
    )
    assert d.summary == (
        "Of 1 required test, 1 result missing" if is_valid else "No tests are required"
    )


def test_dated_rules_count_when_the_subject_time_is_unknown() -> None:
    text = BASE.replace("{test_case_name: t1}", "{test_case_name: t1, valid_until: 2000-01-01}")
    assert decide(text, subject_time=CREATED).unsatisfied_requirements == ()
    (req,) = decide(text).unsatisfied_requirements  # fail closed
    assert req.type == "test-result-missing"


def test_dates_are_read_as_greenwave_reads_them() -> None:
    # SafeYAMLDateTime: dateutil; no zone is UTC. Kept in UTC, ISO 8601.
    text = BASE.replace(
        "{test_case_name: t1}",
        "{test_case_name: t1, valid_since: 2021-10-02, valid_until: '2021-10-03T10:00:00+02:00'}",
    )
    (rule,) = one(text).rules
    assert (rule.valid_since, rule.valid_until) == (
        "2021-10-02T00:00:00+00:00",
        "2021-10-03T08:00:00+00:00",
    )
    assert one(text).canonical()["rules"][0]["valid_until"] == "2021-10-03T08:00:00+00:00"
    # The policy log stores the canonical form: a dated rule reads back the same.
    ps = PolicySet((one(text),))
    again = policy_set_from_canonical([p.canonical() for p in ps.policies])
    assert (again.policies[0].rules, again.content_hash) == (ps.policies[0].rules, ps.content_hash)


@pytest.mark.parametrize("value", ["False", '""', "x"])
def test_a_bad_date_is_refused_with_greenwaves_reason(value: str) -> None:
    # greenwave/tests/test_rules.py test_remote_rule_valid_date_bad
    text = BASE.replace("{test_case_name: t1}", f"{{test_case_name: t1, valid_since: {value}}}")
    shown = value.strip('"')
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "p.yaml")
    assert info.value.line == 6
    assert info.value.message.endswith(
        "[Greenwave: Policy 'a': Attribute 'rules': YAML object !PassingTestCaseRule: "
        f"Attribute 'valid_since': Could not parse string as date/time, got: {shown}]"
    )


# ------------------------------------------------------------------ other keys


def test_relevance_keys_are_read_and_change_nothing() -> None:
    # docs/release-notes.rst, Greenwave 0.8: "relevance_key and relevance_value are no
    # longer used"; Policy still reads them as strings.
    text = BASE + "relevance_key: original_spec_nvr\nrelevance_value: koji_build\n"
    assert one(text) == one(BASE)
    with pytest.raises(PolicyError, match="expected a scalar node, but found sequence"):
        load_policy_text(BASE + "relevance_key: [x]\n", "p.yaml")


def test_unknown_keys_refused_here_ignored_when_asked() -> None:
    text = BASE + "excluded_package: [kernel]\n"  # a typo Greenwave would ignore
    with pytest.raises(PolicyError, match="unknown key `excluded_package`"):
        load_policy_text(text, "p.yaml")
    assert one(text, ignore_unknown_keys=True) == one(BASE)
    rule_typo = BASE.replace("{test_case_name: t1}", "{test_case_name: t1, senario: x}")
    assert one(rule_typo, ignore_unknown_keys=True) == one(BASE)


def test_packages_and_excluded_packages_globs() -> None:
    # test_policy_with_packages_allowlist; Policy.check: excluded first, then packages.
    text = BASE + "packages: [python-*]\nexcluded_packages: [python-requests*]\n"
    d = decide(text)  # snap's package is python-requests
    assert [r.type for r in d.satisfied_requirements] == ["excluded"]
    d = decide(text, package="python-six")
    assert [r.type for r in d.unsatisfied_requirements] == ["test-result-missing"]
    assert decide(text, package="bash").applicable_policies == ()


# ------------------------------------------------------------------ Fedora's production policy


def fedora_text() -> str:
    return FEDORA.read_text(encoding="utf-8")


def test_fedoras_policy_loads_with_its_remote_rule() -> None:
    text = fedora_text()
    policies = load_policy_text(text, "fedora.yaml")  # unchanged: its `!RemoteRule {}` too
    assert len(policies) == 17
    by_id = {p.id: p for p in policies}
    assert by_id["kojibuild_bodhipush_remoterule"].rules == (RemoteRule(),)
    without = text.replace("rules:\n  - !RemoteRule {}\n", "rules: []\n")
    policies = load_policy_text(without, "fedora.yaml")
    assert len(policies) == 17
    by_id = {p.id: p for p in policies}
    assert by_id["kojibuild_bodhipush_remoterule"].rules == ()
    assert by_id["compose_sync_requiredtests"].decision_contexts == (
        "rawhide_compose_sync_to_mirrors",
    )
    assert {p.subject_type for p in policies} == {"koji_build", "bodhi_update", "compose"}


@pytest.fixture(scope="module")
def fedora() -> PolicySet:
    text = fedora_text().replace("rules:\n  - !RemoteRule {}\n", "rules: []\n")
    return PolicySet(load_policy_text(text, "fedora.yaml"))


def fedora_decision(ps: PolicySet, subject_type: str, context: str, version: str = "fedora-42"):
    return evaluate(
        ps,
        snap(
            subject_type=subject_type,
            subject_identifier="FEDORA-2025-1" if subject_type == "bodhi_update" else "x-1-1.fc42",
            package=None if subject_type == "bodhi_update" else "x",
            product_version=version,
            decision_context=context,
        ),
    )


def test_fedoras_policy_decides_as_greenwave(fedora: PolicySet) -> None:
    # Expected from Greenwave's Policy.matches (context, fnmatch on product versions, subject
    # type) and _Summary.to_text, reading the rendered file: a build in a plain testing push
    # meets the "null" policy only; a critpath update needs every openQA test of the
    # policies naming that context.
    d = fedora_decision(fedora, "koji_build", "bodhi_update_push_testing")
    assert d.applicable_policies == (
        "kojibuild_bodhipush_no_requirements",
        "kojibuild_bodhipush_remoterule",
    )
    assert (d.policies_satisfied, d.summary) == (True, "No tests are required")
    apps = "bodhi_update_push_stable_critical-path-apps_critpath"
    d = fedora_decision(fedora, "bodhi_update", apps)
    assert d.applicable_policies == (
        "bodhiupdate_bodhipush_no_requirements",
        "bodhiupdate_bodhipush_openqa_apps",
    )
    assert d.summary == "Of 6 required tests, 6 results missing"
    # fedora-40 is in none of the rendered product version lists but fedora-*.
    d = fedora_decision(fedora, "bodhi_update", "bodhi_update_push_stable_critpath", "fedora-40")
    assert (d.applicable_policies, d.summary) == (
        ("bodhiupdate_bodhipush_no_requirements",),
        "No tests are required",
    )
    d = fedora_decision(fedora, "compose", "rawhide_compose_sync_to_mirrors", "fedora-rawhide")
    assert d.applicable_policies == ("compose_sync_requiredtests",)
    assert not d.policies_satisfied


def test_the_shipped_policy_keeps_its_hash() -> None:
    # Stored decisions name the policy set by hash: reading more of the dialect must not
    # change the hash of a policy set that uses none of it (the hash computed by the code
    # before this change, at commit 5c27a89).
    ps = load_policy_set(REPO / "config" / "policies")
    assert ps.content_hash == (
        "sha256:28d39974d349e82d37781f98d3f56ea0239ed0cea1ab421f433a37708ea2ddb6"
    )


def test_the_gating_view_dates_a_build_by_its_building_message() -> None:
    # Greenwave compares dated rules with koji's creation_time (resources.py
    # retrieve_koji_build_creation_time); koji announces a new build in state BUILDING.
    from relengotron.domain.subjects import Build
    from relengotron.projections.config import GatingConfig
    from relengotron.projections.folds.gating import GatingView

    def view_of(*states: tuple[str, str]) -> GatingView:
        build = Build("koji_build", "x-1-1.fc44")
        for state, at in states:
            build.change_state("m", at, state, None, 7, None, None, None, None, None)
        view = GatingView(GatingConfig())
        for n, e in enumerate(build.collect_events(), 1):
            view.apply(e, n)
        return view

    both = view_of(
        ("BUILDING", "2021-10-06T06:00:00+00:00"), ("COMPLETE", "2021-10-08T00:00:00+00:00")
    )
    assert both.snapshot("x-1-1.fc44").subject_time == "2021-10-06T06:00:00+00:00"
    only_complete = view_of(("COMPLETE", "2021-10-08T00:00:00+00:00"))
    assert only_complete.snapshot("x-1-1.fc44").subject_time is None  # unknown: rules count
