"""The web page of ``relengotron serve``, in headless Chromium, on the demo's store.

The demo (two nights: promotions, a waiver, ``vim`` quarantined, a bisection finding
``rpm``) fills a SQLite store; one more build (``tmux``) is tagged into
rawhide-pending with a test result still missing, so the pending batch is not empty,
and another (``htop``) fails rpmdeplint: quarantined, its koji move not made yet (no
hub), so the page says "move pending".
``relengotron serve`` then runs as a real process on a free port of 127.0.0.1, and
the page is driven by playwright through Debian's ``/usr/bin/chromium`` (never a
downloaded browser: the machine has no internet). Without the browser or playwright
the tests are skipped, except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
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
HTOP = "htop-3.4.1-1.fc44"
JQ = "jq-1.8.1-1.fc44"
YQ = "yq-4.47.1-1.fc44"
TOKEN = "e2e-page-token"
PHONE = {"width": 420, "height": 860}
DESKTOP = {"width": 1400, "height": 900}
# Screenshots kept for people to look at (desktop and phone width).
ARTIFACTS = Path(os.environ.get("RELENGOTRON_TEST_ARTIFACTS", REPO / "tests" / "artifacts"))
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


def _koji_build(
    name: str, version: str, build_id: int, owner: str, at: str
) -> list[dict[str, Any]]:
    """koji's BUILDING->COMPLETE and tag messages of a build tagged into rawhide-pending."""
    sha = f"{build_id:040x}"
    common = {
        "build_id": build_id,
        "instance": "primary",
        "name": name,
        "owner": owner,
        "release": "1.fc44",
        "version": version,
    }
    return [
        {"id": f"e2e-page-{name}-built",
         "topic": "org.fedoraproject.prod.buildsys.build.state.change",
         "headers": {"sent-at": f"{at}:00+00:00"},
         "body": {**common, "attribute": "state", "base_url": "https://koji.fedoraproject.org",
                  "epoch": None, "new": 1, "old": 0, "task_id": 139000000 + build_id % 1000,
                  "request": [f"git+https://src.fedoraproject.org/rpms/{name}.git#{sha}",
                              "rawhide", {}]}},
        {"id": f"e2e-page-{name}-tagged", "topic": "org.fedoraproject.prod.buildsys.tag",
         "headers": {"sent-at": f"{at}:30+00:00"},
         "body": {**common, "tag": "rawhide-pending", "tag_id": 4711, "user": "kojira"}},
    ]  # fmt: skip


# htop fails rpmdeplint: quarantined, and the koji move waits in the outbox (no hub).
HTOP_MESSAGES = [
    *_koji_build("htop", "3.4.1", 2900101, "hisham", "2026-11-22T09:11"),
    {
        "id": "e2e-page-htop-rpmdeplint",
        "topic": "org.fedoraproject.prod.resultsdb.result.new",
        "headers": {"sent-at": "2026-11-22T09:16:30+00:00"},
        "body": {
            "data": {"arch": ["x86_64"], "item": [HTOP], "type": ["koji_build"]},
            "groups": [], "id": 41000101, "note": "", "outcome": "FAILED",
            "ref_url": "https://taskotron.fedoraproject.org/artifacts/101",
            "submit_time": "2026-11-22T09:16:00+00:00",
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

    def __init__(self, db: str, log: Path, env: dict[str, str] | None = None) -> None:
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
            env={**os.environ, **(env or {})},
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
def _serve(db: str, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    server = Server(db, log, env)
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


def _ingest(db: str, path: Path, messages: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    _cli("ingest", "--db", db, "--no-progress", str(path))


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's store (a SQLite file), plus a held tmux build and a quarantined htop
    whose koji move is not made yet."""
    if shutil.which("dot") is None:
        _service_missing("Graphviz", "dot not found (apt install graphviz)")
    tmp = tmp_path_factory.mktemp("web_page")
    db = f"sqlite:///{tmp / 'demo.db'}"
    _cli("demo", "--db", db)
    _ingest(db, tmp / "extra.jsonl", TMUX_MESSAGES + HTOP_MESSAGES)
    _cli("project", "--db", db, "--no-progress")  # the read models the API answers from
    return tmp / "demo.db"


@pytest.fixture(scope="module")
def demo_url(demo_store: Path) -> Iterator[str]:
    """``relengotron serve`` on the demo's store, read-only (no API token)."""
    with _serve(f"sqlite:///{demo_store}", demo_store.parent / "serve.log",
                {"RELENGOTRON_API_TOKEN": ""}) as base:  # fmt: skip
        yield base


def _new_page(browser: Any, viewport: dict[str, int]) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    p.errors = []  # uncaught script errors and refusals: a page with any fails the test
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))
    p.on(
        "console",
        lambda m: p.errors.append(m.text) if m.type == "error" and "Refused" in m.text else None,
    )
    return context, p


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context, p = _new_page(browser, DESKTOP)
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context, p = _new_page(browser, PHONE)
    try:
        yield p
    finally:
        context.close()


def _shot(page: Any, name: str, *, full: bool = True) -> Path:
    """A screenshot kept under ARTIFACTS/web_page (its path is printed)."""
    where = ARTIFACTS / "web_page"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"screenshot: {path}")
    return path


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


def test_page_shows_the_gate_the_reasons_and_the_graph(demo_url: str, page: Any) -> None:
    # What the page should show, from the same API it reads.
    pending = {
        b["nvr"]: b
        for gate in ("candidate", "held", "waived")
        for b in _get(demo_url, f"/api/v1/builds?gate={gate}")["builds"]
    }
    quarantined = {b["nvr"]: b for b in _get(demo_url, "/api/v1/builds?gate=quarantined")["builds"]}
    decisions = _get(demo_url, "/api/v1/page/decisions?limit=20")["decisions"]
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
    _shot(page, "desktop")
    _shot(page, "desktop-top", full=False)  # what a release engineer sees first

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
    _shot(page, "desktop-build")

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
        "**/api/v1/page/decisions*",
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


# ------------------------------------------------------------------ issue 19: the page


def _nvrs(page: Any, section: str) -> list[str]:
    return sorted(_rows(page, section))


def _attr(locator: Any, name: str) -> str:
    value = locator.get_attribute(name)
    assert value is not None, f"no {name} on {locator}"
    return str(value)


def test_links_out_and_the_trigger_of_a_decision(demo_url: str, page: Any) -> None:
    vim = _get(demo_url, f"/api/v1/builds/{VIM}")
    _open(page, demo_url + "/")
    row = page.locator(f"#quarantined tr[data-nvr='{VIM}']")
    koji = row.locator("a.link-koji")
    assert _attr(koji, "href") == (
        f"https://koji.fedoraproject.org/koji/buildinfo?buildID={vim['koji_id']}"
    )
    namespace_name, sha = vim["change"].split("#")  # "rpms/vim#<sha>"
    distgit = _attr(row.locator("a.link-distgit"), "href")
    assert distgit == f"https://src.fedoraproject.org/{namespace_name}/c/{sha}"
    bodhi = _attr(row.locator("a.link-bodhi"), "href")
    assert bodhi == f"https://bodhi.fedoraproject.org/updates/?builds={VIM}"
    assert _attr(koji, "target") == "_blank" and "noopener" in _attr(koji, "rel")
    # koji's own source URL form ("git+https://...git#sha") gives the same kind of link
    htop = page.locator(f"#quarantined tr[data-nvr='{HTOP}'] a.link-distgit")
    assert _attr(htop, "href") == f"https://src.fedoraproject.org/rpms/htop/c/{2900101:040x}"

    # The trigger of a decision: the message's topic, linked to the message, no bare UUID.
    shown = _get(demo_url, "/api/v1/page/decisions?limit=20")["decisions"]
    rows = page.locator("#decisions table.decisions tbody tr")
    assert rows.count() == len(shown)
    for i, d in enumerate(shown):
        trigger = rows.nth(i).locator(".trigger")
        message = d["trigger_message"]
        assert message is not None, d  # every demo decision was triggered by a message
        assert trigger.locator("code.topic").inner_text() == message["topic"]
        if message["url"]:
            assert _attr(trigger.locator("a.link-message"), "href") == message["url"]
            assert "datagrepper/v2/id?id=" in message["url"]
        assert d["trigger"] not in trigger.inner_text()

    # The build's CI runs link to their ref_url.
    page.goto(demo_url + f"/#build={VIM}")
    page.wait_for_selector("#build-detail table.history", timeout=TIMEOUT_MS)
    ref_urls = {
        h["data"]["ref_url"] for h in vim["history"] if (h.get("data") or {}).get("ref_url")
    }
    ci = set(page.locator("#build-detail a.link-ci").evaluate_all("a => a.map(x => x.href)"))
    assert ci and ci <= ref_urls
    # ... and its decisions name their trigger too
    mine = page.locator("#build-detail table.decisions tbody tr")
    assert mine.count() == len(vim["decisions"]) > 0
    named = _get(demo_url, f"/api/v1/page/decisions?nvr={VIM}&all=true&limit=50")["decisions"]
    topics = mine.locator(".trigger code.topic").all_inner_texts()
    assert topics == [d["trigger_message"]["topic"] for d in named]
    detail_koji = page.locator("#detail-links a.link-koji")
    assert _attr(detail_koji, "href").endswith(f"buildID={vim['koji_id']}")
    assert page.errors == []


def test_filters_narrow_the_rows_and_unchanged_decisions_are_asked_for(
    demo_url: str, page: Any
) -> None:
    builds = {
        b["nvr"]: b
        for b in _get(demo_url, "/api/v1/page/builds?gate=candidate&gate=held&gate=waived"
                      "&gate=quarantined&gate=promoted")["builds"]
    }  # fmt: skip
    changed = _get(demo_url, "/api/v1/page/decisions?limit=20")["decisions"]
    every = _get(demo_url, "/api/v1/page/decisions?limit=20&all=true")["decisions"]
    _open(page, demo_url + "/")
    before = {s: _nvrs(page, s) for s in ("pending", "quarantined", "promoted")}
    assert before["quarantined"] and before["promoted"] and before["pending"]

    page.fill("#f-package", "vim")
    assert _nvrs(page, "quarantined") == [VIM]
    assert _nvrs(page, "pending") == [] and _nvrs(page, "promoted") == []
    assert page.locator("#pending .empty").inner_text() == "No build matches the filter"
    decision_rows = page.locator("#decisions table.decisions tbody tr")
    assert set(decision_rows.evaluate_all("r => r.map(x => x.dataset.nvr)")) == {VIM}
    assert decision_rows.count() == sum(1 for d in changed if d["nvr"] == VIM)
    assert page.locator("#quarantined-count").inner_text() == f"1 of {len(before['quarantined'])}"

    page.click("#f-clear")
    page.wait_for_function("() => document.getElementById('f-package').value === ''")
    assert {s: _nvrs(page, s) for s in before} == before

    page.fill("#f-owner", "nicm")  # tmux's owner
    assert _nvrs(page, "pending") == [TMUX] and _nvrs(page, "quarantined") == []
    page.click("#f-clear")

    page.fill("#f-tag", "badnewsbears")
    want = sorted(n for n, b in builds.items() if any("badnewsbears" in t for t in b["tags"]))
    assert _nvrs(page, "quarantined") == want and _nvrs(page, "promoted") == []
    page.click("#f-clear")

    page.select_option("#f-state", "move-pending")
    moving = sorted(n for n, b in builds.items() if b["move_pending"])
    assert moving == [HTOP]  # no koji hub: its move waits in the outbox
    assert _nvrs(page, "quarantined") == moving
    badge = page.locator(f"#quarantined tr[data-nvr='{HTOP}'] .badge.move-pending")
    assert badge.inner_text() == "move pending"
    assert page.locator(f"#quarantined tr[data-nvr='{VIM}'] .move-pending").count() == 0
    page.select_option("#f-state", "promoted")
    assert _nvrs(page, "promoted") == before["promoted"] and _nvrs(page, "quarantined") == []
    page.click("#f-clear")

    # Decisions whose verdict stayed are left out unless asked for.
    assert any(d["previous"] == d["verdict"] for d in every)
    assert all(d["previous"] != d["verdict"] for d in changed)
    rows = page.locator("#decisions table.decisions tbody tr")
    assert rows.count() == len(changed)
    assert page.locator("#decisions tr[data-changed='false']").count() == 0
    with page.expect_response(lambda r: "/api/v1/page/decisions" in r.url and "all=true" in r.url):
        page.check("#show-unchanged")
    page.wait_for_function(
        "n => document.querySelectorAll('#decisions table.decisions tbody tr').length === n",
        arg=len(every),
    )
    unchanged = sum(1 for d in every if d["previous"] == d["verdict"])
    assert page.locator("#decisions tr[data-changed='false']").count() == unchanged
    ats = rows.evaluate_all("r => r.map(x => x.querySelector('time').getAttribute('datetime'))")
    assert ats == sorted(ats, reverse=True)  # by time, newest first
    assert page.errors == []


def test_operations_panel_and_compose_state_on_the_graph(demo_url: str, page: Any) -> None:
    ops = _get(demo_url, "/api/v1/operations")
    artifacts = {a["name"]: a for a in _get(demo_url, "/api/v1/artifacts")["artifacts"]}
    assert ops["outbox"]["pending"] >= 1 and [m["nvr"] for m in ops["moves_pending"]] == [HTOP]
    _open(page, demo_url + "/")
    panel = page.locator("#operations")
    stats = dict(
        zip(
            panel.locator(".stat-label").all_inner_texts(),
            panel.locator(".stat-value").all_inner_texts(),
            strict=True,
        )
    )
    assert stats["outbox pending"] == str(ops["outbox"]["pending"])
    assert stats["outbox failed"] == str(ops["outbox"]["failed"])
    assert stats["koji moves pending"] == "1"
    assert stats["oldest pending"] != "—"
    followers = panel.locator("table.followers tbody tr")
    names = followers.evaluate_all("r => r.map(x => x.dataset.follower)")
    assert names == list(ops["followers"])
    for name, f in ops["followers"].items():
        cells = panel.locator(f"tr[data-follower='{name}'] td").all_inner_texts()
        assert cells[1:] == [str(f["position"]), str(f["lag"])]
    composes = panel.locator("table.composes tbody tr")
    assert sorted(composes.evaluate_all("r => r.map(x => x.dataset.artifact)")) == sorted(artifacts)
    for name, a in artifacts.items():
        row = panel.locator(f"tr[data-artifact='{name}']")
        assert row.locator(".badge.compose").inner_text() == a["state"]
        last = a["last_compose"]
        assert (last["compose"] if last else "never composed") in row.inner_text()

    nodes = page.locator("#graph-body > svg g.node")
    states = dict(
        zip(
            nodes.evaluate_all("n => n.map(x => x.querySelector('title').textContent)"),
            nodes.evaluate_all("n => n.map(x => x.dataset.composeState)"),
            strict=True,
        )
    )
    assert states == {name: a["state"] for name, a in artifacts.items()}
    # ... and shown: a composed artifact is filled green, an idle one is not
    fills = dict(
        zip(
            nodes.evaluate_all("n => n.map(x => x.dataset.composeState)"),
            nodes.evaluate_all(
                "n => n.map(x => getComputedStyle(x.querySelector('polygon, ellipse, path')).fill)"
            ),
            strict=False,
        )
    )
    assert fills["composed"] == "rgb(227, 244, 230)"  # --green-bg
    assert fills.get("idle", "rgb(236, 239, 243)") == "rgb(236, 239, 243)"  # --grey-bg
    assert page.errors == []


def test_live_updates_and_the_token_holders_actions(
    browser: Any, demo_store: Path, tmp_path: Path
) -> None:
    # A copy of the store, served with a write token.
    copy = tmp_path / "live.db"
    shutil.copyfile(demo_store, copy)
    db = f"sqlite:///{copy}"
    (ARTIFACTS / "web_page").mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "web_page" / "live-serve.log"  # kept: what the server said
    with _serve(db, log, {"RELENGOTRON_API_TOKEN": TOKEN}) as base:
        context, p = _new_page(browser, DESKTOP)
        try:
            _open(p, base + "/")
            assert JQ not in _rows(p, "pending")
            p.wait_for_selector("#live[data-state='live']", timeout=TIMEOUT_MS)
            p.evaluate("window.__sameDocument = true")

            # A new build is ingested by another process: the page shows it, no reload.
            _ingest(db, tmp_path / "jq.jsonl",
                    _koji_build("jq", "1.8.1", 2900102, "itchyny", "2026-11-22T10:01"))  # fmt: skip
            p.wait_for_selector(f"#pending tr[data-nvr='{JQ}']", timeout=30_000)
            assert p.evaluate("window.__sameDocument") is True
            assert p.locator(f"#decisions tr[data-nvr='{JQ}']").count() >= 1

            # Actions on htop's page: its failed test offers a rerun before the waiver.
            p.goto(base + f"/#build={HTOP}")
            p.wait_for_selector("#detail-actions .act-panel", timeout=TIMEOUT_MS)
            item = p.locator("#detail-actions .act-waivers li").filter(
                has=p.locator("button.act-waive[data-testcase='dist.rpmdeplint']")
            )
            assert item.locator("button").first.get_attribute("data-action") == "rerun"
            assert p.locator(
                "#detail-actions button.act-rerun[data-testcase='dist.rpmdeplint']"
            ).is_visible()
            assert p.locator("#detail-actions button[data-action='hold']").is_visible()
            waive = p.locator("#detail-actions button.act-waive[data-testcase='dist.rpmdeplint']")
            waive.click()
            assert p.locator("#act-confirm").is_disabled()  # no reason, no waiver
            p.fill("#act-reason", "rpmdeplint flakes on the builder, known issue")
            # A live update while the reason is typed leaves the form alone.
            _ingest(db, tmp_path / "yq.jsonl",
                    _koji_build("yq", "4.47.1", 2900103, "fale", "2026-11-22T10:05"))  # fmt: skip
            p.wait_for_selector(f"#pending tr[data-nvr='{YQ}']", timeout=30_000)
            assert p.input_value("#act-reason") == "rpmdeplint flakes on the builder, known issue"
            p.fill("#act-user", "releng-tester")
            p.fill("#act-token", "not-the-token")
            p.click("#act-confirm")
            p.wait_for_selector("#act-result .error", timeout=TIMEOUT_MS)
            assert "HTTP 401" in p.locator("#act-result").inner_text()
            p.fill("#act-token", TOKEN)
            p.click("#act-confirm")
            p.wait_for_selector("#act-result :is(.ok, .error)", timeout=TIMEOUT_MS)
            assert p.locator("#act-result .ok").count() == 1, p.locator("#act-result").inner_text()
            # The waiver is recorded (and the page follows: htop leaves the quarantine).
            history = _get(base, f"/api/v1/builds/{HTOP}")["history"]
            assert any(
                h["kind"] == "waiver" and "rpmdeplint flakes" in h["summary"] for h in history
            )
            p.wait_for_function(
                f"() => !document.querySelector(\"#quarantined tr[data-nvr='{HTOP}']\")",
                timeout=30_000,
            )
            p.wait_for_selector("#build-detail:not([hidden]) table.history", timeout=TIMEOUT_MS)
            p.wait_for_function(
                "() => document.getElementById('build-detail').innerText"
                ".includes('rpmdeplint flakes')",
                timeout=30_000,
            )
            _shot(p, "desktop-actions")

            # The waiver can be revoked from the same panel, and the build held.
            def act(selector: str, label: str, why: str) -> None:
                p.locator(selector).click()
                p.fill("#act-reason", why)
                p.click("#act-confirm")
                p.wait_for_selector(f"#act-result :is(.ok, .error):has-text('{label}')",
                                    timeout=TIMEOUT_MS)  # fmt: skip
                assert p.locator("#act-result .ok").count() == 1, p.inner_text("#act-result")

            revoke = "#detail-actions button.act-revoke[data-testcase='dist.rpmdeplint']"
            p.wait_for_selector(revoke, timeout=30_000)
            act(revoke, "Revoke waiver", "not flaky after all")
            act("#detail-actions button[data-action='hold']", "Hold", "looking into it")
            history = _get(base, f"/api/v1/builds/{HTOP}")["history"]
            summaries = [h["summary"] for h in history]
            assert any("revoked" in t and "not flaky after all" in t for t in summaries)
            assert any("Manually held by releng-tester (looking into it)" in t for t in summaries)
            assert _get(base, f"/api/v1/builds/{HTOP}")["gate"] == "held"
            assert p.errors == []
        finally:
            context.close()

        # The server has the rerun endpoint (issue 20): it is advertised, and a failed
        # test of a quarantined build is asked to run again from the page.
        context, p = _new_page(browser, DESKTOP)
        try:
            info = _get(base, "/api/v1/page")
            assert info["writes"] is True and info["rerun"] == "/api/v1/builds/{nvr}/rerun"
            p.goto(base + f"/#build={VIM}")
            p.wait_for_selector("#detail-actions .act-panel", timeout=TIMEOUT_MS)
            button = p.locator("#detail-actions button.act-rerun").first
            testcase = button.get_attribute("data-testcase")
            assert testcase
            button.click()
            p.fill("#act-reason", "the builder was out of disk")
            p.fill("#act-user", "releng-tester")
            p.fill("#act-token", TOKEN)
            p.click("#act-confirm")
            p.wait_for_selector("#act-result :is(.ok, .error)", timeout=TIMEOUT_MS)
            assert p.locator("#act-result .ok").count() == 1, p.inner_text("#act-result")
            history = _get(base, f"/api/v1/builds/{VIM}")["history"]
            assert any(
                f"rerun of {testcase}" in h["summary"] and "releng-tester" in h["summary"]
                for h in history
            ), [h["summary"] for h in history]
            assert p.errors == []
        finally:
            context.close()

        # A page left open does not hold up the server's stop for long (uvicorn waits
        # for open streams; Server.stop kills it after 10 s).
        listening = threading.Thread(target=_fetch, args=(base + "/api/v1/updates",), daemon=True)
        listening.start()
        time.sleep(0.5)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 8.0


def test_read_only_server_offers_no_actions(demo_url: str, page: Any) -> None:
    assert _get(demo_url, "/api/v1/page")["writes"] is False
    page.goto(demo_url + f"/#build={VIM}", timeout=TIMEOUT_MS)
    page.wait_for_selector("#build-detail table.history", timeout=TIMEOUT_MS)
    assert "Read-only" in page.locator("#detail-actions .read-only").inner_text()
    assert page.locator("#detail-actions button.act").count() == 0
    assert page.errors == []


OWN_ASSETS = ("/", "/static/app.js", "/static/actions.js", "/static/style.css",
              "/static/docs.js", "/docs")  # fmt: skip


def _fetch(url: str) -> tuple[Any, bytes]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.headers, r.read()


def test_headers_and_nothing_from_another_origin(demo_url: str, browser: Any) -> None:
    for path in (*OWN_ASSETS, "/static/swagger/swagger-ui-bundle.js",
                 "/static/swagger/swagger-ui.css", "/api/v1/page", "/api/v1/operations",
                 "/openapi.json"):  # fmt: skip
        headers, body = _fetch(demo_url + path)
        csp = headers["Content-Security-Policy"] or ""
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "http" not in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        if path in OWN_ASSETS:  # our own files name no other origin at all
            text = body.decode()
            assert not re.search(r"https?://|[\"'(]//", text), (
                path,
                re.findall(r"https?://\S+", text),
            )
            assert "<script>" not in text and " on" + "click=" not in text, path

    # In the browser: every request of the page and of /docs goes to this server.
    context, p = _new_page(browser, DESKTOP)
    elsewhere: list[str] = []
    p.on(
        "request",
        lambda r: None if r.url.startswith((demo_url, "data:")) else elsewhere.append(r.url),
    )
    try:
        _open(p, demo_url + "/")
        p.goto(demo_url + "/docs", timeout=TIMEOUT_MS)
        p.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "releng-o-tron" in p.locator(".swagger-ui .info .title").inner_text()
        p.wait_for_selector(".swagger-ui .opblock", timeout=TIMEOUT_MS)
        _shot(p, "desktop-docs", full=False)
        assert elsewhere == []
        assert p.errors == []  # no script error, nothing refused by the policy
    finally:
        context.close()


def test_the_page_at_phone_width(demo_url: str, phone: Any) -> None:
    _open(phone, demo_url + "/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide at {PHONE['width']} px"
    for section in ("pending", "quarantined", "decisions", "operations", "promoted", "graph"):
        box = phone.locator(f"#{section}").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    vim = phone.locator(f"#quarantined tr[data-nvr='{VIM}']")
    assert vim.locator("a.nvr").is_visible() and vim.locator("a.link-koji").is_visible()
    _shot(phone, "phone")
    _shot(phone, "phone-top", full=False)
    vim.locator("a.nvr").click()
    phone.wait_for_selector("#build-detail:not([hidden]) table.history", timeout=TIMEOUT_MS)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(phone, "phone-build")
    assert phone.errors == []
