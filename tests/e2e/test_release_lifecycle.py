"""A release branched and brought to its End Of Life, each in one command, end to end:
the real CLI on a SQLite store against fakes speaking each system's protocol (koji's
XML-RPC hub, Bodhi's releases API, Pagure's branch API, Bugzilla's XML-RPC through
python-bugzilla), real OSTree repositories (``ostree init``/``commit``) and rsync.

Fakes follow their sources: koji's hub calls (tests/fakekoji_admin.py), Bodhi's
``bodhi/server/services/releases.py`` and ``schemas.py:SaveReleaseSchema`` (mirror
fedora-infra/bodhi), python-bugzilla 3.x's XML-RPC backend (``_backendxmlrpc.py``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.cli.main import main
from tests.crashing import Killer, last_position
from tests.fakekoji import FakeKojiHub
from tests.fakerelease import TAG_TYPES, TOKEN, FakeBodhi, FakeBugzilla, FakePagure

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["bash", "systemd", "kernel"]
POLICY = """--- !Policy
id: f44_gate
product_versions:
  - fedora-44
decision_contexts: [bodhi_update_push_stable]
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: fedora-ci.koji-build.tier0.functional}
"""
DEFINITIONS = """
- name: rawhide-repo
  kind: repo
  release: rawhide
  arches: [x86_64]
  tags: [rawhide]
- name: rawhide-iot
  kind: ostree
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [bash]
  match: {ostree_ref: fedora/rawhide/x86_64/iot}
"""


def ostree(repo: Path, *args: str) -> str:
    return subprocess.run(["ostree", f"--repo={repo}", *args], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def commit(repo: Path, ref: str, tree: Path, content: str) -> str:
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "usr-file").write_text(content)
    ostree(repo, "commit", "-b", ref, f"--tree=dir={tree}", "-s", content)
    return ostree(repo, "rev-parse", ref)


class World:
    def __init__(self, tmp: Path, hub: FakeKojiHub) -> None:
        self.tmp, self.hub = tmp, hub
        self.bodhi = FakeBodhi(koji=hub).start()
        self.pagure = FakePagure({f"rpms/{p}": ["rawhide"] for p in PACKAGES}).start()
        self.bugzilla = FakeBugzilla(versions=("43", "44", "rawhide")).start()
        (tmp / "token").write_text(TOKEN + "\n")
        self.policies = tmp / "policies"
        self.policies.mkdir()
        (self.policies / "gate.yaml").write_text(POLICY)
        self.artifacts = tmp / "artifacts"
        self.artifacts.mkdir()
        (self.artifacts / "rawhide.yaml").write_text(DEFINITIONS)
        self.mirrors, self.archive = tmp / "pub", tmp / "archive"
        self.repo, self.archive_repo = tmp / "ostree", tmp / "ostree-archive"
        self.repo.mkdir()
        ostree(self.repo, "init", "--mode=archive")
        self.rawhide = commit(self.repo, "fedora/rawhide/x86_64/iot", tmp / "t1", "rawhide")
        self.db = f"sqlite:///{tmp / 'store.db'}"
        self.config = tmp / "relengotron.toml"
        self.config.write_text(f"""
[koji]
hub = "{hub.url}"
auth = "none"
timeout = 5
retries = 1
backoff = 0.01

[gating]
policies = "{self.policies}"

[artifacts]
definitions = "{self.artifacts}"

[release]
mirrors = "{self.mirrors}"
archive = "{self.archive}"
arches = ["x86_64", "aarch64"]
packages = {json.dumps(PACKAGES)}

[release.bodhi]
url = "{self.bodhi.url}"
token_file = "{tmp / "token"}"

[release.bugzilla]
url = "{self.bugzilla.xmlrpc_url}"
api_key_file = "{tmp / "token"}"
batch = 2

[release.distgit]
url = "{self.pagure.url}"
token_file = "{tmp / "token"}"

[release.ostree]
repo = "{self.repo}"
archive_repo = "{self.archive_repo}"
""")

    def stop(self) -> None:
        for s in (self.bodhi, self.pagure, self.bugzilla):
            s.stop()

    def argv(self, *argv: str) -> list[str]:
        return [*argv, "--db", self.db, "--config", str(self.config), "--json"]

    def cli(self, capsys: Any, *argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = main(self.argv(*argv))
        out = capsys.readouterr().out
        return code, json.loads(out)


@pytest.fixture
def world(tmp_path: Path, fake_koji: FakeKojiHub) -> Iterator[World]:
    w = World(tmp_path, fake_koji)
    try:
        yield w
    finally:
        w.stop()


def statuses(out: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in out["steps"]}


def test_dry_run_prints_the_plan_and_changes_nothing(world: World, capsys: Any) -> None:
    code, out = world.cli(capsys, "release", "branch", "45", "--dry-run")
    assert code == 0
    ids = [s["id"] for s in out["steps"]]
    assert ids[0] == "koji.tag:f45" and "koji.target:f45" in ids
    assert {s["system"] for s in out["steps"]} == {
        "koji",
        "bodhi",
        "distgit",
        "bugzilla",
        "policies",
        "artifacts",
        "mirrors",
        "ostree",
    }
    assert set(statuses(out).values()) == {"pending"}
    # Nothing asked of the world, nothing recorded.
    assert world.hub.tag_info("f45") is None and world.bodhi.calls == []
    assert world.pagure.calls == [] and not world.mirrors.exists()
    code, out = world.cli(capsys, "release", "branch", "45", "--dry-run")
    assert out["resumed"] is False


def test_branch_stops_at_a_failure_and_resumes_there(world: World, capsys: Any) -> None:
    # Bugzilla has no version 45 yet: the run stops at that step with the reason.
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 1
    st = statuses(out)
    assert st["bugzilla.version:45"] == "failed"
    assert "no version 45" in out["stopped"]
    assert all(v == "done" for k, v in st.items() if k.startswith(("koji", "bodhi", "distgit")))
    assert "policies.add:fedora-45" not in st  # not reached
    assert world.hub.tag_info("f45-build")["arches"] == "x86_64 aarch64"
    assert [p["name"] for p in world.hub._api_getInheritanceData("f45-build")] == ["f45-override"]
    assert world.hub._api_getBuildTarget("f45")["dest_tag_name"] == "f45-updates-candidate"
    assert world.bodhi.releases["F45"]["state"] == "pending"
    assert all("f45" in b for b in world.pagure.branches.values())
    koji_calls = len(world.hub.calls)
    # The admins add the version; the same command resumes at the failed step.
    world.bugzilla.versions.append("45")
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 0, out
    assert out["resumed"] and out["finished"]
    earlier = [s for s in out["steps"] if s.get("earlier")]
    assert {s["id"] for s in earlier} == {k for k, v in st.items() if v == "done"}
    assert len(world.hub.calls) == koji_calls  # the koji steps were not redone
    assert "  - fedora-45\n" in (world.policies / "gate.yaml").read_text()
    cloned = (world.artifacts / "f45-branched.yaml").read_text()
    assert "fedora/45/x86_64/iot" in cloned and "release: f45" in cloned
    assert (world.mirrors / "updates/testing/45/Everything/aarch64").is_dir()
    assert ostree(world.repo, "rev-parse", "fedora/45/x86_64/iot") == world.rawhide
    # A finished run answers from the record.
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 0 and out["finished"] and len(world.hub.calls) == koji_calls


def test_eol_of_a_branched_release(world: World, capsys: Any) -> None:
    world.bugzilla.versions.append("45")
    assert world.cli(capsys, "release", "branch", "45")[0] == 0
    open_bugs = [world.bugzilla.add_bug("45") for _ in range(5)]
    closed_before = world.bugzilla.add_bug("45", status="CLOSED")
    other = world.bugzilla.add_bug("44")
    (world.mirrors / "releases/45/Everything/x86_64/os/Packages").mkdir(parents=True)
    (world.mirrors / "releases/45/Everything/x86_64/os/Packages/bash.rpm").write_text("rpm")
    code, out = world.cli(capsys, "release", "eol", "45", "--dry-run")
    assert code == 0 and set(statuses(out).values()) == {"pending"}
    code, out = world.cli(capsys, "release", "eol", "45")
    assert code == 0, out["stopped"]
    assert code == 0, out
    st = statuses(out)
    assert st["koji.drop-target:f45"] == "done" and world.hub.target_names() == []
    assert world.hub.tag_info("f45-updates")["perm"] == "admin"
    assert world.bodhi.releases["F45"]["state"] == "archived"
    assert all(world.bugzilla.bugs[b]["status"] == "CLOSED" for b in open_bugs)
    assert all(world.bugzilla.bugs[b]["resolution"] == "EOL" for b in open_bugs)
    assert "end-of-life" in world.bugzilla.comments[open_bugs[0]][0]
    assert [len(u) for u in world.bugzilla.updates] == [2, 2, 1]  # batches of 2
    assert closed_before not in world.bugzilla.comments and other not in world.bugzilla.comments
    assert "fedora-45" not in (world.policies / "gate.yaml").read_text()
    assert ostree(world.archive_repo, "rev-parse", "fedora/45/x86_64/iot") == world.rawhide
    assert "fedora/45" not in ostree(world.repo, "refs")
    assert (
        world.archive / "releases/45/Everything/x86_64/os/Packages/bash.rpm"
    ).read_text() == "rpm"
    assert not (world.mirrors / "releases/45").exists()
    assert st["content.archive:updates/45"] == "done"  # the empty trees made at branching


def test_kill_9_mid_run_resumes_without_redoing_steps(world: World, capsys: Any) -> None:
    """The command is killed with SIGKILL after Bodhi created the release and before it
    answered (so before the step was recorded), koji's steps recorded; the next run
    finds the release there (``already``) and finishes; no koji call is made twice,
    no Bodhi release created twice."""
    world.bugzilla.versions.append("45")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "relengotron", *world.argv("release", "branch", "45")]
    world.bodhi.hold["POST /releases/"] = 30.0
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while "POST /releases/" not in world.bodhi.done and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert "POST /releases/" in world.bodhi.done, "the run never reached Bodhi"
    world.bodhi.hold.clear()
    creates = [c for c in world.hub.calls if c[0] == "createTag"]
    assert len(creates) == 11
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 0, out
    assert out["resumed"] and out["finished"]
    assert statuses(out)["bodhi.release:F45"] == "already"
    assert [c for c in world.hub.calls if c[0] == "createTag"] == creates
    assert world.bodhi.calls.count("POST /releases/") == 1
    assert world.bodhi.releases["F45"]["state"] == "pending"


def test_a_failing_system_stops_the_run_with_its_answer(world: World, capsys: Any) -> None:
    """Bodhi answers 500 to the release's creation: the run stops there with Bodhi's
    answer, the steps after it are not reached; the next run resumes at the Bodhi step."""
    world.bugzilla.versions.append("45")
    world.bodhi.fail["POST /releases/"] = 500
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 1
    assert out["stopped"].startswith("bodhi.release:F45: Bodhi POST releases/: 500")
    assert [s["id"] for s in out["steps"]][-1] == "bodhi.release:F45"
    assert world.pagure.calls == []
    code, out = world.cli(capsys, "release", "branch", "45")
    assert code == 0 and out["finished"]
    assert statuses(out)["bodhi.release:F45"] == "done"


def test_the_bodhi_release_names_the_tags_the_koji_steps_create(world: World, capsys: Any) -> None:
    """Bodhi validates each tag type of a release against koji (``validate_tags``; the
    fake does too): every one is a tag the koji steps create before the Bodhi step."""
    code, out = world.cli(capsys, "release", "branch", "45", "--dry-run")
    assert code == 0
    ids_ = [s["id"] for s in out["steps"]]
    body = out["steps"][ids_.index("bodhi.release:F45")]["params"]["release"]
    created = [s["params"]["tag"] for s in out["steps"][: ids_.index("bodhi.release:F45")]
               if s["id"].startswith("koji.tag:")]  # fmt: skip
    assert {body[f"{k}_tag"] for k in TAG_TYPES} <= set(created)
    assert body["pending_signing_tag"] in created and body["dist_tag"] == "f45"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 2021])
def test_killed_anywhere_the_branch_and_eol_end_as_a_clean_run(
    world: World, tmp_path: Path, seed: int, capsys: Any
) -> None:
    """``tests.crashing.Killer``: each command killed with SIGKILL at seeded random points
    of its commits (aimed by the store's event count, known from the plan: one Planned,
    one StepDone per step, one Finished), then run to its end. Every system ends as one
    clean run leaves it, and no write is made twice: each tag and target created once,
    one Bodhi release created and one archived, one branch per package, each bug
    closed once."""
    world.bugzilla.versions.append("45")
    bugs = [world.bugzilla.add_bug("45") for _ in range(5)]
    killer = Killer(random.Random(seed), tmp_path)
    for operation in ("branch", "eol"):
        steps = len(world.cli(capsys, "release", operation, "45", "--dry-run")[1]["steps"])
        argv = [sys.executable, "-m", "relengotron",
                *world.argv("release", operation, "45")]  # fmt: skip
        before = _events(world.db)
        # every other kill waits for the run's own commits (the step records)
        result = killer.run(
            argv, url=world.db, goal=before + steps + 2, kills=4, deciding=before + 1
        )
        assert result.returncode == 0, result.stderr[-2000:]
        out = json.loads(result.stdout)
        assert out["finished"] and len(out["steps"]) == steps
    assert killer.points >= 1, killer.log
    calls = [c[0] for c in world.hub.calls]
    assert calls.count("createTag") == 11 and calls.count("createBuildTarget") == 3
    assert calls.count("deleteBuildTarget") == 3 and calls.count("editTag2") == 11
    assert world.bodhi.calls.count("POST /releases/") == 2  # created, archived
    assert world.bodhi.releases["F45"]["state"] == "archived"
    posts = [c for c in world.pagure.calls if c.startswith("POST")]
    assert sorted(posts) == sorted(f"POST /api/0/rpms/{p}/git/branch" for p in PACKAGES)
    assert all(len(world.bugzilla.comments[b]) == 1 for b in bugs)
    assert "fedora/45" not in ostree(world.repo, "refs")
    assert ostree(world.archive_repo, "rev-parse", "fedora/45/x86_64/iot") == world.rawhide


def _events(url: str) -> int:
    return max(last_position(url), 0)
