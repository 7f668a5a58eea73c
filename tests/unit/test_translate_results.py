"""The ResultsDB, WaiverDB and Greenwave translators against real corpus messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import greenwave, resultsdb, waiverdb
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import GreenwaveDecisionObserved, WaiverRecorded
from relengotron.domain.facts import TestResultReported as ResultReported
from tests import corpus

FAMILY_OF_SUFFIX = {
    "resultsdb.result.new": ("resultsdb", resultsdb),
    "taskotron.result.new": ("resultsdb", resultsdb),
    "waiverdb.waiver.new": ("waiverdb", waiverdb),
    "greenwave.decision.update": ("greenwave", greenwave),
    "greenwave.greenwave.decision.update": ("greenwave", greenwave),
}
MODULES = (resultsdb, waiverdb, greenwave)


def _translate(envelope: Envelope) -> Translation:
    results = [m.translate(envelope, envelope.suffix) for m in MODULES]
    claimed = [r for r in results if r is not None]
    assert len(claimed) == 1, envelope.topic
    return claimed[0]


def _all(corpus_dir: Path, suffix: str, match: Callable[[Any], bool]) -> list[Translation]:
    found = [
        _translate(corpus.envelope(r))
        for r in corpus.records(corpus_dir)
        if Envelope(topic=r["topic"], body=None).suffix == suffix and match(r["body"])
    ]
    assert found, f"no corpus message {suffix} matches"
    return found


def _fact(result: Translation) -> Any:
    assert len(result.facts) == 1, result
    return result.facts[0]


def _env(suffix: str, body: Any, env: str = "prod") -> Envelope:
    return Envelope(topic=f"org.fedoraproject.{env}.{suffix}", body=body)


def test_every_result_waiver_decision_message_translates(corpus_dir: Path) -> None:
    counts = {"resultsdb": 0, "waiverdb": 0, "greenwave": 0}
    for record in corpus.records(corpus_dir):
        envelope = corpus.envelope(record)
        expected = FAMILY_OF_SUFFIX.get(envelope.suffix)
        for module in MODULES:
            result = module.translate(envelope, envelope.suffix)
            if expected is None or module is not expected[1]:
                assert result is None, (module.__name__, record["topic"])
                continue
            assert result is not None and result.family == expected[0], record["topic"]
            assert len(result.facts) == 1, record["topic"]
            counts[expected[0]] += 1
    assert counts == {"resultsdb": 3, "waiverdb": 5, "greenwave": 5}


# ----------------------------------------------------------------- resultsdb


def test_taskotron_koji_build_result(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir, "taskotron.result.new", lambda b: b["task"]["name"] == "dist.rpmlint"
    )
    assert result.problems == ()
    fact = _fact(result)
    assert fact == ResultReported(
        subject_type="koji_build",
        subject_identifier="perl-PAR-Packer-1.037-1.fc27",
        testcase="dist.rpmlint",
        outcome="PASSED",
        origin="resultsdb",
        result_id="14280446",
        ref_url="https://taskotron.fedoraproject.org/artifacts/all/"
        "c40473a0-444b-11e7-b258-5254008e42f6/task_output/perl-PAR-Packer-1.037-1.fc27.log",
        nvr="perl-PAR-Packer-1.037-1.fc27",
    )


def test_taskotron_bodhi_update_result(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir, "taskotron.result.new", lambda b: b["task"]["name"] == "upgradepath"
    )
    fact = _fact(result)
    assert (fact.subject_type, fact.subject_identifier, fact.nvr) == (
        "bodhi_update",
        "FEDORA-2015-2f6c7508b7",
        None,
    )
    assert (fact.testcase, fact.outcome, fact.result_id) == ("upgradepath", "PASSED", "5202575")


def _v2_result(**overrides: Any) -> dict[str, Any]:
    # Shape of ResultsDB's API v2 serializer, which resultsdb.result.new carries.
    body: dict[str, Any] = {
        "id": 31425,
        "testcase": {"name": "fedora-ci.koji-build.tier0.functional", "ref_url": None},
        "outcome": "FAILED",
        "note": "2 tests failed",
        "ref_url": "https://jenkins.example/job/1",
        "groups": ["8f9f4a0c-2b0a-4a7a-8f13-7f2a4d2d5a11"],
        "submit_time": "2024-03-09T10:58:48.081872",
        "data": {
            "item": ["bash-5.2.26-3.fc40"],
            "type": ["koji_build"],
            "scenario": ["fedora.x86_64"],
            "arch": ["x86_64"],
        },
    }
    body.update(overrides)
    return body


def test_resultsdb_v2_result() -> None:
    result = _translate(_env("resultsdb.result.new", _v2_result()))
    assert result.family == "resultsdb"
    fact = _fact(result)
    assert fact == ResultReported(
        subject_type="koji_build",
        subject_identifier="bash-5.2.26-3.fc40",
        testcase="fedora-ci.koji-build.tier0.functional",
        outcome="FAILED",
        origin="resultsdb",
        scenario="fedora.x86_64",
        result_id="31425",
        ref_url="https://jenkins.example/job/1",
        note="2 tests failed",
        nvr="bash-5.2.26-3.fc40",
    )
    assert fact.data["arch"] == "x86_64"
    # The whole ResultsDB record, for Greenwave's verbose answers (issue 15).
    assert fact.record == _v2_result()


def test_resultsdb_v2_compose_and_original_spec_nvr() -> None:
    compose = _translate(
        _env(
            "resultsdb.result.new",
            _v2_result(data={"productmd.compose.id": ["Fedora-40-20240309.n.0"]}, outcome="info"),
        )
    )
    fact = _fact(compose)
    assert (fact.subject_type, fact.subject_identifier, fact.outcome, fact.nvr) == (
        "compose",
        "Fedora-40-20240309.n.0",
        "INFO",
        None,
    )
    spec = _translate(
        _env("resultsdb.result.new", _v2_result(data={"original_spec_nvr": ["bash-5.2-1.fc40"]}))
    )
    assert (_fact(spec).subject_type, _fact(spec).nvr) == ("koji_build", "bash-5.2-1.fc40")


def test_resultsdb_unknown_outcome_needs_inspection() -> None:
    result = _translate(_env("resultsdb.result.new", _v2_result(outcome="WEIRD")))
    assert _fact(result).outcome == "NEEDS_INSPECTION"
    assert result.problems == ("unknown outcome 'WEIRD'; kept as NEEDS_INSPECTION",)


def test_resultsdb_without_subject_is_a_problem() -> None:
    result = _translate(_env("resultsdb.result.new", _v2_result(data={"arch": ["x86_64"]})))
    assert (result.family, result.facts) == ("resultsdb", ())
    assert result.problems == ("result has no subject (data item/type)",)


# ------------------------------------------------------------------ waiverdb


def test_modern_waiver(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "waiverdb.waiver.new", lambda b: b["id"] == 9181)
    assert result.problems == ()
    assert _fact(result) == WaiverRecorded(
        subject_type="bodhi_update",
        subject_identifier="FEDORA-2021-1d24845e93",
        testcase="update.install_default_update_live",
        waived=True,
        waiver_id="9181",
        scenario="fedora.updates-kde-live-iso.x86_64.64bit",
        product_version="fedora-35",
        username="ralph",
        comment="The previous waiver might have been invalidated.",
    )


def test_2018_waiver_with_subject_dict(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "waiverdb.waiver.new", lambda b: b["id"] == 50)
    fact = _fact(result)
    assert (fact.subject_type, fact.subject_identifier, fact.testcase) == (
        "koji_build",
        "libsavitar-3.2.1-2.fc28",
        "dist.abicheck",
    )


def test_result_id_only_waiver(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "waiverdb.waiver.new", lambda b: b["id"] == 8)
    fact = _fact(result)
    assert (fact.subject_type, fact.subject_identifier, fact.testcase) == (
        "resultsdb_result",
        "123",
        "",
    )
    assert (fact.waiver_id, fact.product_version) == ("8", "fedora-26")
    assert result.problems == ("waiver names only a result_id; subject and testcase unknown",)


def test_waiver_compose_subject_dict() -> None:
    result = _translate(
        _env(
            "waiverdb.waiver.new",
            {
                "id": 3,
                "subject": {"productmd.compose.id": "Fedora-Rawhide-20180726.n.2"},
                "testcase": "compose.install_default",
                "waived": False,
            },
        )
    )
    fact = _fact(result)
    assert (fact.subject_type, fact.subject_identifier, fact.waived) == (
        "compose",
        "Fedora-Rawhide-20180726.n.2",
        False,
    )


def test_waiver_under_a_subject_type_alias_is_the_types() -> None:
    """WaiverDB stores ``brew-build`` as ``koji_build`` (waiverdb/api_v1.py) and
    Greenwave matches the aliases of a subject type (conf/subject_types/koji_build.yaml):
    a waiver message under the alias is recorded for the koji build (issue 15, item 5)."""
    body = {
        "id": 12,
        "subject_type": "brew-build",
        "subject_identifier": "bash-5.2.26-3.fc40",
        "testcase": "dist.rpmdeplint",
        "waived": True,
        "product_version": "fedora-40",
        "username": "alice",
        "proxied_by": "bodhi",
        "comment": "flaky",
    }
    fact = _fact(_translate(_env("waiverdb.waiver.new", body)))
    assert (fact.subject_type, fact.subject_identifier) == ("koji_build", "bash-5.2.26-3.fc40")
    assert fact.record == body  # WaiverDB's waiver, proxied_by included
    ours = _fact(_translate(_env("relengotron.waiver.new", body)))
    assert ours.subject_type == "koji_build" and ours.record is None  # rebuilt when shown
    legacy = _translate(
        _env(
            "waiverdb.waiver.new",
            {
                **body,
                "subject_type": None,
                "subject": {"type": "brew-build", "item": "bash-1-1.fc40"},
            },
        )
    )
    assert _fact(legacy).subject_type == "koji_build"


# ----------------------------------------------------------------- greenwave


def test_greenwave_decision_with_subject_fields(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir,
        "greenwave.decision.update",
        lambda b: b.get("subject_identifier") == "bodhi-3.13.3-1.fc30",
    )
    assert _fact(result) == GreenwaveDecisionObserved(
        subject_type="koji_build",
        subject_identifier="bodhi-3.13.3-1.fc30",
        decision_context="bodhi_update_push_testing",
        product_version="fedora-30",
        policies_satisfied=True,
        summary="All required tests passed",
        unsatisfied=(),
    )


def test_greenwave_failed_compose_decision(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir, "greenwave.decision.update", lambda b: b.get("subject_type") == "compose"
    )
    fact = _fact(result)
    assert fact.subject_identifier == (
        "Fedora-Cloud-Base-Vagrant-Rawhide-20180726.n.2.x86_64.vagrant-libvirt.box"
    )
    assert (fact.decision_context, fact.policies_satisfied) == (
        "rawhide_compose_sync_to_mirrors",
        False,
    )
    assert fact.unsatisfied == ("compose.cloud.all",)


def test_greenwave_2017_misspelled_verdict_and_doubled_topic(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "greenwave.greenwave.decision.update", lambda b: True)
    assert result.family == "greenwave"
    assert _fact(result) == GreenwaveDecisionObserved(
        subject_type="koji_build",
        subject_identifier="lilypond-doc-2.19.80-1.fc25",
        decision_context="bodhi_update_push_stable",
        product_version="fedora-27",
        policies_satisfied=False,
        summary="1 of 3 required tests not found",
        unsatisfied=("dist.abicheck",),
    )
    (satisfied,) = _all(
        corpus_dir, "greenwave.decision.update", lambda b: "policies_satisified" in b
    )
    assert _fact(satisfied).policies_satisfied is True
    assert _fact(satisfied).subject_identifier == "libmtp-1.1.14-1.fc27"


def test_greenwave_without_verdict_is_a_problem() -> None:
    result = _translate(
        _env(
            "greenwave.decision.update",
            {"decision_context": "x", "subject": [{"type": "koji_build", "item": "a-1-1"}]},
        )
    )
    assert (result.family, result.facts) == ("greenwave", ())
    assert result.problems == ("policies_satisfied is None, not a boolean",)


# --------------------------------------------------------------- bad bodies


@pytest.mark.parametrize("body", ["garbage", [1], None])
@pytest.mark.parametrize("suffix", sorted(FAMILY_OF_SUFFIX))
def test_garbage_body(body: Any, suffix: str) -> None:
    result = _translate(_env(suffix, body))
    assert result.family == FAMILY_OF_SUFFIX[suffix][0]
    assert result.facts == ()
    assert len(result.problems) == 1
