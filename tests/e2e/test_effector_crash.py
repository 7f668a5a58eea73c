"""The effector killed mid-way (SIGKILL, a real process) moves each build exactly once.

Two crash points: before koji was asked anything (the process dies while koji
answers its first read), and after koji carried out the move but before the
outcome was recorded (the process dies while koji holds the answer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_gating import PENDING, PROMOTED, Site
from tests.fakekoji import FakeKojiHub

ROOT = Path(__file__).resolve().parents[2]


def _act_process(site: Site) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relengotron.adapters.cli.main",
            "act",
            "--db",
            site.db,
            "--config",
            str(site.config),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _promotable(site: Site, nvr: str) -> None:
    site.ingest(
        [
            *site.new_build(nvr),
            *site.bus.passing(nvr),
            site.bus.group_check("snapshot-1", [nvr], "passed"),
        ]
    )
    assert site.status(nvr)["decision"]["verdict"] == "promote"


@pytest.mark.parametrize("crash_at", ["before-the-koji-call", "after-the-koji-call"])
def test_killed_effector_moves_exactly_once_after_restart(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, crash_at: str
) -> None:
    site = Site(tmp_path, fake_koji, capsys)
    nvr = "bash-5.3-1.fc44"
    _promotable(site, nvr)

    method = "listTags" if crash_at == "before-the-koji-call" else "moveBuild"
    gate = fake_koji.block(method)
    proc = _act_process(site)
    try:
        assert fake_koji.wait_called(method, timeout=60), proc.stderr
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    expected_moves = 0 if crash_at == "before-the-koji-call" else 1
    assert fake_koji.moves == expected_moves
    # Nothing was recorded: the action is still pending.
    assert [a["status"] for a in site.status(nvr)["actions"]] == ["pending"]

    out = site.act()  # the restart
    [move] = [r for r in out["done"] if r["kind"] == "koji.move"]
    assert move["outcome"] == ("moved" if crash_at == "before-the-koji-call" else "already")
    assert fake_koji.moves == 1
    assert fake_koji.count("moveBuild") == 1
    assert fake_koji.tags_of(nvr) == [PROMOTED]
    assert PENDING not in fake_koji.tags_of(nvr)
    assert site.status(nvr)["state"] == "promoted"
    assert site.act()["done"] == []  # and never again
