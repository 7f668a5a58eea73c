"""Outgoing messages survive a crash of the effector, against the real RabbitMQ.

* killed after the decision was committed but before anything was published: the
  restarted effector publishes each message once;
* killed after the broker confirmed a message but before its outcome was recorded
  (the store is held by another writer at that moment): the restarted effector
  publishes it again *with the same message id* (the outbox action's key, derived
  from the decision's event), so subscribers see a redelivery, and records it once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.store.store import open_app
from tests.e2e.test_gating import Site
from tests.fakekoji import FakeKojiHub
from tests.rabbit import URL

ROOT = Path(__file__).resolve().parents[2]
PUBLISH_COMPLETED = "domain.outbox:Action.Completed"


def _bus_site(tmp_path: Path, hub: FakeKojiHub, capsys: Any, prefix: str) -> Site:
    """A site whose decisions wait in the outbox: no koji hub (moves stay pending), the
    bus on."""
    site = Site(tmp_path, hub, capsys)
    site.config.write_text(
        "[koji.tasks]\npoll_interval = 0.01\n"
        f'[bus]\nenabled = true\namqp_url = "{URL}"\ntopic_prefix = "{prefix}"\n'
    )
    nvr = "bash-5.3-1.fc44"
    site.ingest([*site.new_build(nvr), site.bus.stage(nvr, "FAILURE"), site.bus.rpmdeplint(nvr)])
    return site


def _act(site: Site) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "relengotron", "act", "--db", site.db,
         "--config", str(site.config), "--json"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _drain(listener: Any, wait: float) -> list[tuple[str, str]]:
    """(message id, topic) of everything that arrived within ``wait`` seconds."""
    channel, queue = listener
    got = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        method, props, _body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        got.append((props.message_id, method.routing_key))
    return got


def _completed_publications(site: Site) -> Counter[str]:
    app = open_app(site.db)
    done: Counter[str] = Counter()
    for n in app.recorder.select_notifications(1, 1_000_000, topics=[PUBLISH_COMPLETED]):
        state = json.loads(n.state)
        if state["outcome"] == "published":
            done[str(n.originator_id)] += 1
    return done


@pytest.mark.rabbitmq
@pytest.mark.timeout(120)
def test_killed_before_publishing_publishes_each_message_once(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, listener: Any, prefix: str
) -> None:
    site = _bus_site(tmp_path, fake_koji, capsys, prefix)
    # The decisions are committed with their outbox actions; the effector dies first.
    proc = _act(site)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = _drain(listener, 0.5)
    out = site.act()  # the restart
    published = [r for r in out["done"] if r["outcome"] == "published"]
    assert published, out
    received = before + _drain(listener, 3.0)
    ids = Counter(message_id for message_id, _ in received)
    assert len(ids) == len(published)
    assert all(count == 1 for count in ids.values()), ids
    assert site.act()["done"] == []  # nothing left, nothing again
    assert _drain(listener, 0.5) == []


@pytest.mark.rabbitmq
@pytest.mark.timeout(120)
def test_killed_after_the_broker_confirmed_republishes_with_the_same_id(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, listener: Any, prefix: str
) -> None:
    site = _bus_site(tmp_path, fake_koji, capsys, prefix)
    db_file = site.db.removeprefix("sqlite:///")
    site.cli("decide")  # everything decided: the effector has nothing to write before publishing
    holder = sqlite3.connect(db_file, timeout=30, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the store (WAL: reads go on)
    proc = _act(site)
    try:
        first = []
        deadline = time.monotonic() + 60
        while not first and time.monotonic() < deadline:
            first = _drain(listener, 0.2)  # the broker confirmed it: the subscriber has it
        assert first, "nothing was published"
        proc.send_signal(signal.SIGKILL)  # ... while the outcome waits for the store
        proc.wait(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert _completed_publications(site) == Counter()  # no outcome was recorded

    out = site.act()  # the restart publishes what is not recorded as done
    published = [r for r in out["done"] if r["outcome"] == "published"]
    again = _drain(listener, 3.0)
    first_ids = {message_id for message_id, _ in first}
    again_ids = Counter(message_id for message_id, _ in again)
    assert first_ids <= set(again_ids), "the republished message has another id"
    assert all(count == 1 for count in again_ids.values()), again_ids
    assert len(again_ids) == len(published)
    # Recorded once each: the store says each message went out once.
    done = _completed_publications(site)
    assert done and all(count == 1 for count in done.values())
    assert site.act()["done"] == []
