"""Composes end to end: promoted builds and Bodhi pushes -> compose requests -> releases.

Real CLI, SQLite store, the fake koji hub for the tag moves, and a compose
backend that is a real command (a script in the test's directory that logs
what it was asked and answers like a backend does). Completion comes back as
messages, as it would from pungi, ODCS or our own backends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_gating import PROMOTED, QUARANTINE, Site
from tests.fakekoji import FakeKojiHub

DEFINITIONS = """
- name: rawhide-repo
  kind: repo
  release: rawhide
  arches: [x86_64]
  tags: [rawhide]
- name: iot-ostree
  kind: ostree
  compose: {backend: command}
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [bash, systemd]
  match: {ostree_ref: fedora/rawhide/x86_64/iot}
- name: iot-qcow2
  kind: qcow2
  compose: {backend: command}
  release: rawhide
  arches: [x86_64]
  built_from: [iot-ostree]
- name: cloud-qcow2
  kind: qcow2
  compose: {backend: command}
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [cloud-init]
- name: f40-updates-testing
  kind: repo
  release: f40
  arches: [x86_64]
  tags: [f40-updates-testing]
  bodhi: {release: F40, request: testing}
  tests: [fedora-ci.repo.sanity.functional]
- name: f40-cloud
  kind: qcow2
  compose: {backend: command}
  release: f40
  arches: [x86_64]
  repositories: [f40-updates-testing]
  packages: [bash, cloud-init]
  tests: [fedora-ci.cloud.boot.functional]
"""

BACKEND = """
import json, os, sys
order = json.load(sys.stdin)
with open(os.environ["LOG"], "a") as log:
    log.write(json.dumps({"compose": order["compose"], "changes": os.environ["RELENGOTRON_CHANGES"],
                          "push": order.get("push")}) + "\\n")
print(json.dumps({"ref": "cmd:" + order["compose"], "status": "STARTED"}))
"""

RELEASE = """
import os, sys
with open(os.environ["LOG"], "a") as log:
    log.write("release " + os.environ["RELENGOTRON_PUSH"] + "\\n")
sys.exit(int(os.environ.get("RELEASE_EXIT", "0")))
"""


class ComposeSite(Site):
    def __init__(self, tmp: Path, hub: FakeKojiHub, capsys: Any, release: bool = True) -> None:
        super().__init__(tmp, hub, capsys)
        (tmp / "artifacts").mkdir()
        (tmp / "artifacts" / "all.yaml").write_text(DEFINITIONS)
        (tmp / "backend.py").write_text(BACKEND)
        (tmp / "release.py").write_text(RELEASE)
        self.log = tmp / "backend.log"
        argv = json.dumps([sys.executable, str(tmp / "backend.py")])
        kinds = "\n".join(f'{k} = "command"' for k in ("repo", "ostree", "qcow2", "container"))
        extra = f"""
[artifacts]
definitions = "{tmp / "artifacts"}"

[compose.kinds]
{kinds}

[compose.command]
argv = {argv}
timeout = 30
"""
        if release:
            extra += f"""
[push]
release = {json.dumps([sys.executable, str(tmp / "release.py")])}
timeout = 30
"""
        self.config.write_text(self.config.read_text() + extra)
        code, out = self.cli("artifacts", "sync")
        assert code == 0, out

    def requested(self) -> list[dict[str, Any]]:
        """What the backend was asked, in order."""
        if not self.log.exists():
            return []
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.startswith("{")]

    def finish(self, compose: str, status: str = "FINISHED") -> dict[str, Any]:
        return self.ingest([self.bus.compose_status(f"cmd:{compose}", status, compose=compose)])

    def artifacts(self) -> dict[str, dict[str, Any]]:
        code, out = self.cli("artifacts")
        assert code == 0, out
        return {a["name"]: a for a in out["artifacts"]}

    def promote(self, builds: list[str]) -> None:
        msgs = [m for b in builds for m in self.new_build(b)]
        msgs += [m for b in builds for m in self.bus.passing(b)]
        msgs.append(self.bus.group_check("snapshot-1", builds, "passed"))
        self.ingest(msgs)


@pytest.fixture
def csite(tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, monkeypatch: Any) -> ComposeSite:
    monkeypatch.setenv("LOG", str(tmp_path / "backend.log"))
    for tag in ("f40-updates-testing",):
        fake_koji.add_tag(tag)
    return ComposeSite(tmp_path, fake_koji, capsys)


def test_promoted_builds_compose_affected_artifacts_parents_first(csite: ComposeSite) -> None:
    builds = ["bash-5.3-1.fc44", "vim-9.1-1.fc44"]
    csite.promote(builds)
    # Nothing is requested before the builds are really in the promoted tag.
    csite.act()
    assert [csite.hub.tags_of(b) for b in builds] == [[PROMOTED], [PROMOTED]]
    assert csite.requested() == []
    states = csite.artifacts()  # the composer has seen the moves: the request is recorded
    assert states["rawhide-repo"]["state"] == "requested"
    assert states["iot-ostree"]["last_compose"]["waits_for"] == ["rawhide-repo#1"]
    assert states["cloud-qcow2"]["state"] == "idle"  # cloud-init did not change

    done = csite.act()  # the moves are done: the repository compose goes out
    assert [r["target"] for r in done["done"] if r["kind"] == "compose.request"] == [
        "rawhide-repo#1"
    ]
    assert [r["compose"] for r in csite.requested()] == ["rawhide-repo#1"]
    assert csite.requested()[0]["changes"] == " ".join(builds)
    assert csite.artifacts()["rawhide-repo"]["state"] == "running"

    csite.finish("rawhide-repo#1")
    csite.act()
    assert [r["compose"] for r in csite.requested()] == ["rawhide-repo#1", "iot-ostree#1"]
    assert csite.requested()[1]["changes"] == "bash-5.3-1.fc44"  # vim is not in its manifest
    csite.act()  # nothing new until the OSTree is composed
    assert len(csite.requested()) == 2

    # The OSTree's completion comes from a CI pipeline compose message, matched by its ref.
    csite.ingest([csite.bus.compose_status("ostree:fedora/rawhide/x86_64/iot@abc", "FINISHED",
                                            target="fedora/rawhide/x86_64/iot")])  # fmt: skip
    csite.act()
    csite.finish("iot-qcow2#1")
    assert [r["compose"] for r in csite.requested()] == [
        "rawhide-repo#1",
        "iot-ostree#1",
        "iot-qcow2#1",
    ]
    states = csite.artifacts()
    assert {n: s["state"] for n, s in states.items() if s["state"] != "idle"} == {
        "rawhide-repo": "composed",
        "iot-ostree": "composed",
        "iot-qcow2": "composed",
    }
    assert states["cloud-qcow2"]["last_compose"] is None  # unaffected: never composed

    # The same builds tagged again change no manifest: nothing more is composed.
    csite.ingest([csite.bus.tagged(b, tag=PROMOTED) for b in builds])
    csite.act()
    assert len(csite.requested()) == 3


def test_a_failed_parent_cancels_its_children(csite: ComposeSite) -> None:
    csite.promote(["systemd-257-1.fc44"])
    csite.act()
    csite.act()
    csite.finish("rawhide-repo#1")
    csite.act()
    csite.finish("iot-ostree#1", "FAILED")
    csite.act()
    states = csite.artifacts()
    assert states["iot-ostree"]["state"] == "failed"
    assert states["iot-qcow2"]["state"] == "cancelled"
    assert "iot-ostree#1 failed" in states["iot-qcow2"]["last_compose"]["detail"]
    assert [r["compose"] for r in csite.requested()] == ["rawhide-repo#1", "iot-ostree#1"]


def test_a_quarantined_build_composes_nothing(csite: ComposeSite) -> None:
    bad = "bash-5.3-1.fc44"
    msgs = csite.new_build(bad)
    msgs += [csite.bus.stage(bad, "FAILURE"), csite.bus.rpmdeplint(bad)]
    msgs.append(csite.bus.group_check("snapshot-1", [bad], "passed"))
    csite.ingest(msgs)
    csite.act()
    csite.act()
    assert csite.hub.tags_of(bad) == [QUARANTINE]
    assert csite.requested() == []
    assert {s["state"] for s in csite.artifacts().values()} == {"idle"}


def _push(csite: ComposeSite) -> None:
    csite.ingest(
        [
            csite.bus.update("FEDORA-2026-0001", ["bash-5.3-1.fc40"]),
            csite.bus.push("f40-updates-testing", ["FEDORA-2026-0001"]),
        ]
    )


def push_state(csite: ComposeSite, key: str = "f40-updates-testing") -> dict[str, Any]:
    _, out = csite.cli("push", key)
    return out


def test_a_push_runs_to_completion(csite: ComposeSite) -> None:
    _push(csite)
    p = push_state(csite)
    assert p["push"] == "f40-updates-testing#1"
    assert (p["stage"], p["state"]) == ("repos", "in progress")
    assert p["builds"] == ["bash-5.3-1.fc40"]
    assert [c["compose"] for c in p["composes"]] == ["f40-updates-testing#1", "f40-cloud#1"]

    csite.act()
    assert [(r["compose"], r["push"]) for r in csite.requested()] == [
        ("f40-updates-testing#1", "f40-updates-testing#1")
    ]
    csite.finish("f40-updates-testing#1")
    assert push_state(csite)["stage"] == "artifacts"
    csite.act()
    csite.finish("f40-cloud#1")
    p = push_state(csite)
    assert p["stage"] == "tests"
    assert p["tests"]["f40-cloud#1"] == {"fedora-ci.cloud.boot.functional": None}

    csite.ingest(
        [
            csite.bus.compose_result("f40-updates-testing#1", "fedora-ci.repo.sanity.functional",
                                     "passed"),
            csite.bus.compose_result("f40-cloud#1", "fedora-ci.cloud.boot.functional", "passed"),
        ]
    )  # fmt: skip
    assert push_state(csite)["stage"] == "release"
    done = csite.act()
    kinds = [r["kind"] for r in done["done"]]
    assert "push.release" in kinds
    assert csite.log.read_text().splitlines()[-1] == "release f40-updates-testing#1"
    done = csite.act()  # the composer sees the release: done, and Bodhi is told
    published = [r for r in done["done"] if r.get("message") == "push.completed"]
    assert published and published[0]["outcome"] == "disabled"  # bus off: body kept
    p = push_state(csite)
    assert (p["stage"], p["state"]) == ("done", "done")
    assert [h["stage"] for h in p["history"]] == [
        "repos", "repos", "artifacts", "tests", "release", "done",
    ]  # fmt: skip
    assert csite.act()["done"] == []


@pytest.mark.parametrize("where", ["repos", "artifacts", "tests", "release"])
def test_a_push_stops_at_each_failing_stage(
    where: str, csite: ComposeSite, monkeypatch: Any
) -> None:
    _push(csite)
    csite.act()
    if where == "repos":
        csite.finish("f40-updates-testing#1", "FAILED")
        expected = "compose f40-updates-testing#1 failed"
    else:
        csite.finish("f40-updates-testing#1")
        csite.act()
        if where == "artifacts":
            csite.finish("f40-cloud#1", "FAILED")
            expected = "compose f40-cloud#1 failed"
        else:
            csite.finish("f40-cloud#1")
            result = "failed" if where == "tests" else "passed"
            csite.ingest(
                [
                    csite.bus.compose_result("f40-updates-testing#1",
                                             "fedora-ci.repo.sanity.functional", "passed"),
                    csite.bus.compose_result("f40-cloud#1", "fedora-ci.cloud.boot.functional",
                                             result),
                ]
            )  # fmt: skip
            expected = "fedora-ci.cloud.boot.functional FAILED on f40-cloud"
            if where == "release":
                monkeypatch.setenv("RELEASE_EXIT", "3")
                code, out = csite.cli("act")
                assert code == 1 and out["done"][0]["outcome"] == "failed", out
                expected = "release step failed: release step exited 3"
    code, p = csite.cli("push", "f40-updates-testing#1")
    assert code == 1
    assert (p["state"], p["stage"]) == ("stopped", where)
    assert p["stopped"].startswith(expected), p["stopped"]
    code, done = csite.cli("act")
    stopped = [r for r in done["done"] if r.get("message") == "push.stopped"]
    assert len(stopped) == 1


def test_a_push_without_a_release_step_stops_there(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("LOG", str(tmp_path / "backend.log"))
    csite = ComposeSite(tmp_path, fake_koji, capsys, release=False)
    _push(csite)
    csite.act()
    csite.finish("f40-updates-testing#1")
    csite.act()
    csite.finish("f40-cloud#1")
    csite.ingest(
        [
            csite.bus.compose_result("f40-updates-testing#1", "fedora-ci.repo.sanity.functional",
                                     "passed"),
            csite.bus.compose_result("f40-cloud#1", "fedora-ci.cloud.boot.functional", "passed"),
        ]
    )  # fmt: skip
    p = push_state(csite)
    assert (p["state"], p["stage"]) == ("stopped", "release")
    assert "no release step is configured" in p["stopped"]


def test_unknown_push_and_unknown_repo(csite: ComposeSite) -> None:
    code, _ = csite.cli("push", "nope#1")
    assert code == 1  # a push nothing is known about: the answer is no (README)
    csite.ingest([csite.bus.push("f39-updates", ["bash-5.3-1.fc39"])])
    p = push_state(csite, "f39-updates")
    assert (p["state"], p["stage"]) == ("stopped", "repos")
    assert "no repository artifact for bodhi compose f39-updates" in p["stopped"]


def test_repository_compose_as_a_koji_task_finished_by_its_state_message(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, monkeypatch: Any
) -> None:
    """The repo goes to koji (``newRepo`` over the real ClientSession); koji's
    ``buildsys.task.state.change`` for that task completes it."""
    monkeypatch.setenv("LOG", str(tmp_path / "backend.log"))
    csite = ComposeSite(tmp_path, fake_koji, capsys)
    csite.config.write_text(csite.config.read_text().replace('repo = "command"', 'repo = "koji"'))
    csite.promote(["bash-5.3-1.fc44"])
    csite.act()
    csite.act()
    tasks = fake_koji.compose_tasks("newRepo")
    assert [list(t["args"]) for t in tasks] == [[PROMOTED]]
    task_id = tasks[0]["id"]
    repo = csite.artifacts()["rawhide-repo"]["last_compose"]
    assert (repo["state"], repo["ref"], repo["backend"]) == ("running", f"koji-task:{task_id}",
                                                             "koji")  # fmt: skip
    fake_koji.finish_task(task_id, "CLOSED")
    csite.ingest(
        [
            csite.bus.msg(
                "org.fedoraproject.prod.buildsys.task.state.change",
                {"id": task_id, "attribute": "state", "old": "OPEN", "new": "CLOSED",
                 "method": "newRepo", "owner": "kojira", "instance": "primary"},
            )
        ]
    )  # fmt: skip
    states = csite.artifacts()
    assert states["rawhide-repo"]["state"] == "composed"
    assert states["iot-ostree"]["state"] == "requested"  # its parent is done: it goes out
    csite.act()
    assert [r["compose"] for r in csite.requested()] == ["iot-ostree#1"]
