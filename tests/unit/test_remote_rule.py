"""RemoteRule (package-owned gating.yaml) with Greenwave's semantics, on Fedora's real
production policy (tests/fixtures/fedora-greenwave/fedora.yaml, rendered unchanged from
fedora-infra/ansible roles/openshift-apps/greenwave/templates/fedora.yaml.j2).

Expected answers are written from Greenwave's code, not ours:
greenwave/policies.py (RemoteRule._get_sub_policies, check, matches; RemotePolicy;
FetchedRemoteRuleYaml, MissingRemoteRuleYaml, InvalidRemoteRuleYaml,
FailedFetchRemoteRuleYaml to_json; summarize_answers), greenwave/decision.py (answers
of the applicable policies, in order; satisfied/unsatisfied split),
greenwave/resources.py (retrieve_scm_from_koji_build), greenwave/config.py
(DEFAULT_DIST_GIT_URL_TEMPLATE) and docs/package-specific-policies.rst.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.rules.policy_loader import load_policy_set, load_policy_text
from relengotron.adapters.rules.remote_rule_yaml import (
    GatingYamlError,
    load_remote_policies,
    validate_gating_yaml,
)
from relengotron.policies.engine import evaluate
from relengotron.policies.remote import scm_from_source_url
from relengotron.policies.snapshot import (
    REMOTE_ABSENT,
    REMOTE_ERROR,
    REMOTE_FOUND,
    RemoteFileView,
    RemoteRuleInput,
    ResultView,
    Snapshot,
)
from relengotron.policies.spec import PolicySet, RemoteRule, policy_set_from_canonical

FEDORA = Path(__file__).resolve().parents[1] / "fixtures" / "fedora-greenwave"
TEMPLATE = "https://src.fedoraproject.org/{pkg_namespace}{pkg_name}/raw/{rev}/f/gating.yaml"
REV = "c0ffee" * 6 + "abcd"
URL = f"https://src.fedoraproject.org/rpms/bash/raw/{REV}/f/gating.yaml"
NVR = "bash-5.2.37-1.fc42"
TC = "fedora-ci.koji-build.tier0.functional"

# A real-shaped gating.yaml (docs.fedoraproject.org CI gating; Greenwave's
# docs/package-specific-policies.rst): no id, no product_versions.
GATING_YAML = f"""\
--- !Policy
product_versions:
  - fedora-*
decision_contexts: [bodhi_update_push_testing, bodhi_update_push_stable]
subject_type: koji_build
rules:
  - !PassingTestCaseRule {{test_case_name: {TC}}}
"""


@pytest.fixture(scope="module")
def fedora() -> PolicySet:
    return load_policy_set(FEDORA)


def found(text: str, position: int = 10) -> RemoteFileView:
    try:
        policies, error = load_remote_policies(text), None
    except GatingYamlError as exc:
        policies, error = (), str(exc)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return RemoteFileView(URL, REMOTE_FOUND, f"file/{position}", position, digest, policies, error)


def snap(
    context: str,
    files: tuple[RemoteFileView, ...] = (),
    results: tuple[ResultView, ...] = (),
    version: str = "fedora-42",
    scm: tuple[str, str, str] | None = ("rpms", "bash", REV),
) -> Snapshot:
    return Snapshot(
        subject_type="koji_build",
        subject_identifier=NVR,
        package="bash",
        product_version=version,
        decision_context=context,
        results=results,
        remote=RemoteRuleInput(templates=(TEMPLATE,), scm=scm, files=files),
    )


def passed() -> ResultView:
    return ResultView(TC, "PASSED", "koji_build", NVR, "r/1", 5, result_id=77)


def strip(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greenwave's keys only (ours: policy_id, event)."""
    return [{k: v for k, v in r.items() if k not in ("policy_id", "event")} for r in reqs]


def test_fedora_production_policy_loads_unchanged(fedora: PolicySet) -> None:
    assert len(fedora.policies) == 17
    remote = fedora.by_id("kojibuild_bodhipush_remoterule")
    assert remote is not None and remote.rules == (RemoteRule(),)
    # canonical form round-trips (what the log stores for a policy set)
    again = policy_set_from_canonical([p.canonical() for p in fedora.policies])
    assert again.content_hash == fedora.content_hash


def test_stable_push_gating_yaml_missing_result(fedora: PolicySet) -> None:
    d = evaluate(fedora, snap("bodhi_update_push_stable", (found(GATING_YAML),))).as_dict()
    assert d["applicable_policies"] == [
        "kojibuild_bodhipush_no_requirements",
        "kojibuild_bodhipush_remoterule",
    ]
    assert d["policies_satisfied"] is False
    assert d["summary"] == "Of 1 required test, 1 result missing"
    assert strip(d["satisfied_requirements"]) == [
        {
            "type": "fetched-gating-yaml",
            "testcase": "fetched-gating-yaml",
            "subject_type": "koji_build",
            "subject_identifier": NVR,
            "source": URL,
        }
    ]
    assert strip(d["unsatisfied_requirements"]) == [
        {
            "type": "test-result-missing",
            "testcase": TC,
            "subject_type": "koji_build",
            "subject_identifier": NVR,
            "source": URL,
            "scenario": None,
            "item": {"type": "koji_build", "item": NVR},
        }
    ]
    assert d["verdict"] == "hold" and "file/10" in d["used_events"]


def test_testing_push_gating_yaml_passed(fedora: PolicySet) -> None:
    d = evaluate(
        fedora, snap("bodhi_update_push_testing", (found(GATING_YAML),), (passed(),))
    ).as_dict()
    assert d["policies_satisfied"] is True
    assert d["summary"] == "All required tests (1 total) have passed or been waived"
    sat = strip(d["satisfied_requirements"])
    assert [r["type"] for r in sat] == ["fetched-gating-yaml", "test-result-passed"]
    assert sat[1]["source"] == URL and sat[1]["result_id"] == 77


def test_critpath_context_not_in_gating_yaml(fedora: PolicySet) -> None:
    """The file's policies name testing and stable only: RemoteRule.matches says no for
    the critpath contexts, so the parent policy does not apply (nor its fetched answer)."""
    for context in ("bodhi_update_push_stable_critpath", "bodhi_update_push_testing_critpath"):
        d = evaluate(fedora, snap(context, (found(GATING_YAML),))).as_dict()
        assert d["applicable_policies"] == ["kojibuild_bodhipush_no_requirements"]
        assert (d["policies_satisfied"], d["summary"]) == (True, "No tests are required")
        assert d["satisfied_requirements"] == []


def test_context_without_remote_rule(fedora: PolicySet) -> None:
    d = evaluate(fedora, snap("bodhi_update_push_stable_core_critpath", ())).as_dict()
    assert d["applicable_policies"] == ["kojibuild_bodhipush_no_requirements"]
    assert d["policies_satisfied"] is True


def test_no_gating_yaml_adds_nothing(fedora: PolicySet) -> None:
    absent = RemoteFileView(URL, REMOTE_ABSENT, "file/3", 3)
    d = evaluate(fedora, snap("bodhi_update_push_stable", (absent,))).as_dict()
    assert d["applicable_policies"] == [
        "kojibuild_bodhipush_no_requirements",
        "kojibuild_bodhipush_remoterule",
    ]
    assert (d["policies_satisfied"], d["summary"]) == (True, "No tests are required")
    assert d["satisfied_requirements"] == d["unsatisfied_requirements"] == []


def test_required_and_missing() -> None:
    policies = PolicySet(
        load_policy_text(
            "--- !Policy\nid: p\nproduct_versions: [fedora-*]\ndecision_context: c\n"
            "subject_type: koji_build\nrules:\n  - !RemoteRule {required: true}\n"
        )
    )
    absent = RemoteFileView(URL, REMOTE_ABSENT, "file/3", 3)
    d = evaluate(policies, snap("c", (absent,))).as_dict()
    assert d["summary"] == "1 error due to missing remote rule file"
    assert strip(d["unsatisfied_requirements"]) == [
        {
            "type": "missing-gating-yaml",
            "testcase": "missing-gating-yaml",
            "subject_type": "koji_build",
            "subject_identifier": NVR,
            "scenario": None,
            "sources": [URL],
        }
    ]


def test_invalid_gating_yaml(fedora: PolicySet) -> None:
    broken = found("--- !Policy\nproduct_versions: [fedora-*]\nrules: []\n")
    d = evaluate(fedora, snap("bodhi_update_push_stable", (broken,))).as_dict()
    assert d["policies_satisfied"] is False
    assert d["summary"] == "1 error due to invalid remote rule file"
    assert strip(d["unsatisfied_requirements"]) == [
        {
            "type": "invalid-gating-yaml",
            "testcase": "invalid-gating-yaml",
            "subject_type": "koji_build",
            "subject_identifier": NVR,
            "scenario": None,
            "source": URL,
            "details": "Policy 'untitled': No decision contexts provided",
        }
    ]


def test_fetch_failed_or_not_yet_fetched_is_never_satisfied(fedora: PolicySet) -> None:
    failed = RemoteFileView(URL, REMOTE_ERROR, "file/4", 4, error="503 Service Unavailable")
    for files in ((failed,), ()):
        d = evaluate(fedora, snap("bodhi_update_push_stable", files)).as_dict()
        assert d["policies_satisfied"] is False and d["verdict"] == "hold"
        assert d["summary"] == "1 error while trying to fetch remote rule file"
        (req,) = d["unsatisfied_requirements"]
        assert (req["type"], req["sources"]) == ("failed-fetch-gating-yaml", [URL])
    # unknown source: also closed
    d = evaluate(fedora, snap("bodhi_update_push_stable", (), scm=None)).as_dict()
    assert d["unsatisfied_requirements"][0]["type"] == "failed-fetch-gating-yaml"


def test_newer_file_wins() -> None:
    """The latest recorded file for the URL counts (a re-fetch after an error)."""
    failed = RemoteFileView(URL, REMOTE_ERROR, "file/4", 4, error="timeout")
    policies = load_policy_set(FEDORA)
    d = evaluate(
        policies, snap("bodhi_update_push_stable", (failed, found(GATING_YAML, 9)), (passed(),))
    ).as_dict()
    assert d["policies_satisfied"] is True


def test_scm_from_koji_source() -> None:
    # greenwave/resources.py retrieve_scm_from_koji_build
    assert scm_from_source_url(f"git+https://src.fedoraproject.org/rpms/bash.git#{REV}") == (
        "rpms",
        "bash",
        REV,
    )
    with pytest.raises(ValueError, match="missing URL fragment"):
        scm_from_source_url("git+https://src.fedoraproject.org/rpms/bash.git")


def test_validate_like_greenwave(fedora: PolicySet) -> None:
    # greenwave/api_v1.py validate_gating_yaml_post
    assert validate_gating_yaml(GATING_YAML, fedora.policies) == (True, "All OK")
    assert validate_gating_yaml("", fedora.policies) == (False, "No policies defined")
    ok, msg = validate_gating_yaml(
        GATING_YAML.replace("bodhi_update_push_stable]", "nowhere]"), fedora.policies
    )
    assert not ok and msg.startswith(
        "Greenwave could not find a parent policy(ies) for following decision context(s): nowhere."
    )
    ok, msg = validate_gating_yaml("--- !Policy\nid: x\n", fedora.policies)
    assert (ok, msg) == (False, "Policy 'x': Attribute 'rules' is required")
    ok, msg = validate_gating_yaml(
        "--- !Policy\ndecision_context: bodhi_update_push_stable\nrules:\n  - !RemoteRule {}\n",
        fedora.policies,
    )
    assert (ok, msg) == (False, "Policy 'untitled': RemoteRule is not allowed in remote policies")
    ok, msg = validate_gating_yaml("- a\n", fedora.policies)
    assert (ok, msg) == (False, "Expected mapping for !Policy tagged object")
    ok, msg = validate_gating_yaml("a: [\n", fedora.policies)
    assert not ok and msg.startswith("YAML Parser Error:")


def test_remote_rule_settings(tmp_path: Path) -> None:
    from relengotron.adapters.settings import SettingsError
    from relengotron.adapters.settings_file import load_settings

    default = load_settings(None)
    assert default.gating.remote_rule_templates == (TEMPLATE,)  # Greenwave's default
    assert (default.remote_rules.timeout, default.remote_rules.retries) == (30.0, 3)
    path = tmp_path / "s.toml"
    path.write_text('[gating.remote_rules]\nurl_templates = ["file:///x/{rev}"]\nretries = 5\n')
    s = load_settings(str(path))
    assert (s.gating.remote_rule_templates, s.remote_rules.retries) == (("file:///x/{rev}",), 5)
    path.write_text("[gating.remote_rules]\nurl_templates = []\n")
    with pytest.raises(SettingsError, match="url_templates must be a non-empty list"):
        load_settings(str(path))
    path.write_text('[gating.remote_rules]\nurl_template = "x"\n')
    with pytest.raises(SettingsError, match="unknown key 'url_template'"):
        load_settings(str(path))


def test_gating_yaml_subject_types_and_aliases(fedora: PolicySet) -> None:
    """RemotePolicy takes ``subject_types`` (a list) and matches a subject type's alias
    (greenwave/policies.py matches_subject_type; conf/subject_types/koji_build.yaml
    aliases brew-build)."""
    for head in ("subject_types: [brew-build, redhat-module]", "subject_type: brew-build"):
        text = GATING_YAML.replace("subject_type: koji_build", head)
        d = evaluate(fedora, snap("bodhi_update_push_stable", (found(text),))).as_dict()
        assert [r["type"] for r in d["unsatisfied_requirements"]] == ["test-result-missing"]
    text = GATING_YAML.replace("subject_type: koji_build", "subject_type: compose")
    d = evaluate(fedora, snap("bodhi_update_push_stable", (found(text),))).as_dict()
    assert d["applicable_policies"] == ["kojibuild_bodhipush_no_requirements"]


def test_gating_yaml_errors_in_greenwaves_order() -> None:
    # RemotePolicy.validate refuses a RemoteRule before looking at the contexts
    with pytest.raises(GatingYamlError, match="RemoteRule is not allowed in remote policies"):
        load_remote_policies("--- !Policy\nrules: [!RemoteRule {}]\n")
    with pytest.raises(GatingYamlError, match='Both properties "subject_types"'):
        load_remote_policies(
            "--- !Policy\nsubject_type: a\nsubject_types: [b]\ndecision_context: c\nrules: []\n"
        )


def test_gating_yaml_dated_rule_as_greenwave(fedora: PolicySet) -> None:
    # greenwave/policies.py RemotePolicy takes PassingTestCaseRule's valid_since/valid_until
    # (greenwave/safe_yaml.py SafeYAMLDateTime: dateutil, no zone = UTC): the rule counts
    # for subjects created at or after valid_since and before valid_until.
    dated = GATING_YAML.replace(
        f"{{test_case_name: {TC}}}", f"{{test_case_name: {TC}, valid_since: 2025-01-01}}"
    )
    (policy,) = load_remote_policies(dated)
    assert policy.rules[0].valid_since == "2025-01-01T00:00:00+00:00"  # type: ignore[union-attr]
    base = snap("bodhi_update_push_stable", (found(dated),))
    old = evaluate(fedora, replace(base, subject_time="2024-12-31T23:59:59+00:00"))
    assert (old.policies_satisfied, old.summary) == (True, "No tests are required")
    new = evaluate(fedora, replace(base, subject_time="2025-01-01T00:00:00+00:00"))
    assert (new.policies_satisfied, new.summary) == (False, "Of 1 required test, 1 result missing")
    unknown = evaluate(fedora, base)  # no creation time known: the rule counts (fail closed)
    assert unknown.policies_satisfied is False
    with pytest.raises(GatingYamlError) as info:
        load_remote_policies(dated.replace("2025-01-01", "not a date"))
    assert str(info.value) == (
        "Policy 'untitled': Attribute 'rules': PassingTestCaseRule: Attribute 'valid_since':"
        " Could not parse string as date/time, got: not a date"
    )
