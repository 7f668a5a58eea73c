"""A large decision request does not hold up the small ones (a real ``relengotron serve``).

Issue 15, deviation 10: 100,000 subjects in one request kept the event loop for 32 s,
and every other request, ``/healthcheck`` included, waited. Now large requests are
answered in the decision threads; the event loop keeps answering. Measured as a ratio:
while a request of thousands of subjects is in flight, ``/healthcheck`` and a
one-subject decision each answer in a small fraction of that request's time.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import REPO
from tests.integration.test_http_front import DECISION, NVR, Site, request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 120
) -> tuple[int, float]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    c.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    r.read()
    took = time.perf_counter() - t0
    c.close()
    return r.status, took


def _serve(site: Site, port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "relengotron", "serve", "--db", site.db, "--config",
         str(site.config), "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if _call(port, "GET", "/healthcheck")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not start:\n" + log.read_text()[-3000:])


def test_a_large_request_does_not_delay_small_ones(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.settings(project_interval=1, max_subjects=100_000, max_body_bytes=16 * 1024 * 1024)
    port = _free_port()
    proc = _serve(site, port, tmp_path / "serve.log")
    small = orjson.dumps(request(NVR))
    try:
        for _ in range(5):  # warm up
            assert _call(port, "POST", DECISION, small)[0] == 200
        subjects = 12000
        for _attempt in range(3):
            big = orjson.dumps(request(*[f"pkg{i}-1.{i % 13}-1.fc40" for i in range(subjects)]))
            heavy: dict[str, Any] = {}

            def run_heavy(body: bytes = big, out: dict[str, Any] = heavy) -> None:
                out["status"], out["took"] = _call(port, "POST", DECISION, body)

            worker = threading.Thread(target=run_heavy)
            worker.start()
            time.sleep(0.1)  # it is being answered
            during: list[tuple[str, int, float]] = []
            while worker.is_alive():
                during.append(("health", *_call(port, "GET", "/healthcheck")))
                during.append(("decision", *_call(port, "POST", DECISION, small)))
            worker.join()
            assert heavy["status"] == 200
            if heavy["took"] >= 1.0 and len(during) >= 4:
                break
            subjects *= 2  # a fast machine: make the large request larger
        took = heavy["took"]
        assert took >= 1.0, f"the large request took only {took:.2f} s"
        for kind, status, _ in during:
            assert status == 200, kind
        worst = max(t for _, _, t in during)
        median = statistics.median(t for _, _, t in during)
        print(f"large: {subjects} subjects, {took:.2f} s; small: worst {worst:.3f} s, "
              f"median {median:.3f} s, {len(during)} requests")  # fmt: skip
        # Before: each small request waited for the large one (its whole remaining time).
        assert worst < 0.25 * took, (
            f"a small request took {worst:.3f} s while a {subjects}-subject one took "
            f"{took:.2f} s (median {median:.3f} s)"
        )
        assert worst < 5.0  # generous: a loaded CI machine
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
