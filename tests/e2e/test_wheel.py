"""The wheel, installed in a clean virtualenv, is the whole program.

Built from this checkout and installed with its dependencies into a new venv, then run
from an empty directory (no checkout on ``sys.path``): ``demo`` finds its sample stream,
policies and artifact definitions as package data, ``status`` answers, ``serve`` serves
the API and the page, and an old store (written by main before the namespace) replays
identically. The wheel installs one top-level package, ``relengotron``: no generic
``domain``/``adapters``/... in site-packages to collide with anything else.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OLD_STORE = REPO / "tests" / "fixtures" / "store_main_20261206.db"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"),
         str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("releng_o_tron-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    return wheel, venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "relengotron"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_wheel_installs_one_top_level_package(installed: tuple[Path, Path]) -> None:
    wheel, venv = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"relengotron"}
    # The defaults ship as package data.
    for data in ("relengotron/config/policies/rawhide-pending.yaml",
                 "relengotron/config/artifacts/repos.yaml",
                 "relengotron/config/examples/sample-stream.jsonl",
                 "relengotron/config/relengotron.example.toml",
                 "relengotron/adapters/http/static/index.html"):  # fmt: skip
        assert data in names, data
    site = next((venv / "lib").glob("python3*/site-packages"))
    for generic in ("domain", "adapters", "policies", "projections", "config"):
        assert not (site / generic).exists(), generic


def test_demo_status_and_serve_run_from_the_wheel_without_a_checkout(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, venv = installed
    demo = _run(venv, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Identical" in demo.stdout or "promoted" in demo.stdout.lower(), demo.stdout[-2000:]
    db = f"sqlite:///{tmp_path / '.relengotron' / 'demo.db'}"
    status = _run(venv, tmp_path, "status", "vim-9.1.1800-1.fc44", "--db", db, "--json")
    assert status.returncode == 0, status.stderr[-3000:]
    assert json.loads(status.stdout)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [str(venv / "bin" / "relengotron"), "serve", "--db", db, "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{base}/healthcheck", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("serve from the wheel never answered /healthcheck")
        with urllib.request.urlopen(f"{base}/", timeout=10) as r:
            assert b"<html" in r.read().lower()
        request = urllib.request.Request(
            f"{base}/api/v1.0/decision",
            data=json.dumps({
                "product_version": "fedora-rawhide", "decision_context": "rawhide_pending",
                "subject_type": "koji_build", "subject_identifier": "vim-9.1.1800-1.fc44",
            }).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as r:
            assert "policies_satisfied" in json.loads(r.read())
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_an_old_store_replays_identically_from_the_wheel(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, venv = installed
    db = tmp_path / "old.db"
    shutil.copy(OLD_STORE, db)
    replay = _run(venv, tmp_path, "replay", "--verify", "--db", f"sqlite:///{db}", "--json")
    assert replay.returncode == 0, replay.stderr[-3000:] + replay.stdout[-3000:]
    assert json.loads(replay.stdout)["identical"] is True
