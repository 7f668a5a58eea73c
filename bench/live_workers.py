"""The workers of ``bench/live.py``: ``relengotron consume`` processes as deployed, and
the set-up (settings, policies, a fresh database, the vhost) they share in a run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from live_broker import DEAD, QUEUE, WORKER_PREFETCH, Broker

ROOT = Path(__file__).resolve().parents[1]
READY_LINE = "relengotron consume: ready"


@dataclass
class Consumer:
    """One ``relengotron consume`` process in its own session, output in files."""

    name: str
    argv: list[str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        return self.log_dir / f"{self.name}.out"

    @property
    def err(self) -> Path:
        return self.log_dir / f"{self.name}.err"

    def start(self) -> Consumer:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("FEDORA_MESSAGING_CONF", None)
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=out, stderr=err,
                                         start_new_session=True)  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        return READY_LINE in self.out.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        text = [f"[{p.name}] " + x for p in (self.out, self.err) if p.exists()
                for x in p.read_text(errors="replace").splitlines()[-lines:]]  # fmt: skip
        return "\n".join(text)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, then (after ``timeout``) SIGKILL to its process group; exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} ignored SIGTERM for {timeout:.0f} s: killed")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        return self.proc.returncode


@dataclass
class Setup:
    broker: Broker
    tmp: Path
    exe: str
    consumers: list[Consumer] = field(default_factory=list)
    parallel: int | None = None  # [consumer_config] parallel (None: the default)
    prefetch: int = WORKER_PREFETCH  # [qos] prefetch_count of each consumer

    def write_configs(self) -> tuple[Path, Path]:
        settings = self.tmp / "relengotron.toml"
        settings.write_text("# no koji hub: moves stay in the outbox\n[bus]\nenabled = false\n")
        fm = self.tmp / "fedora-messaging.toml"
        fm.write_text(
            f"""\
amqp_url = "{self.broker.url}"
passive_declares = false
publish_exchange = "amq.topic"

[client_properties]
app = "relengotron-bench"

[queues.{QUEUE}]
durable = true
auto_delete = false
exclusive = false
arguments = {{"x-dead-letter-exchange" = "{DEAD}"}}

[[bindings]]
queue = "{QUEUE}"
exchange = "amq.topic"
routing_keys = ["#"]

[qos]
prefetch_size = 0
prefetch_count = {self.prefetch}

[consumer_config]
dead_letter_exchange = "{DEAD}"
dead_letter_queue = "{DEAD}"
"""
            + (f"parallel = {self.parallel}\n" if self.parallel else "")
        )
        return settings, fm

    def start(self, db: str, k: int, followers: str) -> list[Consumer]:
        """``followers``: "in-worker" (as ``consume`` runs by default), "apart" (workers
        with ``--no-followers`` plus ``act --follow`` and ``project --follow`` processes,
        the split deployment), or "none" (recording only)."""
        settings, fm = self.write_configs()
        started = []
        for i in range(k):
            argv = [self.exe, "consume", "--db", db, "--config", str(settings),
                    "--fm-config", str(fm)]  # fmt: skip
            if followers != "in-worker":
                argv.append("--no-followers")
            c = Consumer(f"consumer-{len(self.consumers) + 1}-of-{k}-{i + 1}", argv, self.tmp)
            self.consumers.append(c)
            started.append(c.start())
        if followers == "apart":
            common = ["--db", db, "--config", str(settings)]
            for name, argv in (
                ("act-follow", [self.exe, "act", "--follow", "--interval", "0.2", *common]),
                ("project-follow", [self.exe, "project", "--follow", "--no-progress", *common]),
            ):
                p = Consumer(f"{name}-of-{k}", argv, self.tmp)
                self.consumers.append(p)
                p.start()
        return started

    def stop_all(self) -> list[int | None]:
        codes = [c.stop() for c in self.consumers]
        self.consumers.clear()
        return codes
