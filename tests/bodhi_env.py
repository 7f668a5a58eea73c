"""A virtualenv with Bodhi's own server code (``bodhi-server`` from PyPI), for the
real-client contract test (tests/e2e/test_bodhi_contract.py).

Bodhi cannot live in the project's ``.venv``: ``bodhi.server.util`` imports ``rpm`` and
``librepo``, which come from Debian (``python3-rpm``, ``python3-librepo``) for the
Debian interpreter only. So the environment is made with ``/usr/bin/python3 -m venv
--system-site-packages`` and ``pip install bodhi-server==26.4.0`` into it. Debian's
``python3-openssl`` (23.0) breaks under the ``cryptography`` pip installs for Bodhi's
``twisted``, so a current ``pyOpenSSL`` goes into the venv too, shadowing Debian's.

It is made once and reused: ``$RELENGOTRON_BODHI_VENV``, else
``$XDG_CACHE_HOME/relengotron/bodhi-server-<version>`` (``~/.cache/...``). A stamp file
written last names what was installed; a directory without the right stamp is made
again. A lock file serialises test sessions (several worktrees, pytest-xdist) creating
it at once. ``python -m tests.bodhi_env`` (``make bodhi-venv``) makes it ahead of time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BODHI_VERSION = "26.4.0"
REQUIREMENTS = (f"bodhi-server=={BODHI_VERSION}", "pyOpenSSL>=25")
STAMP = ".relengotron-bodhi"
DEBIAN_PYTHON = Path("/usr/bin/python3")
APT_HINT = "apt-get install python3-rpm python3-librepo python3-venv (or make sysdeps)"
INSTALL_TIMEOUT_S = 240  # under pytest-timeout (300 s), when a test makes it


class BodhiUnavailable(RuntimeError):
    """Bodhi's environment cannot be made here (no Debian packages, no PyPI)."""


def venv_dir() -> Path:
    env = os.environ.get("RELENGOTRON_BODHI_VENV")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "relengotron" / f"bodhi-server-{BODHI_VERSION}"


def _stamp_text() -> str:
    return "\n".join(REQUIREMENTS) + "\n"


def _ready(venv: Path) -> bool:
    """Made for this spec, by the Debian interpreter there now (a Debian upgrade to
    another python3.X leaves a venv whose site-packages that interpreter does not read)."""
    stamp = venv / STAMP
    python = venv / "bin" / "python"
    site = venv / "lib" / DEBIAN_PYTHON.resolve().name / "site-packages" / "bodhi"
    return (
        python.exists() and site.is_dir() and stamp.exists() and stamp.read_text() == _stamp_text()
    )


def _check_debian() -> None:
    if not DEBIAN_PYTHON.exists():
        raise BodhiUnavailable(f"no Debian interpreter at {DEBIAN_PYTHON} ({APT_HINT})")
    probe = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import rpm, librepo, venv, ensurepip"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        raise BodhiUnavailable(f"{DEBIAN_PYTHON} cannot import rpm/librepo/venv: {last} "
                               f"({APT_HINT})")  # fmt: skip


def _create(venv: Path, log: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [str(DEBIAN_PYTHON), "-m", "venv", "--system-site-packages", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
         "--timeout", "60", "--retries", "2", *REQUIREMENTS],
    ]  # fmt: skip
    with log.open("w") as out:
        for argv in steps:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            try:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                      timeout=INSTALL_TIMEOUT_S)  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                shutil.rmtree(venv, ignore_errors=True)
                raise BodhiUnavailable(f"{argv[2]} {argv[3]} took over {exc.timeout:g} s") from exc
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                lines = [x for x in log.read_text(errors="replace").splitlines()
                         if x.strip() and not x.startswith("WARNING: Location")]  # fmt: skip
                errors = [x for x in lines if x.startswith("ERROR:")] or lines or ["?"]
                raise BodhiUnavailable(
                    f"cannot install {' '.join(REQUIREMENTS)} (no network to PyPI?): "
                    f"{errors[-1]} (log: {log})"
                )
    (venv / STAMP).write_text(_stamp_text())


def ensure() -> tuple[Path, float]:
    """The Bodhi venv's python, made if missing; and the seconds spent making it (0.0
    when it was there). Raises :class:`BodhiUnavailable` with the reason."""
    venv = venv_dir()
    if _ready(venv):
        return venv / "bin" / "python", 0.0
    _check_debian()
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.parent / (venv.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be making it
        if _ready(venv):
            return venv / "bin" / "python", 0.0
        started = time.monotonic()
        _create(venv, venv.parent / (venv.name + ".log"))
        return venv / "bin" / "python", time.monotonic() - started


def main() -> int:
    try:
        python, seconds = ensure()
    except BodhiUnavailable as exc:
        print(f"bodhi-venv: {exc}", file=sys.stderr)
        return 2
    what = f"made in {seconds:.0f} s" if seconds else "already there"
    print(f"bodhi-server {BODHI_VERSION}: {python} ({what})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
