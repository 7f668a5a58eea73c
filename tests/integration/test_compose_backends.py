"""Compose backends against the fake koji hub (real ``koji.ClientSession``), the fake
ODCS (real HTTP) and small scripts."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path
from typing import Any

import koji
import pytest

from relengotron.adapters.artifacts.kinds import ContainerKind, OstreeKind, Qcow2Kind, RepoKind
from relengotron.adapters.effects.compose_backends import (
    FAILED,
    FINISHED,
    SUBMITTED,
    TRANSIENT,
    WOULD_SUBMIT,
    CommandBackend,
    KojiTaskBackend,
    OdcsBackend,
    run_command,
)
from tests.fakekoji import FakeKojiHub
from tests.fakeodcs import FakeOdcs, fake_odcs  # noqa: F401  (fixture)

NVR = "systemd-258-2.fc44"


def definition(kind: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": f"test-{kind}", "kind": kind, "release": "rawhide", "arches": ["x86_64", "aarch64"],
        "packages": [], "repositories": [], "built_from": [], "tags": [], "tests": [],
        "bodhi": None, "match": {}, "compose": {"backend": "koji"},
    }  # fmt: skip
    base.update(extra)
    return base


def order(data: dict[str, Any], n: int = 1, backend: str = "koji") -> dict[str, Any]:
    return {
        "compose": f"{data['name']}#{n}", "artifact": data["name"], "kind": data["kind"],
        "backend": backend, "definition": data, "push": None,
        "changes": [{"nvr": NVR, "package": "systemd", "was": "systemd-258-1.fc44"}],
    }  # fmt: skip


REPO = definition("repo", name="rawhide-repo", tags=["rawhide"])
OSTREE = definition(
    "ostree", name="fedora-iot-ostree", repositories=["rawhide-repo"],
    packages=["kernel", "systemd", "rpm-ostree"],
    match={"ostree_ref": "fedora/rawhide/x86_64/iot"},
    compose={"backend": "koji", "method": "osbuildImage", "distro": "fedora-44",
             "name": "Fedora-IoT", "version": "Rawhide", "target": "rawhide"},
)  # fmt: skip


# ---------------------------------------------------------------------- koji


@pytest.fixture
def koji_backend(fake_koji: FakeKojiHub) -> Any:
    fake_koji.add_tag("rawhide")
    fake_koji.accept_tasks("osbuildImage", "kiwiBuild", "buildContainer")
    backend = KojiTaskBackend(
        lambda: koji.ClientSession(fake_koji.url, {"max_retries": 0, "timeout": 5})
    )
    yield backend
    backend.close()


def test_koji_new_repo(fake_koji: FakeKojiHub, koji_backend: KojiTaskBackend) -> None:
    sub = koji_backend.submit(order(REPO), RepoKind())
    assert sub.outcome == SUBMITTED and sub.ref is not None
    task_id = int(sub.ref.removeprefix("koji-task:"))
    [task] = fake_koji.compose_tasks("newRepo")
    assert (task["id"], task["args"], task["kwargs"]) == (task_id, ["rawhide"], {})
    assert sub.detail == f"newRepo('rawhide') -> task {task_id}"
    session = koji.ClientSession(fake_koji.url, {"max_retries": 0})
    info = session.getTaskInfo(task_id, request=True)
    assert (info["method"], info["state"], info["request"]) == ("newRepo", 0, ["rawhide"])
    assert koji_backend.status(sub.ref).outcome == SUBMITTED
    fake_koji.finish_task(task_id)
    assert session.getTaskInfo(task_id)["state"] == koji.TASK_STATES["CLOSED"]
    done = koji_backend.status(sub.ref)
    assert (done.outcome, done.status) == (FINISHED, "FINISHED")


def test_koji_image_task(fake_koji: FakeKojiHub, koji_backend: KojiTaskBackend) -> None:
    sub = koji_backend.submit(order(OSTREE), OstreeKind())
    assert sub.outcome == SUBMITTED
    [task] = fake_koji.compose_tasks("osbuildImage")
    assert task["args"] == ["Fedora-IoT", "Rawhide", "fedora-44", ["iot-commit"], "rawhide",
                            ["x86_64", "aarch64"]]  # fmt: skip
    assert task["kwargs"] == {"opts": {"ostree": {"ref": "fedora/rawhide/x86_64/iot"}}}
    fake_koji.finish_task(task["id"], "FAILED", message="osbuild: depsolve failed")
    failed = koji_backend.status(str(sub.ref))
    assert (failed.outcome, failed.status) == (FAILED, "FAILED")
    assert "depsolve failed" in failed.detail


def test_koji_kiwi_and_container(fake_koji: FakeKojiHub, koji_backend: KojiTaskBackend) -> None:
    kiwi = definition("qcow2", name="cloud", repositories=["r"], compose={
        "backend": "koji", "method": "kiwiBuild", "description_url": "git+https://x/k.git#main",
        "description_path": "teams/cloud/cloud.xml", "profile": "Cloud-Base-Generic"})  # fmt: skip
    assert koji_backend.submit(order(kiwi), Qcow2Kind()).outcome == SUBMITTED
    [task] = fake_koji.compose_tasks("kiwiBuild")
    assert task["args"] == ["rawhide", ["x86_64", "aarch64"], "git+https://x/k.git#main",
                            "teams/cloud/cloud.xml"]  # fmt: skip
    assert task["kwargs"] == {"profile": "Cloud-Base-Generic", "version": "rawhide"}
    box = definition("container", name="toolbox", built_from=["base"], compose={
        "backend": "koji", "source": "git+https://src/containers/toolbox.git#rawhide",
        "target": "rawhide-container-candidate"})  # fmt: skip
    assert koji_backend.submit(order(box), ContainerKind()).outcome == SUBMITTED
    [task] = fake_koji.compose_tasks("buildContainer")
    assert task["args"] == ["git+https://src/containers/toolbox.git#rawhide",
                            "rawhide-container-candidate"]  # fmt: skip
    assert task["kwargs"] == {"opts": {"arch_override": "x86_64 aarch64"}}


def test_koji_fault_fails(fake_koji: FakeKojiHub, koji_backend: KojiTaskBackend) -> None:
    unknown = definition("repo", name="nope", tags=["no-such-tag"])
    sub = koji_backend.submit(order(unknown), RepoKind())
    assert (sub.outcome, sub.ref) == (FAILED, None)
    assert "No such tagInfo" in sub.detail
    fake_koji.fail_next("osbuildImage", fault_code=koji.ActionNotAllowed.faultCode,
                        message="policy violation")  # fmt: skip
    sub = koji_backend.submit(order(OSTREE), OstreeKind())
    assert sub.outcome == FAILED and "policy violation" in sub.detail
    assert fake_koji.compose_tasks() == []


def test_koji_unavailable_is_transient(
    fake_koji: FakeKojiHub, koji_backend: KojiTaskBackend
) -> None:
    fake_koji.http_error_next(1, status=503)
    sub = koji_backend.submit(order(REPO), RepoKind())
    assert (sub.outcome, sub.ref) == (TRANSIENT, None) and "503" in sub.detail
    fake_koji.fail_next("newRepo", fault_code=koji.ServerOffline.faultCode, message="outage")
    assert koji_backend.submit(order(REPO), RepoKind()).outcome == TRANSIENT
    fake_koji.fail_next("newRepo", fault_code=koji.AuthError.faultCode, message="not logged in")
    assert koji_backend.submit(order(REPO), RepoKind()).outcome == TRANSIENT
    assert koji_backend.submit(order(REPO), RepoKind()).outcome == SUBMITTED  # a fresh session
    nowhere = "http://127.0.0.1:9/kojihub"
    dead = KojiTaskBackend(lambda: koji.ClientSession(nowhere, {"max_retries": 0, "timeout": 2}))
    assert dead.submit(order(REPO), RepoKind()).outcome == TRANSIENT


def test_koji_dry_run_calls_nothing(fake_koji: FakeKojiHub) -> None:
    def factory() -> koji.ClientSession:
        raise AssertionError("a dry run must not connect")

    backend = KojiTaskBackend(factory)
    sub = backend.submit(order(REPO), RepoKind(), dry_run=True)
    assert (sub.outcome, sub.ref) == (WOULD_SUBMIT, None)
    assert sub.detail == "would call newRepo('rawhide')"
    assert fake_koji.calls == []
    bad = definition("ostree", repositories=["r"], compose={"backend": "koji"})  # no distro
    sub = backend.submit(order(bad), OstreeKind())
    assert sub.outcome == FAILED and "distro" in sub.detail


# ---------------------------------------------------------------------- ODCS

HTTPD = definition(
    "container", name="fedora-httpd-container", built_from=["fedora-container-base"],
    packages=["httpd", "mod_ssl"],
    compose={"backend": "odcs", "tag": "rawhide", "odcs": {"sigkeys": [""], "flags": ["no_deps"]}},
)  # fmt: skip


def test_odcs_submits(fake_odcs: FakeOdcs) -> None:  # noqa: F811
    backend = OdcsBackend(fake_odcs.url, token="s3cret", timeout=5)
    sub = backend.submit(order(HTTPD, 3, "odcs"), ContainerKind())
    assert (sub.outcome, sub.ref, sub.status) == (SUBMITTED, "odcs:1", None)
    assert sub.detail == "ODCS compose 1 wait"
    assert sub.location == f"{fake_odcs.url}/composes/odcs-1/compose.repo"
    [request] = fake_odcs.requests
    assert (request["method"], request["path"]) == ("POST", "/api/1/composes/")
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {
        "source": {"type": "tag", "source": "rawhide", "packages": ["httpd", "mod_ssl"],
                   "sigkeys": [""], "arches": ["x86_64", "aarch64"]},
        "arches": ["x86_64", "aarch64"], "label": "fedora-httpd-container#3",
        "flags": ["no_deps"],
    }  # fmt: skip
    fake_odcs.set_state(1, "done")
    done = backend.status("odcs:1")
    assert (done.outcome, done.status, done.ref) == (FINISHED, "FINISHED", "odcs:1")
    fake_odcs.set_state(1, "failed", state_reason="Cannot find package httpd")
    failed = backend.status("odcs:1")
    assert (failed.outcome, failed.status) == (FAILED, "FAILED")
    assert "Cannot find package httpd" in failed.detail


def test_odcs_repo_and_build_sources(fake_odcs: FakeOdcs) -> None:  # noqa: F811
    backend = OdcsBackend(fake_odcs.url + "/")
    assert backend.submit(order(REPO), RepoKind()).outcome == SUBMITTED
    builds = definition("repo", name="pending", tags=["rawhide-pending"],
                        compose={"backend": "odcs", "odcs": {"source_type": "build"}})  # fmt: skip
    assert backend.submit(order(builds), RepoKind()).outcome == SUBMITTED
    repo, pending = fake_odcs.posted()
    assert repo["source"] == {"type": "tag", "source": "rawhide", "arches": ["x86_64", "aarch64"]}
    assert pending["source"]["type"] == "build" and pending["source"]["builds"] == [NVR]
    assert "Authorization" not in fake_odcs.requests[0]["headers"]


def test_odcs_refusal_fails_with_its_message(fake_odcs: FakeOdcs) -> None:  # noqa: F811
    fake_odcs.error_next(400, 'Unknown source type "module"')
    sub = OdcsBackend(fake_odcs.url).submit(order(HTTPD), ContainerKind())
    assert (sub.outcome, sub.ref) == (FAILED, None)
    assert sub.detail == 'ODCS refused (400): Unknown source type "module"'
    fake_odcs.error_next(401, "Unauthorized")
    assert OdcsBackend(fake_odcs.url).submit(order(HTTPD), ContainerKind()).outcome == FAILED
    assert fake_odcs.composes == {}


def test_odcs_unavailable_is_transient(fake_odcs: FakeOdcs) -> None:  # noqa: F811
    fake_odcs.error_next(503, "maintenance")
    sub = OdcsBackend(fake_odcs.url).submit(order(HTTPD), ContainerKind())
    assert (sub.outcome, sub.detail) == (TRANSIENT, "ODCS answered 503: maintenance")
    fake_odcs.delay(1.0)
    slow = OdcsBackend(fake_odcs.url, timeout=0.2).submit(order(HTTPD), ContainerKind())
    assert slow.outcome == TRANSIENT and "did not answer" in slow.detail
    fake_odcs.delay(0)
    gone = OdcsBackend("http://127.0.0.1:9", timeout=2).submit(order(HTTPD), ContainerKind())
    assert gone.outcome == TRANSIENT


def test_odcs_dry_run(fake_odcs: FakeOdcs) -> None:  # noqa: F811
    sub = OdcsBackend(fake_odcs.url).submit(order(HTTPD), ContainerKind(), dry_run=True)
    assert sub.outcome == WOULD_SUBMIT and sub.detail.startswith(f"would POST {fake_odcs.url}")
    assert fake_odcs.requests == []


# ---------------------------------------------------------------------- command


def script(tmp_path: Path, body: str, name: str = "compose.py") -> list[str]:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return [str(path)]


def test_command_gets_the_order(tmp_path: Path) -> None:
    argv = script(tmp_path, """
order = json.load(sys.stdin)
env = {k: v for k, v in os.environ.items() if k.startswith("RELENGOTRON_")}
json.dump({"order": order, "env": env}, open(sys.argv[0] + ".seen", "w"))
print("compose started")
print("Fedora-IoT-Rawhide-20261120.n.0")
""")  # fmt: skip
    sub = CommandBackend(argv, timeout=30).submit(order(OSTREE, 2, "command"), OstreeKind())
    assert (sub.outcome, sub.status) == (SUBMITTED, None)
    assert sub.ref == "Fedora-IoT-Rawhide-20261120.n.0"
    seen = json.loads(Path(argv[0] + ".seen").read_text())
    assert seen["order"] == order(OSTREE, 2, "command")
    env = seen["env"]
    assert env["RELENGOTRON_COMPOSE"] == "fedora-iot-ostree#2"
    assert (env["RELENGOTRON_ARTIFACT"], env["RELENGOTRON_KIND"]) == ("fedora-iot-ostree", "ostree")
    assert env["RELENGOTRON_CHANGES"] == NVR
    assert env["RELENGOTRON_OSTREE_REF"] == "fedora/rawhide/x86_64/iot"
    assert env["RELENGOTRON_PACKAGES"] == "kernel systemd rpm-ostree"
    assert env["RELENGOTRON_ARCHES"] == "x86_64 aarch64"


@pytest.mark.parametrize(
    ("line", "outcome", "status"),
    [
        ('{"ref": "c-1", "status": "FINISHED", "location": "https://x/c-1"}', FINISHED, "FINISHED"),
        ('{"ref": "c-1", "status": "FAILED"}', FAILED, "FAILED"),
        ('{"ref": "c-1", "status": "STARTED"}', SUBMITTED, "STARTED"),
        ('{"ref": "c-1"}', SUBMITTED, None),
    ],
)
def test_command_json_last_line(tmp_path: Path, line: str, outcome: str, status: Any) -> None:
    argv = script(tmp_path, f"print('working'); print({line!r})")
    sub = CommandBackend(argv).submit(order(REPO), RepoKind())
    assert (sub.outcome, sub.ref, sub.status) == (outcome, "c-1", status)
    assert sub.location == ("https://x/c-1" if status == "FINISHED" else None)


def test_command_exit_codes(tmp_path: Path) -> None:
    busy = script(tmp_path, "print('koji is down', file=sys.stderr); sys.exit(75)", "busy.py")
    sub = CommandBackend(busy).submit(order(REPO), RepoKind())
    assert sub.outcome == TRANSIENT and "koji is down" in sub.detail
    bad = script(tmp_path, "print('x' * 2000 + 'the end', file=sys.stderr); sys.exit(3)", "bad.py")
    sub = CommandBackend(bad).submit(order(REPO), RepoKind())
    assert sub.outcome == FAILED and "exited 3" in sub.detail and sub.detail.endswith("the end")
    assert len(sub.detail) < 1000
    odd = script(tmp_path, "print(json.dumps({'status': 'WEIRD'}))", "odd.py")
    assert CommandBackend(odd).submit(order(REPO), RepoKind()).outcome == FAILED


def test_command_timeout_and_missing_executable(tmp_path: Path) -> None:
    slow = script(tmp_path, "import subprocess\nsubprocess.run(['sleep', '30'])")
    started = time.monotonic()
    sub = CommandBackend(slow, timeout=0.5).submit(order(REPO), RepoKind())
    assert sub.outcome == TRANSIENT and "timed out after 0.5s" in sub.detail
    assert time.monotonic() - started < 10  # the grandchild did not hold us
    missing = CommandBackend([str(tmp_path / "no-such-command")])
    sub = missing.submit(order(REPO), RepoKind())
    assert sub.outcome == FAILED and "cannot run" in sub.detail
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    sub = CommandBackend([str(tmp_path / "not-executable")]).submit(order(REPO), RepoKind())
    assert sub.outcome == FAILED and "cannot run" in sub.detail


def test_command_dry_run_runs_nothing(tmp_path: Path) -> None:
    argv = script(tmp_path, "open(sys.argv[0] + '.ran', 'w')")
    sub = CommandBackend(argv).submit(order(REPO), RepoKind(), dry_run=True)
    assert sub.outcome == WOULD_SUBMIT and "rawhide-repo#1" in sub.detail and NVR in sub.detail
    assert not Path(argv[0] + ".ran").exists()


def test_run_command(tmp_path: Path) -> None:
    r = run_command(["sh", "-c", 'read x; echo "$x $GREETING"; echo err >&2; exit 4'],
                    env={"GREETING": "hello"}, stdin="hi\n", timeout=10)  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr, r.timed_out, r.error) == (
        4, "hi hello\n", "err\n", False, None)  # fmt: skip
    r = run_command(["sleep", "20"], env={}, stdin="", timeout=0.3)
    assert r.timed_out and r.returncode != 0
    r = run_command([], env={}, stdin="", timeout=1)
    assert r.returncode == 127 and r.error
