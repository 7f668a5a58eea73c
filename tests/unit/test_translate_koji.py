"""The koji translator against real ``buildsys.*`` messages from the corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import koji
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import (
    BuildSigned,
    BuildStateChanged,
    BuildTagged,
    BuildUntagged,
    ChangeKey,
    KojiPackageListChanged,
    KojiRepoChanged,
    KojiTaskChanged,
)
from tests import corpus


def _translate(envelope: Envelope) -> Translation:
    return corpus.claimed(koji.translate, envelope)


def _one(corpus_dir: Path, suffix: str, match: Callable[[Any], bool]) -> Translation:
    found = [
        r
        for r in corpus.records(corpus_dir)
        if Envelope(topic=r["topic"], body=None).suffix == suffix and match(r["body"])
    ]
    assert found, f"no corpus message {suffix} matches"
    return _translate(corpus.envelope(found[0]))


def _synthetic(suffix: str, body: Any) -> Translation:
    return _translate(Envelope(topic=f"org.fedoraproject.prod.{suffix}", body=body))


def test_every_buildsys_message_is_koji_and_others_are_not(corpus_dir: Path) -> None:
    seen = with_facts = 0
    for record in corpus.records(corpus_dir):
        envelope = corpus.envelope(record)
        result = koji.translate(envelope, envelope.suffix)
        if not envelope.suffix.startswith("buildsys."):
            assert result is None, record["topic"]
            continue
        seen += 1
        assert result is not None and result.family == "koji", record["topic"]
        assert result.facts or result.ignored or result.problems, record["topic"]
        with_facts += bool(result.facts)
    assert seen >= 70
    assert with_facts >= seen - 10


def test_modern_build_state_change_with_source_and_change(corpus_dir: Path) -> None:
    result = _one(corpus_dir, "buildsys.build.state.change", lambda b: b.get("build_id") == 1994993)
    assert result.problems == ()
    assert result.facts == (
        BuildStateChanged(
            nvr="dummy-test-package-gloster-0-9242.fc37",
            state="COMPLETE",
            old_state="BUILDING",
            build_id=1994993,
            task_id=88890394,
            owner="packagerbot/os-master02.iad2.fedoraproject.org",
            epoch=None,
            source="git+https://src.fedoraproject.org/rpms/dummy-test-package-gloster.git"
            "#aaf707bc5671ab5e00c5618d95bfd83803ca54c0",
            change=ChangeKey(
                "rpms", "dummy-test-package-gloster", "aaf707bc5671ab5e00c5618d95bfd83803ca54c0"
            ),
        ),
    )


def test_build_state_change_source_from_task_request(corpus_dir: Path) -> None:
    result = _one(
        corpus_dir,
        "buildsys.build.state.change",
        lambda b: isinstance(b.get("task"), dict) and b["task"].get("id") == 42561864,
    )
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert fact.nvr == "chromium-80.0.3987.132-1.fc33"
    assert fact.task_id == 42561864
    assert fact.change == ChangeKey("rpms", "chromium", "5f8f367e482fe8e30711aea49bf2ecfd163d278f")


def test_fedmsg_era_git_url_with_query_marker(corpus_dir: Path) -> None:
    result = _one(corpus_dir, "buildsys.build.state.change", lambda b: b.get("build_id") == 966572)
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert fact.nvr == "slf4j-1.7.25-2.module_bd16c34d"
    assert (fact.state, fact.old_state) == ("BUILDING", None)
    assert fact.source == (
        "git://pkgs.fedoraproject.org/rpms/slf4j?#bd6275bd52f1dc34b659207f91dcc9fc6967815b"
    )
    assert fact.change == ChangeKey("rpms", "slf4j", "bd6275bd52f1dc34b659207f91dcc9fc6967815b")


def test_image_build_has_no_scm_source(corpus_dir: Path) -> None:
    result = _one(corpus_dir, "buildsys.build.state.change", lambda b: b.get("build_id") == 2417365)
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert fact.nvr == "Fedora-Python-Classroom-Vagrant-40-20240309.n.0"
    assert (fact.state, fact.old_state, fact.epoch) == ("BUILDING", None, 0)
    assert fact.source is None and fact.change is None


def test_old_build_without_instance_is_primary(corpus_dir: Path) -> None:
    result = _one(
        corpus_dir,
        "buildsys.build.state.change",
        lambda b: "instance" not in b and b.get("new") == 3 and "owner" not in b,
    )
    assert result.ignored is None
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert (fact.nvr, fact.state, fact.old_state) == (
        "eclipse-ptp-6.0.3-1.fc19",
        "FAILED",
        "BUILDING",
    )


@pytest.mark.parametrize("instance", ["s390", "ppc"])
def test_secondary_instance_is_ignored(corpus_dir: Path, instance: str) -> None:
    result = _one(
        corpus_dir, "buildsys.build.state.change", lambda b: b.get("instance") == instance
    )
    assert result.family == "koji"
    assert result.facts == ()
    assert result.ignored == f"koji instance {instance} is not primary"


def test_secondary_instance_tag_is_ignored(corpus_dir: Path) -> None:
    result = _one(corpus_dir, "buildsys.tag", lambda b: b.get("instance") == "s390")
    assert (result.facts, result.ignored) == ((), "koji instance s390 is not primary")


def test_tag_and_untag(corpus_dir: Path) -> None:
    tagged = _one(corpus_dir, "buildsys.tag", lambda b: b.get("build_id") == 1457909)
    assert tagged.facts == (
        BuildTagged(
            nvr="http-parser-2.9.3-1.fc31",
            tag="f31-updates-pending",
            build_id=1457909,
            user="bodhi",
            owner="sgallagh",
        ),
    )
    untagged = _one(corpus_dir, "buildsys.untag", lambda b: b.get("build_id") == 1478431)
    assert untagged.facts == (
        BuildUntagged(
            nvr="python-twisted-19.10.0-2.el8",
            tag="epel8-signing-pending",
            build_id=1478431,
            user="autopen",
            owner="eclipseo",
        ),
    )


def test_rpm_sign_modern_and_fedmsg(corpus_dir: Path) -> None:
    modern = _one(corpus_dir, "buildsys.rpm.sign", lambda b: b.get("sigkey") == "12c944d0")
    assert modern.facts == (
        BuildSigned(
            nvr="wine-5.4-1.fc32", sigkey="12c944d0", rpm="wine-opencl-debuginfo-5.4-1.fc32.aarch64"
        ),
    )
    old = _one(
        corpus_dir,
        "buildsys.rpm.sign",
        lambda b: (
            b.get("build", {}).get("nvr") == "template-glib-3.25.92-1.fc28"
            and b["rpm"]["arch"] == "s390x"
        ),
    )
    assert old.facts == (
        BuildSigned(
            nvr="template-glib-3.25.92-1.fc28",
            sigkey="9db62fb1",
            rpm="template-glib-debuginfo-3.25.92-1.fc28.s390x",
        ),
    )


def test_rpm_sign_without_build_nvr_is_a_problem(corpus_dir: Path) -> None:
    result = _one(corpus_dir, "buildsys.rpm.sign", lambda b: "info" in b)
    assert result.family == "koji"
    assert result.facts == ()
    assert any("607658" in p for p in result.problems)


def test_repo_init_and_done(corpus_dir: Path) -> None:
    init = _one(corpus_dir, "buildsys.repo.init", lambda b: True)
    assert init.facts == (KojiRepoChanged(tag="f19-build", repo_id=23456, state="init"),)
    done = _one(corpus_dir, "buildsys.repo.done", lambda b: b.get("repo_id") == 728809)
    assert done.facts == (
        KojiRepoChanged(tag="module-f0f7e44f3c6cccab-build", repo_id=728809, state="done"),
    )


def test_task_state_change_strings(corpus_dir: Path) -> None:
    closed = _one(
        corpus_dir,
        "buildsys.task.state.change",
        lambda b: b.get("id") == 45270170 and b.get("new") == "CLOSED",
    )
    assert closed.facts == (
        KojiTaskChanged(
            task_id=45270170,
            state="CLOSED",
            old_state="OPEN",
            method="build",
            owner="packit",
            parent=None,
        ),
    )
    failed = _one(corpus_dir, "buildsys.task.state.change", lambda b: b.get("new") == "FAILED")
    (fact,) = failed.facts
    assert isinstance(fact, KojiTaskChanged)
    assert (fact.task_id, fact.state, fact.old_state, fact.owner) == (
        6380373,
        "FAILED",
        "OPEN",
        "ralph",
    )


def test_task_state_change_ints_and_parent() -> None:
    result = _synthetic(
        "buildsys.task.state.change",
        {"id": "77", "new": 2, "old": 1, "method": "buildArch", "info": {"parent": 76}},
    )
    assert result.facts == (
        KojiTaskChanged(
            task_id=77, state="CLOSED", old_state="OPEN", method="buildArch", parent=76
        ),
    )


def test_package_list_change(corpus_dir: Path) -> None:
    result = _one(
        corpus_dir, "buildsys.package.list.change", lambda b: b.get("package") == "rust-dua-cli"
    )
    assert result.facts == (
        KojiPackageListChanged(
            tag="f31-build-side-20267", package="rust-dua-cli", action="add", owner="releng"
        ),
    )


@pytest.mark.parametrize(("new", "expected"), [("complete", "COMPLETE"), ("1", "COMPLETE")])
def test_state_as_string(new: str, expected: str) -> None:
    result = _synthetic(
        "buildsys.build.state.change",
        {"name": "bash", "version": "5.2", "release": "1.fc40", "new": new, "old": "0"},
    )
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert (fact.nvr, fact.state, fact.old_state) == ("bash-5.2-1.fc40", expected, "BUILDING")


def test_unknown_state_is_kept_with_a_problem() -> None:
    result = _synthetic(
        "buildsys.build.state.change",
        {"name": "bash", "version": "5.2", "release": "1.fc40", "new": 9},
    )
    (fact,) = result.facts
    assert isinstance(fact, BuildStateChanged)
    assert fact.state == "9"
    assert result.problems == ("unknown build state 9",)


def test_other_buildsys_topic_is_not_used() -> None:
    result = _synthetic("buildsys.build.import", {"instance": "primary"})
    assert (result.family, result.facts, result.ignored) == ("koji", (), "not used")


def test_build_without_nvr_is_a_problem() -> None:
    result = _synthetic("buildsys.build.state.change", {"new": 1, "name": "bash"})
    assert result.family == "koji"
    assert result.facts == ()
    assert result.problems


@pytest.mark.parametrize("body", ["not json", ["a", "list"], None, 42])
def test_garbage_body(body: Any) -> None:
    for suffix in ("buildsys.build.state.change", "buildsys.tag", "buildsys.something"):
        result = _synthetic(suffix, body)
        assert result.family == "koji"
        assert result.facts == ()
        assert len(result.problems) == 1
