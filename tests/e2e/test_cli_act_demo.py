"""``relengotron act`` on the store ``relengotron demo`` leaves (``make demo``).

The demo plays koji itself; what it leaves in the outbox are compose requests
(no compose backend is configured). ``act`` and ``act --dry-run`` crashed
rendering them as bus messages (``KeyError: 'message'``). Every other kind is
rendered in tests/integration/test_act_render.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def relengotron(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RELENGOTRON_DB", None)
    env.pop("RELENGOTRON_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "relengotron", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("demo")
    db = where / "demo.db"
    done = relengotron("demo", "--db", f"sqlite:///{db}", cwd=where)
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def demo_copy(demo_store: Path, tmp_path: Path) -> str:
    db = tmp_path / "demo.db"
    shutil.copy(demo_store, db)
    return f"sqlite:///{db}"


def kinds_of(report: dict) -> set[str]:
    return {r["kind"] for r in report["done"] + report["still_pending"]}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "act"])
def test_act_renders_every_action_of_the_demo_outbox(demo_copy, tmp_path, dry_run):
    flags = ["--dry-run"] if dry_run else []
    text = relengotron("act", *flags, "--db", demo_copy, cwd=tmp_path)
    assert "Traceback" not in text.stderr, text.stderr
    assert text.returncode == 0, text.stderr
    # Each action is one line naming what it is about.
    assert "compose rawhide-repo#1" in text.stdout
    assert "publish" not in text.stdout


def test_act_json_lists_the_demo_outbox_kinds(demo_copy, tmp_path):
    done = relengotron("act", "--dry-run", "--json", "--db", demo_copy, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert kinds_of(report) == {"compose.request"}
    assert all(r["outcome"] == "not-configured" for r in report["still_pending"])
