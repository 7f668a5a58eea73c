"""``relengotron ostree``: promote only to a commit whose compose gate passed (the
composer's record of an OSTree compose naming the commit), on a real repository."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from tests.e2e.test_composes import ComposeSite, csite  # noqa: F401  (the fixture)
from tests.e2e.test_release_lifecycle import ROOT, commit, ostree

SOURCE, TARGET = "fedora/rawhide/x86_64/iot", "fedora/rawhide/x86_64/stable/iot"


def test_promote_waits_for_the_compose_gate(csite: ComposeSite, tmp_path: Path) -> None:  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    ostree(repo, "init", "--mode=archive")
    first = commit(repo, SOURCE, tmp_path / "tree", "one")
    args = ("ostree", "promote", SOURCE, "--to", TARGET, "--repo", str(repo))

    code, out = csite.cli(*args)
    assert code == 1 and out["outcome"] == "refused"
    assert "no OSTree compose names commit" in out["detail"]
    assert "stable" not in ostree(repo, "refs")

    # The OSTree is composed through the composer (see test_composes): the repository
    # first, then the OSTree, finished by a compose message naming the commit.
    csite.promote(["bash-5.3-1.fc44"])
    csite.act()
    csite.act()
    csite.finish("rawhide-repo#1")
    csite.act()
    code, out = csite.cli(*args)
    assert code == 1 and "no OSTree compose names" in out["detail"]  # still composing
    csite.ingest([csite.bus.compose_status(f"ostree:{SOURCE}@{first}", "FINISHED",
                                           target=SOURCE)])  # fmt: skip
    code, out = csite.cli(*args)
    assert code == 0, out
    assert out["outcome"] == "done" and ostree(repo, "rev-parse", TARGET) == first
    code, out = csite.cli(*args)
    assert code == 0 and out["outcome"] == "already"

    # A newer commit without a compose is refused; the target stays.
    second = commit(repo, SOURCE, tmp_path / "tree", "two")
    code, out = csite.cli(*args)
    assert code == 1 and second[:12] in out["detail"]
    assert ostree(repo, "rev-parse", TARGET) == first


WRAPPER = """#!/bin/sh
# ostree, held before it deletes refs (the test kills the command there)
case "$*" in *"refs --delete"*) touch "$MARKER"; sleep 60;; esac
exec {real} "$@"
"""


@pytest.mark.parametrize("finisher", ["the same command", "act"])
def test_archive_killed_before_deleting_refs_is_finished_by_the_next_run(
    tmp_path: Path, finisher: str
) -> None:
    """kill -9 of ``relengotron ostree archive`` after ``pull-local`` copied the refs and
    before they were deleted: the action stays requested; the next run (the same
    command, or the effector's ``act``) copies again (a no-op), deletes and completes
    it; one Requested and one Completed event."""
    repo, archive = tmp_path / "repo", tmp_path / "archive"
    repo.mkdir()
    ostree(repo, "init", "--mode=archive")
    refs = [f"fedora/43/{a}/iot" for a in ("x86_64", "aarch64")]
    heads = [commit(repo, r, tmp_path / r, r) for r in refs]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ostree").write_text(WRAPPER.format(real=shutil.which("ostree")))
    (bindir / "ostree").chmod(0o755)
    marker = tmp_path / "deleting"
    db = f"sqlite:///{tmp_path / 'store.db'}"
    argv = [sys.executable, "-m", "relengotron", "ostree", "archive", "fedora/43",
            "--repo", str(repo), "--archive-repo", str(archive), "--db", db, "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARKER": str(marker),
           "PATH": f"{bindir}:{os.environ['PATH']}"}  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert marker.exists(), "the command never reached the deletion"
    assert sorted(ostree(repo, "refs").split()) == sorted(refs)  # not deleted yet

    env["PATH"] = os.environ["PATH"]
    if finisher == "act":
        act = [sys.executable, "-m", "relengotron", "act", "--db", db, "--json"]
        done = subprocess.run(act, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (row,) = json.loads(done.stdout)["done"]
        assert row["kind"] == "ostree.archive" and row["outcome"] == "done"
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    if finisher == "act":
        assert out["outcome"] == "already"
    else:
        assert out["outcome"] == "done" and sorted(out["result"]["refs"]) == sorted(refs)
    assert ostree(repo, "refs") == ""
    assert [ostree(archive, "rev-parse", r) for r in refs] == heads
    app = open_app(db)
    try:
        events = app.recorder.select_events(ids.action_id(out["action"]))
        assert [e.topic.rsplit(".", 1)[1] for e in events] == ["Requested", "Completed"]
    finally:
        app.close()
