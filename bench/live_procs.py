"""Where the CPU goes in ``bench/live.py``: CPU seconds of processes read from /proc,
and py-spy samples of a consumer summarised by frame."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Protocol

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE = Path(tempfile.gettempdir()) / "relengotron-live-py-spy.txt"  # collapsed stacks


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def peak_rss_mb(pid: int) -> float:
    """The most memory the process has held (VmHWM), in MiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _pids_named(*names: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if p.joinpath("comm").read_text().strip() in names:
                    out.append(int(p.name))
    return out


class Process(Protocol):
    @property
    def pid(self) -> int: ...


class CpuMeter:
    """CPU seconds used by the consumers, PostgreSQL and RabbitMQ between two samples
    (PostgreSQL backends started meanwhile count from zero)."""

    def __init__(self, consumers: list[Process]) -> None:
        self.consumers = consumers
        self.before = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "consumers": {c.pid: _cpu(c.pid) for c in self.consumers},
            "postgres": {p: _cpu(p) for p in _pids_named("postgres")},
            "rabbitmq": {p: _cpu(p) for p in _pids_named("beam.smp")},
        }

    def peak_rss_mb(self) -> float:
        """The largest peak memory of one consumer so far (MiB)."""
        return max((peak_rss_mb(c.pid) for c in self.consumers), default=0.0)

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {
            what: round(sum(v - self.before[what].get(p, 0.0) for p, v in now.items()), 2)
            for what, now in after.items()
        }


# ------------------------------------------------------------------------- py-spy


def py_spy(exe: str, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
         "--format", "raw", "--threads", "--gil", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


# Frames worth naming in a profile: ours, the event store's, fedora-messaging's.
OURS = ("adapters/", "domain/", "projections/", "policies/", "eventsourcing", "fedora_messaging/",
        "jsonschema/validators.py")  # fmt: skip


def _frame(f: str) -> str:
    """``func (path:line)`` -> ``func (path)``: one entry per function."""
    name, _, where = f.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def profile_summary(path: Path, top: int = 15) -> list[str]:
    """Where a consumer's CPU goes, from py-spy's collapsed stacks (``--threads --gil``):
    each thread's share of the samples, then, for the threads that handle messages
    (twisted's pool threads, where fedora-messaging calls the consumer), the followers'
    thread and the reactor's, the busiest functions of ours, of the event store and of
    fedora-messaging (inclusive: SQLAlchemy, psycopg and twisted are inside them)."""
    threads: Counter[str] = Counter()
    parts = {"message handling": Counter[str](), "followers": Counter[str](),
             "reactor": Counter[str]()}  # fmt: skip
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        thread, *frames = stack.split(";")
        role = thread.split(": ", 1)[-1]
        role = role.rsplit("-", 1)[0] if role.startswith("PoolThread") else role
        threads[role] += n
        part = (
            "message handling" if role.startswith("PoolThread")
            else "followers" if role.startswith("relengotron-followers")
            else "reactor" if role.startswith("CrochetReactor")
            else None
        )  # fmt: skip
        if part is not None:
            parts[part]["(all)"] += n
            for f in {_frame(f) for f in frames if any(f" ({p}" in f for p in OURS)}:
                parts[part][f] += n
    total = sum(threads.values())
    if not total:
        return ["(no samples)"]
    lines = [f"py-spy (GIL held), {total:,} samples at 100/s; by thread: "
             + ", ".join(f"{t} {n / total:.0%}" for t, n in threads.most_common(4))]  # fmt: skip
    for name, counts in parts.items():
        all_ = counts.pop("(all)", 0)
        if all_:
            lines.append(f"{name} ({all_ / total:.0%} of the samples), inclusive:")
            lines += [f"  {n / all_:6.1%}  {f}" for f, n in counts.most_common(top)]
    return lines
