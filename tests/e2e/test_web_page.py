"""The web page of ``relengotron serve``, in headless Chromium, on the demo's store.

The demo (two nights: promotions, a waiver, ``vim`` quarantined, a bisection finding
``rpm``) fills a SQLite store; one more build (``tmux``) is tagged into
rawhide-pending with a test result still missing, so the pending batch is not empty.
``relengotron serve`` then runs as a real process on a free port of 127.0.0.1, and
the page is driven by playwright through Debian's ``/usr/bin/chromium`` (never a
downloaded browser: the machine has no internet). Without the browser or playwright
the tests are skipped, except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, _service_missing

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000  # every wait in the browser
SERVER_START_S = 60.0

VIM = "vim-9.1.1800-1.fc44"
RPM = "rpm-6.0.1-1.fc44"
TMUX = "tmux-3.6-1.fc44"
FUNCTIONAL = "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"

# A build tagged into rawhide-pending after the demo, with one of its tests passed:
# the decider holds it for the missing ones.
TMUX_MESSAGES: list[dict[str, Any]] = [
    {
        "id": "e2e-page-tmux-built",
        "topic": "org.fedoraproject.prod.buildsys.build.state.change",
        "headers": {"sent-at": "2026-11-22T09:01:00+00:00"},
        "body": {
            "attribute": "state", "base_url": "https://koji.fedoraproject.org",
            "build_id": 2900100, "epoch": None, "instance": "primary", "name": "tmux",
            "new": 1, "old": 0, "owner": "nicm", "release": "1.fc44", "version": "3.6",
            "task_id": 139000100,
            "request": ["git+https://src.fedoraproject.org/rpms/tmux.git"
                        "#0123456789abcdef0123456789abcdef01234567", "rawhide", {}],
        },
    },
    {
        "id": "e2e-page-tmux-tagged",
        "topic": "org.fedoraproject.prod.buildsys.tag",
        "headers": {"sent-at": "2026-11-22T09:02:00+00:00"},
        "body": {
            "build_id": 2900100, "instance": "primary", "name": "tmux", "owner": "nicm",
            "release": "1.fc44", "tag": "rawhide-pending", "tag_id": 4711, "user": "kojira",
            "version": "3.6",
        },
    },
    {
        "id": "e2e-page-tmux-rpmdeplint",
        "topic": "org.fedoraproject.prod.resultsdb.result.new",
        "headers": {"sent-at": "2026-11-22T09:06:30+00:00"},
        "body": {
            "data": {"arch": ["x86_64"], "item": [TMUX], "type": ["koji_build"]},
            "groups": [], "id": 41000100, "note": "", "outcome": "PASSED",
            "ref_url": "https://taskotron.fedoraproject.org/artifacts/100",
            "submit_time": "2026-11-22T09:06:00+00:00",
            "testcase": {"name": "dist.rpmdeplint", "ref_url": "https://docs.fedoraproject.org/"},
        },
    },
]  # fmt: skip


# ------------------------------------------------------------------ helpers


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "relengotron", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"relengotron {args[0]}: {done.stdout}\n{done.stderr}"
    return done


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(base: str, path: str, timeout: float = 30) -> Any:
    with urllib.request.urlopen(base + path, timeout=timeout) as response:
        return json.load(response)


class Server:
    """``relengotron serve`` on a free port of 127.0.0.1, as a child process."""

    def __init__(self, db: str, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relengotron", "serve", "--db", db,
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout: float = SERVER_START_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"relengotron serve exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(self.base + "/api/v1/builds?gate=candidate", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers; what it says is for the tests to judge
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"relengotron serve did not answer within {timeout:g} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@contextmanager
def _serve(db: str, log: Path) -> Iterator[str]:
    server = Server(db, log)
    try:
        server.wait_ready()
        yield server.base
    finally:
        server.stop()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _service_missing("Chromium", f"{CHROMIUM} not found (apt install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _service_missing("playwright", f"cannot import it ({exc}); pip install playwright")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``relengotron serve`` on the demo's store, plus a held tmux build."""
    if shutil.which("dot") is None:
        _service_missing("Graphviz", "dot not found (apt install graphviz)")
    tmp = tmp_path_factory.mktemp("web_page")
    db = f"sqlite:///{tmp / 'demo.db'}"
    _cli("demo", "--db", db)
    extra = tmp / "tmux.jsonl"
    extra.write_text("".join(json.dumps(m) + "\n" for m in TMUX_MESSAGES))
    _cli("ingest", "--db", db, "--no-progress", str(extra))
    _cli("project", "--db", db, "--no-progress")  # the read models the API answers from
    with _serve(db, tmp / "serve.log") as base:
        yield base


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    p.errors = []  # uncaught script errors: a page with any fails the test
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))
    try:
        yield p
    finally:
        context.close()


def _open(page: Any, url: str) -> None:
    response = page.goto(url, timeout=TIMEOUT_MS)
    assert response is not None and response.status == 200, (
        f"GET {url}: {response.status if response else 'no response'} "
        "(does the app include adapters.http.page.router?)"
    )
    page.wait_for_selector("body[data-loaded='true']", timeout=TIMEOUT_MS)


def _rows(page: Any, section: str) -> list[str]:
    return page.locator(f"#{section} table.builds tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.nvr)"
    )


# ------------------------------------------------------------------ tests


def test_page_shows_the_gate_the_reasons_and_the_graph(
    demo_url: str, page: Any, tmp_path: Path
) -> None:
    # What the page should show, from the same API it reads.
    pending = {
        b["nvr"]: b
        for gate in ("candidate", "held", "waived")
        for b in _get(demo_url, f"/api/v1/builds?gate={gate}")["builds"]
    }
    quarantined = {b["nvr"]: b for b in _get(demo_url, "/api/v1/builds?gate=quarantined")["builds"]}
    decisions = _get(demo_url, "/api/v1/decisions?limit=20")["decisions"]
    artifacts = [a["name"] for a in _get(demo_url, "/api/v1/artifacts")["artifacts"]]
    # ... and what the demo is known to leave.
    assert {VIM, RPM} <= set(quarantined)
    assert TMUX in pending and pending[TMUX]["verdict"] == "hold"
    assert decisions and {"rawhide-repo", "fedora-iot-ostree"} <= set(artifacts)

    _open(page, demo_url + "/")
    assert page.title().startswith("releng-o-tron")

    # The pending batch: exactly the builds still in rawhide-pending.
    assert sorted(_rows(page, "pending")) == sorted(pending)
    tmux = page.locator(f"#pending tr[data-nvr='{TMUX}']")
    assert tmux.locator(".badge.verdict").inner_text().strip().lower() == "hold"
    assert pending[TMUX]["decision"]["summary"] in tmux.inner_text()
    missing = pending[TMUX]["decision"]["unsatisfied_requirements"]
    assert tmux.locator(".req").count() == len(missing)
    assert page.locator("#pending-count").inner_text() == str(len(pending))

    # Quarantined: vim for its failing functional test, rpm found by the bisection.
    assert sorted(_rows(page, "quarantined")) == sorted(quarantined)
    vim = page.locator(f"#quarantined tr[data-nvr='{VIM}']")
    assert vim.locator(".badge.verdict").inner_text().strip().lower() == "quarantine"
    assert "1 test failed" in vim.inner_text()
    failed = vim.locator(".req[data-state='failed']")
    assert failed.count() == 1
    assert failed.locator(".testcase").inner_text() == FUNCTIONAL
    assert failed.locator(".badge.state-failed").inner_text() == "failed"
    rpm_row = page.locator(f"#quarantined tr[data-nvr='{RPM}']").inner_text()
    assert "fedora-ci.koji-build-group.integrity.functional" in rpm_row

    # Recent decisions, newest first, each with its reason; times in UTC.
    rows = page.locator("#decisions table.decisions tbody tr")
    assert rows.count() == len(decisions)
    first = rows.nth(0)
    assert first.get_attribute("data-nvr") == decisions[0]["nvr"]
    assert decisions[0]["summary"] in first.inner_text()
    verdict = first.locator(".badge.verdict").last.inner_text()
    assert verdict.strip().lower() == decisions[0]["verdict"]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", first.inner_text())
    text = page.locator("#decisions").inner_text()
    assert all(d["summary"] in text for d in decisions)
    vim_decisions = [d for d in decisions if d["nvr"] == VIM]
    if vim_decisions:  # its reason names the failed requirement
        assert FUNCTIONAL in page.locator(f"#decisions tr[data-nvr='{VIM}']").first.inner_text()

    # The artifact graph, drawn by Graphviz and inlined: a node per artifact.
    svg = page.locator("#graph-body > svg")
    assert svg.count() == 1
    nodes = svg.locator("g.node > title").all_text_contents()
    assert set(nodes) == set(artifacts)
    assert "composed from" in (svg.text_content() or "")
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    page.screenshot(path=str(tmp_path / "top.png"))  # what a release engineer sees first

    # Focus on one artifact: only its relatives stay.
    with page.expect_response(lambda r: "graph.svg?artifact=fedora-iot-qcow2" in r.url):
        page.select_option("#graph-artifact", "fedora-iot-qcow2")
    page.wait_for_function(
        f"() => document.querySelectorAll('#graph-body > svg g.node').length < {len(artifacts)}",
        timeout=TIMEOUT_MS,
    )
    focused = set(page.locator("#graph-body > svg g.node > title").all_text_contents())
    assert {"fedora-iot-qcow2", "fedora-iot-ostree", "rawhide-repo"} <= focused
    assert "fedora-toolbox" not in focused

    # Clicking a build shows its history.
    detail = _get(demo_url, f"/api/v1/builds/{urllib.parse.quote(VIM)}")
    vim.locator("a.nvr").click()
    page.wait_for_selector("#build-detail:not([hidden]) table.history", timeout=TIMEOUT_MS)
    panel = page.locator("#build-detail")
    assert page.locator("#detail-nvr").inner_text() == VIM
    assert panel.locator("table.history tbody tr").count() == len(detail["history"])
    panel_text = panel.inner_text()
    assert all(h["summary"] in panel_text for h in detail["history"] if h.get("summary"))
    assert "rawhide-badnewsbears" in panel_text
    assert FUNCTIONAL in panel_text
    assert page.url.endswith(f"#build={VIM}")
    page.screenshot(path=str(tmp_path / "build.png"), full_page=True)

    # Another build from the decisions list replaces it.
    other = decisions[0]["nvr"]
    page.locator(f"#decisions a.nvr[data-nvr='{other}']").first.click()
    page.wait_for_function(
        f"() => document.getElementById('detail-nvr').textContent === {json.dumps(other)}"
        " && document.querySelector('#build-detail table.history') !== null",
        timeout=TIMEOUT_MS,
    )
    page.locator("#detail-close").click()
    assert page.locator("#build-detail").is_hidden()
    assert page.errors == []


def test_page_says_when_an_api_call_fails(demo_url: str, page: Any) -> None:
    page.route(
        "**/api/v1/decisions*",
        lambda route: route.fulfill(
            status=500, content_type="application/json", body='{"message": "read model down"}'
        ),
    )
    page.route(
        "**/api/v1/graph.svg*",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"message": "no dot here"}'
        ),
    )
    _open(page, demo_url + "/")
    error = page.locator("#decisions .error")
    assert "HTTP 500" in error.inner_text() and "read model down" in error.inner_text()
    assert page.locator("#graph .error").inner_text() == "Graph unavailable: no dot here"
    assert VIM in _rows(page, "quarantined")  # the rest of the page still works

    page.goto(demo_url + "/#build=no-such-build-1-1.fc44", timeout=TIMEOUT_MS)
    page.wait_for_selector("#build-detail .error", timeout=TIMEOUT_MS)
    assert "404" in page.locator("#build-detail .error").inner_text()
    assert page.errors == []


def test_page_on_an_empty_store(browser: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    _cli("project", "--db", db, "--no-progress")
    with _serve(db, tmp_path / "serve.log") as base:
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            p = context.new_page()
            _open(p, base + "/")
            assert p.locator("#pending .empty").inner_text() == "No builds pending"
            assert p.locator("#quarantined .empty").inner_text() == "No builds quarantined"
            assert p.locator("#decisions .empty").inner_text() == "No decisions yet"
            # no artifacts: an empty drawing or a reason, never a blank section
            graph = p.locator("#graph-body")
            assert graph.locator("svg").count() == 1 or "Graph unavailable" in graph.inner_text()
        finally:
            context.close()


def test_static_files_and_the_graph_route(demo_url: str) -> None:
    for name, media in (("app.js", "javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(f"{demo_url}/static/{name}", timeout=10) as r:
            assert media in r.headers["Content-Type"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{demo_url}/static/nothing.js", timeout=10)
    assert missing.value.code == 404
    with urllib.request.urlopen(f"{demo_url}/api/v1/graph.svg", timeout=30) as r:
        assert r.headers["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in r.read()
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{demo_url}/api/v1/graph.svg?artifact=nope", timeout=30)
    assert unknown.value.code == 404
