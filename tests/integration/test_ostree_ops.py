"""OSTree operations as outbox actions on real repositories (``ostree init``/``commit``):
a release tag never moves, a promote is a fast-forward or nothing, archive moves refs
with ``pull-local``, gc lists and prunes beyond the kept commits, and an action left
pending by a killed run is completed by the next one without a second write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.lifecycle import ostree_ops
from relengotron.adapters.lifecycle.ostree import Repo
from relengotron.adapters.services import ostree as service
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from relengotron.domain.outbox import Action
from tests.e2e.test_release_lifecycle import commit, ostree

REF = "fedora/44/x86_64/iot"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    a = open_app(f"sqlite:///{tmp_path / 'store.db'}")
    yield a
    a.close()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    (tmp_path / "repo").mkdir()
    ostree(tmp_path / "repo", "init", "--mode=archive")
    return Repo(tmp_path / "repo")


def test_a_release_tag_never_moves(app: Any, repo: Repo, tmp_path: Path) -> None:
    one = commit(repo.path, REF, tmp_path / "t", "one")
    row = service.tag(app, repo, "fedora/44/x86_64/release/iot", REF)
    assert row["outcome"] == "done" and repo.resolve("fedora/44/x86_64/release/iot") == one
    action = app.repository.get(ids.action_id(row["action"]))
    assert action.done and action.kind == ostree_ops.TAG
    assert service.tag(app, repo, "fedora/44/x86_64/release/iot", REF)["outcome"] == "already"
    commit(repo.path, REF, tmp_path / "t", "two")
    with pytest.raises(ostree_ops.Refused, match="never moves"):
        service.tag(app, repo, "fedora/44/x86_64/release/iot", REF)
    assert repo.resolve("fedora/44/x86_64/release/iot") == one


def test_promote_is_a_fast_forward_or_nothing(app: Any, repo: Repo, tmp_path: Path) -> None:
    one = commit(repo.path, REF, tmp_path / "t", "one")
    repo.set_ref("stable", one)
    other = commit(repo.path, "elsewhere", tmp_path / "u", "unrelated")
    with pytest.raises(ostree_ops.Refused, match="not a fast-forward"):
        ostree_ops.carry_out(app, ostree_ops.PROMOTE, repo, {"to": "stable", "commit": other}, "x")
    key = ostree_ops.action_key(ostree_ops.PROMOTE, repo, {"to": "stable", "commit": other})
    assert not app.recorder.select_events(ids.action_id(key))  # refused: nothing requested
    two = commit(repo.path, REF, tmp_path / "t", "two")
    row = ostree_ops.carry_out(app, ostree_ops.PROMOTE, repo, {"to": "stable", "commit": two}, "x")
    assert row["outcome"] == "done" and repo.resolve("stable") == two


def test_an_action_left_pending_by_a_kill_is_completed_once(
    app: Any, repo: Repo, tmp_path: Path
) -> None:
    """The state a SIGKILL leaves between the write and the record: the action requested,
    the ref moved, no outcome. The next run completes it as ``already``."""
    one = commit(repo.path, REF, tmp_path / "t", "one")
    params = {"name": "fedora/44/release", "commit": one}
    key = ostree_ops.action_key(ostree_ops.TAG, repo, params)
    app.save(Action(key, ostree_ops.TAG, params, None, "tag", None, "2026-12-06T00:00:00+00:00"))
    repo.set_ref("fedora/44/release", one)
    row = ostree_ops.carry_out(app, ostree_ops.TAG, repo, params, "tag")
    assert row["outcome"] == "already"
    events = app.recorder.select_events(ids.action_id(key))
    assert [e.topic for e in events] == ["domain.outbox:Action.Requested",
                                         "domain.outbox:Action.Completed"]  # fmt: skip


def test_archive_moves_refs_to_the_archive_repository(app: Any, repo: Repo, tmp_path: Path) -> None:
    one = commit(repo.path, REF, tmp_path / "t", "one")
    commit(repo.path, "fedora/45/x86_64/iot", tmp_path / "u", "keep")
    target = Repo(tmp_path / "archive")
    dry = service.archive(app, repo, "fedora/44", target, dry_run=True)
    assert dry["outcome"] == "would-do" and dry["refs"] == [REF]
    assert repo.resolve(REF) == one
    row = service.archive(app, repo, "fedora/44", target)
    assert row["outcome"] == "done" and target.resolve(REF) == one
    assert repo.refs() == ["fedora/45/x86_64/iot"]
    assert "no errors found" in ostree(target.path, "fsck")
    assert service.archive(app, repo, "fedora/44", target)["outcome"] == "already"


def test_gc_lists_then_prunes_beyond_the_kept_commits(app: Any, repo: Repo, tmp_path: Path) -> None:
    commits = [commit(repo.path, REF, tmp_path / "t", f"c{i}") for i in range(4)]
    repo.set_ref("fedora/44/release", commits[0])  # a tag keeps its commit
    dry = service.gc(app, repo, 2, dry_run=True)
    assert dry["would_go"] == {REF: [commits[1]]}
    assert repo.history(REF) == commits[::-1]  # nothing changed
    row = service.gc(app, repo, 2)
    assert row["outcome"] == "done"
    assert repo.history(REF) == commits[:1:-1]  # the newest two
    assert repo.resolve("fedora/44/release") == commits[0]
    assert service.gc(app, repo, 2)["outcome"] == "already"
