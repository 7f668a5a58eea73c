"""The Bodhi translator against real ``bodhi.*`` messages from the corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import bodhi
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import BodhiComposeChanged, BodhiUpdateChanged
from tests import corpus

KBG = "bodhi.update.status.testing.koji-build-group.build.complete"


def _translate(envelope: Envelope) -> Translation:
    return corpus.claimed(bodhi.translate, envelope)


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


def test_every_bodhi_message_is_bodhi_and_others_are_not(corpus_dir: Path) -> None:
    seen = with_facts = 0
    for record in corpus.records(corpus_dir):
        envelope = corpus.envelope(record)
        result = bodhi.translate(envelope, envelope.suffix)
        if not envelope.suffix.startswith("bodhi."):
            assert result is None, record["topic"]
            continue
        seen += 1
        assert result is not None and result.family == "bodhi", record["topic"]
        assert result.facts or result.ignored or result.problems, record["topic"]
        with_facts += bool(result.facts)
        if envelope.suffix.startswith("bodhi.update."):
            fact = _fact(result)
            assert isinstance(fact, BodhiUpdateChanged)
            assert fact.action == envelope.suffix[len("bodhi.update.") :]
    assert seen == 58
    # 2 push starts naming no compose, 6 overrides, 2 stacks
    assert with_facts == seen - 10


def test_modern_complete_testing(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.update.complete.testing", lambda b: True)
    assert result.problems == ()
    assert _fact(result) == BodhiUpdateChanged(
        alias="FEDORA-2019-02cd019281",
        action="complete.testing",
        builds=("nfs-ganesha-2.7.4-1.fc29",),
        status="testing",
        request="testing",
        release="F29",
        user="composer",
        title="nfs-ganesha-2.7.4-1.fc29",
    )


def test_complete_stable(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.update.complete.stable", lambda b: True)
    fact = _fact(result)
    assert (fact.alias, fact.builds, fact.status, fact.request, fact.release) == (
        "FEDORA-2017-fe6e14dcf9",
        ("community-mysql-5.7.18-2.fc25",),
        "stable",
        None,
        "F25",
    )


def test_modern_comment_nests_the_update(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.update.comment", lambda b: "update" in b["comment"])
    fact = _fact(result)
    assert fact.alias == "FEDORA-2019-46910daf41"
    assert fact.builds == ("xdg-desktop-portal-1.4.2-1.fc30",)
    assert (fact.status, fact.request, fact.release, fact.user) == (
        "pending",
        "testing",
        "F30",
        "kalev",
    )


def test_2014_comment_keyed_by_title_with_problem(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        "bodhi.update.comment",
        lambda b: b["comment"].get("update_title") == "file-5.19-4.fc20",
    )
    (result,) = results
    assert result.problems == ("update has no alias; keyed by 'file-5.19-4.fc20'",)
    assert _fact(result) == BodhiUpdateChanged(
        alias="file-5.19-4.fc20",
        action="comment",
        builds=("file-5.19-4.fc20",),
        status="testing",
        user="hreindl",
        title="file-5.19-4.fc20",
    )


def test_fedmsg_era_request_testing_without_alias(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        "bodhi.update.request.testing",
        lambda b: b.get("update", {}).get("title") == "nethack-0.02-2.fc20",
    )
    fact = _fact(results[0])
    assert fact == BodhiUpdateChanged(
        alias="nethack-0.02-2.fc20",
        action="request.testing",
        builds=("nethack-0.02-2.fc20",),
        status="pending",
        request="testing",
        release="F20",
        user="pghmcfc",
        title="nethack-0.02-2.fc20",
    )
    assert results[0].problems


def test_edited_request_testing_infers_request_from_topic(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        "bodhi.update.request.testing",
        lambda b: b.get("update", {}).get("alias") == "FEDORA-2017-ea07abb5d5",
    )
    builds = {_fact(r).builds for r in results}
    assert builds == {("systemd-231-14.fc24",), ()}
    for result in results:
        fact = _fact(result)
        assert (fact.request, fact.release, fact.user) == ("testing", "F24", "msekleta")


def test_koji_build_group_with_update(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir, KBG, lambda b: b.get("update", {}).get("alias") == "FEDORA-EPEL-2023-3b5f9c33da"
    )
    assert _fact(results[0]) == BodhiUpdateChanged(
        alias="FEDORA-EPEL-2023-3b5f9c33da",
        action="status.testing.koji-build-group.build.complete",
        builds=("singularity-ce-3.11.3-1.el7",),
        status="testing",
        release="EPEL-7",
        user="tdawson",
    )


def test_koji_build_group_without_update_uses_artifact(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir, KBG, lambda b: "update" not in b and b["artifact"]["release"] == "f34"
    )
    fact = _fact(results[0])
    assert fact.alias == "FEDORA-2021-53a7dfa185"
    assert fact.builds == ("gdb-11.1-5.fc34",)
    assert (fact.release, fact.user, fact.status) == ("f34", "adamwill", "testing")


def test_koji_build_group_alias_from_artifact_id() -> None:
    result = _translate(
        Envelope(
            topic=f"org.fedoraproject.prod.{KBG}",
            body={
                "artifact": {
                    "id": "FEDORA-2024-0123456789-498dd481bbc67cb52be72b2b43953ba15443e1d8",
                    "builds": [{"nvr": "bash-5.2-1.fc40"}],
                    "type": "koji-build-group",
                }
            },
        )
    )
    assert _fact(result).alias == "FEDORA-2024-0123456789"


def test_edit_with_two_builds(corpus_dir: Path) -> None:
    results = _all(corpus_dir, "bodhi.update.edit", lambda b: "new_builds" in b)
    fact = _fact(results[0])
    assert fact.alias == "FEDORA-2017-e6d7184200"
    assert fact.builds == ("codec2-0.6-1.fc24", "freedv-1.2-1.fc24")


def test_eject_reads_top_level_release_and_request(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.update.eject", lambda b: True)
    assert _fact(result) == BodhiUpdateChanged(
        alias="fedmsg-0.2.7-2.el6",
        action="eject",
        builds=("fedmsg-0.2.7-2.el6",),
        status="testing",
        request="testing",
        release="EL6",
        user="ralph",
        title="fedmsg-0.2.7-2.el6",
    )


def test_karma_threshold(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        "bodhi.update.karma.threshold",
        lambda b: b["update"]["alias"] == "FEDORA-EPEL-2015-0238",
    )
    fact = _fact(results[0])
    assert (fact.alias, fact.builds, fact.release) == (
        "FEDORA-EPEL-2015-0238",
        ("tzdata-2014i-1.fc19",),
        "F19",
    )


def test_update_naming_nothing_is_a_problem() -> None:
    result = _translate(
        Envelope(topic="org.fedoraproject.prod.bodhi.update.edit", body={"agent": "x"})
    )
    assert (result.family, result.facts) == ("bodhi", ())
    assert result.problems == ("update message names no update",)


def test_compose_by_repo(corpus_dir: Path) -> None:
    (composing,) = _all(corpus_dir, "bodhi.compose.composing", lambda b: True)
    assert _fact(composing) == BodhiComposeChanged(
        compose="dist-6E-epel-testing",
        phase="compose.composing",
        updates=("sec-2.8.2-1.el6",),
        agent="releng",
    )
    (complete,) = _all(corpus_dir, "bodhi.compose.complete", lambda b: True)
    assert _fact(complete) == BodhiComposeChanged(
        compose="f29-updates-testing", phase="compose.complete", success=True, agent="releng"
    )
    (mashing,) = _all(corpus_dir, "bodhi.mashtask.mashing", lambda b: True)
    fact = _fact(mashing)
    assert fact.compose == "f29-modular-updates-testing"
    assert fact.updates == (
        "nodejs-12-2920190525130817.6c81f848",
        "cri-o-1.14-2920190527085840.6c81f848",
    )
    (repo_done,) = _all(corpus_dir, "bodhi.repo.done", lambda b: True)
    assert (_fact(repo_done).compose, _fact(repo_done).phase) == (
        "f29-updates-testing",
        "repo.done",
    )


def test_push_start_without_compose_is_ignored(corpus_dir: Path) -> None:
    for suffix in ("bodhi.compose.start", "bodhi.mashtask.start"):
        (result,) = _all(corpus_dir, suffix, lambda b: True)
        assert result.facts == ()
        assert result.ignored == f"{suffix[len('bodhi.') :]} names no compose"


def test_composer_start_lists_the_batch(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.composer.start", lambda b: True)
    fact = _fact(result)
    assert fact.phase == "composer.start"
    assert fact.compose.startswith("8-stable-rpm,23-stable-rpm,28-stable-rpm,29-stable-module")
    assert fact.compose.endswith("31-testing-flatpak,8-testing-rpm")
    assert fact.request is None  # mixed stable and testing


def test_dev_masher_start_keys_by_update_list(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.masher.start", lambda b: "updates" in b)
    fact = _fact(result)
    assert fact.compose.startswith("updates-")
    assert len(fact.updates) == 20
    assert fact.updates[0] == "qt-creator-3.4.1-3.fc23"


def test_errata_publish(corpus_dir: Path) -> None:
    (result,) = _all(corpus_dir, "bodhi.errata.publish", lambda b: True)
    assert _fact(result) == BodhiComposeChanged(
        compose="F19-testing",
        phase="errata.publish",
        updates=("tzdata-2014i-1.fc19",),
        release="F19",
        request="testing",
    )


@pytest.mark.parametrize(
    ("suffix", "release", "repo", "compose"),
    [
        ("bodhi.updates.fedora.sync", "29", "updates-testing", "f29-updates-testing"),
        ("bodhi.updates.epel.sync", "7", "epel-testing", "epel7-testing"),
        ("bodhi.updates.fedora.sync", "21", "atomic", "f21-atomic"),
    ],
)
def test_mirror_sync_keyed_like_bodhi_repos(
    corpus_dir: Path, suffix: str, release: str, repo: str, compose: str
) -> None:
    (result, *_) = _all(corpus_dir, suffix, lambda b: b["release"] == release and b["repo"] == repo)
    fact = _fact(result)
    assert (fact.compose, fact.phase, fact.release) == (compose, suffix[len("bodhi.") :], release)


def test_overrides_and_stacks_are_not_used(corpus_dir: Path) -> None:
    for suffix in ("bodhi.buildroot_override.tag", "bodhi.stack.save"):
        for result in _all(corpus_dir, suffix, lambda b: True):
            assert (result.facts, result.ignored) == ((), "not used for gating")


@pytest.mark.parametrize("body", ["garbage", [], None])
@pytest.mark.parametrize(
    "suffix", ["bodhi.update.comment", "bodhi.compose.complete", "bodhi.stack.save"]
)
def test_garbage_body(body: Any, suffix: str) -> None:
    result = _translate(Envelope(topic=f"org.fedoraproject.prod.{suffix}", body=body))
    assert result.family == "bodhi"
    assert result.facts == ()
    assert len(result.problems) == 1
