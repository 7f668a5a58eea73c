"""``GET /metrics`` by prometheus_client (``adapters.http.metrics``): the store's health,
request counts and latencies per route and status, process metrics; one registry per
app; and ``serve --workers 2`` answering every scrape with the counts of all workers
(prometheus_client's multiprocess mode)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_http_front import DECISION, NVR, Site, request

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(got: Samples, name: str, **labels: str) -> float:
    return got[(name, frozenset(labels.items()))]


def test_request_process_and_health_metrics(tmp_path: Path) -> None:
    site = Site(tmp_path)
    client = site.client()
    for _ in range(3):  # the fast path
        assert client.post(DECISION, json=request()).status_code == 200
    assert client.get(f"/api/v1/builds/{NVR}").status_code == 200
    assert client.get("/api/v1/builds/no-such-1-1").status_code == 404
    assert client.get("/no/such/route").status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(r.text)
    total = "relengotron_http_requests_total"
    decision = {"method": "POST", "route": DECISION}
    assert value(got, total, **decision, status="200") == 3
    assert value(got, "relengotron_http_request_duration_seconds_count", **decision) == 3
    assert value(got, "relengotron_http_request_duration_seconds_sum", **decision) > 0
    build = {"method": "GET", "route": "/api/v1/builds/{nvr}"}  # the template, not the NVR
    assert value(got, total, **build, status="200") == 1
    assert value(got, total, **build, status="404") == 1
    assert value(got, total, method="GET", route="unmatched", status="404") == 1
    assert not any("no-such" in str(key) for key in got)
    # The process, read from /proc.
    assert value(got, "process_resident_memory_bytes") > 1_000_000
    assert value(got, "process_start_time_seconds") <= time.time()
    assert any(name == "python_info" for name, _ in got)
    # The store's health, as before prometheus_client.
    assert value(got, "relengotron_follower_lag_events", follower="readmodels") == 0
    assert value(got, "relengotron_messages_total") == 3
    assert value(got, "relengotron_log_position") > 0
    # OpenMetrics when asked for.
    om = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    # An Accept header prometheus_client cannot read: the text format, not an error.
    for accept in ("text/plain; version=x.y", "application/openmetrics-text; version=abc"):
        odd = client.get("/metrics", headers={"accept": accept})
        assert odd.status_code == 200, accept
        assert odd.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_each_app_counts_its_own(tmp_path: Path) -> None:
    site = Site(tmp_path)
    one, two = site.client(), site.client()
    for _ in range(2):
        one.get("/api/v1.0/about")
    two.get("/api/v1.0/about")
    about = {"method": "GET", "route": "/api/v1.0/about", "status": "200"}
    assert value(samples(one.get("/metrics").text), "relengotron_http_requests_total", **about) == 2
    assert value(samples(two.get("/metrics").text), "relengotron_http_requests_total", **about) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"content-type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_several_workers_answer_every_scrape_with_all_their_counts(tmp_path: Path) -> None:
    site = Site(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    exe = [str(Path(sys.executable).parent / "relengotron")]
    server = subprocess.Popen(
        [*exe, "serve", "--db", site.db, "--config", str(site.config),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "GET", "/healthcheck")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        body = orjson.dumps(request())
        n = 60
        with ThreadPoolExecutor(8) as pool:  # at once, on new connections: both workers
            answers = list(pool.map(lambda _: _get(port, "POST", DECISION, body)[0], range(n)))
        assert answers == [200] * n
        pids: set[str] = set()
        for _ in range(6):  # whichever worker answers the scrape: every worker's counts
            status, text = _get(port, "GET", "/metrics")
            assert status == 200
            got = samples(text.decode())
            decision = {"method": "POST", "route": DECISION}
            assert value(got, "relengotron_http_requests_total", **decision, status="200") == n
            count = "relengotron_http_request_duration_seconds_count"
            assert value(got, count, **decision) == n
            pids |= {dict(labels)["pid"] for name, labels in got
                     if name == "process_resident_memory_bytes"}  # fmt: skip
        print(f"process metrics of {len(pids)} workers")
        assert pids and all(Path(f"/proc/{pid}").exists() for pid in pids)
        assert str(server.pid) not in pids  # workers, not the supervisor
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_process_metrics_of_running_workers_only(tmp_path: Path) -> None:
    """A file left by a worker whose pid now names another process (here pid 1, not a
    child of this process's parent) brings no process metrics; this worker's does."""
    from relengotron.adapters.http.metrics import _Workers

    for pid in (os.getpid(), 1, 4_000_000):  # this worker, someone else's, no process
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    got = samples_of(_Workers(str(tmp_path)).collect())
    pids = {dict(labels).get("pid") for name, labels in got if name.startswith("process_")}
    assert pids == {str(os.getpid())}
    assert value(got, "process_resident_memory_bytes", pid=str(os.getpid())) > 1_000_000


def samples_of(families: Any) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
