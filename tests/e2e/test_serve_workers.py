"""Two ``serve`` workers each catch the read models up before answering: whichever
worker a request lands on, it reflects every message recorded before it (issue 15,
deviation 7), though only one of them wins each page's race to fold it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.conftest import REPO
from tests.e2e.test_serve_load import _free_port
from tests.integration.test_http_front import DECISION, NVR, Site, request


def _decide(port: int) -> dict[str, object]:
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", DECISION, orjson.dumps(request(NVR)), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    return dict(orjson.loads(body))


def test_every_worker_answers_with_what_was_just_recorded(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.settings(project_interval=3600)  # no periodic round: only the catch-up helps
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "relengotron", "serve", "--db", site.db, "--config",
         str(site.config), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if _decide(port)["policies_satisfied"] is True:
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        for _ in range(20):  # both workers answer (uvicorn shares one socket)
            assert _decide(port)["policies_satisfied"] is True
        for outcome, satisfied in (("FAILED", False), ("PASSED", True), ("FAILED", False)):
            site.record(site.bus.rpmdeplint(NVR, outcome))
            answers = [_decide(port)["policies_satisfied"] for _ in range(20)]
            assert answers == [satisfied] * 20, (outcome, answers)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
