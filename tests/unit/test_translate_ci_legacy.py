"""The legacy CentOS CI pipeline translator against real corpus messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import ci_legacy
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import (
    DIST_GIT_COMMIT,
    DIST_GIT_PR,
    ERROR,
    FAILED,
    KOJI_BUILD,
    KOJI_BUILD_SCRATCH,
    NEEDS_INSPECTION,
    NOT_APPLICABLE,
    PASSED,
    QUEUED,
    RUNNING,
    ChangeKey,
    ComposeStatusChanged,
)
from relengotron.domain.facts import (
    TestResultReported as ResultFact,
)
from tests import corpus

CI_PIPELINE = "centos-ci-pipeline_README.jsonl"
UPSTREAM = "centos-upstream-fedora-pipeline_README.jsonl"
FEDMSG_META = "fedmsg_meta_fedora_infrastructure_tests.jsonl"


def _record(corpus_dir: Path, name: str, msg_id: str, topic: str, **body: Any) -> dict[str, Any]:
    """The one record with this id and topic (and these body values)."""
    found = [
        r
        for r in corpus.records(corpus_dir, f"real/{name}")
        if r.get("id") == msg_id
        and r["topic"] == topic
        and all(r["body"].get(k) == v for k, v in body.items())
    ]
    assert len(found) == 1, (name, msg_id, topic, body, len(found))
    return found[0]


def _translate(envelope: Envelope) -> Translation:
    result = corpus.claimed(ci_legacy.translate, envelope)
    assert result.family == "ci"
    return result


def _fact(envelope: Envelope) -> ResultFact:
    return corpus.single_fact(_translate(envelope), ResultFact)


def _is_legacy_ci(topic: str) -> bool:
    return ci_legacy.is_legacy_suffix(Envelope(topic=topic, body={}).suffix)


# ---------------------------------------------------------------- real messages


def test_atomic_package_complete(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        CI_PIPELINE,
        "2017-0f165bf3-0324-40cc-9cd4-a008c9522d96",
        "org.centos.prod.ci.pipeline.package.complete",
    )
    fact = _fact(corpus.envelope(record))
    rev = "35fdde92a0292def6a99acd3c237272789d020b2"
    assert fact.subject_type == DIST_GIT_COMMIT
    assert fact.subject_identifier == f"rpms/mesa#{rev}"
    assert fact.change == ChangeKey("rpms", "mesa", rev)
    assert fact.testcase == "org.centos.prod.ci.pipeline.package.complete"
    assert fact.outcome == PASSED
    assert fact.stage == "package"
    assert fact.origin == "ci-pipeline"
    assert fact.result_id is None
    # The locally built "mesa-17.1.5-1.816.35fdde9.fc26.2.src" is not a koji build.
    assert fact.nvr is None
    assert fact.pipeline_id == (
        "jenkins-continuous-infra.apps.ci.centos.org/continuous-infra-ci-pipeline-f26/464"
    )
    assert fact.ref_url == record["body"]["build_url"]
    assert fact.data["original_spec_nvr"] == "mesa-17.1.5-1.fc26.2"
    assert fact.data["CI_NAME"] == "continuous-infra-ci-pipeline-f26"
    assert fact.data["branch"] == "f26"
    assert "test_guidance" not in fact.data  # "''" is an empty marker
    assert all(isinstance(v, str) for v in fact.data.values())


def test_package_ignore_is_not_applicable(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        CI_PIPELINE,
        "2017-1dc328f8-7421-4d09-8a4f-41ec82f00785",
        "org.centos.prod.ci.pipeline.package.ignore",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.outcome == NOT_APPLICABLE
    assert fact.testcase == "org.centos.prod.ci.pipeline.package.complete"
    assert fact.subject_identifier == "rpms/polari#8073b99c61e58abb8fbcd60cf8ea518d184d0108"
    assert (
        fact.pipeline_id == "jenkins-continuous-infra.apps.ci.centos.org/ci-pipeline-trigger/52867"
    )


def test_allpackages_build_functional_complete_is_about_the_koji_build(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UPSTREAM,
        "2018-87194aa9-46c2-40be-a18e-aebe3a6907a8",
        "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == KOJI_BUILD
    assert fact.subject_identifier == "initscripts-9.80-1.fc29"
    assert fact.nvr == "initscripts-9.80-1.fc29"
    assert fact.change is None  # rev is "kojitask-27186311", not a commit
    assert fact.testcase == (
        "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"
    )
    assert fact.outcome == PASSED
    assert fact.stage == "package.test.functional"
    assert fact.pipeline_id == (
        "jenkins-continuous-infra.apps.ci.centos.org/fedora-rawhide-build-pipeline/48"
    )


def test_allpackages_build_without_nvr_yet_has_no_subject(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UPSTREAM,
        "2018-408adcaa-53e3-4bfa-becf-7736885d3bd0",
        "org.centos.prod.ci.pipeline.allpackages-build.package.queued",
    )
    result = _translate(corpus.envelope(record))
    assert result.facts == ()
    assert any("27186311" in p for p in result.problems), result.problems


def test_one_stage_shares_a_testcase_across_states(corpus_dir: Path) -> None:
    stage = "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional"
    ids = {
        "queued": "2018-3546629a-470e-45db-9e44-32f069190626",
        "running": "2018-19ffcac4-1d2d-4f9f-9d3e-420c060a01f2",
        "complete": "2018-87194aa9-46c2-40be-a18e-aebe3a6907a8",
    }
    facts = {
        state: _fact(corpus.envelope(_record(corpus_dir, UPSTREAM, msg_id, f"{stage}.{state}")))
        for state, msg_id in ids.items()
    }
    assert {f.testcase for f in facts.values()} == {f"{stage}.complete"}
    assert {s: f.outcome for s, f in facts.items()} == {
        "queued": QUEUED,
        "running": RUNNING,
        "complete": PASSED,
    }
    assert {(f.subject_type, f.subject_identifier) for f in facts.values()} == {
        (KOJI_BUILD, "initscripts-9.80-1.fc29")
    }


def test_allpackages_pr_failure_is_about_the_pull_request(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2019-4e3896db-a922-4663-862b-e80ee213bac6",
        "org.centos.prod.ci.pipeline.allpackages-pr.package.complete",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_type == DIST_GIT_PR
    assert fact.subject_identifier == "rpms/selinux-policy/pull-request/19"
    assert fact.outcome == FAILED
    assert fact.change is None
    assert fact.testcase == "org.centos.prod.ci.pipeline.allpackages-pr.package.complete"
    # The ci_topic-era body (2019) has no CI_NAME: the job comes from build_url.
    assert fact.pipeline_id == (
        "jenkins-continuous-infra.apps.ci.centos.org/fedora-rawhide-pr-pipeline/1168"
    )


def test_pr_scratch_nvr_is_not_used_as_a_build(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        UPSTREAM,
        "2018-8bf4b5e7-e900-4e79-a186-392da9a0b241",
        "org.centos.prod.ci.pipeline.allpackages-pr.package.test.functional.complete",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.subject_identifier == "rpms/calc/pull-request/1"
    assert fact.nvr is None
    assert fact.data["comment_id"] == "1234"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("SUCCESS", PASSED), ("ABORTED", ERROR), ("FAILEd", FAILED), ("UNSTABLE", NEEDS_INSPECTION)],
)
def test_pipeline_complete_status(corpus_dir: Path, status: str, outcome: str) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2017-b420134c-0e39-4f70-8e5f-0975d7019e4b",
        "org.centos.prod.ci.pipeline.complete",
        status=status,
    )
    result = _translate(corpus.envelope(record))
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.outcome == outcome
    assert fact.stage == "pipeline"
    assert fact.testcase == "org.centos.prod.ci.pipeline.complete"
    assert fact.subject_identifier == "rpms/vim#591b0d2fc67a45e4ad13bdc3e312d5554852426a"
    assert result.problems == ()


def test_placeholder_status_needs_inspection(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        CI_PIPELINE,
        "2017-7af7f4e6-d3cf-465a-b039-da6e33efc688",
        "org.centos.prod.ci.pipeline.package.complete",
    )
    result = _translate(corpus.envelope(record))
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.outcome == NEEDS_INSPECTION
    assert fact.subject_identifier == "modules/perl#0acffe135ebb30fd922cdf509f0da2a4482b4fb0"
    assert any("<SUCCESS/FAILURE/ABORTED>" in p for p in result.problems)


def test_template_status_falls_back_to_ci_status(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2017-2f33b69b-6336-4e67-98fa-fc17d0a004bc",
        "org.centos.prod.ci.pipeline.compose.test.integration.complete",
        status="TODO",
    )
    result = _translate(corpus.envelope(record))
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.outcome == FAILED  # CI_STATUS "failed"
    assert fact.pipeline_id == "ci.centos.org/ci-pipeline-atomic-host-tests/377"
    assert any("TODO" in p for p in result.problems)


def test_body_topic_mismatch_is_kept_and_envelope_decides(corpus_dir: Path) -> None:
    # Seed 004: the all-packages pipeline published on allpackages.pipeline.* while its
    # bodies (and docs) said ci.pipeline.allpackages.*.
    record = _record(
        corpus_dir,
        UPSTREAM,
        "2018-02592ed2-c36a-4370-9f12-8c5448ad20b7",
        "org.centos.prod.allpackages.pipeline.package.queued",
    )
    result = _translate(corpus.envelope(record))
    assert result.body_topic == "org.centos.prod.ci.pipeline.allpackages.package.queued"
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.testcase == "org.centos.prod.allpackages.pipeline.package.complete"
    assert fact.outcome == QUEUED
    assert fact.subject_identifier == "rpms/bind#36ff6aebe60cea38d08c36b8c8494f62f593ef1a"
    assert fact.data["pipeline"] == "allpackages"


def test_envelope_state_wins_over_body_topic(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2017-b420134c-0e39-4f70-8e5f-0975d7019e4b",
        "org.centos.prod.ci.pipeline.package.test.functional.complete",
    )
    result = _translate(corpus.envelope(record))
    assert result.body_topic == "org.centos.prod.ci.pipeline.package.test.functional.queued"
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.outcome == PASSED


def test_stage_prefix_is_kept_in_testcase(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2017-66ce76b7-0519-4807-a9b0-831c61b1da6c",
        "org.centos.stage.ci.pipeline.package.running",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.testcase == "org.centos.stage.ci.pipeline.package.complete"
    assert fact.outcome == RUNNING


def test_container_pr_without_pr_number_is_the_commit(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2018-1436f172-aa90-49f2-9ff0-9b34608f38e8",
        "org.centos.prod.ci.pipeline.container-pr.complete",
    )
    fact = _fact(corpus.envelope(record))
    rev = "35cdcb6a32562b632c075f2fd42793f7492dcdb3"
    assert fact.subject_type == DIST_GIT_COMMIT
    assert fact.subject_identifier == f"container/tools#{rev}"
    assert fact.stage == "pipeline"
    # CI_NAME says upstream-fedora-f28-pipeline; the build_url is the run that sent it.
    assert fact.pipeline_id == (
        "jenkins-continuous-infra.apps.ci.centos.org/fedcontainer-rawhide-pr-pipeline/50"
    )


def test_keys_with_trailing_blanks_are_read(corpus_dir: Path) -> None:
    record = _record(
        corpus_dir,
        FEDMSG_META,
        "2017-b61a647a-8f98-4f2b-afe9-aa5a7f2ea257",
        "org.centos.prod.ci.pipeline.image.test.smoke.complete",
    )
    fact = _fact(corpus.envelope(record))
    assert fact.stage == "image.test.smoke"
    assert fact.data["compose_rev"] == (
        "b1777ffee14021a94d0b027fbcd841a15bd7cdeebd97527b742eab4e666dc9ec"
    )
    assert fact.data["ref"] == "fedora/f26/x86_64/atomic-host"


def test_every_legacy_ci_line_translates(corpus_dir: Path) -> None:
    seen = 0
    no_fact = []
    for record in corpus.records(corpus_dir):
        if not _is_legacy_ci(record["topic"]):
            continue
        seen += 1
        result = _translate(corpus.envelope(record))
        # Compose and image stages also report the compose's status (a second fact).
        results = [f for f in result.facts if not isinstance(f, ComposeStatusChanged)]
        assert len(results) <= 1
        if not results:
            assert result.problems, record["topic"]
            no_fact.append(record["body"]["rev"])
        for fact in results:
            assert isinstance(fact, ResultFact)
            assert fact.testcase == record["topic"].rsplit(".", 1)[0] + ".complete"
            assert fact.origin == "ci-pipeline"
    assert seen == 131  # the corpus README's CI legacy count
    # Only koji-triggered runs that have not learned their build's NVR yet lack a subject.
    assert no_fact and all(rev.startswith("kojitask-") for rev in no_fact)


# ---------------------------------------------------------------- constructed bodies


def _body(**extra: Any) -> dict[str, Any]:
    body = {
        "build_id": "7",
        "build_url": "https://jenkins.example.org/job/fedora-f28-build-pipeline/7/",
        "namespace": "rpms",
        "repo": "bash",
        "rev": "kojitask-1234",
        "nvr": "bash-5.2-1.fc28",
        "status": "SUCCESS",
    }
    body.update(extra)
    return body


@pytest.mark.parametrize("body", ["not json", ["a", "list"], None, 42, b"\xff"])
def test_garbage_body_gives_a_problem(body: Any) -> None:
    envelope = Envelope(topic="org.centos.prod.ci.pipeline.package.complete", body=body, msg_id="x")
    result = _translate(envelope)
    assert result.facts == ()
    assert result.problems


def test_json_text_body_is_parsed() -> None:
    envelope = Envelope(
        topic="org.centos.prod.ci.pipeline.allpackages-build.package.complete",
        body=json.dumps(_body()),
    )
    fact = _fact(envelope)
    assert (fact.subject_type, fact.subject_identifier) == (KOJI_BUILD, "bash-5.2-1.fc28")
    assert fact.pipeline_id == "jenkins.example.org/fedora-f28-build-pipeline/7"


def test_msgjson_fills_missing_fields() -> None:
    body = {"msgJson": json.dumps(_body()), "status": "FAILURE"}
    envelope = Envelope(
        topic="org.centos.prod.ci.pipeline.allpackages-build.package.complete", body=body
    )
    fact = _fact(envelope)
    assert fact.subject_identifier == "bash-5.2-1.fc28"
    assert fact.outcome == FAILED  # the body's own field wins over msgJson


def test_scratch_koji_build() -> None:
    envelope = Envelope(
        topic="org.centos.prod.ci.pipeline.allpackages-build.package.complete",
        body=_body(scratch="true"),
    )
    fact = _fact(envelope)
    assert fact.subject_type == KOJI_BUILD_SCRATCH
    assert fact.nvr is None


def test_error_state_and_missing_status() -> None:
    topic = "org.centos.prod.ci.pipeline.allpackages-build.image.error"
    error = _translate(Envelope(topic=topic, body=_body(status=None)))
    assert isinstance(error.facts[0], ResultFact) and error.facts[0].outcome == ERROR
    status = error.facts[1]
    assert isinstance(status, ComposeStatusChanged) and status.status == "FAILED"
    complete = Envelope(topic=topic[: -len("error")] + "complete", body=_body(status=None))
    result = _translate(complete)
    fact = result.facts[0]
    assert isinstance(fact, ResultFact)
    assert fact.outcome == NEEDS_INSPECTION
    assert result.problems


def test_no_rev_and_no_nvr_gives_a_problem() -> None:
    envelope = Envelope(
        topic="org.centos.prod.ci.pipeline.package.complete",
        body={"repo": "bash", "status": "SUCCESS"},
    )
    result = _translate(envelope)
    assert result.facts == ()
    assert result.problems


def test_unknown_state_is_recognized_with_a_problem() -> None:
    result = _translate(
        Envelope(topic="org.centos.prod.ci.pipeline.package.exploded", body=_body())
    )
    assert result.facts == ()
    assert any("exploded" in p for p in result.problems)


@pytest.mark.parametrize(
    "topic",
    [
        "org.fedoraproject.prod.ci.koji-build.test.complete",
        "org.fedoraproject.prod.buildsys.tag",
        "org.centos.prod.ci.koji-build.test.queued",
    ],
)
def test_other_topics_are_not_ours(topic: str) -> None:
    envelope = Envelope(topic=topic, body=_body())
    assert ci_legacy.translate(envelope, envelope.suffix) is None


def test_suffix_spellings() -> None:
    split = ci_legacy.split_legacy_suffix
    assert split("ci.pipeline.complete") == ("ci-pipeline", ["complete"])
    assert split("ci.pipeline.test.integration.queued") == (
        "ci-pipeline",
        ["test", "integration", "queued"],
    )
    assert split("ci.pipeline.allpackages-pr.complete") == ("allpackages-pr", ["complete"])
    assert split("allpackages.pipeline.image.running") == ("allpackages", ["image", "running"])
    assert split("ci.allpackages.pipeline.complete") == ("allpackages", ["complete"])
    assert split("ci.pipeline.container-pr.container.test.functional.running") == (
        "container-pr",
        ["container", "test", "functional", "running"],
    )
    assert split("ci.koji-build.test.complete") is None
