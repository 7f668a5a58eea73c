"""The dist-git translator against real ``git.receive`` / ``pagure.git.receive`` messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.translate import distgit
from relengotron.adapters.translate.base import Envelope, Translation
from relengotron.domain.facts import ChangeKey, ChangePushed
from tests import corpus

SUFFIXES = ("git.receive", "pagure.git.receive")


def _translate(envelope: Envelope) -> Translation:
    return corpus.claimed(distgit.translate, envelope)


def _all(corpus_dir: Path, topic_end: str, match: Callable[[Any], bool]) -> list[Translation]:
    return [
        _translate(corpus.envelope(r))
        for r in corpus.records(corpus_dir)
        if r["topic"].endswith(topic_end) and match(r["body"])
    ]


def test_every_push_message_is_dist_git_and_others_are_not(corpus_dir: Path) -> None:
    seen = with_facts = 0
    for record in corpus.records(corpus_dir):
        envelope = corpus.envelope(record)
        result = distgit.translate(envelope, envelope.suffix)
        if envelope.suffix not in SUFFIXES:
            assert result is None, record["topic"]
            continue
        seen += 1
        assert result is not None and result.family == "dist-git", record["topic"]
        assert result.facts or result.ignored or result.problems, record["topic"]
        with_facts += bool(result.facts)
    assert seen == 14
    assert with_facts == 11


def test_fedmsg_era_git_receive(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir, ".git.receive", lambda b: b.get("commit", {}).get("repo") == "php-simplepie"
    )
    assert result.problems == ()
    assert result.facts == (
        ChangePushed(
            change=ChangeKey("rpms", "php-simplepie", "81e09b9c83e8550b54a64c7bdb4e5d7b534df058"),
            branch="f24",
            agent="trasher",
            summary="Last upstream release",
            files=(".gitignore", "php-simplepie.spec", "sources"),
        ),
    )


def test_git_receive_other_namespaces(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        ".git.receive",
        lambda b: b.get("commit", {}).get("rev") == "e1f39d43471fc37ec82616f76a119da4eddec787",
    )
    changes = {fact.change for r in results for fact in r.facts if isinstance(fact, ChangePushed)}
    assert changes == {
        ChangeKey("container", "testimage", "e1f39d43471fc37ec82616f76a119da4eddec787"),
        ChangeKey("modules", "testmodule", "e1f39d43471fc37ec82616f76a119da4eddec787"),
    }


def test_packit_git_receive(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        ".git.receive",
        lambda b: b.get("commit", {}).get("summary", "").startswith("[packit]"),
    )
    (fact,) = results[0].facts
    assert fact == ChangePushed(
        change=ChangeKey("rpms", "packit", "ad0c308af91da45cf40b253cd82f07f63ea9cbbf"),
        branch="f36",
        agent="pagure",
        summary="[packit] 0.50.0 upstream release",
        files=(".gitignore", "README.packit", "packit.spec", "plans/main.fmf", "sources"),
    )


def test_pagure_git_receive_on_dist_git(corpus_dir: Path) -> None:
    results = _all(
        corpus_dir,
        "org.fedoraproject.prod.pagure.git.receive",
        lambda b: b.get("repo", {}).get("name") == "packit",
    )
    assert len(results) == 2
    for result in results:
        assert result.facts == (
            ChangePushed(
                change=ChangeKey("rpms", "packit", "ad0c308af91da45cf40b253cd82f07f63ea9cbbf"),
                branch="f36",
                agent="pagure",
            ),
        )


def test_pagure_fork_push_is_ignored(corpus_dir: Path) -> None:
    (result,) = _all(
        corpus_dir, "pagure.git.receive", lambda b: b.get("repo", {}).get("name") == "nispor"
    )
    assert result.family == "dist-git"
    assert result.facts == ()
    assert result.ignored == "push to a fork (forks/packit/rpms/nispor), not dist-git"


def test_pagure_io_push_is_ignored(corpus_dir: Path) -> None:
    results = _all(corpus_dir, "io.pagure.prod.pagure.git.receive", lambda b: True)
    assert len(results) == 2
    for result in results:
        assert result.facts == ()
        assert result.ignored == "pagure.io project push (pagure), not dist-git"


def test_refs_heads_branch_is_stripped_and_fullname_parsed() -> None:
    result = _translate(
        Envelope(
            topic="org.fedoraproject.prod.pagure.git.receive",
            body={
                "agent": "someone",
                "branch": "refs/heads/rawhide",
                "end_commit": "ABCDEF1234567",
                "repo": {"fullname": "rpms/bash", "parent": None},
                "changed_files": {"bash.spec": "M", "sources": "M"},
            },
        )
    )
    assert result.facts == (
        ChangePushed(
            change=ChangeKey("rpms", "bash", "abcdef1234567"),
            branch="rawhide",
            agent="someone",
            files=("bash.spec", "sources"),
        ),
    )


def test_modern_git_hook_agent_at_top_level() -> None:
    result = _translate(
        Envelope(
            topic="org.fedoraproject.prod.git.receive",
            body={
                "agent": "alice",
                "commit": {
                    "repo": "bash",
                    "rev": "0123456789abcdef0123456789abcdef01234567",
                    "namespace": None,
                    "path": "/srv/git/repositories/rpms/bash.git",
                    "branch": "refs/heads/f40",
                    "username": "bob",
                    "summary": "Rebuild",
                    "stats": {"files": {"bash.spec": {}}},
                },
            },
        )
    )
    (fact,) = result.facts
    assert isinstance(fact, ChangePushed)
    assert fact.change == ChangeKey("rpms", "bash", "0123456789abcdef0123456789abcdef01234567")
    assert (fact.branch, fact.agent, fact.files) == ("f40", "alice", ("bash.spec",))


def test_git_receive_without_commit_is_a_problem() -> None:
    result = _translate(Envelope(topic="org.fedoraproject.prod.git.receive", body={"agent": "x"}))
    assert (result.family, result.facts) == ("dist-git", ())
    assert result.problems == ("git.receive body has no commit object",)


@pytest.mark.parametrize("body", ["garbage", [1, 2], None])
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_garbage_body(body: Any, suffix: str) -> None:
    result = _translate(Envelope(topic=f"org.fedoraproject.prod.{suffix}", body=body))
    assert result.family == "dist-git"
    assert result.facts == ()
    assert len(result.problems) == 1
