"""Syncing composes to the master mirror (issue 20 part 4; seed 003): the real CLI, a
SQLite store, real rsync between local directories.

The gate is Fedora's production policy (tests/fixtures/fedora-greenwave/fedora.yaml,
``compose_sync_requiredtests``, decision context ``rawhide_compose_sync_to_mirrors``);
the results are openQA's as ResultsDB announces them (``resultsdb.result.new`` with
``productmd.compose.id``, ``item``, ``type`` and ``scenario`` data), the compose pungi's
``pungi.compose.status.change`` with its location.
"""

from __future__ import annotations

import filecmp
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.cli.main import main
from relengotron.adapters.rules.policy_loader import load_policy_text
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from relengotron.domain.outbox import COMPOSE_SYNC
from relengotron.policies.spec import PassingTestCaseRule
from tests.messages import PREFIX, Bus, write

ROOT = Path(__file__).resolve().parents[2]
FEDORA = ROOT / "tests" / "fixtures" / "fedora-greenwave" / "fedora.yaml"
OLD, NEW = "Fedora-Rawhide-20261205.n.0", "Fedora-Rawhide-20261206.n.0"
LINK = "latest-Fedora-Rawhide"


def fedora_policy() -> str:
    """Fedora's production policy file, its RemoteRule left out (no dist-git here)."""
    return FEDORA.read_text(encoding="utf-8").replace("rules:\n  - !RemoteRule {}\n", "rules: []\n")


def required_tests() -> list[tuple[str, str]]:
    (policy,) = [
        p for p in load_policy_text(fedora_policy(), "fedora.yaml")
        if p.id == "compose_sync_requiredtests"
    ]  # fmt: skip
    out = []
    for rule in policy.rules:
        assert isinstance(rule, PassingTestCaseRule)
        out.append((rule.test_case_name, rule.scenario or ""))
    return out


def make_compose(root: Path, compose: str, seed: int, files: int = 12, size: int = 4096) -> Path:
    """A compose tree as pungi lays it out (compose/<variant>/<arch>/os/...)."""
    rng = random.Random(seed)
    top = root / compose / "compose"
    packages = top / "Everything" / "x86_64" / "os" / "Packages"
    packages.mkdir(parents=True)
    for n in range(files):
        # The same package bytes in both composes for even n: rsync can hard-link them.
        data = random.Random(n).randbytes(size) if n % 2 == 0 else rng.randbytes(size)
        rpm = packages / f"pkg{n:03d}-1.0-1.fc44.x86_64.rpm"
        rpm.write_bytes(data)
        # Pungi links packages from koji: the same file keeps its mtime; a rebuilt one has
        # its own (rsync tells files apart by size and mtime).
        mtime = 1_790_000_000 + n + (0 if n % 2 == 0 else seed * 1000)
        os.utime(rpm, (mtime, mtime))
    (top / "Everything" / "x86_64" / "os" / "repodata").mkdir()
    (top / "Everything" / "x86_64" / "os" / "repodata" / "repomd.xml").write_text(compose)
    (top / "metadata").mkdir()
    (top / "metadata" / "composeinfo.json").write_text(json.dumps({"id": compose}))
    for meta in ("Everything/x86_64/os/repodata/repomd.xml", "metadata/composeinfo.json"):
        os.utime(top / meta, (1_790_000_000 + seed * 1000, 1_790_000_000 + seed * 1000))
    return top


class MirrorSite:
    def __init__(self, tmp: Path, capsys: Any, rsync_options: tuple[str, ...] = ()) -> None:
        self.tmp, self.capsys = tmp, capsys
        self.db = f"sqlite:///{tmp / 'store.db'}"
        self.mirror = tmp / "mirror"
        policies = tmp / "policies"
        policies.mkdir()
        (policies / "fedora.yaml").write_text(fedora_policy())
        self.config = tmp / "relengotron.toml"
        rsync = json.dumps(["rsync", *rsync_options])
        self.config.write_text(
            f'[gating]\npolicies = "{policies}"\n\n[sync]\ntarget = "{self.mirror}"\n'
            f"rsync = {rsync}\n"
        )
        self.bus = Bus()
        self.files = 0
        self.result_ids = iter(range(9_000_000, 10_000_000))

    def cli(self, *argv: str) -> tuple[int, Any]:
        self.capsys.readouterr()
        code = main([*argv, "--db", self.db, "--config", str(self.config), "--json"])
        out = self.capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def ingest(self, messages: list[dict[str, Any]]) -> None:
        self.files += 1
        path = write(self.tmp / f"in-{self.files}.jsonl", messages)
        code, out = self.cli("ingest", str(path), "--no-progress")
        assert code == 0, out

    def openqa(self, compose: str, testcase: str, scenario: str, outcome: str) -> dict[str, Any]:
        return self.bus.msg(
            f"{PREFIX}.resultsdb.result.new",
            {
                "id": next(self.result_ids),
                "outcome": outcome,
                "testcase": {"name": testcase, "ref_url": "https://openqa.fedoraproject.org"},
                "data": {
                    "item": [compose],
                    "type": ["compose"],
                    "productmd.compose.id": [compose],
                    "scenario": [scenario],
                    "arch": ["x86_64"],
                },
                "ref_url": f"https://openqa.fedoraproject.org/tests/{len(scenario)}",
                "note": "",
                "groups": [],
                "submit_time": self.bus.t.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            },
        )

    def compose(self, compose: str, seed: int, failing: str | None = None, **kw: Any) -> Path:
        """A finished compose, and openQA's results for it (``failing``: that test fails)."""
        top = make_compose(self.tmp / "koji-compose", compose, seed, **kw)
        results = [
            self.openqa(compose, name, scenario, "FAILED" if name == failing else "PASSED")
            for name, scenario in required_tests()
        ]
        self.ingest([self.bus.pungi(compose, "FINISHED", str(top)), *results])
        return top

    def action(self, key: str) -> list[str]:
        """The topics of an outbox action's events (empty: never requested)."""
        app = open_app(self.db)
        try:
            return [type(e).__qualname__ for e in app.events.get(ids.action_id(key))]
        finally:
            app.close()


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)

    def ok(c: filecmp.dircmp[str]) -> bool:
        if c.left_only or c.right_only or c.diff_files or c.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        return not mismatch and not errors and all(ok(s) for s in c.subdirs.values())

    return ok(cmp)


def test_a_compose_whose_gate_passes_is_synced_once_and_announced(
    tmp_path: Path, capsys: Any
) -> None:
    site = MirrorSite(tmp_path, capsys)
    source = site.compose(NEW, seed=1)

    code, dry = site.cli("sync", NEW, "--dry-run")
    assert code == 0, dry
    assert (dry["outcome"], dry["policies_satisfied"], dry["dry_run"]) == ("would-sync", True, True)
    assert dry["decision"]["applicable_policies"] == ["compose_sync_requiredtests"]
    assert dry["result"]["files_transferred"] == 14  # 12 packages, repomd.xml, composeinfo
    assert not (site.mirror / NEW).exists() and not (site.mirror / LINK).exists()
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == []  # a dry run records nothing

    code, out = site.cli("sync", NEW)
    assert code == 0, out
    assert out["outcome"] == "synced" and out["source"] == str(source)
    assert same_tree(source, site.mirror / NEW)
    assert os.readlink(site.mirror / LINK) == NEW
    assert not (site.mirror / ".relengotron" / NEW).exists()
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == ["Action.Requested", "Action.Completed"]
    # The compose.synced message was asked for, and settled (the bus is off here).
    assert site.action(f"{COMPOSE_SYNC}:{NEW}:compose.synced") == [
        "Action.Requested",
        "Action.Completed",
    ]

    code, again = site.cli("sync", NEW)
    assert (code, again["outcome"]) == (0, "already")
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == ["Action.Requested", "Action.Completed"]
    # The sync is a result on the compose in our ResultsDB (seed 003), found as Greenwave
    # finds a compose's results (productmd.compose.id, conf/subject_types/compose.yaml).
    from fastapi.testclient import TestClient

    from relengotron.adapters.cli.cli_api import make_app

    with TestClient(make_app(site.db, str(site.config))) as client:
        latest = client.get(
            "/api/v2.0/results/latest",
            params={"productmd.compose.id": NEW, "testcases": "relengotron.compose.sync",
                    "_distinct_on": "scenario,system_architecture,system_variant"},
        ).json()["data"]  # fmt: skip
    (synced,) = latest
    assert synced["outcome"] == "PASSED" and synced["note"] == out["detail"]
    assert synced["data"]["location"] == [str(site.mirror / NEW)]
    assert synced["data"]["link"] == [str(site.mirror / LINK)]
    assert synced["data"]["type"] == ["compose"] and synced["data"]["item"] == [NEW]
    # The log with a sync in it still re-derives every decision from the raw messages.
    code, verified = site.cli("replay", "--verify", "--no-progress")
    assert (code, verified["identical"], verified["differences"]) == (0, True, [])


def test_the_next_compose_switches_the_link_and_shares_unchanged_files(
    tmp_path: Path, capsys: Any
) -> None:
    site = MirrorSite(tmp_path, capsys)
    site.compose(OLD, seed=1)
    assert site.cli("sync", OLD)[0] == 0
    new_source = site.compose(NEW, seed=2)
    code, out = site.cli("sync", NEW)
    assert code == 0, out
    assert out["result"]["previous"] == OLD and out["result"]["switched"] is True
    assert os.readlink(site.mirror / LINK) == NEW
    assert same_tree(new_source, site.mirror / NEW)
    packages = Path("Everything/x86_64/os/Packages")
    same = (site.mirror / OLD / packages / "pkg000-1.0-1.fc44.x86_64.rpm").stat()
    linked = (site.mirror / NEW / packages / "pkg000-1.0-1.fc44.x86_64.rpm").stat()
    assert same.st_ino == linked.st_ino  # unchanged: hard-linked to the previous compose
    differs = (site.mirror / NEW / packages / "pkg001-1.0-1.fc44.x86_64.rpm").stat()
    assert (
        differs.st_ino
        != (site.mirror / OLD / packages / "pkg001-1.0-1.fc44.x86_64.rpm").stat().st_ino
    )


def test_a_compose_whose_gate_fails_is_never_synced(tmp_path: Path, capsys: Any) -> None:
    site = MirrorSite(tmp_path, capsys)
    name, _ = required_tests()[0]
    site.compose(NEW, seed=1, failing=name)
    code, out = site.cli("sync", NEW)
    assert code == 1, out
    assert (out["outcome"], out["policies_satisfied"]) == ("gate-failed", False)
    assert out["summary"] == f"Of {len(required_tests())} required tests, 1 test failed"
    assert not (site.mirror / NEW).exists() and not (site.mirror / LINK).exists()
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == []
    assert site.cli("sync", NEW, "--dry-run")[0] == 1
    assert site.cli("act")[0] == 0  # the outbox holds no sync either
    assert not (site.mirror / NEW).exists()
    from fastapi.testclient import TestClient

    from relengotron.adapters.cli.cli_api import make_app

    with TestClient(make_app(site.db, str(site.config))) as client:
        got = client.get("/api/v2.0/results", params={"productmd.compose.id": NEW}).json()
    names = {r["testcase"]["name"] for r in got["data"]}
    assert "relengotron.compose.sync" not in names and len(got["data"]) == 20  # a page


def test_no_results_no_compose_no_mirror(tmp_path: Path, capsys: Any) -> None:
    site = MirrorSite(tmp_path, capsys)
    # No results at all: the gate cannot pass (fail closed).
    top = make_compose(tmp_path / "koji-compose", NEW, 1)
    site.ingest([site.bus.pungi(NEW, "FINISHED", str(top))])
    code, out = site.cli("sync", NEW)
    assert (code, out["outcome"]) == (1, "gate-failed")
    assert "results missing" in out["summary"]
    assert not (site.mirror / NEW).exists()
    # Every result passing, but pungi never said the compose finished: not synced.
    other = "Fedora-Rawhide-20261207.n.0"
    site.ingest([site.openqa(other, n, s, "PASSED") for n, s in required_tests()])
    code, out = site.cli("sync", other)
    assert (code, out["outcome"], out["policies_satisfied"]) == (1, "unknown", True)
    assert out["detail"] == f"no pungi compose {other} recorded"
    assert not (site.mirror / other).exists()
    site.config.write_text(site.config.read_text().replace(f'target = "{site.mirror}"\n', ""))
    code, out = site.cli("sync", NEW)
    assert code == 2  # no [sync] target: a configuration error
    assert not site.mirror.exists()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _sync_process(site: MirrorSite) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "relengotron", "sync", NEW, "--db", site.db,
         "--config", str(site.config), "--json"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("kill", ["the-sync-alone", "its-process-group"])
def test_a_sync_killed_midway_resumes_and_finishes_once(
    tmp_path: Path, capsys: Any, kill: str
) -> None:
    # rsync slowed down (--bwlimit, KiB/s) so that the kill falls mid-copy.
    site = MirrorSite(tmp_path, capsys, rsync_options=("--bwlimit=400",))
    source = site.compose(NEW, seed=3, files=16, size=256 * 1024)
    staging = site.mirror / ".relengotron" / NEW
    proc = _sync_process(site)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copied = list(staging.rglob("*.rpm")) if staging.exists() else []
            if len(copied) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        rsyncs = _children(proc.pid)
        assert rsyncs, "no rsync running under the sync"
        proc.send_signal(signal.SIGKILL)
        if kill == "its-process-group":  # its rsync too (rsync runs in its own group)
            for pid in rsyncs:
                os.killpg(pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (site.mirror / NEW).exists() and not (site.mirror / LINK).exists()
    # Requested before the copy began, never completed: the sync is a pending action.
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == ["Action.Requested"]

    site.config.write_text(site.config.read_text().replace('"--bwlimit=400"', '"-q"'))
    outcomes = []
    for _ in range(200):  # an rsync the kill left running holds the lock until it ends
        if kill == "its-process-group":  # resumed by the effector, as any pending action
            code, acted = site.cli("act")
            assert code == 0, acted
            (row,) = [
                r for r in acted["done"] + acted["still_pending"] if r["kind"] == COMPOSE_SYNC
            ]
            outcome = row["outcome"]
        else:  # resumed by the same command
            code, out = site.cli("sync", NEW)
            outcome = out["outcome"]
        outcomes.append(outcome)
        if outcome != "transient":
            break
        time.sleep(0.1)
    assert outcomes[-1] == "synced", outcomes
    assert same_tree(source, site.mirror / NEW)
    assert os.readlink(site.mirror / LINK) == NEW
    assert not staging.exists()
    events = site.action(f"{COMPOSE_SYNC}:{NEW}")
    assert events[0] == "Action.Requested" and events[-1] == "Action.Completed"
    assert events.count("Action.Completed") == 1
    assert set(events[1:-1]) <= {"Action.Attempted"}
    assert site.action(f"{COMPOSE_SYNC}:{NEW}:compose.synced").count("Action.Requested") == 1


def test_the_live_followers_sync_a_compose_once_its_gate_passes(
    tmp_path: Path, capsys: Any
) -> None:
    """No one asks: the engine syncs (``[sync] auto``, the live followers' round)."""
    from relengotron.adapters import bootstrap
    from relengotron.adapters.live.followers import Followers

    site = MirrorSite(tmp_path, capsys)
    required = required_tests()
    failing = make_compose(tmp_path / "koji-compose", OLD, 1)
    top = make_compose(tmp_path / "koji-compose", NEW, 2)
    site.ingest(
        [site.bus.pungi(OLD, "FINISHED", str(failing))]
        + [site.openqa(OLD, n, s, "PASSED" if i else "FAILED") for i, (n, s) in enumerate(required)]
        + [site.bus.pungi(NEW, "FINISHED", str(top))]
        + [site.openqa(NEW, n, s, "PASSED") for n, s in required[:-1]]  # one still missing
    )  # fmt: skip
    app = open_app(site.db)
    followers = Followers(app, bootstrap.settings(str(site.config)), project_every=0)
    try:
        for _ in range(3):
            assert followers.round() is True
        assert followers.stats.last_error is None
        assert not (site.mirror / NEW).exists() and not (site.mirror / OLD).exists()
        assert site.action(f"{COMPOSE_SYNC}:{NEW}") == []
        name, scenario = required[-1]
        site.ingest([site.openqa(NEW, name, scenario, "PASSED")])  # the gate passes now
        for _ in range(3):
            assert followers.round() is True
        assert followers.stats.last_error is None
    finally:
        app.close()
    assert same_tree(top, site.mirror / NEW)
    assert os.readlink(site.mirror / LINK) == NEW
    assert site.action(f"{COMPOSE_SYNC}:{NEW}") == ["Action.Requested", "Action.Completed"]
    assert site.action(f"{COMPOSE_SYNC}:{OLD}") == []  # its gate failed: never synced
    assert not (site.mirror / OLD).exists()


@pytest.mark.rabbitmq
@pytest.mark.timeout(120)
def test_the_compose_synced_message_arrives_on_the_bus(
    tmp_path: Path, capsys: Any, prefix: str, listener: Any
) -> None:
    from fedora_messaging import message as fm

    from relengotron.adapters.messaging.sync_schemas import ComposeSyncedV1
    from tests.rabbit import URL, receive

    site = MirrorSite(tmp_path, capsys)
    site.config.write_text(
        site.config.read_text()
        + f'\n[bus]\nenabled = true\namqp_url = "{URL}"\ntopic_prefix = "{prefix}"\n'
    )
    site.compose(NEW, seed=1)
    code, out = site.cli("sync", NEW)
    assert (code, out["outcome"]) == (0, "synced")
    [(method, props, raw)] = receive(listener)
    assert method.routing_key == f"{prefix}.compose.synced"
    assert props.headers["fedora_messaging_schema"] == "relengotron.compose.synced.v1"
    message = fm.get_message(method.routing_key, props, raw)
    assert type(message) is ComposeSyncedV1
    body = message.body
    assert (body["compose"], body["location"]) == (NEW, str(site.mirror / NEW))
    assert (body["link"], body["switched"], body["previous"]) == (
        str(site.mirror / LINK), True, None,
    )  # fmt: skip
    assert body["decision_context"] == "rawhide_compose_sync_to_mirrors"
    n = len(required_tests())
    assert body["summary"] == f"All required tests ({n} total) have passed or been waived"
    # Published once: the action's id is the message id, and it is not asked again.
    assert site.cli("sync", NEW)[1]["outcome"] == "already"
    assert site.action(f"{COMPOSE_SYNC}:{NEW}:compose.synced") == [
        "Action.Requested",
        "Action.Completed",
    ]
