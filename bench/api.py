"""Decision API latency on a store of 100,000 builds and about 1,000,000 events.

    python bench/api.py [--builds 100000] [--store PATH] [--duration 20] [--workers 1]

1. The store (reused when ``--store`` exists and holds the same build count):
   ``--builds`` koji builds of Fedora 44 updates through the real ingest path: each
   built (koji state change), tagged into ``f44-updates-candidate``, with two
   ResultsDB results (``fedora-ci.koji-build.tier0.functional`` and
   ``...installability.functional``, 6 % failing); one Bodhi update per 5 builds
   (one update of 342 builds, the size that timed Bodhi out against Greenwave) with
   four openQA results on the update; 1 % of builds waived. Then the read models are
   brought up to date (``relengotron project``).
2. ``relengotron serve`` runs in its own process on 127.0.0.1.
3. Load from a second process, ``wrk`` (Debian): 50 connections for ``--duration``
   seconds, each request a Greenwave-shaped decision for one random build
   (``bodhi_update_push_stable``, fedora-44); the baseline, in the same run and
   under the same load: ``GET /healthcheck`` (the HTTP stack with no work).
4. One request with 343 subjects (342 builds and their update, two decision
   contexts, as Bodhi sends it), 40 times in sequence from a Python client.

The last line is JSON: p50/p99 of both, requests/s, the ratio to the baseline and
whether the targets (single p99 < 20 ms, 343 subjects < 150 ms) were met.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relengotron.adapters.cli.progress import ProgressBar
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.store.readmodels import Projector
from relengotron.adapters.store.store import open_app
from relengotron.projections.config import GatingConfig

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "org.fedoraproject.prod"
TIER0 = "fedora-ci.koji-build.tier0.functional"
INSTALLABILITY = "fedora-ci.koji-build.installability.functional"
OPENQA = [
    ("update.install_default_update_netinst", "fedora.updates-everything-boot-iso.x86_64.64bit"),
    ("update.base_selinux", "fedora.updates-server.x86_64.64bit"),
    ("update.base_services_start", "fedora.updates-server.x86_64.64bit"),
    ("update.base_update_cli", "fedora.updates-server.x86_64.64bit"),
]
BIG_UPDATE = 342
SINGLE_P99_MS, BIG_MS = 20.0, 150.0


def _msg(topic: str, body: dict[str, Any], when: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "topic": f"{PREFIX}.{topic}",
        "body": body,
        "headers": {"sent-at": when.isoformat()},
        "id": str(random.Random(rng.getrandbits(64)).getrandbits(128)),
    }


def _result(nvr_or_alias: str, typ: str, testcase: str, outcome: str, scenario: str | None,
            when: datetime, rng: random.Random) -> dict[str, Any]:  # fmt: skip
    data: dict[str, Any] = {"item": [nvr_or_alias], "type": [typ]}
    if scenario:
        data["scenario"] = [scenario]
    body = {
        "id": rng.randrange(10**9),
        "outcome": outcome,
        "note": "",
        "testcase": {"name": testcase, "ref_url": "https://ci.example/testcase"},
        "ref_url": "https://ci.example/run",
        "groups": [],
        "submit_time": when.isoformat(),
        "data": data,
    }
    return _msg("resultsdb.result.new", body, when, rng)


def messages(builds: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """The bench store's input, in time order."""
    rng = random.Random(seed)
    t = datetime(2026, 10, 1, tzinfo=UTC)
    sizes = [BIG_UPDATE]
    while sum(sizes) < builds:
        sizes.append(min(rng.choice([1, 1, 2, 3, 5, 8]), builds - sum(sizes)))
    n = 0
    for u, size in enumerate(sizes):
        alias = f"FEDORA-2026-{u:010x}"
        nvrs = []
        for _ in range(size):
            pkg = f"pkg{n}"
            nvr = f"{pkg}-{1 + n % 7}.{n % 13}-1.fc44"
            nvrs.append(nvr)
            n += 1
            t += timedelta(milliseconds=rng.randrange(50, 400))
            body = {
                "build_id": 3_000_000 + n, "old": 0, "new": 1, "name": pkg,
                "version": nvr.rsplit("-", 2)[1], "release": "1.fc44", "epoch": None,
                "owner": f"user{n % 800}", "attribute": "state", "instance": "primary",
                "task_id": 140_000_000 + n,
                "request": [f"git+https://src.fedoraproject.org/rpms/{pkg}.git#{n:040x}",
                            "f44", {}],
            }  # fmt: skip
            yield _msg("buildsys.build.state.change", body, t, rng)
            tag = {
                "build_id": 3_000_000 + n, "name": pkg, "version": body["version"],
                "release": "1.fc44", "tag": "f44-updates-candidate", "tag_id": 44,
                "user": "bodhi", "owner": body["owner"], "instance": "primary",
            }  # fmt: skip
            yield _msg("buildsys.tag", tag, t, rng)
            for testcase in (TIER0, INSTALLABILITY):
                t += timedelta(seconds=1)
                outcome = "FAILED" if rng.random() < 0.06 else "PASSED"
                yield _result(nvr, "koji_build", testcase, outcome, None, t, rng)
            if rng.random() < 0.01:
                waiver = {
                    "id": rng.randrange(10**6), "subject_type": "koji_build",
                    "subject_identifier": nvr, "subject": {"type": "koji_build", "item": nvr},
                    "testcase": TIER0, "product_version": "fedora-44", "username": "releng",
                    "comment": "known flaky test", "waived": True, "timestamp": t.isoformat(),
                }  # fmt: skip
                yield _msg("waiverdb.waiver.new", waiver, t, rng)
        update = {
            "update": {
                "alias": alias, "title": " ".join(nvrs[:3]),
                "builds": [{"nvr": x} for x in nvrs], "status": "pending",
                "request": "testing", "release": {"name": "F44"},
                "user": {"name": "packager"},
            },
            "agent": "packager",
        }  # fmt: skip
        yield _msg("bodhi.update.request.testing", update, t, rng)
        for testcase, scenario in OPENQA:
            t += timedelta(seconds=2)
            yield _result(alias, "bodhi_update", testcase, "PASSED", scenario, t, rng)


def build_store(path: Path, builds: int) -> dict[str, Any]:
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists():
        info = json.loads(marker.read_text())
        if info.get("builds") == builds:
            print(f"reusing {path} ({info['events']:,} events)")
            return dict(info)
    for p in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    app = open_app(f"sqlite:///{path}")
    bar = ProgressBar("record")
    t0 = time.perf_counter()
    batch: list[Any] = []
    count = 0
    for m in messages(builds):
        batch.append(to_incoming(to_envelope(m)))
        if len(batch) == 1000:
            app.record(batch)
            count += len(batch)
            batch = []
            bar(count, None, None)
    if batch:
        app.record(batch)
        count += len(batch)
    bar.close()
    recorded = time.perf_counter() - t0
    report = Projector(app, GatingConfig(), progress=ProgressBar("project", unit="events")).run()
    engine = app.recorder.datastore.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        events = int(conn.exec_driver_sql("SELECT COUNT(*) FROM relengotron_events").scalar() or 0)
    info = {
        "builds": builds,
        "messages": count,
        "events": events,
        "record_s": round(recorded, 1),
        "project_s": round(report.seconds, 1),
    }
    marker.write_text(json.dumps(info))
    print(f"recorded {count:,} messages ({events:,} events) in {recorded:.0f} s; "
          f"read models in {report.seconds:.0f} s")  # fmt: skip
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"relengotron serve exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthcheck")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("relengotron serve did not answer in time")


LUA = """
local nvrs = {}
for line in io.lines(os.getenv("BENCH_NVRS")) do nvrs[#nvrs + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local nvr = nvrs[math.random(#nvrs)]
  local body = '{"product_version": "fedora-44", "decision_context": '
    .. '"bodhi_update_push_stable", "subject_type": "koji_build", '
    .. '"subject_identifier": "' .. nvr .. '"}'
  return wrk.format("POST", "/api/v1.0/decision",
    {["Content-Type"] = "application/json"}, body)
end
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, duration: int, script: Path | None, env: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c50", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, env=env, timeout=duration + 60, check=True
    ).stdout
    pct = {
        m.group(1): float(m.group(2)) * _UNITS[m.group(3)]
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "rps": rps,
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def big_request(port: int, nvrs: list[str], alias: str, times: int) -> list[float]:
    subjects = [{"type": "koji_build", "item": n} for n in nvrs]
    subjects.append({"type": "bodhi_update", "item": alias})
    body = json.dumps(
        {
            "product_version": "fedora-44",
            "decision_context": ["bodhi_update_push_stable", "bodhi_update_push_stable_critpath"],
            "subject": subjects,
            "verbose": False,
        }
    )
    took = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(times + 3):
        t0 = time.perf_counter()
        c.request("POST", "/api/v1.0/decision", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        ms = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise SystemExit(f"343-subject request: HTTP {r.status}: {data[:300]!r}")
        if i >= 3:  # the first ones warm the caches
            took.append(ms)
    answer = json.loads(data)
    reqs = len(answer["satisfied_requirements"]) + len(answer["unsatisfied_requirements"])
    if reqs < len(nvrs):
        raise SystemExit(f"343-subject request answered only {reqs} requirements")
    return took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=100_000)
    ap.add_argument("--store", default=str(ROOT / "bench" / "out" / "api-store.db"))
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="serve processes (one per core: 2 here)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk, or `make sysdeps`)")
    store = Path(args.store)
    info = build_store(store, args.builds)
    msgs = messages(args.builds)
    big_nvrs: list[str] = []
    alias = "FEDORA-2026-0000000000"
    for m in msgs:
        if m["topic"].endswith("buildsys.tag"):
            b = m["body"]
            big_nvrs.append(f"{b['name']}-{b['version']}-{b['release']}")
            if len(big_nvrs) == BIG_UPDATE:
                break
    sample = random.Random(5)
    nvr_list = [f"pkg{n}-{1 + n % 7}.{n % 13}-1.fc44" for n in range(args.builds)]
    port = free_port()
    exe = str(Path(sys.executable).parent / "relengotron")
    server = subprocess.Popen(
        [exe, "serve", "--db", f"sqlite:///{store}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_up(port, server)
        with tempfile.TemporaryDirectory() as tmp:
            nvrs_file = Path(tmp) / "nvrs.txt"
            nvrs_file.write_text("\n".join(sample.sample(nvr_list, min(20_000, len(nvr_list)))))
            script = Path(tmp) / "decision.lua"
            script.write_text(LUA)
            env = {**os.environ, "BENCH_NVRS": str(nvrs_file)}
            base = f"http://127.0.0.1:{port}"
            wrk(f"{base}/api/v1.0/decision", 3, script, env)  # warm-up
            baseline = wrk(f"{base}/healthcheck", args.duration, None, env)
            single = wrk(f"{base}/api/v1.0/decision", args.duration, script, env)
        big = big_request(port, big_nvrs, alias, 40)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    big_p50, big_p99 = statistics.median(big), pct(big, 99)
    print(f"store:      {info['builds']:,} builds, {info['events']:,} events")
    print(f"baseline:   GET /healthcheck, 50 connections: p50 {baseline['p50_ms']:.2f} ms, "
          f"p99 {baseline['p99_ms']:.2f} ms, {baseline['rps']:,.0f} req/s")  # fmt: skip
    print(f"decision:   1 subject, 50 connections: p50 {single['p50_ms']:.2f} ms, "
          f"p99 {single['p99_ms']:.2f} ms, {single['rps']:,.0f} req/s "
          f"(non-2xx: {single['non_2xx']:.0f}); target p99 < {SINGLE_P99_MS:.0f} ms")  # fmt: skip
    print(f"decision:   343 subjects x 2 contexts, sequential: p50 {big_p50:.1f} ms, "
          f"p99 {big_p99:.1f} ms, max {max(big):.1f} ms; target < {BIG_MS:.0f} ms")  # fmt: skip
    print(
        json.dumps(
            {
                "builds": info["builds"],
                "events": info["events"],
                "workers": args.workers,
                "baseline_p50_ms": baseline["p50_ms"],
                "baseline_p99_ms": baseline["p99_ms"],
                "baseline_rps": baseline["rps"],
                "single_p50_ms": single["p50_ms"],
                "single_p99_ms": single["p99_ms"],
                "single_rps": single["rps"],
                "single_non_2xx": single["non_2xx"],
                "single_p99_vs_baseline": round(single["p99_ms"] / baseline["p99_ms"], 2),
                "big_p50_ms": round(big_p50, 2),
                "big_p99_ms": round(big_p99, 2),
                "big_max_ms": round(max(big), 2),
                "single_target_met": single["p99_ms"] < SINGLE_P99_MS and not single["non_2xx"],
                "big_target_met": max(big) < BIG_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
