"""The CI Messages spec translator against the spec examples and Jenkins templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import ci_legacy, ci_spec
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import (
    BODHI_UPDATE,
    COMPOSE,
    DIST_GIT_PR,
    ERROR,
    FAILED,
    INFO,
    INVALID,
    KOJI_BUILD,
    KOJI_BUILD_GROUP,
    KOJI_BUILD_SCRATCH,
    NEEDS_INSPECTION,
    NOT_APPLICABLE,
    PASSED,
    QUEUED,
    RUNNING,
    ChangeKey,
)
from relengotron.domain.facts import TestResultReported as ResultFact
from tests import corpus

SDIST = "ci-messages_sdist_examples.jsonl"
UMB = "resultsdb-updater_umb_ci_spec.jsonl"


def _record(
    corpus_dir: Path,
    name: str,
    topic: str,
    where: Callable[[dict[str, Any]], bool] = lambda body: True,
) -> dict[str, Any]:
    found = [
        r
        for r in corpus.records(corpus_dir, f"spec_examples/{name}")
        if r["topic"] == topic and where(r["body"])
    ]
    assert len(found) == 1, (name, topic, len(found))
    return found[0]


def _translate(envelope: Envelope) -> Translation:
    result = corpus.claimed(ci_spec.translate, envelope)
    assert result.family == "ci"
    return result


def _fact(envelope: Envelope) -> ResultFact:
    return corpus.single_fact(_translate(envelope), ResultFact)


def _template(corpus_dir: Path, name: str) -> dict[str, Any]:
    path = corpus_dir / "schemas" / "fedora-ci-jenkins-message-templates" / f"{name}-template.json"
    return copy.deepcopy(json.loads(path.read_text()))


def _koji_build_body(corpus_dir: Path, state: str = "complete", **test: Any) -> dict[str, Any]:
    """A Fedora CI koji-build message as the Jenkins pipeline library fills its template."""
    body = _template(corpus_dir, f"koji-build.test.{state}")
    body["artifact"].update(
        type="koji-build",
        id=45678901,
        issuer="packager",
        component="bash",
        nvr="bash-5.2.26-3.fc40",
        scratch=False,
        source="git+https://src.fedoraproject.org/rpms/bash.git#0123456789abcdef0123456789abcdef01234567",
    )
    body["pipeline"].update(id="fedora-ci-rpminspect-45678901", name="rpminspect")
    body["run"].update(url="https://jenkins.example.org/job/rpminspect/12/")
    body["test"].update(namespace="fedora-ci.koji-build", type="tier0", category="functional")
    if state == "complete":
        body["test"]["result"] = "passed"
    if state == "error":
        body["error"]["reason"] = "Infrastructure Failure"
    body["test"].update(test)
    body["version"] = "1.1.14"
    return body


# ---------------------------------------------------------------- spec examples


def test_openqa_fedora_update_complete(corpus_dir: Path) -> None:
    record = _record(corpus_dir, SDIST, "org.fedoraproject.prod.ci.fedora-update.test.complete")
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == BODHI_UPDATE
    # artifact.id is a hash in openQA's messages; the alias names the update.
    assert fact.subject_identifier == "FEDORA-2019-6bda4c81f4"
    assert fact.testcase == (
        "update.install_default_update_live uefi updates-workstation-live-iso x86_64.validation"
    )
    assert fact.outcome == PASSED
    assert fact.covered_nvrs == (
        "kernel-5.2.7-100.fc29",
        "kernel-headers-5.2.7-100.fc29",
        "kernel-tools-5.2.7-100.fc29",
    )
    assert fact.ref_url == "https://openqa.stg.fedoraproject.org/tests/583271"
    assert fact.pipeline_id == record["body"]["pipeline"]["id"]
    assert fact.origin == "ci-messages"
    assert fact.result_id is None
    assert fact.data["version"] == "0.2.4"


def test_productmd_compose_complete(corpus_dir: Path) -> None:
    record = _record(corpus_dir, SDIST, "org.fedoraproject.prod.ci.productmd-compose.test.complete")
    fact = _fact(corpus.envelope(record))
    assert (fact.subject_type, fact.subject_identifier) == (COMPOSE, "RHEL-ALT-7-20180101.n.0")
    assert fact.testcase == "rtt.acceptance.validation"
    assert fact.outcome == PASSED
    assert fact.pipeline_id == "ac11dcddf99a"
    assert fact.data["pipeline_name"] == "compose-RHEL-ALT-7-nightly-tier2-acceptance"


@pytest.mark.parametrize(
    ("topic", "event"),
    [
        ("org.fedoraproject.prod.ci.brew-build.promote.queued", "promote"),
        ("org.fedoraproject.prod.ci.uncontrolled-build.build.complete", "build"),
    ],
)
def test_non_test_events_are_ignored(corpus_dir: Path, topic: str, event: str) -> None:
    result = _translate(corpus.envelope(_record(corpus_dir, SDIST, topic)))
    assert result.facts == ()
    assert result.ignored is not None and event in result.ignored


def test_other_artifact_type_is_its_own_subject_type(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir, SDIST, "org.fedoraproject.prod.ci.uncontrolled-build.test.complete"
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == "uncontrolled-build"
    assert fact.subject_identifier == (
        "sha256:745d58b54b4f800cd75a0c507bb3f2f7ff98045d62b4c3bcd4a8d04788aa2a52"
    )
    assert fact.testcase == "wizard.ci.tier1.functional"
    assert fact.outcome == FAILED
    assert fact.note == "The mustard indicates progress."


def test_brew_build_group_covers_its_builds(corpus_dir: Path) -> None:
    record = _record(corpus_dir, UMB, "VirtualTopic.eng.ci.brew-build-group.test.complete")
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == KOJI_BUILD_GROUP
    assert fact.subject_identifier == (
        "sha256:acbfb0c61199e5a05f07ee4ec2cdf7fb93376513b82cb5ad444e4d94e4258785"
    )
    assert fact.covered_nvrs == ("libselinux-2.8-6.el7.x86_64", "libsepol-2.8-3.el7.x86_64")
    assert fact.testcase == "baseos-qe.baseos-ci.tier1.functional"
    assert fact.outcome == FAILED


def test_brew_build_complete_non_scratch(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.complete",
        lambda body: isinstance(body.get("test"), dict) and "contact" in body,
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == KOJI_BUILD
    assert fact.subject_identifier == "binutils-2.30-43.el8"
    assert fact.nvr == "binutils-2.30-43.el8"
    assert fact.change == ChangeKey("rpms", "binutils", "3af926c26b6271969238d87d245006d412eae274")
    assert fact.testcase == "team.build.tier0.functional"
    assert fact.outcome == PASSED
    assert fact.pipeline_id == "2b2b27d4-de01-49ab-bbc3-cd30dd5286d2"
    assert fact.ref_url == "https://jenkins/job/pipeline/170/"
    assert fact.data["thread_id"] == "2b2b27d4-de01-49ab-bbc3-cd30dd5286d2"
    assert fact.data["artifact_type"] == "brew-build"


def test_brew_build_error_scratch(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.error",
        lambda body: "error" in body,
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == KOJI_BUILD_SCRATCH
    assert fact.subject_identifier == "setup-2.8.71-7.el7_4"
    assert fact.nvr is None  # a scratch NVR must not link to the real build
    assert fact.outcome == ERROR
    assert fact.note == "CI pipeline aborted"
    assert fact.testcase == "baseos-qe.baseos-ci.tier1.functional"


def test_v01_error_reason_and_string_scratch(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.error",
        lambda body: "error" not in body,
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == KOJI_BUILD_SCRATCH  # scratch: "true"
    assert fact.testcase == "contra.pipeline.functional"
    assert fact.note == "unknown execution error"
    assert fact.outcome == ERROR


def test_v01_status_failure(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.complete",
        lambda body: body.get("status") == "FAILURE",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.outcome == FAILED
    assert fact.testcase == "osci.pipeline.functional"
    assert fact.subject_identifier == "passwd-0.80-1.el8+5"


def test_v01_status_pass_spelling(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.complete",
        lambda body: body.get("status") == "pass",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.outcome == PASSED
    assert fact.testcase == "baseos.tier1.functional"
    assert fact.change == ChangeKey("rpms", "setup", "8d22fd57b66704a62e0db649dd372a1ce7bb06ee")


def test_v01_queued_and_running_share_a_testcase(corpus_dir: Path) -> None:
    queued = _fact(
        corpus.envelope(_record(corpus_dir, UMB, "VirtualTopic.eng.ci.brew-build.test.queued"))
    )
    running = _fact(
        corpus.envelope(_record(corpus_dir, UMB, "VirtualTopic.eng.ci.brew-build.test.running"))
    )
    assert queued.outcome == QUEUED
    assert running.outcome == RUNNING
    assert queued.testcase == running.testcase == "baseos-ci.brew-build.covscan.static-analysis"
    assert queued.subject_type == KOJI_BUILD
    assert running.subject_type == KOJI_BUILD_SCRATCH


def test_wrapped_stomp_record_is_unwrapped(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.component-version.test.complete",
        lambda body: "msg" in body,
    )
    result = _translate(corpus.envelope(record))
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.testcase == "pelc.scan.validation"
    assert fact.outcome == PASSED
    assert (fact.subject_type, fact.subject_identifier) == (
        "component-version",
        "389-ds-base-1.4.0.10",
    )
    assert result.body_topic is None  # "/topic/VirtualTopic..." is the same topic


def test_redhat_module_is_named_by_nsvc(corpus_dir: Path) -> None:
    record = _record(corpus_dir, UMB, "VirtualTopic.eng.ci.redhat-module.test.complete")
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == "redhat-module"
    assert fact.subject_identifier == "go-toolset:rhel8-8:820181119195405:b754926a"
    assert fact.testcase == "baseos-ci.redhat-module.tier1.functional"
    assert fact.outcome == FAILED


def test_message_without_test_fields_gives_a_problem(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.brew-build.test.complete",
        lambda body: "test" not in body and "type" not in body and "status" not in body,
    )
    result = _translate(corpus.envelope(record))
    assert result.facts == ()
    assert any("testcase" in p for p in result.problems)


def test_every_spec_example_translates(corpus_dir: Path) -> None:
    facts = 0
    for name in (SDIST, UMB):
        for record in corpus.records(corpus_dir, f"spec_examples/{name}"):
            result = _translate(corpus.envelope(record))
            assert result.facts or result.ignored or result.problems, record["topic"]
            facts += len(result.facts)
    assert facts == 21  # 24 examples: 2 build/promote events, 1 without a testcase


def test_no_real_ci_line_is_taken_from_ci_legacy(corpus_dir: Path) -> None:
    for path in sorted((corpus_dir / "real").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            envelope = Envelope(topic=record["topic"], body=record["body"])
            if ci_legacy.is_legacy_suffix(envelope.suffix):
                assert ci_spec.translate(envelope, envelope.suffix) is None


# ---------------------------------------------------------------- Fedora Jenkins templates


def test_fedora_koji_build_complete(corpus_dir: Path) -> None:
    envelope = Envelope(
        topic="org.fedoraproject.prod.ci.koji-build.test.complete",
        body=_koji_build_body(corpus_dir, scenario="x86_64"),
        msg_id="m1",
    )
    fact = _fact(envelope)
    assert fact.subject_type == KOJI_BUILD
    assert fact.subject_identifier == fact.nvr == "bash-5.2.26-3.fc40"
    assert fact.testcase == "fedora-ci.koji-build.tier0.functional"
    assert fact.scenario == "x86_64"
    assert fact.outcome == PASSED
    assert fact.change == ChangeKey("rpms", "bash", "0123456789abcdef0123456789abcdef01234567")
    assert fact.pipeline_id == "fedora-ci-rpminspect-45678901"
    assert fact.ref_url == "https://jenkins.example.org/job/rpminspect/12/"
    assert fact.suspect_nvrs == ()


@pytest.mark.parametrize("state", ["queued", "running", "complete", "error"])
def test_fedora_koji_build_states_share_a_testcase(corpus_dir: Path, state: str) -> None:
    envelope = Envelope(
        topic=f"org.fedoraproject.prod.ci.koji-build.test.{state}",
        body=_koji_build_body(corpus_dir, state),
    )
    fact = _fact(envelope)
    assert fact.testcase == "fedora-ci.koji-build.tier0.functional"
    assert fact.outcome == {"queued": QUEUED, "running": RUNNING, "complete": PASSED}.get(
        state, ERROR
    )
    if state == "error":
        assert fact.note == "Infrastructure Failure"


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        ("passed", PASSED),
        ("failed", FAILED),
        ("info", INFO),
        ("needs_inspection", NEEDS_INSPECTION),
        ("not_applicable", NOT_APPLICABLE),
    ],
)
def test_spec_results(corpus_dir: Path, result: str, outcome: str) -> None:
    envelope = Envelope(
        topic="org.fedoraproject.prod.ci.koji-build.test.complete",
        body=_koji_build_body(corpus_dir, result=result),
    )
    assert _fact(envelope).outcome == outcome


@pytest.mark.parametrize(
    ("result", "claimed"),
    [("PASSED", PASSED), ("Not_Applicable", NOT_APPLICABLE), ("bogus", NEEDS_INSPECTION)],
)
def test_results_outside_the_spec_are_invalid(corpus_dir: Path, result: str, claimed: str) -> None:
    """0.2.x/1.x ``test.result`` is one of five lower-case values (the spec's schema): any
    other spelling makes the message invalid, and an invalid message gives no result (it
    used to be read case-insensitively, and "bogus" as NEEDS_INSPECTION)."""
    envelope = Envelope(
        topic="org.fedoraproject.prod.ci.koji-build.test.complete",
        body=_koji_build_body(corpus_dir, result=result),
    )
    translation = _translate(envelope)
    assert translation.invalid
    fact = corpus.single_fact(translation, ResultFact)
    assert fact.outcome == INVALID
    assert fact.data["claimed_outcome"] == claimed
    assert any("test.result" in p and result in p for p in translation.problems)


def test_suspects_of_a_failing_result(corpus_dir: Path) -> None:
    suspects = ["glibc-2.39-1.fc40", {"nvr": "gcc-14.0.1-1.fc40"}]
    failing = _koji_build_body(corpus_dir, result="failed", suspects=suspects)
    fact = _fact(Envelope(topic="org.fedoraproject.prod.ci.koji-build.test.complete", body=failing))
    assert fact.suspect_nvrs == ("glibc-2.39-1.fc40", "gcc-14.0.1-1.fc40")
    passing = _koji_build_body(corpus_dir, result="passed", suspects=suspects)
    fact = _fact(Envelope(topic="org.fedoraproject.prod.ci.koji-build.test.complete", body=passing))
    assert fact.suspect_nvrs == ()


def test_namespaced_topic_and_body_topic(corpus_dir: Path) -> None:
    body = _koji_build_body(corpus_dir)
    body["topic"] = "org.centos.prod.ci.koji-build.test.complete"
    envelope = Envelope(topic="org.fedoraproject.prod.ci.osci.koji-build.test.complete", body=body)
    result = _translate(envelope)
    assert result.body_topic == "org.centos.prod.ci.koji-build.test.complete"
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.data["topic_namespace"] == "osci"
    assert fact.subject_identifier == "bash-5.2.26-3.fc40"


def test_fedora_pull_request_matches_the_legacy_spelling(corpus_dir: Path) -> None:
    body = _template(corpus_dir, "pull-request.test.complete")
    body["artifact"].update(
        type="pull-request",
        repository="https://src.fedoraproject.org/rpms/calc",
        id=1,
        commit_hash="fb577daf3708dc030fef1ae08aeaa9b848b8ad3d",
        uid="0b1996feb53a4040a8edf11890eb3599",
    )
    body["test"].update(
        namespace="fedora-ci.dist-git-pr", type="tier0", category="functional", result="passed"
    )
    fact = _fact(Envelope(topic="org.fedoraproject.prod.ci.dist-git-pr.test.complete", body=body))
    assert fact.subject_type == DIST_GIT_PR
    legacy = ci_legacy.translate(
        Envelope(
            topic="org.centos.prod.ci.pipeline.allpackages-pr.complete",
            body={"namespace": "rpms", "repo": "calc", "rev": "PR-1", "status": "SUCCESS"},
        ),
        "ci.pipeline.allpackages-pr.complete",
    )
    assert legacy is not None
    legacy_fact = legacy.facts[0]
    assert isinstance(legacy_fact, ResultFact)
    assert fact.subject_identifier == legacy_fact.subject_identifier == "rpms/calc/pull-request/1"
    assert fact.change == ChangeKey("rpms", "calc", "fb577daf3708dc030fef1ae08aeaa9b848b8ad3d")


def test_pull_request_without_repository_uses_uid(corpus_dir: Path) -> None:
    body = _template(corpus_dir, "pull-request.test.queued")
    body["artifact"].update(type="pull-request", uid="0b1996feb53a4040a8edf11890eb3599")
    body["test"].update(namespace="fedora-ci.dist-git-pr", type="tier0", category="functional")
    fact = _fact(Envelope(topic="org.fedoraproject.prod.ci.pull-request.test.queued", body=body))
    assert fact.subject_identifier == "0b1996feb53a4040a8edf11890eb3599"
    assert fact.outcome == QUEUED


# ---------------------------------------------------------------- odd bodies and topics


@pytest.mark.parametrize("body", ["not json", [1, 2], None, 3.5])
def test_garbage_body_gives_a_problem(body: Any) -> None:
    envelope = Envelope(topic="org.fedoraproject.prod.ci.koji-build.test.complete", body=body)
    result = _translate(envelope)
    assert result.facts == ()
    assert result.problems


def test_missing_artifact_gives_a_problem() -> None:
    body = {"test": {"namespace": "a", "type": "b", "category": "c", "result": "passed"}}
    envelope = Envelope(topic="org.fedoraproject.prod.ci.koji-build.test.complete", body=body)
    result = _translate(envelope)
    assert result.facts == ()
    assert any("artifact" in p for p in result.problems)


@pytest.mark.parametrize(
    "topic",
    [
        "org.centos.prod.ci.pipeline.package.complete",
        "org.centos.prod.ci.allpackages.pipeline.complete",
        "org.fedoraproject.prod.buildsys.tag",
        "org.fedoraproject.prod.ci.koji-build.test.exploded",
        "org.fedoraproject.prod.bodhi.update.status.testing.koji-build-group.build.complete",
    ],
)
def test_other_topics_are_not_ours(topic: str) -> None:
    envelope = Envelope(topic=topic, body={})
    assert ci_spec.translate(envelope, envelope.suffix) is None


def test_tested_system_is_kept_as_resultsdb_updater_keeps_it(corpus_dir: Path) -> None:
    """``system`` (a list of one dict, or a dict) gives ``system_architecture`` and
    ``system_variant``, as release-engineering/resultsdb-updater ``handle_ci_umb`` stores
    them in ResultsDB: Greenwave answers each architecture and variant apart."""
    record = _record(
        corpus_dir,
        UMB,
        "VirtualTopic.eng.ci.productmd-compose.test.complete",
        lambda body: '"variant"' in json.dumps(body.get("system")),
    )
    fact = _fact(corpus.envelope(record))
    system = record["body"]["system"]
    system = system[0] if isinstance(system, list) else system
    assert fact.data["system_architecture"] == system["architecture"]
    assert fact.data["system_variant"] == system["variant"]
    as_dict = copy.deepcopy(record)
    as_dict["body"]["system"] = {"architecture": "s390x"}
    fact = _fact(corpus.envelope(as_dict))
    assert fact.data["system_architecture"] == "s390x" and "system_variant" not in fact.data
