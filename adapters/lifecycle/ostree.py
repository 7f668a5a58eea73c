"""The ``ostree`` command line on real repositories (Debian package ``ostree``).

Only what the lifecycle needs: read refs and commit history, create and delete refs,
copy refs between repositories (``pull-local``) and prune. Every call names its
repository with ``--repo``; a failing call raises :class:`OstreeError` with ostree's
own message.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

TIMEOUT = 600.0
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


class OstreeError(RuntimeError):
    """An ostree command failed (the message is ostree's) or ostree is missing."""


class Repo:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("ostree")
        if exe is None:
            raise OstreeError("the ostree command is not installed (apt install ostree)")
        done = subprocess.run(
            [exe, f"--repo={self.path}", *args], capture_output=True, text=True, timeout=TIMEOUT
        )
        if check and done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise OstreeError(f"ostree {args[0]} in {self.path}: {why[-1] if why else '?'}")
        return done

    def exists(self) -> bool:
        return (self.path / "config").is_file() and (self.path / "objects").is_dir()

    def init(self, mode: str = "archive") -> None:
        if not self.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self.run("init", f"--mode={mode}")

    def refs(self, prefix: str = "") -> list[str]:
        out = self.run("refs", *([prefix] if prefix else [])).stdout.split()
        # ``ostree refs PREFIX`` prints the names below the prefix without it.
        if prefix:
            out = [f"{prefix.rstrip('/')}/{r}" if not r.startswith(prefix) else r for r in out]
        return sorted(out)

    def resolve(self, ref: str) -> str | None:
        """The commit a ref (or a checksum) names; None when there is none."""
        done = self.run("rev-parse", ref, check=False)
        value = done.stdout.strip()
        return value if done.returncode == 0 and _CHECKSUM.fullmatch(value) else None

    def history(self, ref: str) -> list[str]:
        """The commits of a ref present here, newest first (``ostree log``)."""
        out = self.run("log", ref).stdout
        return re.findall(r"^commit ([0-9a-f]{64})", out, flags=re.M)

    def is_ancestor(self, old: str, new: str) -> bool:
        """Whether ``old`` is ``new`` or one of its parents (a fast-forward)."""
        return old == new or old in self.history(new)

    def set_ref(self, ref: str, commit: str) -> None:
        self.run("refs", "--force", f"--create={ref}", commit)

    def delete_ref(self, ref: str) -> None:
        self.run("refs", "--delete", ref)

    def pull_local(self, source: Repo, refs: list[str]) -> None:
        # A ref branched from another keeps its commit, bound to the first ref: copied as is.
        self.run("pull-local", "--disable-verify-bindings", str(source.path), *refs)

    def prune(self, depth: int) -> str:
        out = self.run("prune", "--refs-only", f"--depth={depth}").stdout
        return out.strip()
