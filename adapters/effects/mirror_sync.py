"""Syncing a compose to the master mirror with rsync: staged, then switched atomically.

For the ``compose.sync`` outbox action (``domain.outbox``) of compose ``C`` into the
mirror directory ``T``:

1. ``rsync -a --delete`` the compose's tree into ``T/.relengotron/C`` (the staging copy;
   unchanged files hard-linked to the compose ``latest-…`` names now, as mirrors do
   with ``--link-dest``), then ``rename`` it to ``T/C`` (atomic on one file system);
2. point ``T/latest-<name>`` at ``C``: a new symlink made beside it and ``rename``\\d
   over it (atomic: readers see the old compose or the new one, never neither);
   ``<name>`` is the compose id without its ``-YYYYMMDD[.t].N`` (pungi's ``latest-``
   links). A link already at a newer compose of the name stays there.

Every step can be repeated: after a crash the staging copy is rsynced again (rsync
sends only what is missing or differs, and ``--delete`` drops its leftovers), a
renamed copy is checked again with rsync, the link is made again. One sync of ``T``
at a time: a lock file, held also by the rsync it runs (an rsync left running by a
killed parent keeps it until it exits), and the next try is told to come back later.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNCED, ALREADY, WOULD_SYNC = "synced", "already", "would-sync"
FAILED, TRANSIENT = "failed", "transient"
# Ours inside the mirror, in one hidden directory (downstream mirrors exclude it): the
# staging copies and the lock. On the target's file system, so a rename is atomic.
WORK = ".relengotron"
LOCK = "sync.lock"
# pungi's compose ids: <name>-<date>[.<type>].<respin> (production composes have no type)
_DATED = re.compile(r"^(?P<name>.+)-(?P<date>\d{8})(?:\.(?P<type>[a-z]+))?\.(?P<respin>\d+)$")
# rsync's exit codes worth another try later (rsync(1) EXIT VALUES): socket, file I/O,
# streams, partial transfer, vanished files, timeouts, daemon connection.
_RSYNC_TRANSIENT = {5, 10, 11, 12, 14, 23, 24, 30, 35}
_OUT_TAIL = 2000


def latest_link(compose: str) -> str:
    """``latest-Fedora-Rawhide`` for ``Fedora-Rawhide-20261206.n.0``."""
    m = _DATED.match(compose)
    return f"latest-{m.group('name') if m else compose}"


def _order(compose: str) -> tuple[str, int] | None:
    m = _DATED.match(compose)
    return (m.group("date"), int(m.group("respin"))) if m else None


@dataclass(frozen=True)
class Outcome:
    outcome: str
    detail: str
    result: dict[str, Any]


class MirrorSync:
    """Carries out ``compose.sync`` actions with ``rsync`` (``argv[0]``, then options)."""

    def __init__(self, rsync: Sequence[str] = ("rsync",), *, timeout: float = 6 * 3600.0) -> None:
        self.rsync = list(rsync)
        self.timeout = timeout

    def sync(self, params: dict[str, Any], *, dry_run: bool = False) -> Outcome:
        compose, source = str(params["compose"]), str(params["source"])
        target = Path(str(params["target"]))
        link = target / (params.get("link") or latest_link(compose))
        final, staging = target / compose, target / WORK / compose
        if not _is_remote(source) and not Path(source).is_dir():
            return Outcome(FAILED, f"the compose is not at {source}", {"source": source})
        if link.is_symlink() and os.readlink(link) == compose and final.is_dir():
            return Outcome(ALREADY, f"{link.name} already at {compose}", _paths(final, link))
        try:
            (target / WORK).mkdir(parents=True, exist_ok=True)
            lock = os.open(target / WORK / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            return Outcome(TRANSIENT, f"cannot use the mirror {target}: {exc}", {})
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return Outcome(TRANSIENT, f"another sync into {target} is running", {})
            return self._locked(compose, source, final, staging, link, lock, dry_run)
        finally:
            os.close(lock)

    def _locked(
        self,
        compose: str,
        source: str,
        final: Path,
        staging: Path,
        link: Path,
        lock: int,
        dry_run: bool,
    ) -> Outcome:
        into = final if final.is_dir() else staging
        previous = os.readlink(link) if link.is_symlink() else None
        options = ["-a", "--hard-links", "--delete", "--partial-dir=.rsync-partial", "-i"]
        options.append("--stats")
        base = link.parent / previous if previous else None
        if base is not None and base.is_dir() and into == staging:
            options.append(f"--link-dest={base.resolve()}")
        if dry_run:
            options.append("--dry-run")
        else:
            into.mkdir(exist_ok=True)
        code, out = self._run([*options, source.rstrip("/") + "/", f"{into}/"], lock)
        result: dict[str, Any] = {**_paths(final, link), "rsync": code, **_stats(out)}
        if code != 0:
            tail = out.strip()[-300:]
            kind = TRANSIENT if code in _RSYNC_TRANSIENT or code < 0 else FAILED
            return Outcome(kind, f"rsync exited {code}: {tail}", {**result, "output": out})
        if dry_run:
            n = result.get("files_transferred", 0)
            return Outcome(WOULD_SYNC, f"would copy {n} files into {final}", result)
        if into == staging:
            os.rename(staging, final)
        _fsync_dir(final.parent)
        kept = previous is not None and is_newer(previous, compose)
        if kept:
            detail = f"synced to {final}; {link.name} stays at the newer {previous}"
        else:
            tmp = link.parent / f".{link.name}.{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(compose, tmp)
            os.replace(tmp, link)
            _fsync_dir(link.parent)
            detail = f"synced to {final}; {link.name} -> {compose}"
        return Outcome(SYNCED, detail, {**result, "previous": previous, "switched": not kept})

    def _run(self, args: list[str], lock: int) -> tuple[int, str]:
        """rsync's exit code (negative: killed, 127: missing) and its output's tail."""
        try:
            proc = subprocess.Popen(
                [*self.rsync, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace", pass_fds=(lock,),
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            return 127, f"cannot run {self.rsync[0]}: {exc.strerror or exc}"
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return 30, f"rsync timed out after {self.timeout:g}s\n{(out or '')[-_OUT_TAIL:]}"
        return proc.returncode, (out or "")[-_OUT_TAIL:]


def _is_remote(source: str) -> bool:
    return source.startswith("rsync://") or (":" in source.split("/", 1)[0])


def is_newer(current: str, compose: str) -> bool:
    """``current`` is a later compose than ``compose`` (by pungi's date and respin)."""
    a, b = _order(current), _order(compose)
    return a is not None and b is not None and a > b


def _paths(final: Path, link: Path) -> dict[str, Any]:
    return {"path": str(final), "link": str(link)}


def _stats(out: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, label in (
        ("files", "Number of files"),
        ("files_transferred", "Number of regular files transferred"),
        ("bytes", "Total file size"),
        ("bytes_transferred", "Total transferred file size"),
    ):
        m = re.search(rf"^{label}: ([\d,.]+)", out, re.M)
        if m:
            found[key] = int(re.sub(r"[,.]", "", m.group(1)))
    return found


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "ALREADY",
    "SYNCED",
    "WORK",
    "WOULD_SYNC",
    "MirrorSync",
    "Outcome",
    "is_newer",
    "latest_link",
]
