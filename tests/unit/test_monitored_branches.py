"""Monitored dist-git branches (issue 16, item 5).

The seeds (the All Packages Fedora Pipeline's README, /work/shared/seeds/000_*.txt and
004_*.txt): "Only changes pushed to a fXX or master branch in dist-git are monitored",
"The pipeline watches all branches corresponding to major Fedora releases and Rawhide",
"branch - Fedora branch master = rawhide". Real pushes come from the shared corpus.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.audit import audit_verify
from relengotron.adapters.audit.audit import MESSAGE_TOPIC, notifications
from relengotron.adapters.ingest.branches import DEFAULT_MONITORED_BRANCHES, BranchFilter
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.services import inputs
from relengotron.adapters.settings import Settings, SettingsError
from relengotron.adapters.settings_file import settings_from
from relengotron.adapters.store.store import open_app
from relengotron.domain.message import IGNORED, RECOGNIZED
from tests import corpus


def push(corpus_dir: Path, branch: str, pagure: bool = False) -> dict[str, Any]:
    """A real push message (fedmsg-era git.receive, or pagure.git.receive) to ``branch``."""
    for record in corpus.records(corpus_dir):
        body, topic = record["body"], record["topic"]
        if (
            pagure
            and topic == "org.fedoraproject.prod.pagure.git.receive"
            and body.get("branch")
            and not body.get("repo", {}).get("parent")
        ):
            record = copy.deepcopy(record)
            record["body"]["branch"] = branch
            return record
        if (
            not pagure
            and topic == "org.fedoraproject.prod.git.receive"
            and body.get("commit", {}).get("repo") == "php-simplepie"
        ):
            record = copy.deepcopy(record)
            record["body"]["commit"]["branch"] = branch
            return record
    raise AssertionError("no such push in the corpus")


@pytest.mark.parametrize(
    ("branch", "monitored"),
    [
        ("f24", True),
        ("f9", True),
        ("f100", True),
        ("rawhide", True),
        ("main", True),
        ("master", True),
        ("epel8", False),
        ("epel10.1", False),
        ("private-jdoe-rebase", False),
        ("f36-private", False),
        ("el6", False),
        ("Master", False),
    ],
)
def test_the_default_branches_are_the_seeds(branch: str, monitored: bool) -> None:
    assert DEFAULT_MONITORED_BRANCHES == ("f[0-9]+", "rawhide", "main", "master")
    assert BranchFilter().monitored(branch) is monitored


@pytest.mark.parametrize("pagure", [False, True])
def test_a_push_to_another_branch_is_kept_and_ignored_with_the_reason(
    corpus_dir: Path, pagure: bool
) -> None:
    kept = to_incoming(corpus.envelope(push(corpus_dir, "f24", pagure)))
    assert (kept.status, kept.reason, len(kept.facts)) == (RECOGNIZED, None, 1)
    record = push(corpus_dir, "private-jdoe-rebase", pagure)
    m = to_incoming(corpus.envelope(record))
    assert (m.status, m.facts, m.family) == (IGNORED, (), "dist-git")
    assert m.reason == (
        "push to a branch that is not monitored: 'private-jdoe-rebase' "
        "(monitored: f[0-9]+, rawhide, main, master)"
    )
    assert m.body == record["body"]  # the message itself is recorded whole


def test_the_set_is_a_setting(corpus_dir: Path) -> None:
    epel = corpus.envelope(push(corpus_dir, "epel9"))
    assert to_incoming(epel).status == IGNORED
    cfg = settings_from({"gating": {"monitored_branches": ["f[0-9]+", "rawhide", "epel[0-9]+"]}})
    assert cfg.monitored_branches == ("f[0-9]+", "rawhide", "epel[0-9]+")
    assert to_incoming(epel, branches=BranchFilter(cfg.monitored_branches)).status == RECOGNIZED
    assert Settings().monitored_branches == DEFAULT_MONITORED_BRANCHES


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["f[0-9"], "[gating] monitored_branches: 'f[0-9' is not a regular expression"),
        ([], "[gating] monitored_branches must name at least one branch pattern"),
        ("rawhide", "[gating] monitored_branches must be a list of strings"),
        ([1], "[gating] monitored_branches must be a list of strings"),
    ],
)
def test_bad_settings(value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        settings_from({"gating": {"monitored_branches": value}}, source="s.toml")


def test_ingest_records_the_ignored_push_and_replay_repeats_it(
    corpus_dir: Path, tmp_path: Path
) -> None:
    lines = [push(corpus_dir, "f24"), push(corpus_dir, "epel9")]
    for n, line in enumerate(lines):
        line["id"] = f"push-{n}"
    path = tmp_path / "pushes.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    # Recorded under the default set: epel9 ignored, with its reason, in the summary.
    app = open_app(f"sqlite:///{tmp_path / 'a.db'}")
    summary = inputs.ingest(app, [str(path)], cfg=Settings())
    assert (summary.read, summary.ignored) == (2, 1)
    # Replayed under another set: the push stays as it was recorded.
    epel = Settings(monitored_branches=("f[0-9]+", "epel[0-9]+"))
    assert audit_verify.verify(app, epel, workdir=str(tmp_path))["identical"]

    # Recorded with epel9 monitored (its change kept), replayed under the default set.
    app = open_app(f"sqlite:///{tmp_path / 'b.db'}")
    summary = inputs.ingest(app, [str(path)], cfg=epel)
    assert (summary.read, summary.ignored) == (2, 0)
    report = audit_verify.verify(app, Settings(), workdir=str(tmp_path))
    assert report["identical"], report["differences"]
    # What replay feeds the replayed store: each push as recorded (read back from the log).
    replayed = {
        m.msg_id: m.status
        for m in (
            audit_verify._incoming(app.mapper.to_domain_event(n))
            for n in notifications(app, (MESSAGE_TOPIC,))
        )
    }
    assert replayed == {"push-0": RECOGNIZED, "push-1": RECOGNIZED}


def test_a_push_to_a_fork_is_ignored(corpus_dir: Path) -> None:
    # pagure (dist-git) keeps forks under /srv/git/repositories/forks/<user>/<ns>/<repo>.git
    record = push(corpus_dir, "rawhide")
    record["body"]["commit"]["path"] = "/srv/git/repositories/forks/jdoe/rpms/php-simplepie.git"
    m = to_incoming(corpus.envelope(record))
    assert (m.status, m.facts) == (IGNORED, ())
    assert m.reason == (
        "push to a fork (/srv/git/repositories/forks/jdoe/rpms/php-simplepie.git), not dist-git"
    )
