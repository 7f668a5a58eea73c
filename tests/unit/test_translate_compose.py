"""Compose and image builds (pungi, ODCS, CI pipelines) and our own artifact topics."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import FAMILIES, compose, relengotron, translate
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import (
    ArtifactDefined,
    ArtifactRetired,
    ComposeStatusChanged,
    ManifestLearned,
    WaiverRecorded,
)
from relengotron.domain.facts import TestResultReported as ResultFact
from tests import corpus

CI_PIPELINE = "centos-ci-pipeline_README.jsonl"
UPSTREAM = "centos-upstream-fedora-pipeline_README.jsonl"
FEDMSG_META = "fedmsg_meta_fedora_infrastructure_tests.jsonl"
F26_OSTREE = "http://artifacts.ci.centos.org/fedora-atomic/f26/ostree"
ATOMIC_F26 = "fedora/f26/x86_64/atomic-host"


def _record(corpus_dir: Path, name: str, msg_id: str, topic: str, **body: Any) -> dict[str, Any]:
    found = [
        r
        for r in corpus.records(corpus_dir, f"real/{name}")
        if r.get("id") == msg_id
        and r["topic"] == topic
        and all(r["body"].get(k) == v for k, v in body.items())
    ]
    assert len(found) == 1, (name, msg_id, topic, len(found))
    return found[0]


def _compose_facts(result: Translation) -> list[ComposeStatusChanged]:
    return [f for f in result.facts if isinstance(f, ComposeStatusChanged)]


def _legacy(corpus_dir: Path, name: str, msg_id: str, topic: str, **body: Any) -> Translation:
    result = translate(corpus.envelope(_record(corpus_dir, name, msg_id, topic, **body)))
    assert result.family == "ci"
    # The stage result the pipeline translator always gave comes first, unchanged.
    assert isinstance(result.facts[0], ResultFact)
    return result


# ---------------------------------------------------------------- legacy CI pipeline (real)


def test_atomic_compose_complete_is_an_ostree_commit(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-6723f16f-93e1-4ec0-a38e-78f092a592ee",
        "org.centos.prod.ci.pipeline.compose.complete",
    )
    rev = "9a4e37c459e67c7187df4c571ddd0ad75969633d40bdfaa7c1d95bbff5fe1e04"
    assert result.facts[1:] == (
        ComposeStatusChanged(
            ref=f"ostree:{ATOMIC_F26}@{rev}",
            status="FINISHED",
            origin="ci-pipeline",
            target=ATOMIC_F26,
            location=F26_OSTREE,
        ),
    )
    assert result.problems == ()


def test_compose_running_without_rev_falls_back_to_the_jenkins_run(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-809b57f5-581d-4270-8cdb-c0ced8d37cc9",
        "org.centos.prod.ci.pipeline.compose.running",
    )
    run = "jenkins-continuous-infra.apps.ci.centos.org/continuous-infra-ci-pipeline-f26/464"
    assert result.facts[1:] == (
        ComposeStatusChanged(
            ref=f"ostree:{ATOMIC_F26}@{run}",
            status="STARTED",
            origin="ci-pipeline",
            target=ATOMIC_F26,
            location=F26_OSTREE,
        ),
    )


def test_compose_rev_placeholder_n_a_is_not_a_rev(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-9a3e044f-6886-4cfa-b06f-6a0fa73d04a0",
        "org.centos.prod.ci.pipeline.compose.running",
    )
    (fact,) = _compose_facts(result)
    assert (
        fact.ref
        == f"ostree:{ATOMIC_F26}@jenkins-continuous-infra.apps.ci.centos.org/ci-pipeline-f26/88"
    )
    assert fact.status == "STARTED"


def test_atomic_image_complete(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-b6db02c4-2e0d-4535-bb3c-6c771cc1f20e",
        "org.centos.prod.ci.pipeline.image.complete",
    )
    name = "fedora-atomic-26.391-9a4e37c459e67c7.qcow2"
    assert result.facts[1:] == (
        ComposeStatusChanged(
            ref=f"image:{name}",
            status="FINISHED",
            origin="ci-pipeline",
            target=name,
            location=f"http://artifacts.ci.centos.org/fedora-atomic/f26/images/{name}",
        ),
    )


def test_image_running_has_no_name_yet(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-9f9bde8a-0508-44cc-9ae3-a962e9228125",
        "org.centos.prod.ci.pipeline.image.running",
    )
    run = "jenkins-continuous-infra.apps.ci.centos.org/continuous-infra-ci-pipeline-f26/464"
    assert _compose_facts(result) == [
        ComposeStatusChanged(ref=f"image:{run}", status="STARTED", origin="ci-pipeline")
    ]


def test_failed_image_complete(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        FEDMSG_META,
        "2017-49a59f79-24fb-487a-ba13-bb0901acdab5",
        "org.centos.prod.ci.pipeline.image.complete",
        status="FAILED",
    )
    name = "fedora-atomic-25.71-ce1d81054a2b79a.qcow2"
    assert _compose_facts(result) == [
        ComposeStatusChanged(
            ref=f"image:{name}",
            status="FAILED",
            origin="ci-pipeline",
            target=name,
            location=f"http://artifacts.ci.centos.org/artifacts/fedora-atomic/f25/images/{name}",
            detail="FAILED",
        )
    ]


def test_template_status_uses_ci_status_like_the_result(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        FEDMSG_META,
        "2017-f3a0d6ca-d0d1-4d2c-a578-040cbfc9e2b0",
        "org.centos.prod.ci.pipeline.compose.complete",
        status="${BUILD_STATUS}",
    )
    (fact,) = _compose_facts(result)
    assert fact.status == "FINISHED"
    assert fact.ref == (
        "ostree:fedora/master/x86_64/atomic-host@"
        "7a8b6262efe6a4a5194bf48eb4577527fd05c23ff4f2192c276dc98deaa8e718"
    )


def test_unreadable_status_gives_no_compose_status(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        CI_PIPELINE,
        "2017-8189dfd5-b873-4a03-9d27-6c6ce2aba65f",
        "org.centos.prod.ci.pipeline.compose.complete",
    )
    assert _compose_facts(result) == []
    assert result.problems == ("unknown status '<SUCCESS/FAILURE/ABORTED>' on a complete message",)


def test_allpackages_image_without_name_is_the_run(corpus_dir: Path) -> None:
    result = _legacy(
        corpus_dir,
        UPSTREAM,
        "2018-437ac13b-063b-48e8-94e3-4a8f0ec576d3",
        "org.centos.prod.ci.pipeline.allpackages-build.image.complete",
    )
    run = "jenkins-continuous-infra.apps.ci.centos.org/fedora-rawhide-build-pipeline/48"
    assert _compose_facts(result) == [
        ComposeStatusChanged(ref=f"image:{run}", status="FINISHED", origin="ci-pipeline")
    ]


@pytest.mark.parametrize(
    ("name", "msg_id", "topic"),
    [
        (UPSTREAM, "2018-ce93a867-33d1-4d2b-826e-c149b8fde758", "allpackages-build.image.queued"),
        (CI_PIPELINE, "2017-0f165bf3-0324-40cc-9cd4-a008c9522d96", "package.complete"),
        (FEDMSG_META, "2017-b61a647a-8f98-4f2b-afe9-aa5a7f2ea257", "image.test.smoke.complete"),
    ],
)
def test_queued_package_and_test_stages_are_not_builds(
    corpus_dir: Path, name: str, msg_id: str, topic: str
) -> None:
    result = _legacy(corpus_dir, name, msg_id, f"org.centos.prod.ci.pipeline.{topic}")
    assert len(result.facts) == 1


def test_corpus_compose_statuses(corpus_dir: Path) -> None:
    """Only legacy compose/image stage messages give compose statuses in the corpus, at
    most one each; nothing in it is of the compose or relengotron families."""
    counts: dict[str, int] = {}
    for record in corpus.records(corpus_dir):
        result = translate(corpus.envelope(record))
        assert result.family not in ("compose", "relengotron"), record["topic"]
        facts = _compose_facts(result)
        assert len(facts) <= 1
        stage = record["topic"].split(".")[-2]
        if facts:
            assert stage in ("compose", "image"), record["topic"]
            assert facts[0].origin == "ci-pipeline"
            counts[facts[0].status] = counts.get(facts[0].status, 0) + 1
    # 5 compose.running + 9 image.running; 4 compose.complete + 9 image.complete (one
    # FAILED); the compose.complete with the "<SUCCESS/FAILURE/ABORTED>" placeholder has none.
    assert counts == {"STARTED": 14, "FINISHED": 13, "FAILED": 1}


# ---------------------------------------------------------------- legacy CI pipeline (built)


def _pipeline(topic: str, **body: Any) -> Translation:
    base = {
        "build_id": "12",
        "build_url": "https://ci.centos.org/job/ci-pipeline-ostree-compose/12/",
        "namespace": "rpms",
        "repo": "vim",
        "rev": "591b0d2fc67a45e4ad13bdc3e312d5554852426a",
        "ref": "fedora/rawhide/x86_64/atomic-host",
        "compose_url": "http://artifacts.ci.centos.org/artifacts/fedora-atomic/rawhide/ostree",
        "compose_rev": "",
        "status": "SUCCESS",
    }
    base.update(body)
    result = translate(Envelope(topic=f"org.centos.prod.ci.pipeline.{topic}", body=base))
    assert result.family == "ci"
    return result


@pytest.mark.parametrize(
    ("topic", "status", "expected", "detail"),
    [
        ("compose.complete", "ABORTED", "FAILED", "ABORTED"),
        ("compose.complete", "UNSTABLE", "FAILED", "UNSTABLE"),
        ("compose.complete", "FAILURE", "FAILED", "FAILURE"),
        ("compose.complete", "success", "FINISHED", None),
        ("compose.error", "SUCCESS", "FAILED", "error"),
        ("compose.running", "FAILURE", "STARTED", None),
    ],
)
def test_compose_stage_statuses(topic: str, status: str, expected: str, detail: str) -> None:
    (fact,) = _compose_facts(_pipeline(topic, status=status))
    assert (fact.status, fact.detail) == (expected, detail)
    assert (
        fact.ref
        == "ostree:fedora/rawhide/x86_64/atomic-host@ci.centos.org/ci-pipeline-ostree-compose/12"
    )


def test_compose_rev_without_build_url_falls_back_to_build_id() -> None:
    (fact,) = _compose_facts(_pipeline("compose.running", build_url=""))
    assert fact.ref == "ostree:fedora/rawhide/x86_64/atomic-host@12"


def test_compose_stage_without_ostree_ref_is_a_problem() -> None:
    result = _pipeline("compose.complete", ref="''")
    assert _compose_facts(result) == []
    assert len(result.facts) == 1  # the stage result is still there
    assert result.problems == ("compose stage names no OSTree ref, compose_rev or Jenkins run",)


def test_image_url_names_the_image_when_the_name_is_missing() -> None:
    url = "http://artifacts.ci.centos.org/images/x.qcow2"
    (fact,) = _compose_facts(_pipeline("image.complete", image_url=url))
    assert (fact.ref, fact.target, fact.location) == (f"image:{url}", None, url)


def test_image_stage_without_any_identity_is_a_problem() -> None:
    result = _pipeline("image.error", build_url=None, build_id=None)
    assert _compose_facts(result) == []
    assert result.problems == ("image stage names no image_name, image_url or Jenkins run",)


# ---------------------------------------------------------------- pungi


PUNGI_ID = "Fedora-Rawhide-20240101.n.0"
PUNGI_LOCATION = f"https://kojipkgs.fedoraproject.org/compose/rawhide/{PUNGI_ID}/compose"


def _pungi(status: str, suffix: str = "pungi.compose.status.change") -> Translation:
    body = {
        "status": status,
        "compose_id": PUNGI_ID,
        "location": PUNGI_LOCATION,
        "compose_date": "20240101",
        "compose_type": "nightly",
        "compose_respin": 0,
        "compose_label": None,
    }
    result = translate(Envelope(topic=f"org.fedoraproject.prod.{suffix}", body=body))
    assert result.family == "compose"
    return result


@pytest.mark.parametrize(
    ("status", "expected", "detail"),
    [
        ("STARTED", "STARTED", None),
        ("FINISHED", "FINISHED", None),
        ("FINISHED_INCOMPLETE", "FINISHED", "incomplete"),
        ("DOOMED", "FAILED", None),
        ("TERMINATED", "FAILED", None),
    ],
)
def test_pungi_status_change(status: str, expected: str, detail: str | None) -> None:
    assert _pungi(status).facts == (
        ComposeStatusChanged(
            ref=f"pungi:{PUNGI_ID}",
            status=expected,
            origin="pungi",
            target=PUNGI_ID,
            location=PUNGI_LOCATION,
            detail=detail,
        ),
    )


def test_other_pungi_statuses_and_topics_are_ignored() -> None:
    result = _pungi("RUNNING")
    assert (
        result.facts == () and result.ignored == "pungi status 'RUNNING' is not a compose outcome"
    )
    phase = _pungi("STARTED", suffix="pungi.compose.phase.start")
    assert phase.facts == ()
    assert phase.ignored == "pungi.compose.phase.start is not a compose status"


def test_pungi_ostree_commit() -> None:
    body = {
        "compose_id": PUNGI_ID,
        "variant": "Silverblue",
        "arch": "x86_64",
        "ref": "fedora/rawhide/x86_64/silverblue",
        "commitid": "0123456789abcdef" * 4,
        "repo_path": "https://kojipkgs.fedoraproject.org/compose/ostree/repo/",
        "local_repo_path": "/mnt/koji/compose/ostree/repo/",
    }
    result = translate(Envelope(topic="org.fedoraproject.prod.pungi.compose.ostree", body=body))
    assert result.facts == (
        ComposeStatusChanged(
            ref=f"ostree:fedora/rawhide/x86_64/silverblue@{'0123456789abcdef' * 4}",
            status="FINISHED",
            origin="pungi",
            target="fedora/rawhide/x86_64/silverblue",
            location="https://kojipkgs.fedoraproject.org/compose/ostree/repo/",
            detail=f"in compose {PUNGI_ID}",
        ),
    )
    missing = translate(
        Envelope(topic="pungi.compose.ostree", body={"compose_id": PUNGI_ID, "ref": "x"})
    )
    assert missing.problems == ("pungi ostree message has no commitid",)


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"status": "FINISHED"}, ("pungi status change names no compose_id",)),
        ({"compose_id": PUNGI_ID}, ("pungi status change has no status",)),
        ("FINISHED", ("body is str, not an object",)),
        (["FINISHED"], ("body is list, not an object",)),
    ],
)
def test_unreadable_pungi_bodies(body: Any, problems: tuple[str, ...]) -> None:
    result = translate(
        Envelope(topic="org.fedoraproject.prod.pungi.compose.status.change", body=body)
    )
    assert (result.family, result.facts, result.problems) == ("compose", (), problems)


# ---------------------------------------------------------------- ODCS


def _odcs(**compose_fields: Any) -> Translation:
    compose_body = {
        "id": 42,
        "owner": "relengotron",
        "source_type": 2,
        "source": "f40-build",
        "state": 3,
        "state_name": "generating",
        "state_reason": None,
        "result_repo": "https://odcs.fedoraproject.org/composes/odcs-42/compose/Temporary",
        "result_repofile": "https://odcs.fedoraproject.org/composes/odcs-42/compose/Temporary/odcs-42.repo",
        "toplevel_url": "https://odcs.fedoraproject.org/composes/odcs-42",
        "time_submitted": "2024-01-01T10:00:00Z",
        "time_done": None,
        "label": "rawhide-base#3",
        "compose_type": "test",
        "pungi_compose_id": None,
        "arches": "x86_64",
        "flags": [],
        "results": ["repository"],
    }
    compose_body.update(compose_fields)
    body = {"event": "state-changed", "compose": compose_body}
    result = translate(
        Envelope(topic="org.fedoraproject.prod.odcs.compose.state-changed", body=body)
    )
    assert result.family == "compose"
    return result


def test_odcs_generating_echoes_our_compose_key() -> None:
    assert _odcs().facts == (
        ComposeStatusChanged(
            ref="odcs:42",
            status="STARTED",
            origin="odcs",
            artifact="rawhide-base",
            compose="rawhide-base#3",
            target="f40-build",
        ),
    )


def test_odcs_done_has_the_result_repo() -> None:
    result = _odcs(state=1, state_name="done", state_reason="Compose is generated successfully")
    assert result.facts == (
        ComposeStatusChanged(
            ref="odcs:42",
            status="FINISHED",
            origin="odcs",
            artifact="rawhide-base",
            compose="rawhide-base#3",
            target="f40-build",
            location="https://odcs.fedoraproject.org/composes/odcs-42/compose/Temporary",
        ),
    )


def test_odcs_failed_has_the_reason_and_a_foreign_label_is_not_ours() -> None:
    reason = "Error while generating compose: No packages in tag f40-build"
    result = _odcs(state=4, state_name="failed", state_reason=reason, label="Beta-1.2")
    assert result.facts == (
        ComposeStatusChanged(
            ref="odcs:42", status="FAILED", origin="odcs", target="f40-build", detail=reason
        ),
    )


def test_odcs_pungi_compose_id_is_the_target_and_state_number_is_read() -> None:
    (fact,) = _odcs(state=1, state_name=None, pungi_compose_id="odcs-42-1-20240101.n.0").facts
    assert isinstance(fact, ComposeStatusChanged)
    assert (fact.status, fact.target) == ("FINISHED", "odcs-42-1-20240101.n.0")


@pytest.mark.parametrize(("state", "name"), [(0, "wait"), (2, "removed"), (5, "expired")])
def test_odcs_states_that_are_not_outcomes_are_ignored(state: int, name: str) -> None:
    result = _odcs(state=state, state_name=name)
    assert result.facts == ()
    assert result.ignored == f"ODCS state {name!r} is not a compose outcome"


def test_odcs_problems() -> None:
    assert _odcs(id="x").problems == ("ODCS compose id is 'x', not a number",)
    assert _odcs(state=None, state_name=None).problems == (
        "ODCS compose has no state_name or known state",
    )
    assert _odcs(state_name="exploded").problems == ("unknown ODCS state 'exploded'",)
    no_compose = translate(Envelope(topic="odcs.compose.state-changed", body={"event": "x"}))
    assert no_compose.problems == ("ODCS message has no compose object",)
    other = translate(Envelope(topic="odcs.compose.deleted", body={}))
    assert (other.family, other.ignored) == (
        "compose",
        "odcs.compose.deleted is not a compose state change",
    )


# ---------------------------------------------------------------- CI messages spec


def _spec(state: str, **extra: Any) -> Translation:
    body = {
        "artifact": {
            "type": "productmd-compose",
            "id": "Fedora-Rawhide-20240101.n.0",
            "compose_type": "nightly",
            "release_type": "ga",
        },
        "contact": {
            "name": "Compose CI",
            "team": "releng",
            "docs": "https://docs.example.org/compose-ci",
            "email": "releng@example.org",
        },
        "run": {
            "url": "https://jenkins.example.org/job/compose/7/",
            "log": "https://jenkins.example.org/job/compose/7/console",
        },
        "pipeline": {"id": "compose-7", "name": "compose"},
        "generated_at": "2024-01-01T10:00:00Z",
        "version": "1.1.14",
    }
    body.update(extra)
    topic = f"org.fedoraproject.prod.ci.productmd-compose.build.{state}"
    return translate(Envelope(topic=topic, body=body))


def test_spec_compose_builds() -> None:
    ref = "productmd-compose:Fedora-Rawhide-20240101.n.0"
    common = {"ref": ref, "origin": "ci-messages", "target": "Fedora-Rawhide-20240101.n.0"}
    assert _spec("running").facts == (ComposeStatusChanged(status="STARTED", **common),)
    assert _spec("complete").facts == (ComposeStatusChanged(status="FINISHED", **common),)
    error = _spec("error", error={"reason": "pungi exited 1"})
    assert error.family == "ci"
    assert error.facts == (
        ComposeStatusChanged(status="FAILED", detail="pungi exited 1", **common),
    )
    queued = _spec("queued")
    assert (queued.family, queued.facts) == ("ci", ())
    assert queued.ignored == "compose build queued: not started yet"
    # A compose build message that fails the spec's JSON Schema is not processed: an
    # artifact without id (and compose_type) gives no status, only the schema errors.
    invalid = _spec("complete", artifact={"type": "productmd-compose"})
    assert (invalid.family, invalid.facts, invalid.invalid) == ("ci", (), True)
    assert invalid.problems == (
        "schema productmd-compose.build.complete (0.2.x/1.x): artifact: "
        "'compose_type' is a required property",
        "schema productmd-compose.build.complete (0.2.x/1.x): artifact: "
        "'id' is a required property",
    )


def test_spec_compose_tests_stay_results(corpus_dir: Path) -> None:
    (record,) = [
        r
        for r in corpus.records(corpus_dir, "spec_examples/*.jsonl")
        if r["topic"] == "org.fedoraproject.prod.ci.productmd-compose.test.complete"
    ]
    envelope = corpus.envelope(record)
    assert compose.translate(envelope, envelope.suffix) is None
    result = translate(envelope)
    assert result.family == "ci"
    assert isinstance(corpus.single_fact(result, ResultFact), ResultFact)


# ---------------------------------------------------------------- our own topics


DEFINITION = {"kind": "ostree", "match": {"ref": "fedora/rawhide/x86_64/silverblue"}}
CANONICAL = b'{"kind":"ostree","match":{"ref":"fedora/rawhide/x86_64/silverblue"}}'
DEFINITION_DIGEST = "sha256:" + hashlib.sha256(CANONICAL).hexdigest()


def _ours(topic: str, body: Any, prefix: str = "") -> Translation:
    result = translate(Envelope(topic=f"{prefix}relengotron.{topic}", body=body))
    assert result.family == "relengotron"
    return result


def test_artifact_defined_with_its_digest_computed() -> None:
    body = {
        "name": "silverblue",
        "kind": "ostree",
        "definition": {"match": {"ref": "fedora/rawhide/x86_64/silverblue"}, "kind": "ostree"},
        "source": "config/artifacts/silverblue.yaml:1",
    }
    (fact,) = _ours("artifact.defined", body, prefix="org.fedoraproject.prod.").facts
    assert fact == ArtifactDefined(
        name="silverblue",
        kind="ostree",
        digest=DEFINITION_DIGEST,
        source="config/artifacts/silverblue.yaml:1",
    )
    assert isinstance(fact, ArtifactDefined) and fact.definition == DEFINITION
    # canonical: key order does not matter
    assert relengotron.digest_of(DEFINITION) == relengotron.digest_of(body["definition"])


def test_artifact_defined_keeps_a_given_digest() -> None:
    digest = "sha256:" + "ab" * 32
    body = {"name": "a", "kind": "repo", "definition": {}, "digest": digest}
    (fact,) = _ours("artifact.defined", body).facts
    assert fact == ArtifactDefined(name="a", kind="repo", digest=digest)


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (
            {"kind": "repo", "definition": {}},
            ("relengotron.artifact.defined: 'name' is missing",),
        ),
        (
            {"name": "", "kind": 3, "definition": []},
            (
                "relengotron.artifact.defined: 'name' is empty",
                "relengotron.artifact.defined: 'kind' is the integer 3, not a string",
                "relengotron.artifact.defined: 'definition' is a list, not an object",
            ),
        ),
        (
            {"name": "a", "kind": "repo", "definition": {}, "digest": "md5:x", "source": 7},
            (
                "relengotron.artifact.defined: 'digest' is 'md5:x', "
                "not 'sha256:' and 64 hex digits",
                "relengotron.artifact.defined: 'source' is the integer 7, not a string or null",
            ),
        ),
        ({"name": "a", "kind": "repo"}, ("relengotron.artifact.defined: 'definition' is missing",)),
    ],
)
def test_artifact_defined_problems(body: dict[str, Any], problems: tuple[str, ...]) -> None:
    result = _ours("artifact.defined", body)
    assert (result.facts, result.problems) == ((), problems)


def test_artifact_retired() -> None:
    result = _ours("artifact.retired", {"name": "silverblue", "reason": "EOL"})
    assert result.facts == (ArtifactRetired(name="silverblue", reason="EOL"),)
    assert _ours("artifact.retired", {"name": "x"}).facts == (ArtifactRetired(name="x"),)
    bad = _ours("artifact.retired", {"name": ["x"], "reason": False})
    assert bad.problems == (
        "relengotron.artifact.retired: 'name' is a list, not a string",
        "relengotron.artifact.retired: 'reason' is the boolean False, not a string or null",
    )


def test_manifest_learned_sorts_packages_and_computes_its_digest() -> None:
    packages = {"vim": "vim-9.1.0-1.fc41", "bash": "bash-5.2.26-3.fc41", "glibc": None}
    body = {
        "artifact": "silverblue",
        "source": "compose",
        "packages": packages,
        "ref": "pungi:Fedora-Rawhide-20240101.n.0",
        "rpms": 1834,
        "digest": "sha256:" + "0" * 64,  # ignored: the digest is ours
    }
    (fact,) = _ours("manifest.learned", body).facts
    assert fact == ManifestLearned(
        artifact="silverblue",
        source="compose",
        digest=relengotron.manifest_digest("compose", packages),
        packages=(
            ("bash", "bash-5.2.26-3.fc41"),
            ("glibc", None),
            ("vim", "vim-9.1.0-1.fc41"),
        ),
        ref="pungi:Fedora-Rawhide-20240101.n.0",
        rpms=1834,
    )
    assert fact.digest == relengotron.digest_of({"packages": packages, "source": "compose"})
    # the same manifest in another order is the same digest; another source is not
    reordered = dict(reversed(list(packages.items())))
    assert relengotron.manifest_digest("compose", reordered) == fact.digest
    assert relengotron.manifest_digest("depsolve", packages) != fact.digest


def test_manifest_learned_minimal() -> None:
    body = {"artifact": "base", "source": "definition", "packages": {"bash": None}}
    (fact,) = _ours("manifest.learned", body).facts
    assert isinstance(fact, ManifestLearned)
    assert (fact.packages, fact.ref, fact.rpms) == ((("bash", None),), None, 0)


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (
            {"artifact": "a", "source": "guess", "packages": {}},
            (
                "relengotron.manifest.learned: 'source' is 'guess', "
                "not one of compose, depsolve, definition",
            ),
        ),
        (
            {"source": "compose", "packages": {"bash": 5, "": None, "vim": ""}},
            (
                "relengotron.manifest.learned: 'artifact' is missing",
                "relengotron.manifest.learned: 'packages'['bash'] is the integer 5, "
                "not an NVR or null",
                "relengotron.manifest.learned: 'packages' has the package name ''",
                "relengotron.manifest.learned: 'packages'['vim'] is the string '', "
                "not an NVR or null",
            ),
        ),
        (
            {"artifact": "a", "source": "compose", "packages": ["bash"], "rpms": "12"},
            (
                "relengotron.manifest.learned: 'packages' is a list, not an object",
                "relengotron.manifest.learned: 'rpms' is the string '12', not an integer",
            ),
        ),
        (
            {"artifact": "a", "source": "compose", "packages": {}, "rpms": -1, "ref": 3},
            (
                "relengotron.manifest.learned: 'ref' is the integer 3, not a string or null",
                "relengotron.manifest.learned: 'rpms' is -1, not a count",
            ),
        ),
        (
            {"artifact": "a", "source": None, "packages": {}, "rpms": True},
            (
                "relengotron.manifest.learned: 'source' is null, not a string",
                "relengotron.manifest.learned: 'rpms' is the boolean True, not an integer",
            ),
        ),
        (
            {"artifact": "a", "source": "compose"},
            ("relengotron.manifest.learned: 'packages' is missing",),
        ),
    ],
)
def test_manifest_learned_problems(body: dict[str, Any], problems: tuple[str, ...]) -> None:
    result = _ours("manifest.learned", body)
    assert (result.facts, result.problems) == ((), problems)


def test_compose_status() -> None:
    body = {
        "ref": "odcs:42",
        "status": "FINISHED",
        "artifact": "rawhide-base",
        "compose": "rawhide-base#3",
        "target": "f40-build",
        "location": "https://odcs.fedoraproject.org/composes/odcs-42",
        "detail": None,
    }
    assert _ours("compose.status", body, prefix="org.fedoraproject.stg.").facts == (
        ComposeStatusChanged(
            ref="odcs:42",
            status="FINISHED",
            origin="relengotron",
            artifact="rawhide-base",
            compose="rawhide-base#3",
            target="f40-build",
            location="https://odcs.fedoraproject.org/composes/odcs-42",
        ),
    )
    minimal = _ours("compose.status", {"ref": "odcs:1", "status": "STARTED"})
    assert minimal.facts == (
        ComposeStatusChanged(ref="odcs:1", status="STARTED", origin="relengotron"),
    )


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (
            {"status": "DONE"},
            (
                "relengotron.compose.status: 'ref' is missing",
                "relengotron.compose.status: 'status' is 'DONE', "
                "not one of FAILED, FINISHED, STARTED",
            ),
        ),
        (
            {"ref": "odcs:1", "status": "FAILED", "detail": {"why": "x"}, "target": 1.5},
            (
                "relengotron.compose.status: 'target' is the number 1.5, not a string or null",
                "relengotron.compose.status: 'detail' is an object, not a string or null",
            ),
        ),
        ({"ref": "odcs:1"}, ("relengotron.compose.status: 'status' is missing",)),
    ],
)
def test_compose_status_problems(body: dict[str, Any], problems: tuple[str, ...]) -> None:
    result = _ours("compose.status", body)
    assert (result.facts, result.problems) == ((), problems)


@pytest.mark.parametrize("body", [None, "text", ["a"], 3])
def test_our_topics_need_an_object(body: Any) -> None:
    result = _ours("artifact.retired", body)
    assert result.facts == ()
    assert len(result.problems) == 1
    assert result.problems[0].startswith("relengotron.artifact.retired: body is ")


def test_arbitrary_prefix_and_other_topics() -> None:
    body = {"name": "x"}
    assert _ours("artifact.retired", body, prefix="org.example.bus.").facts == (
        ArtifactRetired(name="x"),
    )
    # Not ours: other relengotron topics, and look-alikes that only share a tail word.
    for topic in ("relengotron.decision.changed", "notrelengotron.artifact.retired"):
        assert relengotron.translate(Envelope(topic=topic, body=body), topic) is None


def test_our_waivers_still_belong_to_waiverdb() -> None:
    body = {
        "subject_type": "koji_build",
        "subject_identifier": "vim-9.1.0-1.fc41",
        "testcase": "dist.rpmdeplint",
        "waived": True,
        "username": "releng",
        "comment": "known",
    }
    result = translate(Envelope(topic="relengotron.waiver.new", body=body))
    assert result.family == "waiverdb"
    assert isinstance(corpus.single_fact(result, WaiverRecorded), WaiverRecorded)
    envelope = Envelope(topic="relengotron.waiver.new", body=body)
    assert relengotron.translate(envelope, envelope.suffix) is None


def test_families_are_reported() -> None:
    assert FAMILIES[-2:] == ("compose", "relengotron")
